package chattonic_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/chattonic/chattonicfake"
)

// testToken is distinctive so a leak into an error message cannot go unnoticed.
const (
	testToken    = "ct_live_Qw7-SECRET-9a8b7c6d5e4f"
	testCodename = "demo_codename"
)

func newFake(tb testing.TB) *chattonicfake.Server {
	tb.Helper()
	f := chattonicfake.New()
	tb.Cleanup(f.Close)
	if err := f.Seed(testCodename, testToken); err != nil {
		tb.Fatal(err)
	}
	return f
}

func newClient(tb testing.TB, baseURL string, opts ...chattonic.Option) *chattonic.Client {
	tb.Helper()
	c, err := chattonic.New(baseURL, opts...)
	if err != nil {
		tb.Fatalf("chattonic.New(%q): %v", baseURL, err)
	}
	return c
}

// rawServer serves h on loopback, for answers the fake does not give.
func rawServer(tb testing.TB, h http.HandlerFunc) string {
	tb.Helper()
	ts := httptest.NewServer(h)
	tb.Cleanup(ts.Close)
	return ts.URL
}

// assertNoToken fails if err's text, in any fmt verb, holds the token.
func assertNoToken(tb testing.TB, err error) {
	tb.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(verb, err); strings.Contains(s, testToken) {
			tb.Errorf("error formatted with %s holds the token: %s", verb, s)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url     string
		wantErr bool
	}{
		{url: "https://chattonic.mobile-tonic.com"}, {url: "https://chattonic.mobile-tonic.com/"},
		{url: "http://127.0.0.1:1234/prefix"}, {url: "", wantErr: true}, {url: "chattonic.mobile-tonic.com", wantErr: true},
		{url: "ftp://x", wantErr: true}, {url: "https://u:p@x", wantErr: true}, {url: "https://x/?a=b", wantErr: true},
	} {
		if _, err := chattonic.New(tt.url); (err != nil) != tt.wantErr {
			t.Errorf("New(%q) error = %v, want error %v", tt.url, err, tt.wantErr)
		}
	}
}

