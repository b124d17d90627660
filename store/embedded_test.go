package store_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

func startEmbedded(tb testing.TB, dir string) *store.Embedded {
	tb.Helper()
	e, err := store.StartEmbedded(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Stop)
	return e
}

// TestEmbeddedDataDirBelongsToOneStore: a second store on a data directory in use is refused
// at once, whoever holds it (a flock conflicts between two opens in one process as between two
// processes); once the first stops, the directory is free again.
func TestEmbeddedDataDirBelongsToOneStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startEmbedded(t, dir)

	began := time.Now()
	second, err := store.StartEmbedded(dir, slog.New(slog.DiscardHandler))
	if err == nil {
		second.Stop()
		t.Fatal("a second store started on a data directory in use")
	}
	if !errors.Is(err, store.ErrDataDirInUse) || !strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("second start: %v; want one line naming %s, in use", err, dir)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("the refusal took %v; it should be at once", d)
	}

	first.Stop()
	startEmbedded(t, dir)
}

// TestEmbeddedAcceptsOnlyItsOwnUser: the embedded store listens on no TCP port, only on a Unix
// socket that only this user may open (mode 0600, in a directory of mode 0700), and the App's
// driver reaches it there; a data directory too deep for a socket path gets its socket in a
// temporary directory, removed when the store stops.
func TestEmbeddedAcceptsOnlyItsOwnUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dir     string
		inDir   bool // the socket is under dir
		removed bool // the socket's directory is gone after Stop
	}{
		{name: "in the data directory", dir: t.TempDir(), inDir: true},
		{name: "data directory too deep", dir: filepath.Join(t.TempDir(), strings.Repeat("d", 100)), removed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := startEmbedded(t, tt.dir)

			// By hand: net/url refuses %2F in a host, which is how a socket path goes in a
			// MongoDB URI.
			host, _, _ := strings.Cut(strings.TrimPrefix(e.URI(), "mongodb://"), "/")
			socket, err := url.QueryUnescape(host)
			if err != nil || !strings.HasPrefix(host, "%2F") || !strings.HasSuffix(socket, ".sock") {
				t.Fatalf("URI %s: want mongodb://%%2F….sock/, a Unix socket and no TCP address", e.URI())
			}
			if got := strings.HasPrefix(socket, tt.dir+string(filepath.Separator)); got != tt.inDir {
				t.Errorf("socket %s under %s: %v, want %v", socket, tt.dir, got, tt.inDir)
			}
			for path, want := range map[string]os.FileMode{socket: 0o600, filepath.Dir(socket): 0o700} {
				info, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := info.Mode().Perm(); got != want {
					t.Errorf("%s: mode %v, want %v", path, got, want)
				}
			}
			if info, _ := os.Stat(socket); info == nil || info.Mode().Type() != os.ModeSocket {
				t.Errorf("%s is not a socket", socket)
			}

			client, err := store.Connect(ctx, e.URI(), true)
			if err != nil {
				t.Fatalf("connecting through the socket: %v", err)
			}
			if err := client.Disconnect(ctx); err != nil {
				t.Fatal(err)
			}
			e.Stop()
			if _, err := os.Stat(filepath.Dir(socket)); tt.removed && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Stop, %s: %v; want it removed", filepath.Dir(socket), err)
			}
		})
	}
}

// TestEmbeddedNamesAnUnwritableDataDir: a data directory the process cannot write is refused
// with what is wrong and where, not with SQLite's "unable to open database file".
func TestEmbeddedNamesAnUnwritableDataDir(t *testing.T) {
	t.Parallel()
	dir := storetest.ReadOnlyDir(t)
	e, err := store.StartEmbedded(dir, slog.New(slog.DiscardHandler))
	if err == nil {
		e.Stop()
		t.Fatal("the store started in a read-only directory")
	}
	var de *store.DirError
	if !errors.As(err, &de) || !strings.HasPrefix(err.Error(), dir+" is not writable: ") {
		t.Fatalf("StartEmbedded = %q; want %q", err, dir+" is not writable: …")
	}
}
