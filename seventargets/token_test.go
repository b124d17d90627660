package seventargets_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

// createConcurrently creates n leads at once under key and fails on any error.
func createConcurrently(tb testing.TB, c *seventargets.Client, key string, n, offset int) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := c.CreateLead(tb.Context(), key, testCreds, testLead(offset+i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Errorf("CreateLead: %v", err)
	}
}

func TestTokenReusedAcrossCalls(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newClient(t, f)
	for i := range 20 {
		mustCreate(t, c, "instance-1", testLead(i))
	}
	if got := f.TokenRequests(); got != 1 {
		t.Errorf("token requests for 20 leads = %d, want 1", got)
	}
	if got := f.Count(http.MethodPost, "/leads"); got != 20 {
		t.Errorf("POST /leads = %d, want 20", got)
	}
}

func TestTokenSingleFlight(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	// Slow tokens keep all 20 callers waiting on the same request.
	f.SetLatency(50 * time.Millisecond)
	c := newClient(t, f)
	createConcurrently(t, c, "instance-1", 20, 0)
	if got := f.TokenRequests(); got != 1 {
		t.Errorf("token requests for 20 concurrent calls with a cold cache = %d, want 1", got)
	}
}

func TestTokenRefreshOn401(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// break runs after a first call has cached a token.
		breakToken func(*seventargetsfake.Server)
		concurrent int // 0: one call
		wantErr    error
		wantTokens int
		wantPosts  int
	}{
		{
			name:       "expired token: one refresh, one retry",
			breakToken: (*seventargetsfake.Server).ExpireTokens,
			wantTokens: 2, wantPosts: 1 + 2,
		},
		{
			name: "expired token, 20 concurrent calls: one refresh",
			breakToken: func(f *seventargetsfake.Server) {
				f.ExpireTokens()
				// Slow answers make the 20 calls meet their 401s together.
				f.SetLatency(50 * time.Millisecond)
			},
			concurrent: 20,
			// A call that starts after the refresh needs no retry, so the
			// number of POSTs is not fixed; the refresh count is.
			wantTokens: 2, wantPosts: -1,
		},
		{
			name:       "one 401: retried with a new token",
			breakToken: func(f *seventargetsfake.Server) { f.FailNext(1, http.StatusUnauthorized) },
			wantTokens: 2, wantPosts: 1 + 2,
		},
		{
			name:       "401 again after the refresh: no second retry",
			breakToken: func(f *seventargetsfake.Server) { f.FailNext(2, http.StatusUnauthorized) },
			wantErr:    seventargets.ErrInvalidCredentials,
			wantTokens: 2, wantPosts: 1 + 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newClient(t, f)
			mustCreate(t, c, "instance-1", testLead(0))
			tt.breakToken(f)

			switch {
			case tt.concurrent > 0:
				createConcurrently(t, c, "instance-1", tt.concurrent, 1)
			case tt.wantErr != nil:
				_, err := c.CreateLead(t.Context(), "instance-1", testCreds, testLead(1))
				apiErr := checkAPIError(t, err, tt.wantErr, false)
				if apiErr.Status != http.StatusUnauthorized {
					t.Errorf("Status = %d, want 401", apiErr.Status)
				}
			default:
				mustCreate(t, c, "instance-1", testLead(1))
			}
			if got := f.TokenRequests(); got != tt.wantTokens {
				t.Errorf("token requests = %d, want %d", got, tt.wantTokens)
			}
			if got := f.Count(http.MethodPost, "/leads"); tt.wantPosts >= 0 && got != tt.wantPosts {
				t.Errorf("POST /leads = %d, want %d", got, tt.wantPosts)
			}
		})
	}
}

