package forwarding

import (
	"context"
	"sync"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// Action is what decide says a delivery should do, exported for the external tests.
type Action = action

// The actions decide returns.
const (
	ActNone   = actNone
	ActSkip   = actSkip
	ActCreate = actCreate
	ActUpdate = actUpdate
	ActStop   = actStop
)

// The reasons decide gives.
var (
	ReasonSuperseded     = zen7.Because(zen7.ReasonSuperseded)
	ReasonClaimedFirst   = zen7.Because(zen7.ReasonClaimedFirst)
	ReasonAutoForwardOff = zen7.Because(zen7.ReasonAutoForwardOff)
	ReasonNoEmail        = zen7.Because(zen7.ReasonNoEmail)
	ReasonNoChange       = zen7.Because(zen7.ReasonNoChange)
	ReasonNotForwarded   = zen7.Because(zen7.ReasonNotForwarded)
	ReasonAlreadyStopped = zen7.Because(zen7.ReasonAlreadyStopped)
	ReasonStopOff        = zen7.Because(zen7.ReasonStopOff)
)

// Decide is decide.
var Decide = decide

// Backoff returns the delay w waits after n failed attempts.
func (w *Worker) Backoff(n int) time.Duration { return w.backoff(n) }

// SetClock makes w read the time from now. Call it before Run.
func (w *Worker) SetClock(now func() time.Time) { w.now = now }

// Running reports whether w's Run has started and not yet stopped.
func (w *Worker) Running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runCtx != nil
}

// IdleSlots is how many deliveries w could start now.
func (w *Worker) IdleSlots() int { return cap(w.slots) - len(w.slots) }

// Claimed is how many deliveries w holds claims for: in flight, claimed ahead or held for a
// hand-over.
func (w *Worker) Claimed() int { return len(w.claims) }

// Accepting counts a webhook being accepted by w's intake until done is called.
func (w *Worker) Accepting() (done func()) { return w.accepting() }

// IntakeBusy says whether w gives way to its intake.
func (w *Worker) IntakeBusy() bool { return w.intakeBusy() }

// SetClock makes p read the time from now. Call it before Pass or Run.
func (p *ChatTonicPoller) SetClock(now func() time.Time) { p.now = now }

// RunClaimedAhead runs ds, claimed by the caller in their order, as Run runs deliveries it
// claimed ahead (their turns entered in that order), but starts them in the order of the
// indexes in start, gap apart; it returns once all have ended.
func (w *Worker) RunClaimedAhead(ctx context.Context, ds []zen7.Delivery, start []int, gap time.Duration) {
	turns := w.enter(ds)
	reads := newPassReads(w.instances, w.now)
	w.waiting.Add(int64(len(ds)))
	var wg sync.WaitGroup
	for _, i := range start {
		w.take(ds[i].InstanceID)
		w.claims <- struct{}{}
		wg.Go(func() {
			defer w.unclaim(ds[i])
			w.runClaimed(ctx, ds[i], reads, turns[i], ahead{})
		})
		time.Sleep(gap)
	}
	wg.Wait()
}
