package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// The crash tests run every hook against the real store behind a proxy that kills the
// database at the hook's k-th write, for every k: the k-th write is lost, or it lands and the
// process dies before hearing so. A crashed process does nothing more: from that write on,
// every command fails. Then the App restarts (a new Service on the same database), and:
//
//   - the API keys resolve as before the hook or as after it, never to anything in between,
//     and the stored documents hold together (a live instance is bound to its key, an
//     uninstalled one keeps no secret, settings are one version or the other);
//   - Sales repeats the hook, as it does when it hears no answer, and the background repairs
//     run (account lookups, subscription check); then the state is the hook's final one, with
//     the Sales subscription matching it.

const (
	crashKey     = "crash-api-key-000000001"
	crashNewKey  = "crash-api-key-000000002"
	crashBaseURL = "https://app.example.com"
)

var (
	crashSettings = zen7.Settings{
		ClientID: "client-a", ClientSecret: "client-secret-a-0001", UserIdentifier: "user-a",
		AssistantEmail: "ava@example.com", AutoForward: true, StopFollowupOnClaim: true,
	}
	crashSettings2 = zen7.Settings{
		ClientID: "client-b", ClientSecret: "client-secret-b-0002", UserIdentifier: "user-b",
		AssistantEmail: "bo@example.com", ScheduleName: "Warm leads", Source: "Zenvia", AutoForward: false,
	}
)

// crashEnv is one case: a fresh database behind the fault proxy, a fake Sales that knows
// crashKey, and the lifecycle wiring of cmd/server (real store, Sales account lookup, real
// subscriber).
type crashEnv struct {
	db       *store.DB
	faults   *storetest.Faults
	keys     *secret.Keyring
	sales    *salesfake.Server
	salesAPI *sales.Client
	group    string // crashKey's group at Sales

	instances *store.Instances
	subs      *forwarding.Subscriber
	svc       *lifecycle.Service
	id        string // the instance the hook acts on; "" before an install
}

func newCrashEnv(tb testing.TB, srv *storetest.FaultServer) *crashEnv {
	tb.Helper()
	db, faults := srv.NewDB(tb)
	fake := salesfake.New()
	tb.Cleanup(fake.Close)
	client, err := sales.New(fake.BaseURL(), sales.WithTimeout(5*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	integ := fake.AddIntegration(crashKey, sales.Integration{})
	e := &crashEnv{db: db, faults: faults, keys: storetest.NewKeyring(tb), sales: fake, salesAPI: client, group: integ.GroupID}
	e.restart()
	return e
}

// restart wires the lifecycle afresh on the same database, as a process starting after a
// crash does: nothing survives but what was stored.
func (e *crashEnv) restart() {
	logger := slog.New(slog.DiscardHandler)
	e.instances = store.NewInstances(e.db, e.keys)
	e.subs = forwarding.NewSubscriber(e.salesAPI, e.instances, crashBaseURL, logger)
	e.svc = lifecycle.NewService(lifecycle.Config{AppID: testAppID, AppSecret: testAppSecret, AccountLookupTimeout: 5 * time.Second},
		e.instances, lifecycle.SalesAccounts(e.salesAPI), newFakeChecker(), logger)
	e.svc.SetSubscriptions(e.subs)
}

func (e *crashEnv) install(tb testing.TB, enabled bool) {
	tb.Helper()
	if created, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: crashKey, Enabled: &enabled}); err != nil || !created {
		tb.Fatalf("Install = %v, %v", created, err)
	}
}

// installedConfigured is the setup of a hook on an instance installed (enabled or not) and configured
// with crashSettings.
func installedConfigured(enabled bool) func(testing.TB, *crashEnv) {
	return func(tb testing.TB, e *crashEnv) {
		e.install(tb, enabled)
		e.configure(tb, crashSettings)
	}
}

func (e *crashEnv) configure(tb testing.TB, s zen7.Settings) {
	tb.Helper()
	if _, err := e.svc.UpdateSettings(context.Background(), crashKey, patchOf(s)); err != nil {
		tb.Fatalf("UpdateSettings: %v", err)
	}
}

