package forwarding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/sales"
)

// The backfill lives in this package rather than in one of its own: it is one more source of
// the outbox, like webhooks, and takes the same Requests, the same cleaning of Sales prospects
// (FromSales) and the same Intake; a separate package would depend on this one for those types,
// which feature packages do not do.

// BackfillStore keeps the instances' backfills (store.Backfills). What replicas race for is
// decided there.
type BackfillStore interface {
	// Backfill returns the instance's current or last backfill, or ErrNotFound.
	Backfill(ctx context.Context, instanceID string) (zen7.Backfill, error)
	// StartBackfill records b in place of backfill b.Seq-1, which must be finished (none for
	// Seq 1); it returns ErrConflict otherwise.
	StartBackfill(ctx context.Context, b zen7.Backfill) error
	// RunnableBackfills returns up to limit running backfills whose lease has passed at now.
	RunnableBackfills(ctx context.Context, now time.Time, limit int) ([]zen7.Backfill, error)
	// TakeBackfill leases b to owner until leaseUntil and returns it as stored; it returns
	// ErrClaimed if another owner took it first.
	TakeBackfill(ctx context.Context, b zen7.Backfill, owner string, now, leaseUntil time.Time) (zen7.Backfill, error)
	// SaveBackfill writes b if its lease still holds; it returns ErrClaimed if not.
	SaveBackfill(ctx context.Context, b zen7.Backfill) error
	// PendingCount returns how many of the deliveries ids are still in the outbox.
	PendingCount(ctx context.Context, ids []string) (int, error)
	// FinishedDeliveries returns those of the deliveries ids that finished.
	FinishedDeliveries(ctx context.Context, ids []string) ([]zen7.Delivery, error)
}

// ProspectLister lists an instance's prospects in Zenvia Sales (sales.Client.Prospects).
type ProspectLister interface {
	Prospects(ctx context.Context, apiKey string, q sales.ProspectQuery) ([]sales.Prospect, error)
}

// BackfillConfig tunes a Backfiller. Zero fields take the defaults noted.
type BackfillConfig struct {
	// Owner names this process in leases; empty draws one.
	Owner string
	// Batch is how many prospects are queued at once, and not more until they finished: 7Targets
	// advises against assigning more than about 50 leads at a time. Default 50, at most 100.
	Batch int
	// PageSize is how many prospects one listing asks Sales for. Default and most:
	// sales.MaxProspectsPage, the contract's limit=100.
	PageSize int
	// Lease is how long a backfill stays this process's without a word from it; another
	// replica takes it over once it passes. Default 1 minute.
	Lease time.Duration
	// Poll is how often the outbox is looked at while a batch is on its way. Default 1 second.
	Poll time.Duration
	// Interval is how often runnable backfills are looked for, besides when one is started
	// here. Default 10 seconds.
	Interval time.Duration
	// MaxBackoff bounds the wait after Sales is unreachable. Default 1 minute.
	MaxBackoff time.Duration
}

