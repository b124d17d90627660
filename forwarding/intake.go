package forwarding

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/secret"
)

// WebhookTargets tells the intake which instance a webhook is for and how to check its token.
type WebhookTargets interface {
	// WebhookTarget returns the instance's state and the hash of its current webhook token
	// ("" when it has none). It returns ErrNotFound for an unknown instance.
	WebhookTarget(ctx context.Context, instanceID string) (zen7.State, string, error)
}

// HashToken returns what is stored of a webhook token: Sales keeps the token in the callback
// URL, the App only its SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte("zenvia-7targets webhook token\x00" + token))
	return hex.EncodeToString(sum[:])
}

// Enqueuer stores deliveries durably and says which were new: the Store itself, or a Batcher
// in front of it.
type Enqueuer interface {
	EnqueueEach(ctx context.Context, ds []zen7.Delivery) ([]bool, error)
}

// acceptTimeout bounds the store work of one webhook. Sales waits 10 s for an answer: past
// this the intake answers ErrUnavailable (a 503 with Retry-After) while Sales still listens,
// so a database outage is heard as "try again" rather than as a timeout, and webhooks do not
// pile up for the driver's 10 s server selection each.
const acceptTimeout = 5 * time.Second

// Intake is the one way into the outbox: it accepts Sales webhooks, and every other source's
// requests through Add, and sends failed deliveries round again.
type Intake struct {
	store   Store
	enqueue Enqueuer
	targets WebhookTargets
	worker  *Worker
	metrics *Metrics
	now     func() time.Time
}

// NewIntake returns an intake that queues into store. When worker (which may be nil) is this
// process's, the intake hands it new deliveries it has idle slots for and wakes it for the others.
func NewIntake(store Store, targets WebhookTargets, worker *Worker, metrics *Metrics) *Intake {
	return &Intake{store: store, enqueue: store, targets: targets, worker: worker, metrics: metrics, now: func() time.Time { return time.Now().UTC() }}
}

// SetEnqueuer makes the intake store webhooks through e (a Batcher, for group commit) instead
// of the Store directly. Call it before serving.
func (in *Intake) SetEnqueuer(e Enqueuer) { in.enqueue = e }

// Accept authenticates a webhook for instanceID by its token, parses its body and stores its
// prospect events durably; it returns only once they are stored. It returns ErrUnauthorized
// for an unknown instance or a wrong token, and ErrMalformed for a body it cannot read.
// Notifications for a disabled instance are accepted and dropped: it forwards nothing. It
// returns ErrUnavailable when the store cannot be read or written within a few seconds
// (acceptTimeout).
func (in *Intake) Accept(ctx context.Context, instanceID, token string, body []byte) (queued int, err error) {
	ctx, cancel := context.WithTimeout(ctx, acceptTimeout)
	defer cancel()
	state, hash, err := in.targets.WebhookTarget(ctx, instanceID)
	if errors.Is(err, zen7.ErrNotFound) {
		return 0, fmt.Errorf("%w: unknown instance", zen7.ErrUnauthorized)
	}
	if err != nil {
		return 0, fmt.Errorf("forwarding.Accept: %w: %w", zen7.ErrUnavailable, err)
	}
	got := HashToken(token)
	if token == "" || hash == "" || subtle.ConstantTimeCompare([]byte(got), []byte(hash)) != 1 {
		return 0, fmt.Errorf("%w: wrong webhook token", zen7.ErrUnauthorized)
	}
	events, err := ParseNotifications(body)
	if err != nil {
		return 0, err
	}
	if state != zen7.StateEnabled {
		in.metrics.webhookEvents("ignored", len(events))
		return 0, nil
	}
	reqs := make([]Request, len(events))
	for i, e := range events {
		reqs[i] = Request{InstanceID: instanceID, Kind: zen7.KindNotification, Prospect: e.Prospect, Key: e.Key, SnapshotAt: e.Prospect.UpdatedAt}
	}
	n, err := in.Add(ctx, reqs...)
	if err != nil {
		return 0, err
	}
	in.metrics.webhookEvents("queued", n)
	in.metrics.webhookEvents("duplicate", len(reqs)-n)
	return n, nil
}

// Request asks for one delivery: what a source knows of a prospect and what it wants done.
// Every source (webhooks, agents' actions, and any other) comes in as Requests through Add.
type Request struct {
	InstanceID string
	Kind       zen7.Kind
	Prospect   zen7.Prospect
	Overrides  zen7.Overrides
	// Key names the delivery within its instance. A source that may send the same thing twice
	// (Sales redelivers webhooks) derives it from what it sent, so the copy is recognised as a
	// duplicate; empty draws a fresh one.
	Key string
	// SnapshotAt orders what the App learns of the prospect; zero means now.
	SnapshotAt time.Time
}

// deliveryID is the one id scheme of deliveries: the instance, then the request's key.
func deliveryID(instanceID, key string) string { return instanceID + ":" + key }

// Add builds a delivery for each request and stores them durably, returning only once they are
// stored, and how many were new (a request whose delivery is already queued is a duplicate). It
// returns ErrUnavailable when the store cannot take them.
func (in *Intake) Add(ctx context.Context, reqs ...Request) (int, error) {
	now := in.now()
	ds := make([]zen7.Delivery, len(reqs))
	for i, r := range reqs {
		key := r.Key
		if key == "" {
			key = string(r.Kind) + ":" + secret.RandomHex(8)
		}
		snapshotAt := r.SnapshotAt
		if snapshotAt.IsZero() {
			snapshotAt = now
		}
		ds[i] = zen7.Delivery{
			ID: deliveryID(r.InstanceID, key), InstanceID: r.InstanceID, Kind: r.Kind,
			Prospect: r.Prospect, Overrides: r.Overrides, SnapshotAt: snapshotAt,
			CreatedAt: now, State: zen7.StatePending, Pending: zen7.Pending{NextAttemptAt: now},
		}
	}
	var inserted []bool
	var err error
	if in.worker != nil {
		inserted, err = in.worker.submit(ctx, in.enqueue, ds)
	} else {
		inserted, err = in.enqueue.EnqueueEach(ctx, ds)
	}
	if err != nil {
		return 0, fmt.Errorf("forwarding.Add: %w: %w", zen7.ErrUnavailable, err)
	}
	n := 0
	for _, ok := range inserted {
		if ok {
			n++
		}
	}
	return n, nil
}

// wake tells this process's worker, if any, that there is work in the outbox.
func (in *Intake) wake() {
	if in.worker != nil {
		in.worker.Wake()
	}
}

// Retry sends a failed or dead-lettered delivery of instanceID round again. It returns
// ErrNotFound if the instance has no such delivery and ErrInvalid if it did not fail.
func (in *Intake) Retry(ctx context.Context, instanceID, deliveryID string) error {
	if err := in.store.Requeue(ctx, instanceID, deliveryID, in.now()); err != nil {
		return fmt.Errorf("forwarding.Retry: %w", err)
	}
	in.wake()
	return nil
}
