package forwarding

import (
	"context"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// Store is the durable outbox and the per-prospect lead records.
type Store interface {
	// Enqueue adds deliveries to the outbox. One whose ID is already there is a duplicate and
	// is dropped; Enqueue returns how many were new. (One whose ID already finished is not
	// looked for here, off the webhook's hot path: the worker finds it with Finished.)
	Enqueue(ctx context.Context, ds []zen7.Delivery) (int, error)
	// EnqueueEach is Enqueue saying, for each of ds, whether it was new.
	EnqueueEach(ctx context.Context, ds []zen7.Delivery) ([]bool, error)
	// Due returns up to n outbox deliveries whose next attempt is due and whose lease has passed,
	// none of exceptInstances.
	Due(ctx context.Context, now time.Time, n int, exceptInstances ...string) ([]zen7.Delivery, error)
	// ClaimMany takes each of ds for this worker until leaseUntil, unless another worker has
	// claimed it since it was read, and returns those it took (with their claim), in the order
	// of ds. It is safe across processes sharing the database. An error says the store failed;
	// the deliveries returned with it are claimed all the same.
	ClaimMany(ctx context.Context, ds []zen7.Delivery, owner string, now, leaseUntil time.Time) ([]zen7.Delivery, error)
	// Release puts a claimed delivery back for a later attempt (its Attempts, NextAttemptAt
	// and LastError as given), lifting the lease.
	Release(ctx context.Context, d zen7.Delivery) error
	// FinishMany records how the deliveries of fs ended: the lead records they leave, then
	// their outcomes in the history, and removes them from the outbox, with one write per
	// collection for them all; it returns an error for each of fs (nil: finished). None is in
	// the history without the lead record it left. A delivery whose history entry was written
	// and whose outbox entry was not runs again, and deciding again finds nothing to do.
	FinishMany(ctx context.Context, fs []zen7.Finish) []error
	// FinishedAmong reports which of ids are deliveries in the history, with one read.
	FinishedAmong(ctx context.Context, ids []string) (map[string]bool, error)
	// Unlease lifts the lease of delivery id if it is still the unclaimed hand-over of owner
	// (Intake.Accept), so that any worker may take it at once. It does nothing otherwise.
	Unlease(ctx context.Context, id, owner string) error
	// Discard drops a claimed delivery from the outbox without recording it: a late duplicate
	// of one already finished.
	Discard(ctx context.Context, d zen7.Delivery) error
	// Stats reports the outbox depth and the creation time of its oldest delivery.
	Stats(ctx context.Context) (depth int, oldest time.Time, err error)
	// Delivery returns a delivery, pending or finished. It returns ErrNotFound.
	Delivery(ctx context.Context, id string) (zen7.Delivery, error)
	// ProspectDeliveries returns up to limit of the prospect's deliveries, pending first, then
	// finished, each newest first.
	ProspectDeliveries(ctx context.Context, instanceID, prospectID string, limit int) ([]zen7.Delivery, error)
	// Requeue puts a failed or dead delivery of instanceID back in the outbox for another round
	// of attempts. It returns ErrNotFound (also for another instance's delivery), or ErrInvalid
	// if the delivery did not fail.
	Requeue(ctx context.Context, instanceID, id string, now time.Time) error

	// LeadsFor returns the lead records of the prospects of ds, with one read: for each of ds
	// its prospect's, or nil if it has none.
	LeadsFor(ctx context.Context, ds []zen7.Delivery) ([]*zen7.Lead, error)
	// ClaimCreations reserves, for each of ds, the creation of its prospect's 7Targets lead
	// for that delivery, and returns for each the delivery holding it (its own ID unless
	// another holds it already) or an error; no two of ds are of one prospect. Only a unique
	// insert decides, so two processes never both create.
	ClaimCreations(ctx context.Context, ds []zen7.Delivery) ([]string, []error)
	// CreationHolder returns the delivery holding the prospect's creation, or "".
	CreationHolder(ctx context.Context, instanceID, prospectID string) (string, error)
	// ReleaseCreation drops deliveryID's reservation, so another may create.
	ReleaseCreation(ctx context.Context, instanceID, prospectID, deliveryID string) error
}

// Instances gives the worker the instance a delivery belongs to.
type Instances interface {
	// Instance returns the instance with id whatever its state, or lifecycle.ErrNotFound.
	Instance(ctx context.Context, id string) (zen7.Instance, error)
}
