package app_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

// Hooks arriving out of order: Sales retries, and its calls may overtake each other. Each
// test checks what the contract answers and that the state stays what the hooks that were
// accepted made it. TestHooksRefuseDeadAPIKeys covers the 401 of every hook on a dead key;
// TestUninstallAndReinstall a second uninstall and a reinstall.

// completeSettings is a settings update that makes the settings complete.
var completeSettings = `{"clientId":"` + stClientID + `","clientSecret":"` + stClientSecret + `","userIdentifier":"` + stUser +
	`","assistantEmail":"` + seventargetsfake.SeedAssistantEmail + `"}`

// mustStatus fails unless res has status want.
func mustStatus(tb testing.TB, what string, res response, want int) {
	tb.Helper()
	if res.status != want {
		tb.Fatalf("%s: status %d, want %d (%s)", what, res.status, want, res.body)
	}
}

// TestHooksBeforeInstall: an instance's hooks that arrive before its install are refused and
// leave nothing behind, not even a call to 7Targets: the install that follows creates the
// instance with the defaults, and the key an early refresh named stays unbound.
func TestHooksBeforeInstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t)
	const key, early = "key-early-0000001", "key-early-0000002"
	integ := e.sales.AddIntegration(key, sales.Integration{})

	for _, r := range []request{
		{method: "PUT", path: "/lifecycle/settings", body: completeSettings},
		{method: "PUT", path: "/lifecycle/enabled", body: `{"enabled":false}`},
		{method: "PUT", path: "/lifecycle/api-key", body: `{"newApiKey":"` + early + `"}`},
		{method: "GET", path: "/lifecycle/settings"},
		{method: "DELETE", path: "/lifecycle/uninstall"},
	} {
		r.apiKey = key
		res := e.do(r)
		mustStatus(t, r.method+" "+r.path+" before install", res, http.StatusUnauthorized)
		if code, _ := res.errorCode(t); code != "unauthorized" {
			t.Errorf("%s %s before install: code %q", r.method, r.path, code)
		}
	}
	if live, err := e.instances.LiveInstances(ctx); err != nil || len(live) != 0 {
		t.Fatalf("hooks before install left %d instances, %v", len(live), err)
	}
	if n := e.st.TokenRequests(); n != 0 {
		t.Errorf("a settings update before install asked 7Targets for %d tokens", n)
	}

	e.install(key) // 201: nothing was created before
	in := e.instance(key)
	if in.State != zen7.StateEnabled || in.Settings != zen7.DefaultSettings() || in.Subscription.ID != "" {
		t.Fatalf("installed after early hooks: state %s, settings %+v, subscription %q; want a fresh instance", in.State, in.Settings, in.Subscription.ID)
	}
	if _, ok := e.sales.ActiveSubscription(integ.GroupID); ok {
		t.Error("an early settings update subscribed the group")
	}
	if _, err := e.instances.InstanceByAPIKey(ctx, early); !errors.Is(err, zen7.ErrNotFound) {
		t.Errorf("the key an early refresh named: %v, want it unbound", err)
	}
	trail, err := e.instances.AuditTrail(ctx, in.ID)
	if err != nil || len(trail) != 1 || trail[0].Hook != lifecycle.HookInstall {
		t.Errorf("audit trail of the new instance = %+v, %v; want the install alone", trail, err)
	}

	// In order now, the same hooks work.
	e.configure(key)
	if _, ok := e.sales.ActiveSubscription(integ.GroupID); !ok {
		t.Error("complete settings after install did not subscribe")
	}
}

