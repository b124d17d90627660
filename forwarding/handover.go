package forwarding

import (
	"context"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/secret"
)

// hold counts claims for the first of ds, in their order, which the intake is about to store
// already leased to this worker, as many as the worker may claim (its claims and each
// instance's share), and returns Run's context and how many it counted (0 when Run is not
// running or the worker gives way to the intake). Each must be given back by dispatch or
// unhold.
// A delivery so handed over runs as one claimed ahead does (runClaimed): at once in an idle
// slot, or after those waiting before it. It spares the delivery the outbox poll and the claim
// (three store commands before its 7Targets call), at low load and under load alike: a worker
// that cannot keep up would otherwise take the costlier way for nearly all of them. Its claims
// bound what it holds, as they bound what it claims ahead, so a busy worker does not pile up
// work that no other process may take: once they are all counted, deliveries wait in the
// outbox for any worker's poll. While the worker gives way, they wait there too, to be claimed
// in batches that share their reads: handed over a few at a time during a burst, each few
// would read for itself (measured: commands per lead at 16 senders rose from 1.93 to 2.10).
func (w *Worker) hold(ds []zen7.Delivery) (ctx context.Context, held int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.runCtx == nil {
		return nil, 0
	}
	for _, d := range ds {
		if w.givingWay() || !w.takeLocked(d.InstanceID) {
			break
		}
		select {
		case w.claims <- struct{}{}:
			held++
			continue
		default:
			w.giveLocked(d.InstanceID)
		}
		break
	}
	w.inflight.Add(held)
	return w.runCtx, held
}

// dispatch runs ds, which the intake stored leased to this worker, each as one claimed ahead,
// reading ahead for them together and sharing their instance reads. ctx is Run's: once it
// ends, those not started yet are put back.
func (w *Worker) dispatch(ctx context.Context, ds []zen7.Delivery) {
	w.waiting.Add(int64(len(ds)))
	go func() {
		turns := w.enter(ds)
		reads := newPassReads(w.instances, w.now)
		aheads := w.readAhead(ctx, ds, turns, reads)
		for i, d := range ds {
			go func() {
				defer w.unhold(d)
				w.runClaimed(ctx, d, reads, turns[i], aheads[i])
			}()
		}
	}()
}

// unhold gives back the claim held for d.
func (w *Worker) unhold(d zen7.Delivery) {
	w.unclaim(d)
	w.inflight.Done()
}

// handOverWrite is the time a hand-over's lease allows for its write when ctx sets no deadline.
const handOverWrite = 5 * time.Second

// submit stores ds through enqueue and says which were new. Those this worker has room for
// (hold) are stored leased to it, as if it had claimed them, and run once stored; the others
// wait in the outbox for its poll, which it is woken for. The lease counts from before the write,
// so it gets the write's time on top.
func (w *Worker) submit(ctx context.Context, enqueue Enqueuer, ds []zen7.Delivery) ([]bool, error) {
	runCtx, held := w.hold(ds)
	if held > 0 {
		owner := w.owner + ":" + secret.RandomHex(4) // this hand-over's own
		write, ok := ctx.Deadline()
		if !ok {
			write = w.now().Add(handOverWrite)
		}
		leaseUntil := write.Add(w.cfg.Lease)
		for i := range held {
			ds[i].Owner, ds[i].LeaseUntil = owner, leaseUntil
		}
	}
	inserted, err := enqueue.EnqueueEach(ctx, ds)
	if err != nil {
		if held > 0 {
			for _, d := range ds[:held] {
				w.unhold(d)
			}
			w.unlease(ctx, ds[:held])
		}
		return nil, err
	}
	polled := false
	var run []zen7.Delivery
	for i, ok := range inserted {
		switch {
		case ok && i < held:
			run = append(run, ds[i])
		case i < held:
			w.unhold(ds[i]) // a duplicate: the one stored first is another's to run
		case ok:
			polled = true
		}
	}
	if len(run) > 0 {
		w.dispatch(runCtx, run)
	}
	if polled {
		w.Wake()
	}
	return inserted, nil
}

// unleaseTimeout bounds lifting the leases of a failed hand-over; with the intake's own bound
// it stays within the 10 s Sales waits for an answer.
const unleaseTimeout = 2 * time.Second

// unlease lifts the leases of deliveries whose hand-over failed: the write may have landed
// anyway (a timeout, a partial insert), and Sales' redelivery of them is then a duplicate, so
// without this they would wait out the lease with nobody running them.
func (w *Worker) unlease(ctx context.Context, ds []zen7.Delivery) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unleaseTimeout)
	defer cancel()
	for _, d := range ds {
		if err := w.store.Unlease(ctx, d.ID, d.Owner); err != nil {
			return // the store is out of reach: the leases pass on their own
		}
	}
	w.Wake()
}
