package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
)

func TestInstall(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.install("key-existing-0001")

	big := `{"integration":{"apiKey":"` + strings.Repeat("k", 2<<20) + `"}}`
	tests := []struct {
		name      string
		req       request
		want      int
		wantCode  string
		wantField string
	}{
		{name: "basic credentials", req: request{body: `{"integration":{"apiKey":"key-new-basic-0001","enabled":true}}`}, want: 201},
		{name: "credentials in body", req: request{noAuth: true, body: `{"appId":"` + appID + `","appSecret":"` + appSecret + `","integration":{"apiKey":"key-new-body-0001","enabled":false}}`}, want: 201},
		{name: "same key again", req: request{body: `{"integration":{"apiKey":"key-existing-0001","enabled":true}}`}, want: 200},
		{name: "wrong basic secret", req: request{user: appID, pass: "nope", body: `{"integration":{"apiKey":"key-x-0000000001"}}`}, want: 401, wantCode: "unauthorized"},
		{name: "wrong basic id", req: request{user: "other", pass: appSecret, body: `{"integration":{"apiKey":"key-x-0000000002"}}`}, want: 401, wantCode: "unauthorized"},
		{name: "wrong body secret", req: request{noAuth: true, body: `{"appId":"` + appID + `","appSecret":"x","integration":{"apiKey":"key-x-0000000003"}}`}, want: 401, wantCode: "unauthorized"},
		{name: "no credentials", req: request{noAuth: true, body: `{"integration":{"apiKey":"key-x-0000000004"}}`}, want: 401, wantCode: "unauthorized"},
		{name: "no credentials malformed", req: request{noAuth: true, body: `{"integration":`}, want: 401, wantCode: "unauthorized"},
		{name: "no credentials, not JSON", req: request{noAuth: true, body: `apiKey=k`, contentType: "text/plain"}, want: 401, wantCode: "unauthorized"},
		{name: "no credentials, wrong type", req: request{noAuth: true, body: `{"appId":1,"integration":{"apiKey":"key-x-0000000006"}}`}, want: 401, wantCode: "unauthorized"},
		{name: "missing api key", req: request{body: `{"integration":{}}`}, want: 422, wantCode: "invalid", wantField: "integration.apiKey"},
		{name: "api key with spaces", req: request{body: `{"integration":{"apiKey":"a b"}}`}, want: 422, wantCode: "invalid", wantField: "integration.apiKey"},
		{name: "enabled of wrong type", req: request{body: `{"integration":{"apiKey":"key-x-0000000005","enabled":"yes"}}`}, want: 422, wantCode: "invalid", wantField: "integration.enabled"},
		{name: "malformed JSON", req: request{body: `{"integration":`}, want: 400, wantCode: "malformed_json"},
		{name: "array body", req: request{body: `[1,2]`}, want: 400, wantCode: "malformed_json"},
		{name: "not JSON", req: request{body: `apiKey=k`, contentType: "application/x-www-form-urlencoded"}, want: 415, wantCode: "unsupported_media_type"},
		{name: "body over 1 MiB", req: request{body: big}, want: 413, wantCode: "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.method, tt.req.path = "POST", "/lifecycle/install"
			res := e.do(tt.req)
			if res.status != tt.want {
				t.Fatalf("status = %d, want %d (%s)", res.status, tt.want, res.body)
			}
			if tt.wantCode == "" {
				if got := res.json(t); got["success"] != true {
					t.Fatalf("body = %s, want success", res.body)
				}
				return
			}
			code, fields := res.errorCode(t)
			if code != tt.wantCode {
				t.Fatalf("code = %q, want %q", code, tt.wantCode)
			}
			if tt.wantField != "" && fields[tt.wantField] == nil {
				t.Fatalf("fields = %v, want one for %s", fields, tt.wantField)
			}
		})
	}

	if in := e.instance("key-new-body-0001"); in.State != zen7.StateDisabled {
		t.Errorf("installed with enabled=false: state %s", in.State)
	}
	if in := e.instance("key-new-basic-0001"); in.State != zen7.StateEnabled {
		t.Errorf("installed with enabled=true: state %s", in.State)
	}
	for _, key := range []string{"key-x-0000000001", "key-x-0000000002", "key-x-0000000003", "key-x-0000000004", "key-x-0000000005"} {
		if _, err := e.instances.InstanceByAPIKey(context.Background(), key); err == nil {
			t.Errorf("refused install of %s created an instance", key)
		}
	}
	e.assertNoSecrets("key-existing-0001", "key-new-basic-0001", "key-new-body-0001")
}

func TestInstallIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.install("key-idem-000001")
	first := e.instance("key-idem-000001")
	res := e.do(request{method: "POST", path: "/lifecycle/install", body: `{"integration":{"apiKey":"key-idem-000001","enabled":false}}`})
	if res.status != http.StatusOK {
		t.Fatalf("reinstall: %d %s", res.status, res.body)
	}
	again := e.instance("key-idem-000001")
	if again.ID != first.ID || again.Version != first.Version || again.State != first.State {
		t.Fatalf("a repeated install changed the instance: %+v -> %+v", first, again)
	}
}

func TestConcurrentInstallsOfOneKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	statuses := make(chan int, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			statuses <- e.do(request{method: "POST", path: "/lifecycle/install", body: `{"integration":{"apiKey":"key-race-000001","enabled":true}}`}).status
		})
	}
	wg.Wait()
	close(statuses)
	created := 0
	for s := range statuses {
		switch s {
		case 201:
			created++
		case 200:
		default:
			t.Errorf("status %d", s)
		}
	}
	if created != 1 {
		t.Fatalf("%d installs answered 201, want exactly 1", created)
	}
}

// apiKeyHooks are the hooks that name their instance by api-key.
var apiKeyHooks = []struct {
	name, method, path, body string
}{
	{"settings form", "GET", "/lifecycle/settings/form", ""},
	{"read settings", "GET", "/lifecycle/settings", ""},
	{"update settings", "PUT", "/lifecycle/settings", `{"autoForward":false}`},
	{"enable", "PUT", "/lifecycle/enabled", `{"enabled":false}`},
	{"refresh key", "PUT", "/lifecycle/api-key", `{"newApiKey":"key-refreshed-zz01"}`},
	{"uninstall", "DELETE", "/lifecycle/uninstall", ""},
}

func TestHooksRefuseWrongAppCredentials(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.install("key-auth-0000001")
	before := e.instance("key-auth-0000001")

	for _, hook := range apiKeyHooks {
		for _, creds := range []struct {
			name       string
			noAuth     bool
			user, pass string
		}{
			{name: "missing", noAuth: true},
			{name: "wrong secret", user: appID, pass: appSecret + "x"},
			{name: "wrong id", user: "x" + appID, pass: appSecret},
			{name: "secret prefix", user: appID, pass: appSecret[:5]},
		} {
			t.Run(hook.name+"/"+creds.name, func(t *testing.T) {
				res := e.do(request{method: hook.method, path: hook.path, apiKey: "key-auth-0000001", body: hook.body,
					noAuth: creds.noAuth, user: creds.user, pass: creds.pass})
				if res.status != http.StatusUnauthorized {
					t.Fatalf("status = %d, want 401 (%s)", res.status, res.body)
				}
				if code, _ := res.errorCode(t); code != "unauthorized" {
					t.Fatalf("code = %q", code)
				}
			})
		}
	}
	after := e.instance("key-auth-0000001")
	if after.Version != before.Version || after.State != before.State || after.Settings != before.Settings {
		t.Fatalf("refused calls changed the instance: %+v -> %+v", before, after)
	}
}