// TestEnableBeforeSettingsComplete: enabling an instance whose settings are incomplete is
// accepted, but nothing is subscribed until the settings are complete; completing them
// subscribes at once, and only an enabled instance is subscribed.
func TestEnableBeforeSettingsComplete(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const key = "key-enable-early-1"
	integ := e.sales.AddIntegration(key, sales.Integration{})
	if res := e.do(request{method: "POST", path: "/lifecycle/install", body: `{"integration":{"apiKey":"` + key + `","enabled":false}}`}); res.status != http.StatusCreated {
		t.Fatalf("install: %d %s", res.status, res.body)
	}
	subscribed := func() bool {
		_, ok := e.sales.ActiveSubscription(integ.GroupID)
		return ok
	}

	steps := []struct {
		name      string
		req       request
		wantState zen7.State
		wantSub   bool
	}{
		{name: "enable with no settings", req: request{method: "PUT", path: "/lifecycle/enabled", body: `{"enabled":true}`}, wantState: zen7.StateEnabled},
		{name: "credentials only", req: request{method: "PUT", path: "/lifecycle/settings", body: `{"clientId":"` + stClientID + `","clientSecret":"` + stClientSecret + `"}`}, wantState: zen7.StateEnabled},
		{name: "settings completed", req: request{method: "PUT", path: "/lifecycle/settings", body: `{"userIdentifier":"` + stUser + `","assistantEmail":"` + seventargetsfake.SeedAssistantEmail + `"}`}, wantState: zen7.StateEnabled, wantSub: true},
		{name: "disable", req: request{method: "PUT", path: "/lifecycle/enabled", body: `{"enabled":false}`}, wantState: zen7.StateDisabled},
		{name: "settings changed while disabled", req: request{method: "PUT", path: "/lifecycle/settings", body: `{"scheduleName":"Warm"}`}, wantState: zen7.StateDisabled},
		{name: "enable again", req: request{method: "PUT", path: "/lifecycle/enabled", body: `{"enabled":true}`}, wantState: zen7.StateEnabled, wantSub: true},
	}
	for _, s := range steps {
		s.req.apiKey = key
		mustStatus(t, s.name, e.do(s.req), http.StatusOK)
		in := e.instance(key)
		if in.State != s.wantState || subscribed() != s.wantSub || (in.Subscription.ID != "") != s.wantSub {
			t.Fatalf("after %s: state %s, subscribed at Sales %v, recorded %q; want %s, subscribed %v",
				s.name, in.State, subscribed(), in.Subscription.ID, s.wantState, s.wantSub)
		}
	}
}

// TestLateHooksAfterUninstall: hooks that arrive after the uninstall (Sales retrying them, or
// delivering them late) are refused and change nothing: the record stays uninstalled with its
// secrets wiped, no subscription comes back, the old webhook URL stays refused, and a key
// named by a late refresh stays unbound. A reinstall does not revive the old webhook either.
func TestLateHooksAfterUninstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t)
	in := e.setupForwarding("key-late-hooks-01", "")
	sub, _ := e.sales.ActiveSubscription(in.groupID)
	mustStatus(t, "uninstall", e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: in.key}), http.StatusOK)
	gone, err := e.instances.Instance(ctx, in.id)
	if err != nil {
		t.Fatal(err)
	}

	for _, r := range []request{
		{method: "PUT", path: "/lifecycle/enabled", body: `{"enabled":false}`},
		{method: "PUT", path: "/lifecycle/enabled", body: `{"enabled":true}`},
		{method: "PUT", path: "/lifecycle/settings", body: `{"clientId":"` + stClientID + `","clientSecret":"late-secret-000001"}`},
		{method: "PUT", path: "/lifecycle/api-key", body: `{"newApiKey":"key-late-hooks-02"}`},
		{method: "DELETE", path: "/lifecycle/uninstall"},
	} {
		r.apiKey = in.key
		mustStatus(t, r.method+" "+r.path+" after uninstall", e.do(r), http.StatusUnauthorized)
	}
	after, err := e.instances.Instance(ctx, in.id)
	if err != nil || after.Version != gone.Version || after.State != zen7.StateUninstalled ||
		after.APIKey != "" || after.Settings.ClientSecret != "" || after.Subscription.ID != "" {
		t.Fatalf("late hooks changed the uninstalled instance: version %d -> %d, state %s, key wiped %v, secret wiped %v, subscription %q (%v)",
			gone.Version, after.Version, after.State, after.APIKey == "", after.Settings.ClientSecret == "", after.Subscription.ID, err)
	}
	if _, ok := e.sales.ActiveSubscription(in.groupID); ok {
		t.Error("a late hook subscribed the uninstalled instance again")
	}
	if _, err := e.instances.InstanceByAPIKey(ctx, "key-late-hooks-02"); !errors.Is(err, zen7.ErrNotFound) {
		t.Errorf("the key a late refresh named: %v, want it unbound", err)
	}
	if s := postWebhook(t, sub.CallbackURL); s != http.StatusUnauthorized {
		t.Errorf("old webhook URL after uninstall: %d, want 401", s)
	}

	// Installed again and configured: a new instance, a new subscription, the old URL dead.
	e.install(in.key)
	e.configure(in.key)
	fresh := e.instance(in.key)
	resub, ok := e.sales.ActiveSubscription(in.groupID)
	if fresh.ID == in.id || !ok || !strings.Contains(resub.CallbackURL, "/webhooks/sales/"+fresh.ID+"?") {
		t.Fatalf("reinstall: instance %s (old %s), subscription %v to %q", fresh.ID, in.id, ok, resub.CallbackURL)
	}
	if s := postWebhook(t, sub.CallbackURL); s != http.StatusUnauthorized {
		t.Errorf("old webhook URL after reinstall: %d, want 401", s)
	}
	if s := postWebhook(t, resub.CallbackURL); s != http.StatusOK {
		t.Errorf("new webhook URL: %d, want 200", s)
	}
}

