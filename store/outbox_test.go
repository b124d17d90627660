package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

func newOutbox(tb testing.TB) (*store.Outbox, *store.DB) {
	tb.Helper()
	db := storetest.NewDB(tb)
	return store.NewOutbox(db), db
}

// outboxT0 is a fixed time with the store's millisecond precision.
var outboxT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// pending returns a new notification delivery of prospect, due and created at at.
func pending(id, instanceID, prospectID string, at time.Time) zen7.Delivery {
	return zen7.Delivery{
		ID: id, InstanceID: instanceID, Kind: zen7.KindNotification,
		Prospect:   zen7.Prospect{ID: prospectID, FirstName: "Ana", Emails: []string{"ana@example.com"}, Status: "new"},
		SnapshotAt: at, CreatedAt: at, State: zen7.StatePending,
		Pending: zen7.Pending{NextAttemptAt: at},
	}
}

func mustEnqueue(tb testing.TB, o *store.Outbox, ds ...zen7.Delivery) {
	tb.Helper()
	n, err := o.Enqueue(context.Background(), ds)
	if err != nil || n != len(ds) {
		tb.Fatalf("Enqueue = %d, %v; want %d new", n, err, len(ds))
	}
}

func mustClaim(tb testing.TB, o *store.Outbox, d zen7.Delivery, owner string, now time.Time) zen7.Delivery {
	tb.Helper()
	c, err := o.Claim(context.Background(), d, owner, now, now.Add(time.Minute))
	if err != nil {
		tb.Fatalf("Claim(%s) by %s: %v", d.ID, owner, err)
	}
	return c
}

func mustDelivery(tb testing.TB, o *store.Outbox, id string) zen7.Delivery {
	tb.Helper()
	d, err := o.Delivery(context.Background(), id)
	if err != nil {
		tb.Fatalf("Delivery(%s): %v", id, err)
	}
	return d
}

// finishAs finishes the claimed delivery d in state and returns it as finished.
func finishAs(tb testing.TB, o *store.Outbox, d zen7.Delivery, state zen7.DeliveryState, reason string) zen7.Delivery {
	tb.Helper()
	d.State, d.Outcome, d.Reason, d.FinishedAt = state, zen7.OutcomeNone, zen7.ParseReason(reason), d.CreatedAt.Add(time.Second)
	if state == zen7.StateDone {
		d.Outcome, d.LeadID = zen7.OutcomeCreated, 2345
	}
	if err := o.Finish(context.Background(), d); err != nil {
		tb.Fatalf("Finish(%s): %v", d.ID, err)
	}
	return d
}

