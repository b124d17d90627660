package forwarding

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
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
	stored  *recentIDs
}

// NewIntake returns an intake that queues into store. When worker (which may be nil) is this
// process's, the intake hands it new deliveries it has idle slots for and wakes it for the others.
func NewIntake(store Store, targets WebhookTargets, worker *Worker, metrics *Metrics) *Intake {
	return &Intake{store: store, enqueue: store, targets: targets, worker: worker, metrics: metrics,
		now: func() time.Time { return time.Now().UTC() }, stored: newRecentIDs(recentIDsKept)}
}

// Accepted is what became of a webhook's prospect events.
type Accepted struct {
	// Queued counts the events stored for delivery.
	Queued int
	// Duplicates counts the events already stored: a copy of one still waiting in the outbox,
	// or of one this process stored before and that has been delivered since. (A copy of one
	// delivered before a restart or stored by another process cannot be told at once: it
	// counts as queued, and the worker drops it without calling 7Targets.)
	Duplicates int
}

// SetEnqueuer makes the intake store webhooks through e (a Batcher, for group commit) instead
// of the Store directly. Call it before serving.
func (in *Intake) SetEnqueuer(e Enqueuer) { in.enqueue = e }

// Accept authenticates a webhook for instanceID by its token, parses its body and stores its
// prospect events durably through Add; it returns only once they are stored. It returns
// ErrUnauthorized for an unknown instance or a wrong token, and ErrMalformed for a body it
// cannot read. Notifications for a disabled instance are accepted and dropped: it forwards
// nothing. It returns ErrUnavailable when the store cannot be read or written within a few
// seconds (acceptTimeout). It says how many events it queued and how many were duplicates.
//
// admit, if not nil, is called once the token has passed and before the body is parsed or
// anything stored; an error from it is returned as it is, with nothing stored. The caller
// charges the instance's rate limit there, so that only the token's holder can spend it.
func (in *Intake) Accept(ctx context.Context, instanceID, token string, body []byte, admit func() error) (Accepted, error) {
	if in.worker != nil {
		defer in.worker.accepting()()
	}
	ctx, cancel := context.WithTimeout(ctx, acceptTimeout)
	defer cancel()
	state, hash, err := in.targets.WebhookTarget(ctx, instanceID)
	if errors.Is(err, zen7.ErrNotFound) {
		return Accepted{}, fmt.Errorf("%w: unknown instance", zen7.ErrUnauthorized)
	}
	if err != nil {
		return Accepted{}, fmt.Errorf("forwarding.Accept: %w: %w", zen7.ErrUnavailable, err)
	}
	got := HashToken(token)
	if token == "" || hash == "" || subtle.ConstantTimeCompare([]byte(got), []byte(hash)) != 1 {
		return Accepted{}, fmt.Errorf("%w: wrong webhook token", zen7.ErrUnauthorized)
	}
	if admit != nil {
		if err := admit(); err != nil {
			return Accepted{}, err
		}
	}
	events, err := ParseNotifications(body)
	if err != nil {
		return Accepted{}, err
	}
	if state != zen7.StateEnabled {
		in.metrics.webhookEvents("ignored", len(events))
		return Accepted{}, nil
	}
	reqs := make([]Request, len(events))
	for i, e := range events {
		reqs[i] = Request{InstanceID: instanceID, Kind: zen7.KindNotification, Prospect: e.Prospect, Key: e.Key, SnapshotAt: e.Prospect.UpdatedAt}
	}
	ds, inserted, err := in.add(ctx, reqs)
	if err != nil {
		return Accepted{}, fmt.Errorf("forwarding.Accept: %w", err)
	}
	n, delivered := 0, 0
	for i, ok := range inserted {
		if ok {
			n++
		}
		// The outbox drops a delivery only once its history entry is written, so one stored here
		// before that could be stored again has been delivered: this copy is a duplicate (which
		// the worker drops). Remembering costs no I/O on the webhook's path, where a read of the
		// history per event would (a third slower intake on the embedded store, measured).
		if in.stored.add(ds[i].ID) && ok {
			delivered++
		}
	}
	in.metrics.webhookEvents("queued", n) // stored; the worker counts the delivered duplicates it drops
	in.metrics.webhookEvents("duplicate", len(ds)-n)
	return Accepted{Queued: n - delivered, Duplicates: len(ds) - n + delivered}, nil
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
	_, inserted, err := in.add(ctx, reqs)
	if err != nil {
		return 0, fmt.Errorf("forwarding.Add: %w", err)
	}
	n := 0
	for _, ok := range inserted {
		if ok {
			n++
		}
	}
	return n, nil
}

// add is Add, saying for each delivery it built whether it was new.
func (in *Intake) add(ctx context.Context, reqs []Request) ([]zen7.Delivery, []bool, error) {
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
		return nil, nil, fmt.Errorf("%w: %w", zen7.ErrUnavailable, err)
	}
	return ds, inserted, nil
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

// recentIDsKept is how many delivery ids an intake remembers: Sales' retries and duplicates of
// a notification follow it closely, and 16Ki ids are nearly three minutes of one account at its
// webhook rate limit (100/s). The set only sharpens the answer's count: a copy it has forgotten
// counts as queued and is still not sent twice. At 64Ki ids the App settled 6 MB above keeping one
// (docs/BENCHMARKS.md, "What the settled memory is"); 16Ki keep about 400 kB.
const recentIDsKept = 1 << 14

// recentIDs remembers the last ids it was given, hashed, in a fixed-size ring: the oldest go
// first, so it never grows.
type recentIDs struct {
	mu   sync.Mutex
	seed maphash.Seed
	set  map[uint64]struct{}
	ring []uint64 // in the order added, from next on once full; its capacity is the size
	next int
}

func newRecentIDs(size int) *recentIDs {
	// Sized once, so that filling it leaves no outgrown tables behind for the collector.
	return &recentIDs{seed: maphash.MakeSeed(), set: make(map[uint64]struct{}, size), ring: make([]uint64, 0, size)}
}

// add remembers id and reports whether it was remembered already. Two ids with one 64-bit hash
// would be taken for one; among 64Ki ids the odds are about 1 in 2^32.
func (r *recentIDs) add(id string) (seen bool) {
	h := maphash.String(r.seed, id)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[h]; ok {
		return true
	}
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, h)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = h
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[h] = struct{}{}
	return false
}
