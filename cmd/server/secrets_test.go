package main

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

// TestEntryPointKeepsSecretsOut runs the real entry point with every secret of the
// configuration set (App secret, signing key, encryption key and a previous one), serves a
// few hooks and the operational endpoints, then runs `server rekey`, and scans everything
// printed and every response, /metrics included, for the configuration's secrets and the
// instance's. The app package's TestNoSecretLeaks scans a whole instance life; this adds what
// only the entry point holds: the configuration it logs at start and the keys.
func TestEntryPointKeepsSecretsOut(t *testing.T) {
	t.Parallel()
	salesFake := salesfake.New()
	defer salesFake.Close()
	st := seventargetsfake.New()
	defer st.Close()
	st.Seed()
	const (
		apiKey       = "sales-api-key-entry-secrets-01"
		clientSecret = "Hx5-entry-point-7T-secret-3390"
		appSecret    = "Vb2-entry-point-app-secret-8817"
		signingKey   = "Pw9-entry-point-signing-key-6604"
	)
	st.AddClient("st-id", clientSecret, "st-user")
	salesFake.AddIntegration(apiKey, sales.Integration{})
	environ := map[string]string{
		"PORT": "0", "PUBLIC_BASE_URL": "https://app.example.com", "DATA_DIR": t.TempDir(), "LOG_LEVEL": "debug",
		"ZENVIA_APP_ID": "the-app", "ZENVIA_APP_SECRET": appSecret, "ZENVIA_SIGNING_KEY": signingKey,
		"ENCRYPTION_KEY": secret.NewKey(), "ENCRYPTION_KEY_PREVIOUS": secret.NewKey(),
		"ZENVIA_API_URL": salesFake.BaseURL(), "SEVENTARGETS_API_URL": st.APIURL(), "SEVENTARGETS_TOKEN_URL": st.TokenURL(),
	}
	var printed, bodies lockedBuffer
	base, stop := startServer(t, environ, &printed, &printed)
	send := func(method, path, body, secretForAuth string) int {
		t.Helper()
		status, b := hook(t, "the-app", secretForAuth, method, base+path, body)
		_, _ = bodies.Write(append(b, '\n'))
		return status
	}
	for _, c := range []struct {
		method, path, body, auth string
		want                     int
	}{
		{"POST", "/lifecycle/install", `{"integration":{"apiKey":"` + apiKey + `","enabled":true}}`, appSecret, 201},
		{"PUT", "/lifecycle/settings?api-key=" + apiKey, `{"clientId":"st-id","clientSecret":"` + clientSecret + `","userIdentifier":"st-user","assistantEmail":"ashley@7targets.test"}`, appSecret, 200},
		{"GET", "/lifecycle/settings?api-key=" + apiKey, "", appSecret, 200},
		{"GET", "/lifecycle/settings?api-key=" + apiKey, "", signingKey, 401},
		{"GET", "/extensions/reports/r?group=g&signature=" + signingKey, "", appSecret, 401},
		{"GET", "/readyz", "", appSecret, 200},
		{"GET", "/metrics", "", appSecret, 200},
	} {
		if got := send(c.method, c.path, c.body, c.auth); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, strings.SplitN(c.path, "?", 2)[0], got, c.want)
		}
	}
	stop()
	if err := rekey(context.Background(), env(environ), &printed, &printed); err != nil {
		t.Fatalf("rekey: %v", err)
	}

	out, answered := printed.String(), bodies.String()
	if !strings.Contains(out, `"msg":"serving"`) || !strings.Contains(out, "rekey: ") || !strings.Contains(answered, "http_requests_total") {
		t.Fatalf("the run did not print what the scan looks at:\n%s", out)
	}
	for name, s := range map[string]string{
		"App secret": appSecret, "signing key": signingKey, "ENCRYPTION_KEY": environ["ENCRYPTION_KEY"],
		"ENCRYPTION_KEY_PREVIOUS": environ["ENCRYPTION_KEY_PREVIOUS"], "Sales API key": apiKey, "7Targets client secret": clientSecret,
	} {
		forms := []string{s, url.QueryEscape(s)}
		if key, err := secret.ParseKey(s); err == nil {
			forms = append(forms, string(key)) // an encryption key printed raw
		}
		in := func(text string) bool {
			return slices.ContainsFunc(forms, func(f string) bool { return strings.Contains(text, f) })
		}
		if in(out) {
			t.Errorf("the %s appears in what the process printed", name)
		}
		if in(answered) {
			t.Errorf("the %s appears in a response", name)
		}
	}
}
