package store_test

import (
	"context"
	"testing"

	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// TestReadyWrites: Ready takes its write on a working store, the first time and every time
// after (an upsert of the document the first made). A store that cannot write is
// cmd/server's TestReadyzWhenTheStoreCannotWrite.
func TestReadyWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready on a working store: %v", err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready again (the document exists): %v", err)
	}
}
