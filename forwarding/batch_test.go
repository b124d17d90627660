package forwarding_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

func batchDelivery(id string) zen7.Delivery {
	now := time.Now().UTC()
	return zen7.Delivery{ID: id, InstanceID: "i", Kind: zen7.KindNotification,
		Prospect: zen7.Prospect{ID: id}, SnapshotAt: now, CreatedAt: now, Pending: zen7.Pending{NextAttemptAt: now}}
}

// countingStore counts the writes that reach the store.
type countingStore struct {
	*store.Outbox
	writes atomic.Int64
}

func (c *countingStore) EnqueueEach(ctx context.Context, ds []zen7.Delivery) ([]bool, error) {
	c.writes.Add(1)
	return c.Outbox.EnqueueEach(ctx, ds)
}

func TestBatcherGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outbox := store.NewOutbox(storetest.NewDB(t))
	cs := &countingStore{Outbox: outbox}
	b := forwarding.NewBatcher(cs, 5*time.Millisecond, 64)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(runCtx) }()

	// 100 callers, each with a delivery of its own and one shared by every caller.
	const callers = 100
	var wg sync.WaitGroup
	var newTotal, sharedNew atomic.Int64
	for i := range callers {
		wg.Go(func() {
			own := batchDelivery(fmt.Sprintf("i:own-%03d", i))
			inserted, err := b.EnqueueEach(ctx, []zen7.Delivery{own, batchDelivery("i:shared")})
			if err != nil {
				t.Errorf("EnqueueEach %d: %v", i, err)
				return
			}
			if len(inserted) != 2 || !inserted[0] {
				t.Errorf("EnqueueEach %d = %v, want its own delivery new", i, inserted)
				return
			}
			if inserted[1] {
				sharedNew.Add(1)
			}
			newTotal.Add(1)
			// Acknowledged means durable: it must be readable now.
			if _, err := outbox.Delivery(ctx, own.ID); err != nil {
				t.Errorf("delivery %s acknowledged but not stored: %v", own.ID, err)
			}
		})
	}
	wg.Wait()
	if got := newTotal.Load() + sharedNew.Load(); got != callers+1 {
		t.Fatalf("new deliveries = %d, want %d (each own one, and the shared one once)", got, callers+1)
	}
	if depth, _, _ := outbox.Stats(ctx); depth != callers+1 {
		t.Fatalf("outbox depth = %d, want %d", depth, callers+1)
	}
	if w := cs.writes.Load(); w >= callers {
		t.Errorf("%d writes for %d concurrent callers: nothing was grouped", w, callers)
	}
	t.Logf("%d callers written in %d inserts", callers, cs.writes.Load())

	// A caller that gave up before its batch was written stores nothing.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.EnqueueEach(gone, []zen7.Delivery{batchDelivery("i:gone")}); err == nil {
		t.Fatal("EnqueueEach with a cancelled context succeeded")
	}

	stop()
	<-done
	if _, err := b.EnqueueEach(ctx, []zen7.Delivery{batchDelivery("i:late")}); !errors.Is(err, forwarding.ErrStopped) {
		t.Fatalf("EnqueueEach after Run stopped = %v, want ErrStopped (and never a hang)", err)
	}
}
