package seventargets

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/upstream"
)

// Sentinel errors. Every error a Client method returns is an *APIError that
// matches one of ErrInvalidCredentials, ErrUnavailable, ErrRateLimited or
// ErrRejected with errors.Is. An ErrInvalidCredentials error also matches
// ErrRejected, so ErrRejected alone catches every permanent failure.
var (
	// ErrInvalidCredentials means the token endpoint rejected the client ID
	// and secret, or the API refused the token or the user identifier even
	// after a token refresh. Retrying will not help until the settings change.
	ErrInvalidCredentials = errors.New("seventargets: invalid credentials")

	// ErrUnavailable means 7Targets could not be reached or answered with a
	// 5xx or a malformed response, or the call timed out. It is retryable.
	ErrUnavailable = errors.New("seventargets: unavailable")

	// ErrRateLimited means 7Targets answered 429 Too Many Requests. It is
	// retryable, after APIError.RetryAfter when the server gave one.
	ErrRateLimited = errors.New("seventargets: rate limited")

	// ErrRejected means 7Targets refused the request with a 4xx other than
	// 429, or the credentials are invalid: retrying the same request will
	// fail the same way.
	ErrRejected = errors.New("seventargets: rejected")
)

// maxMessageLen bounds the server text kept in an APIError: enough for any
// validation message, small enough to store and show in a report.
const maxMessageLen = 512

// maxRetryAfter caps a server-sent Retry-After so a bogus header cannot park a
// delivery for days.
const maxRetryAfter = 24 * time.Hour

// APIError describes a failed call to 7Targets: the token endpoint or the API.
// Whether it is worth retrying is decided where the HTTP status is read and
// reported by Retryable and by errors.Is against the package's sentinels.
type APIError struct {
	// Op is the client operation, such as "CreateLead" or "CheckCredentials".
	Op string
	// Status is the HTTP status of the response that failed the call (the
	// token endpoint's when the token request failed); 0 when no response
	// arrived.
	Status int
	// Message is the server's explanation or a description of the failure,
	// truncated and free of secrets.
	Message string
	// RetryAfter is how long the server asked to wait (429 and 503), or 0.
	RetryAfter time.Duration

	kind error // one of the sentinels; nil means derive it from Status
	err  error // underlying cause such as a network error or context error
}

// Error returns the operation, status and message.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("seventargets.")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status))
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" ")
			b.WriteString(t)
		}
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else if e.Status == 0 {
		b.WriteString(e.sentinel().Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause, such as context.DeadlineExceeded.
func (e *APIError) Unwrap() error { return e.err }

// Is reports whether target is the sentinel this error belongs to.
func (e *APIError) Is(target error) bool {
	k := e.sentinel()
	if target == k {
		return true
	}
	return target == ErrRejected && k == ErrInvalidCredentials
}

// Retryable reports whether the same call may succeed later: true for network
// errors, timeouts, 429 and 5xx; false for other 4xx and bad credentials.
func (e *APIError) Retryable() bool {
	k := e.sentinel()
	return k == ErrUnavailable || k == ErrRateLimited
}

func (e *APIError) sentinel() error {
	if e.kind != nil {
		return e.kind
	}
	return classify(e.Status)
}

// classify maps an API response status to its sentinel. 401 and 403 reach
// here only after the one token refresh, so they mean the credentials or the
// user identifier are wrong.
func classify(status int) error {
	switch {
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrInvalidCredentials
	case status >= 400 && status < 500:
		return ErrRejected
	default:
		// No response, 5xx, or a status 7Targets never documents (1xx, 3xx):
		// nothing says the request itself is wrong, so let it be retried.
		return ErrUnavailable
	}
}

// IsRetryable reports whether err, or an error it wraps, says the failed call
// may succeed if tried again later.
func IsRetryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// parseRetryAfter reads a Retry-After header value: delay-seconds or an HTTP
// date. Anything unparseable, negative or in the past yields 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	return upstream.ParseRetryAfter(v, now, maxRetryAfter)
}

// errorMessage extracts a human message from an error response body. 7Targets
// sits behind AWS API Gateway, which answers {"message": …}; Spring answers
// {"error": …, "message": …}; OAuth2 answers {"error": …, "error_description": …}.
// A server or gateway may echo the request, so token, the access token the
// request carried, is redacted from it, before the message is cut to length so
// that no piece of it survives either.
func errorMessage(body []byte, token string) string {
	var v struct {
		Message          any `json:"message"`
		Error            any `json:"error"`
		ErrorDescription any `json:"error_description"`
		Errors           any `json:"errors"`
	}
	if json.Unmarshal(body, &v) == nil {
		for _, f := range []any{v.Message, v.ErrorDescription, v.Errors, v.Error} {
			if s := textOf(f); s != "" {
				return upstream.SafeMessage(s, token, maxMessageLen)
			}
		}
		return ""
	}
	return upstream.SafeMessage(string(body), token, maxMessageLen)
}

// textOf renders a decoded JSON value as text: strings as they are, objects
// through their "message" member, anything else as compact JSON.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		if s := textOf(x["message"]); s != "" {
			return s
		}
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s := textOf(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func newAPIError(op string, status int, kind error, msg string, cause error) *APIError {
	return &APIError{Op: op, Status: status, kind: kind, Message: msg, err: cause}
}

// errorf builds the Message of an error with no server text.
func errorf(format string, args ...any) string {
	return upstream.CleanMessage(fmt.Sprintf(format, args...), maxMessageLen)
}
