package forwarding

import (
	"context"
	"errors"
	"strings"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// process runs one claimed delivery attempt to an outcome: finished, or released for a retry.
// reads shares instance reads with the other deliveries of d's outbox pass (or hand-over); ah
// is what was read for it with its batch. The caller holds d's turn in its prospect's line
// (taken when d was claimed or handed over): one prospect's deliveries run one at a time in
// this process, in the order they were claimed (due first), so they see each other's effects;
// across processes the creation reservation keeps creations unique. The job's time starts now.
func (w *Worker) process(ctx context.Context, d zen7.Delivery, reads *passReads, ah ahead) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.JobTimeout)
	defer cancel()

	// A redelivery of one that finished earlier is dropped here, off the webhook's hot path.
	if mayBeDuplicate(d) {
		done := ah.finished
		if !ah.read {
			in, err := w.store.FinishedAmong(ctx, []string{d.ID})
			done = err == nil && in[d.ID]
		}
		if done {
			if err := w.store.Discard(ctx, d); err != nil {
				w.logger.WarnContext(ctx, "dropping a duplicate delivery failed", "delivery", d.ID, "error", err)
			}
			if d.Kind == zen7.KindNotification {
				w.metrics.webhookEvents("duplicate", 1)
			}
			return
		}
	}

	res := w.attempt(ctx, d, reads, ah)
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

// prospectKey names d's prospect for the worker's per-prospect line.
func prospectKey(d zen7.Delivery) string { return d.InstanceID + ":" + d.Prospect.ID }

// recordTimeout is the time given to recording what an attempt did, apart from the attempt's
// own budget (JobTimeout), which a slow 7Targets answer may have used up.
const recordTimeout = 10 * time.Second

// waitBriefly is how long a delivery waits for another one of its prospect to finish creating.
const waitBriefly = time.Second

