package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// chatTonicT0 is a fixed time with the store's millisecond precision.
var chatTonicT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newChatTonicSource is the source a poller records when it first sees inst configured at
// chatTonicT0, due at once.
func newChatTonicSource(inst string) zen7.ChatTonicSource {
	return zen7.ChatTonicSource{
		InstanceID: inst, Codename: "acme_bot", ConfiguredAt: chatTonicT0, Watermark: chatTonicT0.Add(-24 * time.Hour),
	}
}

// createSource records src and returns it as read back: what a poller starts from.
func createSource(tb testing.TB, s *store.ChatTonicSources, src zen7.ChatTonicSource) zen7.ChatTonicSource {
	tb.Helper()
	if err := s.CreateChatTonicSource(tb.Context(), src); err != nil {
		tb.Fatal(err)
	}
	read, err := s.ChatTonicSource(tb.Context(), src.InstanceID)
	if err != nil {
		tb.Fatal(err)
	}
	return read
}

// TestChatTonicSourceCreateOnce checks that an instance's source is created once, unleased
// whatever the creator says, and reads back as written.
func TestChatTonicSourceCreateOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := store.NewChatTonicSources(storetest.NewDB(t))
	if _, err := s.ChatTonicSource(ctx, "inst-1"); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("ChatTonicSource before any: %v, want ErrNotFound", err)
	}
	src := newChatTonicSource("inst-1")
	src.Lease, src.Owner = 7, "someone" // a creator cannot hand itself a lease
	if err := s.CreateChatTonicSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	again := newChatTonicSource("inst-1")
	again.Codename = "other_bot"
	if err := s.CreateChatTonicSource(ctx, again); !errors.Is(err, zen7.ErrConflict) {
		t.Errorf("second create: %v, want ErrConflict", err)
	}
	got, err := s.ChatTonicSource(ctx, "inst-1")
	if err != nil {
		t.Fatal(err)
	}
	want := newChatTonicSource("inst-1")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("source as created (-want +got):\n%s", diff)
	}
}

// TestChatTonicSourceTakeOnlyWhenDue checks each condition of a take: the lease must have
// passed and the poll be due (both at now counting as passed), and the source be as read.
func TestChatTonicSourceTakeOnlyWhenDue(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := store.NewChatTonicSources(storetest.NewDB(t))
	now := chatTonicT0.Add(time.Hour)
	tests := []struct {
		name                 string
		nextPoll, leaseUntil time.Time
		staleRead            bool // take from a read older than the stored lease number
		want                 error
	}{
		{name: "due and lease passed", nextPoll: now.Add(-time.Minute), leaseUntil: now.Add(-time.Minute)},
		{name: "due and lease ending now", nextPoll: now, leaseUntil: now},
		{name: "lease still held", nextPoll: now.Add(-time.Minute), leaseUntil: now.Add(time.Millisecond), want: zen7.ErrClaimed},
		{name: "not due yet", nextPoll: now.Add(time.Millisecond), leaseUntil: now.Add(-time.Minute), want: zen7.ErrClaimed},
		{name: "taken since it was read", nextPoll: now.Add(-time.Minute), leaseUntil: now.Add(-time.Minute), staleRead: true, want: zen7.ErrClaimed},
	}
	for i, tt := range tests {
		src := newChatTonicSource(fmt.Sprintf("inst-%d", i))
		src.NextPollAt, src.LeaseUntil = tt.nextPoll, tt.leaseUntil
		read := createSource(t, s, src)
		if tt.staleRead {
			// Another process took and released it after this one read it.
			other, err := s.TakeChatTonicSource(ctx, read, "other", now, now.Add(time.Minute))
			if err != nil {
				t.Fatalf("%s: the other process's take: %v", tt.name, err)
			}
			other.LeaseUntil = tt.leaseUntil
			if err := s.SaveChatTonicSource(ctx, other); err != nil {
				t.Fatalf("%s: the other process's save: %v", tt.name, err)
			}
		}
		got, err := s.TakeChatTonicSource(ctx, read, "me", now, now.Add(time.Minute))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: take = %v, want %v", tt.name, err, tt.want)
			continue
		}
		stored, serr := s.ChatTonicSource(ctx, src.InstanceID)
		if serr != nil {
			t.Fatal(serr)
		}
		if tt.want != nil {
			if stored.Owner == "me" {
				t.Errorf("%s: refused, yet the store names me the owner: %+v", tt.name, stored)
			}
			continue
		}
		wantLease := zen7.ChatTonicSource{Lease: read.Lease + 1, Owner: "me", LeaseUntil: now.Add(time.Minute)}
		for what, s := range map[string]zen7.ChatTonicSource{"returned": got, "stored": stored} {
			if s.Lease != wantLease.Lease || s.Owner != wantLease.Owner || !s.LeaseUntil.Equal(wantLease.LeaseUntil) {
				t.Errorf("%s: %s lease %d of %q until %v, want %d of %q until %v", tt.name, what,
					s.Lease, s.Owner, s.LeaseUntil, wantLease.Lease, wantLease.Owner, wantLease.LeaseUntil)
			}
		}
	}
}

