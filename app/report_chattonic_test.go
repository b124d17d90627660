package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
	"github.com/7targets/zenvia-sales-app/store"
)

// TestReportShowsChatTonicApart checks the report over HTTP for an instance that imports
// Chat-Tonic records: its Chat-Tonic card shows the source's state, its funnel groups and, per
// day of the period, the records read, imported, skipped and failed, while the 7Targets part
// (the summary, the days, the assistants and the failures) counts only what was forwarded to
// 7Targets. An imported record is not a forwarded lead: the prospect Sales makes of it comes
// back as a notification and is forwarded, and counted, as any other.
func TestReportShowsChatTonicApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t)
	in := e.setupForwarding("key-pages-ct0001", "")
	// One prospect forwarded to 7Targets: the whole of the 7Targets part.
	e.notify(in, "created", time.Time{}, prospect("ctrep000000000000000001", "new"))
	e.finished(in, "ctrep000000000000000001", "forwarded")

	today := time.Now().UTC().Truncate(24 * time.Hour)
	day := func(n int) time.Time { return today.AddDate(0, 0, -n) }
	date := func(n int) string { return day(n).Format(time.DateOnly) }

	// The poller's state of the source, written as the poller writes it.
	sources := store.NewChatTonicSources(e.db)
	if err := sources.CreateChatTonicSource(ctx, zen7.ChatTonicSource{InstanceID: in.id, Codename: "acme-bot", ConfiguredAt: day(20), Watermark: day(20)}); err != nil {
		t.Fatal(err)
	}
	src, err := sources.ChatTonicSource(ctx, in.id)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if src, err = sources.TakeChatTonicSource(ctx, src, "test", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	lastGood := day(2).Add(8*time.Hour + 30*time.Minute)
	src.LastGoodRead, src.Groups = lastGood, []string{"sacarTarjeta/Sacar Tarjeta", "prestamos/Préstamo personal"}
	src.LastError, src.LastErrorAt, src.Failing = "chattonic.funnels acme-bot: 401 Unauthorized", day(1).Add(9*time.Hour), true
	src.ReadByDay = map[string]int{date(1): 6, date(2): 2, date(12): 9} // day 12 is before the period
	// Not due for an hour: the App's poller, which runs in this test, leaves it as written.
	src.NextPollAt = now.Add(time.Hour)
	if err := sources.SaveChatTonicSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	for _, codename := range []string{"acme-bot", "other-bot"} {
		if err := e.ct.AddAccount(codename, "ct-token-0001"); err != nil {
			t.Fatal(err)
		}
	}
	if res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key, body: `{"chatTonicCodename":"acme-bot","chatTonicToken":"ct-token-0001"}`}); res.status != 200 {
		t.Fatalf("Chat-Tonic settings: %d %s", res.status, res.body)
	}

	// The imports of the records read, finished as the worker finishes them: queued with no
	// attempt due (so the running worker leaves them), then recorded.
	type imported struct {
		daysAgo int
		state   zen7.DeliveryState
		outcome zen7.Outcome
		reason  zen7.Reason
	}
	refused := zen7.Reason{Code: zen7.ReasonImportRefused, Status: 422, Detail: "invalid phone"}
	for i, im := range []imported{
		{1, zen7.StateDone, zen7.OutcomeImported, zen7.Reason{}},
		{1, zen7.StateDone, zen7.OutcomeImported, zen7.Reason{}},
		{1, zen7.StateDone, zen7.OutcomeImported, zen7.Reason{}},
		{1, zen7.StateSkipped, zen7.OutcomeNone, zen7.Because(zen7.ReasonNoContact)},
		{2, zen7.StateDone, zen7.OutcomeImported, zen7.Reason{}},
		{2, zen7.StateFailed, zen7.OutcomeNone, refused},
		{12, zen7.StateDone, zen7.OutcomeImported, zen7.Reason{}}, // before the period
	} {
		at := day(im.daysAgo).Add(10*time.Hour + time.Duration(i)*time.Minute)
		d := zen7.Delivery{
			ID: fmt.Sprintf("%s:chattonic:rec%d", in.id, i), InstanceID: in.id, Kind: zen7.KindChatTonic,
			Prospect:   zen7.Prospect{ID: fmt.Sprintf("rec%d", i), FirstName: "Bot", LastName: "Lead", Phones: []string{"+5491155550101"}},
			SnapshotAt: at, CreatedAt: at, State: im.state, Attempts: 1,
			Pending: zen7.Pending{NextAttemptAt: now.Add(time.Hour)},
			Result:  zen7.Result{Outcome: im.outcome, Reason: im.reason, FinishedAt: at},
		}
		if _, err := e.outbox.Enqueue(ctx, []zen7.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		if err := e.outbox.Finish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}

	// The report's data: the 7Targets part has the one forwarded prospect, no more.
	inst := e.instance(in.key)
	p := e.pages.Report(ctx, inst, "u1", "last7", "", "", view.English)
	if p.ErrorMessage != "" {
		t.Fatalf("report error: %s", p.ErrorMessage)
	}
	if want := (view.Counts{Forwarded: 1}); p.Totals != want {
		t.Errorf("7Targets totals %+v, want %+v: the Chat-Tonic imports are not 7Targets deliveries", p.Totals, want)
	}
	var days view.Counts
	for _, d := range p.Days {
		days.Forwarded, days.Skipped, days.Failed = days.Forwarded+d.Forwarded, days.Skipped+d.Skipped, days.Failed+d.Failed
	}
	if days != p.Totals {
		t.Errorf("the days add up to %+v, the totals are %+v", days, p.Totals)
	}
	if len(p.Assistants) != 1 || p.Assistants[0].Counts != (view.Counts{Forwarded: 1}) {
		t.Errorf("by assistant %+v, want the one forwarded prospect", p.Assistants)
	}
	if len(p.Failures) != 0 {
		t.Errorf("failures %+v, want none: Sales refusing an import is no 7Targets failure", p.Failures)
	}
	if p.ChatTonic == nil {
		t.Fatal("no Chat-Tonic part in the report")
	}
	if want := (view.ChatTonicCounts{Read: 8, Imported: 4, Skipped: 1, Failed: 1}); p.ChatTonic.Totals != want {
		t.Errorf("Chat-Tonic totals %+v, want %+v", p.ChatTonic.Totals, want)
	}

	// The page, over HTTP.
	pg := getPage(t, e.signedURL(reportPath(in.groupID, "en"), true))
	if pg.status != 200 {
		t.Fatalf("report: %d\n%s", pg.status, pg.body)
	}
	checkFramingHeaders(t, pg)
	doc, err := html.Parse(strings.NewReader(pg.body))
	if err != nil {
		t.Fatal(err)
	}
	card := ctFind(doc, "section", "chattonic")
	if card == nil {
		t.Fatalf("the report has no Chat-Tonic card:\n%s", pg.body)
	}
	for class, want := range map[string]string{
		"chattonic-state":  view.T(view.English, "chattonic.failing"),
		"chattonic-note":   view.T(view.English, "chattonic.failing.text"),
		"chattonic-good":   lastGood.Format("Jan 2, 2006, 15:04") + " UTC",
		"chattonic-error":  src.LastErrorAt.Format("Jan 2, 2006, 15:04") + " UTC · chattonic.funnels acme-bot: 401 Unauthorized",
		"chattonic-groups": "sacarTarjeta/Sacar Tarjeta prestamos/Préstamo personal",
	} {
		if got := ctText(ctFind(card, "", class)); got != want {
			t.Errorf("card .%s = %q, want %q", class, got, want)
		}
	}
	if got, want := ctKPIs(card), []string{"8", "4", "1", "1"}; !cmp.Equal(want, got) {
		t.Errorf("card read, imported, skipped, failed = %v, want %v", got, want)
	}
	rows := ctRows(ctFind(card, "table", "chattonic-days"))
	if len(rows) != 7 {
		t.Errorf("the card has %d days, want the period's 7", len(rows))
	}
	for n, want := range map[int][]string{
		0: {"0", "0", "0", "0"},
		1: {"6", "3", "1", "0"},
		2: {"2", "1", "0", "1"},
		3: {"0", "0", "0", "0"},
	} {
		if got := rows[date(n)]; !cmp.Equal(want, got) {
			t.Errorf("card on %s: read, imported, skipped, failed = %v, want %v", date(n), got, want)
		}
	}

	// The 7Targets part of the page: one prospect processed, forwarded; no failure listed.
	summary := ctFindAttr(doc, "section", "aria-label", view.T(view.English, "report.summary"))
	if got, want := ctKPIs(summary), []string{"1", "1", "0", "0"}; !cmp.Equal(want, got) {
		t.Errorf("7Targets summary processed, forwarded, skipped, failed = %v, want %v", got, want)
	}
	assistants := ctRows(ctTableUnder(doc, "assistants-title"))
	if got := assistants[seventargetsfake.SeedAssistantEmail]; !cmp.Equal([]string{"1", "0", "0", "1"}, got) {
		t.Errorf("by assistant: %v, want only %s with 1 forwarded", assistants, seventargetsfake.SeedAssistantEmail)
	}
	var dailySkipped, dailyFailed int
	for _, cells := range ctRows(ctTableUnder(doc, "daily-title")) {
		dailySkipped += ctAtoi(cells[1])
		dailyFailed += ctAtoi(cells[2])
	}
	if dailySkipped != 0 || dailyFailed != 0 {
		t.Errorf("the 7Targets days count %d skipped and %d failed, want none", dailySkipped, dailyFailed)
	}
	if !strings.Contains(pg.body, view.T(view.English, "report.failures.none")) || strings.Contains(pg.body, "invalid phone") {
		t.Error("the 7Targets failures list shows the refused import")
	}
	e.assertNoSecrets("ct-token-0001")

	// Another bot account: the source's state is the old account's, which the next read
	// starts over, so the card shows it not read yet; what was imported stays counted.
	if res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key, body: `{"chatTonicCodename":"other-bot"}`}); res.status != 200 {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	p = e.pages.Report(ctx, e.instance(in.key), "u1", "last7", "", "", view.English)
	if ct := p.ChatTonic; ct == nil || ct.Failing || !ct.LastGoodRead.IsZero() || ct.LastError != "" || ct.Groups != nil || ct.Totals.Imported != 4 {
		t.Errorf("after the codename changed: %+v, want the new account not read yet, the imports still counted", ct)
	}
}

