package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
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

// startServer runs the App as main does, on a free port, until the returned stop is called.
func startServer(t *testing.T, environ map[string]string, stdout, stderr io.Writer) (baseURL string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, env(environ), stdout, stderr, ready) }()
	select {
	case addr := <-ready:
		baseURL = "http://127.0.0.1:" + addr[strings.LastIndex(addr, ":")+1:]
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return baseURL, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v after stop", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	}
}

// call makes a lifecycle hook call as Sales does, with the App's credentials, and decodes the
// JSON answer.
func call(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	status, b := hook(t, "the-app", "the-app-secret-xyz", method, url, body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return status, m
}

// hook makes a lifecycle hook call authenticated as appID with appSecret and returns the answer.
func hook(t *testing.T, appID, appSecret, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(appID, appSecret)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func TestSettingsSurviveRestart(t *testing.T) {
	t.Parallel()
	salesFake := salesfake.New()
	defer salesFake.Close()
	st := seventargetsfake.New()
	defer st.Close()
	st.Seed()
	st.AddClient("st-id", "st-secret-value-123", "st-user")
	const apiKey = "sales-api-key-restart-01"
	salesFake.AddIntegration(apiKey, sales.Integration{})

	environ := map[string]string{
		"PORT":                   "0",
		"PUBLIC_BASE_URL":        "https://app.example.com",
		"DATA_DIR":               t.TempDir(),
		"ZENVIA_APP_ID":          "the-app",
		"ZENVIA_APP_SECRET":      "the-app-secret-xyz",
		"ENCRYPTION_KEY":         secret.NewKey(),
		"ZENVIA_API_URL":         salesFake.BaseURL(),
		"SEVENTARGETS_API_URL":   st.APIURL(),
		"SEVENTARGETS_TOKEN_URL": st.TokenURL(),
		"LOG_LEVEL":              "debug",
	}
	var stdout, stderr lockedBuffer

	url, stop := startServer(t, environ, &stdout, &stderr)
	if status, _ := call(t, "POST", url+"/lifecycle/install", `{"integration":{"apiKey":"`+apiKey+`","enabled":true}}`); status != 201 {
		t.Fatalf("install: %d", status)
	}
	status, saved := call(t, "PUT", url+"/lifecycle/settings?api-key="+apiKey,
		`{"clientId":"st-id","clientSecret":"st-secret-value-123","userIdentifier":"st-user","assistantEmail":"ashley@7targets.test","autoForward":false}`)
	if status != 200 {
		t.Fatalf("settings: %d %v", status, saved)
	}
	stop()

	url, stop = startServer(t, environ, &stdout, &stderr)
	defer stop()
	status, read := call(t, "GET", url+"/lifecycle/settings?api-key="+apiKey, "")
	if status != 200 {
		t.Fatalf("read after restart: %d", status)
	}
	for k, v := range saved {
		if read[k] != v {
			t.Errorf("after restart %s = %v, want %v", k, read[k], v)
		}
	}
	if read["clientSecret"] == "" {
		t.Error("the stored client secret was lost in the restart")
	}

	// Zenvia's calls are logged, and never with a secret.
	logs := stdout.String() + stderr.String()
	if !strings.Contains(logs, `"route":"/lifecycle/settings"`) {
		t.Fatalf("no access log lines: %s", logs)
	}
	for _, s := range []string{apiKey, "st-secret-value-123", "the-app-secret-xyz", environ["ENCRYPTION_KEY"]} {
		if strings.Contains(logs, s) {
			t.Errorf("secret %q appears in the logs", s)
		}
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), env(map[string]string{"MONGODB_URI": "mongodb://127.0.0.1:1", "ZENVIA_APP_ID": "a", "ZENVIA_APP_SECRET": "b"}),
		io.Discard, io.Discard, nil)
	if err == nil || err.Error() != "config: ENCRYPTION_KEY: is required with MONGODB_URI (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)" {
		t.Fatalf("run = %v, want the one ENCRYPTION_KEY line", err)
	}
}

// TestTrustedProxiesReachTheApp: TRUSTED_PROXIES goes from the environment to the router: a
// connection from a listed proxy has its X-Forwarded-For logged as the client, and a malformed
// value stops the start with the one line naming the variable.
func TestTrustedProxiesReachTheApp(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"}), io.Discard, io.Discard, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "config: TRUSTED_PROXIES: ") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("run = %v, want the one TRUSTED_PROXIES line", err)
	}

	var stderr lockedBuffer
	url, stop := startServer(t, map[string]string{"PORT": "0", "DATA_DIR": t.TempDir(), "TRUSTED_PROXIES": "127.0.0.1 ::1"}, io.Discard, &stderr)
	defer stop()
	req, _ := http.NewRequest("GET", url+"/healthz", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// The access line is written before the answer leaves the handler, so it is there now.
	if logs := stderr.String(); !strings.Contains(logs, `"client":"203.0.113.7"`) {
		t.Fatalf("the access log does not name the forwarded client:\n%s", logs)
	}
}

// TestKeyRotation: a new ENCRYPTION_KEY with the old one in ENCRYPTION_KEY_PREVIOUS keeps every
// secret readable; `server rekey` seals them all with the new key, after which the old key can go.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	salesFake := salesfake.New()
	defer salesFake.Close()
	st := seventargetsfake.New()
	defer st.Close()
	st.Seed()
	st.AddClient("st-id", "st-secret-value-123", "st-user")
	const apiKey = "sales-api-key-rotation-01"
	salesFake.AddIntegration(apiKey, sales.Integration{})
	oldKey, newKey := secret.NewKey(), secret.NewKey()
	environ := func(current, previous string) map[string]string {
		return map[string]string{
			"PORT": "0", "PUBLIC_BASE_URL": "https://app.example.com", "ZENVIA_APP_ID": "the-app", "ZENVIA_APP_SECRET": "the-app-secret-xyz",
			"ENCRYPTION_KEY": current, "ENCRYPTION_KEY_PREVIOUS": previous, "ZENVIA_API_URL": salesFake.BaseURL(),
			"SEVENTARGETS_API_URL": st.APIURL(), "SEVENTARGETS_TOKEN_URL": st.TokenURL(),
		}
	}
	dataDir := t.TempDir()
	with := func(m map[string]string) map[string]string { m["DATA_DIR"] = dataDir; return m }
	readSettings := func(m map[string]string) (int, map[string]any) {
		url, stop := startServer(t, m, io.Discard, io.Discard)
		defer stop()
		return call(t, "GET", url+"/lifecycle/settings?api-key="+apiKey, "")
	}

	url, stop := startServer(t, with(environ(oldKey, "")), io.Discard, io.Discard)
	call(t, "POST", url+"/lifecycle/install", `{"integration":{"apiKey":"`+apiKey+`","enabled":true}}`)
	if s, _ := call(t, "PUT", url+"/lifecycle/settings?api-key="+apiKey, `{"clientId":"st-id","clientSecret":"st-secret-value-123"}`); s != 200 {
		t.Fatalf("settings: %d", s)
	}
	stop()

	if s, _ := readSettings(with(environ(newKey, ""))); s != 500 {
		t.Fatalf("with the new key alone before rekey: %d, want 500 (the secrets need the old key)", s)
	}
	if s, _ := readSettings(with(environ(newKey, oldKey))); s != 200 {
		t.Fatalf("with the new key and the old one kept: %d, want 200", s)
	}
	var out bytes.Buffer
	if err := rekey(context.Background(), env(with(environ(newKey, oldKey))), &out, io.Discard); err != nil {
		t.Fatalf("rekey: %v", err)
	}
	if !strings.Contains(out.String(), "rekey: 1 instances") {
		t.Fatalf("rekey said %q", out.String())
	}
	if s, got := readSettings(with(environ(newKey, ""))); s != 200 || got["clientSecret"] != "********" {
		t.Fatalf("after rekey, with the new key alone: %d %v", s, got)
	}
}
