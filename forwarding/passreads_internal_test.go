package forwarding

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// countedInstances is an instance store that counts its reads and can fail them.
type countedInstances struct {
	mu    sync.Mutex
	reads map[string]int
	fail  error
	gate  chan struct{} // if set, each read waits for it
}

func (c *countedInstances) Instance(_ context.Context, id string) (zen7.Instance, error) {
	if c.gate != nil {
		<-c.gate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads[id]++
	if c.fail != nil {
		return zen7.Instance{}, c.fail
	}
	if id == "gone" {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	return zen7.Instance{ID: id, State: zen7.StateEnabled}, nil
}

func (c *countedInstances) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[id]
}

// TestPassReadsReadEachInstanceOnce: the deliveries of one outbox pass share one read of their
// instance, concurrent ones included; a read older than passFresh is made again, a failed one
// is not kept, and a missing instance is known as missing for the pass.
func TestPassReadsReadEachInstanceOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	store := &countedInstances{reads: map[string]int{}, gate: make(chan struct{})}
	p := newPassReads(store, now)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if in, err := p.instance(ctx, "a"); err != nil || in.ID != "a" {
				t.Errorf("instance(a) = %+v, %v", in, err)
			}
		})
	}
	close(store.gate) // the first read ends once all eight asked (or some asked after it)
	wg.Wait()
	if _, err := p.instance(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got := store.count("a"); got != 1 {
		t.Errorf("eight deliveries of one instance made %d reads, want 1", got)
	}
	for range 2 {
		if _, err := p.instance(ctx, "gone"); !errors.Is(err, zen7.ErrNotFound) {
			t.Errorf("instance(gone) = %v, want ErrNotFound", err)
		}
	}
	if got := store.count("gone"); got != 1 {
		t.Errorf("a missing instance was read %d times, want 1", got)
	}

	mu.Lock()
	clock = clock.Add(passFresh + time.Millisecond)
	mu.Unlock()
	if _, err := p.instance(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := store.count("a"); got != 2 {
		t.Errorf("a read older than passFresh was used again: %d reads, want 2", got)
	}

	store.mu.Lock()
	store.fail = errors.New("store down")
	store.mu.Unlock()
	for range 2 {
		if _, err := p.instance(ctx, "c"); err == nil {
			t.Error("instance(c) with the store down succeeded")
		}
	}
	if got := store.count("c"); got != 2 {
		t.Errorf("a failed read was kept: %d reads of c, want 2", got)
	}
}
