package chattonic

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

// Sentinel errors. Every error a Client method returns is an *APIError that matches one of
// ErrUnauthorized, ErrUnknownCodename, ErrRateLimited, ErrUnavailable or ErrRejected with
// errors.Is. ErrUnauthorized and ErrUnknownCodename errors also match ErrRejected, so
// ErrRejected alone catches every permanent failure.
var (
	// ErrUnauthorized means Chat-Tonic refused the access token (401 or 403), or there was
	// none. The source is failing until the token changes or Chat-Tonic accepts it again.
	ErrUnauthorized = errors.New("chattonic: unauthorized")

	// ErrUnknownCodename means Chat-Tonic knows no bot account by that codename (404), or the
	// codename is not one Chat-Tonic could issue (see ValidateCodename).
	ErrUnknownCodename = errors.New("chattonic: unknown codename")

	// ErrRateLimited means Chat-Tonic answered 429. It is retryable, after APIError.RetryAfter
	// when the server gave one.
	ErrRateLimited = errors.New("chattonic: rate limited")

	// ErrUnavailable means Chat-Tonic could not be reached, the call timed out or its context
	// ended, or it answered a 5xx or an unreadable body. It is retryable. A timeout or
	// cancellation also matches context.DeadlineExceeded or context.Canceled.
	ErrUnavailable = errors.New("chattonic: unavailable")

	// ErrRejected means Chat-Tonic refused the request with a 4xx other than 401, 403, 404 and
	// 429, or the request was invalid before it was sent: the same call fails the same way.
	ErrRejected = errors.New("chattonic: rejected")
)

// maxMessageLen bounds the server text kept in an APIError: enough for any explanation, small
// enough to log, store and show in a report.
const maxMessageLen = 300

// maxRetryAfter caps a server-sent Retry-After: the importer polls every minute or so, and a
// bogus header must not silence a source for days.
const maxRetryAfter = time.Hour

// APIError describes a failed call. Its text names the operation, the codename and the status,
// never the token, so it is safe to log and to show.
type APIError struct {
	// Op is the client operation: "Funnels" or "Records".
	Op string
	// Codename is the bot account the call was for, as validated; "" when it was invalid.
	Codename string
	// Status is the HTTP status of the answer; 0 when no response arrived.
	Status int
	// Message is Chat-Tonic's explanation or a description of the failure, one line,
	// secret-free.
	Message string
	// RetryAfter is how long Chat-Tonic asked to wait (429 and 503 with Retry-After), or 0.
	RetryAfter time.Duration

	kind error // the sentinel, decided where the status was read
	err  error // underlying cause, such as a network error or context.DeadlineExceeded
}

// Error returns the operation, codename, status and message.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("chattonic.")
	b.WriteString(e.Op)
	if e.Codename != "" {
		b.WriteString(" ")
		b.WriteString(e.Codename)
	}
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
	switch {
	case e.Message != "":
		b.WriteString(e.Message)
	case e.Status == 0:
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "chattonic: "))
	}
	return b.String()
}

// Unwrap returns the underlying cause, such as context.DeadlineExceeded.
func (e *APIError) Unwrap() error { return e.err }

// Is reports whether target is the sentinel this error belongs to.
func (e *APIError) Is(target error) bool {
	if target == e.kind {
		return true
	}
	return target == ErrRejected && (e.kind == ErrUnauthorized || e.kind == ErrUnknownCodename)
}

// Retryable reports whether the same call may succeed later: true for network errors,
// timeouts, 429 and 5xx; false for refused tokens, unknown codenames and other 4xx.
func (e *APIError) Retryable() bool { return e.kind == ErrUnavailable || e.kind == ErrRateLimited }

// IsRetryable reports whether err, or an error it wraps, says the failed call may succeed if
// tried again later.
func IsRetryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// RetryDelay reports how long Chat-Tonic asked to wait before err's call is made again: the
// Retry-After of a 429 or 503, 0 when it gave none or err is not such an answer.
func RetryDelay(err error) time.Duration {
	var e *APIError
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// classify maps a non-2xx status to its sentinel. It is the one place retryable and permanent
// are decided.
func classify(status int) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusNotFound:
		return ErrUnknownCodename
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusRequestTimeout:
		return ErrUnavailable
	case status >= 400 && status < 500:
		return ErrRejected
	default:
		// 5xx, or a status Chat-Tonic does not document (1xx, a 3xx the client refused to
		// follow): nothing says the request itself is wrong, so let it be tried again.
		return ErrUnavailable
	}
}

// errorMessage extracts the explanation of an error answer ({"message"}, {"error"} or
// {"error":{"message"}}), with token redacted in case the server echoes the request. A body
// that is not JSON (a proxy's HTML page) is not worth keeping.
func errorMessage(body []byte, token string) string {
	var v struct {
		Message any `json:"message"`
		Error   any `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	for _, f := range []any{v.Message, v.Error} {
		switch x := f.(type) {
		case string:
			if x != "" {
				return upstream.SafeMessage(x, token, maxMessageLen)
			}
		case map[string]any:
			if s, ok := x["message"].(string); ok && s != "" {
				return upstream.SafeMessage(s, token, maxMessageLen)
			}
		}
	}
	return ""
}

// errorf builds a Message with no server text in it.
func errorf(format string, args ...any) string {
	return upstream.CleanMessage(fmt.Sprintf(format, args...), maxMessageLen)
}
