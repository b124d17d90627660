package forwarding

import (
	"sync"
)

// keyedMutex serialises work per key, in the order it was asked for, and forgets keys nobody
// holds or waits for.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	tail chan struct{} // closed when the last one in line for the key is done
	refs int
}

// turn is one place in line for a key.
type turn struct {
	prev chan struct{} // closed when the one before is done; nil: first in line
	mine chan struct{}
	done func()
}

// enter takes the next place in line for key at once, without waiting: work entered in one
// order runs in that order, however its goroutines are scheduled.
func (k *keyedMutex) enter(key string) *turn {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	t := &turn{prev: e.tail, mine: make(chan struct{})}
	e.tail = t.mine
	e.refs++
	t.done = func() {
		close(t.mine)
		k.mu.Lock()
		defer k.mu.Unlock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
	}
	return t
}

// wait blocks until every turn entered before t is done, and returns the function that ends t.
func (t *turn) wait() (unlock func()) {
	if t.prev != nil {
		<-t.prev
	}
	return t.done
}