// patchOf is the settings update that sends every key of s, secrets in the clear.
func patchOf(s zen7.Settings) lifecycle.SettingsPatch {
	m := map[string]any{}
	for _, k := range zen7.SettingKeys() {
		m[k.Name] = k.Value(s)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	p, err := lifecycle.ParseSettingsPatch(b)
	if err != nil {
		panic(err)
	}
	return p
}

// keyView is what one API key resolves to.
type keyView struct {
	Live     bool
	Same     bool // the instance is the one the hook acts on (false for a fresh install)
	State    zen7.State
	Settings zen7.Settings
}

func (v keyView) String() string {
	if !v.Live {
		return "none"
	}
	which := "a new instance"
	if v.Same {
		which = "the instance"
	}
	return fmt.Sprintf("%s, %s, settings %+v", which, v.State, v.Settings)
}

// crashView is what the instance's API keys, before and after a refresh, resolve to.
type crashView struct {
	Key, NewKey keyView
}

func (v crashView) String() string { return fmt.Sprintf("{key: %v; new key: %v}", v.Key, v.NewKey) }

func (e *crashEnv) view(tb testing.TB) crashView {
	tb.Helper()
	resolve := func(key string) keyView {
		in, err := e.instances.InstanceByAPIKey(context.Background(), key)
		if errors.Is(err, zen7.ErrNotFound) {
			return keyView{}
		}
		if err != nil {
			tb.Fatalf("InstanceByAPIKey: %v", err)
		}
		return keyView{Live: true, Same: in.ID == e.id, State: in.State, Settings: in.Settings}
	}
	return crashView{Key: resolve(crashKey), NewKey: resolve(crashNewKey)}
}

func live(st zen7.State, s zen7.Settings) keyView {
	return keyView{Live: true, Same: true, State: st, Settings: s}
}

// crashHook is a hook with the state it starts from and the one it leads to.
type crashHook struct {
	name  string
	setup func(testing.TB, *crashEnv)
	call  func(*crashEnv) error
	// before and after are what the keys resolve to before the hook and once it is done.
	before, after crashView
	// keyGoes: the hook ends the key it is called with (refresh, uninstall), so a repeat of a
	// call that took effect is refused as unauthorized.
	keyGoes bool
}

var crashHooks = []crashHook{
	{
		name:  "install",
		setup: func(testing.TB, *crashEnv) {},
		call:  installCrashKey,
		after: crashView{Key: keyView{Live: true, State: zen7.StateEnabled, Settings: zen7.DefaultSettings()}},
	},
	{
		name:  "settings update completing the settings",
		setup: func(tb testing.TB, e *crashEnv) { e.install(tb, true) },
		call: func(e *crashEnv) error {
			_, err := e.svc.UpdateSettings(context.Background(), crashKey, patchOf(crashSettings))
			return err
		},
		before: crashView{Key: live(zen7.StateEnabled, zen7.DefaultSettings())},
		after:  crashView{Key: live(zen7.StateEnabled, crashSettings)},
	},
	{
		name:  "settings update changing the credentials",
		setup: installedConfigured(true),
		call: func(e *crashEnv) error {
			_, err := e.svc.UpdateSettings(context.Background(), crashKey, patchOf(crashSettings2))
			return err
		},
		before: crashView{Key: live(zen7.StateEnabled, crashSettings)},
		after:  crashView{Key: live(zen7.StateEnabled, crashSettings2)},
	},
	{
		name:  "enable",
		setup: installedConfigured(false),
		call: func(e *crashEnv) error {
			_, err := e.svc.SetEnabled(context.Background(), crashKey, true)
			return err
		},
		before: crashView{Key: live(zen7.StateDisabled, crashSettings)},
		after:  crashView{Key: live(zen7.StateEnabled, crashSettings)},
	},
	{
		name:  "disable",
		setup: installedConfigured(true),
		call: func(e *crashEnv) error {
			_, err := e.svc.SetEnabled(context.Background(), crashKey, false)
			return err
		},
		before: crashView{Key: live(zen7.StateEnabled, crashSettings)},
		after:  crashView{Key: live(zen7.StateDisabled, crashSettings)},
	},
	{
		name: "API key refresh",
		setup: func(tb testing.TB, e *crashEnv) {
			installedConfigured(true)(tb, e)
			e.sales.RefreshKey(crashKey, crashNewKey) // Sales refreshes the key, then calls the hook
		},
		call: func(e *crashEnv) error {
			return e.svc.RefreshAPIKey(context.Background(), crashKey, crashNewKey)
		},
		before:  crashView{Key: live(zen7.StateEnabled, crashSettings)},
		after:   crashView{NewKey: live(zen7.StateEnabled, crashSettings)},
		keyGoes: true,
	},
	{
		name:    "uninstall",
		setup:   installedConfigured(true),
		call:    func(e *crashEnv) error { return e.svc.Uninstall(context.Background(), crashKey) },
		before:  crashView{Key: live(zen7.StateEnabled, crashSettings)},
		after:   crashView{},
		keyGoes: true,
	},
}

// installCrashKey is Sales' install of crashKey, enabled.
func installCrashKey(e *crashEnv) error {
	enabled := true
	_, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: crashKey, Enabled: &enabled})
	return err
}

