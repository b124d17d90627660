package upstreamtest

import (
	"sync"
	"time"
)

// Faults are the faults a fake of an outside API injects the same way whatever the API: an
// outage, the next answers failing with a status, a delay before every answer. Embedded in a
// fake's server, its methods are the fake's; the fake asks Latency, Down and TakeFailure as it
// serves each request, and answers in its API's own shape. The zero Faults injects nothing;
// it is safe for concurrent use.
type Faults struct {
	mu         sync.Mutex
	down       bool
	failN      int
	failStatus int
	latency    time.Duration
}

// FailNext makes the next n requests answer status.
func (f *Faults) FailNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failStatus = n, status
}

// SetDown makes every request answer 503 while down is true, as during an outage.
func (f *Faults) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// SetLatency delays every answer by d, to test client timeouts.
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// Latency is the delay SetLatency set.
func (f *Faults) Latency() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latency
}

// Down reports whether SetDown(true) is in effect.
func (f *Faults) Down() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

// TakeFailure uses up one of the failures FailNext injected and returns its status, or
// reports false when none is left.
func (f *Faults) TakeFailure() (status int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failN <= 0 {
		return 0, false
	}
	f.failN--
	return f.failStatus, true
}
