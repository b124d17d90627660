package store

import (
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

func TestTargetCacheExpiresAndDropsStaleReads(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	c := newTargetCache(10 * time.Second)
	c.now = func() time.Time { return now }

	_, _, ok, gen := c.get("a")
	if ok {
		t.Fatal("hit on an empty cache")
	}
	c.put("a", zen7.StateEnabled, "h1", gen)
	if state, hash, ok, _ := c.get("a"); !ok || state != zen7.StateEnabled || hash != "h1" {
		t.Fatalf("get after put = %q, %q, %v", state, hash, ok)
	}
	now = now.Add(10 * time.Second)
	if _, _, ok, _ := c.get("a"); ok {
		t.Fatal("hit after the TTL")
	}

	// A read that began before a change must not be kept: it may hold the old value.
	_, _, _, gen = c.get("b")
	c.forget("b")
	c.put("b", zen7.StateEnabled, "old", gen)
	if _, _, ok, _ := c.get("b"); ok {
		t.Fatal("a read from before a change was kept")
	}
}

func TestTargetCacheStaysBounded(t *testing.T) {
	t.Parallel()
	c := newTargetCache(time.Hour)
	for i := range maxTargets + 10 {
		_, _, _, gen := c.get("x")
		c.put(string(rune(i)), zen7.StateEnabled, "h", gen)
	}
	if n := len(c.entries); n > maxTargets {
		t.Fatalf("%d entries, want at most %d", n, maxTargets)
	}
}
