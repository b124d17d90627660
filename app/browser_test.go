//go:build browser

package app_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/sales"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the browser test's screenshots over docs/screenshots/*.png")

// screenshotWidth is the viewport width of the screenshots, in CSS px.
const screenshotWidth = 900

// TestBrowserPagesInIframe drives a real headless Chromium through the App's embedded pages,
// framed by a page of another origin as Zenvia Sales frames them: the frame-ancestors policy
// is enforced by the browser, and an agent forwards and stops a prospect with clicks inside
// the dialog's iframe. It then takes the screenshots in docs/screenshots (rewritten only with
// -update-screenshots).
//
//	go test -tags browser -run TestBrowser ./app/ [-update-screenshots]
func TestBrowserPagesInIframe(t *testing.T) {
	t.Parallel()
	parent := parentPage(t)
	e := newTestEnv(t, withFrameAncestors(parent.URL))
	in := e.setupForwarding("key-browser-pages-1", `"autoForward":false`)
	tab := newBrowser(t)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1000, 1000)); err != nil {
		t.Fatal(err)
	}

	ok := t.Run("the default policy makes the browser refuse the frame", func(t *testing.T) {
		ctx := within(t, tab)
		d := newTestEnv(t) // frame-ancestors https://*.zenvia.com: not the loopback parent
		din := d.setupForwarding("key-browser-deny-01", "")
		report := d.signedURL(reportPath(din.groupID, "en"), true)
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		console := chromedp.Console(cctx) // subscribed before the navigation

		if err := chromedp.Do(ctx, chromedp.Navigate(framing(parent, "", report))); err != nil {
			t.Fatal(err)
		}
		// The App answered with the page…
		eventually(t, "the App to serve the framed report", func() bool { return served(d, "/extensions/reports/", http.StatusOK) })
		// …and the browser put its own error page in the frame instead of it.
		docURL, err := frameDocumentURL(ctx, "iframe#report")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(docURL, "chrome-error://") {
			t.Fatalf("the frame holds %q, want the browser's error page", docURL)
		}
		n, err := frameNode(ctx, "iframe#report")
		if err != nil {
			t.Fatal(err)
		}
		if nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("main.page, .page-header, .kpis"), chromedp.FromNode(n), chromedp.AtLeast(0))); err != nil || len(nodes) != 0 {
			t.Fatalf("the refused frame shows %d of the report's elements (%v)", len(nodes), err)
		}
		var why string
		for m, err := range console {
			if err != nil {
				break
			}
			if strings.Contains(m.Text, "frame-ancestors "+frameAncestors) {
				why = m.Text
				break
			}
		}
		if why == "" {
			t.Fatal("the browser logged no frame-ancestors refusal")
		}
		t.Logf("browser: %s", why)
	})
	if !ok {
		t.FailNow()
	}

	// Ana has no email in Sales, so the agent types one.
	ana := person("browser00000000000000001", "Ana", "Silva", "", "new")
	button := e.signedURL(buttonPathFor(in.groupID, ana, "en"), true)
	ok = t.Run("an agent forwards and stops a prospect inside the dialog's iframe", func(t *testing.T) {
		ctx := within(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(framing(parent, button, ""))); err != nil {
			t.Fatal(err)
		}
		if err := waitInFrame(ctx, "iframe#button", "#email"); err != nil {
			t.Fatal(err)
		}
		frame, err := frameNode(ctx, "iframe#button")
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#email"), "Ana.Silva@Example.com", chromedp.FromNode(frame)),
			chromedp.SetValue(chromedp.CSS("#assistant"), "lyra@7targets.test", chromedp.FromNode(frame)),
			chromedp.Click(chromedp.CSS(`form.form button[type="submit"]`), chromedp.FromNode(frame)),
		); err != nil {
			t.Fatal(err)
		}

		eventually(t, "the lead at 7Targets", func() bool { return len(e.leadRequests("POST", "/leads")) == 1 })
		var lead map[string]any
		if err := json.Unmarshal(e.leadRequests("POST", "/leads")[0].Body, &lead); err != nil {
			t.Fatal(err)
		}
		if lead["email"] != "ana.silva@example.com" || lead["assistantEmail"] != "lyra@7targets.test" || lead["name"] != "Ana" {
			t.Fatalf("lead = %v, want the typed email and the picked assistant", lead)
		}
		e.finished(in, ana.ID, "forwarded")

		// The action answered 303 back to the dialog's signed URL: the frame shows it again,
		// no longer as "new". Drawn while the lead was still on its way, the dialog reloads
		// itself until it shows the outcome, with the button that stops the sequence.
		if err := waitInFrame(ctx, "iframe#button", "header .badge.info, header .badge.success"); err != nil {
			t.Fatal(err)
		}
		if u, err := frameDocumentURL(ctx, "iframe#button"); err != nil || u != button {
			t.Fatalf("after forwarding the frame shows %q (%v), want the dialog %q", u, err, button)
		}
		if err := waitSettledInFrame(ctx, "iframe#button", "form.card-actions button.btn-danger"); err != nil {
			t.Fatal(err)
		}
		if badge, err := textInFrame(ctx, "iframe#button", "header .badge"); err != nil || badge != view.T(view.English, "status.forwarded") {
			t.Fatalf("badge = %q (%v), want forwarded", badge, err)
		}
		facts, err := textInFrame(ctx, "iframe#button", "dl.facts")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"ana.silva@example.com", "lyra@7targets.test"} {
			if !strings.Contains(facts, want) {
				t.Errorf("the forwarded dialog does not show %s:\n%s", want, facts)
			}
		}

		if err := clickInFrame(ctx, "iframe#button", "form.card-actions button.btn-danger"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the stop at 7Targets", func() bool { return len(e.leadRequests("PUT", "/leads/stop/followup")) == 1 })
		e.finished(in, ana.ID, "stopped")
		if err := waitSettledInFrame(ctx, "iframe#button", "header .badge.neutral"); err != nil {
			t.Fatal(err)
		}
		if badge, err := textInFrame(ctx, "iframe#button", "header .badge"); err != nil || badge != view.T(view.English, "status.stopped") {
			t.Fatalf("badge = %q (%v), want stopped", badge, err)
		}
	})
	if !ok {
		t.FailNow()
	}

	ok = t.Run("a routed prospect's dialog preselects the rule's assistant and says why", func(t *testing.T) {
		ctx := within(t, tab)
		if res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key, body: `{"routingRules":"` + browserRule + `"}`}); res.status != http.StatusOK {
			t.Fatalf("routing rules: %d %s", res.status, res.body)
		}
		// Sales knows Bruno's lead came from Facebook; the signed URL does not say.
		bruno := person("browser00000000000000009", "Bruno", "Rocha", "bruno.rocha@example.com", "new")
		bruno.Leads[0].UtmSource = "Facebook"
		e.sales.PutProspect(in.key, bruno)
		if err := chromedp.Do(ctx, chromedp.Navigate(framing(parent, e.signedURL(buttonPathFor(in.groupID, bruno, "en"), true), ""))); err != nil {
			t.Fatal(err)
		}
		if err := waitInFrame(ctx, "iframe#button", "#assistant"); err != nil {
			t.Fatal(err)
		}
		for sel, want := range map[string]string{"#assistant": "lyra@7targets.test", "#schedule": "Product Demo"} {
			if got, err := valueInFrame(ctx, "iframe#button", sel); err != nil || got != want {
				t.Errorf("%s = %q (%v), want %q preselected by the rule", sel, got, err, want)
			}
		}
		why, err := textInFrame(ctx, "iframe#button", `p.help[data-route="rule"]`)
		if err != nil || !strings.Contains(why, browserRule) {
			t.Errorf("the dialog says %q (%v), want the rule %q", why, err, browserRule)
		}
	})
	if !ok {
		t.FailNow()
	}

	t.Run("the report iframe counts the forwarded lead", func(t *testing.T) {
		ctx := within(t, tab)
		report := e.signedURL(reportPath(in.groupID, "en"), true)
		if err := chromedp.Do(ctx, chromedp.Navigate(framing(parent, "", report))); err != nil {
			t.Fatal(err)
		}
		if err := waitInFrame(ctx, "iframe#report", ".kpis"); err != nil {
			t.Fatal(err)
		}
		if u, err := frameDocumentURL(ctx, "iframe#report"); err != nil || u != report {
			t.Fatalf("the frame shows %q (%v), want the report", u, err)
		}
		for sel, want := range map[string]string{".kpi-fwd .kpi-value": "1", ".kpi .kpi-value": "1", ".kpi-fail .kpi-value": "0"} {
			if got, err := textInFrame(ctx, "iframe#report", sel); err != nil || got != want {
				t.Errorf("%s = %q (%v), want %q", sel, got, err, want)
			}
		}
	})

	ok = t.Run("the report shows the backfill's progress", func(t *testing.T) {
		ctx := within(t, tab)
		// Waiting in Sales before the backfill: three unclaimed prospects of the last days, one of
		// them without an email, and one an agent already took (not listed).
		for i, p := range []sales.Prospect{
			person("browser00000000000000010", "Rafael", "Nunes", "rafael.nunes@example.com", "unclaimed"),
			person("browser00000000000000011", "Sofía", "Torres", "sofia.torres@example.com", "unclaimed"),
			person("browser00000000000000012", "Tiago", "Moura", "", "unclaimed"),
			person("browser00000000000000013", "Valeria", "Ruiz", "valeria.ruiz@example.com", "followUp"),
		} {
			p.Created = time.Now().UTC().Add(-time.Duration(24*(i+1)) * time.Hour)
			e.sales.PutProspect(in.key, p)
		}
		if res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key, body: `{"autoForward":true,"backfillDays":7}`}); res.status != http.StatusOK {
			t.Fatalf("backfillDays: %d %s", res.status, res.body)
		}
		report := e.signedURL(reportPath(in.groupID, "en"), true)
		done := view.T(view.English, "backfill.done")
		var state string
		eventually(t, "the report to show the backfill done", func() bool {
			if err := chromedp.Do(ctx, chromedp.Navigate(framing(parent, "", report))); err != nil {
				t.Fatal(err)
			}
			if err := waitInFrame(ctx, "iframe#report", ".kpis"); err != nil {
				t.Fatal(err)
			}
			state, _ = textInFrame(ctx, "iframe#report", ".backfill .backfill-state")
			return state == done
		})
		for sel, want := range map[string]string{
			".backfill .kpi:first-child .kpi-value": "3", ".backfill .kpi-fwd .kpi-value": "2",
			".backfill .kpi-skip .kpi-value": "1", ".backfill .kpi-fail .kpi-value": "0",
		} {
			if got, err := textInFrame(ctx, "iframe#report", sel); err != nil || got != want {
				t.Errorf("%s = %q (%v), want %q", sel, got, err, want)
			}
		}
		if window, err := textInFrame(ctx, "iframe#report", ".backfill .card-head .muted"); err != nil || window != view.T(view.English, "report.backfill.window", 7) {
			t.Errorf("the backfill card's window says %q (%v)", window, err)
		}
	})
	if !ok {
		t.FailNow()
	}

	t.Run("screenshots", func(t *testing.T) {
		ctx := within(t, tab)
		mariana := person("browser00000000000000002", "Mariana", "Costa", "mariana.costa@example.com", "unclaimed")
		mariana.Leads[0].UtmSource = "facebook" // routed to Lyra by browserRule
		fillReport(t, e, in, mariana)
		fillChatTonic(t, e, in)
		ctx3 := within(t, tab)
		if err := chromedp.Do(ctx3, chromedp.Navigate(framing(parent, "", e.signedURL(reportPath(in.groupID, "en"), true)))); err != nil {
			t.Fatal(err)
		}
		if err := waitInFrame(ctx3, "iframe#report", ".chattonic .chattonic-state"); err != nil {
			t.Fatal(err)
		}
		if state, err := textInFrame(ctx3, "iframe#report", ".chattonic .chattonic-state"); err != nil || state != view.T(view.English, "chattonic.ok") {
			t.Errorf("the Chat-Tonic card's state is %q (%v), want reading fine", state, err)
		}
		// The dialog of a routed, forwarded prospect says which rule chose its assistant.
		ctx2 := within(t, tab)
		if err := chromedp.Do(ctx2, chromedp.Navigate(framing(parent, e.signedURL(buttonPathFor(in.groupID, mariana, "en"), true), ""))); err != nil {
			t.Fatal(err)
		}
		if err := waitInFrame(ctx2, "iframe#button", `dd[data-route="rule"]`); err != nil {
			t.Fatal(err)
		}
		if got, err := textInFrame(ctx2, "iframe#button", `dd[data-route="rule"]`); err != nil || !strings.Contains(got, browserRule) {
			t.Errorf("the forwarded dialog's route is %q (%v), want the rule", got, err)
		}
		dir := t.TempDir()
		if *updateScreenshots {
			dir = filepath.Join("..", "docs", "screenshots")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, lang := range []string{"en", "es", "pt"} {
			for name, u := range map[string]string{
				"report-" + lang + ".png": e.signedURL(reportPath(in.groupID, lang), true),
				"button-" + lang + ".png": e.signedURL(buttonPathFor(in.groupID, mariana, lang), true),
			} {
				b, err := screenshot(ctx, u, screenshotWidth)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				checkPNG(t, name, b, screenshotWidth)
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		if *updateScreenshots {
			t.Logf("screenshots written to %s", dir)
		}
	})
}

// browserRule routes the prospects of one UTM source to the fake's second assistant.
const browserRule = "utmSource = facebook -> lyra@7targets.test | Product Demo"

// within bounds the browser work of a step of the test with a generous deadline: a guard
// against hanging, not a speed check.
func within(t *testing.T, tab context.Context) context.Context {
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fillChatTonic turns on the instance's Chat-Tonic source, a contact bot whose two users got
// to the end of its funnel, one without leaving a phone or an email, and waits until both
// records were imported or skipped.
func fillChatTonic(t *testing.T, e *testEnv, in forwardingInstance) {
	t.Helper()
	const codename, token = "browser-bots", "browser-chattonic-token-01"
	if err := e.ct.AddAccount(codename, token); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ct.AddFunnel(codename, chattonic.Funnel{ID: "contacto", Interactions: []string{"INICIO", "NOMBRE", "EMAIL", "CELULAR", "FIN"},
		Groups: []chattonic.FunnelGroup{{Name: "Web"}}}); err != nil {
		t.Fatal(err)
	}
	if res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key,
		body: `{"chatTonicCodename":"` + codename + `","chatTonicToken":"` + token + `"}`}); res.status != http.StatusOK {
		t.Fatalf("Chat-Tonic settings: %d %s", res.status, res.body)
	}
	var ids []string
	for _, u := range []chattonic.User{
		{Platform: "whatsapp", FirstName: "Lucía", LastName: "Gómez", ExtraData: []chattonic.ExtraData{
			{Name: "Email", Value: "lucia.gomez@example.com"}, {Name: "Celular", Value: "+54 9 11 5555-0101"}}},
		{Platform: "webchat", FirstName: "Pablo", ExtraData: []chattonic.ExtraData{{Name: "Nombre", Value: "Pablo"}}},
	} {
		rec, err := e.ct.AddRecord(codename, chattonic.Record{Funnel: "contacto", Group: "Web", Last: "FIN", User: u})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.id+":chattonic:"+rec.ID)
	}
	eventually(t, "both records imported or skipped", func() bool {
		for _, id := range ids {
			if d, err := e.outbox.Delivery(context.Background(), id); err != nil || d.State == zen7.StatePending {
				return false
			}
		}
		return true
	})
}

