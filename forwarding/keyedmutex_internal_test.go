package forwarding

import (
	"sync"
	"testing"
)

// TestKeyedMutexRunsTurnsInTheOrderEntered: turns of one key run one at a time in the order
// they were entered, whichever goroutine is scheduled first; other keys do not wait; and the
// key is forgotten once nobody holds or waits for it.
func TestKeyedMutexRunsTurnsInTheOrderEntered(t *testing.T) {
	t.Parallel()
	k := keyedMutex{m: map[string]*keyedEntry{}}
	const n = 20
	turns := make([]*turn, n)
	for i := range turns {
		turns[i] = k.enter("p")
	}
	other := k.enter("q")
	other.wait()() // not held up by p's line

	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ran []int
	)
	for i := n - 1; i >= 0; i-- { // started last first
		wg.Go(func() {
			unlock := turns[i].wait()
			mu.Lock()
			ran = append(ran, i)
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	for i, got := range ran {
		if got != i {
			t.Fatalf("turns ran in the order %v, want 0 to %d", ran, n-1)
		}
	}
	if len(k.m) != 0 {
		t.Errorf("keys left behind: %v", k.m)
	}
}
