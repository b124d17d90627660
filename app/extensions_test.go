package app_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/store"
)

// signedURL signs pathAndQuery as Sales does: over the full public URL, or the path alone.
func (e *testEnv) signedURL(pathAndQuery string, full bool) string {
	msg := pathAndQuery
	if full {
		msg = e.url + pathAndQuery
	}
	return e.url + pathAndQuery + "&signature=" + extensions.Sign([]byte(signingKey), msg)
}

type page struct {
	status int
	header http.Header
	body   string
}

// noRedirect keeps 303s visible to the test.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func getPage(t *testing.T, u string) page {
	t.Helper()
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Header, string(b)}
}

func postForm(t *testing.T, u string, form url.Values) page {
	t.Helper()
	res, err := noRedirect.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Header, string(b)}
}

func reportPath(groupID, lang string) string {
	return "/extensions/reports/" + extensions.ReportKey + "?user=u1&lang=" + lang + "&range=last7&group=" + groupID + "&parentGroup=" + groupID
}

// subgroupReportPath is the report URL Sales signs for group, a group below parent.
func subgroupReportPath(group, parent string) string {
	return "/extensions/reports/" + extensions.ReportKey + "?user=u1&lang=en&range=last7&group=" + group + "&parentGroup=" + parent
}

func buttonPath(groupID, prospectID, emails string) string {
	return "/extensions/buttons/" + extensions.ButtonKey + "?prospect=" + prospectID + "&firstName=Ana&lastName=Silva&emails=" +
		url.QueryEscape(emails) + "&phones=%2B5511999990000&user=u1&group=" + groupID + "&lang=pt"
}

func checkFramingHeaders(t *testing.T, p page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors "+frameAncestors) || p.header.Get("X-Frame-Options") != "" {
		t.Errorf("framing headers: CSP %q, X-Frame-Options %q", csp, p.header.Get("X-Frame-Options"))
	}
	if !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not default to none", csp)
	}
}

func TestSignedPages(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-pages-000001", "")
	e.notify(in, "created", time.Time{}, prospect("pages0000000000000000001", "new"))
	e.finished(in, "pages0000000000000000001", "forwarded")
	child := e.sales.AddGroup(sales.Group{Name: "Team B", Parent: in.groupID})

	tests := []struct {
		name     string
		url      string
		want     int
		wantLang string
	}{
		{name: "report, full URL signed", url: e.signedURL(reportPath(in.groupID, "es"), true), want: 200, wantLang: "es"},
		{name: "report, path signed", url: e.signedURL(reportPath(in.groupID, "pt"), false), want: 200, wantLang: "pt"},
		{name: "report of a descendant group", url: e.signedURL(subgroupReportPath(child.ID, in.groupID), true), want: 200, wantLang: "en"},
		{name: "button, full URL signed", url: e.signedURL(buttonPath(in.groupID, "pages0000000000000000001", "a@example.com"), true), want: 200, wantLang: "pt"},
		{name: "button, path signed", url: e.signedURL(buttonPath(in.groupID, "pages0000000000000000001", ""), false), want: 200, wantLang: "pt"},
		{name: "tampered parameter", url: strings.Replace(e.signedURL(reportPath(in.groupID, "es"), true), "range=last7", "range=last30", 1), want: 401},
		{name: "tampered group", url: strings.Replace(e.signedURL(buttonPath(in.groupID, "pages0000000000000000001", ""), true), "lastName=Silva", "lastName=Silvb", 1), want: 401},
		{name: "missing signature", url: e.url + reportPath(in.groupID, "es"), want: 401},
		{name: "wrong signature", url: e.url + reportPath(in.groupID, "es") + "&signature=" + strings.Repeat("ab", 32), want: 401},
		{name: "foreign group", url: e.signedURL(reportPath("aaaaaaaaaaaaaaaaaaaaaaaa", "es"), true), want: 401},
		{name: "unknown report key", url: e.signedURL("/extensions/reports/other?group="+in.groupID, true), want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := getPage(t, tt.url)
			if p.status != tt.want {
				t.Fatalf("status = %d, want %d\n%s", p.status, tt.want, p.body)
			}
			if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Fatalf("Content-Type = %q", ct)
			}
			checkFramingHeaders(t, p)
			if tt.want != 200 {
				for _, leak := range []string{"jorge.pages", "Jorge", "Letona", "ashley@"} {
					if strings.Contains(strings.ToLower(p.body), strings.ToLower(leak)) {
						t.Errorf("refused page shows data (%q)", leak)
					}
				}
				return
			}
			if !strings.Contains(p.body, `<html lang="`+tt.wantLang+`"`) {
				t.Errorf("page not in %s", tt.wantLang)
			}
		})
	}
}

