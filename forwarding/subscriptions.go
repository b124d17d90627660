package forwarding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/secret"
)

// SalesSubscriptions is the Sales notifications API.
type SalesSubscriptions interface {
	Subscribe(ctx context.Context, apiKey string, topics []string, callbackURL string) (sales.Subscription, error)
	Subscriptions(ctx context.Context, apiKey string) ([]sales.Subscription, error)
	Unsubscribe(ctx context.Context, apiKey, id string) error
}

// SubscriptionStore records each instance's subscription and webhook token hash.
type SubscriptionStore interface {
	// SetSubscription records the instance's subscription and the hash of the token in its
	// callback URL; the previous token stops working.
	SetSubscription(ctx context.Context, instanceID string, sub zen7.Subscription, tokenHash string) error
	// ClearSubscription forgets the instance's subscription and token, if it is still id.
	ClearSubscription(ctx context.Context, instanceID, id string) error
	// InstancesToReconcile returns the live instances whose subscription may not match their
	// state: enabled without a subscription, or disabled with one.
	InstancesToReconcile(ctx context.Context) ([]zen7.Instance, error)
	// LiveInstances returns every live instance (for the start-up check with Sales).
	LiveInstances(ctx context.Context) ([]zen7.Instance, error)
}

// Deployment records the public base URL the deployment's webhooks point at.
type Deployment interface {
	// PublicBaseURL returns the URL recorded; zen7.ErrNotFound if none is.
	PublicBaseURL(ctx context.Context) (string, error)
}

// Subscriber keeps each instance's Sales notification subscription in line with its state:
// subscribed while enabled with complete settings, unsubscribed otherwise.
type Subscriber struct {
	sales      SalesSubscriptions
	store      SubscriptionStore
	baseURL    string
	deployment Deployment // nil: no check of baseURL before subscribing
	logger     *slog.Logger
	now        func() time.Time
}

// NewSubscriber returns a Subscriber building callback URLs on publicBaseURL.
func NewSubscriber(s SalesSubscriptions, store SubscriptionStore, publicBaseURL string, logger *slog.Logger) *Subscriber {
	return &Subscriber{sales: s, store: store, baseURL: publicBaseURL, logger: logger, now: func() time.Time { return time.Now().UTC() }}
}

// SetDeployment makes the subscriber check, before each subscription it makes, that its base
// URL is still the one d records: once `server move-base-url` has moved the deployment, a
// process still running with the old URL would otherwise take instances' webhooks back to it.
// Call it before use.
func (s *Subscriber) SetDeployment(d Deployment) { s.deployment = d }

func wantsSubscription(in zen7.Instance) bool {
	return in.State == zen7.StateEnabled && in.Settings.Complete()
}

// Sync implements lifecycle.Subscriptions. force subscribes again even if a subscription is
// recorded (after a key refresh, the old one belongs to the old key).
func (s *Subscriber) Sync(ctx context.Context, in zen7.Instance, force bool) error {
	switch {
	case wantsSubscription(in) && (force || in.Subscription.ID == ""):
		return s.subscribe(ctx, in)
	case !wantsSubscription(in) && in.Subscription.ID != "":
		return s.Cancel(ctx, in)
	}
	return nil
}

func (s *Subscriber) subscribe(ctx context.Context, in zen7.Instance) error {
	if s.deployment != nil {
		recorded, err := s.deployment.PublicBaseURL(ctx)
		if err != nil {
			return fmt.Errorf("forwarding.Subscribe: %w", err)
		}
		if recorded != s.baseURL {
			return fmt.Errorf("forwarding.Subscribe: %w: this process's PUBLIC_BASE_URL %s is no longer the deployment's, %s", zen7.ErrConflict, s.baseURL, recorded)
		}
	}
	token := secret.RandomHex(32)
	callback := s.callbackPrefix(in.ID) + token
	sub, err := s.sales.Subscribe(ctx, in.APIKey, []string{sales.TopicProspects}, callback)
	if err != nil {
		return fmt.Errorf("forwarding.Subscribe: %w", err)
	}
	if err := s.store.SetSubscription(ctx, in.ID, zen7.Subscription{ID: sub.ID, At: s.now()}, HashToken(token)); err != nil {
		return fmt.Errorf("forwarding.Subscribe: %w", err)
	}
	if old := in.Subscription.ID; old != "" && old != sub.ID {
		// Sales keeps one subscription per group and deactivates the old one itself; removing
		// it is tidiness, and it may already belong to a refreshed-away key.
		_ = s.sales.Unsubscribe(ctx, in.APIKey, old)
	}
	s.logger.InfoContext(ctx, "subscribed to Sales notifications", "instance", in.ID, "subscription", sub.ID)
	return nil
}

