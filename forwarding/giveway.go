package forwarding

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// The worker gives way to a busy intake. The intake and the worker share the process's CPUs,
// and Sales waits for each webhook's answer while nobody waits for a lead's. While the intake
// accepts GiveWayAt webhooks or more at once, on average (busyOver), the worker works on a few
// deliveries at a time here (giveWayBatch): it claims them together once none it claimed
// before is in flight but to wait for 7Targets or Sales to answer, and claims none ahead.
// Those waiting for an answer use no CPU here, and a slow 7Targets account must not stop the
// others' deliveries (the per-instance share bounds how many of them wait). The outbox keeps
// the rest. This is a feedback: the worker takes the CPU that leaves the intake answering with
// fewer than GiveWayAt webhooks in progress, all of it once the intake keeps up, and a few
// deliveries at a time under a burst the intake can barely take.

// accepting counts a webhook being accepted by this process's intake until done is called.
func (w *Worker) accepting() (done func()) {
	w.webhooks.add(1, time.Now())
	return func() { w.webhooks.add(-1, time.Now()) }
}

// intakeBusy says whether the worker gives way to the intake: GiveWayAt webhooks or more in
// progress, on average over the last busyOver.
func (w *Worker) intakeBusy() bool { return w.webhooks.mean(time.Now()) >= float64(w.cfg.GiveWayAt) }

// busyOver is how long the intake's load is averaged over: short enough for the worker to give
// way within a burst's first tenth of a second, long enough that a moment's crowd at a steady
// rate it keeps up with is not taken for one.
const busyOver = 100 * time.Millisecond

// inProgress counts what is in progress, and its mean over time, decaying with busyOver.
type inProgress struct {
	mu  sync.Mutex
	n   int
	avg float64   // the mean of n until at
	at  time.Time // when n last changed
}

func (p *inProgress) add(d int, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.avg, p.at = p.meanLocked(now), now
	p.n += d
}

// mean returns the mean of n until now, recent time weighing more.
func (p *inProgress) mean(now time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meanLocked(now)
}

func (p *inProgress) meanLocked(now time.Time) float64 {
	k := math.Exp(-float64(now.Sub(p.at)) / float64(busyOver))
	return p.avg*k + float64(p.n)*(1-k)
}

// working counts the deliveries in flight here and not waiting for an answer.
func (w *Worker) working() int64 { return int64(len(w.slots)) - w.remote.Load() }

// giveWayBatch is how many deliveries the worker works on at once while it gives way: enough
// for their writes to be grouped (group commit), few enough to leave the intake the CPU.
func (w *Worker) giveWayBatch() int { return max(1, w.cfg.Concurrency/8) }

// givingWay says whether the worker should start no delivery for now.
func (w *Worker) givingWay() bool {
	return w.intakeBusy() && w.working() >= int64(w.giveWayBatch())
}

// claimLater says whether the worker should claim no delivery for now: while it gives way, it
// claims a batch once the last one has gone (to 7Targets or done).
func (w *Worker) claimLater() bool {
	return w.intakeBusy() && (w.working() > 0 || w.waiting.Load() > 0)
}

// giveWay waits while cond holds; false if ctx ended first. It looks again every millisecond:
// a webhook or a delivery ending sends no signal.
func (w *Worker) giveWay(ctx context.Context, cond func() bool) bool {
	if !cond() {
		return true
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// startSlot takes a slot for a delivery claimed ahead, once the worker does not give way; false
// if ctx ended first. Deliveries wait for it one at a time (gate), so only one looks again
// every millisecond.
func (w *Worker) startSlot(ctx context.Context) bool {
	w.gate.Lock()
	defer w.gate.Unlock()
	if !w.giveWay(ctx, w.givingWay) {
		return false
	}
	select {
	case w.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// remoteLeads counts the calls to 7Targets in progress in n.
type remoteLeads struct {
	LeadSender
	n *atomic.Int64
}

func (r remoteLeads) CreateLead(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error) {
	defer countCall(r.n)()
	return r.LeadSender.CreateLead(ctx, key, creds, lead)
}

func (r remoteLeads) UpdateLead(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error) {
	defer countCall(r.n)()
	return r.LeadSender.UpdateLead(ctx, key, creds, lead)
}

func (r remoteLeads) StopFollowup(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error) {
	defer countCall(r.n)()
	return r.LeadSender.StopFollowup(ctx, key, creds, lead)
}

// remoteProspects counts the prospect lookups in Sales in progress in n.
type remoteProspects struct {
	ProspectSource
	n *atomic.Int64
}

func (r remoteProspects) Prospect(ctx context.Context, apiKey, prospectID string) (sales.Prospect, error) {
	defer countCall(r.n)()
	return r.ProspectSource.Prospect(ctx, apiKey, prospectID)
}

// remoteRetail counts the Chat-Tonic imports into Sales in progress in n.
type remoteRetail struct {
	RetailLeads
	n *atomic.Int64
}

func (r remoteRetail) CreateRetailLead(ctx context.Context, apiKey string, lead sales.RetailLead) (sales.Prospect, error) {
	defer countCall(r.n)()
	return r.RetailLeads.CreateRetailLead(ctx, apiKey, lead)
}

// countCall counts one more in n until done is called.
func countCall(n *atomic.Int64) (done func()) {
	n.Add(1)
	return func() { n.Add(-1) }
}