func TestAPIRoutesForbidFraming(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	res := e.do(request{method: "GET", path: "/extensions/manifest", noAuth: true})
	if res.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(res.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("manifest headers: %v", res.header)
	}
	var m extensions.Manifest
	if err := json.Unmarshal(res.body, &m); err != nil || len(m.Reports) != 1 || len(m.Buttons) != 1 {
		t.Fatalf("manifest = %s", res.body)
	}
	b := m.Buttons[0]
	if !strings.HasPrefix(b.Icon, "data:image/png;base64,") || b.Name.Pt == "" || !strings.Contains(b.URL, "${prospect._id}") ||
		!strings.Contains(m.Reports[0].URL, e.url+"/extensions/reports/") {
		t.Fatalf("button = %+v", b)
	}
}

var inputRE = regexp.MustCompile(`<input[^>]*>`)

// formValues returns the hidden inputs of the form whose action input has the given value.
func formValues(t *testing.T, body, action string) url.Values {
	t.Helper()
	for _, f := range strings.Split(body, "<form")[1:] {
		f = f[:strings.Index(f, "</form>")]
		v := url.Values{}
		for _, in := range inputRE.FindAllString(f, -1) {
			name := attr(in, "name")
			if name != "" && attr(in, "type") == "hidden" {
				v.Set(name, attr(in, "value"))
			}
		}
		if v.Get("action") == action {
			return v
		}
	}
	t.Fatalf("no %q form in the page", action)
	return nil
}

