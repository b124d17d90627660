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

// decide says what delivery d means for the prospect, given the instance's settings and
// what the App knows of the prospect's lead (nil if nothing). It is a pure function and
// idempotent: deciding again after the action was taken yields actNone, which is what makes
// redelivered and duplicate notifications harmless.
func decide(s zen7.Settings, lead *zen7.Lead, d zen7.Delivery, fingerprint string) (action, zen7.Reason) {
	forwarded := lead != nil && (lead.State == zen7.LeadForwarded || lead.State == zen7.LeadStopped)
	switch d.Kind {
	case zen7.KindForward:
		if forwarded {
			if lead.Fingerprint == fingerprint {
				return actNone, zen7.Because(zen7.ReasonNoChange)
			}
			return actUpdate, zen7.Reason{}
		}
		return actCreate, zen7.Reason{}
	case zen7.KindStop:
		switch {
		case !forwarded:
			return actNone, zen7.Because(zen7.ReasonNotForwarded)
		case lead.State == zen7.LeadStopped:
			return actNone, zen7.Because(zen7.ReasonAlreadyStopped)
		}
		return actStop, zen7.Reason{}
	}

	// A notification.
	if lead != nil && d.SnapshotAt.Before(lead.SnapshotAt) {
		return actNone, zen7.Because(zen7.ReasonSuperseded)
	}
	claimed := IsClaimed(d.Prospect.Status)
	if !forwarded {
		switch {
		case claimed:
			return actSkip, zen7.Because(zen7.ReasonClaimedFirst)
		case !s.AutoForward:
			return actSkip, zen7.Because(zen7.ReasonAutoForwardOff)
		}
		return actCreate, zen7.Reason{}
	}
	if claimed {
		switch {
		case lead.State == zen7.LeadStopped:
			return actNone, zen7.Because(zen7.ReasonAlreadyStopped)
		case s.StopFollowupOnClaim:
			return actStop, zen7.Reason{}
		}
	}
	if lead.State == zen7.LeadStopped {
		// Updating a stopped lead could restart its sequence: leave it alone.
		return actNone, zen7.Because(zen7.ReasonAlreadyStopped)
	}
	if lead.Fingerprint == fingerprint {
		if claimed {
			return actNone, zen7.Because(zen7.ReasonStopOff)
		}
		return actNone, zen7.Because(zen7.ReasonNoChange)
	}
	return actUpdate, zen7.Reason{}
}
