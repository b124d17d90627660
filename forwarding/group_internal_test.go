package forwarding

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// gatedFinisher is a Store whose FinishMany records its batches, fails the deliveries named in
// fail, and holds its first write until released.
type gatedFinisher struct {
	Store
	fail    map[string]bool
	started chan struct{} // closed when the first write starts
	release chan struct{}

	mu      sync.Mutex
	batches [][]string
}

func (g *gatedFinisher) FinishMany(_ context.Context, ds []zen7.Delivery) []error {
	g.mu.Lock()
	first := len(g.batches) == 0
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	g.batches = append(g.batches, ids)
	g.mu.Unlock()
	if first {
		close(g.started)
		<-g.release
	}
	errs := make([]error, len(ds))
	for i, d := range ds {
		if g.fail[d.ID] {
			errs[i] = errors.New("store down")
		}
	}
	return errs
}

// TestGroupWritesWaitingCallsTogether: a delivery finishing alone is written at once;
// those finishing while that write is in flight are written together, with one FinishMany,
// and each gets its own delivery's result.
func TestGroupWritesWaitingCallsTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &gatedFinisher{fail: map[string]bool{"d3": true}, started: make(chan struct{}), release: make(chan struct{})}
	g := newGroup(st.FinishMany)

	firstDone := make(chan error, 1)
	go func() { firstDone <- g.do(ctx, zen7.Delivery{ID: "d0"}) }()
	<-st.started // d0 is being written, alone

	const waiting = 5
	var wg sync.WaitGroup
	results := make([]error, waiting)
	for i := range waiting {
		wg.Go(func() { results[i] = g.do(ctx, zen7.Delivery{ID: "d" + string(rune('1'+i))}) })
	}
	// Every waiter is queued before the first write ends: the queue is read under the lock.
	for {
		g.mu.Lock()
		n := len(g.queue)
		g.mu.Unlock()
		if n == waiting {
			break
		}
		runtime.Gosched()
	}
	close(st.release)
	if err := <-firstDone; err != nil {
		t.Errorf("d0: %v", err)
	}
	wg.Wait()

	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.batches) != 2 || len(st.batches[0]) != 1 || len(st.batches[1]) != waiting {
		t.Fatalf("writes = %v, want d0 alone, then the %d waiting together", st.batches, waiting)
	}
	for i, err := range results {
		id := "d" + string(rune('1'+i))
		if got, want := err != nil, st.fail[id]; got != want {
			t.Errorf("%s: error %v, want failed %v", id, err, want)
		}
	}
	if g.writing || len(g.queue) != 0 {
		t.Errorf("the group is left writing %v with %d queued", g.writing, len(g.queue))
	}
}
