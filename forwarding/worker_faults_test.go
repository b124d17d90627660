package forwarding_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// lateSender is 7Targets answering just as an attempt's time runs out: the lead is made, and
// its answer arrives once the attempt's context has ended.
type lateSender struct{ forwarding.LeadSender }

func (s lateSender) CreateLead(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error) {
	res, err := s.LeadSender.CreateLead(context.WithoutCancel(ctx), key, creds, lead)
	<-ctx.Done()
	return res, err
}

// TestWorkerRecordsALeadMadeAsTheAttemptRanOut: a lead 7Targets made is recorded even when its
// answer used up the attempt's budget (JobTimeout); a record lost to the spent budget would
// make the retry create the lead a second time.
func TestWorkerRecordsALeadMadeAsTheAttemptRanOut(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.JobTimeout = 500 * time.Millisecond
	leads, prospects := e.clients(5 * time.Second)
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w := forwarding.NewWorker(cfg, e.outbox, e.instances, lateSender{leads}, prospects, nil, logger)

	d := e.delivery("late", zen7.KindNotification, workerProspect("late00000000000000000001"))
	e.enqueue(d)
	e.start(w)
	var got zen7.Delivery
	waitUntil(t, "the delivery to finish, or a second creation", func() bool {
		got, _ = e.outbox.Delivery(context.Background(), d.ID)
		return got.State == zen7.StateDone || len(e.posts()) >= 2
	})
	time.Sleep(200 * time.Millisecond) // several poll intervals for a wrong second creation to show
	if n := len(e.posts()); n != 1 {
		t.Fatalf("%d POST /leads for one prospect, want 1: the lead made as the attempt ran out was made again; last error %q", n, got.LastError)
	}
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated {
		t.Fatalf("delivery = %s %s, last error %q; want done created; the worker logged:\n%s", got.State, got.Outcome, got.LastError, e.logs)
	}
}

// concurrencySender counts how many lead creations are in flight at once, each held a moment:
// hold(n) for the n-th, or 100 ms if hold is nil.
type concurrencySender struct {
	forwarding.LeadSender
	hold         func(n int) time.Duration
	mu           sync.Mutex
	n, now, most int
}

func (s *concurrencySender) CreateLead(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error) {
	s.mu.Lock()
	s.n++
	s.now++
	s.most = max(s.most, s.now)
	hold := 100 * time.Millisecond
	if s.hold != nil {
		hold = s.hold(s.n)
	}
	s.mu.Unlock()
	time.Sleep(hold)
	defer func() { s.mu.Lock(); s.now--; s.mu.Unlock() }()
	return s.LeadSender.CreateLead(ctx, key, creds, lead)
}

