package forwarding

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// LeadSender is the 7Targets API as the worker uses it. Its errors say whether they are worth
// retrying (seventargets.IsRetryable).
type LeadSender interface {
	CreateLead(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error)
	UpdateLead(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error)
	StopFollowup(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error)
}

// ProspectSource looks a prospect up in Zenvia Sales, for notifications that carry only its id.
type ProspectSource interface {
	Prospect(ctx context.Context, apiKey, prospectID string) (sales.Prospect, error)
}

// WorkerConfig tunes a Worker; zero values take the defaults in brackets.
type WorkerConfig struct {
	Concurrency  int           // deliveries in flight at once [32], and as many more claimed ahead: the more finish together, the fewer store commands each (group commit)
	PerInstance  int           // of those in flight or claimed ahead, one instance's at most [a quarter of Concurrency, at least 1]: a slow 7Targets account cannot take every slot
	Lease        time.Duration // how long a claim holds [60s]; must exceed JobTimeout: a crashed process's deliveries wait this long
	JobTimeout   time.Duration // budget of one delivery attempt [20s]
	PollInterval time.Duration // how often to look for work other processes queued or that fell due [1s]
	BaseBackoff  time.Duration // first retry delay [2s]
	MaxBackoff   time.Duration // retry delay cap [5m]
	MaxAge       time.Duration // a delivery still failing after this is dead-lettered [24h]
	// GiveWayAt is how many webhooks this process's intake accepts at once from which the
	// worker gives way to it [8] (giveway.go).
	GiveWayAt int
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.PerInstance <= 0 || c.PerInstance > c.Concurrency {
		c.PerInstance = max(1, c.Concurrency/4)
	}
	def(&c.Lease, time.Minute)
	def(&c.JobTimeout, 20*time.Second)
	c.Lease = max(c.Lease, c.JobTimeout+leaseMargin)
	def(&c.PollInterval, time.Second)
	def(&c.BaseBackoff, 2*time.Second)
	def(&c.MaxBackoff, 5*time.Minute)
	def(&c.MaxAge, 24*time.Hour)
	if c.GiveWayAt <= 0 {
		c.GiveWayAt = 8
	}
	return c
}

// Worker delivers the outbox to 7Targets. Several workers, in one process or many, may share
// one database: claims make each attempt of a delivery run in one of them only.
type Worker struct {
	cfg       WorkerConfig
	store     Store
	instances *sharedInstances
	leads     LeadSender
	prospects ProspectSource
	retail    RetailLeads // Chat-Tonic imports; nil: none are run here (SetRetailLeads)
	metrics   *Metrics
	logger    *slog.Logger
	owner     string
	wake      chan struct{}
	now       func() time.Time
	prospect  keyedMutex

	// Group commit (group.go) of what deliveries write as they go: their creation
	// reservations, and their outcomes with the lead records they leave.
	creations *group[zen7.Delivery, creationClaim]
	finishes  *group[zen7.Finish, error]
	// What is read ahead for deliveries, shared by the batches (claimed, or handed over)
	// asking at once.
	aheads *group[aheadReq, ahead]

	// slots bounds the deliveries in flight, whether claimed from the outbox or handed over by
	// the intake. claims bounds those in flight together with those claimed ahead, which wait
	// for their turn and a slot (waiting counts them): claiming ahead lets a backlog be claimed
	// in batches, gathered while the slots are kept busy. inflight counts them all (and slots
	// held for a hand-over) so Run can wait for them.
	slots    chan struct{}
	claims   chan struct{}
	waiting  atomic.Int64
	inflight sync.WaitGroup
	mu       sync.Mutex
	runCtx   context.Context // Run's, nil once it is stopping (no hand-over starts then)
	busy     map[string]int  // deliveries in flight (or held for a hand-over) per instance
	webhooks inProgress      // being accepted by this process's intake (accepting)
	remote   *atomic.Int64   // deliveries waiting for 7Targets or Sales to answer (giveway.go)
	gate     sync.Mutex      // taken by a delivery claimed ahead waiting to start (startSlot)
}

