package seventargets

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// Paging of AllAssistants.
const (
	assistantPageSize = 100 // the largest page 7Targets serves
	// maxAssistantPages bounds one listing: an organisation with more assistants than this
	// is listed in part rather than read without end.
	maxAssistantPages = 50
	// assistantsTTL is how long a listing is reused: a settings save and the form read that
	// follows it, or a burst of page loads, ask 7Targets once.
	assistantsTTL = time.Minute
)

// assistantCache holds one listing of assistants per caller key (an App instance), with a
// fingerprint of the credentials that read it, as tokenCache does.
type assistantCache struct {
	mu      sync.Mutex
	entries map[string]cachedAssistants
	max     int
}

type cachedAssistants struct {
	fp   [sha256.Size]byte
	user string
	list []Assistant
	at   time.Time
}

func newAssistantCache(max int) *assistantCache {
	return &assistantCache{entries: make(map[string]cachedAssistants), max: max}
}

func (ac *assistantCache) get(key string, creds Credentials, now time.Time) ([]Assistant, bool) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	e, ok := ac.entries[key]
	if !ok || e.fp != fingerprint(creds) || e.user != creds.UserIdentifier || now.Sub(e.at) >= assistantsTTL {
		return nil, false
	}
	return e.list, true
}

func (ac *assistantCache) put(key string, creds Credentials, list []Assistant, now time.Time) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if _, ok := ac.entries[key]; !ok && len(ac.entries) >= ac.max {
		for k, e := range ac.entries {
			if now.Sub(e.at) >= assistantsTTL {
				delete(ac.entries, k)
			}
		}
		for k := range ac.entries { // still full: any one goes
			if len(ac.entries) < ac.max {
				break
			}
			delete(ac.entries, k)
		}
	}
	ac.entries[key] = cachedAssistants{fp: fingerprint(creds), user: creds.UserIdentifier, list: list, at: now}
}

func (ac *assistantCache) forget(key string) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	delete(ac.entries, key)
}

// AllAssistants returns every assistant 7Targets lists for creds, reading page after page
// until a short one. The listing is cached per key and credentials for a minute; callers
// must not change the slice.
func (c *Client) AllAssistants(ctx context.Context, key string, creds Credentials) ([]Assistant, error) {
	if list, ok := c.assistants.get(key, creds, time.Now()); ok {
		return list, nil
	}
	var all []Assistant
	for page := range maxAssistantPages {
		got, err := c.Assistants(ctx, key, creds, AssistantQuery{Page: page, Size: assistantPageSize})
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
		if len(got) < assistantPageSize {
			break
		}
	}
	c.assistants.put(key, creds, all, time.Now())
	return all, nil
}
