package forwarding_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
)

// webhookToken is the token of the test instance's webhook URL.
const webhookToken = "webhook-token-intake-tests"

// targetsStub knows the test instance, enabled, with webhookToken.
type targetsStub struct{}

func (targetsStub) WebhookTarget(_ context.Context, id string) (zen7.State, string, error) {
	if id != workerInstanceID {
		return "", "", zen7.ErrNotFound
	}
	return zen7.StateEnabled, forwarding.HashToken(webhookToken), nil
}

// createdNotification is a Sales "created" notification of one new prospect with an email.
func createdNotification(prospectID string) []byte {
	return fmt.Appendf(nil, `{"topic":"prospects","type":"created","prospect":[{"id":%q,"firstName":"Ana","lastName":"Souza",`+
		`"status":"unclaimed","contactMediums":[{"type":"email","value":"ana.%s@example.com"}]}]}`, prospectID, prospectID)
}

// TestIntakeHandsOverToAnIdleWorker checks the intake's hand-over: a new delivery the worker
// has an idle slot for runs at once without a claim (Claims 0 in its history); one that finds
// every slot busy, or no worker running, waits in the outbox unleased and is claimed from
// there; a duplicate gives back the slot it held. Every slot is idle again at the end.
func TestIntakeHandsOverToAnIdleWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const first = "handover0000000000000001"
	tests := []struct {
		name        string
		concurrency int
		// slow is the extra latency of 7Targets, keeping the first webhook's delivery in
		// flight while the second arrives.
		slow       time.Duration
		running    bool
		second     string // prospect of the second webhook ("" for none)
		wantClaims []int  // of the first and second prospects' deliveries
	}{
		{name: "idle worker", concurrency: 1, running: true, wantClaims: []int{0}},
		{name: "busy worker", concurrency: 1, running: true, slow: 300 * time.Millisecond, second: "handover0000000000000002", wantClaims: []int{0, 1}},
		{name: "duplicate", concurrency: 2, running: true, slow: 300 * time.Millisecond, second: first, wantClaims: []int{0}},
		{name: "worker not running", concurrency: 1, running: false, wantClaims: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newWorkerEnv(t)
			e.st.SetClientLatency(workerClientID, tt.slow)
			cfg := fastWorkerConfig()
			cfg.Concurrency = tt.concurrency
			cfg.PollInterval = time.Hour // only a wake or a hand-over runs a delivery
			w := e.newWorker(cfg)
			intake := forwarding.NewIntake(e.outbox, targetsStub{}, w, nil)
			if tt.running {
				e.start(w)
				waitUntil(t, "the worker to run", w.Running)
			}
			prospects := []string{first}
			if tt.second != "" && tt.second != first {
				prospects = append(prospects, tt.second)
			}
			for _, p := range []string{first, tt.second} {
				if p == "" {
					continue
				}
				if _, err := intake.Accept(ctx, workerInstanceID, webhookToken, createdNotification(p), nil); err != nil {
					t.Fatalf("Accept of %s: %v", p, err)
				}
			}
			if !tt.running {
				ds, err := e.outbox.ProspectDeliveries(ctx, workerInstanceID, first, 1)
				if err != nil || len(ds) != 1 || !ds[0].LeaseUntil.IsZero() {
					t.Fatalf("stored with no worker running: %+v, %v; want one unleased delivery", ds, err)
				}
				e.start(w)
			}
			for i, p := range prospects {
				ds, err := e.outbox.ProspectDeliveries(ctx, workerInstanceID, p, 1)
				if err != nil || len(ds) != 1 {
					t.Fatalf("deliveries of %s = %+v, %v", p, ds, err)
				}
				got := e.finished(ds[0].ID, 0)
				if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated || got.Claims != tt.wantClaims[i] {
					t.Errorf("delivery of %s = %s %s with %d claims, want done created with %d", p, got.State, got.Outcome, got.Claims, tt.wantClaims[i])
				}
			}
			if n := e.st.Count("POST", "/leads"); n != len(prospects) {
				t.Errorf("%d POST /leads, want %d", n, len(prospects))
			}
			waitUntil(t, "every slot to be idle", func() bool { return w.IdleSlots() == tt.concurrency })
		})
	}
}

