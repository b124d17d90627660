package salesfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/7targets/zenvia-sales-app/sales"
)

// ErrNoSubscription means Notify or Deliver found no active subscription for its target.
var ErrNoSubscription = errors.New("salesfake: no active subscription")

// errClosed means the server was closed while a delivery waited to retry.
var errClosed = errors.New("salesfake: server closed")

// Delivery is one webhook post the fake made, for assertions.
type Delivery struct {
	SubscriptionID string
	URL            string
	// Attempt numbers the posts of one Notify or Deliver call, from 1.
	Attempt int
	// Status is the callback's HTTP status; 0 when no response arrived.
	Status int
	// Err describes why no response arrived (a timeout, a refused connection); "" otherwise.
	Err  string
	Body []byte
	Time time.Time
}

// SetWebhookTimeout sets how long a webhook post may take before it counts as failed, as a
// timeout does at Sales (10 seconds by default).
func (s *Server) SetWebhookTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookDeadline = d
}

// Deliveries returns the webhook posts made so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.deliveries)
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

// Notify posts n once to the callback URL of target, an active subscription's ID or a group ID
// (meaning the group's active subscription), as Sales does, and returns the callback's HTTP
// status. err reports only that no response arrived (a timeout, a refused connection) or that
// there is no such subscription (ErrNoSubscription).
//
// Empty envelope fields are filled as Sales fills them: SubscriptionID, Topic (prospects when
// subscribed to it, else the first topic), Received and Sent (now).
func (s *Server) Notify(ctx context.Context, target string, n sales.Notification) (int, error) {
	sub, err := s.target(target)
	if err != nil {
		return 0, err
	}
	n = fill(n, sub)
	if n.Sent.IsZero() {
		n.Sent = time.Now().UTC()
	}
	return s.post(ctx, sub, n, 1)
}

// Deliver posts n to the callback URL of target (as in Notify) until the callback answers a
// status below 400, at most maxAttempts times, waiting backoff between attempts: Sales retries
// a timeout or a status of 400 and above, up to 20 times. Each attempt sends Attempts
// incremented from n.Attempts (so 0, 1, 2… by default) and, unless n.Sent was set, Sent as the
// time of the post. It returns the number of posts made, and an error when none succeeded or
// ctx ended first.
func (s *Server) Deliver(ctx context.Context, target string, n sales.Notification, maxAttempts int, backoff time.Duration) (attempts int, err error) {
	sub, err := s.target(target)
	if err != nil {
		return 0, err
	}
	n = fill(n, sub)
	maxAttempts = max(maxAttempts, 1)
	base, stampSent := n.Attempts, n.Sent.IsZero()
	var last error
	for i := range maxAttempts {
		if i > 0 && !s.sleep(ctx, backoff) {
			if ctx.Err() != nil {
				return i, ctx.Err()
			}
			return i, errClosed
		}
		n.Attempts = base + i
		if stampSent {
			n.Sent = time.Now().UTC()
		}
		status, err := s.post(ctx, sub, n, i+1)
		switch {
		case err != nil:
			last = err
		case status >= 400:
			last = fmt.Errorf("callback answered %d", status)
		default:
			return i + 1, nil
		}
		if ctx.Err() != nil {
			return i + 1, ctx.Err()
		}
	}
	return maxAttempts, fmt.Errorf("salesfake: delivery to subscription %s failed after %d attempts: %w", sub.ID, maxAttempts, last)
}

// target finds the active subscription with ID target, or else that of group target.
func (s *Server) target(target string) (Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		if sub.Active && sub.ID == target {
			return cloneSub(sub), nil
		}
	}
	for _, sub := range s.subs {
		if sub.Active && sub.GroupID == target {
			return cloneSub(sub), nil
		}
	}
	return Subscription{}, fmt.Errorf("%w for %q", ErrNoSubscription, target)
}

func fill(n sales.Notification, sub Subscription) sales.Notification {
	if n.SubscriptionID == "" {
		n.SubscriptionID = sub.ID
	}
	if n.Topic == "" && len(sub.Topics) > 0 {
		n.Topic = sub.Topics[0]
		if slices.Contains(sub.Topics, sales.TopicProspects) {
			n.Topic = sales.TopicProspects
		}
	}
	if n.Received.IsZero() {
		n.Received = time.Now().UTC()
	}
	return n
}

// post sends n once and records the delivery.
func (s *Server) post(ctx context.Context, sub Subscription, n sales.Notification, attempt int) (int, error) {
	body, err := json.Marshal(n)
	if err != nil {
		return 0, fmt.Errorf("salesfake: encoding notification: %w", err)
	}
	s.mu.Lock()
	deadline := s.hookDeadline
	s.mu.Unlock()

	d := Delivery{SubscriptionID: sub.ID, URL: sub.CallbackURL, Attempt: attempt, Body: body, Time: time.Now()}
	status, err := s.send(ctx, sub.CallbackURL, body, deadline)
	d.Status = status
	if err != nil {
		d.Err = err.Error()
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	return status, err
}

func (s *Server) send(ctx context.Context, callbackURL string, body []byte, deadline time.Duration) (int, error) {
	if deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, deadline)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callbackURL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("salesfake: building webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Zenvia-Sales-Webhooks (salesfake)")
	resp, err := s.webhook.Do(req)
	if err != nil {
		return 0, fmt.Errorf("salesfake: webhook post: %w", err)
	}
	defer resp.Body.Close()
	// Read the answer so the connection is reused, as a well-behaved sender does.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRequestBody))
	return resp.StatusCode, nil
}
