package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// TestReportQueriesAgree checks the report's queries: on the embedded store they read SQLite
// directly (store/sqlitefile.go), and must return what the queries through the driver
// return, field for field, for every kind of delivery and lead record the App writes.
func TestReportQueriesAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	outbox, pages := store.NewOutbox(db), store.NewPages(db)

	day1 := time.Date(2026, 3, 1, 23, 59, 59, 999_000_000, time.UTC)
	day2 := day1.Add(time.Second) // the next day
	type seeded struct {
		instance string
		at       time.Time
		state    zen7.DeliveryState
		outcome  zen7.Outcome
		reason   string
		kind     zen7.Kind
	}
	seeds := []seeded{
		{"inst-a", day1, zen7.StateDone, zen7.OutcomeCreated, "", zen7.KindNotification},
		{"inst-a", day1, zen7.StateSkipped, zen7.OutcomeNone, "the prospect has no email address", zen7.KindNotification},
		{"inst-a", day2, zen7.StateFailed, zen7.OutcomeNone, `7Targets refused it (HTTP 400): "bad" — ünïcode`, zen7.KindForward},
		{"inst-a", day2, zen7.StateDead, zen7.OutcomeNone, "gave up", zen7.KindNotification},
		{"inst-a", day2, zen7.StateDone, zen7.OutcomeStopped, "", zen7.KindStop},
		{"inst-b", day1, zen7.StateDone, zen7.OutcomeCreated, "", zen7.KindNotification},
		// Chat-Tonic imports, which the report counts apart from the 7Targets deliveries by kind.
		{"inst-a", day2, zen7.StateDone, zen7.OutcomeImported, "", zen7.KindChatTonic},
		{"inst-a", day1, zen7.StateSkipped, zen7.OutcomeNone, "no contact data", zen7.KindChatTonic},
	}
	for i, s := range seeds {
		d := zen7.Delivery{
			ID: fmt.Sprintf("%s:d%d", s.instance, i), InstanceID: s.instance, Kind: s.kind,
			Prospect:   zen7.Prospect{ID: fmt.Sprintf("p%d", i), FirstName: "José", LastName: `O"Brien`, Emails: []string{"x@example.com"}},
			SnapshotAt: s.at, CreatedAt: s.at,
			State: s.state, Attempts: 1,
			Pending: zen7.Pending{NextAttemptAt: s.at}, Result: zen7.Result{Outcome: s.outcome, Reason: zen7.ParseReason(s.reason), FinishedAt: s.at},
		}
		if i == 0 {
			d.Prospect.FirstName, d.Prospect.LastName = "", "" // omitted when empty
		}
		if s.outcome == zen7.OutcomeCreated {
			d.AssistantEmail, d.LeadID = "ana@assistant.example", int64(100+i)
			d.RoutedBy, d.Rule = zen7.RoutedByRule, "utmSource ~ ads -> ana@assistant.example | Démo"
		}
		if s.kind == zen7.KindStop {
			d.RoutedBy = zen7.RoutedByAgent
		}
		if _, err := outbox.Enqueue(ctx, []zen7.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		if err := outbox.Finish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	// A failed delivery an agent sent round again is marked retrying.
	if err := outbox.Requeue(ctx, "inst-a", "inst-a:d2", day2); err != nil {
		t.Fatal(err)
	}
	leads := []zen7.Lead{
		{InstanceID: "inst-a", ProspectID: "p0", State: zen7.LeadForwarded, SevenTargetsState: "Warm", UpdatedAt: day2},
		{InstanceID: "inst-a", ProspectID: "p4", State: zen7.LeadStopped, UpdatedAt: day1},
		{InstanceID: "inst-a", ProspectID: "p1", State: zen7.LeadSkipped, Reason: zen7.ParseReason("no email")},
		{InstanceID: "inst-b", ProspectID: "p5", State: zen7.LeadForwarded, SevenTargetsState: "Cold", UpdatedAt: day1},
	}
	for _, l := range leads {
		if err := outbox.SaveLead(ctx, l); err != nil {
			t.Fatal(err)
		}
	}

	byID := cmpopts.SortSlices(func(a, b zen7.Delivery) bool { return a.ID < b.ID })
	byProspect := cmpopts.SortSlices(func(a, b zen7.Lead) bool { return a.ProspectID < b.ProspectID })
	d1, d2 := day1.Format(time.DateOnly), day2.Format(time.DateOnly)
	tests := []struct {
		instance, from, to string
		want               int
	}{
		{"inst-a", d1, d2, 7},
		{"inst-a", d1, d1, 3},
		{"inst-a", d2, d2, 4},
		{"inst-a", "2020-01-01", "2020-12-31", 0},
		{"inst-b", d1, d2, 1},
		{"inst-unknown", d1, d2, 0},
	}
	for _, tt := range tests {
		got, err := pages.ReportDeliveries(ctx, tt.instance, tt.from, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pages.ReportDeliveriesQuery(ctx, tt.instance, tt.from, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != tt.want {
			t.Fatalf("%s %s..%s: the driver's query found %d deliveries, want %d", tt.instance, tt.from, tt.to, len(want), tt.want)
		}
		if diff := cmp.Diff(want, got, byID, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s %s..%s: ReportDeliveries differs from the driver's query (-driver +got):\n%s", tt.instance, tt.from, tt.to, diff)
		}
	}
	imports := 0
	all, _ := pages.ReportDeliveries(ctx, "inst-a", d1, d2)
	for _, d := range all {
		if d.Kind == zen7.KindChatTonic {
			imports++
		}
	}
	if imports != 2 {
		t.Errorf("ReportDeliveries tells %d Chat-Tonic imports by their kind, want 2: %+v", imports, all)
	}
	retried := func(d zen7.Delivery) bool { return d.ID == "inst-a:d2" && d.Retrying }
	if got, _ := pages.ReportDeliveries(ctx, "inst-a", d2, d2); !slices.ContainsFunc(got, retried) {
		t.Errorf("the retried failure is not marked retrying: %+v", got)
	}
	for _, instance := range []string{"inst-a", "inst-b", "inst-unknown"} {
		got, err := pages.ForwardedLeads(ctx, instance)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pages.ForwardedLeadsQuery(ctx, instance)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, byProspect, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: ForwardedLeads differs from the driver's query (-driver +got):\n%s", instance, diff)
		}
	}
	if got, _ := pages.ForwardedLeads(ctx, "inst-a"); len(got) != 2 {
		t.Errorf("inst-a has %d forwarded or stopped leads, want 2", len(got))
	}
}

// TestEmbeddedReportReadsByIndex checks that SQLite plans the report's queries on the embedded
// store through their indexes, so they read what is in range rather than every row.
func TestEmbeddedReportReadsByIndex(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	file := store.ReportFile(db)
	if file == "" {
		t.Skip("MONGODB_TEST_URI is set: the report's queries run on MongoDB's indexes")
	}
	ctx := context.Background()
	conn, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	table := func(col string) string {
		var name string
		if err := conn.QueryRowContext(ctx, `SELECT table_name FROM "_ferretdb_collections" WHERE name = ?`, col).Scan(&name); err != nil {
			t.Fatal(err)
		}
		return `"` + name + `"`
	}
	for _, q := range []string{
		`SELECT 1 FROM ` + table("deliveries") + ` WHERE _ferretdb_sjson->>'$.instanceId' = 'i' AND _ferretdb_sjson->>'$.day' BETWEEN 'a' AND 'b'`,
		`SELECT 1 FROM ` + table("leads") + ` WHERE _ferretdb_sjson->>'$.instanceId' = 'i' AND _ferretdb_sjson->>'$.state' IN ('x', 'y')`,
	} {
		plan := queryPlan(t, conn, q)
		if !strings.Contains(plan, "USING INDEX") {
			t.Errorf("%s plans as %q, want an index", q, plan)
		}
	}
}