// NewWorker returns a worker; metrics may be nil.
func NewWorker(cfg WorkerConfig, store Store, instances Instances, leads LeadSender, prospects ProspectSource, metrics *Metrics, logger *slog.Logger) *Worker {
	cfg = cfg.withDefaults()
	remote := new(atomic.Int64)
	w := &Worker{
		cfg:       cfg,
		store:     store,
		instances: newSharedInstances(instances),
		leads:     remoteLeads{LeadSender: leads, n: remote},
		prospects: remoteProspects{ProspectSource: prospects, n: remote},
		metrics:   metrics,
		logger:    logger,
		owner:     secret.RandomHex(6),
		wake:      make(chan struct{}, 1),
		now:       func() time.Time { return time.Now().UTC() },
		prospect:  keyedMutex{m: map[string]*keyedEntry{}},
		creations: newGroup(func(ctx context.Context, ds []zen7.Delivery) []creationClaim {
			holders, errs := store.ClaimCreations(ctx, ds)
			out := make([]creationClaim, len(ds))
			for i := range ds {
				out[i] = creationClaim{holder: holders[i], err: errs[i]}
			}
			return out
		}),
		finishes: newGroup(store.FinishMany),
		slots:    make(chan struct{}, cfg.Concurrency),
		claims:   make(chan struct{}, 2*cfg.Concurrency),
		busy:     map[string]int{},
		remote:   remote,
	}
	w.aheads = newGroup(w.readAheadFor)
	return w
}