func ids(ds []zen7.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func TestOutboxRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	want := zen7.Delivery{
		ID: "inst:key1", InstanceID: "inst", Kind: zen7.KindForward,
		Prospect: zen7.Prospect{
			ID: "p1", GroupID: "g1", FirstName: "Ana", LastName: "Souza", Emails: []string{"ana@example.com", "a@example.org"},
			Phones: []string{"+5511999990000"}, Status: "followUp", UTMSource: "google", Comments: "wants a demo",
			UpdatedAt: outboxT0.Add(-time.Minute), Partial: true,
		},
		Overrides:  zen7.Overrides{Email: "chosen@example.com", AssistantEmail: "lyra@7targets.test", ScheduleName: "Product Demo"},
		SnapshotAt: outboxT0.Add(-time.Minute), CreatedAt: outboxT0, Round: 2,
		Attempts: 3, LastError: "503",
		State:   zen7.StatePending,
		Pending: zen7.Pending{Claims: 4, NextAttemptAt: outboxT0.Add(time.Second), LeaseUntil: outboxT0.Add(-time.Second)},
	}
	mustEnqueue(t, o, want)
	if diff := cmp.Diff(want, mustDelivery(t, o, want.ID)); diff != "" {
		t.Errorf("Delivery after Enqueue (-want +got):\n%s", diff)
	}
	due, err := o.Due(ctx, outboxT0.Add(time.Second), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("Due = %v, %v", ids(due), err)
	}
	if diff := cmp.Diff(want, due[0]); diff != "" {
		t.Errorf("Due (-want +got):\n%s", diff)
	}
	if _, err := o.Delivery(ctx, "inst:nope"); !errors.Is(err, zen7.ErrNotFound) {
		t.Errorf("Delivery(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestOutboxEnqueueDropsDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	a, b, c := pending("i:a", "i", "p1", outboxT0), pending("i:b", "i", "p2", outboxT0), pending("i:c", "i", "p3", outboxT0)

	steps := []struct {
		name string
		ds   []zen7.Delivery
		want int
	}{
		{name: "two new", ds: []zen7.Delivery{a, b}, want: 2},
		{name: "one known, one new", ds: []zen7.Delivery{a, c}, want: 1},
		{name: "all known", ds: []zen7.Delivery{c, b, a}, want: 0},
		{name: "twice in one batch", ds: []zen7.Delivery{pending("i:d", "i", "p4", outboxT0), pending("i:d", "i", "p4", outboxT0)}, want: 1},
		{name: "empty", ds: nil, want: 0},
	}
	for _, s := range steps {
		n, err := o.Enqueue(ctx, s.ds)
		if err != nil || n != s.want {
			t.Fatalf("%s: Enqueue = %d, %v; want %d", s.name, n, err, s.want)
		}
	}
	if depth, _, err := o.Stats(ctx); err != nil || depth != 4 {
		t.Fatalf("Stats depth = %d, %v; want 4", depth, err)
	}
	// A duplicate keeps the stored delivery as it was.
	changed := a
	changed.Prospect.FirstName = "Changed"
	if n, err := o.Enqueue(ctx, []zen7.Delivery{changed}); err != nil || n != 0 {
		t.Fatalf("Enqueue(changed duplicate) = %d, %v", n, err)
	}
	if got := mustDelivery(t, o, a.ID).Prospect.FirstName; got != "Ana" {
		t.Errorf("a duplicate overwrote the stored delivery: first name %q", got)
	}
}

// TestOutboxEnqueueDropsFinished: the Store contract says a delivery "already finished" is a
// duplicate too, so a notification Sales delivers again after the App processed it is not
// queued again.
// TestOutboxFinishedIsKnown: a late copy of a finished delivery may enter the outbox again
// (Enqueue does not read the history, to keep the webhook's path short); Finished is how the
// worker recognises it, and Discard drops it without touching the history.
func TestOutboxFinishedIsKnown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	d := pending("i:late", "i", "p1", outboxT0)
	mustEnqueue(t, o, d)
	if done, err := o.Finished(ctx, d.ID); err != nil || done {
		t.Fatalf("Finished before finishing = %v, %v", done, err)
	}
	finishAs(t, o, mustClaim(t, o, d, "w1", outboxT0), zen7.StateDone, "")
	if done, err := o.Finished(ctx, d.ID); err != nil || !done {
		t.Fatalf("Finished after finishing = %v, %v", done, err)
	}
	mustEnqueue(t, o, d)
	late := mustClaim(t, o, d, "w2", outboxT0)
	if err := o.Discard(ctx, late); err != nil {
		t.Fatal(err)
	}
	if due, _ := o.Due(ctx, outboxT0.Add(time.Hour), 10); len(due) != 0 {
		t.Errorf("the discarded copy is still due: %v", ids(due))
	}
	got, err := o.Delivery(ctx, d.ID)
	if err != nil || got.State != zen7.StateDone {
		t.Fatalf("history after discarding a copy = %+v, %v", got, err)
	}
}

func TestOutboxEnqueueConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	d := pending("i:same", "i", "p1", outboxT0)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range 8 {
		wg.Go(func() {
			n, err := o.Enqueue(ctx, []zen7.Delivery{d})
			if err != nil {
				t.Errorf("Enqueue: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 1 {
		t.Errorf("8 concurrent Enqueues of one delivery reported %d new, want 1", total)
	}
	if depth, _, err := o.Stats(ctx); err != nil || depth != 1 {
		t.Errorf("Stats depth = %d, %v; want 1", depth, err)
	}
}

func TestOutboxDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	now := outboxT0
	early := pending("i:early", "i", "p1", now.Add(-2*time.Minute))
	due := pending("i:due", "i", "p2", now.Add(-time.Minute))
	exactly := pending("i:exactly", "i", "p3", now)
	later := pending("i:later", "i", "p4", now.Add(-3*time.Minute))
	later.NextAttemptAt = now.Add(time.Second)
	leased := pending("i:leased", "i", "p5", now.Add(-3*time.Minute))
	leased.LeaseUntil = now.Add(time.Second)
	leaseOver := pending("i:lease-over", "i", "p6", now.Add(-30*time.Second))
	leaseOver.LeaseUntil = now.Add(-time.Second)
	mustEnqueue(t, o, later, leased, exactly, due, leaseOver, early)

	tests := []struct {
		name string
		now  time.Time
		n    int
		want []string
	}{
		{name: "due now, by next attempt", now: now, n: 10, want: []string{"i:early", "i:due", "i:lease-over", "i:exactly"}},
		{name: "at most n", now: now, n: 2, want: []string{"i:early", "i:due"}},
		{name: "later, the lease and the wait are over", now: now.Add(time.Second), n: 10,
			want: []string{"i:leased", "i:early", "i:due", "i:lease-over", "i:exactly", "i:later"}},
		{name: "before anything", now: now.Add(-time.Hour), n: 10, want: []string{}},
	}
	for _, tt := range tests {
		got, err := o.Due(ctx, tt.now, tt.n)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
			t.Errorf("%s: Due (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestOutboxClaimOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	mustEnqueue(t, o, pending("i:race", "i", "p1", outboxT0))
	due, err := o.Due(ctx, outboxT0, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("Due = %v, %v", ids(due), err)
	}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []zen7.Delivery
		owners  []string
	)
	for i := range 8 {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", i)
			c, err := o.Claim(ctx, due[0], owner, outboxT0, outboxT0.Add(time.Minute))
			switch {
			case err == nil:
				mu.Lock()
				winners, owners = append(winners, c), append(owners, owner)
				mu.Unlock()
			case !errors.Is(err, zen7.ErrClaimed):
				t.Errorf("%s: Claim error = %v, want nil or ErrClaimed", owner, err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d of 8 workers claimed the delivery (%v), want exactly 1", len(winners), owners)
	}
	if w := winners[0]; w.Claims != 1 || !w.LeaseUntil.Equal(outboxT0.Add(time.Minute)) {
		t.Errorf("claimed delivery: claims %d, lease %v", w.Claims, w.LeaseUntil)
	}
	if stored := mustDelivery(t, o, "i:race"); stored.Claims != 1 || !stored.LeaseUntil.Equal(outboxT0.Add(time.Minute)) {
		t.Errorf("stored delivery: claims %d, lease %v", stored.Claims, stored.LeaseUntil)
	}
	if due, _ := o.Due(ctx, outboxT0.Add(30*time.Second), 10); len(due) != 0 {
		t.Errorf("a claimed delivery is due during its lease: %v", ids(due))
	}
	if due, _ := o.Due(ctx, outboxT0.Add(time.Minute), 10); len(due) != 1 {
		t.Errorf("a claimed delivery whose lease passed is not due: %v", ids(due))
	}
}

func TestOutboxReleaseAndClaimAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	mustEnqueue(t, o, pending("i:rel", "i", "p1", outboxT0))
	first := mustClaim(t, o, mustDelivery(t, o, "i:rel"), "w1", outboxT0)

	first.Attempts, first.NextAttemptAt, first.LastError = 1, outboxT0.Add(10*time.Second), "503 Service Unavailable"
	if err := o.Release(ctx, first); err != nil {
		t.Fatal(err)
	}
	got := mustDelivery(t, o, "i:rel")
	if got.Attempts != 1 || !got.NextAttemptAt.Equal(first.NextAttemptAt) || got.LastError != first.LastError ||
		got.Claims != 1 || got.LeaseUntil.After(outboxT0) || got.State != zen7.StatePending {
		t.Fatalf("after Release: %+v", got)
	}
	if due, _ := o.Due(ctx, outboxT0.Add(5*time.Second), 10); len(due) != 0 {
		t.Fatalf("released delivery due before its next attempt: %v", ids(due))
	}
	due, err := o.Due(ctx, outboxT0.Add(10*time.Second), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("released delivery not due at its next attempt: %v, %v", ids(due), err)
	}
	second := mustClaim(t, o, due[0], "w2", outboxT0.Add(10*time.Second))
	if second.Claims != 2 || second.Attempts != 1 {
		t.Errorf("claimed again: claims %d attempts %d, want 2 and 1", second.Claims, second.Attempts)
	}

	// The first holder, late, cannot release the delivery from under the second.
	first.Attempts, first.NextAttemptAt = 7, outboxT0.Add(time.Hour)
	if err := o.Release(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got := mustDelivery(t, o, "i:rel"); got.Attempts != 1 || !got.LeaseUntil.Equal(second.LeaseUntil) {
		t.Errorf("a stale Release changed the delivery: attempts %d lease %v", got.Attempts, got.LeaseUntil)
	}
}

// TestOutboxClaimStepsOverStaleClaim sets up the claim record of a holder that died without
// moving the delivery on: B claims the delivery after A's lease passed, A finishes it (failed)
// and B dies. When the delivery is sent round again, its claim counter starts over and meets
// B's claim record, which holds until B's lease passes and is then stepped over.
func TestOutboxClaimStepsOverStaleClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	t0 := outboxT0
	mustEnqueue(t, o, pending("i:stale", "i", "p1", t0))

	a := mustClaim(t, o, mustDelivery(t, o, "i:stale"), "A", t0) // lease until t0+1m
	due, err := o.Due(ctx, t0.Add(2*time.Minute), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("Due after A's lease: %v, %v", ids(due), err)
	}
	b := mustClaim(t, o, due[0], "B", t0.Add(2*time.Minute)) // claim 2, lease until t0+3m
	if b.Claims != 2 {
		t.Fatalf("B's claim = %d, want 2", b.Claims)
	}
	finishAs(t, o, a, zen7.StateFailed, "400 Bad Request") // B dies now
	if err := o.Requeue(ctx, "i", "i:stale", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}

	c := mustClaim(t, o, mustDelivery(t, o, "i:stale"), "C", t0.Add(2*time.Minute)) // claim 1 of the new round
	c.Attempts, c.NextAttemptAt = 1, t0.Add(2*time.Minute)
	if err := o.Release(ctx, c); err != nil {
		t.Fatal(err)
	}
	next := mustDelivery(t, o, "i:stale")
	if _, err := o.Claim(ctx, next, "D", t0.Add(150*time.Second), t0.Add(4*time.Minute)); !errors.Is(err, zen7.ErrClaimed) {
		t.Fatalf("Claim while B's claim record holds: error = %v, want ErrClaimed", err)
	}
	d, err := o.Claim(ctx, next, "D", t0.Add(3*time.Minute+time.Second), t0.Add(4*time.Minute))
	if err != nil {
		t.Fatalf("Claim after B's lease passed: %v", err)
	}
	if d.Claims != 3 {
		t.Errorf("claims = %d, want 3 (B's stale claim 2 stepped over)", d.Claims)
	}
	if got := mustDelivery(t, o, "i:stale"); got.Claims != 3 || got.Round != 1 {
		t.Errorf("stored: claims %d round %d, want 3 and 1", got.Claims, got.Round)
	}
}

func TestOutboxClaimFinishedDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	mustEnqueue(t, o, pending("i:fin", "i", "p1", outboxT0))
	read := mustDelivery(t, o, "i:fin")
	claimed := mustClaim(t, o, read, "w1", outboxT0)
	finishAs(t, o, claimed, zen7.StateDone, "")

	for _, stale := range []zen7.Delivery{read, claimed} {
		if _, err := o.Claim(ctx, stale, "w2", outboxT0.Add(time.Hour), outboxT0.Add(2*time.Hour)); !errors.Is(err, zen7.ErrClaimed) {
			t.Errorf("Claim of a finished delivery (read with %d claims): error = %v, want ErrClaimed", stale.Claims, err)
		}
	}
	claims, err := store.RawDocuments(ctx, db, "delivery_claims")
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 0 {
		t.Errorf("claim records left behind: %v", claims)
	}
	if got := mustDelivery(t, o, "i:fin"); got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated {
		t.Errorf("finished delivery changed: %+v", got)
	}
}

func TestOutboxFinish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	mustEnqueue(t, o, pending("i:f", "i", "p1", outboxT0), pending("i:other", "i", "p2", outboxT0))
	first := mustClaim(t, o, mustDelivery(t, o, "i:f"), "w1", outboxT0)
	first.LastError = "injected failure: Bad Request"
	first.Attempts = 1
	rel := first
	rel.NextAttemptAt = outboxT0
	if err := o.Release(ctx, rel); err != nil {
		t.Fatal(err)
	}
	claimed := mustClaim(t, o, mustDelivery(t, o, "i:f"), "w2", outboxT0.Add(time.Second))
	failed := finishAs(t, o, claimed, zen7.StateFailed, "seventargets.CreateLead: 400 Bad Request")

	got := mustDelivery(t, o, "i:f")
	want := failed
	want.LeaseUntil, want.Owner = time.Time{}, "" // a finished delivery holds no lease
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history entry (-want +got):\n%s", diff)
	}
	if due, _ := o.Due(ctx, outboxT0.Add(time.Hour), 10); !slices.Equal(ids(due), []string{"i:other"}) {
		t.Errorf("Due after Finish = %v, want only i:other", ids(due))
	}
	claims, err := store.RawDocuments(ctx, db, "delivery_claims")
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 0 {
		t.Errorf("Finish left claim records: %v", claims)
	}

	// A duplicate of the first round (a second worker finishing it too) keeps the history.
	dup := claimed
	dup.State, dup.Outcome, dup.LeadID = zen7.StateDone, zen7.OutcomeCreated, 99
	if err := o.Finish(ctx, dup); err != nil {
		t.Fatal(err)
	}
	if got := mustDelivery(t, o, "i:f"); got.State != zen7.StateFailed || got.LeadID != 0 {
		t.Errorf("a duplicate first-round Finish overwrote the history: %+v", got)
	}

	// A later round replaces it.
	if err := o.Requeue(ctx, "i", "i:f", outboxT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	round := mustClaim(t, o, mustDelivery(t, o, "i:f"), "w3", outboxT0.Add(time.Minute))
	if round.Round != 1 {
		t.Fatalf("requeued round = %d, want 1", round.Round)
	}
	finishAs(t, o, round, zen7.StateDone, "")
	got = mustDelivery(t, o, "i:f")
	if got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated || got.Round != 1 || got.Retrying {
		t.Errorf("history after the second round: %+v", got)
	}
	if ds, err := o.ProspectDeliveries(ctx, "i", "p1", 10); err != nil || len(ds) != 1 {
		t.Errorf("ProspectDeliveries = %v, %v; want the one history entry", ids(ds), err)
	}
}

func TestOutboxRequeue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	ended := map[zen7.DeliveryState]string{
		zen7.StateDone: "i:done", zen7.StateSkipped: "i:skipped", zen7.StateFailed: "i:failed", zen7.StateDead: "i:dead",
	}
	for state, id := range ended {
		d := pending(id, "i", "p-"+string(state), outboxT0)
		d.Attempts, d.LastError = 3, "last error of "+id
		mustEnqueue(t, o, d)
		finishAs(t, o, mustClaim(t, o, d, "w1", outboxT0), state, "reason of "+id)
	}
	mustEnqueue(t, o, pending("i:pending", "i", "p-pending", outboxT0))

	refused := []struct {
		name, id string
		want     error
	}{
		{name: "done", id: "i:done", want: zen7.ErrInvalid},
		{name: "skipped", id: "i:skipped", want: zen7.ErrInvalid},
		{name: "unknown", id: "i:unknown", want: zen7.ErrNotFound},
	}
	for _, tt := range refused {
		if err := o.Requeue(ctx, "i", tt.id, outboxT0.Add(time.Hour)); !errors.Is(err, tt.want) {
			t.Errorf("Requeue(%s) error = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Another instance's delivery is not found, failed or pending alike.
	for _, id := range []string{"i:failed", "i:pending"} {
		if err := o.Requeue(ctx, "other", id, outboxT0.Add(time.Hour)); !errors.Is(err, zen7.ErrNotFound) {
			t.Errorf("Requeue of %s by another instance = %v, want ErrNotFound", id, err)
		}
	}
	if due, _ := o.Due(ctx, outboxT0.Add(2*time.Hour), 10); !slices.Equal(ids(due), []string{"i:pending"}) {
		t.Fatalf("refused Requeues queued something: %v", ids(due))
	}

	later := outboxT0.Add(time.Hour)
	for _, state := range []zen7.DeliveryState{zen7.StateFailed, zen7.StateDead} {
		id := ended[state]
		if err := o.Requeue(ctx, "i", id, later); err != nil {
			t.Fatalf("Requeue(%s): %v", state, err)
		}
		if err := o.Requeue(ctx, "i", id, later.Add(time.Minute)); err != nil {
			t.Errorf("Requeue(%s) again while retrying: %v", state, err)
		}
		ds, err := o.ProspectDeliveries(ctx, "i", "p-"+string(state), 10)
		if err != nil || len(ds) != 2 {
			t.Fatalf("ProspectDeliveries(%s) = %v, %v; want the new round and the old entry", state, ids(ds), err)
		}
		next, old := ds[0], ds[1]
		if next.State != zen7.StatePending || next.Round != 1 || next.Attempts != 0 || next.Claims != 0 ||
			!next.NextAttemptAt.Equal(later) || !next.CreatedAt.Equal(later) || next.Outcome != "" || next.Reason.String() != "" ||
			!next.FinishedAt.IsZero() || next.Prospect.ID != "p-"+string(state) {
			t.Errorf("%s: new round = %+v", state, next)
		}
		if old.State != state || !old.Retrying || old.Reason.String() != "reason of "+id {
			t.Errorf("%s: old entry = %+v, want it kept and marked retrying", state, old)
		}
	}
	due, err := o.Due(ctx, later, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := ids(due)
	slices.Sort(got)
	if want := []string{"i:dead", "i:failed", "i:pending"}; !slices.Equal(got, want) {
		t.Errorf("Due after requeueing = %v, want %v", got, want)
	}
}

// TestOutboxRequeuePending: the Store contract says Requeue returns ErrInvalid when the
// delivery did not fail; a delivery still pending exists and has not failed.
func TestOutboxRequeuePending(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	mustEnqueue(t, o, pending("i:pending", "i", "p1", outboxT0))
	if err := o.Requeue(context.Background(), "i", "i:pending", outboxT0.Add(time.Hour)); !errors.Is(err, zen7.ErrInvalid) {
		t.Errorf("Requeue of a pending delivery: error = %v, want ErrInvalid", err)
	}
}

func TestOutboxClaimCreation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	if h, err := o.CreationHolder(ctx, "i", "p1"); err != nil || h != "" {
		t.Fatalf("CreationHolder before any claim = %q, %v", h, err)
	}

	holders := make([]string, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			h, err := o.ClaimCreation(ctx, "i", "p1", fmt.Sprintf("i:d%d", i))
			if err != nil {
				t.Errorf("ClaimCreation: %v", err)
			}
			holders[i] = h
		})
	}
	wg.Wait()
	winner := holders[0]
	own := 0
	for i, h := range holders {
		if h != winner {
			t.Fatalf("ClaimCreation holders differ: %v", holders)
		}
		if h == fmt.Sprintf("i:d%d", i) {
			own++
		}
	}
	if own != 1 {
		t.Fatalf("%d deliveries hold the creation (%v), want 1", own, holders)
	}
	if h, _ := o.CreationHolder(ctx, "i", "p1"); h != winner {
		t.Fatalf("CreationHolder = %q, want %q", h, winner)
	}
	if h, _ := o.ClaimCreation(ctx, "i", "p1", winner); h != winner {
		t.Errorf("the holder claiming again got %q, want itself", h)
	}
	if h, _ := o.ClaimCreation(ctx, "other-instance", "p1", "other-instance:d1"); h != "other-instance:d1" {
		t.Errorf("another instance's prospect p1 is held by %q", h)
	}

	loser := "i:d0"
	if winner == loser {
		loser = "i:d1"
	}
	if err := o.ReleaseCreation(ctx, "i", "p1", loser); err != nil {
		t.Fatal(err)
	}
	if h, _ := o.CreationHolder(ctx, "i", "p1"); h != winner {
		t.Fatalf("ReleaseCreation by a non-holder changed the holder to %q", h)
	}
	if err := o.ReleaseCreation(ctx, "i", "p1", winner); err != nil {
		t.Fatal(err)
	}
	if h, _ := o.CreationHolder(ctx, "i", "p1"); h != "" {
		t.Fatalf("after the holder released: holder %q", h)
	}
	if h, _ := o.ClaimCreation(ctx, "i", "p1", loser); h != loser {
		t.Errorf("claiming after a release: holder %q, want %q", h, loser)
	}
}

func TestOutboxLeads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	if _, err := o.Lead(ctx, "i", "p1"); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("Lead before any: error = %v, want ErrNotFound", err)
	}
	want := zen7.Lead{
		InstanceID: "i", ProspectID: "p1", State: zen7.LeadStopped, Reason: zen7.ParseReason("some reason"), LeadID: 2345,
		Email: "ana@example.com", AssistantEmail: "ashley@7targets.test", ScheduleName: "Webinar Follow-up",
		Fingerprint: "abc123", SnapshotAt: outboxT0.Add(-time.Minute), ProspectStatus: "followUp",
		SevenTargetsState: "Cold", SubState: "Stopped", NextScheduleTime: outboxT0.Add(15 * time.Minute),
		LastAction: zen7.OutcomeStopped, LastError: "earlier 503", UpdatedAt: outboxT0,
	}
	if err := o.SaveLead(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := o.Lead(ctx, "i", "p1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lead (-want +got):\n%s", diff)
	}

	// Saving replaces the record: fields left empty are cleared, not kept.
	next := zen7.Lead{InstanceID: "i", ProspectID: "p1", State: zen7.LeadSkipped, Reason: zen7.ParseReason("automatic forwarding is off"), UpdatedAt: outboxT0.Add(time.Second)}
	if err := o.SaveLead(ctx, next); err != nil {
		t.Fatal(err)
	}
	if got, _ := o.Lead(ctx, "i", "p1"); !cmp.Equal(next, got) {
		t.Errorf("Lead after a second save (-want +got):\n%s", cmp.Diff(next, got))
	}
	if _, err := o.Lead(ctx, "other", "p1"); !errors.Is(err, zen7.ErrNotFound) {
		t.Errorf("another instance's prospect p1: error = %v, want ErrNotFound", err)
	}
}

func TestOutboxProspectDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	var ds []zen7.Delivery
	for i, id := range []string{"i:1", "i:2", "i:3", "i:4", "i:5"} {
		ds = append(ds, pending(id, "i", "p1", outboxT0.Add(time.Duration(i)*time.Minute)))
	}
	ds = append(ds, pending("i:x", "i", "p2", outboxT0), pending("j:1", "j", "p1", outboxT0))
	mustEnqueue(t, o, ds...)
	for _, d := range []zen7.Delivery{ds[0], ds[2], ds[3]} {
		finishAs(t, o, mustClaim(t, o, d, "w", outboxT0), zen7.StateDone, "")
	}

	tests := []struct {
		limit int
		want  []string
	}{
		{limit: 10, want: []string{"i:5", "i:2", "i:4", "i:3", "i:1"}},
		{limit: 3, want: []string{"i:5", "i:2", "i:4"}},
		{limit: 1, want: []string{"i:5"}},
	}
	for _, tt := range tests {
		got, err := o.ProspectDeliveries(ctx, "i", "p1", tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
			t.Errorf("ProspectDeliveries(limit %d): pending first, then finished, newest first (-want +got):\n%s", tt.limit, diff)
		}
	}
	if got, _ := o.ProspectDeliveries(ctx, "i", "nobody", 10); len(got) != 0 {
		t.Errorf("ProspectDeliveries of an unknown prospect = %v", ids(got))
	}
}

func TestOutboxStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	if depth, oldest, err := o.Stats(ctx); err != nil || depth != 0 || !oldest.IsZero() {
		t.Fatalf("Stats of an empty outbox = %d, %v, %v", depth, oldest, err)
	}
	a := pending("i:a", "i", "p1", outboxT0.Add(time.Minute))
	b := pending("i:b", "i", "p2", outboxT0)
	c := pending("i:c", "i", "p3", outboxT0.Add(2*time.Minute))
	b.NextAttemptAt = outboxT0.Add(time.Hour) // the oldest is by creation, not by due time
	mustEnqueue(t, o, b, a, c)                // as the App stores them: each created as it is stored
	if depth, oldest, err := o.Stats(ctx); err != nil || depth != 3 || !oldest.Equal(outboxT0) {
		t.Fatalf("Stats = %d, %v, %v; want 3 and %v", depth, oldest, err, outboxT0)
	}
	finishAs(t, o, mustClaim(t, o, b, "w", outboxT0), zen7.StateDone, "")
	if depth, oldest, err := o.Stats(ctx); err != nil || depth != 2 || !oldest.Equal(a.CreatedAt) {
		t.Fatalf("Stats after finishing the oldest = %d, %v, %v; want 2 and %v", depth, oldest, err, a.CreatedAt)
	}
}

