// Command devstore serves the App's embedded MongoDB-compatible store (FerretDB on SQLite) on
// a TCP address, so App processes and containers can share one store without a MongoDB server.
// It is for development and tests only: it has no authentication and no TLS, so anything that
// reaches the address reads and writes every record. (The App's own embedded store, without
// MONGODB_URI, listens on a Unix socket only its user may open; this command keeps TCP so that
// containers and test processes reach it at an address.)
//
// Configuration, from the environment:
//
//	STORE_ADDR  host:port to listen on [127.0.0.1:27017]
//	DATA_DIR    directory of the SQLite files [/data]
//
// Point the App at it with MONGODB_URI=mongodb://<STORE_ADDR>/. It logs JSON lines on stderr
// (only its own start and stop, and the store's errors) and stops cleanly on SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/7targets/zenvia-sales-app/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run serves the store until ctx ends. ready, if not nil, receives the connection string once
// the store answers a ping.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer, ready chan<- string) error {
	addr := orDefault(getenv("STORE_ADDR"), "127.0.0.1:27017")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("config: STORE_ADDR: must be host:port: %v", err)
	}
	dir := orDefault(getenv("DATA_DIR"), "/data")
	logger := slog.New(slog.NewJSONHandler(stderr, nil))

	e, err := store.StartEmbeddedOn(dir, addr, logger)
	if err != nil {
		if de := (*store.DirError)(nil); errors.As(err, &de) {
			return fmt.Errorf("DATA_DIR %w", err) // "DATA_DIR /data is in use: …"
		}
		return err
	}
	defer e.Stop()

	// Serving means answering: ping through the same driver the App uses.
	client, err := store.Connect(ctx, e.URI(), true)
	if err != nil {
		return err
	}
	if err := client.Disconnect(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	logger.Info("serving", "addr", addr, "uri", e.URI(), "data_dir", dir)
	if ready != nil {
		ready <- e.URI()
	}

	<-ctx.Done()
	logger.Info("shutting down")
	e.Stop() // waits for the store to close its files
	logger.Info("stopped")
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
