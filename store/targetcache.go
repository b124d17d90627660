package store

import (
	"sync"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// targetCache remembers what WebhookTarget read for each instance for a short time: every
// webhook needs it, and under load the read would cost as much as storing the webhook itself.
// This process's own changes to an instance's state or subscription drop its entry at once;
// changes made by another replica show after at most the TTL.
type targetCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	gen     uint64 // bumped by every forget: a read that began before it is not kept
	entries map[string]targetEntry
}

type targetEntry struct {
	state   zen7.State
	hash    string
	expires time.Time
}

// maxTargets bounds the cache; when full it starts over, which costs one read per instance.
const maxTargets = 100_000

func newTargetCache(ttl time.Duration) *targetCache {
	return &targetCache{ttl: ttl, now: time.Now, entries: make(map[string]targetEntry)}
}

// get returns the cached target of id, or the generation to pass to put after reading it.
func (c *targetCache) get(id string) (state zen7.State, hash string, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if ok && c.now().Before(e.expires) {
		return e.state, e.hash, true, c.gen
	}
	return "", "", false, c.gen
}

// put keeps what was read for id, unless something was forgotten since the read began.
func (c *targetCache) put(id string, state zen7.State, hash string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= maxTargets {
		clear(c.entries)
	}
	c.entries[id] = targetEntry{state: state, hash: hash, expires: c.now().Add(c.ttl)}
}

func (c *targetCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}
