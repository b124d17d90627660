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

func (g *gatedFinisher) FinishMany(_ context.Context, fs []zen7.Finish) []error {
	g.mu.Lock()
	first := len(g.batches) == 0
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Delivery.ID)
	}
	g.batches = append(g.batches, ids)
	g.mu.Unlock()
	if first {
		close(g.started)
		<-g.release
	}
	errs := make([]error, len(fs))
	for i, f := range fs {
		if g.fail[f.Delivery.ID] {
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
	go func() { firstDone <- g.do(ctx, zen7.Finish{Delivery: zen7.Delivery{ID: "d0"}}) }()
	<-st.started // d0 is being written, alone

	const waiting = 5
	var wg sync.WaitGroup
	results := make([]error, waiting)
	for i := range waiting {
		wg.Go(func() { results[i] = g.do(ctx, zen7.Finish{Delivery: zen7.Delivery{ID: "d" + string(rune('1'+i))}}) })
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

// TestGroupDoAllKeepsEachRequestsItems: requests of several items each, made while a write is
// in flight, are written together and each gets its own items' results, in their order.
func TestGroupDoAllKeepsEachRequestsItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var writes [][]int
	g := newGroup(func(_ context.Context, items []int) []int {
		mu.Lock()
		first := len(writes) == 0
		writes = append(writes, items)
		mu.Unlock()
		if first {
			close(started)
			<-release
		}
		out := make([]int, len(items))
		for i, n := range items {
			out[i] = 10 * n
		}
		return out
	})
	firstDone := make(chan []int, 1)
	go func() { firstDone <- g.doAll(ctx, []int{1}) }()
	<-started

	reqs := [][]int{{2, 3}, {4}, {5, 6, 7}}
	got := make([][]int, len(reqs))
	var wg sync.WaitGroup
	for i, items := range reqs {
		wg.Go(func() { got[i] = g.doAll(ctx, items) })
	}
	for {
		g.mu.Lock()
		n := len(g.queue)
		g.mu.Unlock()
		if n == len(reqs) {
			break
		}
		runtime.Gosched()
	}
	close(release)
	if r := <-firstDone; len(r) != 1 || r[0] != 10 {
		t.Errorf("first request: %v, want [10]", r)
	}
	wg.Wait()
	for i, items := range reqs {
		if len(got[i]) != len(items) {
			t.Fatalf("request %v: %v", items, got[i])
		}
		for k, n := range items {
			if got[i][k] != 10*n {
				t.Errorf("request %v: %v, want each times 10", items, got[i])
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(writes) != 2 || len(writes[1]) != 6 {
		t.Errorf("writes = %v, want [1] alone, then the 6 waiting items together", writes)
	}
}
