//go:build browser

package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

// chromiumPath is where CI installs the browser the browser tests drive.
const chromiumPath = "/usr/bin/chromium"

// withFrameAncestors lets origins (CSP frame-ancestors syntax) frame the App's pages.
func withFrameAncestors(origins string) envOption {
	return func(c *app.Config) { c.FrameAncestors = origins }
}

// newBrowser starts a headless Chromium for the test and returns its first tab. The allocator
// gives the browser a fresh profile in a temporary directory and removes it when the browser
// has exited, at cleanup.
func newBrowser(tb testing.TB) context.Context {
	tb.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		tb.Fatalf("the browser tests need Chromium at %s (CI installs it; locally: apt-get install chromium): %v", chromiumPath, err)
	}
	// What chromedp reports goes to the test's log only if the test failed, once the browser
	// is gone: a log call after the test has ended would panic.
	var chromeLog syncBuffer
	tb.Cleanup(func() {
		if tb.Failed() && chromeLog.String() != "" {
			tb.Logf("chromedp:\n%s", chromeLog.String())
		}
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers
	)
	tb.Cleanup(cancelAlloc) // kills the browser, waits for it and removes its profile
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(format string, args ...any) {
		fmt.Fprintf(&chromeLog, format+"\n", args...)
	}))
	tb.Cleanup(cancel)
	// The first Do starts the browser and binds its life to ctx, which has no deadline: the
	// test's own timeouts then end actions, not the browser.
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// parentPage serves, from its own loopback origin, a page that frames App pages as Zenvia
// Sales does: GET /?button=<url>&report=<url> embeds each URL given in an iframe with that id.
func parentPage(tb testing.TB) *httptest.Server {
	tb.Helper()
	tmpl := template.Must(template.New("parent").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Zenvia Sales (test parent)</title></head>
<body style="margin:0;font-family:sans-serif">
<h1 style="font-size:16px;margin:8px">Zenvia Sales</h1>
{{- if .Button}}
<iframe id="button" title="7Targets" src="{{.Button}}" style="width:480px;height:900px;border:1px solid #ccc"></iframe>
{{- end}}
{{- if .Report}}
<iframe id="report" title="7Targets report" src="{{.Report}}" style="width:880px;height:1600px;border:1px solid #ccc"></iframe>
{{- end}}
</body>
</html>
`))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = tmpl.Execute(w, struct{ Button, Report string }{r.URL.Query().Get("button"), r.URL.Query().Get("report")})
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// framing returns the URL of the parent page framing the App URLs given ("" for none).
func framing(parent *httptest.Server, button, report string) string {
	q := url.Values{}
	if button != "" {
		q.Set("button", button)
	}
	if report != "" {
		q.Set("report", report)
	}
	return parent.URL + "/?" + q.Encode()
}

// buttonPathFor is the conversation button's URL path and query as Sales fills its
// placeholders for p, in a language.
func buttonPathFor(groupID string, p sales.Prospect, lang string) string {
	q := url.Values{"prospect": {p.ID}, "firstName": {p.FirstName}, "lastName": {p.LastName},
		"emails": {strings.Join(p.Emails, ",")}, "phones": {strings.Join(p.Phones, ",")},
		"user": {"u1"}, "group": {groupID}, "lang": {lang}}
	return "/extensions/buttons/" + extensions.ButtonKey + "?" + q.Encode()
}

// person is a prospect as Sales sends it, with a name, an email (none if "") and a lead.
func person(id, first, last, email, status string) sales.Prospect {
	p := sales.Prospect{ID: id, FirstName: first, LastName: last, Status: status,
		Phones: []string{"+55 11 98765-4321"}, Leads: []sales.Lead{{UtmSource: "google", Comments: "Asked for a demo"}}}
	if email != "" {
		p.Emails = []string{email}
	}
	return p
}

// frameNode returns the node of the parent page's iframe matching sel as it is now: the node
// and its content document are replaced whenever the frame navigates.
func frameNode(ctx context.Context, sel string) (*chromedp.Node, error) {
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(sel)))
	if err != nil {
		return nil, fmt.Errorf("iframe %s: %w", sel, err)
	}
	return nodes[0], nil
}

// inFrame runs act in the document of the iframe matching frameSel. A query against a
// document the frame has left finds nothing and waits, so act is tried with a short deadline
// and again against the frame's current document, until it succeeds or ctx ends. act must
// be safe to repeat: waits and reads, or a click that had not found its element (clickInFrame).
func inFrame[T any](ctx context.Context, frameSel string, act func(in chromedp.QueryOption) chromedp.Action[T]) (T, error) {
	var zero T
	for {
		n, err := frameNode(ctx, frameSel)
		if err != nil {
			return zero, err
		}
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := chromedp.Run(tctx, act(chromedp.FromNode(n)))
		cancel()
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil || !(errors.Is(err, context.DeadlineExceeded) || documentSwapped(err)) {
			return zero, fmt.Errorf("in iframe %s: %w; it shows %s", frameSel, err, frameShows(ctx, n))
		}
		select { // the next document may not be there yet
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// frameShows says, for a failure's message, what the document of the iframe node n shows.
func frameShows(ctx context.Context, n *chromedp.Node) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"), chromedp.FromNode(n)))
	if err != nil {
		return fmt.Sprintf("nothing that could be read (%v)", err)
	}
	return fmt.Sprintf("%q", text[:min(len(text), 600)])
}

// documentSwapped reports whether err is the browser refusing a query because the frame's
// document (its execution context or nodes) was replaced while the query ran. A click fails
// so before it dispatches any mouse event, so trying again cannot click twice.
func documentSwapped(err error) bool {
	var cerr *cdproto.Error
	if !errors.As(err, &cerr) {
		return false
	}
	for _, m := range []string{"Cannot find context with specified id", "No node with given id found", "Could not find node with given id", "does not belong to the document"} {
		if strings.Contains(cerr.Message, m) {
			return true
		}
	}
	return false
}

// waitInFrame waits until an element matching sel is visible in the iframe frameSel.
func waitInFrame(ctx context.Context, frameSel, sel string) error {
	_, err := inFrame(ctx, frameSel, func(in chromedp.QueryOption) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.CSS(sel), in)
	})
	return err
}

// waitSettledInFrame waits until sel is visible in the iframe frameSel in a document that will
// stay: one without the meta refresh the dialog carries while a delivery is on its way. A click
// on a document about to reload itself may be lost to the reload.
func waitSettledInFrame(ctx context.Context, frameSel, sel string) error {
	for {
		reloads, err := inFrame(ctx, frameSel, func(in chromedp.QueryOption) chromedp.Action[bool] {
			return func(ctx context.Context, t *chromedp.Target) (bool, error) {
				if _, err := chromedp.WaitVisible(chromedp.CSS(sel), in)(ctx, t); err != nil {
					return false, err
				}
				metas, err := chromedp.Nodes(chromedp.CSS(`meta[http-equiv="refresh"]`), in, chromedp.AtLeast(0))(ctx, t)
				return len(metas) > 0, err
			}
		})
		if err != nil || !reloads {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s in iframe %s: the document kept reloading itself: %w", sel, frameSel, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// clickInFrame clicks the first element matching sel in the iframe frameSel. A frame that has
// just navigated (a form's answer, a reload) may still be swapping documents, and a query
// against the one it replaces waits forever; so each try is bounded and made against the
// frame's current document. A try that timed out was still waiting for the element, so it
// clicked nothing and trying again cannot click twice.
func clickInFrame(ctx context.Context, frameSel, sel string) error {
	_, err := inFrame(ctx, frameSel, func(in chromedp.QueryOption) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(sel), in)
	})
	return err
}

// textInFrame returns the text of the first element matching sel in the iframe frameSel.
func textInFrame(ctx context.Context, frameSel, sel string) (string, error) {
	return inFrame(ctx, frameSel, func(in chromedp.QueryOption) chromedp.Action[string] {
		return chromedp.Text(chromedp.CSS(sel), in)
	})
}

// valueInFrame returns the value of the first form control matching sel in the iframe frameSel.
func valueInFrame(ctx context.Context, frameSel, sel string) (string, error) {
	return inFrame(ctx, frameSel, func(in chromedp.QueryOption) chromedp.Action[string] {
		return chromedp.Value(chromedp.CSS(sel), in)
	})
}

// frameDocumentURL waits until the iframe frameSel holds a document other than the initial
// about:blank and returns that document's URL.
func frameDocumentURL(ctx context.Context, frameSel string) (string, error) {
	for {
		n, err := frameNode(ctx, frameSel)
		if err != nil {
			return "", err
		}
		n.RLock()
		var u string
		if doc := n.ContentDocument; doc != nil {
			u = doc.DocumentURL
		}
		n.RUnlock()
		if u != "" && u != "about:blank" {
			return u, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("iframe %s never loaded a document: %w", frameSel, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// served reports whether the App logged answering a request for a path under prefix with
// the status.
func served(e *testEnv, prefix string, status int) bool {
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var r struct {
			Msg    string `json:"msg"`
			Path   string `json:"path"`
			Status int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.Msg == "request" && strings.HasPrefix(r.Path, prefix) && r.Status == status {
			return true
		}
	}
	return false
}

// seedHistory records six days of finished deliveries before today, as the worker records
// them (Outbox.Finish), with the leads' later 7Targets states: the App only records what
// happens, and a report chart with a single day shows little.
func seedHistory(tb testing.TB, e *testEnv, in forwardingInstance) {
	tb.Helper()
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	days := []struct{ forwarded, skipped int }{{3, 1}, {5, 0}, {2, 1}, {6, 2}, {4, 0}, {3, 1}} // oldest first
	names := [][2]string{{"Lucía", "Romero"}, {"João", "Pereira"}, {"Camila", "Torres"}, {"Rafael", "Souza"},
		{"Valentina", "Gómez"}, {"Bruno", "Oliveira"}, {"Sofía", "Martínez"}, {"Thiago", "Lima"}}
	states := []string{"Cold", "Warm", "Hot", "Warm", "Cold", "Cold", "Warm"}
	n := 0
	for i, c := range days {
		day := today.AddDate(0, 0, i-len(days)).Add(9 * time.Hour)
		for j := range c.forwarded + c.skipped {
			n++
			name := names[n%len(names)]
			at := day.Add(time.Duration(j*47) * time.Minute)
			d := zen7.Delivery{
				ID: fmt.Sprintf("%s:history:%03d", in.id, n), InstanceID: in.id, Kind: zen7.KindNotification,
				Prospect:   zen7.Prospect{ID: fmt.Sprintf("history%017d", n), FirstName: name[0], LastName: name[1], Status: "unclaimed"},
				SnapshotAt: at, CreatedAt: at, Attempts: 1,
				Pending: zen7.Pending{NextAttemptAt: at}, Result: zen7.Result{FinishedAt: at.Add(2 * time.Second)},
			}
			if j < c.forwarded {
				assistant := seventargetsfake.SeedAssistantEmail
				if n%3 == 0 {
					assistant = "lyra@7targets.test"
				}
				email := fmt.Sprintf("%s.%d@example.com", strings.ToLower(name[1]), n)
				d.Prospect.Emails = []string{email}
				d.State, d.Outcome, d.LeadID, d.AssistantEmail = zen7.StateDone, zen7.OutcomeCreated, int64(9000+n), assistant
				lead := zen7.Lead{
					InstanceID: in.id, ProspectID: d.Prospect.ID, State: zen7.LeadForwarded, LeadID: d.LeadID, Email: email,
					AssistantEmail: assistant, SnapshotAt: at, ProspectStatus: "unclaimed", SevenTargetsState: states[n%len(states)],
					SubState: "Followup", LastAction: zen7.OutcomeCreated, UpdatedAt: at,
				}
				if err := e.outbox.SaveLead(ctx, lead); err != nil {
					tb.Fatal(err)
				}
			} else {
				d.State, d.Outcome, d.Reason = zen7.StateSkipped, zen7.OutcomeNone, zen7.ParseReason("the prospect has no email address")
			}
			if err := e.outbox.Finish(ctx, d); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// screenshot loads u in the tab at width px and returns a PNG of the whole page.
func screenshot(ctx context.Context, u string, width int64) ([]byte, error) {
	// A low viewport first, so the page's measured height is its content's, not the window's.
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, 100),
		chromedp.Navigate(u),
		chromedp.WaitVisible(chromedp.CSS("main")),
	); err != nil {
		return nil, err
	}
	// Then a viewport as high as the page, so the capture holds all of it.
	m, err := chromedp.Call(ctx, cdppage.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	if m.CSSContentSize == nil {
		return nil, errors.New("the browser did not give the page's size")
	}
	height := int64(m.CSSContentSize.Height + 0.5)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, max(height, 200))); err != nil {
		return nil, err
	}
	return chromedp.Run(ctx, chromedp.FullScreenshot(100))
}

// checkPNG fails unless b is a PNG image width px wide with some height.
func checkPNG(tb testing.TB, name string, b []byte, width int) {
	tb.Helper()
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("%s: not a PNG: %v", name, err)
	}
	if cfg.Width != width || cfg.Height < 200 {
		tb.Errorf("%s: %dx%d, want %d px wide and a page's height", name, cfg.Width, cfg.Height, width)
	}
}
