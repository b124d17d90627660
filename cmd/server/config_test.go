package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/secret"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	key := secret.NewKey()
	prod := map[string]string{
		"MONGODB_URI": "mongodb://db:27017", "ZENVIA_APP_ID": "id", "ZENVIA_APP_SECRET": "sec", "ENCRYPTION_KEY": key,
		"PUBLIC_BASE_URL": "https://app.example.com",
	}
	with := func(base map[string]string, k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range base {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // the variable the one error line must name; "" for success
		check   func(t *testing.T, c config)
	}{
		{name: "empty is dev mode with defaults", env: map[string]string{}, check: func(t *testing.T, c config) {
			if !c.DevMode || c.Port != 8080 || c.PublicBaseURL != "http://localhost:8080" || c.MongoDatabase != "zenvia7targets" ||
				c.DataDir != "./data" || c.ZenviaAPIURL != "https://sales.zenvia.com/api/v1" ||
				c.SevenTargetsTokenURL != "https://login.7targets.com/oauth2/token" || c.SevenTargetsAPIURL != "https://api.7targets.com" ||
				c.FrameAncestors != "https://*.zenvia.com" || c.ChatTonicAPIURL != "https://chattonic.mobile-tonic.com" ||
				c.ChatTonicPollInterval != time.Minute {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "production", env: prod, check: func(t *testing.T, c config) {
			if c.DevMode || c.SigningKey != "sec" || len(c.EncryptionKey) != 32 {
				t.Errorf("config = %+v", c)
			}
		}},
		{name: "signing key overrides secret", env: with(prod, "ZENVIA_SIGNING_KEY", "sign"), check: func(t *testing.T, c config) {
			if c.SigningKey != "sign" {
				t.Errorf("SigningKey = %q", c.SigningKey)
			}
		}},
		{name: "public base url follows port", env: map[string]string{"PORT": "9090"}, check: func(t *testing.T, c config) {
			if c.PublicBaseURL != "http://localhost:9090" {
				t.Errorf("PublicBaseURL = %q", c.PublicBaseURL)
			}
		}},
		{name: "app credentials without mongo", env: map[string]string{"ZENVIA_APP_ID": "id", "ZENVIA_APP_SECRET": "s",
			"ENCRYPTION_KEY": key, "PUBLIC_BASE_URL": "https://app.example.com"}, check: func(t *testing.T, c config) {
			if c.DevMode {
				t.Error("DevMode with App credentials given")
			}
		}},
		{name: "bad port", env: map[string]string{"PORT": "http"}, wantErr: "PORT"},
		{name: "port out of range", env: map[string]string{"PORT": "70000"}, wantErr: "PORT"},
		{name: "mongo without encryption key", env: with(prod, "ENCRYPTION_KEY", ""), wantErr: "ENCRYPTION_KEY"},
		{name: "app credentials without mongo nor encryption key", env: with(with(prod, "MONGODB_URI", ""), "ENCRYPTION_KEY", ""), wantErr: "ENCRYPTION_KEY"},
		{name: "app credentials without public base url", env: with(prod, "PUBLIC_BASE_URL", ""), wantErr: "PUBLIC_BASE_URL"},
		{name: "embedded store without public base url", env: with(with(prod, "MONGODB_URI", ""), "PUBLIC_BASE_URL", " "), wantErr: "PUBLIC_BASE_URL"},
		{name: "malformed encryption key", env: with(prod, "ENCRYPTION_KEY", "c2hvcnQ="), wantErr: "ENCRYPTION_KEY"},
		{name: "mongo without app id", env: with(with(prod, "ZENVIA_APP_ID", ""), "ZENVIA_APP_SECRET", ""), wantErr: "ZENVIA_APP_ID"},
		{name: "secret without id", env: map[string]string{"ZENVIA_APP_SECRET": "s"}, wantErr: "ZENVIA_APP_ID"},
		{name: "id without secret", env: map[string]string{"ZENVIA_APP_ID": "i"}, wantErr: "ZENVIA_APP_SECRET"},
		{name: "bad mongo uri", env: with(prod, "MONGODB_URI", "postgres://x"), wantErr: "MONGODB_URI"},
		{name: "bad database", env: map[string]string{"MONGODB_DATABASE": "a.b"}, wantErr: "MONGODB_DATABASE"},
		{name: "relative public url", env: map[string]string{"PUBLIC_BASE_URL": "app.example.com"}, wantErr: "PUBLIC_BASE_URL"},
		{name: "api url with query", env: map[string]string{"ZENVIA_API_URL": "https://x/api?k=1"}, wantErr: "ZENVIA_API_URL"},
		{name: "ftp token url", env: map[string]string{"SEVENTARGETS_TOKEN_URL": "ftp://x/token"}, wantErr: "SEVENTARGETS_TOKEN_URL"},
		{name: "bad 7targets url", env: map[string]string{"SEVENTARGETS_API_URL": "::"}, wantErr: "SEVENTARGETS_API_URL"},
		{name: "chat-tonic", env: map[string]string{"CHATTONIC_API_URL": "http://127.0.0.1:9000/", "CHATTONIC_POLL_INTERVAL": "10s"}, check: func(t *testing.T, c config) {
			if c.ChatTonicAPIURL != "http://127.0.0.1:9000" || c.ChatTonicPollInterval != 10*time.Second {
				t.Errorf("ChatTonicAPIURL = %q, ChatTonicPollInterval = %v", c.ChatTonicAPIURL, c.ChatTonicPollInterval)
			}
		}},
		{name: "bad chat-tonic url", env: map[string]string{"CHATTONIC_API_URL": "chattonic.mobile-tonic.com"}, wantErr: "CHATTONIC_API_URL"},
		{name: "chat-tonic poll too often", env: map[string]string{"CHATTONIC_POLL_INTERVAL": "9s"}, wantErr: "CHATTONIC_POLL_INTERVAL"},
		{name: "chat-tonic poll not a duration", env: map[string]string{"CHATTONIC_POLL_INTERVAL": "60"}, wantErr: "CHATTONIC_POLL_INTERVAL"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
		{name: "frame ancestors", env: map[string]string{"FRAME_ANCESTORS": "https://*.zenvia.com https://sales.example.com:8443 'self'"}, check: func(t *testing.T, c config) {
			if c.FrameAncestors != "https://*.zenvia.com https://sales.example.com:8443 'self'" {
				t.Errorf("FrameAncestors = %q", c.FrameAncestors)
			}
		}},
		{name: "frame ancestors injection", env: map[string]string{"FRAME_ANCESTORS": "https://x.com; script-src *"}, wantErr: "FRAME_ANCESTORS"},
		{name: "frame ancestors wildcard", env: map[string]string{"FRAME_ANCESTORS": "*"}, wantErr: "FRAME_ANCESTORS"},
		{name: "no trusted proxies by default", env: map[string]string{}, check: func(t *testing.T, c config) {
			if c.TrustedProxies != nil {
				t.Errorf("TrustedProxies = %v, want none", c.TrustedProxies)
			}
		}},
		{name: "trusted proxies", env: map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 2001:db8::/32,,fd00::1 10.1.2.3/16"}, check: func(t *testing.T, c config) {
			got := fmt.Sprint(c.TrustedProxies)
			if want := "[10.0.0.0/8 192.168.1.7/32 2001:db8::/32 fd00::1/128 10.1.0.0/16]"; got != want {
				t.Errorf("TrustedProxies = %s, want %s", got, want)
			}
		}},
		{name: "trusted proxy not an address", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8 lb.internal"}, wantErr: "TRUSTED_PROXIES"},
		{name: "trusted proxy bad prefix length", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, wantErr: "TRUSTED_PROXIES"},
		{name: "trusted proxy with a zone", env: map[string]string{"TRUSTED_PROXIES": "fe80::1%eth0"}, wantErr: "TRUSTED_PROXIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(env(tt.env))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("loadConfig succeeded, want an error naming %s", tt.wantErr)
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "config: "+tt.wantErr+": ") || strings.Contains(msg, "\n") {
					t.Fatalf("error %q: want one line naming %s", msg, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestEnsureLocalSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	load := func(out *bytes.Buffer) config {
		t.Helper()
		c, err := loadConfig(env(map[string]string{"DATA_DIR": dir}))
		if err != nil {
			t.Fatal(err)
		}
		if err := ensureLocalSecrets(&c, out); err != nil {
			t.Fatal(err)
		}
		return c
	}
	var first, second bytes.Buffer
	c1 := load(&first)
	c2 := load(&second)
	if c1.AppID == "" || c1.AppSecret == "" || len(c1.EncryptionKey) != 32 || c1.SigningKey != c1.AppSecret {
		t.Fatalf("generated config = %+v", c1)
	}
	if c1.AppID != c2.AppID || c1.AppSecret != c2.AppSecret || !bytes.Equal(c1.EncryptionKey, c2.EncryptionKey) {
		t.Fatal("a restart generated new secrets: what was stored would become unreadable")
	}
	if !strings.Contains(first.String(), c1.AppSecret) {
		t.Fatalf("first start did not print the credentials: %q", first.String())
	}
	if second.Len() != 0 {
		t.Fatalf("second start printed %q; credentials are printed once", second.String())
	}
	info, err := os.Stat(filepath.Join(dir, localSecretsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v, mode %v; want 0600", err, info.Mode())
	}
}

// TestNoGeneratedKeyOutsideDevelopmentMode: with App credentials nothing is generated into
// DATA_DIR, whatever the store: the key comes from ENCRYPTION_KEY, not from beside the data.
func TestNoGeneratedKeyOutsideDevelopmentMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := loadConfig(env(map[string]string{"DATA_DIR": dir, "ZENVIA_APP_ID": "id", "ZENVIA_APP_SECRET": "s",
		"ENCRYPTION_KEY": secret.NewKey(), "PUBLIC_BASE_URL": "https://app.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	key := c.EncryptionKey
	var out bytes.Buffer
	if err := ensureLocalSecrets(&c, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, localSecretsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s outside development mode: %v; want none", localSecretsFile, err)
	}
	if !bytes.Equal(c.EncryptionKey, key) || c.AppID != "id" || out.Len() != 0 {
		t.Errorf("ensureLocalSecrets changed the configuration or printed %q", out.String())
	}
}

// TestLocalSecretsOfProcessesStartingAtOnce: development runs starting together on a fresh
// DATA_DIR (all but one then stop at the store's lock) agree on one set of secrets, the one
// the file keeps, and only the one that made it prints it: none goes on with a key the file
// does not hold. Rounds of several at once, released together, to make the race likely.
func TestLocalSecretsOfProcessesStartingAtOnce(t *testing.T) {
	t.Parallel()
	const rounds, n = 20, 8
	for round := range rounds {
		dir := t.TempDir()
		configs := make([]config, n)
		outs := make([]bytes.Buffer, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c, err := loadConfig(env(map[string]string{"DATA_DIR": dir}))
				<-start
				if err == nil {
					err = ensureLocalSecrets(&c, &outs[i])
				}
				if err != nil {
					t.Error(err)
				}
				configs[i] = c
			})
		}
		close(start)
		wg.Wait()
		again, err := loadConfig(env(map[string]string{"DATA_DIR": dir}))
		if err != nil {
			t.Fatal(err)
		}
		var none bytes.Buffer
		if err := ensureLocalSecrets(&again, &none); err != nil {
			t.Fatal(err)
		}
		printed := 0
		for i, c := range configs {
			if c.AppID != again.AppID || c.AppSecret != again.AppSecret || !bytes.Equal(c.EncryptionKey, again.EncryptionKey) {
				t.Fatalf("round %d: run %d went on with secrets the file does not keep", round, i)
			}
			if outs[i].Len() > 0 {
				printed++
			}
		}
		if printed != 1 {
			t.Fatalf("round %d: %d runs printed credentials, want 1", round, printed)
		}
	}
}