// start makes a case's environment in the hook's before state.
func (h crashHook) start(t *testing.T, srv *storetest.FaultServer) *crashEnv {
	t.Helper()
	e := newCrashEnv(t, srv)
	h.setup(t, e)
	if in, err := e.instances.InstanceByAPIKey(context.Background(), crashKey); err == nil {
		e.id = in.ID
	}
	if got := e.view(t); got != h.before {
		t.Fatalf("before the hook: %v, want %v", got, h.before)
	}
	return e
}

func TestCrashInTheMiddleOfEachHook(t *testing.T) {
	t.Parallel()
	srv := storetest.NewFaultServer(t)
	for _, h := range crashHooks {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			// A run without a crash counts the hook's writes and checks where it leads.
			e := h.start(t, srv)
			w0 := e.faults.Writes()
			if err := h.call(e); err != nil {
				t.Fatalf("the hook without a crash: %v", err)
			}
			writes := e.faults.Writes() - w0
			e.checkDone(t, h)

			for k := 1; k <= writes; k++ {
				for _, mode := range []storetest.CrashMode{storetest.LoseWrite, storetest.LoseReply} {
					t.Run(fmt.Sprintf("write %d of %d %s", k, writes, mode), func(t *testing.T) {
						e := h.start(t, srv)
						e.faults.CrashAt(k, mode)
						_ = h.call(e) // nobody hears what a crashed process answers
						if !e.faults.Crashed() {
							t.Fatalf("the hook made fewer than %d writes this time", k)
						}
						e.faults.Heal()
						e.restart()

						got := e.view(t)
						if got != h.before && got != h.after {
							t.Errorf("after the crash the keys resolve to %v\nwant the state before the hook %v\nor after it %v", got, h.before, h.after)
						}
						e.checkStored(t, false)

						// Sales calls the hook again.
						err := h.call(e)
						if err != nil && !(h.keyGoes && got == h.after && errors.Is(err, zen7.ErrUnauthorized)) {
							t.Errorf("the repeated hook: %v", err)
						}
						e.checkDone(t, h)
					})
				}
			}
		})
	}
}

