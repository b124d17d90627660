package app

import (
	"strconv"
	"testing"
	"time"
)

// TestLimiterStaysBounded: neither idle keys nor a flood of distinct keys make it grow without
// bound.
func TestLimiterStaysBounded(t *testing.T) {
	t.Parallel()
	l := newLimiter(Limit{Rate: 1, Burst: 2})
	now := time.Unix(1_700_000_000, 0)
	for i := range 3 * maxKeys {
		l.allow("key-"+strconv.Itoa(i), now)
	}
	if n := len(l.keys); n > maxKeys {
		t.Fatalf("%d keys kept after a flood, want at most %d", n, maxKeys)
	}
	l.allow("late", now.Add(time.Hour)) // long after: everyone's bucket is full again
	if n := len(l.keys); n != 1 {
		t.Fatalf("%d keys kept after they went idle, want 1", n)
	}
}
