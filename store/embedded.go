package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Embedded is a FerretDB server running in this process, storing in SQLite files in its data
// directory, which it holds locked while it runs.
type Embedded struct {
	dir    string
	uri    string
	lock   *os.File // holds the directory's lock until Stop
	tmp    string   // a socket directory outside dir, removed at Stop; "" when the socket is in dir
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// ErrDataDirInUse is wrapped by the error of StartEmbedded when another store, in this process
// or another, holds the data directory: two FerretDB servers on one set of SQLite files would
// each run their unisolated read-modify-write updates over the other's.
var ErrDataDirInUse = errors.New("another process holds it")

// DirError says what is wrong with the embedded store's data directory.
type DirError struct {
	Dir     string // absolute
	Problem string // what is wrong, as a predicate: "is not writable"
	Err     error
}

func (e *DirError) Error() string { return e.Dir + " " + e.Problem + ": " + e.Err.Error() }
func (e *DirError) Unwrap() error { return e.Err }

const (
	lockFile = ".lock"
	// socketDir holds the store's Unix socket inside its data directory; the store makes it
	// afresh at each start, mode 0700, while it holds the directory's lock.
	socketDir  = ".socket"
	socketName = "store.sock" // the driver takes a host ending in "sock" for a Unix socket
	// maxSocketPath is the longest socket path every Unix takes (sun_path is 104 bytes on
	// macOS and the BSDs, 108 on Linux, with its terminating NUL).
	maxSocketPath = 103
)

// StartEmbedded starts FerretDB with its SQLite backend in dir, reachable by this process's
// user only. FerretDB v1 has no authentication, so it listens on no TCP port, where any local
// process could read and write it, but on a Unix socket of mode 0600 in a directory of mode
// 0700. dir is locked for as long as the store runs: a second store on it, in this process or
// another, gets an error wrapping ErrDataDirInUse at once.
func StartEmbedded(dir string, logger *slog.Logger) (*Embedded, error) {
	return start(dir, "", logger)
}

// StartEmbeddedOn starts FerretDB with its SQLite backend in dir, listening on the TCP address
// addr (host:port; port 0 picks a free one), with dir locked as StartEmbedded does. It serves
// cmd/devstore and tests, a store other processes and containers reach at a known address; it
// has no authentication, so addr is for loopback or a private container network, in
// development and tests only.
func StartEmbeddedOn(dir, addr string, logger *slog.Logger) (*Embedded, error) {
	if addr == "" {
		return nil, errors.New("store.StartEmbeddedOn: no address")
	}
	return start(dir, addr, logger)
}

// start starts the store on tcpAddr, or on its Unix socket when tcpAddr is empty.
func start(dir, tcpAddr string, logger *slog.Logger) (*Embedded, error) {
	if dir == "" {
		return nil, errors.New("store.StartEmbedded: no data directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store.StartEmbedded: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, &DirError{abs, "cannot be created", err}
	}
	// SQLite would say only "unable to open database file", and maybe not before the first
	// write: find out here, and say where.
	if err := probeWritable(abs); err != nil {
		return nil, &DirError{abs, "is not writable", err}
	}
	lock, err := lockDir(abs)
	if err != nil {
		return nil, err
	}
	e := &Embedded{dir: abs, lock: lock, done: make(chan struct{})}
	listener := ferretdb.ListenerConfig{TCP: tcpAddr}
	if tcpAddr == "" {
		if listener.Unix, err = e.makeSocketDir(); err != nil {
			e.release()
			return nil, err
		}
		e.uri = "mongodb://" + url.QueryEscape(listener.Unix) + "/"
	}

	// ferretdb.New writes a package-level variable: two stores starting at once in one
	// process (tests do) must not overlap there.
	embeddedStart.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listener,
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(abs) + "/?_pragma=" + connCache,
		Logger:    slog.New(quietHandler{logger.Handler().WithAttrs([]slog.Attr{slog.String("component", "embedded-store")})}),
	})
	embeddedStart.Unlock()
	if err != nil {
		e.release()
		if tcpAddr != "" {
			return nil, fmt.Errorf("store.StartEmbedded: %w", err)
		}
		return nil, &DirError{abs, "cannot hold the embedded store", err}
	}
	if tcpAddr != "" {
		e.uri = f.MongoDBURI()
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() {
		defer close(e.done)
		_ = f.Run(ctx)
	}()
	if listener.Unix != "" {
		// The directory's 0700 already keeps others out; the socket's own mode says so too,
		// whatever the umask gave it.
		if err := os.Chmod(listener.Unix, 0o600); err != nil {
			e.Stop()
			return nil, &DirError{abs, "cannot hold the embedded store's socket", err}
		}
	}
	return e, nil
}

var embeddedStart sync.Mutex

// connCache bounds the page cache of each of FerretDB's SQLite connections to 512 KiB (SQLite's
// default is 2,000 KiB). FerretDB keeps every connection it opens, and an update command holds
// one per statement until it returns, so the worker's claims of several deliveries at once
// leave one more open than the most claimed together (nine with eight slots), each caching
// pages of a database that grows with the history
// (docs/BENCHMARKS.md, "The SQLite connections, pinned down"). A page not cached is read from
// the system's file cache; the commit's fsync, not the read, is what a write costs.
const connCache = "cache_size(-512)"

// makeSocketDir makes a fresh directory of mode 0700 for the store's socket and returns the
// socket's path: in the data directory, whose lock this store holds, so a socket left by a
// killed process is simply removed; or, when that path is too long for a socket, in a new
// temporary directory.
func (e *Embedded) makeSocketDir() (string, error) {
	dir := filepath.Join(e.dir, socketDir)
	if len(filepath.Join(dir, socketName)) > maxSocketPath {
		tmp, err := os.MkdirTemp("", "zenvia-store-") // mode 0700
		if err != nil {
			return "", &DirError{e.dir, "is too deep for the store's socket, and no temporary directory could be made", err}
		}
		e.tmp = tmp
		return filepath.Join(tmp, socketName), nil
	}
	// Removed and made again rather than reused: whatever was there (a stale socket, a
	// directory of another mode, a symbolic link) is not trusted.
	if err := os.RemoveAll(dir); err != nil {
		return "", &DirError{e.dir, "is not writable", err}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", &DirError{e.dir, "is not writable", err}
	}
	if err := os.Chmod(dir, 0o700); err != nil { // whatever the umask took away or not
		return "", &DirError{e.dir, "is not writable", err}
	}
	return filepath.Join(dir, socketName), nil
}

// probeWritable creates and removes a file in dir.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-")
	if err != nil {
		return err
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		return err
	}
	return os.Remove(name)
}

// URI returns the connection string of the embedded store.
func (e *Embedded) URI() string { return e.uri }

// Stop stops the server, waits for it to close its files, and frees its data directory.
func (e *Embedded) Stop() {
	e.once.Do(func() {
		if e.cancel != nil {
			e.cancel()
			<-e.done
		}
		e.release()
	})
}

// release removes the socket directory made outside the data directory and gives up the lock.
func (e *Embedded) release() {
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
	if e.lock != nil {
		_ = e.lock.Close() // closing the file drops its flock
	}
}

// quietHandler passes on only errors: FerretDB logs every connection at info level.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && h.Handler.Enabled(ctx, l)
}
func (h quietHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(a)}
}
func (h quietHandler) WithGroup(n string) slog.Handler { return quietHandler{h.Handler.WithGroup(n)} }