// checkDone runs the App's background repairs, then checks the hook's final state: the keys,
// the stored documents, the account and the Sales subscription.
func (e *crashEnv) checkDone(t *testing.T, h crashHook) {
	t.Helper()
	ctx := context.Background()
	// The repairs the App runs every minute, run as if later: account lookups (which also
	// retire instances an interrupted install left behind) and the subscription check.
	e.svc.SetClock(func() time.Time { return time.Now().UTC().Add(time.Hour) })
	if _, err := e.svc.ResolveAccounts(ctx); err != nil {
		t.Errorf("ResolveAccounts: %v", err)
	}
	if err := e.subs.Repair(ctx, true); err != nil {
		t.Logf("subscription repair: %v", err) // what it could not do shows below
	}

	if got := e.view(t); got != h.after {
		t.Errorf("after the hook: keys resolve to %v, want %v", got, h.after)
	}
	e.checkStored(t, true)
	e.checkSubscription(t)
	liveInstances, err := e.instances.LiveInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range liveInstances {
		if in.Account.GroupID != e.group {
			t.Errorf("live instance %s: account group %q, want %q", in.ID, in.Account.GroupID, e.group)
		}
	}
	if e.id != "" && !h.after.Key.Live && !h.after.NewKey.Live {
		if in, err := e.instances.Instance(ctx, e.id); err != nil || in.State != zen7.StateUninstalled {
			t.Errorf("instance after the hook: %s, %v; want it kept, uninstalled", in.State, err)
		}
	}
}

// checkStored checks the stored documents hold together: every live instance has its key
// hash and sealed key, and (strict) the binding of that hash points to it; no two live
// instances share a key; an uninstalled instance keeps no key, secret or webhook. Without
// strict, a live instance no binding points to may remain from an interrupted install until
// the background pass retires it, but it must be inert: no account, no subscription.
func (e *crashEnv) checkStored(t *testing.T, strict bool) {
	t.Helper()
	bindings := map[string]string{} // key hash → instance id
	for _, b := range e.faults.Documents(t, "api_keys") {
		bindings[b["_id"].(string)] = b["instanceId"].(string)
	}
	liveByHash := map[string]string{}
	for _, d := range e.faults.Documents(t, "instances") {
		id, _ := d["_id"].(string)
		settings, _ := d["settings"].(map[string]any)
		switch d["state"] {
		case string(zen7.StateUninstalled):
			for _, k := range []string{"apiKeyHash", "apiKey", "webhook"} {
				if _, ok := d[k]; ok {
					t.Errorf("uninstalled instance %s keeps %s", id, k)
				}
			}
			if _, ok := settings["clientSecret"]; ok {
				t.Errorf("uninstalled instance %s keeps its client secret", id)
			}
		case string(zen7.StateEnabled), string(zen7.StateDisabled):
			hash, _ := d["apiKeyHash"].(string)
			if hash == "" || d["apiKey"] == nil {
				t.Errorf("live instance %s has no key hash or no sealed key", id)
				continue
			}
			if other, ok := liveByHash[hash]; ok {
				t.Errorf("live instances %s and %s share a key", other, id)
			}
			liveByHash[hash] = id
			if bindings[hash] == id {
				continue
			}
			if strict {
				t.Errorf("live instance %s is not bound to its key (binding: %q)", id, bindings[hash])
				continue
			}
			account, _ := d["account"].(map[string]any)
			if g, _ := account["groupId"].(string); g != "" || d["webhook"] != nil {
				t.Errorf("instance %s, bound to no key, is not inert: account group %q, webhook %v", id, g, d["webhook"] != nil)
			}
		default:
			t.Errorf("instance %s in state %v", id, d["state"])
		}
	}
	if !strict {
		return
	}
	// The key each live instance holds (sealed) finds it: hash, sealed key and binding agree.
	ctx := context.Background()
	liveInstances, err := e.instances.LiveInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range liveInstances {
		if got, err := e.instances.InstanceByAPIKey(ctx, in.APIKey); err != nil || got.ID != in.ID {
			t.Errorf("the key of live instance %s finds %q, %v", in.ID, got.ID, err)
		}
	}
}

