package forwarding_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// claimCounter records how many deliveries each of a worker's claims took.
type claimCounter struct {
	forwarding.Store
	mu    sync.Mutex
	sizes []int
}

func (c *claimCounter) ClaimMany(ctx context.Context, ds []zen7.Delivery, owner string, now, leaseUntil time.Time) ([]zen7.Delivery, error) {
	got, err := c.Store.ClaimMany(ctx, ds, owner, now, leaseUntil)
	c.mu.Lock()
	c.sizes = append(c.sizes, len(got))
	c.mu.Unlock()
	return got, err
}

// claimed returns how many claims took something, and how many deliveries they took.
func (c *claimCounter) claimed() (claims, deliveries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.sizes {
		if n > 0 {
			claims++
			deliveries += n
		}
	}
	return claims, deliveries
}

// heldSender holds every lead creation until release is closed.
type heldSender struct {
	forwarding.LeadSender
	release  chan struct{}
	mu       sync.Mutex
	inFlight int
}

func (s *heldSender) CreateLead(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error) {
	s.mu.Lock()
	s.inFlight++
	s.mu.Unlock()
	<-s.release
	return s.LeadSender.CreateLead(ctx, key, creds, lead)
}

func (s *heldSender) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}

// spread holds the n-th lead creation from 40 to 135 ms, the next one longer, so that
// creations started together end apart (concurrencySender.hold).
func spread(n int) time.Duration { return time.Duration(40+(n*19)%100) * time.Millisecond }

// instancesLikeIts adds n-1 instances like the environment's, and returns the ids of all n.
func (e *workerEnv) instancesLikeIts(n int) []string {
	ids := []string{e.inst.ID}
	for i := 1; i < n; i++ {
		in := e.inst
		in.ID = fmt.Sprintf("%s-%d", e.inst.ID, i)
		e.instances.put(in)
		ids = append(ids, in.ID)
	}
	return ids
}

// backlog queues n deliveries, each of a prospect of its own, spread over instances, and
// returns their ids.
func (e *workerEnv) backlog(name string, n int, instances []string) []string {
	var ids []string
	now := time.Now().UTC()
	for i := range n {
		in := instances[i%len(instances)]
		d := deliveryAt(fmt.Sprintf("%s:%s-%d", in, name, i), in, zen7.KindNotification, workerProspect(fmt.Sprintf("%s%018d", name[:6], i)), now)
		e.enqueue(d)
		ids = append(ids, d.ID)
	}
	return ids
}

// TestWorkerClaimsABacklogInBatches: from a backlog the worker claims ahead of its slots, so
// that it claims many deliveries at a time while every slot stays busy, instead of one or two
// each time a slot frees; every delivery is still made once.
func TestWorkerClaimsABacklogInBatches(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.Concurrency, cfg.PerInstance = 8, 4
	leads, prospects := e.clients(5 * time.Second)
	sender := &concurrencySender{LeadSender: leads, hold: spread}
	counter := &claimCounter{Store: e.outbox}
	w := forwarding.NewWorker(cfg, counter, e.instances, sender, prospects, nil, slog.New(slog.DiscardHandler))

	const backlog = 96
	ids := e.backlog("batchs", backlog, e.instancesLikeIts(4))
	e.start(w)
	for _, id := range ids {
		e.finished(id, 0)
	}
	if n := e.st.Count("POST", "/leads"); n != backlog {
		t.Errorf("%d POST /leads for %d prospects, want one each", n, backlog)
	}
	claims, deliveries := counter.claimed()
	if deliveries != backlog {
		t.Errorf("%d deliveries claimed, want %d", deliveries, backlog)
	}
	t.Logf("%d claims for a backlog of %d", claims, backlog)
	if most := backlog / 3; claims > most {
		t.Errorf("%d claims for a backlog of %d, want at most %d", claims, backlog, most)
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if sender.most != cfg.Concurrency {
		t.Errorf("at most %d creations in flight at once, want every one of the %d slots busy", sender.most, cfg.Concurrency)
	}
	waitUntil(t, "every slot and claim to be given back", func() bool { return w.IdleSlots() == cfg.Concurrency && w.Claimed() == 0 })
}

// TestWorkerStoppingPutsBackWhatItClaimedAhead: a worker that stops finishes the deliveries in
// flight and puts those it claimed ahead back at once, so that another process takes them
// without waiting for their leases to pass.
func TestWorkerStoppingPutsBackWhatItClaimedAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.Concurrency, cfg.PerInstance = 2, 2
	cfg.Lease = time.Hour // a lease that passed could not pass for a delivery put back
	leads, prospects := e.clients(5 * time.Second)
	sender := &heldSender{LeadSender: leads, release: make(chan struct{})}
	counter := &claimCounter{Store: e.outbox}
	w := forwarding.NewWorker(cfg, counter, e.instances, sender, prospects, nil, slog.New(slog.DiscardHandler))

	const backlog = 6
	ids := e.backlog("aheads", backlog, e.instancesLikeIts(2))
	stop := e.start(w)
	waitUntil(t, "two creations in flight and two deliveries claimed ahead", func() bool {
		_, n := counter.claimed()
		return sender.held() == 2 && n == 4
	})
	stopped := make(chan struct{})
	go func() { defer close(stopped); stop() }()
	// While the two in flight are still held, the two claimed ahead are back, due, with the
	// two never claimed.
	waitUntil(t, "the deliveries claimed ahead to be put back", func() bool {
		due, err := e.outbox.Due(ctx, time.Now().UTC(), backlog)
		return err == nil && len(due) == backlog-2
	})
	select {
	case <-stopped:
		t.Fatal("the worker stopped before the deliveries in flight finished")
	default:
	}
	close(sender.release)
	<-stopped
	done := 0
	for _, id := range ids {
		if d, err := e.outbox.Delivery(ctx, id); err == nil && d.State == zen7.StateDone {
			done++
		}
	}
	if done != 2 {
		t.Errorf("%d deliveries done once the worker stopped, want the two in flight", done)
	}

	e.start(e.newWorker(fastWorkerConfig()))
	for _, id := range ids {
		e.finished(id, 0)
	}
	if n := e.st.Count("POST", "/leads"); n != backlog {
		t.Errorf("%d POST /leads for %d prospects, want one each", n, backlog)
	}
}

