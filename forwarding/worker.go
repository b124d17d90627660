package forwarding

import (
	"context"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

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
	Concurrency  int           // deliveries in flight at once [8]
	Lease        time.Duration // how long a claim holds [60s]; must exceed JobTimeout: a crashed process's deliveries wait this long
	JobTimeout   time.Duration // budget of one delivery attempt [20s]
	PollInterval time.Duration // how often to look for work other processes queued or that fell due [1s]
	BaseBackoff  time.Duration // first retry delay [2s]
	MaxBackoff   time.Duration // retry delay cap [5m]
	MaxAge       time.Duration // a delivery still failing after this is dead-lettered [24h]
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	def(&c.Lease, time.Minute)
	def(&c.JobTimeout, 20*time.Second)
	c.Lease = max(c.Lease, c.JobTimeout+5*time.Second)
	def(&c.PollInterval, time.Second)
	def(&c.BaseBackoff, 2*time.Second)
	def(&c.MaxBackoff, 5*time.Minute)
	def(&c.MaxAge, 24*time.Hour)
	return c
}

// Worker delivers the outbox to 7Targets. Several workers, in one process or many, may share
// one database: claims make each attempt of a delivery run in one of them only.
type Worker struct {
	cfg       WorkerConfig
	store     Store
	instances Instances
	leads     LeadSender
	prospects ProspectSource
	metrics   *Metrics
	logger    *slog.Logger
	owner     string
	wake      chan struct{}
	now       func() time.Time
	prospect  keyedMutex

	// slots bounds the deliveries in flight, whether claimed from the outbox or handed over by
	// the intake; inflight counts them (and slots held for a hand-over) so Run can wait for them.
	slots    chan struct{}
	inflight sync.WaitGroup
	mu       sync.Mutex
	running  bool // guards holds: none start once Run is stopping
}