// TestIntakeHandsOverToAWorkerWithNoIdleSlot: a new delivery that finds every slot busy is
// still handed over while the worker may claim more ahead of its slots: it waits for a slot,
// leased to the worker and never claimed (Claims 0), rather than take the outbox poll's way.
func TestIntakeHandsOverToAWorkerWithNoIdleSlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	e.st.SetClientLatency(workerClientID, 300*time.Millisecond)
	cfg := fastWorkerConfig()
	cfg.Concurrency = 1
	cfg.PollInterval = time.Hour // only a wake or a hand-over runs a delivery
	w := e.newWorker(cfg)
	intake := forwarding.NewIntake(e.outbox, targetsStub{}, w, nil)
	e.start(w)
	waitUntil(t, "the worker to run", w.Running)
	instances := e.instancesLikeIts(2) // the one slot's instance has its share: another's delivery comes second
	for i, in := range instances {
		req := forwarding.Request{InstanceID: in, Kind: zen7.KindNotification, Prospect: workerProspect(fmt.Sprintf("noidleslot%014d", i)), Key: fmt.Sprintf("noidle-%d", i)}
		if _, err := intake.Add(ctx, req); err != nil {
			t.Fatalf("Add for %s: %v", in, err)
		}
		if i == 0 {
			waitUntil(t, "the first delivery to take the slot", func() bool { return w.IdleSlots() == 0 })
		}
	}
	for i, in := range instances {
		got := e.finished(fmt.Sprintf("%s:noidle-%d", in, i), 0)
		if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated || got.Claims != 0 {
			t.Errorf("delivery for %s = %s %s with %d claims, want done created, handed over with none", in, got.State, got.Outcome, got.Claims)
		}
	}
	if n := e.st.Count("POST", "/leads"); n != len(instances) {
		t.Errorf("%d POST /leads, want %d", n, len(instances))
	}
	waitUntil(t, "the slot to be idle", func() bool { return w.IdleSlots() == cfg.Concurrency })
}

// TestHandOverSharesInstanceRead: the deliveries of one notification, handed over to the
// worker together, read their instance once, not once each.
func TestHandOverSharesInstanceRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.PollInterval = time.Hour // only the hand-over runs a delivery
	w := e.newWorker(cfg)
	intake := forwarding.NewIntake(e.outbox, targetsStub{}, w, nil)
	e.start(w)
	waitUntil(t, "the worker to run", w.Running)
	prospects := []string{"sharedread00000000000001", "sharedread00000000000002", "sharedread00000000000003"}
	var items []string
	for _, p := range prospects {
		items = append(items, fmt.Sprintf(`{"id":%q,"firstName":"Ana","status":"unclaimed","contactMediums":[{"type":"email","value":"ana.%s@example.com"}]}`, p, p))
	}
	body := []byte(`{"topic":"prospects","type":"created","prospect":[` + strings.Join(items, ",") + `]}`)
	before := e.instances.readsOf(workerInstanceID)
	if _, err := intake.Accept(ctx, workerInstanceID, webhookToken, body, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range prospects {
		ds, err := e.outbox.ProspectDeliveries(ctx, workerInstanceID, p, 1)
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries of %s = %+v, %v", p, ds, err)
		}
		if got := e.finished(ds[0].ID, 0); got.Outcome != zen7.OutcomeCreated || got.Claims != 0 {
			t.Errorf("delivery of %s = %s with %d claims, want created as handed over (0 claims)", p, got.Outcome, got.Claims)
		}
	}
	if got := e.instances.readsOf(workerInstanceID) - before; got != 1 {
		t.Errorf("%d reads of the instance for one hand-over of %d deliveries, want 1", got, len(prospects))
	}
}

// TestHandedOverDeliveryOutlivesItsProcess checks what happens when the process that stored a
// delivery leased to its worker dies before running it: another worker claims it once the
// lease has passed, and not before.
func TestHandedOverDeliveryOutlivesItsProcess(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	d := e.delivery("orphan", zen7.KindNotification, workerProspect("orphan000000000000000001"))
	d.LeaseUntil = time.Now().UTC().Add(400 * time.Millisecond) // as the intake stores it for its worker
	e.enqueue(d)
	e.start(e.newWorker(fastWorkerConfig()))

	got := e.finished(d.ID, 0)
	if got.State != zen7.StateDone || got.Claims != 1 {
		t.Fatalf("delivery = %s with %d claims, want done by a claim", got.State, got.Claims)
	}
	posts := e.st.Requests()
	if len(posts) == 0 || posts[len(posts)-1].Path != "/leads" || posts[len(posts)-1].At.Before(d.LeaseUntil) {
		t.Fatalf("the delivery ran before its lease passed")
	}
}

// lateAck stores what it is given and then reports failure, as the Batcher does when the
// webhook's time ends while its write is landing.
type lateAck struct{ store forwarding.Store }

func (l lateAck) EnqueueEach(ctx context.Context, ds []zen7.Delivery) ([]bool, error) {
	if _, err := l.store.EnqueueEach(context.WithoutCancel(ctx), ds); err != nil {
		return nil, err
	}
	return nil, context.DeadlineExceeded
}

