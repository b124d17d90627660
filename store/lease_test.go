package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
)

// TestChatTonicLeaseOneWinnerAcrossProcesses races, round after round, twelve takers of one
// Chat-Tonic source spread over three clients of one store, each with the driver's own pool, as
// three App processes sharing one database are: on the embedded store their updates are
// unisolated, so only the unique insert of the lease claim can pick one winner.
func TestChatTonicLeaseOneWinnerAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	uri := os.Getenv("MONGODB_TEST_URI")
	if uri == "" {
		e, err := store.StartEmbedded(t.TempDir(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Stop)
		uri = e.URI()
	}
	database := fmt.Sprintf("lease_%d", time.Now().UnixNano())
	var procs []*store.ChatTonicSources
	for range 3 {
		db, err := store.Open(ctx, store.Config{URI: uri, Database: database})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close(context.Background()) })
		procs = append(procs, store.NewChatTonicSources(db))
	}
	t.Cleanup(func() {
		db, err := store.Open(ctx, store.Config{URI: uri, Database: database})
		if err == nil {
			_ = db.Drop(ctx)
			_ = db.Close(ctx)
		}
	})

	now := time.Now().UTC().Truncate(time.Millisecond)
	for round := range 8 {
		id := fmt.Sprintf("instance-%d", round)
		if err := procs[0].CreateChatTonicSource(ctx, zen7.ChatTonicSource{InstanceID: id, Codename: "bots"}); err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		for i := range 12 {
			p := procs[i%len(procs)]
			owner := fmt.Sprintf("process-%d/%d", i%len(procs), i)
			wg.Go(func() {
				src, err := p.ChatTonicSource(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := p.TakeChatTonicSource(ctx, src, owner, now, now.Add(time.Minute))
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
					if got.Owner != owner {
						t.Errorf("%s took the source, which says %s holds it", owner, got.Owner)
					}
				case !errors.Is(err, zen7.ErrClaimed):
					t.Errorf("%s: %v", owner, err)
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d takers won the lease (%v), want 1", round, len(winners), winners)
		}
		src, err := procs[1].ChatTonicSource(ctx, id)
		if err != nil || src.Owner != winners[0] || src.Lease != 1 {
			t.Fatalf("round %d: source %+v (%v), want leased once, to %s", round, src, err, winners[0])
		}
	}
}