// NewWorker returns a worker; metrics may be nil.
func NewWorker(cfg WorkerConfig, store Store, instances Instances, leads LeadSender, prospects ProspectSource, metrics *Metrics, logger *slog.Logger) *Worker {
	cfg = cfg.withDefaults()
	return &Worker{
		cfg:       cfg,
		store:     store,
		instances: instances,
		leads:     leads,
		prospects: prospects,
		metrics:   metrics,
		logger:    logger,
		owner:     secret.RandomHex(6),
		wake:      make(chan struct{}, 1),
		now:       func() time.Time { return time.Now().UTC() },
		prospect:  keyedMutex{m: map[string]*keyedEntry{}},
		slots:     make(chan struct{}, cfg.Concurrency),
	}
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
	w.setRunning(true)
	defer func() {
		w.setRunning(false)
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
		due, err := w.store.Due(ctx, w.now(), batch)
		if err != nil && ctx.Err() == nil {
			w.logger.WarnContext(ctx, "reading the outbox failed", "error", err)
		}
		claimedAny := false
		for _, d := range due {
			select {
			case w.slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			now := w.now()
			claimed, err := w.store.Claim(ctx, d, w.owner, now, now.Add(w.cfg.Lease))
			if err != nil {
				<-w.slots
				if !errors.Is(err, zen7.ErrClaimed) && ctx.Err() == nil {
					w.logger.WarnContext(ctx, "claiming a delivery failed", "delivery", d.ID, "error", err)
				}
				continue
			}
			claimedAny = true
			w.inflight.Go(func() {
				defer func() { <-w.slots }()
				w.process(context.WithoutCancel(ctx), claimed)
			})
		}
		if len(due) == batch && claimedAny {
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

func (w *Worker) setRunning(running bool) {
	w.mu.Lock()
	w.running = running
	w.mu.Unlock()
}

// hold reserves up to n idle slots for deliveries the intake is about to store already leased
// to this worker, and returns how many it got (0 when none is idle or Run is not running).
// Each held slot must be given back by dispatch or unhold. At low load this spares a new
// delivery the outbox poll and the claim: three store round trips before its 7Targets call.
// Under load no slot is idle and deliveries wait in the outbox as before, so a busy worker
// does not pile up work that no other process may take.
func (w *Worker) hold(n int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running {
		return 0
	}
	held := 0
take:
	for held < n {
		select {
		case w.slots <- struct{}{}:
			held++
		default:
			break take
		}
	}
	w.inflight.Add(held)
	return held
}

// dispatch runs d, which the intake stored leased to this worker, in a held slot.
func (w *Worker) dispatch(d zen7.Delivery) {
	go func() {
		defer w.unhold(1)
		w.process(context.Background(), d)
	}()
}

// unhold gives back n held slots.
func (w *Worker) unhold(n int) {
	for range n {
		<-w.slots
	}
	w.inflight.Add(-n)
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

// process runs one claimed delivery attempt to an outcome: finished, or released for a retry.
func (w *Worker) process(ctx context.Context, d zen7.Delivery) {
	// One prospect's deliveries run one at a time in this process, so they see each other's
	// effects; across processes the creation reservation keeps creations unique. The job's time
	// starts once the prospect is this delivery's.
	unlock := w.prospect.lock(d.InstanceID + ":" + d.Prospect.ID)
	defer unlock()
	ctx, cancel := context.WithTimeout(ctx, w.cfg.JobTimeout)
	defer cancel()

	// A redelivery of a notification that finished earlier (Sales retries and duplicates can
	// come after the first copy left the outbox) is dropped here, off the webhook's hot path.
	if d.Round == 0 && d.Kind == zen7.KindNotification {
		if done, err := w.store.Finished(ctx, d.ID); err == nil && done {
			if err := w.store.Discard(ctx, d); err != nil {
				w.logger.WarnContext(ctx, "dropping a duplicate delivery failed", "delivery", d.ID, "error", err)
			}
			w.metrics.webhookEvents("duplicate", 1)
			return
		}
	}

	res := w.attempt(ctx, d)
	d.LastError = res.err
	// The attempt may have used up its time: recording its result gets time of its own.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer rcancel()
	switch {
	case res.retry:
		w.retry(rctx, d, res)
	default:
		w.finish(rctx, d, res)
	}
}

// result is how one attempt ended.
type result struct {
	state   zen7.DeliveryState
	outcome zen7.Outcome
	reason  zen7.Reason
	lead    *zen7.Lead
	// retry asks for another attempt after at least after; called says whether the attempt
	// reached 7Targets (so counts as one).
	retry  bool
	after  time.Duration
	called bool
	err    string
}

func done(o zen7.Outcome, reason zen7.Reason) result {
	return result{state: zen7.StateDone, outcome: o, reason: reason}
}
func skipped(reason zen7.Reason) result {
	return result{state: zen7.StateSkipped, outcome: zen7.OutcomeNone, reason: reason}
}
func failed(reason zen7.Reason) result {
	return result{state: zen7.StateFailed, outcome: zen7.OutcomeNone, reason: reason}
}
func retryLater(err error, after time.Duration, called bool) result {
	return result{retry: true, after: after, called: called, err: errorText(err)}
}

// recordTimeout is the time given to recording what an attempt did, apart from the attempt's
// own budget (JobTimeout), which a slow 7Targets answer may have used up.
const recordTimeout = 10 * time.Second

// waitBriefly is how long a delivery waits for another one of its prospect to finish creating.
const waitBriefly = time.Second

func (w *Worker) attempt(ctx context.Context, d zen7.Delivery) result {
	inst, err := w.instances.Instance(ctx, d.InstanceID)
	switch {
	case errors.Is(err, zen7.ErrNotFound):
		return skipped(zen7.Because(zen7.ReasonInstanceGone))
	case err != nil:
		return retryLater(err, 0, false)
	case inst.State != zen7.StateEnabled:
		return skipped(zen7.Reason{Code: zen7.ReasonInstanceState, Detail: string(inst.State)})
	case !inst.Settings.Complete():
		return skipped(zen7.Because(zen7.ReasonSettingsIncomplete))
	}

	if d.Prospect.Partial && d.Kind == zen7.KindNotification {
		p, err := w.prospects.Prospect(ctx, inst.APIKey, d.Prospect.ID)
		switch {
		case errors.Is(err, sales.ErrNotFound):
			return skipped(zen7.Because(zen7.ReasonProspectGone))
		case err != nil && sales.IsRetryable(err):
			return retryLater(err, retryAfterOf(err), false)
		case err != nil:
			return failed(zen7.Reason{Code: zen7.ReasonLookupFailed, Detail: errorText(err)})
		}
		full := FromSales(p)
		full.UpdatedAt = d.Prospect.UpdatedAt
		d.Prospect = full
	}

	var lead *zen7.Lead
	switch l, err := w.store.Lead(ctx, d.InstanceID, d.Prospect.ID); {
	case err == nil:
		lead = &l
	case !errors.Is(err, zen7.ErrNotFound):
		return retryLater(err, 0, false)
	}

	overrides := d.Overrides
	if lead != nil && lead.LeadID != 0 {
		overrides.Email = lead.Email // 7Targets cannot change a lead's email
	}
	body, mapErr := ToLead(inst.Settings, d.Prospect, overrides)
	act, reason := decide(inst.Settings, lead, d, Fingerprint(body))
	if act == actCreate && errors.Is(mapErr, ErrNoEmail) {
		act, reason = actSkip, zen7.Because(zen7.ReasonNoEmail)
	}
	if act == actSkip {
		// Another delivery of this prospect, perhaps in another process, may be creating its lead
		// right now: wait for it rather than record a skip it would overwrite. (A creation asks
		// the same question by reserving the creation, in create.)
		holder, err := w.store.CreationHolder(ctx, d.InstanceID, d.Prospect.ID)
		if err != nil {
			return retryLater(err, 0, false)
		}
		if holder != "" && holder != d.ID {
			return retryLater(errors.New("another delivery is creating this prospect's lead"), waitBriefly, false)
		}
	}

	creds := seventargets.Credentials{
		ClientID: inst.Settings.ClientID, ClientSecret: inst.Settings.ClientSecret, UserIdentifier: inst.Settings.UserIdentifier,
	}
	switch act {
	case actNone:
		return w.noteSnapshot(ctx, lead, d, done(zen7.OutcomeNone, reason))
	case actSkip:
		return w.skip(ctx, lead, d, reason)
	case actCreate:
		return w.create(ctx, inst, creds, d, body)
	case actUpdate:
		body.ID = lead.LeadID
		res, err := w.leads.UpdateLead(ctx, inst.ID, creds, body)
		return w.afterCall(ctx, d, lead, body, res, err, zen7.OutcomeUpdated)
	default: // actStop
		body.ID = lead.LeadID
		res, err := w.leads.StopFollowup(ctx, inst.ID, creds, body)
		return w.afterCall(ctx, d, lead, body, res, err, zen7.OutcomeStopped)
	}
}

func (w *Worker) create(ctx context.Context, inst zen7.Instance, creds seventargets.Credentials, d zen7.Delivery, body seventargets.Lead) result {
	holder, err := w.store.ClaimCreation(ctx, d.InstanceID, d.Prospect.ID, d.ID)
	if err != nil {
		return retryLater(err, 0, false)
	}
	if holder != d.ID {
		return retryLater(errors.New("another delivery is creating this prospect's lead"), waitBriefly, false)
	}
	res, err := w.leads.CreateLead(ctx, inst.ID, creds, body)
	return w.afterCall(ctx, d, nil, body, res, err, zen7.OutcomeCreated)
}

// afterCall turns a 7Targets answer into the delivery's result and the prospect's lead record.
func (w *Worker) afterCall(ctx context.Context, d zen7.Delivery, lead *zen7.Lead, body seventargets.Lead, res seventargets.LeadResult, err error, outcome zen7.Outcome) result {
	if err != nil {
		if seventargets.IsRetryable(err) {
			return retryLater(err, retryAfterOf(err), true)
		}
		r := failed(refusal(err))
		r.called = true
		return r
	}
	l := zen7.Lead{InstanceID: d.InstanceID, ProspectID: d.Prospect.ID}
	if lead != nil {
		l = *lead
	}
	l.State = zen7.LeadForwarded
	if outcome == zen7.OutcomeStopped {
		l.State = zen7.LeadStopped
	}
	l.Reason = zen7.Reason{}
	if res.ID != 0 {
		l.LeadID = res.ID
	}
	l.Email = body.Email
	l.AssistantEmail, l.ScheduleName = body.AssistantEmail, body.ScheduleName
	l.Fingerprint = Fingerprint(withoutID(body))
	l.SevenTargetsState, l.SubState = res.State, res.SubState
	l.NextScheduleTime = time.Time{}
	if res.NextScheduleTime != nil {
		l.NextScheduleTime = res.NextScheduleTime.UTC()
	}
	l.LastAction, l.LastError = outcome, ""
	r := done(outcome, zen7.Reason{})
	r.called, r.lead = true, &l
	return w.noteSnapshot(ctx, &l, d, r)
}

func withoutID(l seventargets.Lead) seventargets.Lead {
	l.ID = 0
	return l
}

// skip records that the prospect was deliberately not forwarded.
func (w *Worker) skip(ctx context.Context, lead *zen7.Lead, d zen7.Delivery, reason zen7.Reason) result {
	l := zen7.Lead{InstanceID: d.InstanceID, ProspectID: d.Prospect.ID, State: zen7.LeadSkipped}
	if lead != nil {
		l = *lead
	}
	l.Reason = reason
	return w.noteSnapshot(ctx, &l, d, skipped(reason))
}

// noteSnapshot saves the lead record with what this delivery taught about the prospect.
func (w *Worker) noteSnapshot(ctx context.Context, l *zen7.Lead, d zen7.Delivery, r result) result {
	if l == nil {
		return r
	}
	if d.SnapshotAt.After(l.SnapshotAt) {
		l.SnapshotAt = d.SnapshotAt
		if d.Prospect.Status != "" {
			l.ProspectStatus = d.Prospect.Status
		}
	}
	l.UpdatedAt = w.now()
	// Once 7Targets has acted, the record must be written even if the attempt's time ran out
	// while it answered: a lost record makes the retry act again (a second creation).
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := w.store.SaveLead(sctx, *l); err != nil {
		// The 7Targets action happened; recording it failed. Running the delivery again is
		// safe: deciding is idempotent and 7Targets creates-or-assigns by email.
		return retryLater(err, 0, r.called)
	}
	r.lead = l
	return r
}

func (w *Worker) finish(ctx context.Context, d zen7.Delivery, r result) {
	now := w.now()
	if r.called {
		d.Attempts++
		w.metrics.attempt(r.state != zen7.StateFailed)
	}
	d.State, d.Outcome, d.Reason, d.FinishedAt = r.state, r.outcome, r.reason, now
	if r.lead != nil {
		d.LeadID, d.LeadState, d.AssistantEmail = r.lead.LeadID, r.lead.SevenTargetsState, r.lead.AssistantEmail
	}
	if d.Outcome != zen7.OutcomeCreated {
		// Finished without creating the lead (refused, given up, skipped): if this delivery held
		// the prospect's lead creation, let a later one (an agent adding an email, a manual
		// retry) create it. A no-op for any delivery that did not hold it.
		if err := w.store.ReleaseCreation(ctx, d.InstanceID, d.Prospect.ID, d.ID); err != nil {
			w.logger.WarnContext(ctx, "releasing a lead creation failed", "delivery", d.ID, "error", err)
		}
	}
	if err := w.store.Finish(ctx, d); err != nil {
		// The lease runs out and the delivery runs again; deciding again finds nothing to do.
		w.logger.WarnContext(ctx, "recording a delivery's outcome failed", "delivery", d.ID, "error", err)
		return
	}
	w.metrics.delivered(d.State, d.Outcome)
	level := slog.LevelInfo
	if d.State == zen7.StateFailed || d.State == zen7.StateDead {
		level = slog.LevelWarn
	}
	w.logger.Log(ctx, level, "delivery finished", "delivery", d.ID, "instance", d.InstanceID, "kind", d.Kind,
		"state", d.State, "outcome", d.Outcome, "reason", d.Reason.String(), "attempts", d.Attempts, "lead", d.LeadID)
}

func (w *Worker) retry(ctx context.Context, d zen7.Delivery, r result) {
	now := w.now()
	if r.called {
		d.Attempts++
		w.metrics.attempt(false)
	}
	if now.Sub(d.CreatedAt) > w.cfg.MaxAge {
		d.LastError = r.err
		w.finish(ctx, d, result{state: zen7.StateDead, outcome: zen7.OutcomeNone, reason: zen7.Reason{Code: zen7.ReasonGaveUp, After: w.cfg.MaxAge, Detail: r.err}})
		return
	}
	delay := r.after
	if r.called || delay == 0 {
		delay = max(delay, w.backoff(d.Attempts))
	}
	d.NextAttemptAt = now.Add(delay)
	if err := w.store.Release(ctx, d); err != nil {
		w.logger.WarnContext(ctx, "releasing a delivery failed; its lease will expire", "delivery", d.ID, "error", err)
		return
	}
	w.logger.InfoContext(ctx, "delivery will be retried", "delivery", d.ID, "attempts", d.Attempts, "in", delay.String(), "error", r.err)
}

// backoff is the delay before the next attempt after n failed ones: exponential from
// BaseBackoff, capped at MaxBackoff, with ±20% jitter so retries of many deliveries spread out.
func (w *Worker) backoff(n int) time.Duration {
	d := w.cfg.BaseBackoff
	for i := 1; i < n && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.cfg.MaxBackoff)
	jitter := time.Duration(mrand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}

func retryAfterOf(err error) time.Duration {
	var st *seventargets.APIError
	if errors.As(err, &st) {
		return st.RetryAfter
	}
	var se *sales.APIError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// refusal is the reason shown to managers for a permanent 7Targets error: what 7Targets said,
// with its status, not the App's internal error chain.
func refusal(err error) zen7.Reason {
	var apiErr *seventargets.APIError
	if !errors.As(err, &apiErr) {
		return zen7.Reason{Code: zen7.ReasonOther, Detail: errorText(err)}
	}
	msg := apiErr.Message
	if msg == "" {
		msg = http.StatusText(apiErr.Status)
	}
	return zen7.Reason{Code: zen7.ReasonRefused, Status: apiErr.Status, Detail: errorText(errors.New(msg))}
}

// maxErrorText bounds an error's text in the records (bytes).
const maxErrorText = 500

// errorText keeps an error's message for the record, bounded, and cut where a character
// starts so the record stays valid UTF-8.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// keyedMutex serialises work per key and forgets keys nobody holds.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