// TestOutboxUnlease checks that only the hand-over that stored a delivery can lift its lease,
// and only while no worker has claimed it.
func TestOutboxUnlease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lease := outboxT0.Add(time.Hour)
	tests := []struct {
		name      string
		owner     string // Unlease's
		claimed   bool   // a worker claimed the delivery after its lease passed
		wantLease bool   // the lease still holds after Unlease
	}{
		{name: "its own hand-over", owner: "w:h1", wantLease: false},
		{name: "another hand-over", owner: "w:h2", wantLease: true},
		{name: "claimed since", owner: "w:h1", claimed: true, wantLease: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, _ := newOutbox(t)
			d := pending("i:u", "i", "p1", outboxT0)
			d.Owner, d.LeaseUntil = "w:h1", lease
			mustEnqueue(t, o, d)
			if tt.claimed {
				mustClaim(t, o, mustDelivery(t, o, d.ID), "w2", lease.Add(time.Second))
			}
			if err := o.Unlease(ctx, d.ID, tt.owner); err != nil {
				t.Fatal(err)
			}
			got := mustDelivery(t, o, d.ID)
			if held := got.LeaseUntil.After(outboxT0); held != tt.wantLease {
				t.Errorf("after Unlease the lease runs to %v (owner %q), want held = %v", got.LeaseUntil, got.Owner, tt.wantLease)
			}
		})
	}
}

// TestOutboxDueExceptInstances checks that the poll can leave out the instances whose share of
// the worker is in flight, so that their backlog does not fill every batch.
func TestOutboxDueExceptInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	now := outboxT0
	var ds []zen7.Delivery
	for i := range 5 {
		ds = append(ds, pending(fmt.Sprintf("slow:d%d", i), "slow", fmt.Sprintf("p%d", i), now.Add(-time.Duration(10-i)*time.Minute)))
	}
	ds = append(ds, pending("fast:d", "fast", "p", now.Add(-time.Minute)), pending("other:d", "other", "p", now.Add(-time.Second)))
	mustEnqueue(t, o, ds...)
	for _, tc := range []struct {
		name   string
		except []string
		want   []string
	}{
		{"none left out: the oldest first", nil, []string{"slow:d0", "slow:d1"}},
		{"one left out", []string{"slow"}, []string{"fast:d", "other:d"}},
		{"two left out", []string{"slow", "fast"}, []string{"other:d"}},
	} {
		got, err := o.Due(ctx, now, 2, tc.except...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
			t.Errorf("%s: Due (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestOutboxFinishManyRecordsEach: one FinishMany records deliveries of every kind at once: a
// claimed one (its claim records go), a handed-over one never claimed, a first-round copy of
// one already in the history (the history keeps the first) and a later round (it replaces it),
// with the lead records two of them leave (one new, one replacing the record there). On the
// embedded store it runs again with the direct write alone, without the driver's fallback.
func TestOutboxFinishManyRecordsEach(t *testing.T) {
	t.Parallel()
	finishers := map[string]func(*store.Outbox, context.Context, []zen7.Finish) []error{"FinishMany": (*store.Outbox).FinishMany}
	if _, db := newOutbox(t); store.ReportFile(db) != "" {
		finishers["the direct write"] = func(o *store.Outbox, ctx context.Context, fs []zen7.Finish) []error {
			err := o.FinishManyDirect(ctx, fs)
			errs := make([]error, len(fs))
			for i := range errs {
				errs[i] = err
			}
			return errs
		}
	}
	for name, finish := range finishers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testFinishManyRecordsEach(t, finish)
		})
	}
}

