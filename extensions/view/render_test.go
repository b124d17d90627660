package view_test

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions/view"
)

// The golden files are rewritten with: go test ./extensions/view/ -run RenderGolden -update
func init() {
	// Another test file of the package may have registered the flag already.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func uiUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const (
	uiXSS       = `<script>alert(1)</script>`
	uiAttrXSS   = `"><img src=x onerror=alert(1)>`
	uiActionURL = "/extensions/actions"
	uiBack      = "/extensions/buttons/7targets?prospect=p1&signature=abc"
)

func uiDay(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// uiReport is a realistic month of forwarding.
func uiReport(lang view.Lang) view.ReportPage {
	start := uiDay("2026-03-01")
	p := view.ReportPage{
		Lang: lang, RangeName: "last30", Start: start, End: start.AddDate(0, 0, 29),
		ActionURL: uiActionURL, Back: "/extensions/reports/7targets?range=last30&signature=abc",
	}
	for i := range 30 {
		c := view.Counts{Forwarded: 20 + (i*37)%45, Skipped: (i * 7) % 9, Failed: (i * 5) % 4}
		if i%7 >= 5 {
			c = view.Counts{Forwarded: c.Forwarded / 4, Skipped: 1}
		}
		p.Days = append(p.Days, view.DayCounts{Day: start.AddDate(0, 0, i), Counts: c})
		p.Totals.Forwarded += c.Forwarded
		p.Totals.Skipped += c.Skipped
		p.Totals.Failed += c.Failed
	}
	p.Assistants = []view.AssistantCounts{
		{Assistant: "ava.sales@acme-industries.com", Counts: view.Counts{Forwarded: 612, Skipped: 40, Failed: 12}},
		{Assistant: "leo@acme.com", Counts: view.Counts{Forwarded: 301, Skipped: 22, Failed: 5}},
	}
	p.States = []view.StateCount{{State: "Cold", Count: 520}, {State: "Warm", Count: 260}, {State: "Hot", Count: 95}, {State: "Stopped", Count: 40}}
	p.Funnel = []view.FunnelStep{{State: "Cold", Count: 915, Percent: 100}, {State: "Warm", Count: 355, Percent: 38}, {State: "Hot", Count: 95, Percent: 10}}
	p.Failures = []view.Failure{
		{DeliveryID: "d1", ProspectID: "64f1c2a9e1", Name: "María José Fernández", Reason: zen7.ParseReason("7targets: 400 Bad Request: Invalid assistant email"), At: uiDay("2026-03-29").Add(14*time.Hour + 5*time.Minute)},
		{DeliveryID: "d2", ProspectID: "64f1c2a9e2", Reason: zen7.ParseReason("gave up after 72h0m0s: 7targets: 503 Service Unavailable"), At: uiDay("2026-03-28").Add(9 * time.Hour), Dead: true},
		{DeliveryID: "d3", ProspectID: "64f1c2a9e3", Name: "John Smith", Reason: zen7.ParseReason("the prospect has no email address"), At: uiDay("2026-03-27"), Retrying: true},
	}
	p.RetryTokens = []string{"retry-1", "retry-2", ""}
	return p
}

// uiButton is a prospect that was never forwarded, with two assistants to choose from.
func uiButton(lang view.Lang) view.ButtonPage {
	return view.ButtonPage{
		Lang: lang,
		Prospect: view.ButtonProspect{
			ID: "64f1c2a9e1", FirstName: "María José", LastName: "Fernández",
			Emails: []string{"mj.fernandez@example.com", "mj@work.example"}, Phones: []string{"+5491155550101"},
		},
		Assistants: []view.Assistant{
			{Name: "Ava (Sales)", Email: "ava@acme.com"},
			{Name: "Leo", Email: "leo@acme.com"},
		},
		DefaultAssistant: "leo@acme.com", DefaultSchedule: "Inbound 14 days",
		ActionURL: uiActionURL, Back: uiBack,
		ForwardToken: "fwd-token", StopToken: "stop-token",
	}
}

func uiForwardedLead() *zen7.Lead {
	return &zen7.Lead{
		State: zen7.LeadForwarded, LeadID: 918273, Email: "mj.fernandez@example.com",
		AssistantEmail: "leo@acme.com", ScheduleName: "Inbound 14 days",
		SevenTargetsState: "Warm", SubState: "Replied", NextScheduleTime: uiDay("2026-04-02").Add(15*time.Hour + 30*time.Minute),
	}
}

func uiFailedDelivery() *zen7.Delivery {
	return &zen7.Delivery{ID: "del-9", State: zen7.StateFailed, Result: zen7.Result{Reason: zen7.ParseReason("the prospect has no email address"), FinishedAt: uiDay("2026-03-29")}}
}

// uiDoc is a parsed page with helpers to query it.
type uiDoc struct {
	raw  string
	root *html.Node
}

func uiRender(t *testing.T, render func(io.Writer) error) uiDoc {
	t.Helper()
	var b bytes.Buffer
	if err := render(&b); err != nil {
		t.Fatalf("render: %v", err)
	}
	root, err := html.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return uiDoc{raw: b.String(), root: root}
}

func uiAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func uiHasClass(n *html.Node, class string) bool {
	v, _ := uiAttr(n, "class")
	return strings.Contains(" "+v+" ", " "+class+" ")
}

// all returns the elements named tag ("" for every element) under n, in document order.
func (d uiDoc) all(n *html.Node, tag string) []*html.Node {
	if n == nil {
		n = d.root
	}
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (tag == "" || n.Data == tag) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// forms returns the page's forms by their hidden "action" input.
func (d uiDoc) forms() map[string][]*html.Node {
	m := map[string][]*html.Node{}
	for _, f := range d.all(nil, "form") {
		m[d.input(f, "action")] = append(m[d.input(f, "action")], f)
	}
	return m
}

// input returns the value of the form's input named name, or "<none>".
func (d uiDoc) input(form *html.Node, name string) string {
	for _, in := range d.all(form, "input") {
		if n, _ := uiAttr(in, "name"); n == name {
			v, _ := uiAttr(in, "value")
			return v
		}
	}
	return "<none>"
}

func uiText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// checkPage checks what every page must satisfy: its language, the CSP (no inline style or
// script, nothing from another origin), escaping, and forms that carry a token and an action.
func (d uiDoc) checkPage(t *testing.T, lang view.Lang) {
	t.Helper()
	htmls := d.all(nil, "html")
	if got, _ := uiAttr(htmls[0], "lang"); got != string(lang) {
		t.Errorf("<html lang=%q>, want %q", got, lang)
	}
	if n := len(d.all(nil, "title")); n == 0 {
		t.Error("no <title>")
	}
	if n := len(d.all(nil, "style")); n != 0 {
		t.Errorf("%d <style> elements; the CSP forbids inline styles", n)
	}
	if n := len(d.all(nil, "img")); n != 0 {
		t.Errorf("%d <img> elements; the pages have none (an injection?)", n)
	}
	for _, s := range d.all(nil, "script") {
		src, ok := uiAttr(s, "src")
		if !ok || !strings.HasPrefix(src, view.AssetsPath) || s.FirstChild != nil {
			t.Errorf("script src=%q with content: only external scripts from %s are allowed", src, view.AssetsPath)
		}
	}
	links := 0
	for _, n := range d.all(nil, "") {
		for _, a := range n.Attr {
			switch {
			case a.Key == "style":
				t.Errorf("<%s style=%q>: the CSP forbids style attributes", n.Data, a.Val)
			case strings.HasPrefix(a.Key, "on"):
				t.Errorf("<%s %s=%q>: event handler attribute", n.Data, a.Key, a.Val)
			case strings.Contains(a.Val, "http://") || strings.Contains(a.Val, "https://") || strings.HasPrefix(a.Val, "//"):
				t.Errorf("<%s %s=%q>: external URL", n.Data, a.Key, a.Val)
			case strings.Contains(strings.ToLower(a.Val), "javascript:"):
				t.Errorf("<%s %s=%q>: script URL", n.Data, a.Key, a.Val)
			}
		}
		if n.Data == "link" {
			if href, _ := uiAttr(n, "href"); strings.HasPrefix(href, view.AssetsPath+"app.css") {
				links++
			}
		}
	}
	if links != 1 {
		t.Errorf("%d links to %sapp.css, want 1", links, view.AssetsPath)
	}
	ids := map[string]bool{}
	for _, n := range d.all(nil, "") {
		if id, ok := uiAttr(n, "id"); ok {
			if ids[id] {
				t.Errorf("duplicate id %q", id)
			}
			ids[id] = true
		}
	}
	for _, n := range d.all(nil, "") {
		for _, key := range []string{"for", "aria-labelledby", "aria-describedby"} {
			v, ok := uiAttr(n, key)
			if !ok {
				continue
			}
			for _, id := range strings.Fields(v) {
				if !ids[id] {
					t.Errorf("<%s %s=%q>: no element has id %q", n.Data, key, v, id)
				}
			}
		}
	}
	for _, b := range d.all(nil, "button") {
		// WCAG 2.5.3: a spoken command using the visible label must reach the button.
		if label, ok := uiAttr(b, "aria-label"); ok && !strings.Contains(label, strings.TrimSpace(uiText(b))) {
			t.Errorf("button %q has the accessible name %q, which does not contain its label", uiText(b), label)
		}
	}
	for _, f := range d.all(nil, "form") {
		if m, _ := uiAttr(f, "method"); m != "post" {
			t.Errorf("form method %q, want post", m)
		}
		if a, _ := uiAttr(f, "action"); a != uiActionURL {
			t.Errorf("form action %q, want %q", a, uiActionURL)
		}
		if tok := d.input(f, "token"); tok == "" || tok == "<none>" {
			t.Errorf("form without a token: %q", tok)
		}
		switch act := d.input(f, "action"); act {
		case "forward", "stop":
		case "retry":
			if id := d.input(f, "deliveryId"); id == "" || id == "<none>" {
				t.Errorf("retry form without deliveryId")
			}
		default:
			t.Errorf("form with action %q", act)
		}
		if l := d.input(f, "lang"); l != string(lang) {
			t.Errorf("form lang %q, want %q", l, lang)
		}
		if len(d.all(f, "button")) != 1 {
			t.Errorf("form with %d buttons, want 1", len(d.all(f, "button")))
		}
	}
	for _, key := range []string{"%!", "MISSING", "<no value>", "ZgotmplZ"} {
		if strings.Contains(d.raw, key) {
			t.Errorf("page contains %q", key)
		}
	}
	for _, k := range regexp.MustCompile(`\b(?:status|report|button|forward|error|lead|chart|range|reason)\.[a-zA-Z.]+\b`).FindAllString(uiText(d.root), -1) {
		if view.HasKey(k) {
			t.Errorf("page shows the message key %q instead of its text", k)
		}
	}
}

func TestRenderReport(t *testing.T) {
	t.Parallel()
	for _, lang := range view.Langs {
		t.Run(string(lang), func(t *testing.T) {
			t.Parallel()
			d := uiRender(t, func(w io.Writer) error { return view.RenderReport(w, uiReport(lang)) })
			d.checkPage(t, lang)
			text := uiText(d.root)
			for _, want := range []string{
				view.T(lang, "report.title"), view.T(lang, "range.last30"),
				view.T(lang, "report.daily.title"), view.T(lang, "report.funnel.title"),
				view.T(lang, "report.failures.title"), "María José Fernández",
				view.StateText(lang, "Warm"),
				view.ReasonText(lang, zen7.ParseReason("gave up after 72h0m0s: 7targets: 503 Service Unavailable")),
			} {
				if !strings.Contains(text, want) {
					t.Errorf("report lacks %q", want)
				}
			}
			var svgs, tables int
			for _, s := range d.all(nil, "svg") {
				if uiHasClass(s, "chart") {
					svgs++
				}
			}
			tables = len(d.all(nil, "table"))
			if svgs != 4 || tables != 5 {
				t.Errorf("%d charts and %d tables, want 4 and 5 (each chart with its table, plus failures)", svgs, tables)
			}
			forms := d.forms()
			if len(forms["retry"]) != 2 || len(forms) != 1 {
				t.Fatalf("forms %v, want two retry forms (the third failure is being retried)", forms)
			}
			for i, want := range []string{"d1", "d2"} {
				if got := d.input(forms["retry"][i], "deliveryId"); got != want {
					t.Errorf("retry form %d: deliveryId %q, want %q", i, got, want)
				}
				if got := d.input(forms["retry"][i], "token"); got != "retry-"+want[1:] {
					t.Errorf("retry form %d: token %q", i, got)
				}
				if got := d.input(forms["retry"][i], "back"); !strings.HasPrefix(got, "/extensions/reports/") {
					t.Errorf("retry form %d: back %q", i, got)
				}
			}
		})
	}
}

func TestRenderReportNumbersAndDates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lang              view.Lang
		total, share, day string
	}{
		{view.English, "1,121", "88% ", "Mar 1, 2026"},
		{view.Spanish, "1.121", "88 % ", "1 mar 2026"},
		{view.Portuguese, "1.121", "88% ", "1 mar 2026"},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			t.Parallel()
			d := uiRender(t, func(w io.Writer) error { return view.RenderReport(w, uiReport(tc.lang)) })
			text := uiText(d.root)
			for _, want := range []string{tc.total, tc.share, tc.day} {
				if !strings.Contains(text, want) {
					t.Errorf("report lacks %q", want)
				}
			}
		})
	}
}