// fillReport gives the instance a realistic week: today a refused lead, prospects forwarded
// by webhook (forwarded among them), one without an email and one an agent took first; and
// the six days before, from seedHistory.
func fillReport(t *testing.T, e *testEnv, in forwardingInstance, forwarded sales.Prospect) {
	t.Helper()
	if res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key, body: `{"autoForward":true}`}); res.status != http.StatusOK {
		t.Fatalf("turning automatic forwarding on: %d %s", res.status, res.body)
	}
	refused := person("browser00000000000000003", "Carlos", "Méndez", "carlos.mendez@example.com", "new")
	e.st.FailNext(1, http.StatusBadRequest)
	e.notify(in, "created", time.Time{}, refused)
	id := deliveryOf(t, e, in, refused.ID)
	eventually(t, "the refused lead", func() bool {
		d, _ := e.outbox.Delivery(context.Background(), id)
		return d.State == zen7.StateFailed
	})

	today := []sales.Prospect{
		forwarded,
		person("browser00000000000000004", "Diego", "Fernández", "diego.fernandez@example.com", "new"),
		person("browser00000000000000005", "Beatriz", "Almeida", "beatriz.almeida@example.com", "unclaimed"),
		person("browser00000000000000006", "Martina", "López", "martina.lopez@example.com", "new"),
	}
	noEmail := person("browser00000000000000007", "Pedro", "Alves", "", "new")
	taken := person("browser00000000000000008", "Laura", "Ríos", "laura.rios@example.com", "followUp")
	e.notify(in, "created", time.Time{}, append(today, noEmail, taken)...)
	for _, p := range today {
		e.finished(in, p.ID, "forwarded")
	}
	e.finished(in, noEmail.ID, "skipped")
	e.finished(in, taken.ID, "skipped")
	seedHistory(t, e, in)
}