// WebhookPath is where Sales posts an instance's notifications: WebhookPath + instance id,
// with the instance's token in the query. The App serves it; callbackPrefix builds it.
const WebhookPath = "/webhooks/sales/"

// callbackPrefix is the instance's callback URL up to its token.
func (s *Subscriber) callbackPrefix(instanceID string) string {
	return s.baseURL + WebhookPath + url.PathEscape(instanceID) + "?token="
}

// Cancel implements lifecycle.Subscriptions: it removes the subscription at Sales and forgets
// the webhook token, so notifications still in flight are refused.
func (s *Subscriber) Cancel(ctx context.Context, in zen7.Instance) error {
	if in.Subscription.ID == "" {
		return nil
	}
	err := s.sales.Unsubscribe(ctx, in.APIKey, in.Subscription.ID)
	if cerr := s.store.ClearSubscription(ctx, in.ID, in.Subscription.ID); cerr != nil {
		return fmt.Errorf("forwarding.Cancel: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("forwarding.Cancel: %w", err)
	}
	s.logger.InfoContext(ctx, "unsubscribed from Sales notifications", "instance", in.ID)
	return nil
}

// Repair brings every instance whose subscription may be off in line. With verify, it also
// asks Sales whether each recorded subscription still exists and subscribes again if not
// (run at start: Sales may have dropped one while the App was down).
func (s *Subscriber) Repair(ctx context.Context, verify bool) error {
	list := s.store.InstancesToReconcile
	if verify {
		list = s.store.LiveInstances
	}
	instances, err := list(ctx)
	if err != nil {
		return fmt.Errorf("forwarding.Repair: %w", err)
	}
	var errs []error
	for _, in := range instances {
		if ctx.Err() != nil {
			break
		}
		force := false
		if verify && wantsSubscription(in) && in.Subscription.ID != "" {
			subs, err := s.sales.Subscriptions(ctx, in.APIKey)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			// Lost (Sales dropped it, or two replicas subscribed at once and the one recorded
			// here is the one Sales deactivated), or pointing at an old PUBLIC_BASE_URL.
			prefix := s.callbackPrefix(in.ID)
			force = !slices.ContainsFunc(subs, func(x sales.Subscription) bool {
				return x.ID == in.Subscription.ID && strings.HasPrefix(x.CallbackURL, prefix)
			})
		}
		if err := s.Sync(ctx, in, force); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// moveTimeout bounds the Sales calls MoveAll makes for one instance.
const moveTimeout = 30 * time.Second

// MoveAll subscribes again, on this subscriber's base URL and with a new webhook token each,
// every live instance that should be subscribed, whatever is recorded (server move-base-url):
// their old callback URLs stop working. It goes on past failures and returns how many it moved
// and, if some failed, one error saying how many and the first; running it again completes it.
func (s *Subscriber) MoveAll(ctx context.Context) (int, error) {
	instances, err := s.store.LiveInstances(ctx)
	if err != nil {
		return 0, fmt.Errorf("forwarding.MoveAll: %w", err)
	}
	moved, failed, wanted := 0, 0, 0
	var first error
	for _, in := range instances {
		if !wantsSubscription(in) {
			continue
		}
		wanted++
		ictx, cancel := context.WithTimeout(ctx, moveTimeout)
		err := s.Sync(ictx, in, true)
		cancel()
		if err != nil {
			failed++
			if first == nil {
				first = fmt.Errorf("instance %s: %w", in.ID, err)
			}
			continue
		}
		moved++
	}
	if failed > 0 {
		return moved, fmt.Errorf("forwarding.MoveAll: %d of %d instances not moved; the first: %w", failed, wanted, first)
	}
	return moved, nil
}

// verifyEvery is how many repair passes go by between checks of every subscription with Sales.
const verifyEvery = 60

// Run repairs subscriptions every interval. At start, and every verifyEvery passes after, it
// also verifies every recorded subscription with Sales (an hour at the default interval): that
// heals what no local state shows, such as a subscription Sales dropped.
func (s *Subscriber) Run(ctx context.Context, interval time.Duration) error {
	verify := true
	t := time.NewTimer(0)
	defer t.Stop()
	for pass := 1; ; pass++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		next := interval
		if err := s.Repair(ctx, verify); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "subscription repair incomplete; will retry", "error", err)
			// Sales said when its rate limit resets: try again then, not a whole interval later.
			if d, ok := sales.RateLimitDelay(err); ok {
				next = min(next, d+rateLimitMargin)
			}
		} else if err == nil {
			verify = false
		}
		if pass%verifyEvery == 0 {
			verify = true
		}
		t.Reset(next)
	}
}

// rateLimitMargin is how long after Sales' rate limit resets a background pass tries again.
const rateLimitMargin = 500 * time.Millisecond
