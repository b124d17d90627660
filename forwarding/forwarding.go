// Package forwarding hands Zenvia Sales prospects to 7Targets as leads. Webhook notifications
// are parsed into events and stored in a durable outbox before Sales gets its 2xx; workers
// claim outbox deliveries, decide what each means for the prospect's 7Targets lead (create,
// update, stop follow-up, or skip with a reason), call 7Targets, and record the outcome.
// Delivery is at least once; duplicates are recognised and deciding is idempotent, so a
// prospect becomes at most one 7Targets lead.
package forwarding

import (
	"time"
)

// Prospect is what the App keeps of a Zenvia Sales prospect: enough to map it to a lead and
// to tell whether an agent has taken it over.
type Prospect struct {
	ID        string
	GroupID   string
	FirstName string
	LastName  string
	Emails    []string // in the order Sales lists them
	Phones    []string
	Status    string // Sales prospect status: "unclaimed", "new", "followUp", "archived", …
	UTMSource string // of the prospect's leads, newest first
	Comments  string // of the prospect's leads
	// UpdatedAt is when Sales says this snapshot of the prospect was taken; it orders
	// notifications about one prospect. Zero when unknown.
	UpdatedAt time.Time
	// Partial means the notification carried little more than the id: the worker looks the
	// prospect up in Sales before mapping it.
	Partial bool
}

// Event is one prospect notification, as stored in the outbox.
type Event struct {
	Topic    string // "prospects"
	Type     string // "created" or "updated"
	Prospect Prospect
	// Key identifies the notification for this prospect deterministically: the same
	// notification delivered again (Sales retries, and sends duplicates) has the same Key.
	Key string
}
