package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

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
