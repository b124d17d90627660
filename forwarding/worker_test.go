package forwarding_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// 7Targets credentials the fake knows, and the Sales key of the test instance.
const (
	workerClientID     = "st-client"
	workerClientSecret = "st-client-secret-abcdef"
	workerUser         = "st-user-1"
	workerSalesKey     = "sales-key-worker-tests"
	workerInstanceID   = "inst-worker"
)

// instancesStub is the lifecycle store as the worker sees it: a fixed set of instances.
type instancesStub struct {
	mu    sync.Mutex
	m     map[string]zen7.Instance
	reads map[string]int
}

func (s *instancesStub) Instance(_ context.Context, id string) (zen7.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reads == nil {
		s.reads = map[string]int{}
	}
	s.reads[id]++
	in, ok := s.m[id]
	if !ok {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	return in, nil
}

// readsOf is how many times the instance with id was read.
func (s *instancesStub) readsOf(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[id]
}

func (s *instancesStub) put(in zen7.Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[in.ID] = in
}

// workerEnv is a fresh database with its outbox, a fake 7Targets and a fake Zenvia Sales on
// loopback with the real clients, and one enabled, configured instance.
type workerEnv struct {
	tb        testing.TB
	outbox    *store.Outbox
	st        *seventargetsfake.Server
	sales     *salesfake.Server
	instances *instancesStub
	inst      zen7.Instance
	logs      *logBuffer // what the workers log at warning level and above
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newWorkerEnv(tb testing.TB) *workerEnv {
	tb.Helper()
	return newWorkerEnvOn(tb, storetest.NewDB(tb))
}

// newWorkerEnvOn is newWorkerEnv on db.
func newWorkerEnvOn(tb testing.TB, db *store.DB) *workerEnv {
	tb.Helper()
	e := &workerEnv{
		tb:        tb,
		outbox:    store.NewOutbox(db),
		st:        seventargetsfake.New(),
		sales:     salesfake.New(),
		instances: &instancesStub{m: map[string]zen7.Instance{}},
		logs:      &logBuffer{},
	}
	tb.Cleanup(e.st.Close)
	tb.Cleanup(e.sales.Close)
	e.st.Seed()
	e.st.AddClient(workerClientID, workerClientSecret, workerUser)
	e.sales.AddIntegration(workerSalesKey, sales.Integration{})
	s := zen7.DefaultSettings()
	s.ClientID, s.ClientSecret, s.UserIdentifier = workerClientID, workerClientSecret, workerUser
	s.AssistantEmail = seventargetsfake.SeedAssistantEmail
	e.inst = zen7.Instance{ID: workerInstanceID, State: zen7.StateEnabled, APIKey: workerSalesKey, Settings: s}
	e.instances.put(e.inst)
	return e
}

// fastWorkerConfig keeps polls and retries short; the bounds stay far from the fakes'
// latencies.
func fastWorkerConfig() forwarding.WorkerConfig {
	return forwarding.WorkerConfig{
		PollInterval: 20 * time.Millisecond, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		JobTimeout: 5 * time.Second, Lease: 10 * time.Second,
	}
}

// newWorker returns a worker on the environment with its own 7Targets client (and so its own
// token cache), as another process would have.
func (e *workerEnv) newWorker(cfg forwarding.WorkerConfig) *forwarding.Worker {
	e.tb.Helper()
	leads, err := seventargets.New(e.st.APIURL(), e.st.TokenURL(), seventargets.WithTimeout(2*time.Second))
	if err != nil {
		e.tb.Fatal(err)
	}
	prospects, err := sales.New(e.sales.BaseURL(), sales.WithTimeout(2*time.Second))
	if err != nil {
		e.tb.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return forwarding.NewWorker(cfg, e.outbox, e.instances, leads, prospects, nil, logger)
}

// runner is a loop of the App's, run until its context ends: a Worker, a Backfiller, a
// ChatTonicPoller.
type runner interface {
	Run(ctx context.Context) error
}

// start runs r until the returned stop is called (or the test ends) and stop has waited for
// it, as when its process stops.
func (e *workerEnv) start(r runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			e.tb.Errorf("%T.Run: %v", r, err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.tb.Cleanup(stop)
	return stop
}

// workerProspect returns a complete prospect with an email address of its own.
func workerProspect(id string) zen7.Prospect {
	return zen7.Prospect{
		ID: id, FirstName: "Ana", LastName: "Souza", Emails: []string{"ana." + id + "@example.com"},
		Phones: []string{"+5511999990000"}, Status: "new",
	}
}

// delivery returns a delivery of kind for p, due now.
func (e *workerEnv) delivery(key string, kind zen7.Kind, p zen7.Prospect) zen7.Delivery {
	return deliveryAt(e.inst.ID+":"+key, e.inst.ID, kind, p, time.Now().UTC())
}

func deliveryAt(id, instanceID string, kind zen7.Kind, p zen7.Prospect, at time.Time) zen7.Delivery {
	return zen7.Delivery{
		ID: id, InstanceID: instanceID, Kind: kind, Prospect: p,
		SnapshotAt: at, CreatedAt: at, State: zen7.StatePending,
		Pending: zen7.Pending{NextAttemptAt: at},
	}
}

func (e *workerEnv) enqueue(ds ...zen7.Delivery) {
	e.tb.Helper()
	if n, err := e.outbox.Enqueue(context.Background(), ds); err != nil || n != len(ds) {
		e.tb.Fatalf("Enqueue = %d, %v; want %d", n, err, len(ds))
	}
}

// waitUntil waits, up to a generous bound, for cond; it is a wait, not a speed assertion.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finished waits for round of delivery id to finish and returns it.
func (e *workerEnv) finished(id string, round int) zen7.Delivery {
	e.tb.Helper()
	var d zen7.Delivery
	waitUntil(e.tb, "delivery "+id+" to finish", func() bool {
		var err error
		d, err = e.outbox.Delivery(context.Background(), id)
		return err == nil && d.Round == round && d.State != zen7.StatePending
	})
	return d
}

// posts returns the bodies of the POST /leads the fake 7Targets received.
func (e *workerEnv) posts() []map[string]any {
	e.tb.Helper()
	var out []map[string]any
	for _, r := range e.st.Requests() {
		if r.Method == "POST" && r.Path == "/leads" {
			var body map[string]any
			if err := json.Unmarshal(r.Body, &body); err != nil {
				e.tb.Fatalf("POST /leads body %q: %v", r.Body, err)
			}
			out = append(out, body)
		}
	}
	return out
}

func TestWorkerBackoff(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	w := e.newWorker(forwarding.WorkerConfig{BaseBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	tests := []struct {
		failed int
		want   time.Duration
	}{
		{failed: 0, want: 10 * time.Millisecond},
		{failed: 1, want: 10 * time.Millisecond},
		{failed: 2, want: 20 * time.Millisecond},
		{failed: 3, want: 40 * time.Millisecond},
		{failed: 4, want: 50 * time.Millisecond}, // 80ms capped
		{failed: 5, want: 50 * time.Millisecond},
		{failed: 1000, want: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		lo, hi := tt.want-tt.want/5, tt.want+tt.want/5
		below, above := false, false
		for range 500 {
			got := w.Backoff(tt.failed)
			if got < lo || got > hi {
				t.Fatalf("Backoff(%d) = %v, want %v ± 20%% [%v, %v]", tt.failed, got, tt.want, lo, hi)
			}
			below, above = below || got < tt.want, above || got > tt.want
		}
		if !below || !above {
			t.Errorf("Backoff(%d): 500 delays, none below %v: %t, none above: %t; want jitter both ways", tt.failed, tt.want, !below, !above)
		}
	}

	// The defaults: 2s doubling to a 5 minute cap, however many attempts failed.
	def := e.newWorker(forwarding.WorkerConfig{})
	for _, n := range []int{1, 1 << 20} {
		want := map[int]time.Duration{1: 2 * time.Second, 1 << 20: 5 * time.Minute}[n]
		if got := def.Backoff(n); got < want-want/5 || got > want+want/5 {
			t.Errorf("default Backoff(%d) = %v, want %v ± 20%%", n, got, want)
		}
	}
}

// fakeClock is a worker's clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestWorkerRetriesWithBackoff runs a delivery 7Targets refuses five times with 503 on a clock
// the test moves, and reads each retry's delay from the outbox.
func TestWorkerRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	clock := newFakeClock(time.Now().UTC().Truncate(time.Millisecond))
	w := e.newWorker(fastWorkerConfig())
	w.SetClock(clock.Now)
	e.st.FailNext(5, 503)
	d := deliveryAt(e.inst.ID+":retry", e.inst.ID, zen7.KindNotification, workerProspect("retry0000000000000000001"), clock.Now())
	e.enqueue(d)
	e.start(w)

	for attempt := 1; attempt <= 5; attempt++ {
		var got zen7.Delivery
		waitUntil(t, fmt.Sprintf("attempt %d to be released", attempt), func() bool {
			got, _ = e.outbox.Delivery(context.Background(), d.ID)
			return got.Attempts == attempt && !got.LeaseUntil.After(clock.Now())
		})
		want := min(10*time.Millisecond<<(attempt-1), 50*time.Millisecond)
		delay := got.NextAttemptAt.Sub(clock.Now())
		// The store keeps milliseconds: allow the truncation.
		if lo, hi := want-want/5-time.Millisecond, want+want/5; delay < lo || delay > hi {
			t.Errorf("after attempt %d: next attempt in %v, want %v ± 20%%", attempt, delay, want)
		}
		if !strings.Contains(got.LastError, "503") || got.State != zen7.StatePending {
			t.Errorf("after attempt %d: state %s, last error %q", attempt, got.State, got.LastError)
		}
		clock.Advance(time.Second)
	}
	got := e.finished(d.ID, 0)
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated || got.Attempts != 6 {
		t.Errorf("delivery = %s %s after %d attempts, want done created after 6", got.State, got.Outcome, got.Attempts)
	}
	if n := e.st.Count("POST", "/leads"); n != 6 {
		t.Errorf("%d POST /leads, want 6", n)
	}
}

func TestWorkerDeadAfterMaxAge(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.MaxAge = 100 * time.Millisecond
	e.st.FailNext(1_000_000, 503)
	d := e.delivery("dead", zen7.KindNotification, workerProspect("dead00000000000000000001"))
	e.enqueue(d)
	e.start(e.newWorker(cfg))

	got := e.finished(d.ID, 0)
	if got.State != zen7.StateDead || got.Outcome != zen7.OutcomeNone {
		t.Fatalf("delivery = %s %s (%s), want dead", got.State, got.Outcome, got.Reason)
	}
	if !strings.HasPrefix(got.Reason.String(), "gave up after 100ms: ") || !strings.Contains(got.Reason.String(), "503") {
		t.Errorf("reason = %q, want the give-up and the last error", got.Reason)
	}
	if got.Attempts < 1 || !strings.Contains(got.LastError, "503") {
		t.Errorf("attempts %d, last error %q", got.Attempts, got.LastError)
	}
	if n := e.st.Count("POST", "/leads"); n != got.Attempts {
		t.Errorf("%d POST /leads, but the delivery counts %d attempts", n, got.Attempts)
	}
}

// TestWorkerDeadDeliveryReleasesCreation: a delivery that died creating a lead holds the
// prospect's creation no longer, so a later delivery (an agent forwarding by hand) creates it.
func TestWorkerDeadDeliveryReleasesCreation(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.MaxAge = 100 * time.Millisecond
	e.st.FailNext(1_000_000, 503)
	p := workerProspect("deadhold0000000000000001")
	first := e.delivery("deadhold-1", zen7.KindNotification, p)
	e.enqueue(first)
	e.start(e.newWorker(cfg))
	if got := e.finished(first.ID, 0); got.State != zen7.StateDead {
		t.Fatalf("first delivery = %s (%s), want dead", got.State, got.Reason)
	}
	e.st.FailNext(0, 503) // 7Targets is back

	if h, err := e.outbox.CreationHolder(context.Background(), e.inst.ID, p.ID); err != nil || h != "" {
		t.Errorf("after the delivery died, the creation is still held by %q (%v)", h, err)
	}
	manual := e.delivery("deadhold-2", zen7.KindForward, p)
	e.enqueue(manual)
	got := e.finished(manual.ID, 0)
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated {
		t.Fatalf("manual forward after a dead delivery = %s %s (%s), want done created", got.State, got.Outcome, got.Reason)
	}
}

// TestWorkerSkippedHolderReleasesCreation: a delivery that held the prospect's creation while
// retrying, and then ends skipped because automatic forwarding was turned off meanwhile, creates
// nothing; it must not keep a later delivery (an agent forwarding by hand) from creating. The
// clock only moves when the test says, so the steps cannot overtake each other.
func TestWorkerSkippedHolderReleasesCreation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	clock := newFakeClock(time.Now().UTC().Truncate(time.Millisecond))
	w := e.newWorker(fastWorkerConfig())
	w.SetClock(clock.Now)
	e.st.FailNext(1, 503)
	p := workerProspect("skiphold0000000000000001")
	first := deliveryAt(e.inst.ID+":skiphold-1", e.inst.ID, zen7.KindNotification, p, clock.Now())
	e.enqueue(first)
	e.start(w)
	waitUntil(t, "the first attempt to be released", func() bool {
		d, _ := e.outbox.Delivery(ctx, first.ID)
		return d.Attempts == 1 && !d.LeaseUntil.After(clock.Now())
	})
	if h, err := e.outbox.CreationHolder(ctx, e.inst.ID, p.ID); err != nil || h != first.ID {
		t.Fatalf("while retrying, the creation is held by %q (%v), want %q", h, err, first.ID)
	}

	off := e.inst
	off.Settings.AutoForward = false
	e.instances.put(off)
	clock.Advance(time.Second)
	if got := e.finished(first.ID, 0); got.State != zen7.StateSkipped || got.Reason != forwarding.ReasonAutoForwardOff {
		t.Fatalf("first delivery = %s %q, want skipped: %q", got.State, got.Reason, forwarding.ReasonAutoForwardOff)
	}
	if h, err := e.outbox.CreationHolder(ctx, e.inst.ID, p.ID); err != nil || h != "" {
		t.Errorf("after its holder was skipped, the creation is still held by %q (%v)", h, err)
	}

	manual := deliveryAt(e.inst.ID+":skiphold-2", e.inst.ID, zen7.KindForward, p, clock.Now())
	e.enqueue(manual)
	w.Wake()
	var got zen7.Delivery
	waitUntil(t, "the manual forward to finish or be put off", func() bool {
		var err error
		got, err = e.outbox.Delivery(ctx, manual.ID)
		return err == nil && (got.State != zen7.StatePending || got.LastError != "")
	})
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated {
		t.Fatalf("manual forward = %s %s, last error %q; want done created", got.State, got.Outcome, got.LastError)
	}
}

// TestWorkerRecordsAttemptThatRanOutOfTime: an attempt that uses up its JobTimeout (7Targets
// answering slower than the budget) is a timeout like any other: it is counted and released
// for a retry with backoff, its error kept.
func TestWorkerRecordsAttemptThatRanOutOfTime(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.JobTimeout = 300 * time.Millisecond
	e.st.SetLatency(1500 * time.Millisecond) // longer than the job's budget, shorter than the client's timeout
	d := e.delivery("slow", zen7.KindNotification, workerProspect("slow00000000000000000001"))
	e.enqueue(d)
	e.start(e.newWorker(cfg))

	var got zen7.Delivery
	waitUntil(t, "the attempt to be recorded, or another attempt to start", func() bool {
		got, _ = e.outbox.Delivery(context.Background(), d.ID)
		return got.Attempts >= 1 || len(e.st.Requests()) >= 2
	})
	if got.Attempts < 1 || got.LastError == "" {
		t.Fatalf("after an attempt that ran out of its %v budget the outbox holds attempts %d, last error %q, lease until %v; "+
			"want the attempt counted and released for a retry; the worker logged:\n%s", cfg.JobTimeout, got.Attempts, got.LastError, got.LeaseUntil, e.logs)
	}
}

func TestWorkerPermanentFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	e.st.FailNext(1, 400)
	p := workerProspect("refused00000000000000001")
	first := e.delivery("refused-1", zen7.KindNotification, p)
	e.enqueue(first)
	e.start(e.newWorker(fastWorkerConfig()))

	got := e.finished(first.ID, 0)
	if got.State != zen7.StateFailed || got.Outcome != zen7.OutcomeNone || got.Attempts != 1 {
		t.Fatalf("delivery = %s %s after %d attempts, want failed after 1", got.State, got.Outcome, got.Attempts)
	}
	if !strings.Contains(got.Reason.String(), "400") {
		t.Errorf("reason = %q, want 7Targets' refusal", got.Reason)
	}
	if n := e.st.Count("POST", "/leads"); n != 1 {
		t.Errorf("%d POST /leads, want 1", n)
	}
	if h, err := e.outbox.CreationHolder(ctx, e.inst.ID, p.ID); err != nil || h != "" {
		t.Fatalf("after a refusal the creation is held by %q (%v), want released", h, err)
	}

	// Sales loses the prospect's address and an agent forwards it by hand with one typed in
	// (a typed address stands in for a missing one only).
	noEmail := p
	noEmail.Emails = nil
	manual := e.delivery("refused-2", zen7.KindForward, noEmail)
	manual.Overrides.Email = "chosen.address@example.com"
	e.enqueue(manual)
	got = e.finished(manual.ID, 0)
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated || got.LeadID == 0 {
		t.Fatalf("manual forward = %+v, want done created", got)
	}
	posts := e.posts()
	if len(posts) != 2 || posts[1]["email"] != "chosen.address@example.com" {
		t.Fatalf("POST /leads bodies = %v, want the second with the chosen address", posts)
	}
	lead, err := e.outbox.Lead(ctx, e.inst.ID, p.ID)
	if err != nil || lead.State != zen7.LeadForwarded || lead.Email != "chosen.address@example.com" || lead.LeadID != got.LeadID {
		t.Errorf("lead record = %+v, %v", lead, err)
	}
}

func TestIntakeRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	w := e.newWorker(fastWorkerConfig())
	intake := forwarding.NewIntake(e.outbox, nil, w, nil)
	e.st.FailNext(1, 400) // the fault heals itself after one request
	p := workerProspect("retried00000000000000001")
	d := e.delivery("retried", zen7.KindNotification, p)
	e.enqueue(d)
	e.start(w)
	if got := e.finished(d.ID, 0); got.State != zen7.StateFailed {
		t.Fatalf("delivery = %s (%s), want failed", got.State, got.Reason)
	}

	refused := []struct {
		name, instance, id string
		want               error
	}{
		{name: "another instance's delivery", instance: "inst-other", id: d.ID, want: zen7.ErrNotFound},
		{name: "an unknown delivery", instance: e.inst.ID, id: e.inst.ID + ":unknown", want: zen7.ErrNotFound},
	}
	for _, tt := range refused {
		if err := intake.Retry(ctx, tt.instance, tt.id); !errors.Is(err, tt.want) {
			t.Errorf("Retry of %s: error = %v, want %v", tt.name, err, tt.want)
		}
	}

	if err := intake.Retry(ctx, e.inst.ID, d.ID); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	got := e.finished(d.ID, 1)
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated || got.Attempts != 1 || got.LeadID == 0 {
		t.Fatalf("retried delivery = %+v, want done created in one attempt", got)
	}
	if lead, err := e.outbox.Lead(ctx, e.inst.ID, p.ID); err != nil || lead.State != zen7.LeadForwarded {
		t.Errorf("lead record = %+v, %v", lead, err)
	}
	if err := intake.Retry(ctx, e.inst.ID, d.ID); !errors.Is(err, zen7.ErrInvalid) {
		t.Errorf("Retry of a delivered delivery: error = %v, want ErrInvalid", err)
	}
}

func TestWorkerFetchesPartialProspect(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	sp := e.sales.PutProspect(workerSalesKey, sales.Prospect{
		FirstName: "Beatriz", LastName: "Lima", Emails: []string{"Bea.Lima@Example.com"}, Status: "unclaimed",
	})
	updatedAt := time.Now().UTC().Truncate(time.Millisecond)
	d := e.delivery("partial", zen7.KindNotification, zen7.Prospect{ID: sp.ID, UpdatedAt: updatedAt, Partial: true})
	e.enqueue(d)
	e.start(e.newWorker(fastWorkerConfig()))

	got := e.finished(d.ID, 0)
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated {
		t.Fatalf("delivery = %s %s (%s), want done created", got.State, got.Outcome, got.Reason)
	}
	if n := e.sales.Count("", "/prospect/"+sp.ID); n != 1 {
		t.Errorf("%d Sales lookups of the prospect, want 1", n)
	}
	if n := len(e.sales.Requests()); n != 1 {
		t.Errorf("%d Sales requests, want 1", n)
	}
	posts := e.posts()
	if len(posts) != 1 || posts[0]["email"] != "bea.lima@example.com" || posts[0]["name"] != "Beatriz" || posts[0]["lastName"] != "Lima" {
		t.Fatalf("POST /leads bodies = %v, want the prospect as Sales has it", posts)
	}
	lead, err := e.outbox.Lead(context.Background(), e.inst.ID, sp.ID)
	if err != nil || lead.Email != "bea.lima@example.com" || lead.ProspectStatus != "unclaimed" {
		t.Errorf("lead record = %+v, %v", lead, err)
	}
}

func TestWorkerSkipsUnforwardableInstances(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	disabled, uninstalled, incomplete := e.inst, e.inst, e.inst
	disabled.ID, disabled.State = "inst-disabled", zen7.StateDisabled
	uninstalled.ID, uninstalled.State = "inst-uninstalled", zen7.StateUninstalled
	incomplete.ID, incomplete.Settings.AssistantEmail = "inst-incomplete", ""
	for _, in := range []zen7.Instance{disabled, uninstalled, incomplete} {
		e.instances.put(in)
	}

	tests := []struct {
		instance   string
		wantReason string
	}{
		{instance: disabled.ID, wantReason: "the instance is disabled"},
		{instance: uninstalled.ID, wantReason: "the instance is uninstalled"},
		{instance: incomplete.ID, wantReason: "the instance's 7Targets settings are incomplete"},
		{instance: "inst-gone", wantReason: "the instance no longer exists"},
	}
	now := time.Now().UTC()
	for _, tt := range tests {
		e.enqueue(deliveryAt(tt.instance+":n1", tt.instance, zen7.KindNotification, workerProspect("skip0000000000000000001"), now))
	}
	e.start(e.newWorker(fastWorkerConfig()))

	for _, tt := range tests {
		got := e.finished(tt.instance+":n1", 0)
		if got.State != zen7.StateSkipped || got.Reason.String() != tt.wantReason || got.Outcome != zen7.OutcomeNone || got.Attempts != 0 {
			t.Errorf("%s: delivery = %s %s %q after %d attempts, want skipped %q", tt.instance, got.State, got.Outcome, got.Reason, got.Attempts, tt.wantReason)
		}
	}
	if n := len(e.st.Requests()); n != 0 {
		t.Errorf("%d requests to 7Targets, want none", n)
	}
}

// TestWorkerRunWaitsForDeliveriesInFlight stops a worker while 7Targets is answering a
// delivery: Run returns only once that delivery is finished, not released.
func TestWorkerRunWaitsForDeliveriesInFlight(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	e.st.SetLatency(300 * time.Millisecond) // well within the job timeout and the client's
	w := e.newWorker(fastWorkerConfig())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	d := e.delivery("inflight", zen7.KindNotification, workerProspect("inflight0000000000000001"))
	e.enqueue(d)
	w.Wake()
	waitUntil(t, "the lead request to reach 7Targets", func() bool { return e.st.Count("POST", "/leads") == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}

	got, err := e.outbox.Delivery(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated || got.Attempts != 1 || got.LastError != "" {
		t.Fatalf("when Run returned the delivery was %s %s, %d attempts, last error %q; want done created", got.State, got.Outcome, got.Attempts, got.LastError)
	}
}

// TestTwoWorkersCreateEachLeadOnce runs two workers, as two processes would, on one outbox
// holding two notifications for each of 25 prospects.
func TestTwoWorkersCreateEachLeadOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	const prospects = 25
	var ds []zen7.Delivery
	now := time.Now().UTC()
	for i := range prospects {
		p := workerProspect(fmt.Sprintf("two%021d", i))
		for _, key := range []string{"a", "b"} {
			ds = append(ds, deliveryAt(fmt.Sprintf("%s:%s:%s", e.inst.ID, p.ID, key), e.inst.ID, zen7.KindNotification, p, now))
		}
	}
	e.enqueue(ds...)
	e.start(e.newWorker(fastWorkerConfig()))
	e.start(e.newWorker(fastWorkerConfig()))

	for i := 0; i < len(ds); i += 2 {
		a, b := e.finished(ds[i].ID, 0), e.finished(ds[i+1].ID, 0)
		outcomes := map[zen7.Outcome]int{a.Outcome: 1}
		outcomes[b.Outcome]++
		if a.State != zen7.StateDone || b.State != zen7.StateDone || outcomes[zen7.OutcomeCreated] != 1 || outcomes[zen7.OutcomeNone] != 1 {
			t.Errorf("prospect %s: deliveries %s %s and %s %s (%s), want one created and one with nothing to do",
				a.Prospect.ID, a.State, a.Outcome, b.State, b.Outcome, b.Reason)
		}
	}
	perEmail := map[any]int{}
	for _, body := range e.posts() {
		perEmail[body["email"]]++
	}
	if len(perEmail) != prospects {
		t.Errorf("%d prospects reached 7Targets, want %d", len(perEmail), prospects)
	}
	for email, n := range perEmail {
		if n != 1 {
			t.Errorf("%d POST /leads for %v, want 1", n, email)
		}
	}
	if n := len(e.st.Leads()); n != prospects {
		t.Errorf("7Targets holds %d leads, want %d", n, prospects)
	}
	for i := range prospects {
		id := fmt.Sprintf("two%021d", i)
		if l, err := e.outbox.Lead(ctx, e.inst.ID, id); err != nil || l.State != zen7.LeadForwarded || l.LeadID == 0 {
			t.Errorf("lead record of %s = %+v, %v", id, l, err)
		}
	}
}
