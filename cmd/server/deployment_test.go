package main

import (
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/testport"
	"github.com/7targets/zenvia-sales-app/store"
)

// TestOnePublicBaseURLPerDeployment: the database records the PUBLIC_BASE_URL its webhooks
// point at. A process with another one refuses to start, naming both, and leaves every
// subscription alone; `server move-base-url` moves them all (new tokens: the old callback URL
// stops working) and records the new URL, after which the new URL starts, the old one does
// not, and a process still running with the old one subscribes nothing any more.
func TestOnePublicBaseURLPerDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	f := newFakes(t)
	shared, err := store.StartEmbedded(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Stop)
	env := f.env(map[string]string{"MONGODB_URI": shared.URI()})
	a := startProcess(t, env)
	const apiKey = "proc-base-url-key-0001"
	callback := f.setUp(t, a, apiKey)
	if !strings.HasPrefix(callback, a.url+"/webhooks/") {
		t.Fatalf("callback %s is not under %s", callback, a.url)
	}
	activeCallback := func() string { // of the one instance there is
		for _, sub := range f.sales.Subscriptions() {
			if sub.Active {
				return sub.CallbackURL
			}
		}
		return ""
	}

	newURL := "http://127.0.0.1:" + strconv.Itoa(testport.Free(t))
	other := withEnv(a.env, map[string]string{"PORT": strconv.Itoa(testport.Free(t)), "PUBLIC_BASE_URL": newURL})
	stdout, stderr, err := runOnce(t, other, 30*time.Second, "-test.run=^$")
	refused(t, "a process with another PUBLIC_BASE_URL", stdout, stderr, err)
	oneLine(t, "the refusal", stderr, "PUBLIC_BASE_URL", a.url, newURL, "move-base-url")
	if got := activeCallback(); got != callback {
		t.Fatalf("after the refused start the subscription points at %s, want %s", got, callback)
	}

	stdout, stderr, err = runOnce(t, other, 60*time.Second, "move-base-url")
	if err != nil {
		t.Fatalf("move-base-url: %v\n%s%s", err, stdout, stderr)
	}
	oneLine(t, "move-base-url", stdout, a.url, newURL, "1 instance ")
	moved := activeCallback()
	if !strings.HasPrefix(moved, newURL+"/webhooks/") || strings.TrimPrefix(moved, newURL) == strings.TrimPrefix(callback, a.url) {
		t.Fatalf("after move-base-url the subscription is %s; want it under %s with a new token", moved, newURL)
	}

	b := startProcess(t, mergeInto(env, map[string]string{"PUBLIC_BASE_URL": newURL}))
	if s := post(t, moved, b, notification(1)); s != http.StatusOK {
		t.Errorf("webhook on the moved callback: %d, want 200", s)
	}
	if s := post(t, callback, b, notification(2)); s != http.StatusUnauthorized {
		t.Errorf("webhook on the old callback: %d, want 401 (its token was replaced)", s)
	}

	// The old process, still running, may still serve hooks but subscribes nothing: its
	// webhooks would take the deployment's back.
	for _, body := range []string{`{"enabled":false}`, `{"enabled":true}`} {
		if s, _ := hook(t, procAppID, procAppSecret, "PUT", a.url+"/lifecycle/enabled?api-key="+apiKey, body); s != 200 {
			t.Fatalf("enabled %s through the old process: %d", body, s)
		}
	}
	if got := activeCallback(); strings.HasPrefix(got, a.url) {
		a.dumpLogs()
		t.Fatalf("the old process subscribed the instance to %s again", got)
	}

	a.kill()
	stdout, stderr, err = runOnce(t, a.env, 30*time.Second, "-test.run=^$")
	refused(t, "the old PUBLIC_BASE_URL after the move", stdout, stderr, err)
	oneLine(t, "the refusal", stderr, a.url, newURL)
}

func mergeInto(base, extra map[string]string) map[string]string {
	m := maps.Clone(base)
	maps.Copy(m, extra)
	return m
}
