package store_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// TestReasonStoredAsText reads deliveries and lead records as the version before reason codes
// wrote them, with the reason in English words, and checks that they come back as codes and
// so show translated, through every way the App reads them.
func TestReasonStoredAsText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	outbox, pages := store.NewOutbox(db), store.NewPages(db)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	day := at.Format(time.DateOnly)

	old := []struct {
		id, reason string
		want       zen7.Reason
		spanish    string
	}{
		{"inst:d1", "the prospect has no email address", zen7.Because(zen7.ReasonNoEmail), "El prospecto no tiene correo electrónico"},
		{"inst:d2", "7Targets refused it (HTTP 400): Invalid assistant", zen7.Reason{Code: zen7.ReasonRefused, Status: 400, Detail: "Invalid assistant"}, "7Targets lo rechazó (HTTP 400): Invalid assistant"},
	}
	for _, o := range old {
		doc := bson.D{
			{Key: "_id", Value: o.id}, {Key: "instanceId", Value: "inst"}, {Key: "kind", Value: "notification"},
			{Key: "prospect", Value: bson.D{{Key: "id", Value: "p-" + o.id}}},
			{Key: "snapshotAt", Value: at}, {Key: "createdAt", Value: at}, {Key: "round", Value: 0},
			{Key: "attempts", Value: 1}, {Key: "claims", Value: 1}, {Key: "nextAttemptAt", Value: at}, {Key: "leaseUntil", Value: at},
			{Key: "state", Value: "skipped"}, {Key: "outcome", Value: "none"}, {Key: "reason", Value: o.reason},
			{Key: "finishedAt", Value: at}, {Key: "day", Value: day},
		}
		if err := store.InsertRaw(ctx, db, "deliveries", doc); err != nil {
			t.Fatal(err)
		}
	}
	lead := bson.D{
		{Key: "_id", Value: "inst:p-old"}, {Key: "instanceId", Value: "inst"}, {Key: "prospectId", Value: "p-old"},
		{Key: "state", Value: "skipped"}, {Key: "reason", Value: old[0].reason}, {Key: "snapshotAt", Value: at}, {Key: "updatedAt", Value: at},
	}
	if err := store.InsertRaw(ctx, db, "leads", lead); err != nil {
		t.Fatal(err)
	}

	check := func(how string, got zen7.Reason, want zen7.Reason, spanish string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: reason %+v, want %+v", how, got, want)
		}
		if text := view.ReasonText(view.Spanish, got); text != spanish {
			t.Errorf("%s: shown as %q, want %q", how, text, spanish)
		}
	}
	byID := map[string]zen7.Reason{}
	for _, read := range []struct {
		how string
		fn  func(context.Context, string, string, string) ([]zen7.Delivery, error)
	}{
		{"report", pages.ReportDeliveries},
		{"report through the driver", pages.ReportDeliveriesQuery},
	} {
		ds, err := read.fn(ctx, "inst", day, day)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			byID[read.how+" "+d.ID] = d.Reason
		}
	}
	for _, o := range old {
		d, err := outbox.Delivery(ctx, o.id)
		if err != nil {
			t.Fatal(err)
		}
		check("Delivery "+o.id, d.Reason, o.want, o.spanish)
		check("report "+o.id, byID["report "+o.id], o.want, o.spanish)
		check("report through the driver "+o.id, byID["report through the driver "+o.id], o.want, o.spanish)
	}
	l, err := outbox.Lead(ctx, "inst", "p-old")
	if err != nil {
		t.Fatal(err)
	}
	check("Lead", l.Reason, old[0].want, old[0].spanish)

	// Written again, the record keeps a code and no words.
	if err := outbox.SaveLead(ctx, l); err != nil {
		t.Fatal(err)
	}
	raw, err := store.RawDocuments(ctx, db, "leads")
	if err != nil {
		t.Fatal(err)
	}
	if _, words := raw[0]["reason"]; words || raw[0]["why"] == nil {
		t.Errorf("rewritten lead record = %v, want a why and no reason text", raw[0])
	}
}