func TestRenderReportStates(t *testing.T) {
	t.Parallel()
	empty := uiReport(view.Spanish)
	empty.Totals, empty.Assistants, empty.States, empty.Funnel, empty.Failures, empty.RetryTokens = view.Counts{}, nil, nil, nil, nil, nil
	for i := range empty.Days {
		empty.Days[i].Counts = view.Counts{}
	}
	emptyWithFailures := empty
	emptyWithFailures.Failures = uiReport(view.Spanish).Failures[:1]
	emptyWithFailures.RetryTokens = []string{"retry-1"}
	noFailures := uiReport(view.Portuguese)
	noFailures.Failures, noFailures.RetryTokens = nil, nil
	noAction := uiReport(view.English)
	noAction.ActionURL = ""
	fewerTokens := uiReport(view.English)
	fewerTokens.RetryTokens = fewerTokens.RetryTokens[:1]
	oneDay := uiReport(view.English)
	oneDay.Days = oneDay.Days[:1]
	oneDay.End = oneDay.Start
	failed := view.ReportPage{Lang: view.Spanish, RangeName: "last7", Start: uiDay("2026-03-01"), End: uiDay("2026-03-07"),
		ErrorMessage: view.T(view.Spanish, "report.error.load")}
	unknown := uiReport("fr")
	unknown.RangeName = "fortnight"

	for _, tc := range []struct {
		name     string
		page     view.ReportPage
		lang     view.Lang
		want     []string
		dontWant []string
		charts   int
		retries  int
	}{
		{name: "empty", page: empty, lang: view.Spanish,
			want:     []string{view.T(view.Spanish, "report.empty.title")},
			dontWant: []string{view.T(view.Spanish, "report.failures.title"), "NaN"}},
		{name: "empty with failures", page: emptyWithFailures, lang: view.Spanish, retries: 1,
			want: []string{view.T(view.Spanish, "report.empty.title"), view.T(view.Spanish, "report.failures.title")}},
		{name: "no failures", page: noFailures, lang: view.Portuguese, charts: 4,
			want: []string{view.T(view.Portuguese, "report.failures.none")}},
		{name: "no action URL", page: noAction, lang: view.English, charts: 4,
			want: []string{"María José Fernández"}},
		{name: "fewer tokens than failures", page: fewerTokens, lang: view.English, charts: 4, retries: 1},
		{name: "one day", page: oneDay, lang: view.English, charts: 4, retries: 2,
			want: []string{"Mar 1, 2026", view.T(view.English, "range.last30")}},
		{name: "error", page: failed, lang: view.Spanish,
			want:     []string{view.T(view.Spanish, "report.error.title"), view.T(view.Spanish, "report.error.load")},
			dontWant: []string{view.T(view.Spanish, "report.empty.title"), view.T(view.Spanish, "report.failures.title")}},
		{name: "unknown language and range", page: unknown, lang: view.English, charts: 4, retries: 2,
			want: []string{view.T(view.English, "report.title")}, dontWant: []string{"fortnight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := uiRender(t, func(w io.Writer) error { return view.RenderReport(w, tc.page) })
			d.checkPage(t, tc.lang)
			text := uiText(d.root)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(d.raw, w) {
					t.Errorf("page shows %q", w)
				}
			}
			charts := 0
			for _, s := range d.all(nil, "svg") {
				if uiHasClass(s, "chart") {
					charts++
				}
			}
			if charts != tc.charts {
				t.Errorf("%d charts, want %d", charts, tc.charts)
			}
			if got := len(d.forms()["retry"]); got != tc.retries {
				t.Errorf("%d retry forms, want %d", got, tc.retries)
			}
			if tc.name == "error" {
				alerts := 0
				for _, n := range d.all(nil, "") {
					if r, _ := uiAttr(n, "role"); r == "alert" {
						alerts++
					}
				}
				if alerts != 1 {
					t.Errorf("%d role=alert elements, want 1", alerts)
				}
			}
		})
	}
}