func TestValidateCodename(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"demo_codename", "a", "Bot-2", strings.Repeat("x", 64)} {
		if err := chattonic.ValidateCodename(ok); err != nil {
			t.Errorf("ValidateCodename(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../admin", "a%2Fb", "a?b", "a#b", "a b", "_a", "-a", "añ", "a.b", strings.Repeat("x", 65)} {
		if err := chattonic.ValidateCodename(bad); !errors.Is(err, chattonic.ErrUnknownCodename) {
			t.Errorf("ValidateCodename(%q) = %v, want ErrUnknownCodename", bad, err)
		}
	}
}

func TestInvalidCallsSendNothing(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	c := newClient(t, rawServer(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"path injection", func() error { _, err := c.Funnels(ctx, "../admin", testToken, 0, 1); return err }, chattonic.ErrUnknownCodename},
		{"escaped slash", func() error {
			_, err := c.Records(ctx, "a%2Fb", testToken, chattonic.RecordQuery{Funnel: "f", FunnelGroup: "g"})
			return err
		}, chattonic.ErrUnknownCodename},
		{"no token", func() error { _, err := c.Funnels(ctx, testCodename, " ", 0, 1); return err }, chattonic.ErrUnauthorized},
		{"token with a line break", func() error { _, err := c.Funnels(ctx, testCodename, "a\r\nX-Evil: 1", 0, 1); return err }, chattonic.ErrUnauthorized},
		{"negative skip", func() error { _, err := c.Funnels(ctx, testCodename, testToken, -1, 1); return err }, chattonic.ErrRejected},
		{"no funnel group", func() error {
			_, err := c.Records(ctx, testCodename, testToken, chattonic.RecordQuery{Funnel: "f"})
			return err
		}, chattonic.ErrRejected},
		{"end before start", func() error {
			now := time.Now()
			_, err := c.Records(ctx, testCodename, testToken, chattonic.RecordQuery{Funnel: "f", FunnelGroup: "g", StartDate: now, EndDate: now.Add(-time.Second)})
			return err
		}, chattonic.ErrRejected},
	}
	for _, tt := range tests {
		err := tt.call()
		if !errors.Is(err, tt.want) || chattonic.IsRetryable(err) {
			t.Errorf("%s: err = %v, want permanent %v", tt.name, err, tt.want)
		}
		if !errors.Is(err, chattonic.ErrRejected) {
			t.Errorf("%s: err = %v does not match ErrRejected", tt.name, err)
		}
		assertNoToken(t, err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestFunnels(t *testing.T) {
	t.Parallel()
	fake := newFake(t)
	c := newClient(t, fake.BaseURL())
	page, err := c.Funnels(context.Background(), testCodename, testToken, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Funnels come sorted by ID: "contacto" before "sacarTarjeta".
	want := chattonic.FunnelPage{Skip: 0, Limit: 1, Funnels: []chattonic.Funnel{{
		ID: chattonicfake.SeedContactFunnel, Interactions: []string{"INICIO", "NOMBRE", "EMAIL", "CELULAR", "FIN"},
	}}}
	if diff := cmp.Diff(want, page, cmpIgnoreGroups); diff != "" {
		t.Errorf("Funnels (-want +got):\n%s", diff)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodGet || r.Path != "/api/v1/"+testCodename+"/lead/funnels" || r.Query.Encode() != "limit=1&skip=0" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query.Encode())
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q", got)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}

	all, err := c.AllFunnels(context.Background(), testCodename, testToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[1].ID != chattonicfake.SeedFunnel || len(all[1].Groups) != 1 || all[1].Groups[0].Name != chattonicfake.SeedGroup {
		t.Errorf("AllFunnels = %+v", all)
	}
}

var cmpIgnoreGroups = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Groups" }, cmp.Ignore())

func TestRecordsQuery(t *testing.T) {
	t.Parallel()
	fake := newFake(t)
	c := newClient(t, fake.BaseURL())
	start := time.Date(2025, 3, 1, 12, 0, 0, 5e6, time.FixedZone("", -3*3600))
	page, err := c.Records(context.Background(), testCodename, testToken, chattonic.RecordQuery{
		Funnel: chattonicfake.SeedFunnel, FunnelGroup: chattonicfake.SeedGroup, Skip: 0, Limit: 500,
		StartDate: start, EndDate: start.Add(24 * time.Hour * 365 * 100),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].ID != chattonicfake.SeedRecordID || page.Limit != chattonic.MaxLimit {
		t.Errorf("Records = %+v", page)
	}
	q := fake.Requests()[0].Query
	want := map[string]string{
		"funnel": "sacarTarjeta", "funnelGroup": "Sacar Tarjeta", "skip": "0", "limit": "100",
		"startDate": "2025-03-01T15:00:00.005Z", "endDate": "2125-02-05T15:00:00.005Z",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), v)
		}
	}
}

func TestRecordPages(t *testing.T) {
	t.Parallel()
	for _, strs := range []bool{false, true} {
		t.Run(fmt.Sprintf("string paging %v", strs), func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			fake.SetStringPaging(strs)
			base := time.Now().Add(-time.Hour)
			var want []string
			for i := range 250 {
				r, err := fake.AddRecord(testCodename, chattonic.Record{
					Funnel: chattonicfake.SeedContactFunnel, Group: chattonicfake.SeedContactGroup, CreatedAt: base.Add(time.Duration(i) * time.Second),
				})
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, r.ID)
			}
			c := newClient(t, fake.BaseURL())
			var got []string
			pages := 0
			err := c.RecordPages(context.Background(), testCodename, testToken,
				chattonic.RecordQuery{Funnel: chattonicfake.SeedContactFunnel, FunnelGroup: chattonicfake.SeedContactGroup},
				func(p chattonic.RecordPage) error {
					pages++
					for _, r := range p.Records {
						got = append(got, r.ID)
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
		})
	}
	t.Run("a full last page takes one more, empty, request", func(t *testing.T) {
		t.Parallel()
		fake := newFake(t)
		for range 100 {
			if _, err := fake.AddRecord(testCodename, chattonic.Record{Funnel: chattonicfake.SeedContactFunnel, Group: chattonicfake.SeedContactGroup}); err != nil {
				t.Fatal(err)
			}
		}
		c := newClient(t, fake.BaseURL())
		n := 0
		err := c.RecordPages(context.Background(), testCodename, testToken,
			chattonic.RecordQuery{Funnel: chattonicfake.SeedContactFunnel, FunnelGroup: chattonicfake.SeedContactGroup},
			func(p chattonic.RecordPage) error { n += len(p.Records); return nil })
		if err != nil || n != 100 {
			t.Fatalf("RecordPages: %d records, err %v", n, err)
		}
		if got := fake.Count(http.MethodGet, "/api/v1/"+testCodename+"/lead/records"); got != 2 {
			t.Errorf("%d requests, want 2", got)
		}
	})
	t.Run("an error from fn stops the reading", func(t *testing.T) {
		t.Parallel()
		fake := newFake(t)
		c := newClient(t, fake.BaseURL())
		stop := errors.New("stop")
		err := c.RecordPages(context.Background(), testCodename, testToken,
			chattonic.RecordQuery{Funnel: chattonicfake.SeedFunnel, FunnelGroup: chattonicfake.SeedGroup},
			func(chattonic.RecordPage) error { return stop })
		if err != stop {
			t.Errorf("err = %v, want fn's", err)
		}
	})
}

// pagedServer answers records pages of its own size, ignoring skip when told to.
func pagedServer(tb testing.TB, total, size int, ignoreSkip bool) string {
	return rawServer(tb, func(w http.ResponseWriter, r *http.Request) {
		var skip int
		if !ignoreSkip {
			_, _ = fmt.Sscan(r.URL.Query().Get("skip"), &skip)
		}
		var objs []string
		for i := skip; i < min(total, skip+size); i++ {
			objs = append(objs, fmt.Sprintf(`{"_id":"r%d"}`, i))
		}
		fmt.Fprintf(w, `{"skip":"%d","limit":"%d","objects":[%s]}`, skip, size, strings.Join(objs, ","))
	})
}

func TestRecordPagesServerPaging(t *testing.T) {
	t.Parallel()
	q := chattonic.RecordQuery{Funnel: "f", FunnelGroup: "g"}
	t.Run("server pages smaller than asked", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, pagedServer(t, 120, 50, false))
		n := 0
		if err := c.RecordPages(context.Background(), testCodename, testToken, q, func(p chattonic.RecordPage) error { n += len(p.Records); return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 120 {
			t.Errorf("%d records, want 120", n)
		}
	})
	t.Run("server ignoring skip", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, pagedServer(t, 1000, 100, true))
		err := c.RecordPages(context.Background(), testCodename, testToken, q, func(chattonic.RecordPage) error { return nil })
		if !errors.Is(err, chattonic.ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(*chattonicfake.Server)
		codename   string
		token      string
		want       error
		status     int
		retryable  bool
		retryAfter time.Duration
	}{
		{name: "wrong token", token: "wrong-token-value", want: chattonic.ErrUnauthorized, status: 401},
		{name: "revoked token", setup: func(f *chattonicfake.Server) { _ = f.SetToken(testCodename, "") }, want: chattonic.ErrUnauthorized, status: 401},
		{name: "forbidden", setup: func(f *chattonicfake.Server) { f.FailNext(1, 403) }, want: chattonic.ErrUnauthorized, status: 403},
		{name: "unknown codename", codename: "nobody", want: chattonic.ErrUnknownCodename, status: 404},
		{name: "rate limited with Retry-After", setup: func(f *chattonicfake.Server) { f.RateLimit(1, 3*time.Second) },
			want: chattonic.ErrRateLimited, status: 429, retryable: true, retryAfter: 3 * time.Second},
		{name: "rate limited without Retry-After", setup: func(f *chattonicfake.Server) { f.RateLimit(1, 0) },
			want: chattonic.ErrRateLimited, status: 429, retryable: true},
		{name: "server error", setup: func(f *chattonicfake.Server) { f.FailNext(1, 500) }, want: chattonic.ErrUnavailable, status: 500, retryable: true},
		{name: "down", setup: func(f *chattonicfake.Server) { f.SetDown(true) }, want: chattonic.ErrUnavailable, status: 503, retryable: true},
		{name: "bad request", setup: func(f *chattonicfake.Server) { f.FailNext(1, 400) }, want: chattonic.ErrRejected, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			if tt.setup != nil {
				tt.setup(fake)
			}
			var observed []int
			var mu sync.Mutex
			c := newClient(t, fake.BaseURL(), chattonic.WithObserver(func(op string, status int, _ time.Duration, err error) {
				mu.Lock()
				defer mu.Unlock()
				if op == "Funnels" && err != nil {
					observed = append(observed, status)
				}
			}))
			codename, token := cmpOr(tt.codename, testCodename), cmpOr(tt.token, testToken)
			_, err := c.Funnels(context.Background(), codename, token, 0, 1)
			var apiErr *chattonic.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if !errors.Is(err, tt.want) || apiErr.Status != tt.status || apiErr.Retryable() != tt.retryable ||
				chattonic.IsRetryable(fmt.Errorf("wrapped: %w", err)) != tt.retryable || chattonic.RetryDelay(err) != tt.retryAfter {
				t.Errorf("err = %v (status %d, retryable %v, retry after %v), want %v, %d, %v, %v",
					err, apiErr.Status, apiErr.Retryable(), apiErr.RetryAfter, tt.want, tt.status, tt.retryable, tt.retryAfter)
			}
			if errors.Is(err, chattonic.ErrRejected) == tt.retryable {
				t.Errorf("ErrRejected match %v for a retryable %v error", errors.Is(err, chattonic.ErrRejected), tt.retryable)
			}
			if !strings.Contains(err.Error(), "chattonic.Funnels") || !strings.Contains(err.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("error text %q names neither the operation nor the status", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(observed) != 1 || observed[0] != tt.status {
				t.Errorf("observer saw statuses %v, want [%d]", observed, tt.status)
			}
			assertNoToken(t, err)
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		fake := newFake(t)
		fake.SetLatency(time.Minute)
		c := newClient(t, fake.BaseURL(), chattonic.WithTimeout(100*time.Millisecond))
		_, err := c.Funnels(context.Background(), testCodename, testToken, 0, 1)
		if !errors.Is(err, chattonic.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || !chattonic.IsRetryable(err) {
			t.Errorf("err = %v, want a retryable ErrUnavailable timeout", err)
		}
		assertNoToken(t, err)
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.NotFoundHandler())
		ts.Close()
		_, err := newClient(t, ts.URL).Funnels(context.Background(), testCodename, testToken, 0, 1)
		if !errors.Is(err, chattonic.ErrUnavailable) || !chattonic.IsRetryable(err) {
			t.Errorf("err = %v, want a retryable ErrUnavailable", err)
		}
		assertNoToken(t, err)
	})
	t.Run("redirect refused", func(t *testing.T) {
		t.Parallel()
		var followed atomic.Bool
		target := rawServer(t, func(http.ResponseWriter, *http.Request) { followed.Store(true) })
		c := newClient(t, rawServer(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) }))
		_, err := c.Funnels(context.Background(), testCodename, testToken, 0, 1)
		if followed.Load() {
			t.Error("the redirect was followed, the token with it")
		}
		var apiErr *chattonic.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusFound {
			t.Errorf("err = %v, want the 302 as an error", err)
		}
	})
	t.Run("token echoed by the server is redacted", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, rawServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"message":"bad header: %s"}`, r.Header.Get("Authorization"))
		}))
		_, err := c.Funnels(context.Background(), testCodename, testToken, 0, 1)
		if !errors.Is(err, chattonic.ErrRejected) || !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("err = %v, want ErrRejected with the token redacted", err)
		}
		assertNoToken(t, err)
	})
	t.Run("malformed answers are retryable", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{`<html>gateway</html>`, `[]`, `{"objects":{}}`} {
			c := newClient(t, rawServer(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) }))
			_, err := c.Records(context.Background(), testCodename, testToken, chattonic.RecordQuery{Funnel: "f", FunnelGroup: "g"})
			if !errors.Is(err, chattonic.ErrUnavailable) {
				t.Errorf("body %q: err = %v, want ErrUnavailable", body, err)
			}
		}
	})
	t.Run("odd but readable answers", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, rawServer(t, func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{"skip":"0","limit":"100","objects":[{"_id":"a"},{"_id":"b","user":{"platform":"webchat","extraData":[{"name":"Nuevo","cxt":7}]}}],"extra":true}`)
		}))
		page, err := c.Records(context.Background(), testCodename, testToken, chattonic.RecordQuery{Funnel: "f", FunnelGroup: "g"})
		if err != nil {
			t.Fatal(err)
		}
		want := []chattonic.Record{{ID: "a"}, {ID: "b", User: chattonic.User{Platform: "webchat", ExtraData: []chattonic.ExtraData{{Name: "Nuevo", Value: "7"}}}}}
		if diff := cmp.Diff(want, page.Records); diff != "" {
			t.Errorf("Records (-want +got):\n%s", diff)
		}
	})
}
