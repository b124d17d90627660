package forwarding_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// backfillEnv is a worker environment whose outbox and backfills share one database, with a
// webhook endpoint on real HTTP that Sales' fake posts to.
type backfillEnv struct {
	*workerEnv
	backfills *store.Backfills
	intake    *forwarding.Intake
	salesAPI  *sales.Client
	group     string
	db        *store.DB // the outbox's, for the other stores of the test
}

// backfillHookToken is the token in the callback URL of the test instance.
const backfillHookToken = "backfill-test-webhook-token"

// webhookTargets authenticates the test instance's webhooks by its token.
type webhookTargets struct{ instances *instancesStub }

func (w webhookTargets) WebhookTarget(ctx context.Context, id string) (zen7.State, string, error) {
	in, err := w.instances.Instance(ctx, id)
	if err != nil {
		return "", "", err
	}
	return in.State, forwarding.HashToken(backfillHookToken), nil
}

func newBackfillEnv(tb testing.TB) *backfillEnv {
	tb.Helper()
	w := newWorkerEnv(tb)
	db := storetest.NewDB(tb)
	w.outbox = store.NewOutbox(db)
	e := &backfillEnv{workerEnv: w, backfills: store.NewBackfills(db), db: db}
	e.intake = forwarding.NewIntake(w.outbox, webhookTargets{w.instances}, nil, nil)
	var err error
	if e.salesAPI, err = sales.New(w.sales.BaseURL(), sales.WithTimeout(10*time.Second)); err != nil {
		tb.Fatal(err)
	}
	// The webhook endpoint: what the App's handler does with a notification, over real HTTP.
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := e.intake.Accept(r.Context(), w.inst.ID, r.URL.Query().Get("token"), body, nil); err != nil {
			http.Error(rw, err.Error(), http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(hook.Close)
	sub, err := e.salesAPI.Subscribe(context.Background(), workerSalesKey, []string{sales.TopicProspects}, hook.URL+"/webhooks?token="+backfillHookToken)
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range w.sales.Subscriptions() {
		if s.ID == sub.ID {
			e.group = s.GroupID
		}
	}
	return e
}

// backfiller returns a Backfiller of the environment named owner, as another process's would be.
func (e *backfillEnv) backfiller(owner string, cfg forwarding.BackfillConfig) *forwarding.Backfiller {
	cfg.Owner = owner
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	if cfg.Interval == 0 {
		cfg.Interval = 50 * time.Millisecond
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return forwarding.NewBackfiller(cfg, e.backfills, e.instances, e.salesAPI, e.intake, logger)
}

// waiting puts n unclaimed prospects with emails in Sales, created over the last hours, oldest
// first, and returns them.
func (e *backfillEnv) waiting(n int) []sales.Prospect {
	now := time.Now().UTC()
	out := make([]sales.Prospect, n)
	for i := range n {
		out[i] = e.sales.PutProspect(workerSalesKey, sales.Prospect{
			ID: fmt.Sprintf("bf%022d", i), FirstName: "Waiting", LastName: fmt.Sprint(i), Status: "unclaimed",
			Emails:  []string{fmt.Sprintf("waiting.%d@example.com", i)},
			Created: now.Add(-time.Duration(n-i) * time.Minute),
		})
	}
	return out
}

// job returns the instance's backfill once cond holds of it.
func (e *backfillEnv) job(what string, cond func(zen7.Backfill) bool) zen7.Backfill {
	e.tb.Helper()
	var b zen7.Backfill
	e.tb.Cleanup(func() {
		if e.tb.Failed() {
			n, _, _ := e.outbox.Stats(context.Background())
			pending, _ := e.backfills.PendingCount(context.Background(), b.Pending)
			if len(b.Pending) > 0 {
				d, err := e.outbox.Delivery(context.Background(), b.Pending[len(b.Pending)-1])
				e.tb.Logf("a pending delivery: %+v %v", d, err)
			}
			e.tb.Logf("last read of the backfill: %+v\noutbox %d, of the batch %d, posts %d\nlogs:\n%s", b, n, pending, len(e.posts()), e.logs.String())
		}
	})
	waitLong(e.tb, what, func() bool {
		var err error
		b, err = e.backfills.Backfill(context.Background(), e.inst.ID)
		return err == nil && cond(b)
	})
	return b
}

func (e *backfillEnv) drained() {
	e.tb.Helper()
	waitLong(e.tb, "the outbox to drain", func() bool {
		n, _, err := e.outbox.Stats(context.Background())
		return err == nil && n == 0
	})
}

// waitLong is waitUntil with a bound for a backfill's many deliveries on a loaded machine; it
// is a wait, not a speed assertion.
func waitLong(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// postsByEmail counts the POST /leads 7Targets received, by lead email.
func (e *backfillEnv) postsByEmail() map[string]int {
	got := map[string]int{}
	for _, p := range e.posts() {
		email, _ := p["email"].(string)
		got[email]++
	}
	return got
}

// checkEachOnce fails unless each prospect of want became exactly one 7Targets lead and nothing
// else did.
func (e *backfillEnv) checkEachOnce(want []sales.Prospect) {
	e.tb.Helper()
	got := e.postsByEmail()
	for _, p := range want {
		if n := got[p.Emails[0]]; n != 1 {
			e.tb.Errorf("prospect %s: %d POST /leads, want 1", p.ID, n)
		}
		delete(got, p.Emails[0])
	}
	for email, n := range got {
		e.tb.Errorf("%d POST /leads for %s, which the backfill should not forward", n, email)
	}
}

func (e *backfillEnv) prospectListings() []salesRequest {
	var out []salesRequest
	for _, r := range e.sales.Requests() {
		if r.Method == http.MethodGet && r.Path == "/prospects" {
			out = append(out, salesRequest{after: r.Query.Get("after"), at: r.Time, query: r.Query.Encode()})
		}
	}
	return out
}

type salesRequest struct {
	after string
	at    time.Time
	query string
}

// TestBackfillForwardsEachOnceWithWebhooks runs a backfill of more than a page of waiting
// prospects while Sales' webhooks announce some of them as created, and checks that each
// unclaimed prospect of the window became one 7Targets lead, the others none.
func TestBackfillForwardsEachOnceWithWebhooks(t *testing.T) {
	t.Parallel()
	e := newBackfillEnv(t)
	want := e.waiting(30)
	now := time.Now().UTC()
	e.sales.PutProspect(workerSalesKey, sales.Prospect{ID: "claimed0000000000000001", Status: "followUp",
		Emails: []string{"claimed@example.com"}, Created: now.Add(-time.Hour)})
	e.sales.PutProspect(workerSalesKey, sales.Prospect{ID: "tooold00000000000000001", Status: "unclaimed",
		Emails: []string{"too.old@example.com"}, Created: now.Add(-3 * 24 * time.Hour)})

	e.start(e.newWorker(fastWorkerConfig()))
	b := e.backfiller("replica-1", forwarding.BackfillConfig{PageSize: 20, Batch: 10})
	if err := b.Start(t.Context(), e.inst.ID, 2, true); err != nil {
		t.Fatal(err)
	}
	e.start(b)
	// Webhooks for every third waiting prospect, as Sales would send them, while it runs.
	for i := 0; i < len(want); i += 3 {
		n := sales.Notification{Type: sales.NotificationCreated, UpdatedAt: want[i].Created, Prospect: []sales.Prospect{want[i]}}
		if status, err := e.sales.Notify(t.Context(), e.group, n); err != nil || status != http.StatusOK {
			t.Fatalf("webhook %d: %d, %v", i, status, err)
		}
	}

	job := e.job("the backfill to be done", func(b zen7.Backfill) bool { return b.State == zen7.BackfillDone })
	e.drained()
	e.checkEachOnce(want)
	if job.Found != len(want) || job.Failed != 0 || job.Forwarded+job.Skipped != len(want) || job.Forwarded == 0 {
		t.Errorf("counts found %d, forwarded %d, skipped %d, failed %d; want %d found, all forwarded or skipped",
			job.Found, job.Forwarded, job.Skipped, job.Failed, len(want))
	}
	listings := e.prospectListings()
	if len(listings) != 2 {
		t.Errorf("GET /prospects %d times, want 2 (20, then 10)", len(listings))
	}
	for _, l := range listings {
		for _, p := range []string{"status=unclaimed", "limit=20", "createdAfter="} {
			if !strings.Contains(l.query, p) {
				t.Errorf("GET /prospects?%s lacks %s", l.query, p)
			}
		}
	}
}

// TestBackfillResumesAfterRestart stops a backfill's process with a batch queued but not
// finished, and checks that another process resumes it from its cursor, counting that batch
// once and forwarding each prospect once.
func TestBackfillResumesAfterRestart(t *testing.T) {
	t.Parallel()
	e := newBackfillEnv(t)
	want := e.waiting(25)
	first := e.backfiller("process-1", forwarding.BackfillConfig{Batch: 10})
	if err := first.Start(t.Context(), e.inst.ID, 1, true); err != nil {
		t.Fatal(err)
	}
	// No worker yet: the first batch stays in the outbox, and the backfill waits for it.
	stop := e.start(first)
	mid := e.job("the first batch to be queued", func(b zen7.Backfill) bool { return len(b.Pending) == 10 })
	stop()
	if mid.Cursor != want[9].ID || mid.Found != 10 {
		t.Fatalf("stopped at cursor %q with %d found, want %q and 10", mid.Cursor, mid.Found, want[9].ID)
	}
	before := len(e.prospectListings())

	e.start(e.newWorker(fastWorkerConfig()))
	second := e.backfiller("process-2", forwarding.BackfillConfig{Batch: 10})
	e.start(second)
	job := e.job("the backfill to be done", func(b zen7.Backfill) bool { return b.State == zen7.BackfillDone })
	e.drained()
	e.checkEachOnce(want)
	if job.Found != 25 || job.Forwarded != 25 || job.Skipped != 0 {
		t.Errorf("found %d, forwarded %d, skipped %d; want 25, 25, 0", job.Found, job.Forwarded, job.Skipped)
	}
	if job.Owner != "process-2" {
		t.Errorf("finished by %q, want process-2", job.Owner)
	}
	resumed := e.prospectListings()[before:]
	if len(resumed) == 0 || resumed[0].after != want[9].ID {
		t.Errorf("the second process listed %+v, want it to start after %s", resumed, want[9].ID)
	}
}

// TestBackfillStopsWithItsInstance disables or uninstalls the instance during a backfill and
// checks that it stops with that reason, lists no more, and that nothing is forwarded.
func TestBackfillStopsWithItsInstance(t *testing.T) {
	t.Parallel()
	for _, state := range []zen7.State{zen7.StateDisabled, zen7.StateUninstalled} {
		t.Run(string(state), func(t *testing.T) {
			t.Parallel()
			e := newBackfillEnv(t)
			e.waiting(30)
			b := e.backfiller("replica-1", forwarding.BackfillConfig{Batch: 10})
			if err := b.Start(t.Context(), e.inst.ID, 1, true); err != nil {
				t.Fatal(err)
			}
			e.start(b)
			e.job("the first batch to be queued", func(b zen7.Backfill) bool { return len(b.Pending) == 10 })
			off := e.inst
			off.State = state
			e.instances.put(off)
			job := e.job("the backfill to stop", func(b zen7.Backfill) bool { return b.Final() })
			if job.State != zen7.BackfillStopped || job.Reason != (zen7.Reason{Code: zen7.ReasonInstanceState, Detail: string(state)}) {
				t.Errorf("ended %s with %+v, want stopped because %s", job.State, job.Reason, state)
			}
			if job.Found != 10 {
				t.Errorf("found %d, want the first batch of 10 only", job.Found)
			}
			if n := len(e.prospectListings()); n != 1 {
				t.Errorf("GET /prospects %d times, want 1", n)
			}
			e.start(e.newWorker(fastWorkerConfig()))
			e.drained()
			if n := len(e.posts()); n != 0 {
				t.Errorf("%d POST /leads for a %s instance, want none", n, state)
			}
		})
	}
}

// TestBackfillHonoursRateLimit has Sales answer the first listing 429 with a reset further off
// than the client waits within a call, and checks that the backfill lists again only once the
// reset has passed, and completes.
func TestBackfillHonoursRateLimit(t *testing.T) {
	t.Parallel()
	e := newBackfillEnv(t)
	want := e.waiting(5)
	reset := time.Now().Add(7 * time.Second).Truncate(time.Second)
	e.sales.RateLimit(1, reset)
	e.start(e.newWorker(fastWorkerConfig()))
	b := e.backfiller("replica-1", forwarding.BackfillConfig{})
	if err := b.Start(t.Context(), e.inst.ID, 1, true); err != nil {
		t.Fatal(err)
	}
	e.start(b)
	e.job("the backfill to be done", func(b zen7.Backfill) bool { return b.State == zen7.BackfillDone })
	e.drained()
	e.checkEachOnce(want)
	listings := e.prospectListings()
	if len(listings) != 2 {
		t.Fatalf("GET /prospects %d times, want 2 (the 429, then one after its reset)", len(listings))
	}
	if !strings.Contains(listings[1].query, "limit=100") {
		t.Errorf("GET /prospects?%s: want the contract's limit=100 by default", listings[1].query)
	}
	if listings[1].at.Before(reset) {
		t.Errorf("listed again at %v, before the reset at %v", listings[1].at, reset)
	}
}

// TestBackfillOneAtATime runs two processes' backfill loops on one database and checks that one
// backfill is worked on by one of them: listed once, each prospect forwarded once, leased once;
// and that starting it again while it runs starts no other.
func TestBackfillOneAtATime(t *testing.T) {
	t.Parallel()
	e := newBackfillEnv(t)
	want := e.waiting(20)
	e.start(e.newWorker(fastWorkerConfig()))
	e.start(e.newWorker(fastWorkerConfig()))
	a := e.backfiller("process-a", forwarding.BackfillConfig{Batch: 10})
	b := e.backfiller("process-b", forwarding.BackfillConfig{Batch: 10})
	if err := a.Start(t.Context(), e.inst.ID, 1, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context(), e.inst.ID, 1, true); err != nil {
		t.Fatal(err)
	}
	e.start(a)
	e.start(b)
	job := e.job("the backfill to be done", func(b zen7.Backfill) bool { return b.State == zen7.BackfillDone })
	e.drained()
	e.checkEachOnce(want)
	if job.Seq != 1 || job.Lease != 1 {
		t.Errorf("backfill %d leased %d times, want backfill 1 leased once", job.Seq, job.Lease)
	}
	if n := len(e.prospectListings()); n != 1 {
		t.Errorf("GET /prospects %d times, want 1 (one process lists the one page)", n)
	}

	// Saved again unchanged once done: it forwards once, so nothing starts.
	if err := a.Start(t.Context(), e.inst.ID, 1, false); err != nil {
		t.Fatal(err)
	}
	if got, err := e.backfills.Backfill(t.Context(), e.inst.ID); err != nil || got.Seq != 1 {
		t.Errorf("after saving the same days again: backfill %d, %v; want still 1", got.Seq, err)
	}
	// Changed: a new backfill, whose prospects are already forwarded, creates no lead again.
	if err := a.Start(t.Context(), e.inst.ID, 2, true); err != nil {
		t.Fatal(err)
	}
	again := e.job("the second backfill to be done", func(b zen7.Backfill) bool { return b.Seq == 2 && b.State == zen7.BackfillDone })
	e.drained()
	e.checkEachOnce(want)
	if again.Found != 20 || again.Forwarded != 0 || again.Skipped != 20 {
		t.Errorf("second backfill found %d, forwarded %d, skipped %d; want 20, 0, 20", again.Found, again.Forwarded, again.Skipped)
	}
}

// TestBackfillFailsWhenSalesRefuses checks that a listing Sales refuses for good ends the
// backfill as failed, with Sales' answer as the reason.
func TestBackfillFailsWhenSalesRefuses(t *testing.T) {
	t.Parallel()
	e := newBackfillEnv(t)
	e.waiting(3)
	e.sales.FailNext(1, http.StatusBadRequest)
	b := e.backfiller("replica-1", forwarding.BackfillConfig{})
	if err := b.Start(t.Context(), e.inst.ID, 1, true); err != nil {
		t.Fatal(err)
	}
	e.start(b)
	job := e.job("the backfill to end", func(b zen7.Backfill) bool { return b.Final() })
	if job.State != zen7.BackfillFailed || job.Reason.Code != zen7.ReasonListFailed || job.Reason.Status != http.StatusBadRequest {
		t.Errorf("ended %s with %+v, want failed with listFailed 400", job.State, job.Reason)
	}
	if err := b.Start(t.Context(), e.inst.ID, 0, true); !errors.Is(err, zen7.ErrInvalid) {
		t.Errorf("Start with 0 days: %v, want ErrInvalid", err)
	}
}
