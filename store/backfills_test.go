package store_test

import (
	"errors"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// TestBackfillLease checks the one-at-a-time rules on the store: one start per instance while
// it runs, one holder of its lease, a lease whose holder went silent taken over, and the old
// holder then unable to write.
func TestBackfillLease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := store.NewBackfills(storetest.NewDB(t))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	job := zen7.Backfill{InstanceID: "inst-1", Seq: 1, Days: 3, WindowStart: now.Add(-72 * time.Hour), State: zen7.BackfillRunning, StartedAt: now, UpdatedAt: now}
	if err := s.StartBackfill(ctx, job); err != nil {
		t.Fatal(err)
	}
	if err := s.StartBackfill(ctx, job); !errors.Is(err, zen7.ErrConflict) {
		t.Errorf("starting backfill 1 again: %v, want ErrConflict", err)
	}
	next := job
	next.Seq = 2
	if err := s.StartBackfill(ctx, next); !errors.Is(err, zen7.ErrConflict) {
		t.Errorf("starting backfill 2 while 1 runs: %v, want ErrConflict", err)
	}

	runnable, err := s.RunnableBackfills(ctx, now, 10)
	if err != nil || len(runnable) != 1 {
		t.Fatalf("RunnableBackfills = %v, %v; want the one", runnable, err)
	}
	a, err := s.TakeBackfill(ctx, runnable[0], "a", now, now.Add(time.Minute))
	if err != nil {
		t.Fatalf("a takes it: %v", err)
	}
	if _, err := s.TakeBackfill(ctx, runnable[0], "b", now, now.Add(time.Minute)); !errors.Is(err, zen7.ErrClaimed) {
		t.Errorf("b takes it from the same read: %v, want ErrClaimed", err)
	}
	if got, _ := s.RunnableBackfills(ctx, now.Add(30*time.Second), 10); len(got) != 0 {
		t.Errorf("runnable while leased: %v", got)
	}
	a.Cursor, a.Found = "p10", 10
	if err := s.SaveBackfill(ctx, a); err != nil {
		t.Fatalf("a saves: %v", err)
	}

	// a goes silent: once its lease passed, b takes over and reads a's progress.
	later := now.Add(2 * time.Minute)
	runnable, err = s.RunnableBackfills(ctx, later, 10)
	if err != nil || len(runnable) != 1 {
		t.Fatalf("RunnableBackfills after the lease = %v, %v", runnable, err)
	}
	b, err := s.TakeBackfill(ctx, runnable[0], "b", later, later.Add(time.Minute))
	if err != nil {
		t.Fatalf("b takes over: %v", err)
	}
	if b.Cursor != "p10" || b.Found != 10 || b.Lease != 2 || b.Owner != "b" {
		t.Errorf("taken over as %+v, want a's cursor and counts under lease 2 of b", b)
	}
	a.Cursor = "p20"
	if err := s.SaveBackfill(ctx, a); !errors.Is(err, zen7.ErrClaimed) {
		t.Errorf("a saves after the take-over: %v, want ErrClaimed", err)
	}

	b.State, b.FinishedAt = zen7.BackfillDone, later
	if err := s.SaveBackfill(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.StartBackfill(ctx, next); err != nil {
		t.Errorf("starting backfill 2 once 1 is done: %v", err)
	}
	got, err := s.Backfill(ctx, "inst-1")
	if err != nil || got.Seq != 2 || got.State != zen7.BackfillRunning || got.Found != 0 {
		t.Errorf("Backfill = %+v, %v; want backfill 2 running from scratch", got, err)
	}
}
