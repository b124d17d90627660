package app_test

import (
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
	srv := httptest.NewServer(app.New(app.Config{
		Logger: slog.New(slog.DiscardHandler), Store: pinger{},
		// Tiny limits, so a test can cross them without a flood: about nothing refills meanwhile.
		Limits: app.Limits{
			Webhook: app.Limit{Rate: 0.01, Burst: 3},
			Page:    app.Limit{Rate: 0.01, Burst: 2},
			Hook:    app.Limit{Rate: 0.01, Burst: 4},
		},
	}))
	defer srv.Close()

	tests := []struct {
		name, method, path string
		burst              int
	}{
		{name: "webhooks per instance", method: "POST", path: "/webhooks/sales/instance-a?token=x", burst: 3},
		{name: "another instance has its own budget", method: "POST", path: "/webhooks/sales/instance-b?token=x", burst: 3},
		{name: "pages per client", method: "GET", path: "/extensions/reports/r?signature=00", burst: 2},
		{name: "hooks per client", method: "GET", path: "/lifecycle/settings?api-key=k", burst: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.burst + 2 {
				req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(`{}`))
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
					if !strings.Contains(string(body), `"code":"rate_limited"`) {
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
