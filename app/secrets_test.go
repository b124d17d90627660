package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
	"github.com/7targets/zenvia-sales-app/store"
)

// TestNoSecretLeaks runs a whole life of an instance (install with the App secret in the body,
// settings with a distinctive 7Targets secret and a rejected one, webhooks, a wrong webhook
// token, 7Targets failing for a while and refusing a lead for good, the report and button
// pages, a key refresh, hooks with the refreshed-away key, a handler panicking while secrets
// are in its request) and then scans every log line, every response body (the panic's 500
// included) and the /metrics output for every secret it used: the App secret, the signing
// key, both Sales API keys, the 7Targets client secrets, the access tokens 7Targets issued and
// the webhook tokens of every callback URL. (The encryption key never reaches this layer;
// cmd/server's tests scan for it.)
func TestNoSecretLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t)
	const (
		oldKey       = "sales-key-hygiene-old-7f3a51"
		newKey       = "sales-key-hygiene-new-9c2e84"
		clientID     = "st-client-hygiene"
		clientSecret = "Dq7-distinctive-7T-secret-5521"
		ctCodename   = "hygiene-bots"
		ctToken      = "Kt3-distinctive-chattonic-token-7710"
		wrongSecret  = "Rj4-rejected-7T-secret-0193"
	)
	e.st.AddClient(clientID, clientSecret, stUser)
	integ := e.sales.AddIntegration(oldKey, sales.Integration{})

	// Install with the App credentials in the body, then settings: rejected, then accepted.
	mustStatus(t, "install", e.do(request{method: "POST", path: "/lifecycle/install", noAuth: true,
		body: `{"appId":"` + appID + `","appSecret":"` + appSecret + `","integration":{"apiKey":"` + oldKey + `","enabled":true}}`}), http.StatusCreated)
	settings := func(secret string) string {
		return `{"clientId":"` + clientID + `","clientSecret":"` + secret + `","userIdentifier":"` + stUser +
			`","assistantEmail":"` + seventargetsfake.SeedAssistantEmail + `"}`
	}
	mustStatus(t, "settings with a rejected secret", e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: oldKey, body: settings(wrongSecret)}), http.StatusUnprocessableEntity)
	mustStatus(t, "settings", e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: oldKey, body: settings(clientSecret)}), http.StatusOK)
	mustStatus(t, "read settings", e.do(request{method: "GET", path: "/lifecycle/settings", apiKey: oldKey}), http.StatusOK)
	in := forwardingInstance{key: oldKey, id: e.instance(oldKey).ID, groupID: integ.GroupID}

	// Webhooks: one forwarded after 7Targets failed twice, one with a wrong token.
	e.st.FailNext(2, http.StatusServiceUnavailable)
	mustWebhook(t, e, in, "hygiene00000000000000001")
	e.finished(in, "hygiene00000000000000001", "forwarded")
	sub, _ := e.sales.ActiveSubscription(in.groupID)
	if s := postWebhook(t, strings.Replace(sub.CallbackURL, "token=", "token=0", 1)); s != http.StatusUnauthorized {
		t.Errorf("wrong webhook token: %d", s)
	}

	// 7Targets refuses a lead for good: its message is kept and shown on the report page.
	mustStatus(t, "settings with an unknown sequence", e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: oldKey,
		body: `{"scheduleName":"No such sequence"}`}), http.StatusOK)
	mustWebhook(t, e, in, "hygiene00000000000000002")
	id := deliveryOf(t, e, in, "hygiene00000000000000002")
	eventually(t, "the refused delivery to fail", func() bool {
		d, err := e.outbox.Delivery(ctx, id)
		return err == nil && d.State == zen7.StateFailed
	})
	// A Chat-Tonic bot account: read with its token, then read after the token was revoked,
	// Chat-Tonic's refusal becoming the source's last error, which the report shows.
	if err := e.ct.AddAccount(ctCodename, ctToken); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, "Chat-Tonic settings", e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: oldKey,
		body: `{"chatTonicCodename":"` + ctCodename + `","chatTonicToken":"` + ctToken + `"}`}), http.StatusOK)
	reads := func() int { return e.ct.Count(http.MethodGet, "/api/v1/"+ctCodename+"/lead/funnels") }
	eventually(t, "a read of the bot account", func() bool { return reads() >= 1 })
	if err := e.ct.SetToken(ctCodename, "another-token-0000"); err != nil {
		t.Fatal(err)
	}
	sources := store.NewChatTonicSources(e.db)
	eventually(t, "the source failing", func() bool {
		src, err := sources.ChatTonicSource(ctx, in.id)
		return err == nil && src.Failing && src.LastError != ""
	})
	for _, u := range []string{
		e.signedURL(reportPath(in.groupID, "en"), true),
		e.signedURL(buttonPath(in.groupID, "hygiene00000000000000001", "Jorge.hygiene00000000000000001@Example.com"), false),
	} {
		p := getPage(t, u)
		_, _ = e.bodies.Write([]byte(p.body + "\n"))
		if p.status != http.StatusOK {
			t.Fatalf("page %s: %d", u, p.status)
		}
	}

	// Key refresh, a webhook under the new key, and hooks with the old one.
	e.sales.RefreshKey(oldKey, newKey)
	mustStatus(t, "refresh", e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: oldKey, body: `{"newApiKey":"` + newKey + `"}`}), http.StatusOK)
	mustStatus(t, "fix the sequence", e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: newKey, body: `{"scheduleName":""}`}), http.StatusOK)
	mustWebhook(t, e, in, "hygiene00000000000000003")
	e.finished(in, "hygiene00000000000000003", "forwarded")
	mustStatus(t, "old key", e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: oldKey, body: settings(clientSecret)}), http.StatusUnauthorized)

	// A handler panics with secrets in its request: in the query, the Authorization header and
	// the body. The lifecycle service here has no store: its first use of it panics.
	panicky := panickingApp(t, e.logs)
	for _, r := range []*http.Request{
		secretRequest(t, "PUT", panicky+"/lifecycle/settings?api-key="+newKey, settings(clientSecret), true),
		secretRequest(t, "POST", panicky+"/lifecycle/install", `{"appId":"`+appID+`","appSecret":"`+appSecret+`","integration":{"apiKey":"`+newKey+`"}}`, false),
	} {
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = e.bodies.Write(append(body, '\n'))
		if res.StatusCode != http.StatusInternalServerError {
			t.Fatalf("%s %s with a panicking store: %d %s", r.Method, r.URL.Path, res.StatusCode, body)
		}
	}

	metrics := e.do(request{method: "GET", path: "/metrics", noAuth: true})

	// The secrets the run used, and proof the scan covers where they could have gone.
	secrets := map[string]string{
		"App secret": appSecret, "signing key": signingKey, "old Sales API key": oldKey, "new Sales API key": newKey,
		"Chat-Tonic token":       ctToken,
		"7Targets client secret": clientSecret, "rejected 7Targets secret": wrongSecret, "harness 7Targets secret": stClientSecret,
	}
	tokens := 0
	for _, r := range e.st.Requests() {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			secrets["access token "+tok[:8]] = tok
			tokens++
		}
	}
	callbacks := 0
	for _, s := range e.sales.Subscriptions() {
		u, err := url.Parse(s.CallbackURL)
		if err != nil || u.Query().Get("token") == "" {
			t.Fatalf("callback URL %q without a token", s.CallbackURL)
		}
		secrets["webhook token of "+s.ID] = u.Query().Get("token")
		callbacks++
	}
	logs, bodies := e.logs.String(), e.bodies.String()
	if tokens == 0 || callbacks < 2 || !strings.Contains(logs, `"panic in handler"`) || !strings.Contains(logs, `"delivery will be retried"`) ||
		!strings.Contains(bodies, "No such sequence") || !strings.Contains(string(metrics.body), "http_requests_total") {
		t.Fatalf("the run did not go where the scan looks: %d access tokens, %d callbacks, panic logged %v, retry logged %v, refusal shown %v",
			tokens, callbacks, strings.Contains(logs, `"panic in handler"`), strings.Contains(logs, `"delivery will be retried"`), strings.Contains(bodies, "No such sequence"))
	}
	for name, s := range secrets {
		in := func(text string) bool { return strings.Contains(text, s) || strings.Contains(text, url.QueryEscape(s)) }
		if in(logs) {
			t.Errorf("the %s appears in the logs", name)
		}
		if in(bodies) {
			t.Errorf("the %s appears in a response body", name)
		}
	}
}

// mustWebhook has Sales deliver one new prospect to in and checks the App took it.
func mustWebhook(tb testing.TB, e *testEnv, in forwardingInstance, prospectID string) {
	tb.Helper()
	if status := e.notify(in, "created", time.Time{}, prospect(prospectID, "new")); status != http.StatusOK {
		tb.Fatalf("webhook for %s answered %d", prospectID, status)
	}
}

// panickingStore is a lifecycle.Store whose every method panics (a nil interface inside).
type panickingStore struct{ lifecycle.Store }

// panickingApp serves the App's router with a lifecycle service whose store panics, logging
// to logs, and returns its URL.
func panickingApp(tb testing.TB, logs *syncBuffer) string {
	tb.Helper()
	logger := slog.New(app.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	svc := lifecycle.NewService(lifecycle.Config{AppID: appID, AppSecret: appSecret}, panickingStore{}, nil, nil, logger)
	srv := httptest.NewServer(app.New(app.Config{Logger: logger, Lifecycle: svc, Store: pinger{}}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

func secretRequest(tb testing.TB, method, u, body string, basic bool) *http.Request {
	tb.Helper()
	r, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if basic {
		r.SetBasicAuth(appID, appSecret)
	}
	return r
}