func TestHooksRefuseDeadAPIKeys(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.install("key-old-00000001")
	if res := e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: "key-old-00000001", body: `{"newApiKey":"key-new-00000001"}`}); res.status != 200 {
		t.Fatalf("refresh: %d %s", res.status, res.body)
	}
	e.install("key-gone-0000001")
	if res := e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: "key-gone-0000001"}); res.status != 200 {
		t.Fatalf("uninstall: %d %s", res.status, res.body)
	}

	for _, hook := range apiKeyHooks {
		for _, key := range []struct{ name, key string }{
			{"missing", ""},
			{"unknown", "key-never-000001"},
			{"refreshed away", "key-old-00000001"},
			{"uninstalled", "key-gone-0000001"},
		} {
			t.Run(hook.name+"/"+key.name, func(t *testing.T) {
				res := e.do(request{method: hook.method, path: hook.path, apiKey: key.key, body: hook.body})
				if res.status != http.StatusUnauthorized {
					t.Fatalf("status = %d, want 401 (%s)", res.status, res.body)
				}
			})
		}
	}
	if got := e.settings("key-new-00000001"); got["autoForward"] != true {
		t.Fatalf("a refused update changed the live instance: %v", got)
	}
}

func TestSettingsForm(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.install("key-form-0000001")
	res := e.do(request{method: "GET", path: "/lifecycle/settings/form", apiKey: "key-form-0000001"})
	if res.status != 200 {
		t.Fatalf("form: %d %s", res.status, res.body)
	}
	var names []string
	form := res.json(t)
	if title := form["title"].(map[string]any); title["en"] == "" || title["es"] == "" || title["pt"] == "" {
		t.Fatalf("title not localized: %v", title)
	}
	for _, s := range form["sections"].([]any) {
		for _, in := range s.(map[string]any)["inputs"].([]any) {
			input := in.(map[string]any)
			names = append(names, input["name"].(string))
			if input["type"] == "" || input["label"].(map[string]any)["pt"] == "" {
				t.Errorf("input %v lacks a type or a localized label", input)
			}
		}
	}
	settings := e.settings("key-form-0000001")
	if len(names) != len(settings) {
		t.Fatalf("form inputs %v, settings keys %v: want the same names", names, settings)
	}
	for _, n := range names {
		if _, ok := settings[n]; !ok {
			t.Errorf("form input %q is not a settings key", n)
		}
	}
}

