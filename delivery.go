package zen7

import "time"

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
	// GroupName, Category, UTMMedium, UTMCampaign and Provider are what routing rules compare
	// besides GroupID and UTMSource; the lead fields come from the newest lead that has them.
	GroupName   string
	Category    string
	UTMMedium   string
	UTMCampaign string
	Provider    string
	Comments    string // of the prospect's leads
	// NIN are identity numbers; only an imported Chat-Tonic lead carries them, for Sales.
	NIN []NIN
	// UpdatedAt is when Sales says this snapshot of the prospect was taken; it orders
	// notifications about one prospect. Zero when unknown.
	UpdatedAt time.Time
	// Partial means the notification carried little more than the id: the worker looks the
	// prospect up in Sales before mapping it.
	Partial bool
}

// NIN is a national identification number: its type (DNI, CPF, …) and number.
type NIN struct {
	Type   string
	Number string
}

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
	// KindChatTonic imports a Chat-Tonic record into Zenvia Sales as a lead: its Prospect holds
	// the lead (ID the record's _id), and Sales' notification of the prospect it matched then
	// forwards it like any other.
	KindChatTonic Kind = "chattonic"
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
	// OutcomeImported is a Chat-Tonic record Sales took as a lead.
	OutcomeImported Outcome = "imported"
)

// Count is what a finished delivery counts as on the report and in a backfill's progress.
type Count int

// The counts. A delivery that updated or stopped a lead, or had nothing to do, counts as
// CountNone.
const (
	CountNone      Count = iota
	CountForwarded       // it created the prospect's 7Targets lead
	CountImported        // Sales took the Chat-Tonic record as a lead
	CountSkipped
	CountFailed // refused, or given up on
)

// Count says what d counts as once it finished.
func (d Delivery) Count() Count {
	switch {
	case d.Outcome == OutcomeCreated:
		return CountForwarded
	case d.Outcome == OutcomeImported:
		return CountImported
	case d.State == StateSkipped:
		return CountSkipped
	case d.State == StateFailed || d.State == StateDead:
		return CountFailed
	}
	return CountNone
}

// Delivery is one action for one prospect, from any source: what was asked, where it stands
// (State), its bookkeeping while it waits in the outbox (Pending) and, once it finished, what
// it did (Result).
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
	Round     int
	Attempts  int // calls made to 7Targets for it so far
	LastError string
	State     DeliveryState

	Pending
	Result
}

// Pending is the outbox's bookkeeping of a delivery that has not finished: who may run it
// and when.
type Pending struct {
	Claims        int       // times a worker claimed it
	NextAttemptAt time.Time // not before
	LeaseUntil    time.Time // the claiming worker's hold; others wait until it passes
	Owner         string    // who holds the lease: a claiming worker, or one hand-over of the intake
}

// Result is what a finished delivery did, as the history keeps it.
type Result struct {
	Outcome           Outcome
	Reason            Reason
	LeadID            int64
	SevenTargetsState string // the lead's state at 7Targets after it
	AssistantEmail    string
	// RoutedBy and Rule say what chose AssistantEmail (Settings.Route).
	RoutedBy   RoutedBy
	Rule       string
	FinishedAt time.Time
	// Retrying marks a failed delivery an agent or manager sent round again.
	Retrying bool
}

// Finish is how a delivery ends, as the store records it: the delivery with its outcome, and
// the lead record of its prospect as the delivery leaves it (nil: as it was).
type Finish struct {
	Delivery Delivery
	Lead     *Lead
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
	Reason     Reason // for skipped
	LeadID     int64
	Email      string
	// AssistantEmail and ScheduleName are what the lead was created or last updated with.
	AssistantEmail string
	ScheduleName   string
	// RoutedBy and Rule say what chose them (Settings.Route): a forwarded lead keeps its
	// assistant, since 7Targets ignores a re-assignment.
	RoutedBy RoutedBy
	Rule     string
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

// Overrides are what an agent forwarding a prospect by hand chose instead of the settings and
// the prospect's data. Empty fields take the usual values.
type Overrides struct {
	Email          string
	AssistantEmail string
	ScheduleName   string
}
