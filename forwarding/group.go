package forwarding

import (
	"context"
	"sync"
)

// group is group commit: requests made while a write is in flight are written together right
// after it, with one call of write, by the first of them. Nobody waits for company: a request
// made while no write is in flight is written at once, alone. So at low load a request costs
// what it did alone, and under load the store commands per request fall with the number made
// at once. The worker groups its outcomes, its lead records and its creation reservations so,
// and its reads ahead and of instances (a "write" is then a read).
type group[T, R any] struct {
	// write writes items and returns a result for each, in their order.
	write func(ctx context.Context, items []T) []R

	mu      sync.Mutex
	writing bool
	queue   []*groupReq[T, R]
}

type groupReq[T, R any] struct {
	ctx   context.Context // the request's, should it lead a write
	items []T
	lead  chan struct{} // closed when this request is to write the queue
	done  chan []R      // its items' results, once written
}

func newGroup[T, R any](write func(ctx context.Context, items []T) []R) *group[T, R] {
	return &group[T, R]{write: write}
}

// do writes item with those of the requests made with it, and returns item's result.
func (g *group[T, R]) do(ctx context.Context, item T) R {
	return g.doAll(ctx, []T{item})[0]
}

// doAll writes items, in one write, with those of the requests made with them, and returns
// their results in their order.
func (g *group[T, R]) doAll(ctx context.Context, items []T) []R {
	r := &groupReq[T, R]{ctx: ctx, items: items, lead: make(chan struct{}), done: make(chan []R, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if !g.writing {
		g.writing = true
		close(r.lead)
	}
	g.mu.Unlock()
	select {
	case res := <-r.done:
		return res // written by another request's write
	case <-r.lead:
	}
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	var all []T
	for _, q := range batch {
		all = append(all, q.items...)
	}
	// Under the leading request's context: each gives recording its own time (recordTimeout).
	results := g.write(r.ctx, all)
	for _, q := range batch {
		q.done <- results[:len(q.items):len(q.items)]
		results = results[len(q.items):]
	}
	g.mu.Lock()
	if len(g.queue) > 0 {
		close(g.queue[0].lead) // the next write is the first waiter's: this one's is done
	} else {
		g.writing = false
	}
	g.mu.Unlock()
	return <-r.done
}
