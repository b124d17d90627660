package forwarding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/sales"
)

// The Chat-Tonic import lives in this package for the reason the backfill does: it is one more
// source of the outbox, queuing Requests through the one Intake. Its deliveries (KindChatTonic)
// do not go to 7Targets: the worker hands them to Sales as retail leads, and Sales' notification
// of the prospect it matched brings them back as any other prospect. This package is where the
// two adapters meet: chattonic.Lead becomes a zen7.Prospect here, and that a sales.RetailLead
// in the worker, so that neither adapter knows the other.

// ChatTonicStore keeps the instances' Chat-Tonic sources (store.ChatTonicSources).
type ChatTonicStore interface {
	// ChatTonicSource returns the instance's source, or ErrNotFound.
	ChatTonicSource(ctx context.Context, instanceID string) (zen7.ChatTonicSource, error)
	// CreateChatTonicSource records a new source; ErrConflict if the instance has one.
	CreateChatTonicSource(ctx context.Context, src zen7.ChatTonicSource) error
	// TakeChatTonicSource leases src to owner until leaseUntil if its lease passed and its
	// poll is due at now; ErrClaimed otherwise.
	TakeChatTonicSource(ctx context.Context, src zen7.ChatTonicSource, owner string, now, leaseUntil time.Time) (zen7.ChatTonicSource, error)
	// SaveChatTonicSource writes src if its lease still holds; ErrClaimed if not.
	SaveChatTonicSource(ctx context.Context, src zen7.ChatTonicSource) error
	// KnownDeliveries returns those of ids that are queued or finished.
	KnownDeliveries(ctx context.Context, ids []string) (map[string]bool, error)
}

// ChatTonicReader reads a Chat-Tonic account's funnels and records (chattonic.Client).
type ChatTonicReader interface {
	AllFunnels(ctx context.Context, codename, token string) ([]chattonic.Funnel, error)
	RecordPages(ctx context.Context, codename, token string, q chattonic.RecordQuery, fn func(chattonic.RecordPage) error) error
}

// LiveInstances lists the instances that are not uninstalled (store.Instances).
type LiveInstances interface {
	LiveInstances(ctx context.Context) ([]zen7.Instance, error)
}

// RetailLeads creates leads in Zenvia Sales (sales.Client.CreateRetailLead). Its errors say
// whether they are worth retrying (sales.IsRetryable).
type RetailLeads interface {
	CreateRetailLead(ctx context.Context, apiKey string, lead sales.RetailLead) (sales.Prospect, error)
}

// ChatTonicConfig tunes a ChatTonicPoller. Zero fields take the defaults noted.
type ChatTonicConfig struct {
	// Owner names this process in leases; empty draws one.
	Owner string
	// Interval is how often each instance's funnels are read (CHATTONIC_POLL_INTERVAL).
	// Default 1 minute.
	Interval time.Duration
	// Tick is how often this process looks for instances due. Default a sixth of Interval,
	// between 1 and 10 seconds.
	Tick time.Duration
	// Lease is how long an instance's read stays this process's without a word from it.
	// Default 2 minutes.
	Lease time.Duration
	// MaxBackoff bounds the wait after Chat-Tonic is unreachable. Default 15 minutes.
	MaxBackoff time.Duration
	// Recent is how long records are read again after the watermark passed them, so that
	// one that completes later still qualifies. Default 24 hours, as the contract says.
	Recent time.Duration
}

func (c ChatTonicConfig) withDefaults() ChatTonicConfig {
	if c.Owner == "" {
		c.Owner = "chattonic-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if c.Interval <= 0 {
		c.Interval = time.Minute
	}
	if c.Tick <= 0 {
		c.Tick = min(max(c.Interval/6, time.Second), 10*time.Second)
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 15 * time.Minute
	}
	if c.Recent <= 0 {
		c.Recent = 24 * time.Hour
	}
	return c
}

// ChatTonicPoller imports the records of each enabled instance's Chat-Tonic funnels. Every
// replica runs one; an instance's read is done by the one holding its source's lease, and
// each record is queued under the key chattonic:<record id>, so that it is imported once
// whatever the number of replicas and restarts.
type ChatTonicPoller struct {
	store     ChatTonicStore
	instances LiveInstances
	reader    ChatTonicReader
	intake    *Intake
	metrics   *Metrics
	cfg       ChatTonicConfig
	logger    *slog.Logger
	now       func() time.Time
}

