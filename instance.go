package zen7

import (
	"log/slog"
	"time"
)

// State is where an instance is in its lifecycle. Install creates it enabled or disabled (as
// Sales says); enable and disable move between the two; uninstall is final: a later install of
// the same API key creates a fresh instance.
type State string

// The instance states.
const (
	StateEnabled     State = "enabled"
	StateDisabled    State = "disabled"
	StateUninstalled State = "uninstalled"
)

// Instance is one installation of the App in a Zenvia Sales account.
type Instance struct {
	ID       string
	State    State
	APIKey   string // the instance's Sales API key; a secret
	Settings Settings
	Account  Account
	// Subscription is the instance's Sales notification subscription, if it has one.
	Subscription Subscription
	Version      int64 // bumped by every change; settings updates compare and swap on it

	InstalledAt   time.Time
	UpdatedAt     time.Time
	UninstalledAt time.Time
}

// LogValue keeps secrets out of logs even if an Instance is logged whole.
func (i Instance) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", i.ID), slog.String("state", string(i.State)))
}

// Account is where the instance lives in Zenvia Sales, as GET /integration reports it.
// It is empty until that lookup succeeds.
type Account struct {
	IntegrationID string
	GroupID       string
	AccountID     string
	Language      string
	// ParentGroupID is the group above GroupID ("" at the top), as the group tree read found
	// it: at uninstall, the installation that holds it takes the instance's groups back.
	ParentGroupID string
	// ResolvedAt is when the account and its group tree were last read.
	ResolvedAt time.Time
	// LastTriedAt is when a lookup last failed; pending lookups are retried oldest-tried first,
	// so instances whose lookup keeps failing cannot hold the others back.
	LastTriedAt time.Time
}

// Resolved reports whether the account lookup has succeeded.
func (a Account) Resolved() bool { return a.GroupID != "" }

// GroupTree is the part of its account's group tree an instance serves, as read with its own
// API key (GET /group/{its group}): the embedded pages find their instance from it.
type GroupTree struct {
	// Root is the instance's own group; Parent the group above it, "" at the top.
	Root, Parent string
	// Depth is how many groups are above Root. Where two installations' trees overlap, the
	// deeper one serves the groups they share: it is the nearer to them.
	Depth int
	// Groups are Root and every group below it.
	Groups []string
}

// Subscription is a Sales notification subscription made for an instance.
type Subscription struct {
	ID string
	At time.Time
}

// AuditEntry records one hook call on an instance: what, when, and how it ended. It never
// holds a secret: Detail lists setting names, not values.
type AuditEntry struct {
	InstanceID string
	Hook       string
	At         time.Time
	Outcome    string // "ok" or the error kind
	Detail     string
}