// TestFailedHandOverIsLeftToThePoll checks a hand-over whose write landed although the intake
// was told it failed: Sales' redelivery is then a duplicate, so the intake lifts the lease it
// stored and the worker's poll takes the delivery at once, rather than after the lease.
func TestFailedHandOverIsLeftToThePoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.Lease = time.Hour // were the lease kept, the delivery would wait an hour
	cfg.Concurrency = 2
	w := e.newWorker(cfg)
	e.start(w)
	waitUntil(t, "the worker to run", w.Running)
	intake := forwarding.NewIntake(e.outbox, targetsStub{}, w, nil)
	intake.SetEnqueuer(lateAck{e.outbox})
	const p = "lateack00000000000000001"
	if _, err := intake.Accept(ctx, workerInstanceID, webhookToken, createdNotification(p), nil); !errors.Is(err, zen7.ErrUnavailable) {
		t.Fatalf("Accept = %v, want ErrUnavailable", err)
	}
	intake.SetEnqueuer(e.outbox)
	if got, err := intake.Accept(ctx, workerInstanceID, webhookToken, createdNotification(p), nil); err != nil || got.Queued != 0 {
		t.Fatalf("Sales' redelivery = %d new, %v; want a duplicate", got.Queued, err)
	}
	ds, err := e.outbox.ProspectDeliveries(ctx, workerInstanceID, p, 1)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries = %+v, %v", ds, err)
	}
	if got := e.finished(ds[0].ID, 0); got.State != zen7.StateDone || got.Claims != 1 {
		t.Fatalf("delivery = %s with %d claims, want done by the poll's claim", got.State, got.Claims)
	}
	if n := e.st.Count("POST", "/leads"); n != 1 {
		t.Errorf("%d POST /leads, want 1", n)
	}
	waitUntil(t, "every slot to be idle", func() bool { return w.IdleSlots() == cfg.Concurrency })
}

// TestAddIsTheOneWayIn checks the requests of any source: a request with a key names its
// delivery (the instance and the key), so the same key again is a duplicate; one without gets a
// delivery of its own each time; what the request says reaches the stored delivery.
func TestAddIsTheOneWayIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	intake := forwarding.NewIntake(e.outbox, targetsStub{}, nil, nil)
	keyed := forwarding.Request{
		InstanceID: workerInstanceID, Kind: zen7.KindForward, Key: "backfill:p1",
		Prospect:  zen7.Prospect{ID: "oneway00000000000000001", Emails: []string{"ana@example.com"}},
		Overrides: zen7.Overrides{AssistantEmail: "ashley@7targets.test"},
	}
	unkeyed := keyed
	unkeyed.Key, unkeyed.Kind = "", zen7.KindStop
	for _, tc := range []struct {
		name string
		reqs []forwarding.Request
		want int
	}{
		{"new", []forwarding.Request{keyed, unkeyed}, 2},
		{"same key again, and a request without one", []forwarding.Request{keyed, unkeyed}, 1},
	} {
		if n, err := intake.Add(ctx, tc.reqs...); err != nil || n != tc.want {
			t.Fatalf("%s: Add = %d, %v; want %d new", tc.name, n, err, tc.want)
		}
	}
	d, err := e.outbox.Delivery(ctx, workerInstanceID+":backfill:p1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != zen7.KindForward || d.Prospect.ID != keyed.Prospect.ID || d.Overrides != keyed.Overrides || d.State != zen7.StatePending || d.SnapshotAt.IsZero() {
		t.Errorf("stored %+v, want the request's kind, prospect and overrides, pending, with a snapshot time", d)
	}
	ds, err := e.outbox.ProspectDeliveries(ctx, workerInstanceID, keyed.Prospect.ID, 10)
	if err != nil || len(ds) != 3 {
		t.Errorf("deliveries of the prospect = %d, %v; want 3 (one keyed, two unkeyed)", len(ds), err)
	}
}

// TestAcceptAdmitsOnlyAuthenticated: admit runs only once the token has passed, and what it
// refuses is neither parsed nor stored.
func TestAcceptAdmitsOnlyAuthenticated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	intake := forwarding.NewIntake(e.outbox, targetsStub{}, nil, nil)
	errFull := errors.New("instance over its limit")
	admitted := 0
	admit := func() error { admitted++; return errFull }
	const p = "admit0000000000000000001"
	for _, tt := range []struct{ instance, token string }{{workerInstanceID, "wrong"}, {workerInstanceID, ""}, {"unknown", webhookToken}} {
		if _, err := intake.Accept(ctx, tt.instance, tt.token, createdNotification(p), admit); !errors.Is(err, zen7.ErrUnauthorized) {
			t.Fatalf("Accept(%s, %q) = %v, want ErrUnauthorized", tt.instance, tt.token, err)
		}
	}
	if admitted != 0 {
		t.Fatalf("admit ran %d times for webhooks whose token did not pass", admitted)
	}
	if _, err := intake.Accept(ctx, workerInstanceID, webhookToken, []byte("not even JSON"), admit); !errors.Is(err, errFull) || admitted != 1 {
		t.Fatalf("Accept = %v after %d admits, want admit's error before the body is read", err, admitted)
	}
	if _, err := intake.Accept(ctx, workerInstanceID, webhookToken, createdNotification(p), admit); !errors.Is(err, errFull) {
		t.Fatalf("Accept = %v, want admit's error", err)
	}
	if ds, err := e.outbox.ProspectDeliveries(ctx, workerInstanceID, p, 1); err != nil || len(ds) != 0 {
		t.Fatalf("deliveries = %+v, %v; want nothing stored", ds, err)
	}
}
