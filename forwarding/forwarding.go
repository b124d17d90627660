// Package forwarding hands Zenvia Sales prospects to 7Targets as leads. Webhook notifications
// are parsed into events and stored in a durable outbox before Sales gets its 2xx; workers
// claim outbox deliveries, decide what each means for the prospect's 7Targets lead (create,
// update, stop follow-up, or skip with a reason), call 7Targets, and record the outcome.
// Delivery is at least once; duplicates are recognised and deciding is idempotent, so a
// prospect becomes at most one 7Targets lead.
package forwarding

import (
	zen7 "github.com/7targets/zenvia-sales-app"
)

// Event is one prospect notification, as stored in the outbox.
type Event struct {
	Topic    string // "prospects"
	Type     string // "created" or "updated"
	Prospect zen7.Prospect
	// Key identifies the notification for this prospect deterministically: the same
	// notification delivered again (Sales retries, and sends duplicates) has the same Key.
	Key string
}