func TestRenderButton(t *testing.T) {
	t.Parallel()
	type want struct {
		forms  []string // actions of the forms, in order
		badge  string   // message key of the status badge
		texts  []string // message keys the page shows
		absent []string // message keys it must not show
	}
	for _, tc := range []struct {
		name string
		edit func(*view.ButtonPage)
		want want
	}{
		{name: "new", edit: func(*view.ButtonPage) {},
			want: want{forms: []string{"forward"}, badge: "status.new", texts: []string{"status.new.text", "forward.title"}, absent: []string{"stop.submit", "pending.title"}}},
		{name: "skipped", edit: func(p *view.ButtonPage) {
			p.Lead = &zen7.Lead{State: zen7.LeadSkipped, Reason: zen7.ParseReason("automatic forwarding is off")}
		}, want: want{forms: []string{"forward"}, badge: "status.skipped", texts: []string{"status.skipped.text", "reason.autoForwardOff"}}},
		{name: "forwarded", edit: func(p *view.ButtonPage) {
			p.Lead = uiForwardedLead()
			p.Notice = view.T(p.Lang, "notice.forward")
		}, want: want{forms: []string{"stop"}, badge: "status.forwarded", texts: []string{"status.forwarded.text", "lead.next", "stop.submit", "state.warm", "notice.forward"}, absent: []string{"forward.title"}}},
		{name: "forwarded, nothing scheduled", edit: func(p *view.ButtonPage) {
			p.Lead = uiForwardedLead()
			p.Lead.NextScheduleTime = time.Time{}
		}, want: want{forms: []string{"stop"}, badge: "status.forwarded", texts: []string{"lead.next.none"}}},
		{name: "stopped", edit: func(p *view.ButtonPage) {
			p.Lead = uiForwardedLead()
			p.Lead.State, p.Lead.SevenTargetsState = zen7.LeadStopped, "Stopped"
		}, want: want{badge: "status.stopped", texts: []string{"status.stopped.text", "state.stopped"}, absent: []string{"stop.submit", "forward.title", "lead.next"}}},
		{name: "pending", edit: func(p *view.ButtonPage) {
			p.Pending = true
			p.Last = &zen7.Delivery{ID: "del-1", State: zen7.StatePending}
		}, want: want{badge: "status.pending", texts: []string{"pending.title", "pending.text"}, absent: []string{"forward.title", "status.new.text"}}},
		{name: "pending while forwarded", edit: func(p *view.ButtonPage) {
			p.Pending = true
			p.Lead = uiForwardedLead()
		}, want: want{badge: "status.pending", texts: []string{"pending.title", "status.forwarded.text"}, absent: []string{"stop.submit"}}},
		{name: "failed", edit: func(p *view.ButtonPage) {
			p.Last = uiFailedDelivery()
			p.RetryToken = "retry-token"
		}, want: want{forms: []string{"retry", "forward"}, badge: "status.failed", texts: []string{"failed.title", "reason.noEmail"}}},
		{name: "failed, forwarded before", edit: func(p *view.ButtonPage) {
			p.Lead = uiForwardedLead()
			p.Last = uiFailedDelivery()
			p.Last.State = zen7.StateDead
			p.RetryToken = "retry-token"
		}, want: want{forms: []string{"stop", "retry"}, badge: "status.forwarded", texts: []string{"failed.title"}}},
		{name: "failed, being retried", edit: func(p *view.ButtonPage) {
			p.Last = uiFailedDelivery()
			p.Last.Retrying = true
			p.RetryToken = "retry-token"
		}, want: want{forms: []string{"forward"}, badge: "status.new", absent: []string{"failed.title"}}},
		{name: "no tokens", edit: func(p *view.ButtonPage) {
			p.ForwardToken, p.StopToken = "", ""
		}, want: want{badge: "status.new", absent: []string{"forward.title"}}},
		{name: "assistants unavailable", edit: func(p *view.ButtonPage) {
			p.Assistants, p.AssistantsError = nil, true
		}, want: want{forms: []string{"forward"}, badge: "status.new", texts: []string{"forward.assistants.error"}}},
	} {
		for _, lang := range view.Langs {
			t.Run(tc.name+"/"+string(lang), func(t *testing.T) {
				t.Parallel()
				p := uiButton(lang)
				tc.edit(&p)
				d := uiRender(t, func(w io.Writer) error { return view.RenderButton(w, p) })
				d.checkPage(t, lang)

				var got []string
				for _, f := range d.all(nil, "form") {
					got = append(got, d.input(f, "action"))
					for name, want := range map[string]string{
						"prospectId": "64f1c2a9e1", "prospectFirstName": "María José", "prospectLastName": "Fernández",
						"prospectEmails": "mj.fernandez@example.com,mj@work.example", "prospectPhones": "+5491155550101", "back": uiBack,
					} {
						if v := d.input(f, name); v != want {
							t.Errorf("%s form: %s = %q, want %q", d.input(f, "action"), name, v, want)
						}
					}
				}
				if diff := cmp.Diff(tc.want.forms, got); diff != "" {
					t.Errorf("forms (-want +got):\n%s", diff)
				}
				for _, f := range d.forms()["retry"] {
					if id := d.input(f, "deliveryId"); id != p.Last.ID {
						t.Errorf("retry deliveryId %q, want %q", id, p.Last.ID)
					}
				}
				badge := ""
				for _, n := range d.all(nil, "span") {
					if uiHasClass(n, "badge") {
						badge = uiText(n)
					}
				}
				if want := view.T(lang, tc.want.badge); badge != want {
					t.Errorf("badge %q, want %q", badge, want)
				}
				text := uiText(d.root)
				for _, k := range tc.want.texts {
					want := view.T(lang, k)
					if strings.HasPrefix(k, "reason.") {
						want = strings.TrimSuffix(want, ".")
					}
					if !strings.Contains(text, want) {
						t.Errorf("page lacks %s: %q", k, want)
					}
				}
				for _, k := range tc.want.absent {
					if w := view.T(lang, k); strings.Contains(text, w) {
						t.Errorf("page shows %s: %q", k, w)
					}
				}
			})
		}
	}
}