func (c BackfillConfig) withDefaults() BackfillConfig {
	if c.Owner == "" {
		c.Owner = "backfill-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if c.Batch <= 0 {
		c.Batch = 50
	}
	c.Batch = min(c.Batch, sales.MaxProspectsPage)
	if c.PageSize <= 0 || c.PageSize > sales.MaxProspectsPage {
		c.PageSize = sales.MaxProspectsPage
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
	return c
}

// Backfiller runs the backfills of the backfillDays setting: it lists each instance's unclaimed
// prospects of the window in Sales, page after page, and queues them through the Intake, a
// batch at a time. Every replica runs one; a backfill is worked on by the one holding its
// lease, one backfill at a time per process, and resumes from its saved cursor wherever it is
// taken up again.
type Backfiller struct {
	store     BackfillStore
	instances Instances
	lister    ProspectLister
	intake    *Intake
	cfg       BackfillConfig
	logger    *slog.Logger
	now       func() time.Time
	wake      chan struct{}
}

// NewBackfiller returns a Backfiller queuing through intake.
func NewBackfiller(cfg BackfillConfig, store BackfillStore, instances Instances, lister ProspectLister, intake *Intake, logger *slog.Logger) *Backfiller {
	return &Backfiller{
		store: store, instances: instances, lister: lister, intake: intake, cfg: cfg.withDefaults(), logger: logger,
		now: func() time.Time { return time.Now().UTC() }, wake: make(chan struct{}, 1),
	}
}

// backfillKey is the key of a backfill's delivery of a prospect: the same prospect queued again
// by the same backfill (after a restart, or by the replica that took it over) is a duplicate.
// Webhook keys hash the notification, which the backfill does not have; a prospect that also
// arrives by webhook is told apart by its lead record instead: the first delivery to run
// creates the lead (the creation reservation lets only one), the other finds it forwarded and
// does nothing, or updates it if Sales' data changed in between, and never creates again.
func backfillKey(seq int, prospectID string) string {
	return "backfill:" + strconv.Itoa(seq) + ":" + prospectID
}

// Start starts a backfill of the prospects created in the last days days for the instance,
// unless one is running (one at a time), or the last one finished with these days and changed
// is false (the value was saved again as it was, with other settings: it forwards once). It
// returns ErrInvalid for days outside 1..MaxBackfillDays.
func (b *Backfiller) Start(ctx context.Context, instanceID string, days int, changed bool) error {
	if days < 1 || days > zen7.MaxBackfillDays {
		return fmt.Errorf("forwarding.StartBackfill: %w: days must be from 1 to %d", zen7.ErrInvalid, zen7.MaxBackfillDays)
	}
	seq := 1
	switch prev, err := b.store.Backfill(ctx, instanceID); {
	case errors.Is(err, zen7.ErrNotFound):
	case err != nil:
		return fmt.Errorf("forwarding.StartBackfill: %w", err)
	case prev.State == zen7.BackfillRunning:
		return nil
	case prev.State == zen7.BackfillDone && prev.Days == days && !changed:
		return nil
	default:
		seq = prev.Seq + 1
	}
	now := b.now()
	job := zen7.Backfill{
		InstanceID: instanceID, Seq: seq, Days: days, WindowStart: now.Add(-time.Duration(days) * 24 * time.Hour),
		State: zen7.BackfillRunning, StartedAt: now, UpdatedAt: now,
	}
	if err := b.store.StartBackfill(ctx, job); err != nil {
		if errors.Is(err, zen7.ErrConflict) {
			return nil // another hook started one meanwhile: it is the one
		}
		return fmt.Errorf("forwarding.StartBackfill: %w", err)
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run works on runnable backfills until ctx ends, then hands the one it holds back (its lease
// lifted, so that another replica resumes it at once) and returns nil.
func (b *Backfiller) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-b.wake:
		case <-t.C:
		}
		b.pass(ctx)
		t.Reset(b.cfg.Interval) // since Go 1.23 a Reset drops a pending tick
	}
}

// pass takes and works on the runnable backfills, one after the other.
func (b *Backfiller) pass(ctx context.Context) {
	jobs, err := b.store.RunnableBackfills(ctx, b.now(), 10)
	if err != nil {
		if ctx.Err() == nil {
			b.logger.WarnContext(ctx, "listing runnable backfills failed", "error", err)
		}
		return
	}
	for _, job := range jobs {
		if ctx.Err() != nil {
			return
		}
		now := b.now()
		taken, err := b.store.TakeBackfill(ctx, job, b.cfg.Owner, now, now.Add(b.cfg.Lease))
		switch {
		case errors.Is(err, zen7.ErrClaimed):
			continue
		case err != nil:
			b.logger.WarnContext(ctx, "taking a backfill failed", "instance", job.InstanceID, "error", err)
			continue
		}
		b.work(ctx, taken)
	}
}

// errLostLease ends work on a backfill another process took over.
var errLostLease = errors.New("the backfill's lease was taken over")

// work runs job until it ends, its lease is lost or ctx ends.
func (b *Backfiller) work(ctx context.Context, job zen7.Backfill) {
	r := &backfillRun{b: b, job: job}
	err := r.run(ctx)
	switch {
	case err == nil || errors.Is(err, errYielded):
	case errors.Is(err, errLostLease):
		b.logger.InfoContext(ctx, "backfill taken over by another process", "instance", job.InstanceID)
	case ctx.Err() != nil:
		// Shutting down: hand the backfill back at once rather than when its lease passes.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		r.job.LeaseUntil = b.now()
		if err := b.store.SaveBackfill(rctx, r.job); err != nil && !errors.Is(err, zen7.ErrClaimed) {
			b.logger.WarnContext(ctx, "handing a backfill back failed", "instance", job.InstanceID, "error", err)
		}
	case err != nil:
		b.logger.WarnContext(ctx, "backfill interrupted; will resume", "instance", job.InstanceID, "error", err)
	}
}

// backfillRun is one process's turn at a backfill.
type backfillRun struct {
	b   *Backfiller
	job zen7.Backfill
	// buffered are prospects listed but not queued yet (a page may hold several batches).
	buffered []sales.Prospect
	// lastPage says the listing returned its last page: once buffered is queued, it is done.
	lastPage bool
	failures int // Sales unreachable in a row
}

func (r *backfillRun) run(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		inst, err := r.b.instances.Instance(ctx, r.job.InstanceID)
		switch {
		case errors.Is(err, zen7.ErrNotFound):
			return r.end(ctx, zen7.BackfillStopped, zen7.Because(zen7.ReasonInstanceGone))
		case err != nil:
			return fmt.Errorf("reading the instance: %w", err)
		case inst.State != zen7.StateEnabled || !inst.Settings.Complete():
			if r.begun() || inst.State == zen7.StateUninstalled {
				reason := zen7.Reason{Code: zen7.ReasonInstanceState, Detail: string(inst.State)}
				if inst.State == zen7.StateEnabled {
					reason = zen7.Because(zen7.ReasonSettingsIncomplete)
				}
				return r.end(ctx, zen7.BackfillStopped, reason)
			}
			// Not begun: the settings are saved before the App is enabled, and the backfill
			// waits for it rather than stop before it could forward anything. It is handed back
			// meanwhile, so that this process gets on with other backfills.
			return r.yield(ctx, r.b.cfg.Interval)
		}

		if len(r.job.Pending) > 0 {
			if err := r.settle(ctx); err != nil {
				return err
			}
			continue
		}
		if len(r.buffered) == 0 {
			if r.lastPage {
				return r.end(ctx, zen7.BackfillDone, zen7.Reason{})
			}
			if err := r.list(ctx, inst); err != nil {
				return err
			}
			continue
		}
		if err := r.queue(ctx); err != nil {
			return err
		}
	}
}

