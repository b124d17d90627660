package zen7_test

import (
	"testing"

	zen7 "github.com/7targets/zenvia-sales-app"
)

func TestDeliveryCount(t *testing.T) {
	for _, c := range []struct {
		state   zen7.DeliveryState
		outcome zen7.Outcome
		want    zen7.Count
	}{
		{zen7.StateDone, zen7.OutcomeCreated, zen7.CountForwarded},
		{zen7.StateDone, zen7.OutcomeImported, zen7.CountImported},
		{zen7.StateDone, zen7.OutcomeUpdated, zen7.CountNone},
		{zen7.StateDone, zen7.OutcomeStopped, zen7.CountNone},
		{zen7.StateDone, zen7.OutcomeNone, zen7.CountNone},
		{zen7.StateSkipped, zen7.OutcomeNone, zen7.CountSkipped},
		{zen7.StateFailed, zen7.OutcomeNone, zen7.CountFailed},
		{zen7.StateDead, zen7.OutcomeNone, zen7.CountFailed},
		{zen7.StatePending, "", zen7.CountNone},
	} {
		d := zen7.Delivery{State: c.state}
		d.Outcome = c.outcome
		if got := d.Count(); got != c.want {
			t.Errorf("%s/%s counts as %d, want %d", c.state, c.outcome, got, c.want)
		}
	}
}
