package forwarding

import zen7 "github.com/7targets/zenvia-sales-app"

// Action is what a delivery should do at 7Targets.
type action int

const (
	actNone   action = iota // nothing to do; reason says why
	actSkip                 // record the prospect as not forwarded; reason says why
	actCreate               // POST /leads
	actUpdate               // PUT /leads
	actStop                 // PUT /leads/stop/followup
)

// Skip and no-op reasons, shown in the report and the conversation page.
const (
	reasonSuperseded     = "superseded by a newer update of the prospect"
	reasonClaimedFirst   = "an agent took the prospect over before it was forwarded"
	reasonAutoForwardOff = "automatic forwarding is off"
	reasonNoEmail        = "the prospect has no email address"
	reasonNoChange       = "nothing changed for 7Targets"
	reasonNotForwarded   = "the prospect was never forwarded"
	reasonAlreadyStopped = "the follow-up was already stopped"
	reasonStopOff        = "stopping the follow-up on claim is off"
)

// decide says what delivery d means for the prospect, given the instance's settings and
// what the App knows of the prospect's lead (nil if nothing). It is a pure function and
// idempotent: deciding again after the action was taken yields actNone, which is what makes
// redelivered and duplicate notifications harmless.
func decide(s zen7.Settings, lead *zen7.Lead, d zen7.Delivery, fingerprint string) (action, string) {
	forwarded := lead != nil && (lead.State == zen7.LeadForwarded || lead.State == zen7.LeadStopped)
	switch d.Kind {
	case zen7.KindForward:
		if forwarded {
			if lead.Fingerprint == fingerprint {
				return actNone, reasonNoChange
			}
			return actUpdate, ""
		}
		return actCreate, ""
	case zen7.KindStop:
		switch {
		case !forwarded:
			return actNone, reasonNotForwarded
		case lead.State == zen7.LeadStopped:
			return actNone, reasonAlreadyStopped
		}
		return actStop, ""
	}

	// A notification.
	if lead != nil && d.SnapshotAt.Before(lead.SnapshotAt) {
		return actNone, reasonSuperseded
	}
	claimed := IsClaimed(d.Prospect.Status)
	if !forwarded {
		switch {
		case claimed:
			return actSkip, reasonClaimedFirst
		case !s.AutoForward:
			return actSkip, reasonAutoForwardOff
		}
		return actCreate, ""
	}
	if claimed {
		switch {
		case lead.State == zen7.LeadStopped:
			return actNone, reasonAlreadyStopped
		case s.StopFollowupOnClaim:
			return actStop, ""
		}
	}
	if lead.State == zen7.LeadStopped {
		// Updating a stopped lead could restart its sequence: leave it alone.
		return actNone, reasonAlreadyStopped
	}
	if lead.Fingerprint == fingerprint {
		if claimed {
			return actNone, reasonStopOff
		}
		return actNone, reasonNoChange
	}
	return actUpdate, ""
}
