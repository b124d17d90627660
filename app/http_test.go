package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/7targets/zenvia-sales-app/app"
)

type pinger struct{ err error }

func (p pinger) Ready(context.Context) error { return p.err }

// newBareApp serves the router with a given store health and no lifecycle calls expected.
func newBareApp(tb testing.TB, storeErr error) (*httptest.Server, *gin.Engine, *syncBuffer) {
	tb.Helper()
	logs := &syncBuffer{}
	logger := slog.New(app.LogHandler(slog.NewJSONHandler(logs, nil)))
	h := app.New(app.Config{Logger: logger, Store: pinger{storeErr}})
	engine := h.(*gin.Engine)
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv, engine, logs
}

func TestRoutingErrorsAndHealth(t *testing.T) {
	t.Parallel()
	srv, engine, logs := newBareApp(t, nil)
	engine.GET("/test/panic", func(*gin.Context) { panic("boom: internal detail") })
	downSrv, _, _ := newBareApp(t, errors.New("connection refused"))

	tests := []struct {
		name, url, method string
		want              int
		wantCode          string
		wantBody          string
	}{
		{name: "unknown route", url: srv.URL + "/nope", method: "GET", want: 404, wantCode: "not_found"},
		{name: "wrong method", url: srv.URL + "/lifecycle/install", method: "GET", want: 405, wantCode: "method_not_allowed"},
		{name: "trailing slash is another route", url: srv.URL + "/healthz/", method: "GET", want: 404, wantCode: "not_found"},
		{name: "panic", url: srv.URL + "/test/panic", method: "GET", want: 500, wantCode: "internal"},
		{name: "healthz", url: srv.URL + "/healthz", method: "GET", want: 200, wantBody: `"ok"`},
		{name: "readyz", url: srv.URL + "/readyz", method: "GET", want: 200, wantBody: `"ready"`},
		{name: "readyz with the store down", url: downSrv.URL + "/readyz", method: "GET", want: 503, wantCode: "not_ready"},
		{name: "healthz with the store down", url: downSrv.URL + "/healthz", method: "GET", want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.url, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", res.StatusCode, tt.want, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type = %q, want JSON", ct)
			}
			if tt.wantCode != "" {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tt.wantCode || e.Error.Message == "" {
					t.Fatalf("body = %s, want error code %q", body, tt.wantCode)
				}
			}
			if tt.wantBody != "" && !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("body = %s, want %s", body, tt.wantBody)
			}
			if strings.Contains(string(body), "internal detail") {
				t.Fatalf("internals leaked: %s", body)
			}
		})
	}
	if !strings.Contains(logs.String(), "boom: internal detail") {
		t.Error("the panic was not logged")
	}
	// The server survived the panic.
	if res, err := http.Get(srv.URL + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("after panic: %v %v", res, err)
	}
}

func TestHeadersAndRequestID(t *testing.T) {
	t.Parallel()
	srv, _, logs := newBareApp(t, nil)
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{name: "caller's id kept", sent: "abc-123_x.y", keep: true},
		{name: "none sent", sent: ""},
		{name: "unsafe id replaced", sent: "bad id\"with quotes"},
		{name: "overlong id replaced", sent: strings.Repeat("a", 65)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			got := res.Header.Get("X-Request-Id")
			if tt.keep && got != tt.sent || !tt.keep && (got == "" || got == tt.sent) {
				t.Fatalf("X-Request-Id = %q (sent %q)", got, tt.sent)
			}
			if !strings.Contains(logs.String(), `"request_id":"`+got+`"`) {
				t.Fatalf("the access log does not carry request id %q", got)
			}
			for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if res.Header.Get(h) != want {
					t.Errorf("%s = %q, want %q", h, res.Header.Get(h), want)
				}
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	srv, _, _ := newBareApp(t, nil)
	for _, p := range []string{"/healthz", "/healthz", "/nope/123", "/nope/456"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	req, _ := http.NewRequest("BREW", srv.URL+"/healthz", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`http_requests_total{method="GET",route="/healthz",status="200"} 2`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`http_requests_total{method="other",route="unmatched",status="405"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200",le="0.001"}`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if bytes.Contains(body, []byte("/nope/123")) {
		t.Error("metrics label unmatched paths one by one")
	}
}
