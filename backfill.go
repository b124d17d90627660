package zen7

import "time"

// BackfillState is where a backfill stands.
type BackfillState string

// The backfill states. Only a running backfill is worked on; the others are final.
const (
	BackfillRunning BackfillState = "running"
	BackfillDone    BackfillState = "done"    // every prospect of the window was queued and has finished
	BackfillStopped BackfillState = "stopped" // the instance was disabled or uninstalled; Reason says which
	BackfillFailed  BackfillState = "failed"  // Zenvia Sales refused the listing; Reason keeps its answer
)

// Backfill is the forwarding, once, of the unclaimed prospects an instance had in Zenvia Sales
// before the App forwarded them (the backfillDays setting). An instance has at most one at a
// time; a later one replaces a finished one.
type Backfill struct {
	InstanceID string
	// Seq numbers the instance's backfills, from 1; deliveries of one backfill carry it in their
	// keys, so that a backfill resumed after a restart queues each prospect once.
	Seq  int
	Days int
	// WindowStart is the oldest creation time listed: Days before the backfill started.
	WindowStart time.Time
	// Cursor is the id of the last prospect queued: the listing resumes after it.
	Cursor string
	// Found counts the prospects Sales listed and the backfill queued; Forwarded those whose
	// backfill delivery created their 7Targets lead; Skipped those whose delivery created none
	// (a webhook forwarded the prospect first, it was claimed meanwhile, excluded, had no
	// email, …); Failed those 7Targets refused or that were given up on. They are counted from
	// the deliveries' outcomes once a batch finished: Found minus the others is on its way.
	Found, Forwarded, Skipped, Failed int
	State                             BackfillState
	Reason                            Reason
	StartedAt, UpdatedAt, FinishedAt  time.Time
	// Pending are the deliveries of the last batch queued, counted once they finish.
	Pending []string
	// Lease is the number of the last lease taken; Owner holds it until LeaseUntil.
	Lease      int
	Owner      string
	LeaseUntil time.Time
}

// Final reports whether the backfill has ended: nothing more is done for it.
func (b Backfill) Final() bool { return b.State != BackfillRunning }
