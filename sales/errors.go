package sales

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Every error a Client call returns is an *APIError; it matches at most one of
// these with errors.Is. An *APIError that matches none (a 400 or 422, an undecodable answer) is
// permanent: the same request will fail the same way.
var (
	// ErrUnauthorized means Sales refused the API key (401 or 403): it is unknown, was
	// refreshed away, or its App instance is disabled or uninstalled. Retrying will not help
	// until Sales sends a new key.
	ErrUnauthorized = errors.New("sales: unauthorized")

	// ErrNotFound means the resource does not exist or is outside the key's scope (404).
	ErrNotFound = errors.New("sales: not found")

	// ErrRateLimited means Sales throttled the App (429). It is retryable after
	// APIError.RetryAfter.
	ErrRateLimited = errors.New("sales: rate limited")

	// ErrUnavailable means Sales could not be reached, the call timed out or its context ended,
	// or Sales answered 5xx. It is retryable. A timeout or cancellation also matches
	// context.DeadlineExceeded or context.Canceled.
	ErrUnavailable = errors.New("sales: unavailable")
)

// APIError describes a failed call. Its text names the operation, method and path, never the
// query string, so it is safe to log: the API key is not in it.
type APIError struct {
	// Op is the client operation, such as "integration" or "subscribe".
	Op string
	// Method and Path are the HTTP method and the path under the base URL, without query.
	Method, Path string
	// Status is the HTTP status of the answer; 0 when no response arrived.
	Status int
	// Message is Sales' explanation or a description of the failure, one line, secret-free.
	Message string
	// RetryAfter is how long to wait before calling again, set on 429 from the
	// X-RateLimit-Reset header.
	RetryAfter time.Duration

	kind error // the sentinel, decided where the status was read
	err  error // underlying cause, such as a network error or context.DeadlineExceeded
}

// Error returns the operation, request, status and message.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("sales: ")
	b.WriteString(e.Op)
	if e.Method != "" || e.Path != "" {
		b.WriteString(": ")
		b.WriteString(e.Method)
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	if e.Status != 0 {
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(e.Status))
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" ")
			b.WriteString(t)
		}
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.err != nil && e.Message == "" {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	if e.Status == 0 && e.Message == "" && e.err == nil && e.kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "sales: "))
	}
	return b.String()
}

// Unwrap returns the underlying cause, so errors.Is(err, context.DeadlineExceeded) reports a
// timeout.
func (e *APIError) Unwrap() error { return e.err }

// Is reports whether target is the sentinel this error belongs to.
func (e *APIError) Is(target error) bool { return e.kind != nil && target == e.kind }

// Retryable reports whether the same call may succeed later: true for network errors,
// timeouts, 429 and 5xx.
func (e *APIError) Retryable() bool { return e.kind == ErrUnavailable || e.kind == ErrRateLimited }

// RateLimitDelay reports whether err is a 429 from Sales and, if so, how long until its rate
// limit resets: the time to call again, no sooner and not much later.
func RateLimitDelay(err error) (time.Duration, bool) {
	var e *APIError
	if !errors.As(err, &e) || e.kind != ErrRateLimited {
		return 0, false
	}
	return e.RetryAfter, true
}

// IsRetryable reports whether err, or an error it wraps, says the failed call may succeed if
// tried again later.
func IsRetryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// classify maps a non-2xx status to its sentinel, nil for permanent failures.
func classify(status int) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusNotFound || status == http.StatusGone:
		return ErrNotFound
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusRequestTimeout || status >= 500:
		return ErrUnavailable
	default:
		return nil
	}
}

// Bounds of APIError.RetryAfter: Sales resets its quota every 60 seconds, so a longer wait is a
// bogus header, and a shorter one than a second would hammer the API.
const (
	defaultRetryAfter = 60 * time.Second
	minRetryAfter     = time.Second
	maxRetryAfter     = 2 * time.Minute
)

// retryAfter reads the wait of a 429 answer: X-RateLimit-Reset as Sales documents it, else the
// standard Retry-After.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("X-RateLimit-Reset")
	if strings.TrimSpace(v) == "" {
		v = h.Get("Retry-After")
	}
	return parseRateLimitReset(v, now)
}

// parseRateLimitReset turns an X-RateLimit-Reset value into a wait, within [1s, 2m]. Sales
// documents the header as "the time when the quota resets" without a format, so it accepts
// unix seconds, unix milliseconds, HTTP and RFC 3339 dates, and a number of seconds up to 120
// as a delay. Anything unreadable means the documented 60-second window.
func parseRateLimitReset(v string, now time.Time) time.Duration {
	d, ok := resetDelay(strings.TrimSpace(v), now)
	switch {
	case !ok:
		return defaultRetryAfter
	case d < minRetryAfter:
		return minRetryAfter
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	return d
}

func resetDelay(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0) || f < 0:
			return 0, false
		case f <= 120:
			return time.Duration(f * float64(time.Second)), true
		case f < 1e9:
			// Too long to be a delay Sales means, too early (before 2001) to be a reset time:
			// read it as a long delay, which the caller clamps.
			return maxRetryAfter, true
		case f < 1e11: // unix seconds, until the year 5138
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(frac*1e9)).Sub(now), true
		case f < 1e14: // unix milliseconds
			return time.UnixMilli(int64(f)).Sub(now), true
		default:
			return 0, false
		}
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now), true
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC1123Z} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Sub(now), true
		}
	}
	return 0, false
}

// maxMessageLen bounds the server text kept in an APIError: enough for any explanation, small
// enough to log and store.
const maxMessageLen = 300

// errorMessage extracts the explanation of an error answer: Sales sends {"message","code"} or
// {"error","message"}. Non-JSON bodies (proxy HTML pages) are not worth keeping.
func errorMessage(body []byte) string {
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
				return x
			}
		case map[string]any:
			if s, ok := x["message"].(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}