func TestUpdateSettings(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const key = "key-settings-0001"
	e.install(key)

	valid := `{"clientId":"` + stClientID + `","clientSecret":"` + stClientSecret + `","userIdentifier":"` + stUser + `","assistantEmail":"ashley@7targets.test"}`
	tests := []struct {
		name       string
		body       string
		stDown     bool
		want       int
		wantField  string
		wantTokens int // token requests this update makes to 7Targets
		check      func(t *testing.T, got map[string]any)
	}{
		{name: "rejected credentials", body: `{"clientId":"` + stClientID + `","clientSecret":"wrong-secret"}`, want: 422, wantField: "clientSecret", wantTokens: 1},
		{name: "7Targets unreachable", body: valid, stDown: true, want: 502, wantTokens: 1},
		{name: "valid credentials", body: valid, want: 200, wantTokens: 2 /* the check, then the listing of assistants */, check: func(t *testing.T, got map[string]any) {
			if got["clientId"] != stClientID || got["clientSecret"] != zen7.SecretMask || got["assistantEmail"] != "ashley@7targets.test" {
				t.Errorf("settings = %v", got)
			}
		}},
		{name: "partial update merges", body: `{"autoForward":false,"scheduleName":"Warm leads"}`, want: 200, check: func(t *testing.T, got map[string]any) {
			if got["autoForward"] != false || got["scheduleName"] != "Warm leads" || got["clientId"] != stClientID || got["stopFollowupOnClaim"] != true {
				t.Errorf("settings = %v: want merged", got)
			}
		}},
		{name: "masked secret sent back keeps it", body: `{"clientId":"` + stClientID + `","clientSecret":"` + zen7.SecretMask + `","source":"Zenvia"}`, want: 200, check: func(t *testing.T, got map[string]any) {
			if got["clientSecret"] != zen7.SecretMask || got["source"] != "Zenvia" {
				t.Errorf("settings = %v", got)
			}
		}},
		{name: "operator key", body: `{"$where":"1"}`, want: 422, wantField: "$where"},
		{name: "dotted key", body: `{"a.b":"x"}`, want: 422, wantField: "a.b"},
		{name: "nested operator in dotted key", body: `{"settings.clientId":"x"}`, want: 422, wantField: "settings.clientId"},
		{name: "unknown key", body: `{"color":"blue"}`, want: 422, wantField: "color"},
		{name: "wrong type", body: `{"autoForward":"yes"}`, want: 422, wantField: "autoForward"},
		{name: "invalid email", body: `{"assistantEmail":"not-an-email"}`, want: 422, wantField: "assistantEmail"},
		{name: "client id with spaces", body: `{"clientId":"a b"}`, want: 422, wantField: "clientId"},
		{name: "invalid UTF-8", body: "{\"scheduleName\":\"Warm \xff leads\"}", want: 422, wantField: "scheduleName"},
		{name: "malformed", body: `{"autoForward":`, want: 400},
		{name: "array", body: `[]`, want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.instance(key)
			tokens := e.st.TokenRequests()
			e.st.SetDown(tt.stDown)
			defer e.st.SetDown(false)

			res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: key, body: tt.body})
			if res.status != tt.want {
				t.Fatalf("status = %d, want %d (%s)", res.status, tt.want, res.body)
			}
			if got := e.st.TokenRequests() - tokens; got != tt.wantTokens {
				t.Errorf("token requests = %d, want %d", got, tt.wantTokens)
			}
			if tt.want != 200 {
				if _, fields := res.errorCode(t); tt.wantField != "" && fields[tt.wantField] == nil {
					t.Errorf("fields = %v, want one for %q", fields, tt.wantField)
				}
				if after := e.instance(key); after.Settings != before.Settings {
					t.Errorf("a refused update changed the settings: %+v -> %+v", before.Settings, after.Settings)
				}
				return
			}
			got := res.json(t)
			tt.check(t, got)
			if read := e.settings(key); fmt.Sprint(read) != fmt.Sprint(got) {
				t.Errorf("read after update = %v, want what the update answered %v", read, got)
			}
		})
	}
	if in := e.instance(key); in.Settings.ClientSecret != stClientSecret {
		t.Errorf("stored secret = %q after mask round trip", in.Settings.ClientSecret)
	}
	e.assertNoSecrets(key)
}

func TestEnabled(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const key = "key-enabled-0001"
	e.install(key)
	tests := []struct {
		name, body string
		want       int
		wantState  zen7.State
	}{
		{name: "disable", body: `{"enabled":false}`, want: 200, wantState: zen7.StateDisabled},
		{name: "disable again", body: `{"enabled":false}`, want: 200, wantState: zen7.StateDisabled},
		{name: "enable", body: `{"enabled":true}`, want: 200, wantState: zen7.StateEnabled},
		{name: "missing field", body: `{}`, want: 422, wantState: zen7.StateEnabled},
		{name: "wrong type", body: `{"enabled":"no"}`, want: 422, wantState: zen7.StateEnabled},
		{name: "no body", body: ``, want: 400, wantState: zen7.StateEnabled},
	}
	for _, tt := range tests {
		res := e.do(request{method: "PUT", path: "/lifecycle/enabled", apiKey: key, body: tt.body})
		if res.status != tt.want {
			t.Fatalf("%s: status = %d, want %d (%s)", tt.name, res.status, tt.want, res.body)
		}
		if tt.want == 200 && res.json(t)["enabled"] != (tt.wantState == zen7.StateEnabled) {
			t.Fatalf("%s: body %s", tt.name, res.body)
		}
		if got := e.instance(key).State; got != tt.wantState {
			t.Fatalf("%s: state = %s, want %s", tt.name, got, tt.wantState)
		}
	}
}

