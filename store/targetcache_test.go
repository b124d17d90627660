package store_test

import (
	"context"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// TestWebhookTargetCache: with the cache on, what another replica changes shows only after the
// TTL (an hour here, so never within the test), while this process's own changes to an
// instance's state or subscription show at once.
func TestWebhookTargetCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	keys := storetest.NewKeyring(t)
	here := store.NewInstances(db, keys)
	here.CacheWebhookTargets(time.Hour)
	replica := store.NewInstances(db, keys) // another process on the same database
	mustCreate(t, here, newInstance("inst-cache", "key-cache"))
	sub := func(s *store.Instances, id, hash string) {
		t.Helper()
		if err := s.SetSubscription(ctx, "inst-cache", zen7.Subscription{ID: id, At: time.Now()}, hash); err != nil {
			t.Fatal(err)
		}
	}
	want := func(step string, state zen7.State, hash string) {
		t.Helper()
		gotState, gotHash, err := here.WebhookTarget(ctx, "inst-cache")
		if err != nil || gotState != state || gotHash != hash {
			t.Fatalf("%s: WebhookTarget = %q, %q, %v; want %q, %q", step, gotState, gotHash, err, state, hash)
		}
	}

	sub(here, "sub-1", forwarding.HashToken("t1"))
	want("after subscribing here", zen7.StateEnabled, forwarding.HashToken("t1"))
	sub(replica, "sub-2", forwarding.HashToken("t2"))
	want("after another replica subscribed (cached)", zen7.StateEnabled, forwarding.HashToken("t1"))
	sub(here, "sub-3", forwarding.HashToken("t3"))
	want("after subscribing here again", zen7.StateEnabled, forwarding.HashToken("t3"))
	if _, err := here.SetState(ctx, "inst-cache", "key-cache", zen7.StateDisabled, time.Now()); err != nil {
		t.Fatal(err)
	}
	want("after disabling here", zen7.StateDisabled, forwarding.HashToken("t3"))
	if _, err := replica.SetState(ctx, "inst-cache", "key-cache", zen7.StateEnabled, time.Now()); err != nil {
		t.Fatal(err)
	}
	want("after another replica enabled it (a refusal is never cached)", zen7.StateEnabled, forwarding.HashToken("t3"))
	if _, err := here.SetState(ctx, "inst-cache", "key-cache", zen7.StateDisabled, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := here.ClearSubscription(ctx, "inst-cache", "sub-3"); err != nil {
		t.Fatal(err)
	}
	want("after unsubscribing here", zen7.StateDisabled, "")
	if _, err := here.SetState(ctx, "inst-cache", "key-cache", zen7.StateEnabled, time.Now()); err != nil {
		t.Fatal(err)
	}
	sub(here, "sub-4", forwarding.HashToken("t4"))
	if _, err := here.Uninstall(ctx, "inst-cache", "key-cache", time.Now()); err != nil {
		t.Fatal(err)
	}
	want("after uninstalling here", zen7.StateUninstalled, "")
	if _, _, err := here.WebhookTarget(ctx, "no-such-instance"); err != zen7.ErrNotFound {
		t.Fatalf("unknown instance: %v, want ErrNotFound", err)
	}
}
