// Package lifecycle implements the App lifecycle that Zenvia Sales drives through its hooks:
// install, settings form, settings read and update, enable/disable, API key refresh and
// uninstall, with the rules that keep an instance consistent when hooks race or arrive out of
// order. It knows nothing of HTTP or of MongoDB: the app package serves it, the store package
// persists it.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// Errors returned by the Service. The app package maps them to HTTP statuses.
var (
	// ErrUnauthorized means the App credentials are missing or wrong, or the instance API key
	// is unknown, refreshed away or uninstalled.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalid means the input broke a rule; a *ValidationError says which field.
	ErrInvalid = errors.New("invalid input")
	// ErrMalformed means the body is not the JSON the hook expects.
	ErrMalformed = errors.New("malformed body")
	// ErrConflict means the request cannot apply to the instance's current state (for example a
	// new API key that already belongs to another instance).
	ErrConflict = errors.New("conflict")
	// ErrNotFound is returned by Store lookups that match nothing.
	ErrNotFound = errors.New("not found")
	// ErrUpstream means a service the hook depends on (7Targets) could not be reached.
	ErrUpstream = errors.New("upstream unavailable")
)

// ValidationError lists what is wrong with the input, field by field.
type ValidationError struct {
	Fields map[string]string
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

func invalidField(field, msg string) error {
	return &ValidationError{Fields: map[string]string{field: msg}}
}

// State is where an instance is in its lifecycle. Install creates it enabled or disabled (as
// Sales says); enable and disable move between the two; uninstall is final: a later install of
// the same API key creates a fresh instance.
type State string

// The instance states.
const (
	StateEnabled     State = "enabled"
	StateDisabled    State = "disabled"
	StateUninstalled State = "uninstalled"
)

// Instance is one installation of the App in a Zenvia Sales account.
type Instance struct {
	ID       string
	State    State
	APIKey   string // the instance's Sales API key; a secret
	Settings Settings
	Account  Account
	// Subscription is the instance's Sales notification subscription, if it has one.
	Subscription Subscription
	Version      int64 // bumped by every change; settings updates compare and swap on it

	InstalledAt   time.Time
	UpdatedAt     time.Time
	UninstalledAt time.Time
}

// LogValue keeps secrets out of logs even if an Instance is logged whole.
func (i Instance) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", i.ID), slog.String("state", string(i.State)))
}

// Account is where the instance lives in Zenvia Sales, as GET /integration reports it.
// It is empty until that lookup succeeds.
type Account struct {
	IntegrationID string
	GroupID       string
	AccountID     string
	Language      string
	ResolvedAt    time.Time
	// LastTriedAt is when a lookup last failed; pending lookups are retried oldest-tried first,
	// so instances whose lookup keeps failing cannot hold the others back.
	LastTriedAt time.Time
}

// Resolved reports whether the account lookup has succeeded.
func (a Account) Resolved() bool { return a.GroupID != "" }

// Subscription is a Sales notification subscription made for an instance.
type Subscription struct {
	ID string
	At time.Time
}

// Subscriptions keeps an instance's Sales notification subscription in line with its state
// after a hook changed it. Failures are the caller's to log: a background pass repairs them.
type Subscriptions interface {
	// Sync subscribes an enabled instance with complete settings and unsubscribes any other;
	// force subscribes again even if a subscription is recorded.
	Sync(ctx context.Context, inst Instance, force bool) error
	// Cancel removes the instance's subscription.
	Cancel(ctx context.Context, inst Instance) error
}

// AuditEntry records one hook call on an instance: what, when, and how it ended. It never
// holds a secret: Detail lists setting names, not values.
type AuditEntry struct {
	InstanceID string
	Hook       string
	At         time.Time
	Outcome    string // "ok" or the error kind
	Detail     string
}

// The hook names used in the audit trail.
const (
	HookInstall        = "install"
	HookSettingsForm   = "settings.form"
	HookSettingsRead   = "settings.read"
	HookSettingsUpdate = "settings.update"
	HookEnabled        = "enabled"
	HookAPIKeyRefresh  = "api-key.refresh"
	HookUninstall      = "uninstall"
)

// Store persists instances. Every change is conditional on the instance still being bound to
// the API key the caller presented and not uninstalled, so a change can never land on an
// instance whose key was refreshed away or which was uninstalled in the meantime.
type Store interface {
	// CreateInstance stores inst and binds apiKey to it. It returns ErrConflict if apiKey is
	// already bound to a live instance.
	CreateInstance(ctx context.Context, inst Instance) error
	// InstanceByAPIKey returns the live instance bound to apiKey, or ErrNotFound.
	InstanceByAPIKey(ctx context.Context, apiKey string) (Instance, error)
	// SetState moves the instance bound to apiKey to state (enabled or disabled) and returns it.
	// It returns ErrNotFound if apiKey no longer names a live instance.
	SetState(ctx context.Context, id, apiKey string, state State, at time.Time) (Instance, error)
	// ReplaceSettings stores s if the instance is still at version; it returns ErrConflict if
	// the instance changed since, ErrNotFound if apiKey no longer names it.
	ReplaceSettings(ctx context.Context, id, apiKey string, version int64, s Settings, at time.Time) (Instance, error)
	// RotateAPIKey binds newKey instead of oldKey, oldKey stopping at once, and returns the
	// instance as it is then. It returns
	// ErrConflict if newKey belongs to another live instance, ErrNotFound if oldKey no longer
	// names the instance.
	RotateAPIKey(ctx context.Context, id, oldKey, newKey string, at time.Time) (Instance, error)
	// Uninstall marks the instance uninstalled, wipes its secrets and unbinds its key.
	// It returns ErrNotFound if apiKey no longer names a live instance.
	Uninstall(ctx context.Context, id, apiKey string, at time.Time) (Instance, error)
	// SetAccount records where the instance lives in Sales.
	SetAccount(ctx context.Context, id string, a Account) error
	// InstancesWithoutAccount returns up to limit live instances whose account lookup is
	// pending, least recently tried (Account.LastTriedAt) first.
	InstancesWithoutAccount(ctx context.Context, limit int) ([]Instance, error)
	// RecordAudit appends an entry to the instance's audit trail.
	RecordAudit(ctx context.Context, e AuditEntry) error
}

// AccountLookup asks Zenvia Sales where the instance with apiKey lives (GET /integration).
type AccountLookup interface {
	LookupAccount(ctx context.Context, apiKey string) (Account, error)
}

// CredentialChecker checks 7Targets OAuth2 client credentials against its token endpoint.
// It returns ErrInvalid when they are rejected and ErrUpstream when 7Targets cannot say.
type CredentialChecker interface {
	CheckCredentials(ctx context.Context, clientID, clientSecret string) error
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("lifecycle.%s: %w", op, err)
}
