package upstreamtest_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/upstream/upstreamtest"
)

func TestFaults(t *testing.T) {
	var f upstreamtest.Faults
	if f.Down() || f.Latency() != 0 {
		t.Fatal("the zero Faults injects something")
	}
	if _, ok := f.TakeFailure(); ok {
		t.Fatal("the zero Faults has a failure to take")
	}

	f.FailNext(3, http.StatusBadGateway)
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for range 10 {
		wg.Go(func() {
			if status, ok := f.TakeFailure(); ok {
				if status != http.StatusBadGateway {
					t.Errorf("status %d, want 502", status)
				}
				mu.Lock()
				taken++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if taken != 3 {
		t.Errorf("%d failures taken by 10 requests, want the 3 injected", taken)
	}

	f.SetDown(true)
	f.SetLatency(time.Second)
	if !f.Down() || f.Latency() != time.Second {
		t.Errorf("down %v latency %v, want true and 1s", f.Down(), f.Latency())
	}
	f.SetDown(false)
	if f.Down() {
		t.Error("still down after SetDown(false)")
	}
}
