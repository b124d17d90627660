package seventargets

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// tokenCache holds one access token per caller key (an App instance). A
// token is stored with a fingerprint of the credentials that obtained it, so
// new credentials under the same key never reuse the old token.
type tokenCache struct {
	flights singleflight.Group

	mu      sync.Mutex
	entries map[string]*cachedToken
	max     int
	// epoch changes on every Forget, so a token request that was already in
	// flight does not put back what Forget removed.
	epoch uint64
}

type cachedToken struct {
	fp        [sha256.Size]byte
	value     string
	refreshAt time.Time // when to stop handing it out
	expiry    time.Time
	lastUsed  time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{entries: make(map[string]*cachedToken), max: max}
}

func fingerprint(creds Credentials) [sha256.Size]byte {
	// Length-prefixing keeps ("ab","c") and ("a","bc") apart.
	h := sha256.New()
	for _, s := range []string{creds.ClientID, creds.ClientSecret} {
		var n [8]byte
		for i, l := 0, uint64(len(s)); i < 8; i++ {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	return fp
}

// get returns the usable token for key, unless it is stale: the caller just
// saw stale rejected with a 401 and needs a different one.
func (tc *tokenCache) get(key string, fp [sha256.Size]byte, stale string, now time.Time) (string, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.entries[key]
	if !ok {
		return "", false
	}
	if !now.Before(e.expiry) {
		delete(tc.entries, key)
		return "", false
	}
	if e.fp != fp || !now.Before(e.refreshAt) || (stale != "" && e.value == stale) {
		return "", false
	}
	e.lastUsed = now
	return e.value, true
}

func (tc *tokenCache) currentEpoch() uint64 {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.epoch
}

func (tc *tokenCache) put(key string, e *cachedToken, epoch uint64) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if epoch != tc.epoch {
		return
	}
	if _, ok := tc.entries[key]; !ok && len(tc.entries) >= tc.max {
		tc.evictLocked(e.lastUsed)
	}
	tc.entries[key] = e
}

// evictLocked makes room for one entry: expired tokens are useless, so they
// go first; if none, the least recently used goes. It scans the map, which is
// fine because it runs at most once per token request.
func (tc *tokenCache) evictLocked(now time.Time) {
	var (
		oldestKey string
		oldest    time.Time
		found     bool
	)
	for k, e := range tc.entries {
		if !now.Before(e.expiry) {
			delete(tc.entries, k)
			continue
		}
		if !found || e.lastUsed.Before(oldest) {
			oldestKey, oldest, found = k, e.lastUsed, true
		}
	}
	if found && len(tc.entries) >= tc.max {
		delete(tc.entries, oldestKey)
	}
}

func (tc *tokenCache) forget(key string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	delete(tc.entries, key)
	tc.epoch++
}

// token returns an access token for key and creds, requesting one when none
// is cached or the cached one is stale. At most one request per key and
// credentials is in flight: concurrent callers wait for it and share its
// result, so a cold cache or a burst of 401s costs one token request.
func (c *Client) token(ctx context.Context, op, key string, creds Credentials, stale string) (string, error) {
	fp := fingerprint(creds)
	if tok, ok := c.tokens.get(key, fp, stale, time.Now()); ok {
		return tok, nil
	}
	flight := key + "\x00" + string(fp[:])
	ch := c.tokens.flights.DoChan(flight, func() (any, error) {
		// A flight that finished just before this one started may already
		// have stored a fresh token.
		if tok, ok := c.tokens.get(key, fp, stale, time.Now()); ok {
			return tok, nil
		}
		epoch := c.tokens.currentEpoch()
		// The request serves every waiter, so it must not die with the
		// first caller's context; it has its own timeout instead.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		t, err := c.fetchToken(fctx, op, creds.ClientID, creds.ClientSecret)
		if err != nil {
			return nil, err
		}
		c.tokens.put(key, c.newCachedToken(fp, t.AccessToken, t.Expiry), epoch)
		return t.AccessToken, nil
	})
	select {
	case <-ctx.Done():
		return "", newAPIError(op, 0, ErrUnavailable, errorf("waiting for token: %v", ctx.Err()), ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			var apiErr *APIError
			if errors.As(res.Err, &apiErr) && apiErr.Op != op {
				// Shared with a caller doing another operation; report ours.
				cp := *apiErr
				cp.Op = op
				return "", &cp
			}
			return "", res.Err
		}
		return res.Val.(string), nil
	}
}

func (c *Client) newCachedToken(fp [sha256.Size]byte, value string, expiry time.Time) *cachedToken {
	now := time.Now()
	if expiry.IsZero() {
		expiry = now.Add(defaultTokenLifetime)
	}
	lifetime := expiry.Sub(now)
	refreshAt := expiry.Add(-c.early)
	if c.early > lifetime/2 {
		refreshAt = now.Add(lifetime / 2)
	}
	return &cachedToken{fp: fp, value: value, refreshAt: refreshAt, expiry: expiry, lastUsed: now}
}
