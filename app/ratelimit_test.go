package app_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/7targets/zenvia-sales-app/app"
)

func TestRateLimits(t *testing.T) {
	t.Parallel()
	// Tiny limits, so a test can cross them without a flood: about nothing refills meanwhile.
	limits := app.Limits{
		Webhook: app.Limit{Rate: 0.01, Burst: 3},
		Page:    app.Limit{Rate: 0.01, Burst: 2},
		Hook:    app.Limit{Rate: 0.01, Burst: 4},
	}
	srv := httptest.NewServer(app.New(app.Config{Logger: slog.New(slog.DiscardHandler), Store: pinger{}, Limits: limits}))
	defer srv.Close()
	// Only webhooks whose token passes count against their instance, so those need installed
	// instances (set up through the hooks, on an App of their own with the same limits).
	e := newTestEnv(t, func(c *app.Config) { c.Limits = limits })
	callback := func(key string) string {
		in := e.setupForwarding(key, "")
		sub, _ := e.sales.ActiveSubscription(in.groupID)
		return sub.CallbackURL
	}
	webhookA, webhookB := callback("key-ratelimit-inst-a"), callback("key-ratelimit-inst-b")

	const jsonError, page = `"code":"rate_limited"`, `id="error-title"` // pages show in an iframe: HTML
	tests := []struct {
		name, method, url string
		burst             int
		wantBody          string
	}{
		{name: "webhooks per instance", method: "POST", url: webhookA, burst: 3, wantBody: jsonError},
		{name: "another instance has its own budget", method: "POST", url: webhookB, burst: 3, wantBody: jsonError},
		{name: "pages per client", method: "GET", url: srv.URL + "/extensions/reports/r?signature=00", burst: 2, wantBody: page},
		{name: "hooks per client", method: "GET", url: srv.URL + "/lifecycle/settings?api-key=k", burst: 4, wantBody: jsonError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.burst + 2 {
				req, _ := http.NewRequest(tt.method, tt.url, strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				limited := res.StatusCode == http.StatusTooManyRequests
				if limited != (i >= tt.burst) {
					t.Fatalf("request %d: status %d (%s); want 429 only past the burst of %d", i+1, res.StatusCode, body, tt.burst)
				}
				if limited {
					if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 {
						t.Fatalf("Retry-After = %q", res.Header.Get("Retry-After"))
					}
					if !strings.Contains(string(body), tt.wantBody) {
						t.Fatalf("body = %s", body)
					}
				}
			}
		})
	}
}

