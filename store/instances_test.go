package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func newInstances(tb testing.TB) (*store.Instances, *store.DB) {
	tb.Helper()
	db := storetest.NewDB(tb)
	return store.NewInstances(db, storetest.NewKeyring(tb)), db
}

func newInstance(id, apiKey string) zen7.Instance {
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := zen7.DefaultSettings()
	s.ClientID, s.ClientSecret = "client-"+id, "very-secret-"+id
	return zen7.Instance{ID: id, State: zen7.StateEnabled, APIKey: apiKey, Settings: s, InstalledAt: now, UpdatedAt: now}
}

func mustCreate(tb testing.TB, s *store.Instances, in zen7.Instance) {
	tb.Helper()
	if err := s.CreateInstance(context.Background(), in); err != nil {
		tb.Fatalf("CreateInstance: %v", err)
	}
}

func TestCreateAndLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newInstances(t)
	mustCreate(t, s, newInstance("inst1", "key-1"))

	tests := []struct {
		name    string
		key     string
		wantID  string
		wantErr error
	}{
		{name: "bound key", key: "key-1", wantID: "inst1"},
		{name: "unknown key", key: "key-2", wantErr: zen7.ErrNotFound},
		{name: "empty key", key: "", wantErr: zen7.ErrNotFound},
		{name: "prefix of key", key: "key-", wantErr: zen7.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.InstanceByAPIKey(ctx, tt.key)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("InstanceByAPIKey error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (got.ID != tt.wantID || got.APIKey != tt.key || got.Settings.ClientSecret != "very-secret-inst1") {
				t.Fatalf("InstanceByAPIKey = %+v, want id %s with its secrets opened", got, tt.wantID)
			}
		})
	}

	if err := s.CreateInstance(ctx, newInstance("inst2", "key-1")); !errors.Is(err, zen7.ErrConflict) {
		t.Fatalf("second instance for a bound key: error = %v, want ErrConflict", err)
	}
	if _, err := s.Instance(ctx, "inst2"); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("the losing instance was left behind: %v", err)
	}
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newInstances(t)
	in := newInstance("inst1", "plain-api-key-value")
	mustCreate(t, s, in)

	for _, col := range []string{"instances", "api_keys"} {
		docs, err := store.RawDocuments(ctx, db, col)
		if err != nil {
			t.Fatal(err)
		}
		raw := fmt.Sprint(docs)
		for _, secretValue := range []string{in.APIKey, in.Settings.ClientSecret} {
			if strings.Contains(raw, secretValue) {
				t.Errorf("collection %s stores %q in plaintext", col, secretValue)
			}
		}
	}
	docs, _ := store.RawDocuments(ctx, db, "instances")
	sealed, ok := docs[0]["apiKey"].(bson.M)
	if !ok || sealed["kid"] == "" || sealed["ct"] == nil {
		t.Fatalf("apiKey at rest = %#v, want {kid, ct}", docs[0]["apiKey"])
	}
}

func TestSetState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newInstances(t)
	mustCreate(t, s, newInstance("inst1", "key-1"))
	now := time.Now()

	steps := []struct {
		name      string
		key       string
		state     zen7.State
		wantState zen7.State
		wantErr   error
	}{
		{name: "disable", key: "key-1", state: zen7.StateDisabled, wantState: zen7.StateDisabled},
		{name: "disable again is a no-op", key: "key-1", state: zen7.StateDisabled, wantState: zen7.StateDisabled},
		{name: "enable", key: "key-1", state: zen7.StateEnabled, wantState: zen7.StateEnabled},
		{name: "wrong key", key: "key-x", state: zen7.StateDisabled, wantErr: zen7.ErrNotFound},
	}
	for _, st := range steps {
		got, err := s.SetState(ctx, "inst1", st.key, st.state, now)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: error = %v, want %v", st.name, err, st.wantErr)
		}
		if err == nil && got.State != st.wantState {
			t.Fatalf("%s: state = %s, want %s", st.name, got.State, st.wantState)
		}
	}
}

func TestReplaceSettingsCompareAndSwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newInstances(t)
	mustCreate(t, s, newInstance("inst1", "key-1"))
	in, _ := s.InstanceByAPIKey(ctx, "key-1")

	next := in.Settings
	next.AssistantEmail = "ashley@7targets.example"
	updated, err := s.ReplaceSettings(ctx, in.ID, "key-1", in.Version, next, time.Now())
	if err != nil || updated.Settings.AssistantEmail != next.AssistantEmail || updated.Version != in.Version+1 {
		t.Fatalf("ReplaceSettings = %+v, %v", updated.Settings, err)
	}
	if _, err := s.ReplaceSettings(ctx, in.ID, "key-1", in.Version, next, time.Now()); !errors.Is(err, zen7.ErrConflict) {
		t.Fatalf("stale version: error = %v, want ErrConflict", err)
	}
	if _, err := s.ReplaceSettings(ctx, in.ID, "key-x", updated.Version, next, time.Now()); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("wrong key: error = %v, want ErrNotFound", err)
	}
}

func TestRotateAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newInstances(t)
	mustCreate(t, s, newInstance("inst1", "key-1"))
	mustCreate(t, s, newInstance("inst2", "key-2"))

	if _, err := s.RotateAPIKey(ctx, "inst1", "key-1", "key-2", time.Now()); !errors.Is(err, zen7.ErrConflict) {
		t.Fatalf("rotate onto another instance's key: error = %v, want ErrConflict", err)
	}
	rekeyed, err := s.RotateAPIKey(ctx, "inst1", "key-1", "key-1b", time.Now())
	if err != nil || rekeyed.APIKey != "key-1b" || rekeyed.ID != "inst1" {
		t.Fatalf("RotateAPIKey = %+v, %v; want inst1 with the new key", rekeyed, err)
	}
	if _, err := s.InstanceByAPIKey(ctx, "key-1"); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("old key still works: %v", err)
	}
	got, err := s.InstanceByAPIKey(ctx, "key-1b")
	if err != nil || got.ID != "inst1" || got.APIKey != "key-1b" {
		t.Fatalf("new key: %+v, %v", got, err)
	}
	if _, err := s.RotateAPIKey(ctx, "inst1", "key-1", "key-1c", time.Now()); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("rotate with the refreshed-away key: error = %v, want ErrNotFound", err)
	}
	if _, err := s.InstanceByAPIKey(ctx, "key-1c"); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("a failed rotation left a working key: %v", err)
	}
}

func TestUninstallWipesSecretsAndFreesKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newInstances(t)
	in := newInstance("inst1", "key-1")
	mustCreate(t, s, in)

	got, err := s.Uninstall(ctx, "inst1", "key-1", time.Now())
	if err != nil || got.State != zen7.StateUninstalled || got.APIKey != "" || got.Settings.ClientSecret != "" {
		t.Fatalf("Uninstall = %+v, %v; want uninstalled with secrets wiped", got, err)
	}
	if got.Settings.ClientID != in.Settings.ClientID {
		t.Fatalf("Uninstall dropped non-secret settings: %+v", got.Settings)
	}
	if _, err := s.InstanceByAPIKey(ctx, "key-1"); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("uninstalled key still works: %v", err)
	}
	if _, err := s.Uninstall(ctx, "inst1", "key-1", time.Now()); !errors.Is(err, zen7.ErrNotFound) {
		t.Fatalf("second uninstall: error = %v, want ErrNotFound", err)
	}
	docs, _ := store.RawDocuments(ctx, db, "instances")
	for _, field := range []string{"apiKey", "apiKeyHash"} {
		if _, ok := docs[0][field]; ok {
			t.Errorf("uninstalled instance keeps %s", field)
		}
	}
	if settings := docs[0]["settings"].(bson.M); settings["clientSecret"] != nil {
		t.Errorf("uninstalled instance keeps the client secret")
	}

	// The same key installs afresh; the old record stays as it was.
	mustCreate(t, s, newInstance("inst1b", "key-1"))
	fresh, err := s.InstanceByAPIKey(ctx, "key-1")
	if err != nil || fresh.ID != "inst1b" {
		t.Fatalf("reinstall: %+v, %v", fresh, err)
	}
	old, err := s.Instance(ctx, "inst1")
	if err != nil || old.State != zen7.StateUninstalled {
		t.Fatalf("old instance after reinstall: %+v, %v", old, err)
	}
}

func TestConcurrentDisablesAndUninstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newInstances(t)
	mustCreate(t, s, newInstance("inst1", "key-1"))

	var wg sync.WaitGroup
	var uninstalls, uninstallErrs int
	var mu sync.Mutex
	for i := range 51 {
		wg.Go(func() {
			if i == 25 {
				_, err := s.Uninstall(ctx, "inst1", "key-1", time.Now())
				mu.Lock()
				if err == nil {
					uninstalls++
				} else {
					uninstallErrs++
				}
				mu.Unlock()
				return
			}
			_, err := s.SetState(ctx, "inst1", "key-1", zen7.StateDisabled, time.Now())
			if err != nil && !errors.Is(err, zen7.ErrNotFound) {
				t.Errorf("SetState: %v", err)
			}
		})
	}
	wg.Wait()
	if uninstalls != 1 {
		t.Fatalf("uninstalls = %d (errors %d), want 1", uninstalls, uninstallErrs)
	}
	got, err := s.Instance(ctx, "inst1")
	if err != nil || got.State != zen7.StateUninstalled || got.APIKey != "" {
		t.Fatalf("final instance = %+v, %v; want uninstalled, key wiped", got, err)
	}
}

func TestConcurrentInstallsOfOneKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newInstances(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 8 {
		wg.Go(func() {
			err := s.CreateInstance(ctx, newInstance(fmt.Sprintf("inst%d", i), "key-1"))
			if err != nil && !errors.Is(err, zen7.ErrConflict) {
				t.Errorf("CreateInstance: %v", err)
			}
			if err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d installs of one key succeeded, want 1", won)
	}
}

func TestAccountAndAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newInstances(t)
	mustCreate(t, s, newInstance("inst1", "key-1"))
	mustCreate(t, s, newInstance("inst2", "key-2"))

	pending, err := s.InstancesWithoutAccount(ctx, 10)
	if err != nil || len(pending) != 2 {
		t.Fatalf("InstancesWithoutAccount = %d, %v; want 2", len(pending), err)
	}
	if err := s.SetAccount(ctx, "inst1", zen7.Account{GroupID: "g1", AccountID: "a1", ResolvedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	pending, _ = s.InstancesWithoutAccount(ctx, 10)
	if len(pending) != 1 || pending[0].ID != "inst2" {
		t.Fatalf("after SetAccount pending = %+v, want inst2 only", pending)
	}
	got, _ := s.Instance(ctx, "inst1")
	if got.Account.GroupID != "g1" || !got.Account.Resolved() {
		t.Fatalf("account = %+v", got.Account)
	}

	for _, hook := range []string{"install", "enabled"} {
		if err := s.RecordAudit(ctx, zen7.AuditEntry{InstanceID: "inst1", Hook: hook, At: time.Now(), Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	trail, err := s.AuditTrail(ctx, "inst1")
	if err != nil || len(trail) != 2 || trail[0].Hook != "install" || trail[1].Hook != "enabled" {
		t.Fatalf("AuditTrail = %+v, %v", trail, err)
	}
}

func TestRekey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	oldKey, newKey := mustKey(t), mustKey(t)
	oldRing, _ := secret.NewKeyring(oldKey)
	before := store.NewInstances(db, oldRing)
	mustCreate(t, before, newInstance("inst1", "key-1"))
	mustCreate(t, before, newInstance("inst2", "key-2"))
	if _, err := before.Uninstall(ctx, "inst2", "key-2", time.Now()); err != nil {
		t.Fatal(err)
	}

	// After the rotation: the new key seals, the old one still opens.
	rotated, _ := secret.NewKeyring(newKey, oldKey)
	s := store.NewInstances(db, rotated)
	if got, err := s.InstanceByAPIKey(ctx, "key-1"); err != nil || got.Settings.ClientSecret != "very-secret-inst1" {
		t.Fatalf("reading with the old key kept: %+v, %v", got, err)
	}
	n, err := s.Rekey(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Rekey = %d, %v; want 1 (the uninstalled instance has no secrets)", n, err)
	}
	if n, err := s.Rekey(ctx); err != nil || n != 0 {
		t.Fatalf("second Rekey = %d, %v; want 0", n, err)
	}

	// Now the old key can go.
	newOnly, _ := secret.NewKeyring(newKey)
	got, err := store.NewInstances(db, newOnly).InstanceByAPIKey(ctx, "key-1")
	if err != nil || got.APIKey != "key-1" || got.Settings.ClientSecret != "very-secret-inst1" {
		t.Fatalf("after rekey, with the new key only: %+v, %v", got, err)
	}
	docs, _ := store.RawDocuments(ctx, db, "instances")
	for _, d := range docs {
		if k, ok := d["apiKey"].(bson.M); ok && k["kid"] != secret.KeyID(newKey) {
			t.Errorf("instance %v still sealed with %v", d["_id"], k["kid"])
		}
	}
}

func mustKey(tb testing.TB) []byte {
	tb.Helper()
	k, err := secret.ParseKey(secret.NewKey())
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// TestInstancesByIDAgree: InstancesByID reads what Instance reads, for each instance there,
// with its secrets opened, and leaves out those not there; on the embedded store the direct
// read of the SQLite file, without the fallback to the driver, returns what the driver's
// query returns.
func TestInstancesByIDAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newInstances(t)
	mustCreate(t, s, newInstance("byid-1", "key-byid-1"))
	disabled := newInstance("byid-2", "key-byid-2")
	disabled.State = zen7.StateDisabled
	mustCreate(t, s, disabled)
	tests := []struct {
		name string
		ids  []string
	}{
		{"one", []string{"byid-1"}},
		{"both, and one not there", []string{"byid-1", "byid-none", "byid-2"}},
		{"none there", []string{"byid-none"}},
		{"none asked", nil},
	}
	for _, tt := range tests {
		got, err := s.InstancesByID(ctx, tt.ids)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		want := map[string]zen7.Instance{}
		for _, id := range tt.ids {
			in, err := s.Instance(ctx, id)
			if errors.Is(err, zen7.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			want[id] = in
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: InstancesByID against Instance (-want +got):\n%s", tt.name, diff)
		}
		if len(tt.ids) == 0 {
			continue
		}
		query, err := s.InstancesByIDQuery(ctx, tt.ids)
		if err != nil {
			t.Fatalf("%s: the driver's query: %v", tt.name, err)
		}
		if diff := cmp.Diff(query, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: (-driver +InstancesByID):\n%s", tt.name, diff)
		}
		if store.ReportFile(db) == "" {
			continue // MongoDB: the query is the read
		}
		direct, err := s.InstancesByIDDirect(ctx, tt.ids)
		if err != nil {
			t.Fatalf("%s: the direct read: %v", tt.name, err)
		}
		if diff := cmp.Diff(query, direct, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: (-driver +direct):\n%s", tt.name, diff)
		}
	}
}