func testFinishManyRecordsEach(t *testing.T, finish func(*store.Outbox, context.Context, []zen7.Finish) []error) {
	ctx := context.Background()
	o, db := newOutbox(t)
	mustEnqueue(t, o, pending("i:claimed", "i", "p1", outboxT0), pending("i:handed", "i", "p2", outboxT0),
		pending("i:copy", "i", "p3", outboxT0), pending("i:round", "i", "p4", outboxT0))
	claimed := mustClaim(t, o, mustDelivery(t, o, "i:claimed"), "w1", outboxT0)
	claimed = mustClaim(t, o, claimed, "w1", outboxT0.Add(2*time.Minute)) // the first claim's lease passed: two claim records
	handed := mustDelivery(t, o, "i:handed")
	copied := finishAs(t, o, mustClaim(t, o, mustDelivery(t, o, "i:copy"), "w1", outboxT0), zen7.StateFailed, "first")
	mustEnqueue(t, o, pending("i:copy", "i", "p3", outboxT0)) // a late copy of it enters the outbox again
	failedRound := finishAs(t, o, mustClaim(t, o, mustDelivery(t, o, "i:round"), "w1", outboxT0), zen7.StateFailed, "first")
	if err := o.Requeue(ctx, "i", failedRound.ID, outboxT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	round := mustClaim(t, o, mustDelivery(t, o, "i:round"), "w2", outboxT0.Add(time.Minute))
	lateCopy := mustClaim(t, o, mustDelivery(t, o, "i:copy"), "w2", outboxT0.Add(time.Minute))

	if err := o.SaveLead(ctx, zen7.Lead{InstanceID: "i", ProspectID: "p4", State: zen7.LeadSkipped}); err != nil {
		t.Fatal(err)
	}
	leads := map[string]*zen7.Lead{
		"i:claimed": {InstanceID: "i", ProspectID: "p1", State: zen7.LeadForwarded, LeadID: 11, Email: "p1@example.com"},
		"i:round":   {InstanceID: "i", ProspectID: "p4", State: zen7.LeadForwarded, LeadID: 14, Email: "p4@example.com"},
	}
	var fs []zen7.Finish
	var ds []zen7.Delivery
	for _, d := range []zen7.Delivery{claimed, handed, lateCopy, round} {
		d.State, d.Outcome, d.FinishedAt = zen7.StateDone, zen7.OutcomeCreated, outboxT0.Add(time.Hour)
		fs, ds = append(fs, zen7.Finish{Delivery: d, Lead: leads[d.ID]}), append(ds, d)
	}
	for i, err := range finish(o, ctx, fs) {
		if err != nil {
			t.Errorf("FinishMany: %s: %v", fs[i].Delivery.ID, err)
		}
	}
	got, err := o.LeadsFor(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		want := leads[d.ID]
		switch {
		case want == nil && got[i] != nil:
			t.Errorf("%s left no lead record, but its prospect has %+v", d.ID, got[i])
		case want != nil && (got[i] == nil || got[i].LeadID != want.LeadID || got[i].State != want.State):
			t.Errorf("lead record of %s = %+v, want %+v", d.ID, got[i], want)
		}
	}
	for _, id := range []string{"i:claimed", "i:handed", "i:round"} {
		if got := mustDelivery(t, o, id); got.State != zen7.StateDone || got.Outcome != zen7.OutcomeCreated {
			t.Errorf("%s = %s %s, want done created", id, got.State, got.Outcome)
		}
	}
	if got := mustDelivery(t, o, copied.ID); got.State != zen7.StateFailed {
		t.Errorf("the late copy overwrote the history of the first: %s", got.State)
	}
	for _, col := range []string{"outbox", "delivery_claims"} {
		docs, err := store.RawDocuments(ctx, db, col)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 0 {
			t.Errorf("%s after FinishMany: %v", col, docs)
		}
	}
}

// TestOutboxFinishManyHalfWritten: the store fails at each write of a FinishMany (the write
// lost, or landed with its reply lost). Whatever it leaves, no delivery is lost (each is in
// the outbox, to run again, or in the history), none is in the history without the lead record
// it left, each one whose outbox write was lost is still in the outbox, and finishing again
// those FinishMany failed for leaves every delivery recorded once and nothing pending.
func TestOutboxFinishManyHalfWritten(t *testing.T) {
	t.Parallel()
	srv := storetest.NewFaultServer(t)
	for write := 1; write <= 4; write++ {
		for _, mode := range []storetest.CrashMode{storetest.LoseWrite, storetest.LoseReply} {
			t.Run(fmt.Sprintf("write %d %s", write, mode), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				db, faults := srv.NewDB(t)
				o := store.NewOutbox(db)
				mustEnqueue(t, o, pending("i:a", "i", "pa", outboxT0), pending("i:b", "i", "pb", outboxT0), pending("i:c", "i", "pc", outboxT0))
				var fs []zen7.Finish
				var ds []zen7.Delivery
				for _, id := range []string{"i:a", "i:b", "i:c"} {
					d := mustDelivery(t, o, id)
					if id != "i:c" { // i:c is handed over: never claimed
						d = mustClaim(t, o, d, "w1", outboxT0)
					}
					d.State, d.Outcome, d.FinishedAt = zen7.StateDone, zen7.OutcomeCreated, outboxT0.Add(time.Hour)
					lead := &zen7.Lead{InstanceID: "i", ProspectID: d.Prospect.ID, State: zen7.LeadForwarded, LeadID: 7}
					fs, ds = append(fs, zen7.Finish{Delivery: d, Lead: lead}), append(ds, d)
				}
				faults.CrashAt(write, mode)
				errs := o.FinishMany(ctx, fs)
				if !faults.Crashed() {
					t.Fatalf("FinishMany made fewer than %d writes", write)
				}
				faults.Heal()
				pendingIDs, history := map[string]bool{}, map[string]bool{}
				for _, doc := range faults.Documents(t, "outbox") {
					pendingIDs[doc["_id"].(string)] = true
				}
				for _, doc := range faults.Documents(t, "deliveries") {
					history[doc["_id"].(string)] = true
				}
				leads, err := o.LeadsFor(ctx, ds)
				if err != nil {
					t.Fatal(err)
				}
				for i, d := range ds {
					if !pendingIDs[d.ID] && !history[d.ID] {
						t.Errorf("%s is neither pending nor in the history", d.ID)
					}
					if history[d.ID] && leads[i] == nil {
						t.Errorf("%s is in the history without the lead record it left", d.ID)
					}
					if errs[i] != nil && !pendingIDs[d.ID] && mode == storetest.LoseWrite && write < 4 {
						t.Errorf("%s: FinishMany failed (%v) before removing it, but its outbox entry is gone", d.ID, errs[i])
					}
				}
				// The deliveries run again: their outcome is recorded once, nothing is left.
				var again []zen7.Finish
				for i, f := range fs {
					if errs[i] != nil {
						again = append(again, f)
					}
				}
				if len(again) == 0 {
					t.Fatal("FinishMany reported no failure")
				}
				for i, err := range o.FinishMany(ctx, again) {
					if err != nil {
						t.Errorf("FinishMany again: %s: %v", again[i].Delivery.ID, err)
					}
				}
				for _, col := range []string{"outbox", "delivery_claims"} {
					if docs := faults.Documents(t, col); len(docs) != 0 {
						t.Errorf("%s after finishing again: %v", col, docs)
					}
				}
				if docs := faults.Documents(t, "deliveries"); len(docs) != len(ds) {
					t.Errorf("%d history entries, want %d", len(docs), len(ds))
				}
			})
		}
	}
}

// TestOutboxClaimManyOneWinnerEach: claimers racing with ClaimMany over the same deliveries
// take each exactly once, and the stored lease is the winner's.
func TestOutboxClaimManyOneWinnerEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	var all []zen7.Delivery
	for i := range 6 {
		d := pending(fmt.Sprintf("i:m%d", i), "i", fmt.Sprintf("p%d", i), outboxT0)
		mustEnqueue(t, o, d)
		all = append(all, mustDelivery(t, o, d.ID))
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		won = map[string][]string{} // delivery → owners that claimed it
	)
	for i := range 4 {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", i)
			got, err := o.ClaimMany(ctx, all, owner, outboxT0, outboxT0.Add(time.Minute))
			if err != nil {
				t.Errorf("%s: ClaimMany: %v", owner, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range got {
				if c.Claims != 1 || c.Owner != owner {
					t.Errorf("%s claimed %s with claims %d owner %q", owner, c.ID, c.Claims, c.Owner)
				}
				won[c.ID] = append(won[c.ID], owner)
			}
		})
	}
	wg.Wait()
	for _, d := range all {
		owners := won[d.ID]
		if len(owners) != 1 {
			t.Errorf("%s claimed by %v, want exactly one", d.ID, owners)
			continue
		}
		if stored := mustDelivery(t, o, d.ID); stored.Owner != owners[0] || stored.Claims != 1 {
			t.Errorf("%s stored owner %q claims %d, want %s and 1", d.ID, stored.Owner, stored.Claims, owners[0])
		}
	}
}

// TestOutboxClaimManyLeavesOutFinishedAndStepsOverStale: in one ClaimMany, a delivery that
// finished since it was read is not claimed (and leaves no claim record), one whose claim
// record belongs to a holder whose lease passed is claimed over it, and the others are
// claimed as usual.
func TestOutboxClaimManyLeavesOutFinishedAndStepsOverStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	mustEnqueue(t, o, pending("i:fin", "i", "p1", outboxT0), pending("i:stale", "i", "p2", outboxT0), pending("i:new", "i", "p3", outboxT0))
	fin := mustDelivery(t, o, "i:fin")
	finishAs(t, o, mustClaim(t, o, fin, "w0", outboxT0), zen7.StateDone, "")
	// A claimed the stale one and died; the outbox still reads 0 claims to whoever read it before.
	stale := mustDelivery(t, o, "i:stale")
	mustClaim(t, o, stale, "A", outboxT0)
	fresh := mustDelivery(t, o, "i:new")

	later := outboxT0.Add(2 * time.Minute)
	got, err := o.ClaimMany(ctx, []zen7.Delivery{fin, stale, fresh}, "B", later, later.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"i:stale", "i:new"}) {
		t.Fatalf("ClaimMany took %v, want i:stale and i:new", ids(got))
	}
	if got[0].Claims != 2 || got[1].Claims != 1 {
		t.Errorf("claims %d and %d, want 2 (A's stepped over) and 1", got[0].Claims, got[1].Claims)
	}
	for _, d := range got {
		if stored := mustDelivery(t, o, d.ID); stored.Owner != "B" || stored.Claims != d.Claims {
			t.Errorf("%s stored owner %q claims %d", d.ID, stored.Owner, stored.Claims)
		}
	}
	claims, err := store.RawDocuments(ctx, db, "delivery_claims")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims {
		if id := c["_id"].(string); strings.HasPrefix(id, "i:fin:") {
			t.Errorf("claim record %s of the finished delivery left behind", id)
		}
	}
}

