package zen7

import (
	"errors"
	"maps"
	"slices"
	"strings"
)

// The sentinel errors of the App. Adapters translate what they meet into these with %w (no
// document → ErrNotFound, a duplicate key → ErrConflict, an unreachable store → ErrUnavailable);
// the app package maps them to HTTP statuses in one table.
var (
	// ErrNotFound means no such instance, delivery, lead record or group.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the change cannot apply to the current state (a key bound to another
	// instance, a settings update racing another, a token already used).
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the input broke a rule; a *ValidationError says which field.
	ErrInvalid = errors.New("invalid input")
	// ErrMalformed means a body is not the JSON it should be.
	ErrMalformed = errors.New("malformed body")
	// ErrUnauthorized means missing or wrong credentials: the App's, an instance API key, a
	// webhook token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUpstream means a service a request depends on (7Targets, Sales) could not be reached
	// or did not answer usefully.
	ErrUpstream = errors.New("upstream unavailable")
	// ErrUnavailable means the store could not be reached: try again later.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrClaimed means another worker holds the delivery.
	ErrClaimed = errors.New("claimed by another worker")
)

// ValidationError lists what is wrong with the input, field by field.
type ValidationError struct {
	Fields map[string]string
}

// InvalidField returns a *ValidationError for one field.
func InvalidField(field, msg string) error {
	return &ValidationError{Fields: map[string]string{field: msg}}
}

func (e *ValidationError) Error() string {
	keys := slices.Sorted(maps.Keys(e.Fields))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) hold for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// FieldErrors returns the per-field messages, for the error renderer.
func (e *ValidationError) FieldErrors() map[string]string { return e.Fields }
