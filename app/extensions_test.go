package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/app"
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

// TestSignedURLsWithRepeatedParameters: a prospect's name is a value Sales puts in the signed
// URL, so a name such as "Eve&group=B&user=attacker" adds parameters Sales then signs. With the
// first value read, a repeated group or user would open another instance's page as another user.
// A signed URL that names any parameter twice is refused, however the name is encoded.
func TestSignedURLsWithRepeatedParameters(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	victim := e.setupForwarding("key-pages-repeat-a1", "")
	other := e.setupForwarding("key-pages-repeat-b1", "")
	const prospectID = "repeat000000000000000001"
	button := "/extensions/buttons/" + extensions.ButtonKey + "?prospect=" + prospectID

	tests := []struct {
		name, pathAndQuery string
		want               int
	}{
		{name: "one of each", pathAndQuery: button + "&firstName=Eve&user=u1&group=" + victim.groupID + "&lang=en", want: 200},
		{name: "injected group and user before the genuine ones",
			pathAndQuery: button + "&firstName=Eve&group=" + other.groupID + "&user=attacker&group=" + victim.groupID + "&user=u1&lang=en", want: 401},
		{name: "injected after the genuine ones",
			pathAndQuery: button + "&user=u1&group=" + victim.groupID + "&firstName=Eve&group=" + other.groupID + "&lang=en", want: 401},
		{name: "repeated name percent-encoded", pathAndQuery: button + "&user=u1&group=" + victim.groupID + "&gr%6Fup=" + other.groupID, want: 401},
		{name: "repeated harmless parameter", pathAndQuery: button + "&user=u1&group=" + victim.groupID + "&lang=en&lang=pt", want: 401},
		{name: "repeated report group", pathAndQuery: reportPath(victim.groupID, "en") + "&group=" + other.groupID, want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := getPage(t, e.signedURL(tt.pathAndQuery, true))
			if p.status != tt.want {
				t.Fatalf("status = %d, want %d\n%.300s", p.status, tt.want, p.body)
			}
			if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Fatalf("Content-Type = %q, want the HTML page", ct)
			}
			checkFramingHeaders(t, p)
			if tt.want == 401 && (!strings.Contains(p.body, `id="error-title"`) || strings.Contains(p.body, `name="token"`)) {
				t.Errorf("refused, but not with the bare error page:\n%.300s", p.body)
			}
		})
	}
}

