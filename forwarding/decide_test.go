package forwarding_test

import (
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
)

var actionNames = map[forwarding.Action]string{
	forwarding.ActNone:   "none",
	forwarding.ActSkip:   "skip",
	forwarding.ActCreate: "create",
	forwarding.ActUpdate: "update",
	forwarding.ActStop:   "stop",
}

func TestDecide(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	older, newer := t0.Add(-time.Minute), t0.Add(time.Minute)
	const fpSame, fpChanged = "fingerprint-of-the-lead-as-sent", "fingerprint-of-a-changed-lead"

	// settings returns complete settings with the two switches decide reads.
	settings := func(autoForward, stopOnClaim bool) zen7.Settings {
		return zen7.Settings{
			ClientID: "client", ClientSecret: "secret", UserIdentifier: "user", AssistantEmail: "ashley@7targets.test",
			AutoForward: autoForward, StopFollowupOnClaim: stopOnClaim,
		}
	}
	on := settings(true, true)
	// lead returns a lead record in state, last sent with fpSame, from a notification taken at t0.
	lead := func(state zen7.LeadState) *zen7.Lead {
		l := &zen7.Lead{
			InstanceID: "inst", ProspectID: "p1", State: state, SnapshotAt: t0, ProspectStatus: "new",
		}
		switch state {
		case zen7.LeadSkipped:
			l.Reason = forwarding.ReasonAutoForwardOff
		default:
			l.LeadID, l.Email, l.Fingerprint = 2345, "ana@example.com", fpSame
		}
		return l
	}

	tests := []struct {
		name        string
		settings    zen7.Settings
		lead        *zen7.Lead
		kind        zen7.Kind
		status      string
		snapshotAt  time.Time
		fingerprint string // of the lead body the delivery would send
		want        forwarding.Action
		wantReason  zen7.Reason
	}{
		// Notifications about a prospect never forwarded.
		{name: "new unclaimed prospect is created", settings: on, kind: zen7.KindNotification, status: "unclaimed", want: forwarding.ActCreate},
		{name: "new prospect with status new is created", settings: on, kind: zen7.KindNotification, status: "new", want: forwarding.ActCreate},
		{name: "new prospect without a status is created", settings: on, kind: zen7.KindNotification, status: "", want: forwarding.ActCreate},
		{name: "status is read case-insensitively", settings: on, kind: zen7.KindNotification, status: " NEW ", want: forwarding.ActCreate},
		{
			name: "claimed before forwarding is skipped", settings: on, kind: zen7.KindNotification, status: "followUp",
			want: forwarding.ActSkip, wantReason: forwarding.ReasonClaimedFirst,
		},
		{
			name: "archived before forwarding is skipped", settings: on, kind: zen7.KindNotification, status: "archived",
			want: forwarding.ActSkip, wantReason: forwarding.ReasonClaimedFirst,
		},
		{
			name: "claimed first is the reason even with auto-forward off", settings: settings(false, true), kind: zen7.KindNotification,
			status: "followUp", want: forwarding.ActSkip, wantReason: forwarding.ReasonClaimedFirst,
		},
		{
			name: "auto-forward off skips", settings: settings(false, true), kind: zen7.KindNotification, status: "new",
			want: forwarding.ActSkip, wantReason: forwarding.ReasonAutoForwardOff,
		},
		{
			name: "skipped earlier, newer unclaimed notification is created", settings: on, lead: lead(zen7.LeadSkipped),
			kind: zen7.KindNotification, status: "new", snapshotAt: newer, want: forwarding.ActCreate,
		},
		{
			name: "skipped earlier, newer notification still claimed is skipped", settings: on, lead: lead(zen7.LeadSkipped),
			kind: zen7.KindNotification, status: "followUp", snapshotAt: newer, want: forwarding.ActSkip, wantReason: forwarding.ReasonClaimedFirst,
		},

		// Ordering.
		{
			name: "older notification of a forwarded prospect is superseded", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindNotification, status: "followUp", snapshotAt: older, fingerprint: fpChanged,
			want: forwarding.ActNone, wantReason: forwarding.ReasonSuperseded,
		},
		{
			name: "older notification of a skipped prospect is superseded", settings: on, lead: lead(zen7.LeadSkipped),
			kind: zen7.KindNotification, status: "new", snapshotAt: older,
			want: forwarding.ActNone, wantReason: forwarding.ReasonSuperseded,
		},
		{
			name: "older notification of a stopped prospect is superseded", settings: on, lead: lead(zen7.LeadStopped),
			kind: zen7.KindNotification, status: "new", snapshotAt: older, fingerprint: fpChanged,
			want: forwarding.ActNone, wantReason: forwarding.ReasonSuperseded,
		},
		{
			name: "the same snapshot again (a redelivery) is not superseded", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindNotification, status: "new", snapshotAt: t0, fingerprint: fpSame,
			want: forwarding.ActNone, wantReason: forwarding.ReasonNoChange,
		},

		// Notifications about a forwarded prospect.
		{
			name: "forwarded and claimed with stop on is stopped", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindNotification, status: "followUp", snapshotAt: newer, fingerprint: fpSame, want: forwarding.ActStop,
		},
		{
			name: "forwarded and archived with stop on is stopped", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindNotification, status: "archived", snapshotAt: newer, fingerprint: fpChanged, want: forwarding.ActStop,
		},
		{
			name: "forwarded and claimed with stop off and a change is updated", settings: settings(true, false), lead: lead(zen7.LeadForwarded),
			kind: zen7.KindNotification, status: "followUp", snapshotAt: newer, fingerprint: fpChanged, want: forwarding.ActUpdate,
		},
		{
			name: "forwarded and claimed with stop off and no change does nothing", settings: settings(true, false), lead: lead(zen7.LeadForwarded),
			kind: zen7.KindNotification, status: "followUp", snapshotAt: newer, fingerprint: fpSame,
			want: forwarding.ActNone, wantReason: forwarding.ReasonStopOff,
		},
		{
			name: "forwarded and unclaimed with a change is updated", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindNotification, status: "new", snapshotAt: newer, fingerprint: fpChanged, want: forwarding.ActUpdate,
		},
		{
			name: "forwarded and unchanged does nothing", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindNotification, status: "new", snapshotAt: newer, fingerprint: fpSame,
			want: forwarding.ActNone, wantReason: forwarding.ReasonNoChange,
		},
		{
			name: "auto-forward governs creation only: a forwarded lead still gets updates", settings: settings(false, true),
			lead: lead(zen7.LeadForwarded), kind: zen7.KindNotification, status: "new", snapshotAt: newer,
			fingerprint: fpChanged, want: forwarding.ActUpdate,
		},

		// Notifications about a stopped prospect.
		{
			name: "stopped and claimed does nothing", settings: on, lead: lead(zen7.LeadStopped),
			kind: zen7.KindNotification, status: "followUp", snapshotAt: newer, fingerprint: fpChanged,
			want: forwarding.ActNone, wantReason: forwarding.ReasonAlreadyStopped,
		},
		{
			name: "stopped and changed is not updated (that could restart it)", settings: on, lead: lead(zen7.LeadStopped),
			kind: zen7.KindNotification, status: "new", snapshotAt: newer, fingerprint: fpChanged,
			want: forwarding.ActNone, wantReason: forwarding.ReasonAlreadyStopped,
		},
		{
			name: "stopped, claimed, stop off and changed does nothing", settings: settings(true, false), lead: lead(zen7.LeadStopped),
			kind: zen7.KindNotification, status: "followUp", snapshotAt: newer, fingerprint: fpChanged,
			want: forwarding.ActNone, wantReason: forwarding.ReasonAlreadyStopped,
		},

		// An agent forwarding by hand.
		{name: "manual forward of an unforwarded prospect creates", settings: on, kind: zen7.KindForward, status: "new", want: forwarding.ActCreate},
		{
			name: "manual forward creates with auto-forward off", settings: settings(false, false), kind: zen7.KindForward,
			status: "new", want: forwarding.ActCreate,
		},
		{name: "manual forward of a claimed prospect creates", settings: on, kind: zen7.KindForward, status: "followUp", want: forwarding.ActCreate},
		{
			name: "manual forward of a skipped prospect creates", settings: on, lead: lead(zen7.LeadSkipped),
			kind: zen7.KindForward, status: "followUp", snapshotAt: newer, want: forwarding.ActCreate,
		},
		{
			name: "manual forward of a forwarded prospect with the same fingerprint does nothing", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindForward, status: "new", snapshotAt: newer, fingerprint: fpSame,
			want: forwarding.ActNone, wantReason: forwarding.ReasonNoChange,
		},
		{
			name: "manual forward of a forwarded prospect with a change updates", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindForward, status: "new", snapshotAt: newer, fingerprint: fpChanged, want: forwarding.ActUpdate,
		},
		{
			name: "manual forward is never superseded", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindForward, status: "new", snapshotAt: older, fingerprint: fpChanged, want: forwarding.ActUpdate,
		},

		// An agent stopping by hand.
		{
			name: "manual stop of an unforwarded prospect does nothing", settings: on, kind: zen7.KindStop, status: "new",
			want: forwarding.ActNone, wantReason: forwarding.ReasonNotForwarded,
		},
		{
			name: "manual stop of a skipped prospect does nothing", settings: on, lead: lead(zen7.LeadSkipped),
			kind: zen7.KindStop, status: "followUp", snapshotAt: newer,
			want: forwarding.ActNone, wantReason: forwarding.ReasonNotForwarded,
		},
		{
			name: "manual stop of a forwarded prospect stops", settings: on, lead: lead(zen7.LeadForwarded),
			kind: zen7.KindStop, status: "new", snapshotAt: newer, fingerprint: fpSame, want: forwarding.ActStop,
		},
		{
			name: "manual stop works with stop-on-claim off", settings: settings(true, false), lead: lead(zen7.LeadForwarded),
			kind: zen7.KindStop, status: "new", snapshotAt: older, fingerprint: fpChanged, want: forwarding.ActStop,
		},
		{
			name: "manual stop of a stopped prospect does nothing", settings: on, lead: lead(zen7.LeadStopped),
			kind: zen7.KindStop, status: "followUp", snapshotAt: newer, fingerprint: fpSame,
			want: forwarding.ActNone, wantReason: forwarding.ReasonAlreadyStopped,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snapshotAt := tt.snapshotAt
			if snapshotAt.IsZero() {
				snapshotAt = t0
			}
			d := zen7.Delivery{
				ID: "inst:k1", InstanceID: "inst", Kind: tt.kind, SnapshotAt: snapshotAt,
				Prospect: zen7.Prospect{ID: "p1", Status: tt.status, Emails: []string{"ana@example.com"}},
			}
			fp := tt.fingerprint
			if fp == "" {
				fp = fpChanged
			}
			got, reason := forwarding.Decide(tt.settings, tt.lead, d, fp)
			if got != tt.want || reason != tt.wantReason {
				t.Fatalf("Decide = %s %q, want %s %q", actionNames[got], reason.String(), actionNames[tt.want], tt.wantReason.String())
			}
		})
	}
}