// TestWorkerCapsAnInstancesDeliveriesInFlight checks the per-instance share of the worker's
// slots: one instance's backlog never has more than PerInstance deliveries in flight, whether
// claimed from the outbox or handed over by the intake, so the other slots stay free for other
// instances.
func TestWorkerCapsAnInstancesDeliveriesInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.Concurrency, cfg.PerInstance = 4, 2
	leads, prospects := e.clients(5 * time.Second)
	sender := &concurrencySender{LeadSender: leads}
	w := forwarding.NewWorker(cfg, e.outbox, e.instances, sender, prospects, nil, slog.New(slog.DiscardHandler))
	e.start(w)
	waitUntil(t, "the worker to run", w.Running)

	// Half through the intake's hand-over, half queued for the poll.
	intake := forwarding.NewIntake(e.outbox, targetsStub{}, w, nil)
	var ids []string
	for i := range 8 {
		p := workerProspect(fmt.Sprintf("share%019d", i))
		if i%2 == 0 {
			if _, err := intake.Accept(ctx, workerInstanceID, webhookToken, createdNotification(p.ID), nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		d := e.delivery(fmt.Sprintf("share-%d", i), zen7.KindNotification, p)
		e.enqueue(d)
		ids = append(ids, d.ID)
	}
	w.Wake()
	for _, id := range ids {
		e.finished(id, 0)
	}
	waitUntil(t, "eight leads", func() bool { return e.st.Count("POST", "/leads") >= 8 })
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if sender.most > cfg.PerInstance {
		t.Errorf("%d of one instance's creations in flight at once, want at most %d", sender.most, cfg.PerInstance)
	}
	if sender.most < 1 {
		t.Errorf("no creation seen")
	}
	waitUntil(t, "every slot to be idle", func() bool { return w.IdleSlots() == cfg.Concurrency })
}

// clients returns a 7Targets client with timeout and a Sales client, both of the env's fakes,
// for tests that wrap one of them.
func (e *workerEnv) clients(timeout time.Duration) (*seventargets.Client, *sales.Client) {
	e.tb.Helper()
	leads, err := seventargets.New(e.st.APIURL(), e.st.TokenURL(), seventargets.WithTimeout(timeout))
	if err != nil {
		e.tb.Fatal(err)
	}
	prospects, err := sales.New(e.sales.BaseURL(), sales.WithTimeout(2*time.Second))
	if err != nil {
		e.tb.Fatal(err)
	}
	return leads, prospects
}

// TestWorkerKilledMidBatch: a worker's process dies at each write of a batch it claimed
// together (the claims, the creations, the lead records, the group commit of the outcomes),
// the write refused or landed with its answer lost; another process's worker then finishes the
// batch. Each prospect has one 7Targets lead and one finished delivery, and nothing is left
// pending or claimed.
func TestWorkerKilledMidBatch(t *testing.T) {
	t.Parallel()
	srv := storetest.NewFaultServer(t)
	const prospects = 4
	cfg := fastWorkerConfig()
	cfg.Concurrency, cfg.PerInstance = prospects, prospects // one batch for all of them

	// A batch run without a crash says how many writes there are to crash at.
	writes := func() int {
		db, faults := srv.NewDB(t)
		e := newWorkerEnvOn(t, db)
		ids := e.enqueueBatch(prospects)
		before := faults.Writes() // the enqueue's own
		stop := e.start(e.newWorker(cfg))
		for _, id := range ids {
			e.finished(id, 0)
		}
		stop()
		return faults.Writes() - before
	}()
	if writes < 6 {
		t.Fatalf("a batch of %d made %d writes: too few to be the batch's claims, creations, lead records and outcomes", prospects, writes)
	}
	for write := 1; write <= writes; write++ {
		for _, mode := range []storetest.CrashMode{storetest.LoseWrite, storetest.LoseReply} {
			t.Run(fmt.Sprintf("write %d %s", write, mode), func(t *testing.T) {
				t.Parallel()
				db, faults := srv.NewDB(t)
				e := newWorkerEnvOn(t, db)
				ids := e.enqueueBatch(prospects)
				faults.CrashAt(write, mode)
				stop := e.start(e.newWorker(cfg))
				ctx := context.Background()
				// How deliveries fall into the group commit's writes varies, so a batch may
				// make fewer writes than the count above: then it finishes uncrashed, and the
				// checks below hold for that run as well.
				waitUntil(t, "the crash", func() bool {
					if faults.Crashed() {
						return true
					}
					for _, id := range ids {
						if d, err := e.outbox.Delivery(ctx, id); err != nil || d.State == zen7.StatePending {
							return false
						}
					}
					return true
				})
				if !faults.Crashed() {
					t.Logf("the batch made fewer than %d writes this time", write)
				}
				stop() // its process is gone: every later command of it failed
				faults.Heal()

				// Another process, once the dead one's leases have passed.
				next := e.newWorker(cfg)
				next.SetClock(func() time.Time { return time.Now().Add(time.Minute) })
				e.start(next)
				for _, id := range ids {
					waitUntil(t, "delivery "+id+" to finish", func() bool {
						d, err := e.outbox.Delivery(ctx, id)
						return err == nil && d.State != zen7.StatePending
					})
					if d, _ := e.outbox.Delivery(ctx, id); d.State != zen7.StateDone {
						t.Errorf("%s: %s %s (%s), want done", id, d.State, d.Outcome, d.LastError)
					}
				}
				byEmail := map[string]int{}
				for _, l := range e.st.Leads() {
					byEmail[l.Email]++
				}
				if len(byEmail) != prospects {
					t.Errorf("7Targets has leads for %d prospects, want %d: %v", len(byEmail), prospects, byEmail)
				}
				for email, n := range byEmail {
					if n != 1 {
						t.Errorf("%s has %d 7Targets leads, want 1", email, n)
					}
				}
				for _, col := range []string{"outbox", "delivery_claims"} {
					if docs := faults.Documents(t, col); len(docs) != 0 {
						t.Errorf("%s after the batch: %v", col, docs)
					}
				}
				if docs := faults.Documents(t, "deliveries"); len(docs) != prospects {
					t.Errorf("%d history entries, want %d", len(docs), prospects)
				}
				if t.Failed() {
					t.Logf("the workers logged:\n%s", e.logs)
				}
			})
		}
	}
}

// enqueueBatch queues a new-prospect notification for each of n prospects, all due now, and
// returns their delivery ids.
func (e *workerEnv) enqueueBatch(n int) []string {
	e.tb.Helper()
	ids := make([]string, n)
	ds := make([]zen7.Delivery, n)
	for i := range n {
		ds[i] = e.delivery(fmt.Sprintf("batch-%d", i), zen7.KindNotification, workerProspect(fmt.Sprintf("batch%019d", i)))
		ids[i] = ds[i].ID
	}
	e.enqueue(ds...)
	return ids
}