// ctFind returns the first element under n named tag ("" for any) with the class ("" for
// any), or nil.
func ctFind(n *html.Node, tag, class string) *html.Node {
	all := ctFindAll(n, tag, class)
	if len(all) == 0 {
		return nil
	}
	return all[0]
}

// ctFindAll returns the elements under n named tag ("" for any) with the class ("" for any).
func ctFindAll(n *html.Node, tag, class string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (tag == "" || n.Data == tag) && (class == "" || strings.Contains(" "+ctAttr(n, "class")+" ", " "+class+" ")) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

// ctFindAttr returns the first element under n named tag whose attribute key is val, or nil.
func ctFindAttr(n *html.Node, tag, key, val string) *html.Node {
	for _, e := range ctFindAll(n, tag, "") {
		if ctAttr(e, key) == val {
			return e
		}
	}
	return nil
}

// ctTableUnder returns the table of the card whose heading has the id, or nil.
func ctTableUnder(doc *html.Node, headingID string) *html.Node {
	for _, s := range ctFindAll(doc, "section", "card") {
		if ctAttr(s, "aria-labelledby") == headingID {
			return ctFind(s, "table", "")
		}
	}
	return nil
}

func ctAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// ctText is the text under n, its white space collapsed; "<none>" for no element.
func ctText(n *html.Node) string {
	if n == nil {
		return "<none>"
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data + " ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// ctKPIs returns the key figures under n, in order.
func ctKPIs(n *html.Node) []string {
	var out []string
	for _, dd := range ctFindAll(n, "dd", "kpi-value") {
		out = append(out, ctText(dd))
	}
	return out
}

// ctRows returns a table's body rows by their first cell (a day's datetime, or its text),
// each with its other cells' texts.
func ctRows(table *html.Node) map[string][]string {
	rows := map[string][]string{}
	for _, tr := range ctFindAll(ctFind(table, "tbody", ""), "tr", "") {
		var key string
		var cells []string
		for c := tr.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			if key == "" {
				key = ctText(c)
				if tm := ctFind(c, "time", ""); tm != nil {
					key = ctAttr(tm, "datetime")
				}
				continue
			}
			cells = append(cells, ctText(c))
		}
		rows[key] = cells
	}
	return rows
}

func ctAtoi(s string) int {
	var n int
	_, _ = fmt.Sscanf(strings.ReplaceAll(s, ",", ""), "%d", &n)
	return n
}
