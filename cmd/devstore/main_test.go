package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/7targets/zenvia-sales-app/store"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestServesAndStops(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs lockedBuffer
	go func() {
		done <- run(ctx, env(map[string]string{"STORE_ADDR": "127.0.0.1:0", "DATA_DIR": dir}), &logs, ready)
	}()
	var uri string
	select {
	case uri = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the store did not start")
	}

	client, err := store.Connect(ctx, uri, false)
	if err != nil {
		t.Fatal(err)
	}
	col := client.Database("devstore_test").Collection("things")
	if _, err := col.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if n, err := col.CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
	if err := client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the store did not stop")
	}
	for _, msg := range []string{`"msg":"serving"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("logs lack %s:\n%s", msg, logs.String())
		}
	}
	// Quiet: FerretDB's per-connection info lines are not passed on.
	if lines := strings.Count(logs.String(), "\n"); lines > 4 {
		t.Errorf("%d log lines, want only start and stop:\n%s", lines, logs.String())
	}
}

func TestRefusesBadAddress(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), env(map[string]string{"STORE_ADDR": "27017", "DATA_DIR": t.TempDir()}), &lockedBuffer{}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "config: STORE_ADDR: ") {
		t.Fatalf("run = %v, want the STORE_ADDR config error", err)
	}
}

// TestRefusesADataDirInUse: a second store on the same DATA_DIR stops at once, with one line
// naming the variable and the directory.
func TestRefusesADataDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, env(map[string]string{"STORE_ADDR": "127.0.0.1:0", "DATA_DIR": dir}), &lockedBuffer{}, ready)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the store did not start")
	}
	err := run(context.Background(), env(map[string]string{"STORE_ADDR": "127.0.0.1:0", "DATA_DIR": dir}), &lockedBuffer{}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "DATA_DIR "+dir+" is in use: ") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("second run = %v, want one line: DATA_DIR %s is in use: …", err, dir)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("first run returned %v after stop", err)
	}
}
