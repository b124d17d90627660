package view_test

import (
	"bytes"
	"strings"
	"testing"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions/view"
)

// TestPendingDialogRefreshes: while a delivery is on its way the dialog reloads itself, so the
// agent sees the outcome without reopening it; otherwise it stays still.
func TestPendingDialogRefreshes(t *testing.T) {
	t.Parallel()
	for _, pending := range []bool{true, false} {
		var b bytes.Buffer
		p := view.ButtonPage{Lang: view.English, Pending: pending, Prospect: view.ButtonProspect{ID: "p1", FirstName: "Ana"}}
		if err := view.RenderButton(&b, p); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), `<meta http-equiv="refresh" content="3">`); got != pending {
			t.Errorf("pending=%v: refresh present = %v", pending, got)
		}
	}
}

func TestRefusalReasonTranslated(t *testing.T) {
	t.Parallel()
	got := view.ReasonText(view.Portuguese, zen7.ParseReason("7Targets refused it (HTTP 400): Invalid assistant"))
	if got != "A 7Targets recusou (HTTP 400): Invalid assistant" {
		t.Fatalf("ReasonText = %q", got)
	}
	if got := view.StateText(view.Spanish, "Forwarded"); got != "Reenviados" {
		t.Fatalf("StateText(Forwarded) = %q", got)
	}
}