// NewChatTonicPoller returns a poller queuing through intake; metrics may be nil.
func NewChatTonicPoller(cfg ChatTonicConfig, store ChatTonicStore, instances LiveInstances, reader ChatTonicReader, intake *Intake, metrics *Metrics, logger *slog.Logger) *ChatTonicPoller {
	return &ChatTonicPoller{
		store: store, instances: instances, reader: reader, intake: intake, metrics: metrics,
		cfg: cfg.withDefaults(), logger: logger, now: func() time.Time { return time.Now().UTC() },
	}
}

// chatTonicKey is the key of a record's delivery: the same record read again (it is, while it
// is recent, and after a restart) is a duplicate.
func chatTonicKey(recordID string) string { return "chattonic:" + recordID }

// Run reads the due instances every Tick until ctx ends, then returns nil. A read in progress
// is cut short; what it queued stays queued and the next read starts from the saved watermark.
func (p *ChatTonicPoller) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p.Pass(ctx)
		t.Reset(p.cfg.Tick)
	}
}

// Pass reads, one after the other, every instance whose Chat-Tonic source is due and that no
// other process is reading. Instances are few next to their records, and one at a time per
// process keeps each account's calls under Chat-Tonic's rate limit.
func (p *ChatTonicPoller) Pass(ctx context.Context) {
	insts, err := p.instances.LiveInstances(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.logger.WarnContext(ctx, "listing instances for the Chat-Tonic import failed", "error", err)
		}
		return
	}
	for _, inst := range insts {
		if ctx.Err() != nil {
			return
		}
		if inst.State != zen7.StateEnabled || !inst.Settings.ChatTonicConfigured() {
			continue
		}
		if err := p.turn(ctx, inst); err != nil && ctx.Err() == nil {
			p.logger.WarnContext(ctx, "a Chat-Tonic read was interrupted; the next one resumes it", "instance", inst.ID, "error", err)
		}
	}
}

// turn takes the instance's source if it is due and reads it.
func (p *ChatTonicPoller) turn(ctx context.Context, inst zen7.Instance) error {
	now := p.now()
	src, err := p.store.ChatTonicSource(ctx, inst.ID)
	switch {
	case errors.Is(err, zen7.ErrNotFound):
		src = p.newSource(inst, now)
		if err := p.store.CreateChatTonicSource(ctx, src); err != nil && !errors.Is(err, zen7.ErrConflict) {
			return fmt.Errorf("creating the source: %w", err)
		}
		if src, err = p.store.ChatTonicSource(ctx, inst.ID); err != nil {
			return fmt.Errorf("reading the source: %w", err)
		}
	case err != nil:
		return fmt.Errorf("reading the source: %w", err)
	}
	if src.NextPollAt.After(now) || src.LeaseUntil.After(now) {
		return nil
	}
	src, err = p.store.TakeChatTonicSource(ctx, src, p.cfg.Owner, now, now.Add(p.cfg.Lease))
	switch {
	case errors.Is(err, zen7.ErrClaimed):
		return nil // another process reads it now
	case err != nil:
		return fmt.Errorf("taking the source: %w", err)
	}
	if src.Codename != inst.Settings.ChatTonicCodename {
		// Another bot account: it starts over from when it was configured.
		fresh := p.newSource(inst, now)
		src.Codename, src.ConfiguredAt, src.Watermark = fresh.Codename, fresh.ConfiguredAt, fresh.Watermark
		src.Failing, src.Failures, src.LastError, src.LastErrorAt, src.Groups, src.ReadKey = false, 0, "", time.Time{}, nil, ""
	}
	r := &chatTonicRead{p: p, inst: inst, src: src}
	return r.run(ctx)
}

// newSource is the state of a source first seen configured at now: it imports the records
// created from chatTonicBackfillDays before it was configured on. It was configured when the
// instance was last updated, not when this process first looked: a record a bot made in
// between is one the admin expects imported.
func (p *ChatTonicPoller) newSource(inst zen7.Instance, now time.Time) zen7.ChatTonicSource {
	at := now
	if !inst.UpdatedAt.IsZero() && inst.UpdatedAt.Before(now) {
		at = inst.UpdatedAt.UTC()
	}
	days := chatTonicBackfillDays(inst.Settings)
	return zen7.ChatTonicSource{
		InstanceID: inst.ID, Codename: inst.Settings.ChatTonicCodename, ConfiguredAt: at,
		Watermark: at.Add(-time.Duration(days) * 24 * time.Hour),
	}
}