// TestManifestPutsTheAppsParametersFirst: in the URLs Sales fills in and signs, the prospect's
// free text comes after every parameter the App decides by, so nothing it smuggles in precedes
// them.
func TestManifestPutsTheAppsParametersFirst(t *testing.T) {
	t.Parallel()
	srv, _, _ := newBareApp(t, nil)
	res, err := http.Get(srv.URL + "/extensions/manifest")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m extensions.Manifest
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	for _, d := range append(m.Reports, m.Buttons...) {
		_, query, _ := strings.Cut(d.URL, "?")
		seenText := false
		for p := range strings.SplitSeq(query, "&") {
			name, value, _ := strings.Cut(p, "=")
			fromProspect := strings.HasPrefix(value, "${prospect.") && value != "${prospect._id}"
			if seenText && !fromProspect {
				t.Errorf("%s: %s comes after the prospect's free text in %s", d.Key, name, d.URL)
			}
			seenText = seenText || fromProspect
		}
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

// TestForwardTakesTheProspectFromTheSignedURL checks that the forward action never takes the
// prospect's names, emails or phones from what the browser posts: a token binds those of the
// signed URL, and changed ones are refused; an email the agent types is used only when the
// prospect has none.
func TestForwardTakesTheProspectFromTheSignedURL(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-pages-tamper1", `"autoForward":false`)
	for _, tc := range []struct {
		name  string
		field string
		value string
	}{
		{"first name", "prospectFirstName", "Tampered"},
		{"emails", "prospectEmails", "victim@other.example"},
		{"phones", "prospectPhones", "+15550001111"},
		{"last name", "prospectLastName", ""},
	} {
		p := getPage(t, e.signedURL(buttonPath(in.groupID, "tamper00000000000000001", ""), true))
		forward := formValues(t, p.body, "forward")
		forward.Set("email", "ana.silva@example.com")
		forward.Set(tc.field, tc.value)
		if r := postForm(t, e.url+extensions.ActionPath, forward); r.status != http.StatusUnauthorized {
			t.Errorf("%s changed in the browser: %d, want 401", tc.name, r.status)
		}
	}
	if n := len(e.leadRequests("POST", "/leads")); n != 0 {
		t.Fatalf("%d leads sent from changed prospect data", n)
	}

	// The signed URL has an email: one typed beside it is not used.
	p := getPage(t, e.signedURL(buttonPath(in.groupID, "tamper00000000000000002", "ana@example.com"), true))
	forward := formValues(t, p.body, "forward")
	forward.Set("email", "victim@other.example")
	if r := postForm(t, e.url+extensions.ActionPath, forward); r.status != http.StatusSeeOther {
		t.Fatalf("forward: %d\n%s", r.status, r.body)
	}
	eventually(t, "the forwarded lead", func() bool { return len(e.leadRequests("POST", "/leads")) == 1 })
	var body map[string]any
	_ = json.Unmarshal(e.leadRequests("POST", "/leads")[0].Body, &body)
	if body["email"] != "ana@example.com" || body["name"] != "Ana" {
		t.Fatalf("lead = %v, want the signed URL's name and email", body)
	}
}

// TestRefusedActionDoesNotRenewItsToken checks that the dialog drawn again after a refused
// forward carries tokens that expire no later than the token posted, so refusing on purpose
// cannot keep a page's tokens alive for ever.
func TestRefusedActionDoesNotRenewItsToken(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-pages-renew01", `"autoForward":false`)
	tokens := extensions.NewTokens([]byte(signingKey), 0)
	p := getPage(t, e.signedURL(buttonPath(in.groupID, "renew000000000000000001", ""), true))
	forward := formValues(t, p.body, "forward")
	posted, err := tokens.Verify(forward.Get("token"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // expiries have whole seconds: a fresh token would end later
	forward.Set("email", "not-an-email")
	r := postForm(t, e.url+extensions.ActionPath, forward)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid email: %d", r.status)
	}
	for _, action := range []string{"forward", "stop"} {
		if !strings.Contains(r.body, `value="`+action+`"`) {
			continue
		}
		c, err := tokens.Verify(formValues(t, r.body, action).Get("token"))
		if err != nil {
			t.Fatalf("%s token on the page drawn again: %v", action, err)
		}
		if c.Expires.After(posted.Expires) {
			t.Errorf("%s token on the page drawn again expires %v, after the posted one's %v", action, c.Expires, posted.Expires)
		}
	}
}

// TestRateLimitedPagesAreHTML: a page is shown in Sales' iframe, so its 429 is a small page
// (with Retry-After and the framing rules of pages), not the JSON the API routes answer.
func TestRateLimitedPagesAreHTML(t *testing.T) {
	t.Parallel()
	oas := loadOpenAPI(t)
	srv := httptest.NewServer(app.New(app.Config{
		Logger: slog.New(slog.DiscardHandler), Store: pinger{}, FrameAncestors: frameAncestors,
		Limits: app.Limits{Page: app.Limit{Rate: 0.01, Burst: 1}},
	}))
	t.Cleanup(srv.Close)
	tests := []struct{ name, method, path string }{
		{name: "report", method: "GET", path: reportPath("g1", "es")},
		{name: "button", method: "GET", path: buttonPath("g1", "p1", "")},
		{name: "action", method: "POST", path: extensions.ActionPath},
	}
	for _, tt := range tests {
		c := call{method: tt.method, url: srv.URL + tt.path}
		if tt.method == "POST" {
			c = call{method: "POST", url: c.url, body: url.Values{"action": {"stop"}}.Encode()}.
				with("Content-Type", "application/x-www-form-urlencoded")
		}
		var ex exchange
		for range 2 { // the first spends the client's one token
			ex = send(t, c)
		}
		p := page{status: ex.status, header: ex.header, body: string(ex.body)}
		t.Run(tt.name, func(t *testing.T) {
			if _, _, resErr := oas.validate(t, ex, ""); resErr != nil {
				t.Errorf("the 429 does not match docs/openapi.yaml: %v", resErr)
			}
			if p.status != http.StatusTooManyRequests {
				t.Fatalf("status = %d, want 429", p.status)
			}
			if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Fatalf("Content-Type = %q, want the HTML page\n%.300s", ct, p.body)
			}
			if s, err := strconv.Atoi(p.header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("Retry-After = %q", p.header.Get("Retry-After"))
			}
			checkFramingHeaders(t, p)
			if !strings.Contains(p.body, `id="error-title"`) || !strings.Contains(p.body, "429") {
				t.Errorf("not the error page for 429:\n%.300s", p.body)
			}
		})
	}
}

// TestAssets: the stylesheet and script answer GET and HEAD (headers, no body); anything else
// about them is the contract's JSON error, as on every route that is not a page.
func TestAssets(t *testing.T) {
	t.Parallel()
	srv, _, _ := newBareApp(t, nil)
	tests := []struct {
		name, method, file string
		ranges             string // a Range header
		want               int
		wantType           string
		wantBody           bool
	}{
		{name: "stylesheet", method: "GET", file: "app.css", want: 200, wantType: "text/css; charset=utf-8", wantBody: true},
		{name: "HEAD of the script", method: "HEAD", file: "app.js", want: 200, wantType: "text/javascript; charset=utf-8"},
		{name: "unknown asset", method: "GET", file: "nope.js", want: 404, wantType: "application/json; charset=utf-8", wantBody: true},
		{name: "HEAD of an unknown asset", method: "HEAD", file: "nope.js", want: 404, wantType: "application/json; charset=utf-8"},
		{name: "directory", method: "GET", file: "", want: 404, wantType: "application/json; charset=utf-8", wantBody: true},
		{name: "other method", method: "DELETE", file: "app.css", want: 405, wantType: "application/json; charset=utf-8", wantBody: true},
		{name: "range past the end", method: "GET", file: "app.css", ranges: "bytes=9999999-", want: 416, wantType: "application/json; charset=utf-8", wantBody: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tt.method, srv.URL+view.AssetsPath+tt.file, nil)
			if tt.ranges != "" {
				req.Header.Set("Range", tt.ranges)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.want || res.Header.Get("Content-Type") != tt.wantType {
				t.Fatalf("%d %q, want %d %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), tt.want, tt.wantType, body)
			}
			if got := len(body) > 0; got != tt.wantBody {
				t.Fatalf("body %q; want one: %v", body, tt.wantBody)
			}
			if tt.want == 200 && (res.Header.Get("ETag") == "" || res.ContentLength <= 0) {
				t.Errorf("ETag %q, Content-Length %d", res.Header.Get("ETag"), res.ContentLength)
			}
			if tt.want >= 400 && tt.wantBody && !bytes.Contains(body, []byte(`"error":{"code":`)) {
				t.Errorf("body = %s, want the contract's error", body)
			}
			if tt.want >= 400 && res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q on an error", res.Header.Get("Cache-Control"))
			}
		})
	}
}
