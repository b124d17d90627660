package zen7

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReasonCode says why a delivery was skipped, did nothing, or failed. Codes are stored and
// translated where they are shown; the English text of a reason (Reason.String) is for logs
// and is never matched by the code.
type ReasonCode string

// The reason codes. A reason whose text depends on what happened carries the variable part in
// Reason's other fields, as noted.
const (
	ReasonSuperseded         ReasonCode = "superseded"     // a newer update of the prospect came first
	ReasonClaimedFirst       ReasonCode = "claimedFirst"   // an agent took the prospect over before it was forwarded
	ReasonAutoForwardOff     ReasonCode = "autoForwardOff" // the instance forwards only by hand
	ReasonNoEmail            ReasonCode = "noEmail"        // 7Targets requires an email
	ReasonNoChange           ReasonCode = "noChange"       // the lead would not change
	ReasonNotForwarded       ReasonCode = "notForwarded"   // a stop for a prospect never forwarded
	ReasonAlreadyStopped     ReasonCode = "alreadyStopped"
	ReasonStopOff            ReasonCode = "stopOff"       // claimed, but stopping on claim is off
	ReasonInstanceGone       ReasonCode = "instanceGone"  // the instance no longer exists
	ReasonInstanceState      ReasonCode = "instanceState" // Detail: the instance's state
	ReasonSettingsIncomplete ReasonCode = "settingsIncomplete"
	ReasonProspectGone       ReasonCode = "prospectGone"  // Sales no longer has the prospect
	ReasonLookupFailed       ReasonCode = "lookupFailed"  // Detail: Sales' error
	ReasonRefused            ReasonCode = "refused"       // Status and Detail: 7Targets' answer
	ReasonGaveUp             ReasonCode = "gaveUp"        // After: how long it was tried; Detail: the last error
	ReasonExcluded           ReasonCode = "excluded"      // the prospect's email is in excludeEmails
	ReasonListFailed         ReasonCode = "listFailed"    // a backfill's listing of prospects; Status and Detail: Sales' answer
	ReasonNoContact          ReasonCode = "noContact"     // a Chat-Tonic record with neither phone nor email
	ReasonImportRefused      ReasonCode = "importRefused" // Sales refused an imported lead; Status and Detail: its answer
	// ReasonOther is a reason this version has no code for; Detail is its text as recorded.
	ReasonOther ReasonCode = "other"
)

// ReasonCodes lists every code, for the tests that keep their translations complete.
var ReasonCodes = []ReasonCode{
	ReasonSuperseded, ReasonClaimedFirst, ReasonAutoForwardOff, ReasonNoEmail, ReasonNoChange,
	ReasonNotForwarded, ReasonAlreadyStopped, ReasonStopOff, ReasonInstanceGone, ReasonInstanceState,
	ReasonSettingsIncomplete, ReasonProspectGone, ReasonLookupFailed, ReasonRefused, ReasonGaveUp,
	ReasonExcluded, ReasonListFailed, ReasonNoContact, ReasonImportRefused, ReasonOther,
}

// Reason is why a delivery ended as it did: a code and the variable part of what happened.
// The zero Reason means none.
type Reason struct {
	Code   ReasonCode
	Status int           // ReasonRefused: 7Targets' HTTP status
	After  time.Duration // ReasonGaveUp: how long the delivery was tried
	Detail string        // the state, the upstream message or the error, as the code says
}

// Because returns the Reason with code and no variable part.
func Because(code ReasonCode) Reason { return Reason{Code: code} }

// IsZero reports whether r is no reason.
func (r Reason) IsZero() bool { return r == Reason{} }