// chatTonicBackfillDays is s's chatTonicBackfillDays, bounded as saved settings are (a stored
// value is never trusted to be).
func chatTonicBackfillDays(s zen7.Settings) int {
	return min(max(s.ChatTonicBackfillDays, 0), zen7.MaxBackfillDays)
}

// chatTonicRead is one read of one instance's funnels, by the holder of its lease.
type chatTonicRead struct {
	p    *ChatTonicPoller
	inst zen7.Instance
	src  zen7.ChatTonicSource
	// queued counts the records this read queued for the first time.
	queued int
	// seen is when the last complete read under this read's key began (less the clock skew):
	// records updated before it are left alone. Zero looks at every record.
	seen time.Time
}

// chatTonicClockSkew is how far Chat-Tonic's clock may be behind the App's when the records'
// updatedAt are compared with the watermark.
const chatTonicClockSkew = 5 * time.Minute

// chatTonicReadKey names what a read imports (zen7.ChatTonicSource.ReadKey).
func chatTonicReadKey(groups []string, completedOnly bool, days int) string {
	sorted := slices.Clone(groups)
	slices.Sort(sorted)
	return fmt.Sprintf("%q completed=%t days=%d", sorted, completedOnly, days)
}

func (r *chatTonicRead) run(ctx context.Context) error {
	start := r.p.now()
	defer func() { r.p.metrics.chatTonicPoll(r.p.now().Sub(start)) }()
	st := r.inst.Settings
	funnels, err := r.p.reader.AllFunnels(ctx, st.ChatTonicCodename, st.ChatTonicToken)
	if err != nil {
		return r.failed(ctx, err)
	}
	// A stored selection that no longer parses (it was checked when saved) reads every group
	// rather than none: a source configured is one meant to import.
	sel, _ := zen7.ParseFunnelSelection(st.ChatTonicFunnels)
	var groups []chattonic.FunnelGroup
	for _, f := range funnels {
		for _, g := range f.Groups {
			if g.FunnelID == "" {
				g.FunnelID = f.ID
			}
			if len(g.Interactions) == 0 {
				g.Interactions = f.Interactions
			}
			if g.Name != "" && sel.Selects(f.ID, g.Name) {
				groups = append(groups, g)
			}
		}
	}
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		names = append(names, g.FunnelID+"/"+g.Name)
	}
	days := chatTonicBackfillDays(st)
	key := chatTonicReadKey(names, st.ChatTonicCompletedOnly, days)
	floor := r.src.ConfiguredAt.Add(-time.Duration(days) * 24 * time.Hour)
	since := floor // under other settings than the last complete read's: all they cover
	if key == r.src.ReadKey {
		// From the watermark, or from a day back while records may still complete; never
		// before the floor.
		since = r.src.Watermark
		if recent := start.Add(-r.p.cfg.Recent); recent.Before(since) {
			since = recent
		}
		if since.Before(floor) {
			since = floor
		}
		// The last complete read, under the same key, began at the watermark: what was not
		// updated since then it looked at as it is. The margin covers the clocks of the two
		// systems disagreeing.
		r.seen = r.src.Watermark.Add(-chatTonicClockSkew)
	}
	for _, g := range groups {
		q := chattonic.RecordQuery{Funnel: g.FunnelID, FunnelGroup: g.Name, StartDate: since}
		err := r.p.reader.RecordPages(ctx, st.ChatTonicCodename, st.ChatTonicToken, q, func(page chattonic.RecordPage) error {
			return r.queue(ctx, g, page.Records)
		})
		if err != nil {
			return r.failed(ctx, err)
		}
	}
	// Every selected group was read from since: what was created before start is queued.
	now := r.p.now()
	r.src.Watermark, r.src.LastGoodRead, r.src.Groups, r.src.ReadKey = start, now, names, key
	r.src.Failing, r.src.Failures = false, 0
	r.src.NextPollAt = start.Add(r.p.cfg.Interval)
	r.count(now)
	return r.end(ctx)
}