// postWebhook posts one prospects notification to url and returns the status.
func postWebhook(tb testing.TB, url string) int {
	tb.Helper()
	body := `{"topic":"prospects","type":"created","prospect":[{"id":"late00000000000000000001","firstName":"A","emails":["a@example.com"],"status":"new"}]}`
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestRefreshOutOfOrder: Sales refreshes the key on its side, then calls the hook. A hook
// with the new key that overtakes the refresh is refused and changes nothing; a repeat of the
// refresh carries the old key and is refused, the new key still working; refreshing to the
// same key changes nothing; refreshing back to the old key works, its old binding being free.
func TestRefreshOutOfOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const k1, k2 = "key-order-refresh-1", "key-order-refresh-2"
	in := e.setupForwarding(k1, "")
	e.sales.RefreshKey(k1, k2)

	mustStatus(t, "settings update with the new key before the refresh",
		e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: k2, body: `{"scheduleName":"Too early"}`}), http.StatusUnauthorized)
	refresh := func(old, next string) response {
		return e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: old, body: `{"newApiKey":"` + next + `"}`})
	}
	mustStatus(t, "refresh", refresh(k1, k2), http.StatusOK)
	mustStatus(t, "the refresh repeated", refresh(k1, k2), http.StatusUnauthorized)
	got := e.instance(k2)
	if got.ID != in.id || got.Settings.ScheduleName != "" {
		t.Fatalf("after the refresh and its repeat: instance %s (want %s), scheduleName %q", got.ID, in.id, got.Settings.ScheduleName)
	}
	mustStatus(t, "settings update with the new key after the refresh",
		e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: k2, body: `{"scheduleName":"On time"}`}), http.StatusOK)

	mustStatus(t, "refresh to the same key", refresh(k2, k2), http.StatusOK)
	if again := e.instance(k2); again.ID != in.id || again.Settings.ScheduleName != "On time" {
		t.Fatalf("refresh to the same key: instance %s, settings %+v", again.ID, again.Settings)
	}

	e.sales.RefreshKey(k2, k1)
	mustStatus(t, "refresh back to the first key", refresh(k2, k1), http.StatusOK)
	mustStatus(t, "the second key after refreshing back", e.do(request{method: "GET", path: "/lifecycle/settings", apiKey: k2}), http.StatusUnauthorized)
	if back := e.instance(k1); back.ID != in.id || back.APIKey != k1 || back.Settings.ScheduleName != "On time" {
		t.Fatalf("refreshed back: instance %s, settings %+v", back.ID, back.Settings)
	}
	sub, ok := e.sales.ActiveSubscription(in.groupID)
	if !ok || !strings.Contains(sub.CallbackURL, "/webhooks/sales/"+in.id+"?") || e.notify(in, "created", time.Time{}, prospect("order000000000000000001", "new")) != http.StatusOK {
		t.Fatalf("after the refreshes: subscription %v %q, or its webhook refused", ok, sub.CallbackURL)
	}
}

