package app_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