// TestWorkerClaimedAheadOfOneProspectAllRun: many deliveries of one prospect per instance,
// claimed ahead together, all run, one at a time per prospect, and each prospect's lead is
// created once. (TestWorkerFollowerClaimedAheadHoldsNoSlot makes the order that could leave
// them waiting for ever.)
func TestWorkerClaimedAheadOfOneProspectAllRun(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.Concurrency, cfg.PerInstance = 4, 4
	leads, prospects := e.clients(5 * time.Second)
	sender := &concurrencySender{LeadSender: leads, hold: spread}
	w := forwarding.NewWorker(cfg, e.outbox, e.instances, sender, prospects, nil, slog.New(slog.DiscardHandler))

	const each = 12
	var ids []string
	start := time.Now().UTC().Add(-time.Minute)
	for k, in := range e.instancesLikeIts(4) {
		p := workerProspect(fmt.Sprintf("oneof%019d", k))
		for i := range each {
			at := start.Add(time.Duration(i) * time.Second) // each a newer snapshot of p
			d := deliveryAt(fmt.Sprintf("%s:oneof-%d", in, i), in, zen7.KindNotification, p, at)
			e.enqueue(d)
			ids = append(ids, d.ID)
		}
	}
	e.start(w)
	for _, id := range ids {
		e.finished(id, 0)
	}
	if n := e.st.Count("POST", "/leads"); n != 4 {
		t.Errorf("%d POST /leads for four prospects, want one each", n)
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if sender.most > 4 {
		t.Errorf("%d creations in flight at once, want at most one per prospect", sender.most)
	}
}

// TestWorkerFollowerClaimedAheadHoldsNoSlot: of two deliveries of one prospect claimed ahead,
// the second starting first, neither keeps the only slot while it waits for the other: the
// first in line runs, then the second (holding the slot while waiting for its turn, the second
// would leave the first, which needs that slot, waiting for ever).
func TestWorkerFollowerClaimedAheadHoldsNoSlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.Concurrency, cfg.PerInstance = 1, 1
	w := e.newWorker(cfg)
	p := workerProspect("follower0000000000000001")
	start := time.Now().UTC().Add(-time.Minute)
	first := deliveryAt(e.inst.ID+":follower-1", e.inst.ID, zen7.KindNotification, p, start)
	second := deliveryAt(e.inst.ID+":follower-2", e.inst.ID, zen7.KindNotification, p, start.Add(time.Second))
	e.enqueue(first, second)
	now := time.Now().UTC()
	claimed, err := e.outbox.ClaimMany(ctx, []zen7.Delivery{first, second}, "follower-test", now, now.Add(time.Minute))
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimMany = %d, %v; want both", len(claimed), err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.RunClaimedAhead(ctx, claimed, []int{1, 0}, 50*time.Millisecond) // the second starts first
	}()
	waitUntil(t, "both deliveries to run", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	for _, id := range []string{first.ID, second.ID} {
		if d := e.finished(id, 0); d.State == zen7.StatePending {
			t.Errorf("delivery %s still pending", id)
		}
	}
	if n := e.st.Count("POST", "/leads"); n != 1 {
		t.Errorf("%d POST /leads for one prospect, want 1", n)
	}
}