// queue queues the qualifying records of a page. A record is keyed only once it qualifies: one
// not completed yet is left for a later read, which finds it again while it is recent.
func (r *chatTonicRead) queue(ctx context.Context, g chattonic.FunnelGroup, recs []chattonic.Record) error {
	r.p.metrics.chatTonicRead(len(recs))
	reqs := make([]Request, 0, len(recs))
	ids := make([]string, 0, len(recs))
	for _, rec := range recs {
		if rec.ID == "" || len(rec.ID) > maxProspectIDLen {
			continue // nothing to key it by, so nothing to import it once by
		}
		if !rec.UpdatedAt.IsZero() && rec.UpdatedAt.Before(r.seen) {
			continue // unchanged since a complete read looked at it
		}
		if r.inst.Settings.ChatTonicCompletedOnly && !rec.Completed(g) {
			continue
		}
		key := chatTonicKey(rec.ID)
		reqs = append(reqs, Request{
			InstanceID: r.inst.ID, Kind: zen7.KindChatTonic, Prospect: ProspectOfChatTonic(chattonic.ToLead(rec)),
			Key: key, SnapshotAt: rec.UpdatedAt,
		})
		ids = append(ids, deliveryID(r.inst.ID, key))
	}
	if len(reqs) == 0 {
		return r.renew(ctx)
	}
	// Records read again are mostly known: leave them out rather than queue deliveries the
	// worker would drop. The unique delivery id keeps each record once whatever this says.
	known, err := r.p.store.KnownDeliveries(ctx, ids)
	if err != nil {
		return fmt.Errorf("looking up the records' deliveries: %w", err)
	}
	fresh := reqs[:0]
	for i, req := range reqs {
		if !known[ids[i]] {
			fresh = append(fresh, req)
		}
	}
	if len(fresh) > 0 {
		n, err := r.p.intake.Add(ctx, fresh...)
		if err != nil {
			return fmt.Errorf("queuing Chat-Tonic records: %w", err)
		}
		r.queued += n
	}
	return r.renew(ctx)
}

// failed records a read Chat-Tonic failed: a refused token or unknown codename marks the source
// failing until a read succeeds, read again at the next interval; 429, 5xx and network errors
// back off; another refusal is read again at the next interval. A read that failed on this
// process's side (its store, its lease lost to another process) says nothing of the source,
// whose state the customer is shown: it is handed back, unless it is no longer this
// process's, and the next pass resumes it.
func (r *chatTonicRead) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return r.handBack(ctx)
	}
	var apiErr *chattonic.APIError
	if !errors.As(err, &apiErr) {
		if errors.Is(err, zen7.ErrClaimed) {
			return err
		}
		return errors.Join(err, r.handBack(ctx))
	}
	now := r.p.now()
	r.src.LastError, r.src.LastErrorAt = errorText(err), now
	r.count(now)
	kind := "unavailable"
	switch {
	case errors.Is(err, chattonic.ErrUnauthorized), errors.Is(err, chattonic.ErrUnknownCodename):
		kind = "unauthorized"
		if errors.Is(err, chattonic.ErrUnknownCodename) {
			kind = "unknown_codename"
		}
		if !r.src.Failing {
			r.p.logger.WarnContext(ctx, "the Chat-Tonic source is failing: Chat-Tonic refuses its codename or token", "instance", r.inst.ID, "error", err)
		}
		r.src.Failing, r.src.Failures = true, 0
		r.src.NextPollAt = now.Add(r.p.cfg.Interval)
	case chattonic.IsRetryable(err):
		if errors.Is(err, chattonic.ErrRateLimited) {
			kind = "rate_limited"
		}
		r.src.Failures++
		wait := min(r.p.cfg.MaxBackoff, r.p.cfg.Interval<<min(r.src.Failures-1, 10))
		if d := chattonic.RetryDelay(err); d > 0 {
			// Chat-Tonic said when to come back: then, not sooner.
			wait = d
		}
		r.src.NextPollAt = now.Add(wait)
		r.p.logger.WarnContext(ctx, "reading Chat-Tonic failed; will retry", "instance", r.inst.ID, "in", wait.String(), "error", err)
	default:
		kind = "rejected"
		r.src.NextPollAt = now.Add(r.p.cfg.Interval)
		r.p.logger.WarnContext(ctx, "Chat-Tonic refused a read", "instance", r.inst.ID, "error", err)
	}
	r.p.metrics.chatTonicFailure(kind)
	return r.end(ctx)
}

// maxReadDays is how many days of read counts a source keeps: the report's longest range.
const maxReadDays = 31

// count adds the records queued to today's count and forgets days past maxReadDays.
func (r *chatTonicRead) count(now time.Time) {
	if r.queued == 0 {
		return
	}
	if r.src.ReadByDay == nil {
		r.src.ReadByDay = map[string]int{}
	}
	r.src.ReadByDay[now.Format(time.DateOnly)] += r.queued
	oldest := now.AddDate(0, 0, -maxReadDays).Format(time.DateOnly)
	for _, day := range slices.Collect(maps.Keys(r.src.ReadByDay)) {
		if day < oldest {
			delete(r.src.ReadByDay, day)
		}
	}
	r.queued = 0
}

