package forwarding

import (
	"context"
	"errors"
	"time"

	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// Errors of the outbox.
var (
	// ErrNotFound means no such delivery, lead record or instance.
	ErrNotFound = errors.New("not found")
	// ErrClaimed means another worker holds the delivery.
	ErrClaimed = errors.New("claimed by another worker")
	// ErrUnauthorized means a webhook's instance or token is unknown or wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalid means an action cannot apply (for example retrying a delivery that did not fail).
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable means the store could not be reached: the caller should try again later.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Kind says what a delivery asks for.
type Kind string

// The delivery kinds.
const (
	// KindNotification is a Sales prospect notification: the worker decides what it means.
	KindNotification Kind = "notification"
	// KindForward is an agent forwarding the prospect by hand.
	KindForward Kind = "forward"
	// KindStop is an agent stopping the prospect's follow-up by hand.
	KindStop Kind = "stop"
)

// DeliveryState is where a delivery is. Pending deliveries live in the outbox; the others are
// history.
type DeliveryState string

// The delivery states.
const (
	StatePending DeliveryState = "pending"
	StateDone    DeliveryState = "done"    // 7Targets took the action, or there was nothing to do
	StateSkipped DeliveryState = "skipped" // deliberately not forwarded; Reason says why
	StateFailed  DeliveryState = "failed"  // 7Targets refused it (a 4xx other than 429); Reason keeps its message
	StateDead    DeliveryState = "dead"    // retried until MaxAge without success
)

// Outcome is what a finished delivery did at 7Targets.
type Outcome string

// The outcomes.
const (
	OutcomeNone    Outcome = "none"
	OutcomeCreated Outcome = "created"
	OutcomeUpdated Outcome = "updated"
	OutcomeStopped Outcome = "stopped"
)

// Delivery is one action for one prospect, from a notification or from an agent.
type Delivery struct {
	ID         string
	InstanceID string
	Kind       Kind
	Prospect   Prospect
	Overrides  Overrides
	// SnapshotAt orders what the App learns about a prospect: the notification's update time,
	// or when it was received.
	SnapshotAt time.Time
	CreatedAt  time.Time
	// Round counts manual retries of the delivery after it failed.
	Round int

	Attempts      int       // calls made to 7Targets for it so far
	Claims        int       // times a worker claimed it
	NextAttemptAt time.Time // not before
	LeaseUntil    time.Time // the claiming worker's hold; others wait until it passes
	Owner         string    // who holds the lease: a claiming worker, or one hand-over of the intake
	LastError     string

	// Filled when it finishes.
	State          DeliveryState
	Outcome        Outcome
	Reason         string
	LeadID         int64
	LeadState      string
	AssistantEmail string
	FinishedAt     time.Time
	// Retrying marks a failed delivery an agent or manager sent round again.
	Retrying bool
}

// LeadState is what the App knows of a prospect's 7Targets lead.
type LeadState string

// The lead states.
const (
	LeadSkipped   LeadState = "skipped"   // never forwarded; Reason says why
	LeadForwarded LeadState = "forwarded" // a 7Targets lead exists and follows up
	LeadStopped   LeadState = "stopped"   // its follow-up was stopped
)

// Lead links a Sales prospect to its 7Targets lead.
type Lead struct {
	InstanceID string
	ProspectID string
	State      LeadState
	Reason     string // for skipped
	LeadID     int64
	Email      string
	// AssistantEmail and ScheduleName are what the lead was created or last updated with.
	AssistantEmail string
	ScheduleName   string
	// Fingerprint of the last lead body sent, to skip updates that change nothing.
	Fingerprint string
	// SnapshotAt and ProspectStatus are from the newest notification processed.
	SnapshotAt     time.Time
	ProspectStatus string
	// What 7Targets last answered.
	SevenTargetsState string
	SubState          string
	NextScheduleTime  time.Time
	LastAction        Outcome
	LastError         string
	UpdatedAt         time.Time
}

// Store is the durable outbox and the per-prospect lead records.
type Store interface {
	// Enqueue adds deliveries to the outbox. One whose ID is already there is a duplicate and
	// is dropped; Enqueue returns how many were new. (One whose ID already finished is not
	// looked for here, off the webhook's hot path: the worker finds it with Finished.)
	Enqueue(ctx context.Context, ds []Delivery) (int, error)
	// EnqueueEach is Enqueue saying, for each of ds, whether it was new.
	EnqueueEach(ctx context.Context, ds []Delivery) ([]bool, error)
	// Due returns up to n outbox deliveries whose next attempt is due and whose lease has passed.
	Due(ctx context.Context, now time.Time, n int) ([]Delivery, error)
	// Claim takes d for this worker until leaseUntil. It returns ErrClaimed if another worker
	// has claimed it since d was read. It is safe across processes sharing the database.
	Claim(ctx context.Context, d Delivery, owner string, now, leaseUntil time.Time) (Delivery, error)
	// Release puts a claimed delivery back for a later attempt (its Attempts, NextAttemptAt
	// and LastError as given), lifting the lease.
	Release(ctx context.Context, d Delivery) error
	// Finish records d's outcome in the history and removes it from the outbox.
	Finish(ctx context.Context, d Delivery) error
	// Finished reports whether a delivery with id is in the history.
	Finished(ctx context.Context, id string) (bool, error)
	// Unlease lifts the lease of delivery id if it is still the unclaimed hand-over of owner
	// (Intake.Accept), so that any worker may take it at once. It does nothing otherwise.
	Unlease(ctx context.Context, id, owner string) error
	// Discard drops a claimed delivery from the outbox without recording it: a late duplicate
	// of one already finished.
	Discard(ctx context.Context, d Delivery) error
	// Stats reports the outbox depth and the creation time of its oldest delivery.
	Stats(ctx context.Context) (depth int, oldest time.Time, err error)
	// Delivery returns a delivery, pending or finished. It returns ErrNotFound.
	Delivery(ctx context.Context, id string) (Delivery, error)
	// ProspectDeliveries returns up to limit of the prospect's deliveries, pending first, then
	// finished, each newest first.
	ProspectDeliveries(ctx context.Context, instanceID, prospectID string, limit int) ([]Delivery, error)
	// Requeue puts a failed or dead delivery of instanceID back in the outbox for another round
	// of attempts. It returns ErrNotFound (also for another instance's delivery), or ErrInvalid
	// if the delivery did not fail.
	Requeue(ctx context.Context, instanceID, id string, now time.Time) error

	// Lead returns the prospect's lead record, or ErrNotFound.
	Lead(ctx context.Context, instanceID, prospectID string) (Lead, error)
	// SaveLead writes the prospect's lead record.
	SaveLead(ctx context.Context, l Lead) error
	// ClaimCreation reserves the creation of the prospect's 7Targets lead for deliveryID and
	// returns the delivery holding it, which is deliveryID unless another holds it already.
	// Only a unique insert decides, so two processes never both create.
	ClaimCreation(ctx context.Context, instanceID, prospectID, deliveryID string) (string, error)
	// CreationHolder returns the delivery holding the prospect's creation, or "".
	CreationHolder(ctx context.Context, instanceID, prospectID string) (string, error)
	// ReleaseCreation drops deliveryID's reservation, so another may create.
	ReleaseCreation(ctx context.Context, instanceID, prospectID, deliveryID string) error
}

// Instances gives the worker the instance a delivery belongs to.
type Instances interface {
	// Instance returns the instance with id whatever its state, or lifecycle.ErrNotFound.
	Instance(ctx context.Context, id string) (lifecycle.Instance, error)
}