func TestRenderButtonForwardForm(t *testing.T) {
	t.Parallel()
	t.Run("assistant select", func(t *testing.T) {
		t.Parallel()
		d := uiRender(t, func(w io.Writer) error { return view.RenderButton(w, uiButton(view.Portuguese)) })
		form := d.forms()["forward"][0]
		selects := d.all(form, "select")
		if len(selects) != 1 {
			t.Fatalf("%d selects, want 1", len(selects))
		}
		if n, _ := uiAttr(selects[0], "name"); n != "assistantEmail" {
			t.Errorf("select name %q", n)
		}
		var opts, selected []string
		for _, o := range d.all(selects[0], "option") {
			v, _ := uiAttr(o, "value")
			opts = append(opts, v+"="+uiText(o))
			if _, ok := uiAttr(o, "selected"); ok {
				selected = append(selected, v)
			}
		}
		if diff := cmp.Diff([]string{"ava@acme.com=Ava (Sales)", "leo@acme.com=Leo"}, opts); diff != "" {
			t.Errorf("options (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"leo@acme.com"}, selected); diff != "" {
			t.Errorf("selected (-want +got):\n%s", diff)
		}
		if got := d.input(form, "scheduleName"); got != "Inbound 14 days" {
			t.Errorf("scheduleName %q", got)
		}
		if got := d.input(form, "email"); got != "<none>" {
			t.Errorf("email input %q shown although the prospect has one", got)
		}
		for _, l := range d.all(form, "label") {
			if _, ok := uiAttr(l, "for"); !ok {
				t.Errorf("label %q without for", uiText(l))
			}
		}
	})
	t.Run("default assistant missing from the list", func(t *testing.T) {
		t.Parallel()
		p := uiButton(view.English)
		p.DefaultAssistant = "zoe@acme.com"
		d := uiRender(t, func(w io.Writer) error { return view.RenderButton(w, p) })
		opts := d.all(d.forms()["forward"][0], "option")
		if len(opts) != 3 {
			t.Fatalf("%d options, want 3", len(opts))
		}
		v, _ := uiAttr(opts[0], "value")
		_, sel := uiAttr(opts[0], "selected")
		if v != "zoe@acme.com" || !sel || !strings.Contains(uiText(opts[0]), "zoe@acme.com") {
			t.Errorf("first option %q selected=%v, want the default, selected", v, sel)
		}
	})
	t.Run("no email", func(t *testing.T) {
		t.Parallel()
		p := uiButton(view.Spanish)
		p.Prospect.Emails = nil
		msg := view.T(view.Spanish, "error.email.invalid")
		p.FieldErrors = map[string]string{"email": msg}
		d := uiRender(t, func(w io.Writer) error { return view.RenderButton(w, p) })
		d.checkPage(t, view.Spanish)
		form := d.forms()["forward"][0]
		var email *html.Node
		for _, in := range d.all(form, "input") {
			if n, _ := uiAttr(in, "name"); n == "email" {
				email = in
			}
		}
		if email == nil {
			t.Fatal("no email input")
		}
		if typ, _ := uiAttr(email, "type"); typ != "email" {
			t.Errorf("email input type %q", typ)
		}
		if _, ok := uiAttr(email, "required"); !ok {
			t.Error("email input not required")
		}
		if v, _ := uiAttr(email, "aria-invalid"); v != "true" {
			t.Error("email input not aria-invalid")
		}
		desc, _ := uiAttr(email, "aria-describedby")
		found := false
		for _, p := range d.all(form, "p") {
			if id, _ := uiAttr(p, "id"); strings.Contains(desc, id) && strings.Contains(uiText(p), msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("the field error %q is not described by the input (aria-describedby=%q)", msg, desc)
		}
		if got := d.input(form, "prospectEmails"); got != "" {
			t.Errorf("prospectEmails %q, want empty", got)
		}
	})
}

func TestRenderEscaping(t *testing.T) {
	t.Parallel()
	report := uiReport(view.English)
	report.Failures[0].Name = uiXSS
	report.Failures[0].Reason = zen7.ParseReason(uiAttrXSS)
	report.Failures[0].DeliveryID = uiAttrXSS
	report.Assistants[0].Assistant = uiAttrXSS
	report.States[3].State = uiXSS
	report.Funnel[1].State = uiAttrXSS
	report.RetryTokens[0] = uiAttrXSS
	report.ErrorMessage = ""

	button := uiButton(view.English)
	button.Prospect.FirstName = uiXSS
	button.Prospect.LastName = uiAttrXSS
	button.Prospect.Emails = []string{uiAttrXSS}
	button.Assistants[0].Name = uiAttrXSS
	button.Assistants[0].Email = uiAttrXSS
	button.DefaultSchedule = uiAttrXSS
	button.Notice = uiXSS
	button.ErrorMessage = uiAttrXSS
	button.FieldErrors = map[string]string{"scheduleName": uiXSS}
	button.Lead = &zen7.Lead{State: zen7.LeadSkipped, Reason: zen7.ParseReason(uiXSS)}
	button.Last = &zen7.Delivery{ID: uiAttrXSS, State: zen7.StateFailed, Result: zen7.Result{Reason: zen7.ParseReason(uiAttrXSS)}}
	button.RetryToken = uiAttrXSS

	forwarded := uiButton(view.English)
	forwarded.Lead = uiForwardedLead()
	forwarded.Lead.SevenTargetsState, forwarded.Lead.SubState = uiXSS, uiAttrXSS
	forwarded.Lead.AssistantEmail, forwarded.Lead.ScheduleName, forwarded.Lead.LastError = uiAttrXSS, uiXSS, uiAttrXSS

	scriptURL := uiButton(view.English)
	scriptURL.ActionURL = "javascript:alert(1)"

	for _, tc := range []struct {
		name   string
		render func(io.Writer) error
	}{
		{"report", func(w io.Writer) error { return view.RenderReport(w, report) }},
		{"button", func(w io.Writer) error { return view.RenderButton(w, button) }},
		{"forwarded button", func(w io.Writer) error { return view.RenderButton(w, forwarded) }},
		{"error", func(w io.Writer) error {
			return view.RenderError(w, view.ErrorPage{Lang: "en", Status: 400, Title: uiXSS, Message: uiAttrXSS})
		}},
		{"report error", func(w io.Writer) error {
			return view.RenderReport(w, view.ReportPage{Lang: "en", ErrorMessage: uiXSS, RangeName: uiAttrXSS})
		}},
		{"script URL", func(w io.Writer) error { return view.RenderButton(w, scriptURL) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := tc.render(&b); err != nil {
				t.Fatal(err)
			}
			root, err := html.Parse(&b)
			if err != nil {
				t.Fatal(err)
			}
			d := uiDoc{raw: b.String(), root: root}
			for _, bad := range []string{"<script>alert", "<img"} {
				if strings.Contains(d.raw, bad) {
					t.Errorf("unescaped %q in the page", bad)
				}
			}
			if n := len(d.all(nil, "img")); n != 0 {
				t.Errorf("%d <img> elements injected", n)
			}
			for _, s := range d.all(nil, "script") {
				if _, ok := uiAttr(s, "src"); !ok {
					t.Error("inline <script> injected")
				}
			}
			for _, n := range d.all(nil, "") {
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") {
						t.Errorf("attribute %s injected on <%s>", a.Key, n.Data)
					}
					if strings.HasPrefix(strings.ToLower(a.Val), "javascript:") {
						t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
					}
				}
			}
			if !strings.Contains(uiText(d.root), "alert(1)") && tc.name != "script URL" {
				t.Error("the hostile text vanished rather than being shown escaped")
			}
		})
	}
}

