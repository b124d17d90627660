package forwarding

import (
	"context"
	"sync"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// finishGroup is group commit for finished deliveries: the outcomes of deliveries finishing
// together are written with one command per collection (Store.FinishMany) rather than three
// commands each. Nobody waits for company: a delivery finishing while no write is in flight is
// written at once, alone; those finishing while one is are written together right after it,
// by the first of them. So at low load a delivery costs what it did, and under load the
// commands per delivery fall with the number finishing at once.
type finishGroup struct {
	store Store

	mu      sync.Mutex
	writing bool
	queue   []*finishReq
}

type finishReq struct {
	ctx  context.Context // the recording's, should this request lead a write
	d    zen7.Delivery
	lead chan struct{} // closed when this request is to write the queue
	done chan error    // its delivery's result, once written
}

// finish records d's outcome with those of the deliveries finishing with it, and returns d's
// error once written.
func (g *finishGroup) finish(ctx context.Context, d zen7.Delivery) error {
	r := &finishReq{ctx: ctx, d: d, lead: make(chan struct{}), done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if !g.writing {
		g.writing = true
		close(r.lead)
	}
	g.mu.Unlock()
	select {
	case err := <-r.done:
		return err // written by another request's write
	case <-r.lead:
	}
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	g.write(r.ctx, batch)
	g.mu.Lock()
	if len(g.queue) > 0 {
		close(g.queue[0].lead) // the next write is the first waiter's: this one's is done
	} else {
		g.writing = false
	}
	g.mu.Unlock()
	return <-r.done
}

// write records batch with one FinishMany, under the context of the request that leads it
// (each request's context gives recording its own time, recordTimeout).
func (g *finishGroup) write(ctx context.Context, batch []*finishReq) {
	ds := make([]zen7.Delivery, len(batch))
	for i, r := range batch {
		ds[i] = r.d
	}
	errs := g.store.FinishMany(ctx, ds)
	for i, r := range batch {
		r.done <- errs[i]
	}
}