// TestOldKeyUninstallRacingARefresh: an uninstall with the old key that authenticated just
// before a refresh, and reaches the store only after it (held up unsubscribing at Sales), is
// refused: the refresh won, and the instance lives on under the new key. Whatever the order,
// exactly one of the two succeeds and the state is the winner's.
func TestOldKeyUninstallRacingARefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t)
	const k1, k2 = "key-race-uninst-1", "key-race-uninst-2"
	in := e.setupForwarding(k1, "")
	sub, _ := e.sales.ActiveSubscription(in.groupID)

	// Sales answers the unsubscribe late (past the App's client timeout), holding the
	// uninstall between its authentication and its write.
	e.sales.SetLatency(3 * time.Second)
	uninstalled := make(chan response, 1)
	go func() {
		uninstalled <- e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: k1})
	}()
	eventually(t, "the uninstall to unsubscribe at Sales", func() bool {
		return e.sales.Count("DELETE", "/notifications/subscription/"+sub.ID) > 0
	})
	e.sales.SetLatency(0)
	e.sales.RefreshKey(k1, k2)
	refreshed := e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: k1, body: `{"newApiKey":"` + k2 + `"}`})
	un := <-uninstalled

	if (un.status == http.StatusOK) == (refreshed.status == http.StatusOK) {
		t.Fatalf("uninstall answered %d and refresh %d: want exactly one to succeed", un.status, refreshed.status)
	}
	if err := e.subscriber.Repair(ctx, true); err != nil {
		t.Logf("subscription repair: %v", err)
	}
	final, err := e.instances.Instance(ctx, in.id)
	if err != nil {
		t.Fatal(err)
	}
	_, k1Err := e.instances.InstanceByAPIKey(ctx, k1)
	_, k2Err := e.instances.InstanceByAPIKey(ctx, k2)
	_, subscribed := e.sales.ActiveSubscription(in.groupID)
	if refreshed.status == http.StatusOK {
		if un.status != http.StatusUnauthorized || final.State != zen7.StateEnabled || final.APIKey != k2 || k2Err != nil || k1Err == nil || !subscribed {
			t.Fatalf("refresh won: uninstall %d, state %s, new key bound %v, old key bound %v, subscribed %v",
				un.status, final.State, k2Err == nil, k1Err == nil, subscribed)
		}
		return
	}
	t.Logf("the uninstall reached the store first (refresh answered %d)", refreshed.status)
	if refreshed.status != http.StatusUnauthorized || final.State != zen7.StateUninstalled || final.APIKey != "" || k1Err == nil || k2Err == nil || subscribed {
		t.Fatalf("uninstall won: refresh %d, state %s, old key bound %v, new key bound %v, subscribed %v",
			refreshed.status, final.State, k1Err == nil, k2Err == nil, subscribed)
	}
}

// TestOldKeySettingsUpdateRacingARefresh: a settings update with the old key that
// authenticated before a refresh, and is still checking its new credentials with 7Targets when
// the refresh completes, is refused once it reaches the store: its change lands neither on
// the instance under the new key nor anywhere else.
func TestOldKeySettingsUpdateRacingARefresh(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const k1, k2 = "key-race-settings-1", "key-race-settings-2"
	e.install(k1)
	e.configure(k1)
	e.st.AddClient("st-client-2", "st-client-secret-2", stUser)

	// 7Targets answers the credentials check after a second (within the App's timeout),
	// holding the update between its authentication and its write.
	const hold = time.Second
	e.st.SetLatency(hold)
	tokens := e.st.TokenRequests()
	updated := make(chan response, 1)
	go func() {
		updated <- e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: k1,
			body: `{"clientId":"st-client-2","clientSecret":"st-client-secret-2","scheduleName":"Too late"}`})
	}()
	eventually(t, "the update to check its credentials", func() bool { return e.st.TokenRequests() > tokens })
	start := time.Now()
	e.st.SetLatency(0)
	mustStatus(t, "refresh", e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: k1, body: `{"newApiKey":"` + k2 + `"}`}), http.StatusOK)
	refreshedWithinHold := time.Since(start) < hold*8/10
	res := <-updated

	got := e.instance(k2)
	switch {
	case res.status == http.StatusUnauthorized:
		if got.Settings.ClientID != stClientID || got.Settings.ScheduleName != "" {
			t.Fatalf("the refused update changed the settings: %+v", got.Settings)
		}
	case !refreshedWithinHold && res.status == http.StatusOK:
		t.Logf("the machine was too slow to hold the update past the refresh; it landed first")
		if got.Settings.ClientID != "st-client-2" || got.Settings.ScheduleName != "Too late" {
			t.Fatalf("the update answered 200 but the settings are %+v", got.Settings)
		}
	default:
		t.Fatalf("update with the old key after the refresh: %d %s, want 401", res.status, res.body)
	}
}