func TestRenderError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		page     view.ErrorPage
		lang     view.Lang
		want     []string
		dontWant []string
	}{
		{name: "signature", lang: view.Portuguese, page: view.ErrorPage{Lang: view.Portuguese, Status: http.StatusUnauthorized,
			Title: view.T(view.Portuguese, "error.signature.title"), Message: view.T(view.Portuguese, "error.signature.message")},
			want: []string{"Abra-o novamente pelo Zenvia Sales", "Erro 401"}},
		{name: "defaults", lang: view.Spanish, page: view.ErrorPage{Lang: view.Spanish, Status: http.StatusInternalServerError},
			want: []string{view.T(view.Spanish, "error.generic.title"), view.T(view.Spanish, "error.generic.message"), "Error 500"}},
		{name: "done", lang: view.English, page: view.ErrorPage{Lang: view.English, Status: http.StatusOK,
			Title: view.T(view.English, "action.done.title"), Message: view.T(view.English, "action.done.message")},
			want: []string{"Done"}, dontWant: []string{"Error 200"}},
		{name: "unknown language", lang: view.English, page: view.ErrorPage{Lang: "de", Status: http.StatusNotFound},
			want: []string{"Something went wrong", "Error 404"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := uiRender(t, func(w io.Writer) error { return view.RenderError(w, tc.page) })
			d.checkPage(t, tc.lang)
			text := uiText(d.root)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(text, w) {
					t.Errorf("page shows %q", w)
				}
			}
			if h1 := d.all(nil, "h1"); len(h1) != 1 {
				t.Errorf("%d <h1>, want 1", len(h1))
			}
		})
	}
}