// reasonTexts are the English sentences of the codes without a variable part. Earlier versions
// stored these sentences instead of codes; ParseReason reads them back.
var reasonTexts = map[ReasonCode]string{
	ReasonSuperseded:         "superseded by a newer update of the prospect",
	ReasonClaimedFirst:       "an agent took the prospect over before it was forwarded",
	ReasonAutoForwardOff:     "automatic forwarding is off",
	ReasonNoEmail:            "the prospect has no email address",
	ReasonNoChange:           "nothing changed for 7Targets",
	ReasonNotForwarded:       "the prospect was never forwarded",
	ReasonAlreadyStopped:     "the follow-up was already stopped",
	ReasonStopOff:            "stopping the follow-up on claim is off",
	ReasonInstanceGone:       "the instance no longer exists",
	ReasonSettingsIncomplete: "the instance's 7Targets settings are incomplete",
	ReasonProspectGone:       "the prospect no longer exists in Zenvia Sales",
	ReasonExcluded:           "the prospect's email is excluded from forwarding",
	ReasonNoContact:          "no contact data",
}

// The fixed beginnings of the English sentences with a variable part.
const (
	instanceStatePrefix = "the instance is "
	lookupFailedPrefix  = "looking the prospect up in Zenvia Sales failed: "
	refusedPrefix       = "7Targets refused it (HTTP "
	gaveUpPrefix        = "gave up after "
	listFailedPrefix    = "Zenvia Sales refused the prospects list (HTTP "
	importRefusedPrefix = "Zenvia Sales refused the lead (HTTP "
)

// String is the reason in English, for logs: the sentence earlier versions stored.
func (r Reason) String() string {
	if t, ok := reasonTexts[r.Code]; ok {
		return t
	}
	switch r.Code {
	case "":
		return ""
	case ReasonInstanceState:
		return instanceStatePrefix + r.Detail
	case ReasonLookupFailed:
		return lookupFailedPrefix + r.Detail
	case ReasonRefused:
		return refusedPrefix + strconv.Itoa(r.Status) + "): " + r.Detail
	case ReasonGaveUp:
		return gaveUpPrefix + r.After.String() + ": " + r.Detail
	case ReasonListFailed:
		return listFailedPrefix + strconv.Itoa(r.Status) + "): " + r.Detail
	case ReasonImportRefused:
		return importRefusedPrefix + strconv.Itoa(r.Status) + "): " + r.Detail
	case ReasonOther:
		return r.Detail
	}
	return fmt.Sprintf("%s: %s", r.Code, r.Detail)
}

// ParseReason reads a reason stored as English text by an earlier version (Reason.String is
// its inverse). Text it does not recognise is kept whole as ReasonOther.
func ParseReason(text string) Reason {
	t := strings.TrimSpace(text)
	if t == "" {
		return Reason{}
	}
	for code, s := range reasonTexts {
		if t == s {
			return Because(code)
		}
	}
	switch {
	case strings.HasPrefix(t, refusedPrefix):
		status, msg, ok := strings.Cut(t[len(refusedPrefix):], "): ")
		if n, err := strconv.Atoi(status); ok && err == nil {
			return Reason{Code: ReasonRefused, Status: n, Detail: msg}
		}
	case strings.HasPrefix(t, listFailedPrefix):
		status, msg, ok := strings.Cut(t[len(listFailedPrefix):], "): ")
		if n, err := strconv.Atoi(status); ok && err == nil {
			return Reason{Code: ReasonListFailed, Status: n, Detail: msg}
		}
	case strings.HasPrefix(t, importRefusedPrefix):
		status, msg, ok := strings.Cut(t[len(importRefusedPrefix):], "): ")
		if n, err := strconv.Atoi(status); ok && err == nil {
			return Reason{Code: ReasonImportRefused, Status: n, Detail: msg}
		}
	case strings.HasPrefix(t, gaveUpPrefix):
		dur, cause, ok := strings.Cut(t[len(gaveUpPrefix):], ": ")
		if d, err := time.ParseDuration(dur); ok && err == nil {
			return Reason{Code: ReasonGaveUp, After: d, Detail: cause}
		}
	case strings.HasPrefix(t, lookupFailedPrefix):
		return Reason{Code: ReasonLookupFailed, Detail: t[len(lookupFailedPrefix):]}
	case strings.HasPrefix(t, instanceStatePrefix) && len(t) > len(instanceStatePrefix):
		return Reason{Code: ReasonInstanceState, Detail: t[len(instanceStatePrefix):]}
	}
	return Reason{Code: ReasonOther, Detail: text}
}