// checkSubscription checks Sales notifies exactly what the App wants: one active subscription
// for the group, recorded by the instance and calling back with the token whose hash the
// instance keeps, while the instance is enabled with complete settings; none otherwise.
func (e *crashEnv) checkSubscription(t *testing.T) {
	t.Helper()
	var active []salesfake.Subscription
	for _, s := range e.sales.Subscriptions() {
		if s.Active && s.GroupID == e.group {
			active = append(active, s)
		}
	}
	liveInstances, err := e.instances.LiveInstances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wanting *zen7.Instance
	for i, in := range liveInstances {
		if in.State == zen7.StateEnabled && in.Settings.Complete() {
			wanting = &liveInstances[i]
		} else if in.Subscription.ID != "" {
			t.Errorf("instance %s (%s) records subscription %s", in.ID, in.State, in.Subscription.ID)
		}
	}
	if wanting == nil {
		if len(active) != 0 {
			t.Errorf("Sales still notifies the group (%d subscriptions) and no instance wants it", len(active))
		}
		return
	}
	if len(active) != 1 || active[0].ID != wanting.Subscription.ID {
		ids := make([]string, len(active))
		for i, s := range active {
			ids[i] = s.ID
		}
		t.Errorf("Sales has active subscriptions %v; the instance records %q", ids, wanting.Subscription.ID)
		return
	}
	prefix := crashBaseURL + "/webhooks/sales/" + wanting.ID + "?token="
	token, ok := strings.CutPrefix(active[0].CallbackURL, prefix)
	if !ok {
		t.Errorf("callback URL %s, want it under %s", active[0].CallbackURL, prefix)
		return
	}
	if token, _ = url.QueryUnescape(token); e.tokenHash(t, wanting.ID) != forwarding.HashToken(token) {
		t.Error("the instance does not keep the hash of the token Sales calls back with")
	}
}

func (e *crashEnv) tokenHash(t *testing.T, id string) string {
	t.Helper()
	for _, d := range e.faults.Documents(t, "instances") {
		if d["_id"] == id {
			webhook, _ := d["webhook"].(map[string]any)
			h, _ := webhook["tokenHash"].(string)
			return h
		}
	}
	return ""
}

// TestInstanceLeftByAnInterruptedInstall: an install that dies between storing the instance
// and binding its key leaves an instance no key names. The background pass never gives it an
// account (pages would find it by group), leaves it alone while the install may still be
// under way, and once it is abandoned retires it, wiping the API key sealed in it.
func TestInstanceLeftByAnInterruptedInstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newCrashEnv(t, storetest.NewFaultServer(t))
	e.faults.CrashAt(2, storetest.LoseWrite) // the instance is stored; binding its key is lost
	_ = installCrashKey(e)
	e.faults.Heal()
	e.restart()
	docs := e.faults.Documents(t, "instances")
	if len(docs) != 1 {
		t.Fatalf("%d instances after the interrupted install, want the one left behind", len(docs))
	}
	orphan := docs[0]["_id"].(string)

	if n, err := e.svc.ResolveAccounts(ctx); err != nil || n != 0 {
		t.Fatalf("ResolveAccounts = %d, %v; want 0: the instance is bound to no key", n, err)
	}
	if in, err := e.instances.Instance(ctx, orphan); err != nil || in.State != zen7.StateEnabled || in.Account.Resolved() {
		t.Fatalf("just after: %s, account resolved %v, %v; want it left alone, without an account", in.State, in.Account.Resolved(), err)
	}

	// Sales repeats the install: a new instance takes the key.
	if err := installCrashKey(e); err != nil {
		t.Fatalf("repeated install: %v", err)
	}
	current, err := e.instances.InstanceByAPIKey(ctx, crashKey)
	if err != nil || current.ID == orphan || !current.Account.Resolved() {
		t.Fatalf("after the repeat the key names %s (left behind: %s), account resolved %v, %v", current.ID, orphan, current.Account.Resolved(), err)
	}

	e.svc.SetClock(func() time.Time { return time.Now().UTC().Add(time.Hour) })
	if _, err := e.svc.ResolveAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	if in, err := e.instances.Instance(ctx, orphan); err != nil || in.State != zen7.StateUninstalled || in.APIKey != "" || in.Account.Resolved() {
		t.Fatalf("an hour later: %s, key wiped %v, account resolved %v, %v; want it retired", in.State, in.APIKey == "", in.Account.Resolved(), err)
	}
	if after, err := e.instances.InstanceByAPIKey(ctx, crashKey); err != nil || after.ID != current.ID || after.Version != current.Version {
		t.Fatalf("retiring the orphan touched the installed instance: %v", err)
	}
	e.checkStored(t, true)
}