// TestChatTonicSourceTakeOver follows a source from one holder to another: the holder's
// progress is kept, no one else takes it while the lease holds, another takes over once it
// passed and sees the progress, and the old holder can then write nothing.
func TestChatTonicSourceTakeOver(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := store.NewChatTonicSources(storetest.NewDB(t))
	read := createSource(t, s, newChatTonicSource("inst-1"))
	now := chatTonicT0
	a, err := s.TakeChatTonicSource(ctx, read, "a", now, now.Add(2*time.Minute))
	if err != nil {
		t.Fatalf("a takes it: %v", err)
	}
	if _, err := s.TakeChatTonicSource(ctx, read, "b", now, now.Add(2*time.Minute)); !errors.Is(err, zen7.ErrClaimed) {
		t.Errorf("b takes it from the same read: %v, want ErrClaimed", err)
	}
	fresh, _ := s.ChatTonicSource(ctx, "inst-1")
	if _, err := s.TakeChatTonicSource(ctx, fresh, "b", now.Add(time.Minute), now.Add(3*time.Minute)); !errors.Is(err, zen7.ErrClaimed) {
		t.Errorf("b takes it while a's lease holds: %v, want ErrClaimed", err)
	}

	// a reads a page and saves its progress, renewing its lease, then goes silent.
	a.Watermark, a.LastGoodRead = now, now.Add(time.Second)
	a.Groups, a.ReadByDay = []string{"sacarTarjeta/Sacar Tarjeta"}, map[string]int{"2026-02-28": 3, "2026-03-01": 5}
	a.LastError, a.LastErrorAt, a.Failing, a.Failures = "chattonic.Records acme_bot: 503", now.Add(-time.Hour), true, 2
	a.LeaseUntil = now.Add(3 * time.Minute)
	if err := s.SaveChatTonicSource(ctx, a); err != nil {
		t.Fatalf("a saves: %v", err)
	}
	fresh, _ = s.ChatTonicSource(ctx, "inst-1")
	if _, err := s.TakeChatTonicSource(ctx, fresh, "b", now.Add(150*time.Second), now.Add(5*time.Minute)); !errors.Is(err, zen7.ErrClaimed) {
		t.Errorf("b takes it after a's first lease but within its renewal: %v, want ErrClaimed", err)
	}

	later := now.Add(3 * time.Minute)
	fresh, _ = s.ChatTonicSource(ctx, "inst-1")
	b, err := s.TakeChatTonicSource(ctx, fresh, "b", later, later.Add(2*time.Minute))
	if err != nil {
		t.Fatalf("b takes over once a's lease passed: %v", err)
	}
	want := a
	want.Lease, want.Owner, want.LeaseUntil = 2, "b", later.Add(2*time.Minute)
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("taken over as (-want +got):\n%s", diff)
	}

	stale := a
	stale.Watermark, stale.Groups = later, nil
	if err := s.SaveChatTonicSource(ctx, stale); !errors.Is(err, zen7.ErrClaimed) {
		t.Errorf("a saves after the take-over: %v, want ErrClaimed", err)
	}
	if got, _ := s.ChatTonicSource(ctx, "inst-1"); !got.Watermark.Equal(now) || len(got.Groups) != 1 {
		t.Errorf("after a's refused save the store holds watermark %v and groups %v, want a's progress as b took it", got.Watermark, got.Groups)
	}

	b.Watermark, b.Failing, b.Failures, b.NextPollAt, b.LeaseUntil = later, false, 0, later.Add(time.Minute), later
	if err := s.SaveChatTonicSource(ctx, b); err != nil {
		t.Fatalf("b saves: %v", err)
	}
	got, err := s.ChatTonicSource(ctx, "inst-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("stored after b's save (-want +got):\n%s", diff)
	}
	if _, err := s.TakeChatTonicSource(ctx, got, "a", later, later.Add(2*time.Minute)); !errors.Is(err, zen7.ErrClaimed) {
		t.Errorf("a takes it back before its next poll is due: %v, want ErrClaimed", err)
	}
}