// uiAssetVersion hides the assets' content hashes, so that a style change does not touch
// every golden file.
var uiAssetVersion = regexp.MustCompile(`\?v=[0-9a-f]+`)

func TestRenderGolden(t *testing.T) {
	for _, lang := range view.Langs {
		for _, tc := range []struct {
			name   string
			render func(io.Writer) error
		}{
			{"report", func(w io.Writer) error { return view.RenderReport(w, uiReport(lang)) }},
			{"report-chattonic", func(w io.Writer) error {
				p := uiReport(lang)
				p.ChatTonic = uiChatTonic()
				return view.RenderReport(w, p)
			}},
			{"button", func(w io.Writer) error {
				p := uiButton(lang)
				p.Lead = uiForwardedLead()
				p.Last = uiFailedDelivery()
				p.RetryToken = "retry-token"
				return view.RenderButton(w, p)
			}},
			{"button-new", func(w io.Writer) error {
				p := uiButton(lang)
				p.Prospect.Emails = nil
				p.FieldErrors = map[string]string{"email": view.T(lang, "error.email.invalid")}
				return view.RenderButton(w, p)
			}},
		} {
			t.Run(tc.name+"/"+string(lang), func(t *testing.T) {
				var b bytes.Buffer
				if err := tc.render(&b); err != nil {
					t.Fatal(err)
				}
				got := uiAssetVersion.ReplaceAllString(b.String(), "?v=VERSION")
				path := filepath.Join("testdata", tc.name+"."+string(lang)+".golden.html")
				if uiUpdating() {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("%s differs (-want +got), run with -update if intended:\n%s", path, diff)
				}
			})
		}
	}
}

func TestRenderAssets(t *testing.T) {
	t.Parallel()
	var page bytes.Buffer
	if err := view.RenderError(&page, view.ErrorPage{Lang: "en", Status: 401}); err != nil {
		t.Fatal(err)
	}
	linked := regexp.MustCompile(`/extensions/assets/app\.css\?v=([0-9a-f]+)`).FindStringSubmatch(page.String())
	if linked == nil {
		t.Fatal("the page does not link a versioned app.css")
	}
	h := view.Assets()
	for _, tc := range []struct {
		name, method, target string
		status               int
		contentType, cache   string
		body                 string
	}{
		{name: "versioned", method: http.MethodGet, target: linked[0], status: 200,
			contentType: "text/css; charset=utf-8", cache: "public, max-age=31536000, immutable", body: ".card"},
		{name: "unversioned", method: http.MethodGet, target: "/extensions/assets/app.css", status: 200,
			contentType: "text/css; charset=utf-8", cache: "public, max-age=300", body: ":root"},
		{name: "stale version", method: http.MethodGet, target: "/extensions/assets/app.css?v=000000", status: 200,
			cache: "public, max-age=300"},
		{name: "script", method: http.MethodGet, target: "/extensions/assets/app.js", status: 200,
			contentType: "text/javascript; charset=utf-8", body: "use strict"},
		{name: "prefix stripped", method: http.MethodGet, target: "/app.css", status: 200, body: ":root"},
		{name: "head", method: http.MethodHead, target: "/extensions/assets/app.css", status: 200},
		{name: "directory", method: http.MethodGet, target: "/extensions/assets/", status: 404},
		{name: "unknown", method: http.MethodGet, target: "/extensions/assets/nope.css", status: 404},
		{name: "traversal", method: http.MethodGet, target: "/extensions/assets/../render.go", status: 404},
		{name: "post", method: http.MethodPost, target: "/extensions/assets/app.css", status: 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if tc.contentType != "" && rec.Header().Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tc.contentType)
			}
			if tc.cache != "" && rec.Header().Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control %q, want %q", rec.Header().Get("Cache-Control"), tc.cache)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
		})
	}
	t.Run("not modified", func(t *testing.T) {
		t.Parallel()
		req := httptest.NewRequest(http.MethodGet, linked[0], nil)
		req.Header.Set("If-None-Match", `"`+linked[1]+`"`)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Errorf("status %d, want 304", rec.Code)
		}
	})
	t.Run("stylesheet needs nothing external", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/extensions/assets/app.css", nil))
		css := rec.Body.String()
		for _, bad := range []string{"@import", "@font-face", "url(http", "url(//", "url('http", `url("http`} {
			if strings.Contains(css, bad) {
				t.Errorf("app.css contains %q", bad)
			}
		}
	})
}

// TestReportShowsBackfill checks the report's backfill card in each language: its counts, its
// state and, once it stopped, the translated reason.
func TestReportShowsBackfill(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang view.Lang
		want []string
	}{
		{view.English, []string{"Waiting prospects sent to 7Targets", "Unclaimed prospects created in the last 7 days", "Stopped", "The App is disabled", "3 on their way"}},
		{view.Spanish, []string{"Prospectos en espera enviados a 7Targets", "últimos 7 días", "Detenido", "La App está desactivada", "3 en camino"}},
		{view.Portuguese, []string{"Contatos em espera enviados à 7Targets", "últimos 7 dias", "Interrompido", "O App está desativado", "3 a caminho"}},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			t.Parallel()
			p := view.ReportPage{Lang: tc.lang, RangeName: "last7", Start: start, End: start.AddDate(0, 0, 6), Backfill: &view.BackfillProgress{
				Days: 7, Found: 12, Forwarded: 7, Skipped: 2, Failed: 0, State: zen7.BackfillStopped,
				Reason: zen7.Reason{Code: zen7.ReasonInstanceState, Detail: "disabled"}, StartedAt: start, FinishedAt: start.Add(time.Hour),
			}}
			var b strings.Builder
			if err := view.RenderReport(&b, p); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			for _, w := range append(tc.want, ">12<", ">7<", ">2<") {
				if !strings.Contains(html, w) {
					t.Errorf("the report lacks %q", w)
				}
			}
		})
	}
}