func TestAPIKeyRefresh(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.install("key-refresh-0001")
	e.install("key-other-000001")
	e.configure("key-refresh-0001")

	tests := []struct {
		name, apiKey, body string
		want               int
	}{
		{name: "empty new key", apiKey: "key-refresh-0001", body: `{"newApiKey":""}`, want: 422},
		{name: "another instance's key", apiKey: "key-refresh-0001", body: `{"newApiKey":"key-other-000001"}`, want: 409},
		{name: "refresh", apiKey: "key-refresh-0001", body: `{"newApiKey":"key-refresh-0002"}`, want: 200},
		{name: "old key stops at once", apiKey: "key-refresh-0001", body: `{"newApiKey":"key-refresh-0003"}`, want: 401},
	}
	for _, tt := range tests {
		res := e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: tt.apiKey, body: tt.body})
		if res.status != tt.want {
			t.Fatalf("%s: status = %d, want %d (%s)", tt.name, res.status, tt.want, res.body)
		}
	}
	in := e.instance("key-refresh-0002")
	if in.APIKey != "key-refresh-0002" || in.Settings.ClientSecret != stClientSecret {
		t.Fatalf("after refresh: key %q, settings kept %v", in.APIKey, in.Settings.ClientSecret == stClientSecret)
	}
	if other := e.instance("key-other-000001"); other.ID == in.ID {
		t.Fatal("the other instance lost its key")
	}
	e.assertNoSecrets("key-refresh-0001", "key-refresh-0002", "key-other-000001")
}

func TestUninstallAndReinstall(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const key = "key-uninstall-001"
	e.install(key)
	e.configure(key)
	old := e.instance(key)

	if res := e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: key}); res.status != 200 || res.json(t)["success"] != true {
		t.Fatalf("uninstall: %d %s", res.status, res.body)
	}
	gone, err := e.instances.Instance(context.Background(), old.ID)
	if err != nil || gone.State != zen7.StateUninstalled || gone.APIKey != "" || gone.Settings.ClientSecret != "" || gone.UninstalledAt.IsZero() {
		t.Fatalf("after uninstall: %+v, %v; want the record kept, marked uninstalled, secrets wiped", gone, err)
	}
	if res := e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: key}); res.status != 401 {
		t.Fatalf("second uninstall: %d, want 401", res.status)
	}

	e.install(key) // 201: a fresh instance
	fresh := e.instance(key)
	if fresh.ID == old.ID || fresh.Settings != zen7.DefaultSettings() {
		t.Fatalf("reinstall reused the old instance or its settings: %+v", fresh)
	}
}

func TestAccountLookedUpAtInstall(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	integ := e.sales.AddIntegration("key-account-0001", sales.Integration{Language: "es"})
	e.install("key-account-0001")
	got := e.instance("key-account-0001").Account
	if got.GroupID != integ.GroupID || got.AccountID != integ.AccountID || got.IntegrationID != integ.ID || got.Language != "es" {
		t.Fatalf("account = %+v, want group %s account %s", got, integ.GroupID, integ.AccountID)
	}

	// Sales down at install: install still succeeds, and the lookup is retried later.
	integ2 := e.sales.AddIntegration("key-account-0002", sales.Integration{})
	e.sales.SetDown(true)
	e.install("key-account-0002")
	if acct := e.instance("key-account-0002").Account; acct.Resolved() {
		t.Fatalf("account resolved while Sales was down: %+v", acct)
	}
	e.sales.SetDown(false)
	if n, err := e.svc.ResolveAccounts(context.Background()); err != nil || n != 1 {
		t.Fatalf("ResolveAccounts = %d, %v; want 1", n, err)
	}
	if acct := e.instance("key-account-0002").Account; acct.GroupID != integ2.GroupID {
		t.Fatalf("account after retry = %+v, want group %s", acct, integ2.GroupID)
	}
	e.assertNoSecrets("key-account-0001", "key-account-0002")
}