// TestChatTonicSourceTakeRace has several processes take a source from one read at once:
// exactly one holds it.
func TestChatTonicSourceTakeRace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := store.NewChatTonicSources(storetest.NewDB(t))
	read := createSource(t, s, newChatTonicSource("inst-1"))
	const takers = 8
	errs := make([]error, takers)
	var wg sync.WaitGroup
	for i := range takers {
		wg.Go(func() {
			_, errs[i] = s.TakeChatTonicSource(ctx, read, fmt.Sprintf("p%d", i), chatTonicT0, chatTonicT0.Add(time.Minute))
		})
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil && winner != "":
			t.Errorf("both %s and p%d took the source", winner, i)
		case err == nil:
			winner = fmt.Sprintf("p%d", i)
		case !errors.Is(err, zen7.ErrClaimed):
			t.Errorf("p%d: %v, want nil or ErrClaimed", i, err)
		}
	}
	got, err := s.ChatTonicSource(ctx, "inst-1")
	if err != nil {
		t.Fatal(err)
	}
	if winner == "" || got.Owner != winner || got.Lease != 1 {
		t.Errorf("winner %q; stored lease %d of %q, want lease 1 of the winner", winner, got.Lease, got.Owner)
	}
}

// TestKnownDeliveries checks that deliveries waiting in the outbox and finished ones are
// known, and others not.
func TestKnownDeliveries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	o, db := newOutbox(t)
	s := store.NewChatTonicSources(db)
	waiting := pending("inst-1:chattonic:waiting", "inst-1", "waiting", outboxT0)
	done := pending("inst-1:chattonic:done", "inst-1", "done", outboxT0)
	mustEnqueue(t, o, waiting, done)
	claimed := mustClaim(t, o, done, "w1", outboxT0)
	claimed.State, claimed.Outcome, claimed.FinishedAt = zen7.StateDone, zen7.OutcomeImported, outboxT0
	if err := o.Finish(ctx, claimed); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		ids  []string
		want map[string]bool
	}{
		{name: "none asked", ids: nil, want: map[string]bool{}},
		{name: "unknown", ids: []string{"inst-1:chattonic:new"}, want: map[string]bool{}},
		{name: "waiting, finished and unknown", ids: []string{waiting.ID, "inst-1:chattonic:new", done.ID},
			want: map[string]bool{waiting.ID: true, done.ID: true}},
		{name: "another instance's id", ids: []string{"inst-2:chattonic:done"}, want: map[string]bool{}},
		{name: "asked twice", ids: []string{done.ID, done.ID}, want: map[string]bool{done.ID: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.KnownDeliveries(ctx, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("KnownDeliveries(%v) (-want +got):\n%s", tt.ids, diff)
			}
		})
	}
}

// TestPagesChatTonicSource checks that the report reads an instance's Chat-Tonic source as the
// poller saved it, its state, funnel groups and records read per day included, and no other
// instance's; an instance without one is ErrNotFound.
func TestPagesChatTonicSource(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := storetest.NewDB(t)
	sources, pages := store.NewChatTonicSources(db), store.NewPages(db)
	now := time.Date(2026, 3, 3, 9, 15, 0, 0, time.UTC)

	if _, err := pages.ChatTonicSource(ctx, "inst-a"); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("before any source: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"inst-a", "inst-b"} {
		src := zen7.ChatTonicSource{InstanceID: id, Codename: "bot-" + id, ConfiguredAt: now.Add(-48 * time.Hour), Watermark: now.Add(-72 * time.Hour)}
		if err := sources.CreateChatTonicSource(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	got, err := pages.ChatTonicSource(ctx, "inst-a")
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastGoodRead.IsZero() || got.LastError != "" || got.Failing || got.Groups != nil || got.ReadByDay != nil {
		t.Errorf("a source never read: %+v, want no read, error, group or count", got)
	}

	taken, err := sources.TakeChatTonicSource(ctx, got, "poller-1", now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	taken.LastGoodRead = now.Add(-time.Hour)
	taken.LastError, taken.LastErrorAt, taken.Failing = "chattonic.funnels bot-inst-a: 401 Unauthorized", now, true
	taken.Groups = []string{"sacarTarjeta/Sacar Tarjeta", "prestamos/Préstamo"}
	taken.ReadByDay = map[string]int{"2026-03-01": 12, "2026-03-03": 3, "2026-02-28": 1}
	if err := sources.SaveChatTonicSource(ctx, taken); err != nil {
		t.Fatal(err)
	}
	got, err = pages.ChatTonicSource(ctx, "inst-a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(taken, got); diff != "" {
		t.Errorf("the report's read of the source differs from what was saved (-saved +read):\n%s", diff)
	}
	other, err := pages.ChatTonicSource(ctx, "inst-b")
	if err != nil {
		t.Fatal(err)
	}
	if other.Codename != "bot-inst-b" || other.Failing || other.ReadByDay != nil {
		t.Errorf("inst-b's source: %+v, want its own, untouched", other)
	}
	if _, err := pages.ChatTonicSource(ctx, "inst-unknown"); !errors.Is(err, zen7.ErrNotFound) {
		t.Errorf("an instance without a source: %v, want ErrNotFound", err)
	}
}
