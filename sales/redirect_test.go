package sales_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/7targets/zenvia-sales-app/sales"
)

// TestRedirectNotFollowed: the client returns a 3xx as the answer, over real HTTP, for reads
// and writes alike: following a 301, 302 or 303 would turn a POST into a GET. classify has no
// sentinel for a 3xx, so it is a permanent failure.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		followed.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"507f191e810c19729de860ea","topics":["prospects"]}`))
	}))
	t.Cleanup(target.Close)

	calls := []struct {
		name string
		call func(context.Context, *sales.Client) error
	}{
		{"GET integration", func(ctx context.Context, c *sales.Client) error {
			_, err := c.Integration(ctx, testKey)
			return err
		}},
		{"POST subscribe", func(ctx context.Context, c *sales.Client) error {
			_, err := c.Subscribe(ctx, testKey, []string{sales.TopicProspects}, "https://app.example/hook")
			return err
		}},
	}
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, tt := range calls {
			t.Run(http.StatusText(status)+" "+tt.name, func(t *testing.T) {
				t.Parallel()
				base := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+r.URL.Path, status)
				})
				err := tt.call(t.Context(), newClient(t, base))
				var apiErr *sales.APIError
				if !errors.As(err, &apiErr) || apiErr.Status != status {
					t.Fatalf("err = %v, want an *APIError with status %d", err, status)
				}
				if sales.IsRetryable(err) {
					t.Errorf("IsRetryable(%v) = true, want a permanent failure", err)
				}
				for _, sentinel := range []error{sales.ErrUnauthorized, sales.ErrNotFound, sales.ErrRateLimited, sales.ErrUnavailable} {
					if errors.Is(err, sentinel) {
						t.Errorf("errors.Is(%v, %v) = true, want no sentinel", err, sentinel)
					}
				}
				assertNoKey(t, err)
			})
		}
	}
	t.Cleanup(func() {
		// Cleanups run after the parallel subtests are done.
		if n := followed.Load(); n != 0 {
			t.Errorf("the redirect target was called %d times, want 0", n)
		}
	})
}
