package upstream

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads a Retry-After header value (RFC 9110: delay-seconds or an HTTP date)
// as a wait from now, at most limit, so that a bogus header cannot park a caller for days.
// Anything unparseable, negative or in the past yields 0: the caller's own backoff applies.
func ParseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" || limit <= 0 {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			var numErr *strconv.NumError
			if errors.As(err, &numErr) && numErr.Err == strconv.ErrRange {
				return limit
			}
			return 0
		}
		if secs > int64(limit/time.Second) {
			return limit
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > limit:
		return limit
	}
	// Whole seconds: the header has no finer resolution.
	return d.Round(time.Second)
}
