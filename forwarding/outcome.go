package forwarding

import (
	"context"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"time"
	"unicode/utf8"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// result is how one attempt ended.
type result struct {
	state   zen7.DeliveryState
	outcome zen7.Outcome
	reason  zen7.Reason
	lead    *zen7.Lead // the prospect's record as the delivery leaves it (nil: as it was)
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

func (w *Worker) finish(ctx context.Context, d zen7.Delivery, r result) {
	now := w.now()
	if r.called {
		d.Attempts++
		w.metrics.attempt(r.state != zen7.StateFailed)
	}
	d.State, d.Outcome, d.Reason, d.FinishedAt = r.state, r.outcome, r.reason, now
	if r.lead != nil {
		d.LeadID, d.SevenTargetsState, d.AssistantEmail = r.lead.LeadID, r.lead.SevenTargetsState, r.lead.AssistantEmail
		d.RoutedBy, d.Rule = r.lead.RoutedBy, r.lead.Rule
	}
	if d.Outcome != zen7.OutcomeCreated {
		// Finished without creating the lead (refused, given up, skipped): if this delivery held
		// the prospect's lead creation, let a later one (an agent adding an email, a manual
		// retry) create it. A no-op for any delivery that did not hold it.
		if err := w.store.ReleaseCreation(ctx, d.InstanceID, d.Prospect.ID, d.ID); err != nil {
			w.logger.WarnContext(ctx, "releasing a lead creation failed", "delivery", d.ID, "error", err)
		}
	}
	// The lead record is written with the outcome: once 7Targets has acted, even if the
	// attempt's time ran out while it answered (ctx has time of its own).
	if err := w.finishes.do(ctx, zen7.Finish{Delivery: d, Lead: r.lead}); err != nil {
		// The lease runs out and the delivery runs again. That is safe: deciding is
		// idempotent, and 7Targets creates-or-assigns by email.
		w.logger.WarnContext(ctx, "recording a delivery's outcome failed", "delivery", d.ID, "error", err)
		return
	}
	w.metrics.delivered(d.State, d.Outcome)
	if d.Kind == zen7.KindChatTonic {
		w.metrics.chatTonicImported(d.State)
	}
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