// TestDecideAgainAfterActing checks what makes redelivered notifications harmless: once the
// action is recorded in the lead record the way the worker records it, the same delivery
// decides to do nothing.
func TestDecideAgainAfterActing(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := zen7.Settings{AutoForward: true, StopFollowupOnClaim: true}
	const fp = "fingerprint"
	forwarded := &zen7.Lead{State: zen7.LeadForwarded, LeadID: 1, Fingerprint: "old", SnapshotAt: t0}

	tests := []struct {
		name   string
		lead   *zen7.Lead
		kind   zen7.Kind
		status string
		want   forwarding.Action
		after  zen7.LeadState
	}{
		{name: "created", kind: zen7.KindNotification, status: "new", want: forwarding.ActCreate, after: zen7.LeadForwarded},
		{name: "updated", lead: forwarded, kind: zen7.KindNotification, status: "new", want: forwarding.ActUpdate, after: zen7.LeadForwarded},
		{name: "stopped on claim", lead: forwarded, kind: zen7.KindNotification, status: "followUp", want: forwarding.ActStop, after: zen7.LeadStopped},
		{name: "forwarded by hand", kind: zen7.KindForward, status: "followUp", want: forwarding.ActCreate, after: zen7.LeadForwarded},
		{name: "stopped by hand", lead: forwarded, kind: zen7.KindStop, status: "new", want: forwarding.ActStop, after: zen7.LeadStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := zen7.Delivery{Kind: tt.kind, SnapshotAt: t0.Add(time.Minute), Prospect: zen7.Prospect{ID: "p1", Status: tt.status}}
			if got, _ := forwarding.Decide(s, tt.lead, d, fp); got != tt.want {
				t.Fatalf("first Decide = %s, want %s", actionNames[got], actionNames[tt.want])
			}
			after := &zen7.Lead{State: tt.after, LeadID: 1, Fingerprint: fp, SnapshotAt: d.SnapshotAt}
			if got, reason := forwarding.Decide(s, after, d, fp); got != forwarding.ActNone {
				t.Fatalf("Decide after acting = %s %q, want none", actionNames[got], reason.String())
			}
		})
	}
}