// renew extends the lease once a third of it is used, between pages of a long read.
func (r *chatTonicRead) renew(ctx context.Context) error {
	if r.src.LeaseUntil.Sub(r.p.now()) > r.p.cfg.Lease*2/3 {
		return nil
	}
	r.src.LeaseUntil = r.p.now().Add(r.p.cfg.Lease)
	return r.save(ctx)
}

// end saves the read's outcome and lifts the lease.
func (r *chatTonicRead) end(ctx context.Context) error {
	r.src.LeaseUntil = r.p.now()
	return r.save(ctx)
}

// handBack lifts the lease of a read cut short (by shutdown, or a failure of the store while
// queuing), so that another replica, or the next pass, takes the source at once rather than
// when the lease passes.
func (r *chatTonicRead) handBack(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	r.count(r.p.now())
	return r.end(sctx)
}

func (r *chatTonicRead) save(ctx context.Context) error {
	if err := r.p.store.SaveChatTonicSource(ctx, r.src); err != nil {
		if errors.Is(err, zen7.ErrClaimed) {
			return fmt.Errorf("the Chat-Tonic source was taken over: %w", err)
		}
		return fmt.Errorf("saving the Chat-Tonic source: %w", err)
	}
	return nil
}

// ProspectOfChatTonic is what a delivery keeps of a Chat-Tonic lead: the prospect Sales is
// asked to create or match, its ID the record's _id.
func ProspectOfChatTonic(l chattonic.Lead) zen7.Prospect {
	p := zen7.Prospect{
		ID: l.ProviderLeadID, FirstName: l.FirstName, LastName: l.LastName,
		Emails: l.Emails, Phones: l.Phones, Comments: l.Comments,
		UTMSource: chattonic.Provider, UTMMedium: l.UtmMedium, UTMCampaign: l.UtmCampaign, Provider: chattonic.Provider,
	}
	for _, n := range l.NIN {
		p.NIN = append(p.NIN, zen7.NIN{Type: n.Type, Number: n.Number})
	}
	return p
}

// RetailLeadOf is the Sales lead of an imported prospect (ProspectOfChatTonic), per the
// contract's mapping.
func RetailLeadOf(p zen7.Prospect) sales.RetailLead {
	l := sales.RetailLead{
		Provider: p.Provider, ProviderLeadID: p.ID,
		UtmSource: p.UTMSource, UtmMedium: p.UTMMedium, UtmCampaign: p.UTMCampaign,
		FirstName: p.FirstName, LastName: p.LastName, Phones: p.Phones, Emails: p.Emails, Comments: p.Comments,
	}
	for _, n := range p.NIN {
		l.NIN = append(l.NIN, sales.NIN{Type: n.Type, Number: n.Number})
	}
	return l
}

// importLead runs a KindChatTonic delivery: Sales creates or matches the prospect and then
// notifies the App of it, which forwards it like any other.
func (w *Worker) importLead(ctx context.Context, inst zen7.Instance, d zen7.Delivery) result {
	if len(d.Prospect.Phones) == 0 && len(d.Prospect.Emails) == 0 {
		return skipped(zen7.Because(zen7.ReasonNoContact))
	}
	if w.retail == nil {
		return failed(zen7.Reason{Code: zen7.ReasonOther, Detail: "this process cannot create Sales leads"})
	}
	_, err := w.retail.CreateRetailLead(ctx, inst.APIKey, RetailLeadOf(d.Prospect))
	if err == nil {
		r := done(zen7.OutcomeImported, zen7.Reason{})
		r.called = true
		return r
	}
	if sales.IsRetryable(err) {
		return retryLater(err, retryAfterOf(err), true)
	}
	reason := zen7.Reason{Code: zen7.ReasonImportRefused, Detail: errorText(err)}
	var apiErr *sales.APIError
	if errors.As(err, &apiErr) {
		reason.Status, reason.Detail = apiErr.Status, errorText(errors.New(apiErr.Message))
	}
	r := failed(reason)
	r.called = true
	return r
}

// SetRetailLeads gives the worker Sales' lead creation, for Chat-Tonic imports. Call it before
// Run.
func (w *Worker) SetRetailLeads(r RetailLeads) {
	w.retail = nil
	if r != nil {
		w.retail = remoteRetail{RetailLeads: r, n: w.remote}
	}
}