// Wake tells the worker new work is queued, so it need not wait for its next poll.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the deliveries in flight to finish (each within
// its JobTimeout) and returns.
func (w *Worker) Run(ctx context.Context) error {
	w.setRunning(ctx)
	defer func() {
		w.setStopping()
		w.inflight.Wait()
	}()
	batch := 4 * w.cfg.Concurrency
	timer := time.NewTimer(0)
	defer timer.Stop()
	lastStats := time.Time{}
	for {
		if now := w.now(); now.Sub(lastStats) >= 5*time.Second {
			w.recordStats(ctx)
			lastStats = now
		}
		due, err := w.store.Due(ctx, w.now(), batch, w.saturated()...)
		if err != nil && ctx.Err() == nil {
			w.logger.WarnContext(ctx, "reading the outbox failed", "error", err)
		}
		claimedAny, full := false, len(due) == batch
		reads := newPassReads(w.instances, w.now)
		for len(due) > 0 {
			if !w.giveWay(ctx, w.claimLater) {
				return nil
			}
			var picked []zen7.Delivery
			picked, due = w.pick(ctx, due)
			if len(picked) == 0 {
				break
			}
			now := w.now()
			claimed, err := w.store.ClaimMany(ctx, picked, w.owner, now, now.Add(w.cfg.Lease))
			if err != nil && ctx.Err() == nil {
				w.logger.WarnContext(ctx, "claiming deliveries failed", "deliveries", len(picked), "error", err)
			}
			// Claims were counted for every picked delivery: those not claimed give theirs back.
			for _, d := range picked {
				if !slices.ContainsFunc(claimed, func(c zen7.Delivery) bool { return c.ID == d.ID }) {
					w.unclaim(d)
				}
			}
			claimedAny = claimedAny || len(claimed) > 0
			turns := w.enter(claimed) // in claim order, before their goroutines run
			aheads := w.readAhead(ctx, claimed, turns, reads)
			w.waiting.Add(int64(len(claimed)))
			for i, c := range claimed {
				w.inflight.Go(func() {
					defer w.unclaim(c)
					w.runClaimed(ctx, c, reads, turns[i], aheads[i])
				})
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		if full && claimedAny {
			continue // more may be due right now (if none could be claimed, wait: no busy loop)
		}
		timer.Reset(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// pick counts a claim for each due delivery there is room for, its instance's share
// permitting, and returns those it counted and the rest of due, from the first it counted
// none for. They are claimed together, with one ClaimMany. It waits for room for the first;
// and while claimed deliveries wait to start (more than a quarter of Concurrency), it waits
// for room for more, up to half of Concurrency, so that a backlog is claimed in batches
// rather than one or two at a time as slots free, without a slot ever idle meanwhile.
func (w *Worker) pick(ctx context.Context, due []zen7.Delivery) (picked, rest []zen7.Delivery) {
	gather := max(1, w.cfg.Concurrency/2)
	var tick *time.Ticker
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	for i, d := range due {
		if len(picked) >= w.giveWayBatch() && w.intakeBusy() {
			return picked, due[i:] // a few at a time while giving way (giveway.go)
		}
		if !w.take(d.InstanceID) {
			continue // its instance has its share in flight: others' deliveries go first
		}
		select {
		case w.claims <- struct{}{}:
			picked = append(picked, d)
			continue
		default:
		}
		for {
			if len(picked) > 0 && (len(picked) >= gather || w.waitingLow(w.waiting.Load())) {
				w.give(d.InstanceID) // claim those picked, then wait for room for d
				return picked, due[i:]
			}
			var recheck <-chan time.Time // while gathering: has the wait for slots run low?
			if len(picked) > 0 {
				if tick == nil {
					tick = time.NewTicker(time.Millisecond)
				}
				recheck = tick.C
			}
			select {
			case w.claims <- struct{}{}:
			case <-recheck:
				continue
			case <-ctx.Done():
				w.give(d.InstanceID)
				return picked, nil
			}
			break
		}
		picked = append(picked, d)
	}
	return picked, nil
}

// leaseMargin is the least a lease lasts beyond an attempt's JobTimeout; startMargin is the
// least it must still last beyond it when a delivery claimed ahead starts.
const leaseMargin, startMargin = 5 * time.Second, time.Second

// runClaimed runs c, claimed ahead, once its turn in its prospect's line has come and a slot
// is free for it, and its lease still leaves room for the attempt (startMargin beyond
// JobTimeout); otherwise, or if Run is stopping before then, it puts c back for any worker to
// take. It waits for its turn before it takes a slot: a delivery holding a slot while it waits
// for the one before it, which may itself be waiting for a slot, could leave every slot so held.
func (w *Worker) runClaimed(ctx context.Context, c zen7.Delivery, reads *passReads, t *turn, ah ahead) {
	unlock := t.wait()
	defer unlock()
	if !w.startSlot(ctx) {
		w.waiting.Add(-1)
		w.putBack(c)
		return
	}
	if n := w.waiting.Add(-1); w.waitingLow(n) && !w.waitingLow(n+1) {
		w.Wake() // few claimed ahead are left: claim more
	}
	defer func() { <-w.slots }()
	if c.LeaseUntil.Sub(w.now()) < w.cfg.JobTimeout+startMargin {
		w.putBack(c)
		return
	}
	w.process(context.WithoutCancel(ctx), c, reads, ah)
}

// putBack releases c, claimed and never attempted, for a later claim.
func (w *Worker) putBack(c zen7.Delivery) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if err := w.store.Release(ctx, c); err != nil {
		w.logger.WarnContext(ctx, "putting back a delivery claimed ahead failed; its lease will expire", "delivery", c.ID, "error", err)
	}
}

// waitingLow says whether n deliveries claimed ahead waiting to start are few enough (a
// quarter of Concurrency) that more should be claimed now, without gathering a batch.
func (w *Worker) waitingLow(n int64) bool { return n <= int64(w.cfg.Concurrency/4) }

// unclaim gives back the claim counted for d.
func (w *Worker) unclaim(d zen7.Delivery) {
	<-w.claims
	w.give(d.InstanceID)
}

// enter takes a place in its prospect's line for each of ds, in their order.
func (w *Worker) enter(ds []zen7.Delivery) []*turn {
	turns := make([]*turn, len(ds))
	for i, d := range ds {
		turns[i] = w.prospect.enter(prospectKey(d))
	}
	return turns
}

// take counts one more delivery of instanceID in flight, if the instance is below its share.
func (w *Worker) take(instanceID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.takeLocked(instanceID)
}

func (w *Worker) takeLocked(instanceID string) bool {
	if w.busy[instanceID] >= w.cfg.PerInstance {
		return false
	}
	w.busy[instanceID]++
	return true
}

// give counts one delivery of instanceID fewer in flight.
func (w *Worker) give(instanceID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.giveLocked(instanceID)
}

func (w *Worker) giveLocked(instanceID string) {
	if w.busy[instanceID] == w.cfg.PerInstance && w.waitingLow(w.waiting.Load()) {
		// The poll left this instance's deliveries out: it may take one now. With enough
		// claimed ahead still waiting, the poll comes when they run low (runClaimed), and
		// claims together what freed meanwhile.
		w.Wake()
	}
	if w.busy[instanceID]--; w.busy[instanceID] <= 0 {
		delete(w.busy, instanceID)
	}
}

// saturated lists the instances with their share in flight, whose deliveries the outbox poll
// leaves for later, so that a backlog of theirs does not fill every batch.
func (w *Worker) saturated() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id, n := range w.busy {
		if n >= w.cfg.PerInstance {
			out = append(out, id)
		}
	}
	return out
}

// setRunning records that Run runs under ctx.
func (w *Worker) setRunning(ctx context.Context) {
	w.mu.Lock()
	w.runCtx = ctx
	w.mu.Unlock()
}

// setStopping records that Run is stopping: no hand-over starts from now on.
func (w *Worker) setStopping() {
	w.mu.Lock()
	w.runCtx = nil
	w.mu.Unlock()
}

func (w *Worker) recordStats(ctx context.Context) {
	if w.metrics == nil {
		return
	}
	depth, oldest, err := w.store.Stats(ctx)
	if err != nil {
		return
	}
	w.metrics.setQueue(depth, oldest, w.now())
}
