package seventargets_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/7targets/zenvia-sales-app/seventargets"
)

// TestRedirectNotFollowed: neither the API nor the token endpoint is followed when it answers a
// 3xx, over real HTTP; following a 301, 302 or 303 would turn the POST into a GET. The 3xx
// fails the call as classify has it: nothing says the request itself is wrong, so
// ErrUnavailable, retryable.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		if r.URL.Path == "/oauth2/token" {
			jsonError(w, http.StatusOK, `{"access_token":"redirected-token","expires_in":3600,"token_type":"Bearer"}`)
			return
		}
		jsonError(w, http.StatusCreated, `{"id":1}`)
	}))
	t.Cleanup(target.Close)
	redirect := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+r.URL.Path, status)
		}
	}

	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status)+" from the API", func(t *testing.T) {
			t.Parallel()
			f := newFake(t) // a real token endpoint
			api := httptest.NewServer(redirect(status))
			t.Cleanup(api.Close)
			c, err := seventargets.New(api.URL, f.TokenURL())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CreateLead(t.Context(), "k", testCreds, testLead(1))
			apiErr := checkAPIError(t, err, seventargets.ErrUnavailable, true)
			if apiErr.Status != status {
				t.Errorf("Status = %d, want %d", apiErr.Status, status)
			}
		})
		t.Run(http.StatusText(status)+" from the token endpoint", func(t *testing.T) {
			t.Parallel()
			tokens := httptest.NewServer(redirect(status))
			t.Cleanup(tokens.Close)
			c, err := seventargets.New(target.URL, tokens.URL+"/oauth2/token")
			if err != nil {
				t.Fatal(err)
			}
			for name, call := range map[string]func(context.Context) error{
				"CheckCredentials": func(ctx context.Context) error {
					return c.CheckCredentials(ctx, testClientID, testSecret)
				},
				"CreateLead": func(ctx context.Context) error {
					_, err := c.CreateLead(ctx, "k", testCreds, testLead(1))
					return err
				},
			} {
				apiErr := checkAPIError(t, call(t.Context()), seventargets.ErrUnavailable, true)
				if apiErr.Status != status {
					t.Errorf("%s: Status = %d, want %d", name, apiErr.Status, status)
				}
			}
		})
	}
	t.Cleanup(func() {
		// Cleanups run after the parallel subtests are done.
		if n := followed.Load(); n != 0 {
			t.Errorf("the redirect target was called %d times, want 0", n)
		}
	})
}