// slowReservations takes 30 ms to reserve each group of lead creations: time a delivery spends
// in the App, not waiting for 7Targets.
type slowReservations struct{ *claimCounter }

func (s slowReservations) ClaimCreations(ctx context.Context, ds []zen7.Delivery) ([]string, []error) {
	time.Sleep(30 * time.Millisecond)
	return s.claimCounter.ClaimCreations(ctx, ds)
}

// TestWorkerGivesWayToABusyIntake: while its intake accepts GiveWayAt webhooks or more at once
// (on average), the worker claims a few deliveries at a time (an eighth of Concurrency), once
// none it claimed before is being worked on (beyond waiting for 7Targets), and the rest of a
// backlog waits in the outbox; once the intake is quieter it claims ahead and uses every slot
// again, and every delivery is made once.
func TestWorkerGivesWayToABusyIntake(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.Concurrency, cfg.PerInstance, cfg.GiveWayAt = 16, 16, 2
	leads, prospects := e.clients(5 * time.Second)
	sender := &concurrencySender{LeadSender: leads, hold: func(int) time.Duration { return 0 }}
	counter := &claimCounter{Store: e.outbox}
	w := forwarding.NewWorker(cfg, slowReservations{counter}, e.instances, sender, prospects, nil, slog.New(slog.DiscardHandler))

	const backlog = 40
	ids := e.backlog("giveway", backlog, e.instancesLikeIts(4))
	webhooks := []func(){w.Accepting(), w.Accepting(), w.Accepting()}
	waitUntil(t, "the intake to count as busy", w.IntakeBusy)
	e.start(w)
	waitUntil(t, "6 leads created", func() bool { return e.st.Count("POST", "/leads") >= 6 })
	// Each delivery spends 30 ms reserving its creation, and the next two are claimed when
	// both have gone on to 7Targets: those made, two being worked on, and two more perhaps.
	counter.mu.Lock()
	sizes := slices.Clone(counter.sizes)
	counter.mu.Unlock()
	made := e.st.Count("POST", "/leads")
	claimed := 0
	for _, n := range sizes {
		claimed += n
		if n > 2 {
			t.Errorf("giving way: a claim took %d deliveries, want at most 2 (an eighth of 16)", n)
		}
	}
	if claimed > made+6 {
		t.Errorf("giving way: %d deliveries claimed when %d were made, want at most %d", claimed, made, made+6)
	}

	for _, done := range webhooks {
		done()
	}
	for _, id := range ids {
		e.finished(id, 0)
	}
	if n := e.st.Count("POST", "/leads"); n != backlog {
		t.Errorf("%d POST /leads for %d prospects, want one each", n, backlog)
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if sender.most <= 2 {
		t.Errorf("once the intake is quieter, at most %d creations in flight at once, want more than 2", sender.most)
	}
}

// blockedSender holds the lead creations of one instance until release is closed.
type blockedSender struct {
	forwarding.LeadSender
	instance string
	release  chan struct{}
}

func (s blockedSender) CreateLead(ctx context.Context, key string, creds seventargets.Credentials, lead seventargets.Lead) (seventargets.LeadResult, error) {
	if key == s.instance {
		<-s.release
	}
	return s.LeadSender.CreateLead(ctx, key, creds, lead)
}

// TestWorkerGivingWayLeavesOutThoseWaitingForAnAnswer: deliveries waiting for 7Targets to
// answer do not count among those the worker works on while it gives way to the intake, so
// one 7Targets account that does not answer does not stop the others' deliveries.
func TestWorkerGivingWayLeavesOutThoseWaitingForAnAnswer(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	cfg := fastWorkerConfig()
	cfg.Concurrency, cfg.PerInstance, cfg.GiveWayAt = 16, 4, 1
	leads, prospects := e.clients(5 * time.Second)
	instances := e.instancesLikeIts(2)
	sender := blockedSender{LeadSender: leads, instance: instances[0], release: make(chan struct{})}
	w := forwarding.NewWorker(cfg, e.outbox, e.instances, sender, prospects, nil, slog.New(slog.DiscardHandler))

	ids := e.backlog("answer", 24, instances) // 12 of each instance, alternating
	defer w.Accepting()()
	defer w.Accepting()()
	waitUntil(t, "the intake to count as busy", w.IntakeBusy)
	e.start(w)
	for i := 1; i < len(ids); i += 2 {
		e.finished(ids[i], 0) // the other instance's, while 4 of the first's wait for 7Targets
	}
	close(sender.release)
	for i := 0; i < len(ids); i += 2 {
		e.finished(ids[i], 0)
	}
}