func TestConcurrentDisablesAndUninstall(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const key = "key-concurrent-01"
	e.install(key)
	id := e.instance(key).ID

	var wg sync.WaitGroup
	statuses := make([]int, 51)
	for i := range statuses {
		wg.Go(func() {
			if i == 25 {
				statuses[i] = e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: key}).status
				return
			}
			statuses[i] = e.do(request{method: "PUT", path: "/lifecycle/enabled", apiKey: key, body: `{"enabled":false}`}).status
		})
	}
	wg.Wait()
	if statuses[25] != 200 {
		t.Fatalf("uninstall answered %d", statuses[25])
	}
	for i, s := range statuses {
		if s != 200 && s != 401 {
			t.Errorf("call %d answered %d, want 200 or 401", i, s)
		}
	}
	final, err := e.instances.Instance(context.Background(), id)
	if err != nil || final.State != zen7.StateUninstalled || final.APIKey != "" {
		t.Fatalf("final = %+v, %v; want uninstalled with its key wiped", final, err)
	}
	trail, err := e.instances.AuditTrail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	uninstalls := 0
	for _, a := range trail {
		if a.Hook == lifecycle.HookUninstall && a.Outcome == "ok" {
			uninstalls++
		}
	}
	if uninstalls != 1 {
		t.Fatalf("audit trail has %d successful uninstalls, want 1", uninstalls)
	}
}

func TestConcurrentRefreshAndSettingsUpdates(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.install("key-race-a-00001")
	e.configure("key-race-a-00001")

	var wg sync.WaitGroup
	var mu sync.Mutex
	applied := map[string]bool{} // scheduleName values whose update answered 200
	for i := range 20 {
		wg.Go(func() {
			name := fmt.Sprintf("seq-%02d", i)
			res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: "key-race-a-00001", body: `{"scheduleName":"` + name + `"}`})
			switch res.status {
			case 200:
				mu.Lock()
				applied[name] = true
				mu.Unlock()
			case 401:
			default:
				t.Errorf("settings update: %d %s", res.status, res.body)
			}
		})
	}
	wg.Go(func() {
		if res := e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: "key-race-a-00001", body: `{"newApiKey":"key-race-b-00001"}`}); res.status != 200 {
			t.Errorf("refresh: %d %s", res.status, res.body)
		}
	})
	wg.Wait()

	if res := e.do(request{method: "GET", path: "/lifecycle/settings", apiKey: "key-race-a-00001"}); res.status != 401 {
		t.Fatalf("old key after refresh: %d, want 401", res.status)
	}
	in := e.instance("key-race-b-00001")
	if in.Settings.ClientSecret != stClientSecret || in.Settings.ClientID != stClientID {
		t.Fatalf("credentials lost in the race: %+v", in.Settings)
	}
	if len(applied) > 0 && !applied[in.Settings.ScheduleName] {
		t.Fatalf("stored scheduleName %q was not acknowledged by any update (acknowledged: %v)", in.Settings.ScheduleName, applied)
	}
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const key = "key-audit-000001"
	e.install(key)
	id := e.instance(key).ID
	e.do(request{method: "GET", path: "/lifecycle/settings/form", apiKey: key})
	e.settings(key)
	e.configure(key)
	e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: key, body: `{"assistantEmail":"bad"}`})
	e.do(request{method: "PUT", path: "/lifecycle/enabled", apiKey: key, body: `{"enabled":false}`})
	e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: key, body: `{"newApiKey":"key-audit-000002"}`})
	e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: "key-audit-000002"})

	trail, err := e.instances.AuditTrail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range trail {
		got = append(got, a.Hook+":"+a.Outcome)
		if a.At.IsZero() {
			t.Errorf("audit entry without time: %+v", a)
		}
		for _, s := range []string{key, "key-audit-000002", stClientSecret, appSecret} {
			if strings.Contains(a.Detail, s) {
				t.Errorf("audit entry holds a secret: %+v", a)
			}
		}
	}
	want := []string{"install:ok", "settings.form:ok", "settings.read:ok", "settings.update:ok", "settings.update:invalid", "enabled:ok", "api-key.refresh:ok", "uninstall:ok"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit trail = %v, want %v", got, want)
	}
}