func TestTokenCacheKeys(t *testing.T) {
	t.Parallel()
	otherCreds := seventargets.Credentials{ClientID: "client-2", ClientSecret: "other-secret", UserIdentifier: "user-2"}
	tests := []struct {
		name string
		opts []seventargets.Option
		// run makes calls with the client and fake.
		run          func(testing.TB, *seventargets.Client)
		wantTokens   int
		wantTokensC2 int
	}{
		{
			name: "same key, same credentials: one token",
			run: func(tb testing.TB, c *seventargets.Client) {
				mustCreate(tb, c, "a", testLead(1))
				mustCreate(tb, c, "a", testLead(2))
			},
			wantTokens: 1,
		},
		{
			name: "two keys: a token each",
			run: func(tb testing.TB, c *seventargets.Client) {
				mustCreate(tb, c, "a", testLead(1))
				mustCreate(tb, c, "b", testLead(2))
				mustCreate(tb, c, "a", testLead(3))
				mustCreate(tb, c, "b", testLead(4))
			},
			wantTokens: 2,
		},
		{
			name: "changed credentials under the same key: new token",
			run: func(tb testing.TB, c *seventargets.Client) {
				mustCreate(tb, c, "a", testLead(1))
				if _, err := c.CreateLead(tb.Context(), "a", otherCreds, testLead(2)); err != nil {
					tb.Fatalf("CreateLead with new credentials: %v", err)
				}
			},
			wantTokens: 2, wantTokensC2: 1,
		},
		{
			name: "Forget drops the token",
			run: func(tb testing.TB, c *seventargets.Client) {
				mustCreate(tb, c, "a", testLead(1))
				c.Forget("a")
				mustCreate(tb, c, "a", testLead(2))
				c.Forget("never-cached")
				mustCreate(tb, c, "a", testLead(3))
			},
			wantTokens: 2,
		},
		{
			name: "bounded cache evicts the least recently used",
			opts: []seventargets.Option{seventargets.WithMaxCachedTokens(2)},
			run: func(tb testing.TB, c *seventargets.Client) {
				mustCreate(tb, c, "a", testLead(1))
				mustCreate(tb, c, "b", testLead(2))
				mustCreate(tb, c, "a", testLead(3)) // a is now more recent than b
				mustCreate(tb, c, "c", testLead(4)) // evicts b
				mustCreate(tb, c, "a", testLead(5)) // still cached
				mustCreate(tb, c, "b", testLead(6)) // fetched again
			},
			wantTokens: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.AddClient(otherCreds.ClientID, otherCreds.ClientSecret, otherCreds.UserIdentifier)
			c := newClient(t, f, tt.opts...)
			tt.run(t, c)
			if got := f.TokenRequests(); got != tt.wantTokens {
				t.Errorf("token requests = %d, want %d", got, tt.wantTokens)
			}
			if got := f.TokenRequestsFor(otherCreds.ClientID); got != tt.wantTokensC2 {
				t.Errorf("token requests for %s = %d, want %d", otherCreds.ClientID, got, tt.wantTokensC2)
			}
		})
	}
}

func TestTokenEarlyExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		lifetime   time.Duration
		opts       []seventargets.Option
		pause      time.Duration
		wantTokens int
	}{
		{
			name:     "refreshed early expiry before it expires",
			lifetime: 2 * time.Second, opts: []seventargets.Option{seventargets.WithTokenEarlyExpiry(time.Second)},
			pause: 1200 * time.Millisecond, wantTokens: 2,
		},
		{
			name:     "early expiry longer than the lifetime: refreshed at half life",
			lifetime: 2 * time.Second, // the default early expiry is 60s
			pause:    1200 * time.Millisecond, wantTokens: 2,
		},
		{
			name:     "short lifetime still reused meanwhile",
			lifetime: 2 * time.Second,
			pause:    0, wantTokens: 1,
		},
		{
			name:     "hour-long token reused",
			lifetime: time.Hour, opts: []seventargets.Option{seventargets.WithTokenEarlyExpiry(time.Minute)},
			pause: 100 * time.Millisecond, wantTokens: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.SetTokenLifetime(tt.lifetime)
			c := newClient(t, f, tt.opts...)
			mustCreate(t, c, "k", testLead(1))
			mustCreate(t, c, "k", testLead(2))
			time.Sleep(tt.pause)
			mustCreate(t, c, "k", testLead(3))
			if got := f.TokenRequests(); got != tt.wantTokens {
				t.Errorf("token requests = %d, want %d", got, tt.wantTokens)
			}
			// Refreshing early means no call ever met a 401.
			if got := f.Count(http.MethodPost, "/leads"); got != 3 {
				t.Errorf("POST /leads = %d, want 3 (no 401 retries)", got)
			}
		})
	}
}

func TestTokenRequestShape(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newClient(t, f)
	mustCreate(t, c, "k", testLead(1))
	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want a token request then the call", len(reqs))
	}
	tr := reqs[0]
	if tr.Method != http.MethodPost || tr.Path != seventargetsfake.TokenPath {
		t.Errorf("first request = %s %s, want POST %s", tr.Method, tr.Path, seventargetsfake.TokenPath)
	}
	if got := tr.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("token Content-Type = %q", got)
	}
	if !strings.HasPrefix(tr.Header.Get("Authorization"), "Basic ") {
		t.Errorf("token request Authorization = %q, want HTTP Basic", tr.Header.Get("Authorization"))
	}
	if got, want := string(tr.Body), "grant_type=client_credentials&scope=leads%2Fpost"; got != want {
		t.Errorf("token request body = %q, want %q (the secret belongs in the header)", got, want)
	}
}