// begun reports whether anything of the backfill was queued.
func (r *backfillRun) begun() bool { return r.job.Found > 0 || r.job.Cursor != "" }

// list reads the next page of the window.
func (r *backfillRun) list(ctx context.Context, inst zen7.Instance) error {
	// Sales lists at most 31 days back: a backfill that waited to be enabled lists what is
	// still inside that window.
	after := r.job.WindowStart
	if earliest := r.b.now().Add(-sales.ProspectsWindow + time.Minute); after.Before(earliest) {
		after = earliest
	}
	q := sales.ProspectQuery{CreatedAfter: after, Status: "unclaimed", Limit: r.b.cfg.PageSize, After: r.job.Cursor}
	page, err := r.b.lister.Prospects(ctx, inst.APIKey, q)
	if err == nil {
		r.failures = 0
		r.buffered, r.lastPage = page, len(page) < q.Limit
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if wait, limited := sales.RateLimitDelay(err); limited {
		// Sales said when its limit resets: ask again then, not sooner and not much later.
		return r.pause(ctx, wait+rateLimitMargin)
	}
	if sales.IsRetryable(err) {
		r.failures++
		r.b.logger.WarnContext(ctx, "listing prospects for a backfill failed; will retry", "instance", inst.ID, "error", err)
		return r.pause(ctx, min(r.b.cfg.MaxBackoff, time.Second<<min(r.failures, 10)))
	}
	// Refused for good. A disabled App's calls are refused too: the next round stops the
	// backfill with that reason if so.
	again, ierr := r.b.instances.Instance(ctx, inst.ID)
	if ierr == nil && again.State != zen7.StateEnabled {
		return nil
	}
	var apiErr *sales.APIError
	reason := zen7.Reason{Code: zen7.ReasonListFailed, Detail: err.Error()}
	if errors.As(err, &apiErr) {
		reason.Status, reason.Detail = apiErr.Status, apiErr.Message
	}
	return r.end(ctx, zen7.BackfillFailed, reason)
}

// queue queues the next batch of listed prospects and saves the cursor after it.
func (r *backfillRun) queue(ctx context.Context) error {
	n := min(len(r.buffered), r.b.cfg.Batch)
	batch := r.buffered[:n]
	reqs := make([]Request, 0, n)
	ids := make([]string, 0, n)
	for _, sp := range batch {
		p := FromSales(sp)
		if p.ID == "" {
			continue // no usable id: nothing to forward or to page after
		}
		snapshot := p.UpdatedAt
		if snapshot.IsZero() {
			// Older than anything Sales can say of it since: a webhook's news wins.
			snapshot = r.job.WindowStart
		}
		key := backfillKey(r.job.Seq, p.ID)
		reqs = append(reqs, Request{InstanceID: r.job.InstanceID, Kind: zen7.KindNotification, Prospect: p, Key: key, SnapshotAt: snapshot})
		ids = append(ids, deliveryID(r.job.InstanceID, key))
	}
	if len(reqs) > 0 {
		if _, err := r.b.intake.Add(ctx, reqs...); err != nil {
			return fmt.Errorf("queuing a backfill batch: %w", err)
		}
	}
	r.buffered = r.buffered[n:]
	r.job.Found += len(reqs)
	r.job.Cursor = batch[n-1].ID
	r.job.Pending = ids
	return r.save(ctx)
}

// settle waits for the queued batch to leave the outbox, then counts its outcomes.
func (r *backfillRun) settle(ctx context.Context) error {
	n, err := r.b.store.PendingCount(ctx, r.job.Pending)
	if err != nil {
		return fmt.Errorf("counting a backfill's pending deliveries: %w", err)
	}
	if n > 0 {
		return r.pause(ctx, r.b.cfg.Poll)
	}
	ds, err := r.b.store.FinishedDeliveries(ctx, r.job.Pending)
	if err != nil {
		return fmt.Errorf("reading a backfill's finished deliveries: %w", err)
	}
	forwarded, failed := 0, 0
	for _, d := range ds {
		switch d.Count() {
		case zen7.CountForwarded:
			forwarded++
		case zen7.CountFailed:
			failed++
		}
	}
	// The rest did not create a lead: skipped with a reason, or a webhook forwarded the prospect
	// first (the backfill's delivery then did nothing, or updated that lead), as the report
	// counts them.
	r.job.Forwarded += forwarded
	r.job.Failed += failed
	r.job.Skipped += len(r.job.Pending) - forwarded - failed
	r.job.Pending = nil
	return r.save(ctx)
}

// pause waits d, keeping the lease, or until ctx ends.
func (r *backfillRun) pause(ctx context.Context, d time.Duration) error {
	for d > 0 {
		step := min(d, r.b.cfg.Lease/3)
		t := time.NewTimer(step)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		d -= step
		if err := r.renew(ctx); err != nil {
			return err
		}
	}
	return nil
}

// yield hands the backfill back until d from now, when a replica (this one, perhaps) takes it
// up again.
func (r *backfillRun) yield(ctx context.Context, d time.Duration) error {
	now := r.b.now()
	r.job.UpdatedAt, r.job.LeaseUntil = now, now.Add(d)
	if err := r.b.store.SaveBackfill(ctx, r.job); err != nil && !errors.Is(err, zen7.ErrClaimed) {
		return fmt.Errorf("handing a backfill back: %w", err)
	}
	return errYielded
}

// errYielded ends a turn at a backfill that is waiting for its instance.
var errYielded = errors.New("the backfill waits for its instance")

// renew extends the lease once a third of it is used.
func (r *backfillRun) renew(ctx context.Context) error {
	if time.Until(r.job.LeaseUntil) > r.b.cfg.Lease*2/3 {
		return nil
	}
	return r.save(ctx)
}

// save writes the progress and extends the lease.
func (r *backfillRun) save(ctx context.Context) error {
	now := r.b.now()
	r.job.UpdatedAt, r.job.LeaseUntil = now, now.Add(r.b.cfg.Lease)
	if err := r.b.store.SaveBackfill(ctx, r.job); err != nil {
		if errors.Is(err, zen7.ErrClaimed) {
			return errLostLease
		}
		return fmt.Errorf("saving a backfill: %w", err)
	}
	return nil
}

// end records the backfill's final state and lifts its lease.
func (r *backfillRun) end(ctx context.Context, state zen7.BackfillState, reason zen7.Reason) error {
	now := r.b.now()
	r.job.State, r.job.Reason, r.job.FinishedAt, r.job.UpdatedAt, r.job.LeaseUntil = state, reason, now, now, now
	if err := r.b.store.SaveBackfill(ctx, r.job); err != nil {
		if errors.Is(err, zen7.ErrClaimed) {
			return errLostLease
		}
		return fmt.Errorf("ending a backfill: %w", err)
	}
	r.b.logger.InfoContext(ctx, "backfill ended", "instance", r.job.InstanceID, "state", string(state),
		"found", r.job.Found, "forwarded", r.job.Forwarded, "skipped", r.job.Skipped, "failed", r.job.Failed, "reason", reason.String())
	return nil
}
