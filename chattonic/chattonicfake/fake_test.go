package chattonicfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/chattonic/chattonicfake"
)

const (
	codename = "acme_bot"
	token    = "token-of-acme-bot"
)

func newFake(tb testing.TB) *chattonicfake.Server {
	tb.Helper()
	f := chattonicfake.New()
	tb.Cleanup(f.Close)
	if err := f.Seed(codename, token); err != nil {
		tb.Fatal(err)
	}
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// get sends a raw request, so the fake is tested as the documented API, not through the client.
func get(tb testing.TB, f *chattonicfake.Server, method, path string, q url.Values, auth string) response {
	tb.Helper()
	u := f.BaseURL() + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func recordsPath(c string) string { return "/api/v1/" + c + "/lead/records" }
func funnelsPath(c string) string { return "/api/v1/" + c + "/lead/funnels" }

func seedQuery(extra ...string) url.Values {
	q := url.Values{"funnel": {chattonicfake.SeedFunnel}, "funnelGroup": {chattonicfake.SeedGroup}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

func TestAuthAndRoutes(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	bearer := "Bearer " + token
	tests := []struct {
		name   string
		method string
		path   string
		q      url.Values
		auth   string
		want   int
	}{
		{"funnels", http.MethodGet, funnelsPath(codename), nil, bearer, 200},
		{"records", http.MethodGet, recordsPath(codename), seedQuery(), bearer, 200},
		{"no token", http.MethodGet, funnelsPath(codename), nil, "", 401},
		{"wrong token", http.MethodGet, funnelsPath(codename), nil, "Bearer nope", 401},
		{"token without Bearer", http.MethodGet, funnelsPath(codename), nil, token, 401},
		{"unknown codename", http.MethodGet, funnelsPath("other"), nil, bearer, 404},
		{"unknown codename, wrong token", http.MethodGet, recordsPath("other"), seedQuery(), "Bearer nope", 404},
		{"unknown route", http.MethodGet, "/api/v1/" + codename + "/lead/export", nil, bearer, 404},
		{"outside the API", http.MethodGet, "/lead/funnels", nil, bearer, 404},
		{"wrong method", http.MethodPost, funnelsPath(codename), nil, bearer, 405},
		{"records without funnel", http.MethodGet, recordsPath(codename), url.Values{"funnelGroup": {"G"}}, bearer, 400},
		{"bad startDate", http.MethodGet, recordsPath(codename), seedQuery("startDate", "yesterday"), bearer, 400},
		{"bad endDate", http.MethodGet, recordsPath(codename), seedQuery("endDate", "13/09/2019"), bearer, 400},
		{"bad skip", http.MethodGet, funnelsPath(codename), url.Values{"skip": {"-1"}}, bearer, 400},
		{"bad limit", http.MethodGet, funnelsPath(codename), url.Values{"limit": {"ten"}}, bearer, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := get(t, f, tt.method, tt.path, tt.q, tt.auth)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.want != 200 {
				var e struct{ Message string }
				if json.Unmarshal(r.body, &e) != nil || e.Message == "" {
					t.Errorf("error body %s, want a JSON message", r.body)
				}
			}
		})
	}
}

func TestSeedAnswersTheReference(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	r := get(t, f, http.MethodGet, recordsPath(codename), seedQuery(), "Bearer "+token)
	page, err := chattonic.DecodeRecords(r.body)
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("records %s, err %v", r.body, err)
	}
	got := page.Records[0]
	if got.ID != chattonicfake.SeedRecordID || got.Last != "INGRESO" || got.User.FirstName != "Juan" || len(got.User.ExtraData) != 3 ||
		page.Limit != chattonicfake.DefaultLimit || page.Skip != 0 {
		t.Errorf("seed record %+v in page %+v", got, page)
	}
	var raw map[string]any
	_ = json.Unmarshal(r.body, &raw)
	obj := raw["objects"].([]any)[0].(map[string]any)
	if _, ok := obj["user"].(map[string]any)["extraData"].([]any)[0].(map[string]any)["cxt"]; !ok {
		t.Errorf("extraData values are not sent as cxt: %s", r.body)
	}
	fr := get(t, f, http.MethodGet, funnelsPath(codename), nil, "Bearer "+token)
	fp, err := chattonic.DecodeFunnels(fr.body)
	if err != nil || len(fp.Funnels) != 2 || fp.Funnels[1].Groups[0].ID != "5d7a6b9266f1bf664e3f6a7b" {
		t.Errorf("funnels %s, err %v", fr.body, err)
	}
}

func TestPagingAndFilters(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 150 {
		if _, err := f.AddRecord(codename, chattonic.Record{
			ID: "r" + strconv.Itoa(1000+i), Funnel: chattonicfake.SeedContactFunnel, Group: chattonicfake.SeedContactGroup,
			CreatedAt: base.Add(time.Duration(i) * time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(q url.Values) chattonic.RecordPage {
		t.Helper()
		q.Set("funnel", chattonicfake.SeedContactFunnel)
		q.Set("funnelGroup", chattonicfake.SeedContactGroup)
		r := get(t, f, http.MethodGet, recordsPath(codename), q, "Bearer "+token)
		p, err := chattonic.DecodeRecords(r.body)
		if r.status != 200 || err != nil {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		return p
	}
	tests := []struct {
		name              string
		q                 url.Values
		n                 int
		first, last       string
		wantSkip, wantLim int
	}{
		{"default limit", url.Values{}, 10, "r1000", "r1009", 0, 10},
		{"limit capped at 100", url.Values{"limit": {"500"}}, 100, "r1000", "r1099", 0, 100},
		{"second page", url.Values{"skip": {"100"}, "limit": {"100"}}, 50, "r1100", "r1149", 100, 100},
		{"past the end", url.Values{"skip": {"150"}, "limit": {"100"}}, 0, "", "", 150, 100},
		{"start date inclusive", url.Values{"startDate": {base.Add(140 * time.Hour).Format(time.RFC3339)}, "limit": {"100"}}, 10, "r1140", "r1149", 0, 100},
		{"end date inclusive", url.Values{"endDate": {base.Add(4 * time.Hour).Format(time.RFC3339Nano)}}, 5, "r1000", "r1004", 0, 10},
		{"both, as milliseconds", url.Values{"startDate": {"2025-01-01T10:00:00.000Z"}, "endDate": {"2025-01-01T11:30:00.000Z"}}, 2, "r1010", "r1011", 0, 10},
		{"date only", url.Values{"startDate": {"2025-01-07"}, "limit": {"100"}}, 6, "r1144", "r1149", 0, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := read(tt.q)
			if len(p.Records) != tt.n || p.Skip != tt.wantSkip || p.Limit != tt.wantLim {
				t.Fatalf("%d records, skip %d, limit %d; want %d, %d, %d", len(p.Records), p.Skip, p.Limit, tt.n, tt.wantSkip, tt.wantLim)
			}
			if tt.n > 0 && (p.Records[0].ID != tt.first || p.Records[tt.n-1].ID != tt.last) {
				t.Errorf("records %s…%s, want %s…%s", p.Records[0].ID, p.Records[tt.n-1].ID, tt.first, tt.last)
			}
		})
	}
	t.Run("other group's records stay out", func(t *testing.T) {
		r := get(t, f, http.MethodGet, recordsPath(codename), seedQuery("limit", "100"), "Bearer "+token)
		p, _ := chattonic.DecodeRecords(r.body)
		if len(p.Records) != 1 {
			t.Errorf("%d records in the seed group, want 1", len(p.Records))
		}
	})
	t.Run("string paging", func(t *testing.T) {
		f.SetStringPaging(true)
		defer f.SetStringPaging(false)
		r := get(t, f, http.MethodGet, funnelsPath(codename), url.Values{"skip": {"1"}, "limit": {"1"}}, "Bearer "+token)
		var raw map[string]any
		if err := json.Unmarshal(r.body, &raw); err != nil || raw["skip"] != "1" || raw["limit"] != "1" {
			t.Errorf("answer %s, want skip and limit as strings", r.body)
		}
		p, _ := chattonic.DecodeFunnels(r.body)
		if len(p.Funnels) != 1 || p.Funnels[0].ID != chattonicfake.SeedFunnel {
			t.Errorf("second funnel page %+v", p)
		}
	})
}

func TestFaults(t *testing.T) {
	t.Parallel()
	auth := "Bearer " + token
	t.Run("fail next", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.FailNext(2, 502)
		for _, want := range []int{502, 502, 200} {
			if r := get(t, f, http.MethodGet, funnelsPath(codename), nil, auth); r.status != want {
				t.Fatalf("status %d, want %d", r.status, want)
			}
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.RateLimit(1, 1500*time.Millisecond)
		r := get(t, f, http.MethodGet, funnelsPath(codename), nil, auth)
		if r.status != 429 || r.header.Get("Retry-After") != "2" {
			t.Fatalf("status %d, Retry-After %q; want 429, 2", r.status, r.header.Get("Retry-After"))
		}
		f.RateLimit(1, 0)
		if r := get(t, f, http.MethodGet, funnelsPath(codename), nil, auth); r.status != 429 || r.header.Get("Retry-After") != "" {
			t.Fatalf("status %d, Retry-After %q; want 429 without it", r.status, r.header.Get("Retry-After"))
		}
		if r := get(t, f, http.MethodGet, funnelsPath(codename), nil, auth); r.status != 200 {
			t.Fatalf("status %d after the limit, want 200", r.status)
		}
	})
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.SetDown(true)
		if r := get(t, f, http.MethodGet, funnelsPath(codename), nil, auth); r.status != 503 {
			t.Fatalf("status %d, want 503", r.status)
		}
		f.SetDown(false)
		if r := get(t, f, http.MethodGet, funnelsPath(codename), nil, auth); r.status != 200 {
			t.Fatalf("status %d, want 200", r.status)
		}
	})
	t.Run("token revoked and renewed", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		if err := f.SetToken(codename, ""); err != nil {
			t.Fatal(err)
		}
		if r := get(t, f, http.MethodGet, funnelsPath(codename), nil, "Bearer "); r.status != 401 {
			t.Fatalf("revoked: status %d, want 401", r.status)
		}
		_ = f.SetToken(codename, "new-token")
		if r := get(t, f, http.MethodGet, funnelsPath(codename), nil, auth); r.status != 401 {
			t.Fatalf("old token: status %d, want 401", r.status)
		}
		if r := get(t, f, http.MethodGet, funnelsPath(codename), nil, "Bearer new-token"); r.status != 200 {
			t.Fatalf("new token: status %d, want 200", r.status)
		}
		if err := f.SetToken("nobody", "x"); !errors.Is(err, chattonicfake.ErrUnknown) {
			t.Errorf("SetToken of an unknown codename: %v", err)
		}
	})
	t.Run("latency ends with the client's context", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.SetLatency(time.Minute)
		c, _ := chattonic.New(f.BaseURL())
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Funnels(ctx, codename, token, 0, 1)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
}

func TestRecordsAdvance(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	now := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	f.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	r, err := f.AddRecord(codename, chattonic.Record{Funnel: chattonicfake.SeedFunnel, Group: chattonicfake.SeedGroup})
	if err != nil {
		t.Fatal(err)
	}
	if r.Last != "INICIO" || !r.CreatedAt.Equal(now) || len(r.ID) != 24 || r.App == "" {
		t.Fatalf("added %+v", r)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	got, ok := f.Advance(codename, r.ID, chattonic.ExtraData{Name: "DNI", Value: "1"})
	if !ok || got.Last != "DNI" || !got.UpdatedAt.Equal(now) || !got.CreatedAt.Equal(r.CreatedAt) || len(got.User.ExtraData) != 1 {
		t.Fatalf("advanced %+v, %v", got, ok)
	}
	for range 3 {
		if _, ok := f.Advance(codename, r.ID); !ok {
			t.Fatal("Advance stopped before FIN")
		}
	}
	if got, _ := f.Record(codename, r.ID); got.Last != "FIN" {
		t.Fatalf("at %q, want FIN", got.Last)
	}
	if _, ok := f.Advance(codename, r.ID); ok {
		t.Error("Advance went past the last interaction")
	}
	if _, ok := f.Advance(codename, "unknown"); ok {
		t.Error("Advance of an unknown record")
	}
	if _, err := f.AddRecord(codename, chattonic.Record{ID: r.ID, Funnel: chattonicfake.SeedFunnel, Group: chattonicfake.SeedGroup}); !errors.Is(err, chattonicfake.ErrExists) {
		t.Errorf("duplicate id: %v", err)
	}
	if _, err := f.AddRecord(codename, chattonic.Record{Funnel: "x", Group: "y"}); !errors.Is(err, chattonicfake.ErrUnknown) {
		t.Errorf("unknown group: %v", err)
	}
}

func TestBots(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	if err := f.AddBot(chattonicfake.Bot{Codename: codename, Funnel: chattonicfake.SeedContactFunnel, Group: chattonicfake.SeedContactGroup, PerTick: 2}); err != nil {
		t.Fatal(err)
	}
	if err := f.AddBot(chattonicfake.Bot{Codename: codename, Funnel: "nope", Group: "x"}); !errors.Is(err, chattonicfake.ErrUnknown) {
		t.Errorf("AddBot of an unknown group: %v", err)
	}
	for range 5 {
		if n := f.Tick(); n != 2 {
			t.Fatalf("Tick started %d records, want 2", n)
		}
	}
	var bots []chattonic.Record
	for _, r := range f.Records(codename) {
		if r.Funnel == chattonicfake.SeedContactFunnel {
			bots = append(bots, r)
		}
	}
	if len(bots) != 10 {
		t.Fatalf("%d bot records, want 10", len(bots))
	}
	// The first two records have been advanced four times: INICIO → FIN, answering each stage.
	first := bots[0]
	g := chattonic.FunnelGroup{Interactions: []string{"INICIO", "NOMBRE", "EMAIL", "CELULAR", "FIN"}}
	if !first.Completed(g) || first.User.FirstName == "" || first.User.Platform == "" {
		t.Fatalf("first bot record %+v", first)
	}
	lead := chattonic.ToLead(first)
	if len(lead.Emails) != 1 || len(lead.Phones) != 1 {
		t.Errorf("first bot record maps to %+v, want an email and a phone", lead)
	}
	if last := bots[9]; last.Last != "INICIO" || len(last.User.ExtraData) != 0 {
		t.Errorf("newest bot record %+v, want at INICIO without answers", last)
	}
	// Records added by hand stay where they are.
	if r, _ := f.Record(codename, chattonicfake.SeedRecordID); r.Last != "INGRESO" {
		t.Errorf("seed record moved to %q", r.Last)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx, 10*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(f.Records(codename)) < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := len(f.Records(codename)); n < 20 {
		t.Errorf("Run made %d records in 5s", n)
	}
}

func TestRequestLogAndConcurrency(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	_ = f.AddBot(chattonicfake.Bot{Codename: codename, Funnel: chattonicfake.SeedFunnel, Group: chattonicfake.SeedGroup})
	c, _ := chattonic.New(f.BaseURL())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 10 {
				if i%2 == 0 {
					f.Tick()
				}
				_ = c.RecordPages(context.Background(), codename, token,
					chattonic.RecordQuery{Funnel: chattonicfake.SeedFunnel, FunnelGroup: chattonicfake.SeedGroup},
					func(chattonic.RecordPage) error { return nil })
			}
		})
	}
	wg.Wait()
	if n := f.Count(http.MethodGet, recordsPath(codename)); n < 80 {
		t.Errorf("Count = %d, want at least 80", n)
	}
	reqs := f.Requests()
	if len(reqs) < 80 || reqs[0].Header.Get("Authorization") != "Bearer "+token {
		t.Errorf("%d requests logged", len(reqs))
	}
}
