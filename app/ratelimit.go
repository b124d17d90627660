package app

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// errRateLimited is rendered as 429 with Retry-After.
var errRateLimited = errors.New("rate limited")

// Limit is a token-bucket rate: Rate requests per second on average, bursts of Burst.
type Limit struct {
	Rate  float64
	Burst int
}

// Limits are the rate limits per route family. Zero values take the defaults, which are far
// above what Zenvia Sales and its users do and far below what would hurt the App.
type Limits struct {
	// Webhook is per App instance, for webhooks whose token passed: a misbehaving sender cannot
	// starve the other instances, and only a holder of the instance's token can spend its budget.
	Webhook Limit
	// WebhookUnauthenticated is per client address, for webhooks whose token did not pass
	// (wrong, missing, unknown instance): instance ids are no secret, so these must not count
	// against the instance they name. A client past it gets 429 instead of 401; its webhooks
	// that do authenticate are still served.
	WebhookUnauthenticated Limit
	// Page is per client address (pages and actions, and failed signatures alike).
	Page Limit
	// Hook is per client address for the lifecycle hooks.
	Hook Limit
}

func (l Limits) withDefaults() Limits {
	def := func(v *Limit, d Limit) {
		if v.Rate <= 0 || v.Burst <= 0 {
			*v = d
		}
	}
	def(&l.Webhook, Limit{Rate: 100, Burst: 500})
	def(&l.WebhookUnauthenticated, Limit{Rate: 5, Burst: 50})
	def(&l.Page, Limit{Rate: 10, Burst: 40})
	def(&l.Hook, Limit{Rate: 20, Burst: 100})
	return l
}

// limiter keeps one token bucket per key, and forgets keys idle for long enough that their
// bucket is full again, so no input can make it grow without bound.
type limiter struct {
	limit Limit
	mu    sync.Mutex
	keys  map[string]*bucket
	swept time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxKeys bounds the map even under a flood of distinct keys; past it, the oldest half goes.
const maxKeys = 100_000

func newLimiter(l Limit) *limiter { return &limiter{limit: l, keys: map[string]*bucket{}} }

// allow takes a token for key, or says how long until one is free.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.keys[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.limit.Rate), l.limit.Burst)}
		l.keys[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiter) sweep(now time.Time) {
	refill := time.Duration(float64(l.limit.Burst)/l.limit.Rate*float64(time.Second)) + time.Second
	if now.Sub(l.swept) < refill && len(l.keys) < maxKeys {
		return
	}
	l.swept = now
	for k, b := range l.keys {
		if now.Sub(b.seen) > refill {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= maxKeys {
		for k := range l.keys { // map order is random: drop about half
			if len(l.keys) < maxKeys/2 {
				break
			}
			delete(l.keys, k)
		}
	}
}

// take takes a token for key, or sets c's Retry-After and returns errRateLimited.
func (l *limiter) take(c *gin.Context, key string) error {
	ok, wait := l.allow(key, time.Now())
	if ok {
		return nil
	}
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return errRateLimited
}

// rateLimit limits requests by the key keyOf gives.
func rateLimit(l *limiter, keyOf func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := l.take(c, keyOf(c)); err != nil {
			fail(c, err)
			return
		}
		c.Next()
	}
}

func byClient(c *gin.Context) string { return c.ClientIP() }
