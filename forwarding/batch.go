package forwarding

import (
	"context"
	"errors"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// Batcher is group commit for the webhook intake: concurrent EnqueueEach calls are gathered, for
// at most MaxWait or until MaxBatch deliveries, and written with one insert; each call returns
// only once the write holding its deliveries is durable. One insert of many documents costs
// far less than as many inserts of one, so this is what lets intake outrun one-insert-per-
// request. While a write is in flight the next batch fills up, so under load batches grow by
// themselves and at low load a webhook waits at most MaxWait.
type Batcher struct {
	store    Enqueuer
	maxWait  time.Duration
	maxBatch int
	reqs     chan *batchReq
	stopped  chan struct{} // closed once Run has returned and written what it drained
}

type batchReq struct {
	ctx  context.Context
	ds   []zen7.Delivery
	done chan batchResult
}

type batchResult struct {
	inserted []bool
	err      error
}

// ErrStopped means the Batcher is no longer running.
var ErrStopped = errors.New("forwarding: batcher stopped")

// NewBatcher returns a Batcher writing to store; maxWait ≤ 0 means 1ms and maxBatch ≤ 0 means 64.
func NewBatcher(store Enqueuer, maxWait time.Duration, maxBatch int) *Batcher {
	if maxWait <= 0 {
		maxWait = time.Millisecond
	}
	if maxBatch <= 0 {
		maxBatch = 64
	}
	return &Batcher{store: store, maxWait: maxWait, maxBatch: maxBatch, reqs: make(chan *batchReq, 4*maxBatch), stopped: make(chan struct{})}
}

// EnqueueEach queues ds in the next batch and waits until it is written; it says, for each
// of ds, whether it was new. It has the meaning of Store.EnqueueEach.
func (b *Batcher) EnqueueEach(ctx context.Context, ds []zen7.Delivery) ([]bool, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	r := &batchReq{ctx: ctx, ds: ds, done: make(chan batchResult, 1)}
	select {
	case b.reqs <- r:
	case <-b.stopped:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.inserted, res.err
	case <-b.stopped:
		// Run wrote everything queued before it returned; if r was not among it, it never will be.
		select {
		case res := <-r.done:
			return res.inserted, res.err
		default:
			return nil, ErrStopped
		}
	case <-ctx.Done():
		// The write may still land; a redelivery by Sales is then a recognised duplicate.
		return nil, ctx.Err()
	}
}

// Run writes batches until ctx ends; requests still queued then are written before it returns,
// and later ones fail with ErrStopped. Run must be called once.
func (b *Batcher) Run(ctx context.Context) error {
	defer close(b.stopped)
	timer := time.NewTimer(0)
	<-timer.C
	for {
		var first *batchReq
		select {
		case first = <-b.reqs:
		case <-ctx.Done():
			b.drain()
			return nil
		}
		batch := []*batchReq{first}
		n := len(first.ds)
		timer.Reset(b.maxWait)
	gather:
		for n < b.maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
				n += len(r.ds)
			case <-timer.C:
				break gather
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		b.write(context.WithoutCancel(ctx), batch)
	}
}

// drain writes what is queued when Run stops, so no caller waits forever.
func (b *Batcher) drain() {
	for {
		select {
		case r := <-b.reqs:
			b.write(context.Background(), []*batchReq{r})
		default:
			return
		}
	}
}

func (b *Batcher) write(ctx context.Context, batch []*batchReq) {
	var all []zen7.Delivery
	live := batch[:0:0]
	for _, r := range batch {
		if r.ctx.Err() != nil {
			r.done <- batchResult{err: r.ctx.Err()} // its caller has gone: do not store on its behalf
			continue
		}
		live = append(live, r)
		all = append(all, r.ds...)
	}
	if len(live) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	inserted, err := b.store.EnqueueEach(wctx, all)
	for _, r := range live {
		if err != nil {
			r.done <- batchResult{err: err}
			continue
		}
		r.done <- batchResult{inserted: inserted[:len(r.ds):len(r.ds)]}
		inserted = inserted[len(r.ds):]
	}
}