func (w *Worker) attempt(ctx context.Context, d zen7.Delivery, reads *passReads, ah ahead) result {
	// The instance is read after the delivery was polled (or handed over), so a disable or a
	// settings change made before then is honoured.
	inst, err := reads.instance(ctx, d.InstanceID)
	switch {
	case errors.Is(err, zen7.ErrNotFound):
		return skipped(zen7.Because(zen7.ReasonInstanceGone))
	case err != nil:
		return retryLater(err, 0, false)
	case inst.State != zen7.StateEnabled:
		return skipped(zen7.Reason{Code: zen7.ReasonInstanceState, Detail: string(inst.State)})
	case d.Kind == zen7.KindChatTonic:
		// An import goes to Sales, which needs no 7Targets settings; its prospect reaches
		// 7Targets later, by Sales' notification, under the usual rules.
		return w.importLead(ctx, inst, d)
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

	lead := ah.lead
	if !ah.leadRead {
		ls, err := w.store.LeadsFor(ctx, []zen7.Delivery{d})
		if err != nil {
			return retryLater(err, 0, false)
		}
		lead = ls[0]
	}

	overrides := d.Overrides
	switch {
	case lead != nil && lead.LeadID != 0:
		overrides.Email = lead.Email // 7Targets cannot change a lead's email
	case len(d.Prospect.Emails) > 0:
		// An email the agent typed stands in for a missing one only: the assistant writes to
		// the address Sales has, never to one chosen in a browser instead.
		overrides.Email = ""
	}
	route := routeOf(inst.Settings, d, lead)
	routed := inst.Settings
	routed.AssistantEmail, routed.ScheduleName = route.AssistantEmail, route.ScheduleName
	overrides.AssistantEmail, overrides.ScheduleName = "", ""
	body, mapErr := ToLead(routed, d.Prospect, overrides)
	act, reason := decide(inst.Settings, lead, d, Fingerprint(body))
	if act == actCreate && errors.Is(mapErr, ErrNoEmail) {
		act, reason = actSkip, zen7.Because(zen7.ReasonNoEmail)
	}
	if (act == actCreate || act == actUpdate) && excluded(inst.Settings, body.Email) {
		// Never sent, whatever the source: a new prospect is skipped, a forwarded one left as
		// it is.
		act, reason = actSkip, zen7.Because(zen7.ReasonExcluded)
		if lead != nil && lead.LeadID != 0 {
			act = actNone
		}
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
		return w.noteSnapshot(lead, d, done(zen7.OutcomeNone, reason))
	case actSkip:
		return w.skip(ctx, lead, d, reason)
	case actCreate:
		return w.create(ctx, inst, creds, d, body, route)
	case actUpdate:
		body.ID = lead.LeadID
		res, err := w.leads.UpdateLead(ctx, inst.ID, creds, body)
		return w.afterCall(ctx, d, lead, body, route, res, err, zen7.OutcomeUpdated)
	default: // actStop
		body.ID = lead.LeadID
		res, err := w.leads.StopFollowup(ctx, inst.ID, creds, body)
		return w.afterCall(ctx, d, lead, body, route, res, err, zen7.OutcomeStopped)
	}
}

func (w *Worker) create(ctx context.Context, inst zen7.Instance, creds seventargets.Credentials, d zen7.Delivery, body seventargets.Lead, route zen7.Route) result {
	c := w.creations.do(ctx, d)
	if c.err != nil {
		return retryLater(c.err, 0, false)
	}
	if c.holder != d.ID {
		return retryLater(errors.New("another delivery is creating this prospect's lead"), waitBriefly, false)
	}
	res, err := w.leads.CreateLead(ctx, inst.ID, creds, body)
	return w.afterCall(ctx, d, nil, body, route, res, err, zen7.OutcomeCreated)
}

// creationClaim is the answer to one creation reservation: the delivery holding it, or err.
type creationClaim struct {
	holder string
	err    error
}

// afterCall turns a 7Targets answer into the delivery's result and the prospect's lead record.
func (w *Worker) afterCall(ctx context.Context, d zen7.Delivery, lead *zen7.Lead, body seventargets.Lead, route zen7.Route, res seventargets.LeadResult, err error, outcome zen7.Outcome) result {
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
	l.RoutedBy, l.Rule = route.By, route.Rule
	l.Fingerprint = Fingerprint(withoutID(body))
	l.SevenTargetsState, l.SubState = res.State, res.SubState
	l.NextScheduleTime = time.Time{}
	if res.NextScheduleTime != nil {
		l.NextScheduleTime = res.NextScheduleTime.UTC()
	}
	l.LastAction, l.LastError = outcome, ""
	r := done(outcome, zen7.Reason{})
	r.called, r.lead = true, &l
	return w.noteSnapshot(&l, d, r)
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
	return w.noteSnapshot(&l, d, skipped(reason))
}

// noteSnapshot notes in the lead record what this delivery taught about the prospect; finish
// saves the record together with the delivery's outcome.
func (w *Worker) noteSnapshot(l *zen7.Lead, d zen7.Delivery, r result) result {
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
	r.lead = l
	return r
}

// routeOf decides where the delivery's prospect goes in 7Targets. A forwarded lead keeps the
// assistant it has: 7Targets ignores a re-assignment, so routing it elsewhere would only make
// the App's record wrong. An agent's choice comes next, then the settings (rules, else the
// default). An agent who kept the preselected choice is recorded as the route that chose it.
func routeOf(s zen7.Settings, d zen7.Delivery, lead *zen7.Lead) zen7.Route {
	if lead != nil {
		if r, ok := lead.Route(); ok {
			return r
		}
	}
	r := s.Route(d.Prospect)
	o := d.Overrides
	if o.AssistantEmail == "" && o.ScheduleName == "" {
		return r
	}
	chosen := zen7.Route{AssistantEmail: firstNonEmpty(exact(o.AssistantEmail), r.AssistantEmail), By: zen7.RoutedByAgent}
	chosen.ScheduleName = exact(o.ScheduleName)
	if chosen.ScheduleName == "" && chosen.AssistantEmail == r.AssistantEmail {
		chosen.ScheduleName = r.ScheduleName
	}
	if strings.EqualFold(chosen.AssistantEmail, r.AssistantEmail) && chosen.ScheduleName == r.ScheduleName {
		return r
	}
	return chosen
}

// excluded reports whether the instance's excludeEmails names email or its domain. A stored
// list that no longer parses (it was checked when saved) excludes nothing rather than stop
// every delivery.
func excluded(s zen7.Settings, email string) bool {
	if s.ExcludeEmails == "" || email == "" {
		return false
	}
	ex, err := zen7.ParseExclusions(s.ExcludeEmails)
	return err == nil && ex.Match(email)
}