// TestDueQueriesAgree checks the due query: on the embedded store it reads SQLite's due index
// directly (store/sqlitefile.go) and decodes the stored documents itself (store/sjson.go), and
// must return what the query through the driver returns, field for field, for every field of a
// delivery the outbox holds.
func TestDueQueriesAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	now := outboxT0
	full := pending("a:full", "a", "p-full", now.Add(-time.Hour))
	full.Prospect = zen7.Prospect{
		ID: "p-full", GroupID: "g1", FirstName: "José", LastName: `O"Brien — ünïcode`,
		Emails: []string{"a@example.com", "b@example.com"}, Phones: []string{"+5511999990000"},
		Status: "new", UTMSource: "site", GroupName: "Vendas", Category: "c", UTMMedium: "m", UTMCampaign: "camp",
		Provider: "chat-tonic", Comments: "line 1\nline 2 \\ \"quoted\"",
		NIN:       []zen7.NIN{{Type: "DNI", Number: "12345678"}, {Type: "CPF", Number: "000"}},
		UpdatedAt: now.Add(-90 * time.Minute), Partial: true,
	}
	full.Kind, full.Overrides = zen7.KindForward, zen7.Overrides{Email: "x@example.com", AssistantEmail: "ashley@7targets.test", ScheduleName: "s"}
	full.Attempts, full.LastError = 3, "7Targets answered 503"
	bare := zen7.Delivery{ID: "a:bare", InstanceID: "a", Kind: zen7.KindStop, Prospect: zen7.Prospect{ID: "p-bare"},
		State: zen7.StatePending, Pending: zen7.Pending{NextAttemptAt: now.Add(-time.Minute)}}
	other := pending("b:other", "b", "p-other", now.Add(-30*time.Minute))
	later := pending("a:later", "a", "p-later", now.Add(time.Minute))
	claimed := pending("a:claimed", "a", "p-claimed", now.Add(-2*time.Hour))
	released := pending("a:released", "a", "p-released", now.Add(-3*time.Hour))
	mustEnqueue(t, o, full, bare, other, later, claimed, released)
	mustClaim(t, o, claimed, "w1", now)
	if err := o.Release(ctx, mustClaim(t, o, released, "w1", now.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		now    time.Time
		n      int
		except []string
	}{
		{"due now", now, 10, nil},
		{"at most n", now, 2, nil},
		{"except an instance", now, 10, []string{"b"}},
		{"except several", now, 10, []string{"b", "a"}},
		{"once the lease and the wait are over", now.Add(2 * time.Minute), 10, nil},
		{"before anything", now.Add(-24 * time.Hour), 10, nil},
	}
	for _, tt := range tests {
		want, err := o.DueQuery(ctx, tt.now, tt.n, tt.except...)
		if err != nil {
			t.Fatalf("%s: DueQuery: %v", tt.name, err)
		}
		got, err := o.Due(ctx, tt.now, tt.n, tt.except...)
		if err != nil {
			t.Fatalf("%s: Due: %v", tt.name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Due against the driver's query (-want +got):\n%s", tt.name, diff)
		}
		if store.ReportFile(db) == "" {
			continue // MongoDB: one query
		}
		direct, err := o.DueDirect(ctx, tt.now, tt.n, tt.except...)
		if err != nil {
			t.Fatalf("%s: the direct read failed (Due fell back to the driver): %v", tt.name, err)
		}
		if diff := cmp.Diff(want, direct); diff != "" {
			t.Errorf("%s: the direct read against the driver's query (-want +got):\n%s", tt.name, diff)
		}
	}
	if got, _ := o.Due(ctx, now.Add(2*time.Minute), 10); len(got) != 6 {
		t.Errorf("Due once everything is due: %d deliveries, want 6 (the seeds are not what the test meant)", len(got))
	}
}

// TestStatsQueriesAgree: on the embedded store, Stats reads the outbox's depth and oldest entry
// from the SQLite file, the oldest as the one stored first; what it reads must be what the
// driver's queries find (the oldest by creation time), as entries are stored, claimed, finished,
// put back and sent round again. It is skipped on MongoDB, which has no file to read.
func TestStatsQueriesAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	if !db.Embedded() {
		t.Skip("MongoDB: Stats goes through the driver alone")
	}
	ds := make([]zen7.Delivery, 5)
	for i := range ds {
		ds[i] = pending(fmt.Sprintf("s:%d", i), "s", fmt.Sprintf("p%d", i), outboxT0.Add(time.Duration(i)*time.Minute))
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"empty", func(*testing.T) {}},
		{"stored", func(t *testing.T) { mustEnqueue(t, o, ds[:3]...) }},
		{"the oldest claimed", func(t *testing.T) { mustClaim(t, o, ds[0], "w1", outboxT0.Add(time.Hour)) }},
		{"the oldest finished", func(t *testing.T) {
			d := mustClaim(t, o, ds[1], "w1", outboxT0.Add(time.Hour))
			first := mustDelivery(t, o, ds[0].ID)
			for _, f := range []zen7.Delivery{d, first} {
				f.State, f.Outcome, f.FinishedAt = zen7.StateDone, zen7.OutcomeCreated, outboxT0.Add(time.Hour)
				if err := o.Finish(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"more stored", func(t *testing.T) { mustEnqueue(t, o, ds[3:]...) }},
		{"one put back", func(t *testing.T) {
			if err := o.Release(ctx, mustClaim(t, o, ds[2], "w1", outboxT0.Add(2*time.Hour))); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, s := range steps {
		s.do(t)
		wantN, wantOldest, err := o.StatsQuery(ctx)
		if err != nil {
			t.Fatalf("%s: through the driver: %v", s.name, err)
		}
		n, oldest, err := o.StatsDirect(ctx)
		if err != nil || n != wantN || !oldest.Equal(wantOldest) {
			t.Errorf("%s: from the file %d, %v, %v; through the driver %d, %v", s.name, n, oldest, err, wantN, wantOldest)
		}
	}
}

// TestOutboxClaimCreationsOneHolderEach: processes reserving overlapping prospects' creations
// with ClaimCreations, and one with ClaimCreation, get one holder per prospect, and every
// answer names that holder.
func TestOutboxClaimCreationsOneHolderEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	const claimers, prospects = 4, 10 // more than one update command's worth on the embedded store
	batch := func(c int) []zen7.Delivery {
		var ds []zen7.Delivery
		for p := range prospects {
			ds = append(ds, pending(fmt.Sprintf("i:c%d-p%d", c, p), "i", fmt.Sprintf("p%d", p), outboxT0))
		}
		return ds
	}
	answers := make([][]string, claimers)
	var wg sync.WaitGroup
	for c := range claimers {
		wg.Go(func() {
			holders, errs := o.ClaimCreations(ctx, batch(c))
			for i, err := range errs {
				if err != nil {
					t.Errorf("claimer %d, prospect %d: %v", c, i, err)
				}
			}
			answers[c] = holders
		})
	}
	wg.Go(func() {
		if _, err := o.ClaimCreation(ctx, "i", "p3", "i:single"); err != nil {
			t.Errorf("ClaimCreation: %v", err)
		}
	})
	wg.Wait()
	for p := range prospects {
		holder, err := o.CreationHolder(ctx, "i", fmt.Sprintf("p%d", p))
		if err != nil || holder == "" {
			t.Fatalf("p%d: holder %q, %v", p, holder, err)
		}
		for c := range claimers {
			if got := answers[c][p]; got != holder {
				t.Errorf("p%d: claimer %d was told %q holds it, the store says %q", p, c, got, holder)
			}
		}
	}
}

// TestOutboxSaveLeadsEach: SaveLeads writes every record of a batch larger than one update
// command on the embedded store, replacing those there already, and a failed batch fails each.
func TestOutboxSaveLeadsEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, _ := newOutbox(t)
	if err := o.SaveLead(ctx, zen7.Lead{InstanceID: "i", ProspectID: "p4", State: zen7.LeadSkipped, Reason: zen7.ParseReason("automatic forwarding is off")}); err != nil {
		t.Fatal(err)
	}
	var ls []zen7.Lead
	for p := range 11 {
		ls = append(ls, zen7.Lead{InstanceID: "i", ProspectID: fmt.Sprintf("p%d", p), State: zen7.LeadForwarded, LeadID: int64(1000 + p),
			Email: fmt.Sprintf("p%d@example.com", p), UpdatedAt: outboxT0})
	}
	for i, err := range o.SaveLeads(ctx, ls) {
		if err != nil {
			t.Errorf("%s: %v", ls[i].ProspectID, err)
		}
	}
	for _, want := range ls {
		got, err := o.Lead(ctx, want.InstanceID, want.ProspectID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", want.ProspectID, diff)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for i, err := range o.SaveLeads(cancelled, ls[:3]) {
		if err == nil {
			t.Errorf("%s: saved with a cancelled context", ls[i].ProspectID)
		}
	}
}

// fullLead is a lead record of instance i with every field set, strings that need escaping
// and a lead id past 32 bits.
func fullLead() zen7.Lead {
	return zen7.Lead{
		InstanceID: "i", ProspectID: `p<&>"ü`, State: zen7.LeadStopped, Reason: zen7.Reason{Code: zen7.ReasonRefused, Status: 422, After: 1500 * time.Millisecond, Detail: "bad \"email\"\n"},
		LeadID: 1 << 40, Email: "ana@example.com", AssistantEmail: "ashley@7targets.test", ScheduleName: "Webinar Follow-up",
		RoutedBy: zen7.RoutedByAgent, Rule: "r1", Fingerprint: "abc123", SnapshotAt: outboxT0.Add(-time.Minute), ProspectStatus: "followUp",
		SevenTargetsState: "Cold", SubState: "Stopped", NextScheduleTime: outboxT0.Add(15 * time.Minute),
		LastAction: zen7.OutcomeStopped, LastError: "earlier 503", UpdatedAt: outboxT0,
	}
}

// TestReadsByIDAgree checks the worker's batch reads: on the embedded store they read
// the App's _id index in SQLite directly (store/sqlitefile.go) and decode the stored lead records
// themselves, and must return what the queries through the driver return, for every field of
// a lead record, ids that need escaping included.
func TestReadsByIDAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	full := fullLead()
	bare := zen7.Lead{InstanceID: "i", ProspectID: "p-bare", State: zen7.LeadSkipped}
	for _, l := range []zen7.Lead{full, bare} {
		if err := o.SaveLead(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	d := pending(`i:<d&1>`, "i", "p1", outboxT0)
	mustEnqueue(t, o, d, pending("i:d2", "i", "p2", outboxT0))
	finishAs(t, o, mustClaim(t, o, mustDelivery(t, o, d.ID), "w", outboxT0), zen7.StateDone, "")

	of := func(prospects ...string) []zen7.Delivery {
		var ds []zen7.Delivery
		for _, p := range prospects {
			ds = append(ds, zen7.Delivery{InstanceID: "i", Prospect: zen7.Prospect{ID: p}})
		}
		return ds
	}
	tests := []struct {
		name string
		ids  []string
		ds   []zen7.Delivery
	}{
		{"one of each", []string{d.ID}, of(full.ProspectID)},
		{"several, some missing", []string{d.ID, "i:d2", "i:none"}, of(full.ProspectID, "p-none", "p-bare")},
		{"none there", []string{"i:none"}, of("p-none")},
		{"another instance's", []string{d.ID}, []zen7.Delivery{{InstanceID: "j", Prospect: zen7.Prospect{ID: "p-bare"}}}},
	}
	for _, tt := range tests {
		wantIn, wantLeads, err := o.ReadsByIDQuery(ctx, tt.ids, tt.ds)
		if err != nil {
			t.Fatalf("%s: the driver's query: %v", tt.name, err)
		}
		if store.ReportFile(db) == "" {
			continue // MongoDB: the queries are the reads
		}
		in, leads, err := o.ReadsByIDDirect(ctx, tt.ids, tt.ds)
		if err != nil {
			t.Fatalf("%s: the direct read: %v", tt.name, err)
		}
		if diff := cmp.Diff(wantIn, in, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: in the history (-driver +direct):\n%s", tt.name, diff)
		}
		if diff := cmp.Diff(wantLeads, leads); diff != "" {
			t.Errorf("%s: lead records (-driver +direct):\n%s", tt.name, diff)
		}
	}
	if _, leads, _ := o.ReadsByIDQuery(ctx, []string{"i:none"}, of(full.ProspectID)); len(leads) != 1 || leads[0] == nil || !cmp.Equal(*leads[0], full) {
		t.Errorf("the driver's query does not return the lead record saved: %v", leads)
	}
}

// TestDeleteIDs: FinishMany's delete of a batch of finished outbox entries (or their claim
// records) removes exactly the documents with the _ids given, ids that need escaping included,
// and the driver then finds them neither by _id nor in a scan. On the embedded store it is
// checked straight from SQLite, without the fallback to the driver.
func TestDeleteIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	embedded := store.ReportFile(db) != ""
	del := store.DeleteIDs
	if embedded {
		del = store.DeleteIDsDirect
	}
	all := []string{`i:<a&1>"ü`, "i:b", "i:c", "i:d"}
	for _, id := range all {
		mustEnqueue(t, o, pending(id, "i", "p-"+id, outboxT0))
	}
	tests := []struct {
		name   string
		delete []string
		left   []string
	}{
		{"one that needs escaping", []string{all[0]}, all[1:]},
		{"several, one not there", []string{"i:b", "i:none", "i:d"}, []string{"i:c"}},
		{"none there", []string{"i:none"}, []string{"i:c"}},
	}
	for _, tt := range tests {
		if err := del(ctx, db, "outbox", tt.delete); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		docs, err := store.RawDocuments(ctx, db, "outbox")
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, d := range docs {
			left = append(left, d["_id"].(string))
		}
		if diff := cmp.Diff(tt.left, left, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("%s: left in the outbox (-want +got):\n%s", tt.name, diff)
		}
		for _, id := range tt.delete {
			if _, err := o.Delivery(ctx, id); !errors.Is(err, zen7.ErrNotFound) {
				t.Errorf("%s: %s found by _id after its delete: %v", tt.name, id, err)
			}
		}
	}
	if err := store.DeleteIDsDirect(ctx, db, "leads", []string{"i:c"}); embedded && err == nil {
		t.Error("a direct delete from a collection other than the outbox's and its claims' was made")
	}
}

// TestSetClaims checks the claims' guarded update: on the embedded store straight in SQLite
// (without the driver's fallback), on MongoDB through the driver. Each entry is then read
// back through the driver, which must see what was set.
func TestSetClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	set := store.SetClaims
	if store.ReportFile(db) != "" {
		set = store.SetClaimsDirect
	}
	lease := outboxT0.Add(time.Minute)
	for _, id := range []string{`i:<a&1>"ü`, "i:b", "i:c"} {
		mustEnqueue(t, o, pending(id, "i", "p-"+id, outboxT0))
	}
	tests := []struct {
		name  string
		ids   []string
		ns    []int
		owner string
		taken []bool
		// want is each taken entry's claims and owner as read back; the others keep theirs.
		want map[string]zen7.Pending
	}{
		{
			name: "first claims, one id that needs escaping", ids: []string{`i:<a&1>"ü`, "i:b"}, ns: []int{1, 1}, owner: "w1",
			taken: []bool{true, true},
			want:  map[string]zen7.Pending{`i:<a&1>"ü`: {Claims: 1, Owner: "w1"}, "i:b": {Claims: 1, Owner: "w1"}},
		},
		{
			name: "a claim not above the entry's, one not there, one above", ids: []string{"i:b", "i:none", "i:c"}, ns: []int{1, 1, 3}, owner: "w2",
			taken: []bool{false, false, true},
			want:  map[string]zen7.Pending{"i:b": {Claims: 1, Owner: "w1"}, "i:c": {Claims: 3, Owner: "w2"}},
		},
		{
			name: "stepping over a claim", ids: []string{"i:b"}, ns: []int{3}, owner: "w3",
			taken: []bool{true},
			want:  map[string]zen7.Pending{"i:b": {Claims: 3, Owner: "w3"}},
		},
	}
	for _, tt := range tests {
		taken, err := set(ctx, o, tt.ids, tt.ns, tt.owner, lease)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.taken, taken); diff != "" {
			t.Errorf("%s: taken (-want +got):\n%s", tt.name, diff)
		}
		for id, want := range tt.want {
			got, err := o.Delivery(ctx, id)
			if err != nil {
				t.Fatalf("%s: reading %s back: %v", tt.name, id, err)
			}
			if got.Claims != want.Claims || got.Owner != want.Owner || !got.LeaseUntil.Equal(lease) {
				t.Errorf("%s: %s read back with claims %d, owner %q, lease %v; want %d, %q, %v",
					tt.name, id, got.Claims, got.Owner, got.LeaseUntil, want.Claims, want.Owner, lease)
			}
			if got.Prospect.ID != "p-"+id || !got.NextAttemptAt.Equal(outboxT0) {
				t.Errorf("%s: %s's other fields changed: %+v", tt.name, id, got)
			}
		}
	}
}

// TestSetClaimsEntryWithoutOwner: an outbox entry stored without an owner field (as versions
// before the owner was always stored wrote a delivery nobody had leased) is still claimed.
func TestSetClaimsEntryWithoutOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	old := bson.D{
		{Key: "_id", Value: "i:old"}, {Key: "instanceId", Value: "i"}, {Key: "kind", Value: "notification"},
		{Key: "prospect", Value: bson.D{{Key: "id", Value: "p1"}}},
		{Key: "snapshotAt", Value: outboxT0}, {Key: "createdAt", Value: outboxT0}, {Key: "round", Value: 0},
		{Key: "attempts", Value: 0}, {Key: "claims", Value: 0}, {Key: "nextAttemptAt", Value: outboxT0},
		{Key: "leaseUntil", Value: time.Unix(0, 0).UTC()}, {Key: "state", Value: "pending"},
	}
	if err := store.InsertRaw(ctx, db, "outbox", old); err != nil {
		t.Fatal(err)
	}
	if store.ReportFile(db) != "" {
		taken, err := store.SetClaimsDirect(ctx, o, []string{"i:old"}, []int{1}, "w1", outboxT0.Add(time.Minute))
		if err != nil || taken[0] {
			t.Fatalf("the direct update took an entry whose schema has no owner: %v, %v", taken, err)
		}
	}
	got := mustClaim(t, o, zen7.Delivery{ID: "i:old"}, "w1", outboxT0)
	stored, err := o.Delivery(ctx, "i:old")
	if err != nil {
		t.Fatal(err)
	}
	if got.Claims != 1 || stored.Claims != 1 || stored.Owner != "w1" {
		t.Errorf("claimed %+v, stored %+v; want claim 1 by w1", got.Pending, stored.Pending)
	}
}

// TestEncodeSJSONAsFerretDB checks the documents written straight into the embedded store's
// file against FerretDB's own encoding of the same documents: each is inserted through the
// driver, and what FerretDB stored must be, as JSON, what encodeSJSON writes.
func TestEncodeSJSONAsFerretDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Always on an embedded store of its own, whatever MONGODB_TEST_URI says.
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir(), Database: "sjson", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	tests := []struct {
		name string
		doc  bson.D
	}{
		{"strings that need escaping", bson.D{{Key: "_id", Value: `i:<a&1>"ü`}, {Key: "s", Value: "line\n\t\u2028 \x01"}, {Key: "empty", Value: ""}}},
		{"numbers, dates and booleans", bson.D{
			{Key: "_id", Value: "n"}, {Key: "i", Value: int32(-7)}, {Key: "l", Value: int64(1) << 53}, {Key: "big", Value: int64(-1) << 62},
			{Key: "at", Value: bson.DateTime(outboxT0.UnixMilli())}, {Key: "before1970", Value: bson.DateTime(-1)},
			{Key: "t", Value: true}, {Key: "f", Value: false}, {Key: "null", Value: nil},
		}},
		{"nested documents and arrays", bson.D{
			{Key: "_id", Value: "o"},
			{Key: "why", Value: bson.D{{Key: "code", Value: "refused"}, {Key: "status", Value: int32(422)}, {Key: "afterMs", Value: int64(1500)}}},
			{Key: "empty", Value: bson.D{}},
			{Key: "list", Value: bson.A{"a", int32(1), bson.D{{Key: "x", Value: bson.A{}}}, false}}, // FerretDB stores no arrays in arrays
			{Key: "noItems", Value: bson.A{}},
		}},
		{"keys in their order, not sorted", bson.D{{Key: "_id", Value: "k"}, {Key: "z", Value: "1"}, {Key: "a", Value: "2"}, {Key: "m", Value: "3"}}},
	}
	for _, tt := range tests {
		if err := store.InsertRaw(ctx, db, "leads", tt.doc); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		stored, err := store.StoredLeadJSON(ctx, db, tt.doc[0].Value.(string))
		if err != nil {
			t.Fatalf("%s: reading what FerretDB stored: %v", tt.name, err)
		}
		raw, err := bson.Marshal(tt.doc)
		if err != nil {
			t.Fatal(err)
		}
		encoded, err := store.EncodeSJSON(raw)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var want, got any
		if err := json.Unmarshal(stored, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(encoded, &got); err != nil {
			t.Fatalf("%s: encoded %s, not JSON: %v", tt.name, encoded, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: encoded against FerretDB's (-FerretDB +encoded):\n%s", tt.name, diff)
		}
	}
	if _, err := store.EncodeSJSON(mustMarshal(t, bson.D{{Key: "_id", Value: "d"}, {Key: "x", Value: 1.5}})); err == nil {
		t.Error("a double was encoded; FerretDB writes some doubles its own way, so encodeSJSON must leave them to it")
	}
}

func mustMarshal(t *testing.T, doc bson.D) bson.Raw {
	t.Helper()
	raw, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestSaveLeadsDirect saves lead records, new ones and then the same replaced, straight into
// the embedded store's file (through the driver on MongoDB), and reads them back through the
// driver.
func TestSaveLeadsDirect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	save := func(ls []zen7.Lead) error {
		if errs := o.SaveLeads(ctx, ls); errors.Join(errs...) != nil {
			return errors.Join(errs...)
		}
		return nil
	}
	if store.ReportFile(db) != "" {
		save = func(ls []zen7.Lead) error { return o.SaveLeadsDirect(ctx, ls) }
	}
	full := fullLead()
	bare := zen7.Lead{InstanceID: "i", ProspectID: "p-bare", State: zen7.LeadSkipped}
	replaced := full
	replaced.State, replaced.Reason, replaced.LeadID, replaced.SubState, replaced.UpdatedAt = zen7.LeadForwarded, zen7.Reason{}, 7, "", outboxT0.Add(time.Hour)
	tests := []struct {
		name string
		save []zen7.Lead
	}{
		{"new records", []zen7.Lead{full, bare}},
		{"one replaced, one the same, with fewer fields than it had", []zen7.Lead{replaced, bare}},
	}
	for _, tt := range tests {
		if err := save(tt.save); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, want := range tt.save {
			got, err := o.Lead(ctx, want.InstanceID, want.ProspectID)
			if err != nil {
				t.Fatalf("%s: reading %s back: %v", tt.name, want.ProspectID, err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: %s read back (-saved +read):\n%s", tt.name, want.ProspectID, diff)
			}
		}
	}
	docs, err := store.RawDocuments(ctx, db, "leads")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Errorf("%d lead records stored, want 2 (a replace must not add one)", len(docs))
	}
}

// TestClaimAndReserveDirect checks ClaimMany's, EnqueueEach's and ClaimCreations' one
// transaction on the embedded store, without what the callers do for those it does not take,
// nor the driver's fallback: a claim record's
// insert decides (another's record already there, the delivery is not taken and its entry
// not touched), an entry that finished meanwhile leaves no record behind, and a reservation
// already held is not taken over.
func TestClaimAndReserveDirect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o, db := newOutbox(t)
	if store.ReportFile(db) == "" {
		return // MongoDB: ClaimMany's and ClaimCreations' own tests cover the driver's writes
	}
	mustEnqueue(t, o, pending("i:a", "i", "pa", outboxT0), pending("i:b", "i", "pb", outboxT0),
		pending("i:held", "i", "ph", outboxT0), pending("i:fin", "i", "pf", outboxT0))
	read := []zen7.Delivery{mustDelivery(t, o, "i:a"), mustDelivery(t, o, "i:b"), mustDelivery(t, o, "i:held"), mustDelivery(t, o, "i:fin")}
	mustClaim(t, o, read[2], "other", outboxT0)
	finishAs(t, o, mustClaim(t, o, read[3], "w0", outboxT0), zen7.StateDone, "")

	taken, err := o.ClaimDirect(ctx, read, "w1", outboxT0, outboxT0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, false, false}; !slices.Equal(taken, want) {
		t.Errorf("taken %v, want %v", taken, want)
	}
	for _, id := range []string{"i:a", "i:b"} {
		if d := mustDelivery(t, o, id); d.Claims != 1 || d.Owner != "w1" || !d.LeaseUntil.Equal(outboxT0.Add(time.Minute)) {
			t.Errorf("%s stored %+v, want claim 1 by w1", id, d.Pending)
		}
	}
	if d := mustDelivery(t, o, "i:held"); d.Owner != "other" {
		t.Errorf("the held delivery's entry says %q, want other's", d.Owner)
	}
	recs, err := store.RawDocuments(ctx, db, "delivery_claims")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s by %s", r["_id"], r["owner"]))
	}
	want := []string{"i:a:1 by w1", "i:b:1 by w1", "i:held:1 by other"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("claim records (-want +got):\n%s", diff)
	}

	// The intake's inserts: a copy of one queued is not inserted again, nor is one of two
	// copies in the same batch.
	again := pending("i:a", "i", "pa-copy", outboxT0)
	inserted, err := o.EnqueueDirect(ctx, []zen7.Delivery{again, pending("i:e", "i", "pe", outboxT0), pending("i:e", "i", "pe2", outboxT0)})
	if err != nil || !slices.Equal(inserted, []bool{false, true, false}) {
		t.Fatalf("EnqueueDirect = %v, %v; want [false true false]", inserted, err)
	}
	if d := mustDelivery(t, o, "i:a"); d.Prospect.ID != "pa" || d.Owner != "w1" {
		t.Errorf("the queued delivery was changed by its copy: %+v", d)
	}
	if d := mustDelivery(t, o, "i:e"); d.Prospect.ID != "pe" || d.State != zen7.StatePending {
		t.Errorf("the new delivery reads back as %+v", d)
	}

	if won, err := o.ReserveDirect(ctx, read[:2]); err != nil || !slices.Equal(won, []bool{true, true}) {
		t.Fatalf("first reservations: %v, %v", won, err)
	}
	other := read[0]
	other.ID = "i:a-copy"
	won, err := o.ReserveDirect(ctx, []zen7.Delivery{other, read[2]})
	if err != nil || !slices.Equal(won, []bool{false, true}) {
		t.Fatalf("a held reservation and a new one: %v, %v; want [false true]", won, err)
	}
	for _, d := range []zen7.Delivery{read[0], read[2]} {
		if holder, err := o.CreationHolder(ctx, "i", d.Prospect.ID); err != nil || holder != d.ID {
			t.Errorf("%s's reservation held by %q (%v), want %s", d.Prospect.ID, holder, err, d.ID)
		}
	}
}