// uiChatTonic is a Chat-Tonic import of three days whose source Chat-Tonic now refuses.
func uiChatTonic() *view.ChatTonicImport {
	start := uiDay("2026-03-01")
	c := &view.ChatTonicImport{
		On: true, Failing: true,
		LastGoodRead: start.Add(24*time.Hour + 8*time.Hour + 30*time.Minute),
		LastError:    "chattonic.funnels acme-bot: 401 Unauthorized: " + uiXSS,
		LastErrorAt:  start.Add(48*time.Hour + 9*time.Hour + 15*time.Minute),
		Groups:       []string{"sacarTarjeta/Sacar Tarjeta", "prestamos/" + uiAttrXSS},
		Days: []view.ChatTonicDay{
			{Day: start, ChatTonicCounts: view.ChatTonicCounts{Read: 1234, Imported: 1200, Skipped: 30, Failed: 4}},
			{Day: start.AddDate(0, 0, 1), ChatTonicCounts: view.ChatTonicCounts{Read: 5, Imported: 3, Skipped: 1}},
			{Day: start.AddDate(0, 0, 2)},
		},
	}
	for _, d := range c.Days {
		c.Totals.Read += d.Read
		c.Totals.Imported += d.Imported
		c.Totals.Skipped += d.Skipped
		c.Totals.Failed += d.Failed
	}
	return c
}

// chatTonicCard returns the report's Chat-Tonic card, or nil.
func (d uiDoc) chatTonicCard() *html.Node {
	for _, s := range d.all(nil, "section") {
		if uiHasClass(s, "chattonic") {
			return s
		}
	}
	return nil
}

// classText is the text of the first element under n with the class, or "<none>".
func (d uiDoc) classText(n *html.Node, class string) string {
	for _, e := range d.all(n, "") {
		if uiHasClass(e, class) {
			return strings.Join(strings.Fields(uiText(e)), " ")
		}
	}
	return "<none>"
}

// TestReportShowsChatTonic checks the report's Chat-Tonic card in each language: the source's
// state with its error, the last good read, the funnel groups, and the records read, imported,
// skipped and failed per day of the period and in all, in the language's formats.
func TestReportShowsChatTonic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lang                        view.Lang
		title, badge, note          string
		goodRead, errorAt, never    string
		days                        [][]string
		totals                      []string
		read, imported, perDayLabel string
	}{
		{
			lang: view.English, title: "Chat-Tonic bot leads", badge: "Failing",
			note:     "Chat-Tonic refuses the codename or the token: nothing is imported until they are corrected in the App's settings.",
			goodRead: "Mar 2, 2026, 08:30 UTC", errorAt: "Mar 3, 2026, 09:15 UTC",
			days:   [][]string{{"Mar 1, 2026", "1,234", "1,200", "30", "4"}, {"Mar 2, 2026", "5", "3", "1", "0"}, {"Mar 3, 2026", "0", "0", "0", "0"}},
			totals: []string{"1,239", "1,203", "31", "4"}, read: "Read", imported: "Imported", perDayLabel: "Records per day",
		},
		{
			lang: view.Spanish, title: "Leads del bot de Chat-Tonic", badge: "Con error",
			note:     "Chat-Tonic rechaza el codename o el token: no se importa nada hasta que se corrijan en la configuración de la App.",
			goodRead: "2 mar 2026, 08:30 UTC", errorAt: "3 mar 2026, 09:15 UTC",
			days:   [][]string{{"1 mar 2026", "1.234", "1.200", "30", "4"}, {"2 mar 2026", "5", "3", "1", "0"}, {"3 mar 2026", "0", "0", "0", "0"}},
			totals: []string{"1.239", "1.203", "31", "4"}, read: "Leídos", imported: "Importados", perDayLabel: "Registros por día",
		},
		{
			lang: view.Portuguese, title: "Leads do bot da Chat-Tonic", badge: "Com falha",
			note:     "A Chat-Tonic recusa o codename ou o token: nada é importado até que sejam corrigidos nas configurações do App.",
			goodRead: "2 mar 2026, 08:30 UTC", errorAt: "3 mar 2026, 09:15 UTC",
			days:   [][]string{{"1 mar 2026", "1.234", "1.200", "30", "4"}, {"2 mar 2026", "5", "3", "1", "0"}, {"3 mar 2026", "0", "0", "0", "0"}},
			totals: []string{"1.239", "1.203", "31", "4"}, read: "Lidos", imported: "Importados", perDayLabel: "Registros por dia",
		},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			t.Parallel()
			start := uiDay("2026-03-01")
			p := view.ReportPage{Lang: tc.lang, RangeName: "custom", Start: start, End: start.AddDate(0, 0, 2), ChatTonic: uiChatTonic()}
			d := uiRender(t, func(w io.Writer) error { return view.RenderReport(w, p) })
			d.checkPage(t, tc.lang)
			card := d.chatTonicCard()
			if card == nil {
				t.Fatal("the report has no Chat-Tonic card")
			}
			for class, want := range map[string]string{
				"chattonic-state": tc.badge,
				"chattonic-note":  tc.note,
				"chattonic-good":  tc.goodRead,
				"chattonic-error": tc.errorAt + " · chattonic.funnels acme-bot: 401 Unauthorized: " + uiXSS,
			} {
				if got := d.classText(card, class); got != want {
					t.Errorf(".%s = %q, want %q", class, got, want)
				}
			}
			if text := uiText(card); !strings.Contains(text, tc.title) {
				t.Errorf("the card lacks its title %q", tc.title)
			}
			var groups []string
			for _, li := range d.all(card, "li") {
				groups = append(groups, uiText(li))
			}
			if diff := cmp.Diff([]string{"sacarTarjeta/Sacar Tarjeta", "prestamos/" + uiAttrXSS}, groups); diff != "" {
				t.Errorf("funnel groups (-want +got):\n%s", diff)
			}
			var kpis []string
			for _, dd := range d.all(card, "dd") {
				if uiHasClass(dd, "kpi-value") {
					kpis = append(kpis, uiText(dd))
				}
			}
			if diff := cmp.Diff(tc.totals, kpis); diff != "" {
				t.Errorf("the period's read, imported, skipped, failed (-want +got):\n%s", diff)
			}
			var table *html.Node
			for _, tb := range d.all(card, "table") {
				if uiHasClass(tb, "chattonic-days") {
					table = tb
				}
			}
			if table == nil {
				t.Fatal("the card has no table per day")
			}
			var head []string
			for _, th := range d.all(d.all(table, "thead")[0], "th") {
				head = append(head, uiText(th))
			}
			if diff := cmp.Diff([]string{view.T(tc.lang, "col.day"), tc.read, tc.imported, view.T(tc.lang, "count.skipped"), view.T(tc.lang, "count.failed")}, head); diff != "" {
				t.Errorf("the table's columns (-want +got):\n%s", diff)
			}
			var rows [][]string
			for _, tr := range d.all(d.all(table, "tbody")[0], "tr") {
				var cells []string
				for _, c := range d.all(tr, "") {
					if c.Data == "th" || c.Data == "td" {
						cells = append(cells, strings.TrimSpace(uiText(c)))
					}
				}
				rows = append(rows, cells)
			}
			if diff := cmp.Diff(tc.days, rows); diff != "" {
				t.Errorf("per day (-want +got):\n%s", diff)
			}
			if got := d.classText(card, "sr-only"); got != tc.perDayLabel {
				t.Errorf("the table's caption %q, want %q", got, tc.perDayLabel)
			}
		})
	}
}