func attr(tag, name string) string {
	m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestButtonActions(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-pages-000002", `"autoForward":false`)
	buttonURL := e.signedURL(buttonPath(in.groupID, "btn00000000000000000001", ""), true) // no email known
	p := getPage(t, buttonURL)
	if p.status != 200 {
		t.Fatalf("dialog: %d", p.status)
	}
	forward := formValues(t, p.body, "forward")

	// Without an email, forwarding asks for one; an invalid one is refused with the field marked.
	bad := url.Values{}
	for k, v := range forward {
		bad[k] = v
	}
	bad.Set("email", "not-an-email")
	if r := postForm(t, e.url+extensions.ActionPath, bad); r.status != 422 {
		t.Fatalf("invalid email: %d", r.status)
	}
	if n := len(e.leadRequests("POST", "/leads")); n != 0 {
		t.Fatalf("%d leads sent with an invalid email", n)
	}

	// The token was not spent by the refused attempt; with a valid email it forwards.
	forward.Set("email", "Ana.Silva@Example.com")
	forward.Set("assistantEmail", "ashley@7targets.test")
	r := postForm(t, e.url+extensions.ActionPath, forward)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != strings.TrimPrefix(buttonURL, e.url) {
		t.Fatalf("forward: %d to %q, want 303 back to the dialog\n%s", r.status, r.header.Get("Location"), r.body)
	}
	eventually(t, "the forwarded lead", func() bool { return len(e.leadRequests("POST", "/leads")) == 1 })
	var body map[string]any
	_ = json.Unmarshal(e.leadRequests("POST", "/leads")[0].Body, &body)
	if body["email"] != "ana.silva@example.com" || body["name"] != "Ana" {
		t.Fatalf("lead = %v", body)
	}
	e.finished(in, "btn00000000000000000001", "forwarded")

	// Replaying the same token is refused.
	if r := postForm(t, e.url+extensions.ActionPath, forward); r.status != 401 {
		t.Fatalf("replayed token: %d, want 401", r.status)
	}

	// The dialog now offers to stop; a stop token used for another prospect is refused.
	p = getPage(t, buttonURL)
	stop := formValues(t, p.body, "stop")
	other := url.Values{}
	for k, v := range stop {
		other[k] = v
	}
	other.Set("prospectId", "another0000000000000000001")
	if r := postForm(t, e.url+extensions.ActionPath, other); r.status != 401 {
		t.Fatalf("token bound to another prospect: %d, want 401", r.status)
	}
	if r := postForm(t, e.url+extensions.ActionPath, stop); r.status != http.StatusSeeOther {
		t.Fatalf("stop: %d\n%s", r.status, r.body)
	}
	e.finished(in, "btn00000000000000000001", "stopped")
	if n := len(e.leadRequests("PUT", "/leads/stop/followup")); n != 1 {
		t.Fatalf("%d stop requests, want 1", n)
	}

	// An expired token is refused.
	expired := extensions.NewTokens([]byte(signingKey), time.Nanosecond).Issue(extensions.Claims{
		InstanceID: in.id, UserID: "u1", ProspectID: "btn00000000000000000001", Action: extensions.ActionStop})
	stop.Set("token", expired)
	time.Sleep(time.Millisecond)
	if r := postForm(t, e.url+extensions.ActionPath, stop); r.status != 401 {
		t.Fatalf("expired token: %d, want 401", r.status)
	}
	// A forged one too.
	stop.Set("token", "x"+expired)
	if r := postForm(t, e.url+extensions.ActionPath, stop); r.status != 401 {
		t.Fatalf("forged token: %d, want 401", r.status)
	}
}

func TestReportRetry(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-pages-000003", "")
	e.st.FailNext(1, 400)
	e.notify(in, "created", time.Time{}, prospect("retry0000000000000000001", "new"))
	id := deliveryOf(t, e, in, "retry0000000000000000001")
	eventually(t, "the failure", func() bool {
		d, _ := e.outbox.Delivery(context.Background(), id)
		return d.State == "failed"
	})
	reportURL := e.signedURL(reportPath(in.groupID, "en"), true)
	p := getPage(t, reportURL)
	retry := formValues(t, p.body, "retry")
	if retry.Get("deliveryId") != id {
		t.Fatalf("retry form for %q, want %q", retry.Get("deliveryId"), id)
	}
	if r := postForm(t, e.url+extensions.ActionPath, retry); r.status != http.StatusSeeOther {
		t.Fatalf("retry: %d\n%s", r.status, r.body)
	}
	e.finished(in, "retry0000000000000000001", "forwarded")
	if r := postForm(t, e.url+extensions.ActionPath, retry); r.status != 401 {
		t.Fatalf("replayed retry: %d, want 401", r.status)
	}
}

// countingPages is the real report store, counting the reads of the instance's lead records.
type countingPages struct {
	*store.Pages
	leadReads atomic.Int32
}

func (c *countingPages) ForwardedLeads(ctx context.Context, instanceID string) ([]zen7.Lead, error) {
	c.leadReads.Add(1)
	return c.Pages.ForwardedLeads(ctx, instanceID)
}

// TestReportReadsLeadsOnlyForForwardedInRange checks that the report's lead states count the
// prospects forwarded in its range only, and that a range in which nothing was forwarded does
// not read the lead records at all (they are all of the instance's, whatever the range).
func TestReportReadsLeadsOnlyForForwardedInRange(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-pages-000004", "")
	e.notify(in, "created", time.Time{}, prospect("range0000000000000000001", "new"))
	e.finished(in, "range0000000000000000001", "forwarded")
	ctx := context.Background()
	inst, err := e.instances.Instance(ctx, in.id)
	if err != nil {
		t.Fatal(err)
	}
	pages := &countingPages{Pages: store.NewPages(e.db)}
	svc := extensions.NewService(extensions.Deps{Store: pages, Instances: e.instances, Outbox: e.outbox,
		Tokens: extensions.NewTokens([]byte(signingKey), 0), Logger: slog.New(slog.DiscardHandler)})

	monthAgo := time.Now().UTC().AddDate(0, -1, 0).Format(time.DateOnly)
	for _, tc := range []struct {
		name, rangeName, start, end string
		forwarded                   int
		leadReads                   int32
	}{
		{"nothing forwarded in range", "custom", monthAgo, monthAgo, 0, 0},
		{"one forwarded today", "today", "", "", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := pages.leadReads.Load()
			p := svc.Report(ctx, inst, "u1", tc.rangeName, tc.start, tc.end, view.English)
			if p.ErrorMessage != "" {
				t.Fatalf("report error: %s", p.ErrorMessage)
			}
			if p.Totals.Forwarded != tc.forwarded {
				t.Errorf("forwarded = %d, want %d", p.Totals.Forwarded, tc.forwarded)
			}
			funnelTop := 0
			if len(p.Funnel) > 0 {
				funnelTop = p.Funnel[0].Count
			}
			if states := len(p.States); funnelTop != tc.forwarded || (states > 0) != (tc.forwarded > 0) {
				t.Errorf("funnel starts at %d with %d states, want %d forwarded", funnelTop, states, tc.forwarded)
			}
			if got := pages.leadReads.Load() - before; got != tc.leadReads {
				t.Errorf("the lead records were read %d times, want %d", got, tc.leadReads)
			}
		})
	}
}
