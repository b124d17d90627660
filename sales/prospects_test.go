package sales_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/sales"
)

// TestProspectsPages checks that Prospects filters by creation and status and that paging with
// After, at the page size, lists every match once, oldest first.
func TestProspectsPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().UTC()
	var want []string
	for i := range 7 {
		created := now.Add(-time.Duration(7-i) * time.Hour)
		p := e.fake.PutProspect(testKey, sales.Prospect{FirstName: "P", Status: "unclaimed", Created: created})
		want = append(want, p.ID)
	}
	e.fake.PutProspect(testKey, sales.Prospect{FirstName: "Claimed", Status: "followUp", Created: now.Add(-2 * time.Hour)})
	e.fake.PutProspect(testKey, sales.Prospect{FirstName: "Old", Status: "unclaimed", Created: now.Add(-30 * time.Hour)})

	q := sales.ProspectQuery{CreatedAfter: now.Add(-24 * time.Hour), Status: "unclaimed", Limit: 3}
	var got []string
	pages := 0
	for {
		page, err := e.client.Prospects(t.Context(), testKey, q)
		if err != nil {
			t.Fatalf("Prospects(%+v): %v", q, err)
		}
		pages++
		for _, p := range page {
			got = append(got, p.ID)
			if p.Created.IsZero() {
				t.Errorf("prospect %s has no creation time", p.ID)
			}
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].ID
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed prospects (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3 (3 + 3 + 1)", pages)
	}
	reqs := e.fake.Requests()
	last := reqs[len(reqs)-1]
	for _, k := range []string{"createdAfter", "status", "limit", "after", "api-key"} {
		if last.Query.Get(k) == "" {
			t.Errorf("the last request's query %v lacks %s", last.Query, k)
		}
	}
}

// TestProspectsWindow checks that a createdAfter beyond Sales' 31 days is refused as a
// permanent error, and that the limit sent is never above MaxProspectsPage.
func TestProspectsWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.client.Prospects(t.Context(), testKey, sales.ProspectQuery{CreatedAfter: time.Now().Add(-32 * 24 * time.Hour)})
	var apiErr *sales.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Retryable() {
		t.Fatalf("err = %v, want a permanent 400", err)
	}
	if _, err := e.client.Prospects(t.Context(), testKey, sales.ProspectQuery{Limit: 5000}); err != nil {
		t.Fatal(err)
	}
	reqs := e.fake.Requests()
	if got := reqs[len(reqs)-1].Query.Get("limit"); got != "100" {
		t.Errorf("limit sent = %q, want 100", got)
	}
}

// TestProspectsRateLimited checks that a 429 with a near reset is waited out within the call
// and the call made again after the reset, and that a far one is returned with its delay.
func TestProspectsRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.fake.PutProspect(testKey, sales.Prospect{Status: "unclaimed"})
	reset := time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second)
	e.fake.RateLimit(1, reset)
	page, err := e.client.Prospects(t.Context(), testKey, sales.ProspectQuery{Status: "unclaimed"})
	if err != nil {
		t.Fatalf("Prospects after a short 429: %v", err)
	}
	if len(page) != 1 || page[0].ID != p.ID {
		t.Errorf("page = %+v, want the one prospect", page)
	}
	reqs := e.fake.Requests()
	if n := e.fake.Count(http.MethodGet, "/prospects"); n != 2 {
		t.Fatalf("GET /prospects made %d times, want 2 (the 429, then after its reset)", n)
	}
	if retried := reqs[len(reqs)-1].Time; retried.Before(reset) {
		t.Errorf("retried at %v, before the reset at %v", retried, reset)
	}

	e.fake.RateLimit(1, time.Now().Add(time.Minute))
	_, err = e.client.Prospects(t.Context(), testKey, sales.ProspectQuery{})
	if d, ok := sales.RateLimitDelay(err); !ok || d < 30*time.Second {
		t.Errorf("RateLimitDelay(%v) = %v, %v; want about a minute", err, d, ok)
	}
}