// TestReportChatTonicStates checks the Chat-Tonic card's badge and note for each state of the
// source, and that a report without a Chat-Tonic import has no card.
func TestReportChatTonicStates(t *testing.T) {
	t.Parallel()
	at := uiDay("2026-03-02").Add(8 * time.Hour)
	for _, tc := range []struct {
		name      string
		ct        view.ChatTonicImport
		lang      view.Lang
		badge     string // message key
		class     string
		note      bool
		groups    string // message key of the groups' text, "" for a list
		lastError bool
	}{
		{name: "off", lang: view.English, ct: view.ChatTonicImport{LastGoodRead: at, Groups: []string{"f/g"}},
			badge: "chattonic.off", class: "neutral", note: true},
		{name: "not read yet", lang: view.Spanish, ct: view.ChatTonicImport{On: true},
			badge: "chattonic.notRead", class: "info", note: true, groups: "chattonic.groups.notRead"},
		{name: "retrying before the first read", lang: view.Portuguese, ct: view.ChatTonicImport{On: true, LastError: "chattonic.funnels bot: 503", LastErrorAt: at},
			badge: "chattonic.retrying", class: "warn", note: true, groups: "chattonic.groups.notRead", lastError: true},
		{name: "retrying after a good read", lang: view.English, ct: view.ChatTonicImport{On: true, LastGoodRead: at, LastError: "timeout", LastErrorAt: at.Add(time.Minute), Groups: []string{"f/g"}},
			badge: "chattonic.retrying", class: "warn", note: true, lastError: true},
		{name: "failing", lang: view.Spanish, ct: view.ChatTonicImport{On: true, Failing: true, LastError: "401", LastErrorAt: at},
			badge: "chattonic.failing", class: "danger", note: true, groups: "chattonic.groups.notRead", lastError: true},
		{name: "reading fine after an error", lang: view.Portuguese, ct: view.ChatTonicImport{On: true, LastGoodRead: at.Add(time.Hour), LastError: "timeout", LastErrorAt: at},
			badge: "chattonic.ok", class: "success", groups: "chattonic.groups.none", lastError: true},
		{name: "reading fine", lang: view.English, ct: view.ChatTonicImport{On: true, LastGoodRead: at, Groups: []string{"f/g"}},
			badge: "chattonic.ok", class: "success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ct := tc.ct
			p := view.ReportPage{Lang: tc.lang, RangeName: "today", Start: uiDay("2026-03-02"), End: uiDay("2026-03-02"), ChatTonic: &ct}
			d := uiRender(t, func(w io.Writer) error { return view.RenderReport(w, p) })
			d.checkPage(t, tc.lang)
			card := d.chatTonicCard()
			if card == nil {
				t.Fatal("no Chat-Tonic card")
			}
			for _, e := range d.all(card, "") {
				if uiHasClass(e, "chattonic-state") && !uiHasClass(e, tc.class) {
					t.Errorf("the badge's class %v, want %q", e.Attr, tc.class)
				}
			}
			if got, want := d.classText(card, "chattonic-state"), view.T(tc.lang, tc.badge); got != want {
				t.Errorf("badge %q, want %q", got, want)
			}
			if got, want := d.classText(card, "chattonic-note"), view.T(tc.lang, tc.badge+".text"); tc.note != (got == want) {
				t.Errorf("note %q, want it %v", got, tc.note)
			}
			groups := d.classText(card, "chattonic-groups")
			if tc.groups != "" && groups != view.T(tc.lang, tc.groups) {
				t.Errorf("groups %q, want %q", groups, view.T(tc.lang, tc.groups))
			}
			if tc.groups == "" && groups != "f/g" {
				t.Errorf("groups %q, want the list", groups)
			}
			if noError := view.T(tc.lang, "chattonic.noError"); tc.lastError == (d.classText(card, "chattonic-error") == noError) {
				t.Errorf("last error %q, want one: %v", d.classText(card, "chattonic-error"), tc.lastError)
			}
			if tc.ct.LastGoodRead.IsZero() != (d.classText(card, "chattonic-good") == view.T(tc.lang, "chattonic.never")) {
				t.Errorf("last good read %q", d.classText(card, "chattonic-good"))
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		d := uiRender(t, func(w io.Writer) error { return view.RenderReport(w, uiReport(view.English)) })
		if d.chatTonicCard() != nil || strings.Contains(d.raw, view.T(view.English, "report.chattonic.title")) {
			t.Error("a report without a Chat-Tonic import shows the card")
		}
	})
}
