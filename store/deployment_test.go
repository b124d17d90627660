package store_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// TestPublicBaseURLIsClaimedOnce: processes starting at once with different URLs all get the
// one that was recorded first; only SetPublicBaseURL (server move-base-url) changes it.
func TestPublicBaseURLIsClaimedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	if _, err := db.PublicBaseURL(ctx); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("PublicBaseURL before any claim: %v, want ErrNotFound", err)
	}

	const n = 8
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			url, err := db.ClaimPublicBaseURL(ctx, "https://replica-"+strconv.Itoa(i)+".example.com")
			if err != nil {
				t.Error(err)
			}
			got[i] = url
		})
	}
	wg.Wait()
	recorded, err := db.PublicBaseURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, url := range got {
		if url != recorded {
			t.Errorf("claim %d got %q, want the recorded %q", i, url, recorded)
		}
	}

	previous, err := db.SetPublicBaseURL(ctx, "https://moved.example.com")
	if err != nil || previous != recorded {
		t.Fatalf("SetPublicBaseURL = %q, %v; want %q", previous, err, recorded)
	}
	if url, err := db.ClaimPublicBaseURL(ctx, "https://another.example.com"); err != nil || url != "https://moved.example.com" {
		t.Fatalf("claim after the move = %q, %v; want the moved URL", url, err)
	}
}
