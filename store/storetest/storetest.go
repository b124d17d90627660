// Package storetest gives tests a real store: the MongoDB server named by MONGODB_TEST_URI when
// it is set, else one embedded store per test binary. Each test gets a fresh database, dropped
// when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/store"
)

var shared *store.DB

// Main runs the package's tests with a shared store; call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	cfg := store.Config{URI: os.Getenv("MONGODB_TEST_URI"), Database: "storetest", Logger: slog.New(slog.DiscardHandler)}
	if cfg.URI == "" {
		dir, err := os.MkdirTemp("", "storetest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "storetest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	db, err := store.Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	shared = db
	defer db.Close(ctx)
	return m.Run()
}

// NewDB returns a fresh database with the App's indexes, dropped when tb ends.
func NewDB(tb testing.TB) *store.DB {
	tb.Helper()
	if shared == nil {
		tb.Fatal("storetest: call storetest.Main from TestMain")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := shared.WithDatabase("t_" + hex.EncodeToString(b))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.EnsureIndexes(ctx); err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			tb.Logf("storetest: drop: %v", err)
		}
	})
	return db
}

// NewKeyring returns a keyring with a fresh random key.
func NewKeyring(tb testing.TB) *secret.Keyring {
	tb.Helper()
	key, err := secret.ParseKey(secret.NewKey())
	if err != nil {
		tb.Fatal(err)
	}
	k, err := secret.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}