// TestClientAddressBehindProxies: behind a trusted load balancer each client has its own budget,
// named by the X-Forwarded-For entry the balancer appended, whatever the client put before it;
// from any other connection the headers are ignored. Logs name the same address.
func TestClientAddressBehindProxies(t *testing.T) {
	t.Parallel()
	serve := func(proxies ...netip.Prefix) (string, *syncBuffer) {
		logs := &syncBuffer{}
		srv := httptest.NewServer(app.New(app.Config{
			Logger: slog.New(slog.NewJSONHandler(logs, nil)), Store: pinger{},
			Limits:         app.Limits{Hook: app.Limit{Rate: 0.01, Burst: 2}},
			TrustedProxies: proxies,
		}))
		t.Cleanup(srv.Close)
		return srv.URL, logs
	}
	// status sends a hook call (refused for its credentials, but counted first) with headers.
	status := func(t *testing.T, base string, header ...string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/lifecycle/settings?api-key=k", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Add(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	const xff = "X-Forwarded-For"

	t.Run("trusted proxy", func(t *testing.T) {
		t.Parallel()
		// The test's connections come from loopback: it plays the load balancer.
		base, logs := serve(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
		for i := range 2 {
			if s := status(t, base, xff, "203.0.113.7"); s == 429 {
				t.Fatalf("client A, request %d: 429 within its burst", i+1)
			}
		}
		if s := status(t, base, xff, "203.0.113.7"); s != 429 {
			t.Fatalf("client A past its burst: %d, want 429", s)
		}
		if s := status(t, base, xff, "198.51.100.1, 203.0.113.7"); s != 429 {
			t.Fatalf("client A naming another address before its own: %d, want 429 (its own bucket)", s)
		}
		if s := status(t, base, xff, "203.0.113.8"); s == 429 {
			t.Fatal("client B got 429: it shares client A's bucket")
		}
		if !strings.Contains(logs.String(), `"client":"203.0.113.7"`) {
			t.Errorf("the access log does not name client A:\n%s", logs)
		}
		// Only X-Forwarded-For: a balancer that appends to it may pass other headers through.
		status(t, base, "X-Real-Ip", "192.0.2.50")
		if strings.Contains(logs.String(), "192.0.2.50") {
			t.Error("X-Real-IP named the client")
		}
	})
	t.Run("no trusted proxy", func(t *testing.T) {
		t.Parallel()
		base, logs := serve()
		status(t, base, xff, "203.0.113.7")
		status(t, base, xff, "203.0.113.8")
		if s := status(t, base, xff, "203.0.113.9"); s != 429 {
			t.Fatalf("third request from one connection address: %d, want 429 (X-Forwarded-For is not believed)", s)
		}
		if strings.Contains(logs.String(), "203.0.113.") || !strings.Contains(logs.String(), `"client":"127.0.0.1"`) {
			t.Errorf("the access log should name the connection's address only:\n%s", logs)
		}
	})
}

// TestWrongTokensSpendNoInstanceBudget: instance ids are no secret, so webhooks with a wrong
// token must not spend the instance's budget, or anyone could silence an instance's genuine
// notifications. They are limited per client address instead, and an authenticated webhook is
// served even from an address past that limit (Sales' own 401s, for an instance whose
// subscription is broken, must not hold up the others).
func TestWrongTokensSpendNoInstanceBudget(t *testing.T) {
	t.Parallel()
	const genuine, guesses = 5, 40
	e := newTestEnv(t, func(c *app.Config) {
		c.Limits = app.Limits{
			Webhook:                app.Limit{Rate: 0.01, Burst: genuine}, // about nothing refills meanwhile
			WebhookUnauthenticated: app.Limit{Rate: 0.01, Burst: 10},
		}
		// The test's connections come from loopback: X-Forwarded-For tells attacker from Sales.
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	in := e.setupForwarding("key-ratelimit-victim1", "")
	sub, _ := e.sales.ActiveSubscription(in.groupID)
	post := func(url, client, prospectID string) int {
		body := `{"topic":"prospects","type":"created","prospect":[{"id":"` + prospectID + `","firstName":"A","emails":["a@example.com"],"status":"new"}]}`
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", client)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	const attacker, sales = "203.0.113.66", "198.51.100.10"
	limited := 0
	for i := range guesses {
		wrong := strings.Replace(sub.CallbackURL, "token=", "token=guess"+strconv.Itoa(i), 1)
		switch s := post(wrong, attacker, "ratelimit0000000000000001"); s {
		case 401:
		case 429:
			limited++
		default:
			t.Fatalf("guess %d: %d, want 401 or 429", i, s)
		}
	}
	if limited != guesses-10 {
		t.Errorf("%d of %d guesses got 429, want all past the client's burst of 10", limited, guesses)
	}
	if s := post(strings.Replace(sub.CallbackURL, "token=", "token=x", 1), "203.0.113.67", "ratelimit0000000000000001"); s != 401 {
		t.Errorf("a wrong token from another address: %d, want 401 (the attacker's budget is its own)", s)
	}
	for i := range genuine {
		from := sales
		if i == 0 {
			from = attacker // authenticated, so its address's spent budget does not matter
		}
		if s := post(sub.CallbackURL, from, fmt.Sprintf("ratelimit%016d", i)); s != 200 {
			t.Fatalf("genuine webhook %d of %d after %d wrong-token guesses: %d, want 200", i+1, genuine, guesses, s)
		}
	}
	if s := post(sub.CallbackURL, sales, "ratelimit0000000000000099"); s != 429 {
		t.Errorf("genuine webhook past the instance's burst: %d, want 429", s)
	}
}
