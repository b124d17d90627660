package upstreamtest_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/internal/upstream/upstreamtest"
)

func record(l *upstreamtest.RequestLog, method, target, path, body string) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("X-Test", "1")
	l.Record(r, path, []byte(body))
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	l := upstreamtest.NewRequestLog(0)
	record(l, http.MethodGet, "/api/v1/integration?api-key=k1", "/integration", "")
	record(l, http.MethodPost, "/api/v1/integration?api-key=k1", "/integration", `{"a":1}`)
	record(l, http.MethodGet, "/api/v1/integration?api-key=k2", "/integration", "")

	reqs := l.Requests()
	if len(reqs) != 3 {
		t.Fatalf("Requests() has %d entries, want 3", len(reqs))
	}
	got := reqs[1]
	if got.Method != http.MethodPost || got.Path != "/integration" || got.Query.Get("api-key") != "k1" ||
		got.Header.Get("X-Test") != "1" || string(got.Body) != `{"a":1}` || got.Time.IsZero() {
		t.Errorf("Requests()[1] = %+v, want the POST with its query, header, body and time", got)
	}
	// What Requests returns is the caller's to change.
	reqs[1].Query.Set("api-key", "changed")
	reqs[1].Header.Set("X-Test", "changed")
	reqs[1].Body[0] = 'x'
	if again := l.Requests()[1]; again.Query.Get("api-key") != "k1" || again.Header.Get("X-Test") != "1" || string(again.Body) != `{"a":1}` {
		t.Errorf("Requests() shares state with the log: %+v", again)
	}
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/integration", 2},
		{http.MethodPost, "/integration", 1},
		{"", "/integration", 3},
		{http.MethodDelete, "/integration", 0},
		{"", "/other", 0},
	} {
		if got := l.Count(tt.method, tt.path); got != tt.want {
			t.Errorf("Count(%q, %q) = %d, want %d", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestRequestLogBound: the log drops its older half when full, so it keeps at least limit/2
// requests, at most limit, the newest ones in order, while Count keeps counting all of them.
func TestRequestLogBound(t *testing.T) {
	t.Parallel()
	const limit = 10
	l := upstreamtest.NewRequestLog(limit)
	for i := range 3*limit + 3 {
		record(l, http.MethodGet, "/x?n="+strconv.Itoa(i), "/x", "")
		if n := len(l.Requests()); n > limit || (i >= limit/2 && n < limit/2) {
			t.Fatalf("after %d requests the log keeps %d, want %d..%d", i+1, n, limit/2, limit)
		}
	}
	var got []string
	for _, r := range l.Requests() {
		got = append(got, r.Query.Get("n"))
	}
	// The 11th, 16th, 21st, 26th and 31st requests each find the log full and halve it: 25..32 remain.
	want := []string{"25", "26", "27", "28", "29", "30", "31", "32"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kept requests (-want +got):\n%s", diff)
	}
	if got := l.Count(http.MethodGet, "/x"); got != 3*limit+3 {
		t.Errorf("Count = %d, want %d: counts go on past the bound", got, 3*limit+3)
	}
}

func TestRequestLogConcurrentUse(t *testing.T) {
	t.Parallel()
	l := upstreamtest.NewRequestLog(8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				record(l, http.MethodPost, "/leads", "/leads", "{}")
				_ = l.Requests()
				_ = l.Count("", "/leads")
			}
		})
	}
	wg.Wait()
	if got := l.Count(http.MethodPost, "/leads"); got != 400 {
		t.Errorf("Count = %d, want 400", got)
	}
}
