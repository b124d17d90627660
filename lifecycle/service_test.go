package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// memStore is an in-memory lifecycle.Store with the semantics its interface documents: every
// change is conditional on the instance still being live and bound to the key presented.
type memStore struct {
	mu        sync.Mutex
	instances map[string]zen7.Instance // by id
	keys      map[string]string        // api key → instance id
	audit     []zen7.AuditEntry
	order     map[string]int      // id → creation sequence, like MongoDB's natural order
	groups    map[string]memGroup // group → the instance serving it

	replaceCalls int
	// beforeReplace, when set, runs (without the lock) before each ReplaceSettings with the
	// 1-based call number, to let a test simulate another hook racing the update.
	beforeReplace func(call int)
	// failLookups, when set, is returned by InstanceByAPIKey.
	failLookups error
	// failures makes the named methods (other than InstanceByAPIKey) return an error.
	failures map[string]error
}

// failWith makes method op return err from now on.
func (m *memStore) failWith(op string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failures == nil {
		m.failures = map[string]error{}
	}
	m.failures[op] = err
}

func (m *memStore) injected(op string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failures[op]
}

// memGroup is a group's mapping: the instance and the depth of the tree it came from.
type memGroup struct {
	instanceID string
	depth      int
}

func newMemStore() *memStore {
	return &memStore{instances: map[string]zen7.Instance{}, keys: map[string]string{}, order: map[string]int{}, groups: map[string]memGroup{}}
}

var _ lifecycle.Store = (*memStore)(nil)

// live returns the instance bound to apiKey if it is id (any id when id is "") and installed.
// The caller holds the lock.
func (m *memStore) live(id, apiKey string) (zen7.Instance, bool) {
	boundID, ok := m.keys[apiKey]
	if !ok || (id != "" && boundID != id) {
		return zen7.Instance{}, false
	}
	inst, ok := m.instances[boundID]
	if !ok || inst.State == zen7.StateUninstalled || inst.APIKey != apiKey {
		return zen7.Instance{}, false
	}
	return inst, true
}

func (m *memStore) CreateInstance(_ context.Context, inst zen7.Instance) error {
	if err := m.injected("CreateInstance"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.live("", inst.APIKey); ok {
		return zen7.ErrConflict
	}
	if _, ok := m.instances[inst.ID]; ok {
		return fmt.Errorf("memStore: duplicate id %s", inst.ID)
	}
	m.instances[inst.ID] = inst
	m.keys[inst.APIKey] = inst.ID
	m.order[inst.ID] = len(m.order)
	return nil
}

func (m *memStore) InstanceByAPIKey(_ context.Context, apiKey string) (zen7.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failLookups != nil {
		return zen7.Instance{}, m.failLookups
	}
	inst, ok := m.live("", apiKey)
	if !ok {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	return inst, nil
}

func (m *memStore) SetState(_ context.Context, id, apiKey string, state zen7.State, at time.Time) (zen7.Instance, error) {
	if err := m.injected("SetState"); err != nil {
		return zen7.Instance{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.live(id, apiKey)
	if !ok {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	if inst.State != state {
		inst.State = state
		inst.UpdatedAt = at
		inst.Version++
		m.instances[id] = inst
	}
	return inst, nil
}

func (m *memStore) ReplaceSettings(_ context.Context, id, apiKey string, version int64, s zen7.Settings, at time.Time) (zen7.Instance, error) {
	if err := m.injected("ReplaceSettings"); err != nil {
		return zen7.Instance{}, err
	}
	m.mu.Lock()
	m.replaceCalls++
	call, hook := m.replaceCalls, m.beforeReplace
	m.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.live(id, apiKey)
	if !ok {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	if inst.Version != version {
		return zen7.Instance{}, zen7.ErrConflict
	}
	inst.Settings = s
	inst.UpdatedAt = at
	inst.Version++
	m.instances[id] = inst
	return inst, nil
}

func (m *memStore) RotateAPIKey(_ context.Context, id, oldKey, newKey string, at time.Time) (zen7.Instance, error) {
	if err := m.injected("RotateAPIKey"); err != nil {
		return zen7.Instance{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.live(id, oldKey)
	if !ok {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	if oldKey == newKey {
		return inst, nil
	}
	if other, ok := m.live("", newKey); ok && other.ID != id {
		return zen7.Instance{}, zen7.ErrConflict
	}
	delete(m.keys, oldKey)
	m.keys[newKey] = id
	inst.APIKey = newKey
	inst.UpdatedAt = at
	inst.Version++
	m.instances[id] = inst
	return inst, nil
}

func (m *memStore) Uninstall(_ context.Context, id, apiKey string, at time.Time) (zen7.Instance, error) {
	if err := m.injected("Uninstall"); err != nil {
		return zen7.Instance{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.live(id, apiKey)
	if !ok {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	delete(m.keys, apiKey)
	m.dropGroups(id)
	inst.State = zen7.StateUninstalled
	inst.APIKey = ""
	inst.Settings.ClientSecret = ""
	inst.UninstalledAt = at
	inst.UpdatedAt = at
	inst.Version++
	m.instances[id] = inst
	return inst, nil
}

func (m *memStore) SetAccount(_ context.Context, id string, a zen7.Account) error {
	if err := m.injected("SetAccount"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.instances[id]
	if !ok {
		return zen7.ErrNotFound
	}
	inst.Account = a
	m.instances[id] = inst
	return nil
}

func (m *memStore) InstancesWithoutAccount(_ context.Context, limit int) ([]zen7.Instance, error) {
	if err := m.injected("InstancesWithoutAccount"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []zen7.Instance
	for _, inst := range m.instances {
		if inst.State != zen7.StateUninstalled && !inst.Account.Resolved() {
			out = append(out, inst)
		}
	}
	slices.SortFunc(out, func(a, b zen7.Instance) int {
		if c := a.Account.LastTriedAt.Compare(b.Account.LastTriedAt); c != 0 {
			return c
		}
		return m.order[a.ID] - m.order[b.ID]
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memStore) AccountsToRefresh(_ context.Context, t time.Time, limit int) ([]zen7.Instance, error) {
	if err := m.injected("AccountsToRefresh"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []zen7.Instance
	for _, inst := range m.instances {
		a := inst.Account
		if inst.State != zen7.StateUninstalled && a.Resolved() && a.ResolvedAt.Before(t) && a.LastTriedAt.Before(t) {
			out = append(out, inst)
		}
	}
	slices.SortFunc(out, func(a, b zen7.Instance) int { return a.Account.ResolvedAt.Compare(b.Account.ResolvedAt) })
	return out[:min(len(out), limit)], nil
}

// SetGroupTree keeps a group held by a deeper live tree, as the store's guarded upserts do.
func (m *memStore) SetGroupTree(_ context.Context, inst zen7.Instance, t zen7.GroupTree) error {
	if err := m.injected("SetGroupTree"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.instances[inst.ID]; !ok || cur.State == zen7.StateUninstalled {
		return zen7.ErrNotFound
	}
	m.dropGroups(inst.ID)
	for _, g := range t.Groups {
		held, ok := m.groups[g]
		if ok && held.depth > t.Depth && m.instances[held.instanceID].State != zen7.StateUninstalled {
			continue
		}
		m.groups[g] = memGroup{instanceID: inst.ID, depth: t.Depth}
	}
	return nil
}

func (m *memStore) InstanceForGroup(_ context.Context, groupID string) (zen7.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.instances[m.groups[groupID].instanceID]
	if !ok || inst.State == zen7.StateUninstalled {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	return inst, nil
}

// dropGroups forgets the instance's groups; the caller holds the lock.
func (m *memStore) dropGroups(id string) {
	for g, held := range m.groups {
		if held.instanceID == id {
			delete(m.groups, g)
		}
	}
}

// groupInstance returns the id of the instance serving group g, "" if none.
func (m *memStore) groupInstance(g string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.groups[g].instanceID
}

func (m *memStore) RecordAudit(_ context.Context, e zen7.AuditEntry) error {
	if err := m.injected("RecordAudit"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return nil
}

// byKey returns the live instance bound to apiKey, failing tb if there is none.
func (m *memStore) byKey(tb testing.TB, apiKey string) zen7.Instance {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.live("", apiKey)
	if !ok {
		tb.Fatalf("no live instance for api key %q", apiKey)
	}
	return inst
}

// byID returns the instance with id whatever its state.
func (m *memStore) byID(id string) (zen7.Instance, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.instances[id]
	return inst, ok
}

// mutate changes the instance with id as another hook would: in place, bumping its version.
func (m *memStore) mutate(id string, change func(*zen7.Instance)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inst := m.instances[id]
	change(&inst)
	inst.Version++
	m.instances[id] = inst
}

func (m *memStore) auditEntries() []zen7.AuditEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.audit)
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.instances)
}

func (m *memStore) replaces() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.replaceCalls
}

// fakeAccounts is a lifecycle.AccountLookup answering from maps by API key: errs fails a
// key's lookups, accounts answers them; block makes every lookup wait for its context. A
// key's group tree is its account's group alone unless trees says otherwise.
type fakeAccounts struct {
	mu         sync.Mutex
	accounts   map[string]zen7.Account
	errs       map[string]error
	trees      map[string]zen7.GroupTree
	block      bool
	calls      map[string]int
	groupCalls map[string]int
}

func (f *fakeAccounts) LookupAccount(ctx context.Context, apiKey string) (zen7.Account, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[apiKey]++
	err, block := f.errs[apiKey], f.block
	acct, ok := f.accounts[apiKey]
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return zen7.Account{}, ctx.Err()
	}
	if err != nil {
		return zen7.Account{}, err
	}
	if !ok {
		return zen7.Account{}, errors.New("fakeAccounts: unknown api key")
	}
	return acct, nil
}

// set makes lookups of apiKey answer a, or fail with err when it is not nil.
func (f *fakeAccounts) set(apiKey string, a zen7.Account, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.accounts == nil {
		f.accounts, f.errs = map[string]zen7.Account{}, map[string]error{}
	}
	f.accounts[apiKey] = a
	f.errs[apiKey] = err
}

func (f *fakeAccounts) LookupGroups(ctx context.Context, apiKey, groupID string) (zen7.GroupTree, error) {
	f.mu.Lock()
	if f.groupCalls == nil {
		f.groupCalls = map[string]int{}
	}
	f.groupCalls[apiKey]++
	err, block := f.errs[apiKey], f.block
	tree, ok := f.trees[apiKey]
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return zen7.GroupTree{}, ctx.Err()
	}
	if err != nil {
		return zen7.GroupTree{}, err
	}
	if !ok || tree.Root != groupID {
		tree = zen7.GroupTree{Root: groupID, Groups: []string{groupID}}
	}
	return tree, nil
}

// setTree makes apiKey's group tree t.
func (f *fakeAccounts) setTree(apiKey string, t zen7.GroupTree) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.trees == nil {
		f.trees = map[string]zen7.GroupTree{}
	}
	f.trees[apiKey] = t
}

func (f *fakeAccounts) groupCallsFor(apiKey string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.groupCalls[apiKey]
}

func (f *fakeAccounts) callsFor(apiKey string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[apiKey]
}

// newFakeChecker returns a fakeChecker accepting any credentials and listing the assistants
// the tests' settings name.
func newFakeChecker() *fakeChecker {
	return &fakeChecker{assistants: []lifecycle.Assistant{{Email: "ava@example.com", Name: "Ava"}, {Email: "bo@example.com", Name: "Bo"}}}
}

// fakeChecker is a lifecycle.CredentialChecker that records its calls and answers err.
type fakeChecker struct {
	mu         sync.Mutex
	err        error
	calls      [][2]string
	assistants []lifecycle.Assistant
	listings   int
}

func (f *fakeChecker) CheckCredentials(_ context.Context, clientID, clientSecret string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, [2]string{clientID, clientSecret})
	return f.err
}

// Assistants lists f.assistants, the ones the tests' settings name unless a test says other.
func (f *fakeChecker) Assistants(context.Context, string, zen7.Settings) ([]lifecycle.Assistant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listings++
	if f.err != nil {
		return nil, f.err
	}
	return slices.Clone(f.assistants), nil
}

func (f *fakeChecker) callsMade() [][2]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers, to capture logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const (
	testAppID     = "app-id-0001"
	testAppSecret = "app-secret-0001"
)

type env struct {
	svc      *lifecycle.Service
	store    *memStore
	accounts *fakeAccounts
	checker  *fakeChecker
	logs     *syncBuffer
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	e := &env{
		store:    newMemStore(),
		accounts: &fakeAccounts{},
		checker:  newFakeChecker(),
		logs:     &syncBuffer{},
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc = lifecycle.NewService(lifecycle.Config{
		AppID: testAppID, AppSecret: testAppSecret, AccountLookupTimeout: 200 * time.Millisecond,
	}, e.store, e.accounts, e.checker, logger)
	return e
}

// install installs apiKey (enabled) and returns its instance.
func (e *env) install(tb testing.TB, apiKey string) zen7.Instance {
	tb.Helper()
	enabled := true
	created, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: apiKey, Enabled: &enabled})
	if err != nil || !created {
		tb.Fatalf("Install(%q) = %v, %v; want true, nil", apiKey, created, err)
	}
	return e.store.byKey(tb, apiKey)
}

// configure stores s on the instance of apiKey directly, bypassing the Service.
func (e *env) configure(tb testing.TB, apiKey string, s zen7.Settings) zen7.Instance {
	tb.Helper()
	inst := e.store.byKey(tb, apiKey)
	e.store.mutate(inst.ID, func(i *zen7.Instance) { i.Settings = s })
	return e.store.byKey(tb, apiKey)
}

func boolPtr(b bool) *bool { return &b }

func TestServiceCheckApp(t *testing.T) {
	t.Parallel()
	svc := newEnv(t).svc
	tests := []struct {
		name          string
		id, secret    string
		wantAuthorize bool
	}{
		{name: "right", id: testAppID, secret: testAppSecret, wantAuthorize: true},
		{name: "wrong id", id: "app-id-0002", secret: testAppSecret},
		{name: "wrong secret", id: testAppID, secret: "app-secret-0002"},
		{name: "swapped", id: testAppSecret, secret: testAppID},
		{name: "both empty", id: "", secret: ""},
		{name: "empty id", id: "", secret: testAppSecret},
		{name: "empty secret", id: testAppID, secret: ""},
		{name: "secret prefix", id: testAppID, secret: testAppSecret[:5]},
		{name: "secret longer", id: testAppID, secret: testAppSecret + "x"},
		{name: "id longer", id: testAppID + "0", secret: testAppSecret},
		{name: "case differs", id: strings.ToUpper(testAppID), secret: testAppSecret},
		{name: "trailing space", id: testAppID, secret: testAppSecret + " "},
		{name: "NUL suffix", id: testAppID + "\x00", secret: testAppSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := svc.CheckApp(tt.id, tt.secret)
			if tt.wantAuthorize {
				if err != nil {
					t.Errorf("CheckApp() error = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, zen7.ErrUnauthorized) {
				t.Errorf("CheckApp(%q, %q) error = %v, want ErrUnauthorized", tt.id, tt.secret, err)
			}
			if err != nil && (strings.Contains(err.Error(), testAppSecret) || strings.Contains(err.Error(), testAppID)) {
				t.Errorf("CheckApp() error %q reveals the credentials", err)
			}
		})
	}
}

func TestServiceCheckAppUnconfigured(t *testing.T) {
	t.Parallel()
	// A Service built without credentials must not accept empty ones.
	svc := lifecycle.NewService(lifecycle.Config{}, newMemStore(), &fakeAccounts{}, newFakeChecker(), slog.New(slog.DiscardHandler))
	if err := svc.CheckApp("", ""); !errors.Is(err, zen7.ErrUnauthorized) {
		t.Errorf(`CheckApp("", "") error = %v, want ErrUnauthorized`, err)
	}
}

var instanceIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestServiceInstall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		enabled   *bool
		wantState zen7.State
	}{
		{name: "enabled absent", enabled: nil, wantState: zen7.StateDisabled},
		{name: "enabled false", enabled: boolPtr(false), wantState: zen7.StateDisabled},
		{name: "enabled true", enabled: boolPtr(true), wantState: zen7.StateEnabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			const key = "sales-api-key-1"
			e.accounts.set(key, zen7.Account{GroupID: "g1", AccountID: "a1", IntegrationID: "i1", Language: "es"}, nil)
			before := time.Now()
			created, err := e.svc.Install(ctx, lifecycle.InstallRequest{APIKey: key, Enabled: tt.enabled})
			if err != nil || !created {
				t.Fatalf("Install() = %v, %v; want true, nil", created, err)
			}
			inst := e.store.byKey(t, key)
			if inst.State != tt.wantState {
				t.Errorf("State = %q, want %q", inst.State, tt.wantState)
			}
			if diff := cmp.Diff(zen7.DefaultSettings(), inst.Settings); diff != "" {
				t.Errorf("Settings mismatch (-want +got):\n%s", diff)
			}
			if !instanceIDPattern.MatchString(inst.ID) {
				t.Errorf("ID = %q, want 24 hex characters", inst.ID)
			}
			if inst.InstalledAt.Before(before.Add(-time.Second)) || inst.InstalledAt.After(time.Now().Add(time.Second)) {
				t.Errorf("InstalledAt = %v, want about now", inst.InstalledAt)
			}
			if !inst.Account.Resolved() || inst.Account.GroupID != "g1" || inst.Account.ResolvedAt.IsZero() {
				t.Errorf("Account = %+v, want the looked-up account, resolved", inst.Account)
			}

			// Sales repeats the call: same instance, untouched, created=false.
			again, err := e.svc.Install(ctx, lifecycle.InstallRequest{APIKey: key, Enabled: boolPtr(tt.wantState != zen7.StateEnabled)})
			if err != nil || again {
				t.Fatalf("repeated Install() = %v, %v; want false, nil", again, err)
			}
			if got := e.store.byKey(t, key); got.ID != inst.ID || got.State != inst.State || got.Version != inst.Version {
				t.Errorf("repeated Install() changed the instance: %+v, was %+v", got, inst)
			}
			if n := e.store.count(); n != 1 {
				t.Errorf("store holds %d instances, want 1", n)
			}
		})
	}
}

func TestServiceInstallDistinctIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seen := map[string]bool{}
	for i := range 20 {
		inst := e.install(t, fmt.Sprintf("key-%d", i))
		if seen[inst.ID] {
			t.Fatalf("instance id %s given twice", inst.ID)
		}
		seen[inst.ID] = true
	}
}

func TestServiceInstallConcurrentSameKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 16
	var wg sync.WaitGroup
	results := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			created, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: "same-key"})
			results <- created
			errs <- err
		})
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Install() error = %v, want nil", err)
		}
	}
	createdCount := 0
	for c := range results {
		if c {
			createdCount++
		}
	}
	if createdCount != 1 {
		t.Errorf("%d installs reported created, want exactly 1", createdCount)
	}
	if got := e.store.count(); got != 1 {
		t.Errorf("store holds %d instances, want 1", got)
	}
}

func TestServiceInstallInvalidAPIKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
	}{
		{name: "empty", key: ""},
		{name: "space inside", key: "abc def"},
		{name: "only a space", key: " "},
		{name: "leading space", key: " abc"},
		{name: "tab", key: "abc\tdef"},
		{name: "newline", key: "abc\n"},
		{name: "NUL", key: "abc\x00"},
		{name: "DEL", key: "abc\x7f"},
		{name: "non-ASCII", key: "clé-api"},
		{name: "non-ASCII letters only", key: "ключ"},
		{name: "invalid UTF-8", key: "abc\xff"},
		{name: "too long", key: strings.Repeat("k", 513)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			created, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: tt.key, Enabled: boolPtr(true)})
			if created {
				t.Error("Install() created = true, want false")
			}
			got := fieldErrors(t, err)
			if _, ok := got["integration.apiKey"]; !ok || len(got) != 1 {
				t.Errorf("field errors = %v, want one on integration.apiKey", got)
			}
			if n := e.store.count(); n != 0 {
				t.Errorf("store holds %d instances, want 0", n)
			}
		})
	}
}

func TestServiceInstallLongestAPIKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := strings.Repeat("k", 512)
	created, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: key})
	if err != nil || !created {
		t.Fatalf("Install(512-character key) = %v, %v; want true, nil", created, err)
	}
	key = `!"#$%&'()*+,-./:;<=>?@[\]^_` + "`{|}~0Az"
	if created, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: key}); err != nil || !created {
		t.Fatalf("Install(printable ASCII key) = %v, %v; want true, nil", created, err)
	}
}

func TestServiceInstallAccountLookupFailsThenResolves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const key = "key-lookup"
	e.accounts.set(key, zen7.Account{GroupID: "g-42", AccountID: "acc-42", Language: "pt"}, errors.New("sales: 503 service unavailable"))

	created, err := e.svc.Install(ctx, lifecycle.InstallRequest{APIKey: key, Enabled: boolPtr(true)})
	if err != nil || !created {
		t.Fatalf("Install() with Sales down = %v, %v; want true, nil", created, err)
	}
	inst := e.store.byKey(t, key)
	if inst.Account.Resolved() {
		t.Fatalf("Account = %+v, want unresolved after a failed lookup", inst.Account)
	}

	// Still down: nothing resolved, no error.
	n, err := e.svc.ResolveAccounts(ctx)
	if err != nil || n != 0 {
		t.Errorf("ResolveAccounts() with Sales down = %d, %v; want 0, nil", n, err)
	}

	e.accounts.set(key, zen7.Account{GroupID: "g-42", AccountID: "acc-42", Language: "pt"}, nil)
	n, err = e.svc.ResolveAccounts(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ResolveAccounts() = %d, %v; want 1, nil", n, err)
	}
	acct := e.store.byKey(t, key).Account
	if acct.GroupID != "g-42" || acct.AccountID != "acc-42" || acct.Language != "pt" || acct.ResolvedAt.IsZero() {
		t.Errorf("Account = %+v, want the looked-up account with ResolvedAt", acct)
	}

	n, err = e.svc.ResolveAccounts(ctx)
	if err != nil || n != 0 {
		t.Errorf("second ResolveAccounts() = %d, %v; want 0, nil", n, err)
	}
}

// TestServiceResolveAccountsDoesNotStarve: 100 instances whose lookup keeps failing (Sales
// refuses API calls from a disabled App) must not hide a later instance from the retry.
func TestServiceResolveAccountsDoesNotStarve(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	refused := errors.New("sales: 403 the App is disabled")
	for i := range 100 {
		key := fmt.Sprintf("disabled-%03d", i)
		e.accounts.set(key, zen7.Account{}, refused)
		if _, err := e.svc.Install(ctx, lifecycle.InstallRequest{APIKey: key, Enabled: boolPtr(false)}); err != nil {
			t.Fatal(err)
		}
	}
	e.accounts.set("late", zen7.Account{GroupID: "g-late"}, errors.New("sales: 503"))
	e.install(t, "late")
	e.accounts.set("late", zen7.Account{GroupID: "g-late"}, nil) // Sales is back for it

	for range 5 {
		if _, err := e.svc.ResolveAccounts(ctx); err != nil {
			t.Fatalf("ResolveAccounts() error = %v", err)
		}
	}
	if !e.store.byKey(t, "late").Account.Resolved() {
		t.Fatalf("after 5 passes the 101st pending instance was never retried (%d lookups since install) "+
			"because the first 100 keep failing", e.accounts.callsFor("late")-1)
	}
}

func TestServiceInstallAccountLookupIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // AccountLookupTimeout: 200ms
	e.accounts.block = true
	start := time.Now()
	created, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: "key-slow"})
	if err != nil || !created {
		t.Fatalf("Install() with a hanging Sales = %v, %v; want true, nil", created, err)
	}
	if d := time.Since(start); d > 20*time.Second { // a hanging lookup would never return
		t.Errorf("Install() took %v with a hanging account lookup, want about the lookup timeout", d)
	}
	if e.store.byKey(t, "key-slow").Account.Resolved() {
		t.Error("Account resolved, want pending")
	}
}

func TestServiceInstallAfterUninstallIsFresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const key = "key-reinstall"
	old := e.install(t, key)
	e.configure(t, key, configured())
	if err := e.svc.Uninstall(ctx, key); err != nil {
		t.Fatalf("Uninstall() error = %v", err)
	}
	created, err := e.svc.Install(ctx, lifecycle.InstallRequest{APIKey: key})
	if err != nil || !created {
		t.Fatalf("Install() after uninstall = %v, %v; want true, nil", created, err)
	}
	fresh := e.store.byKey(t, key)
	if fresh.ID == old.ID {
		t.Errorf("reinstall reused instance id %s", old.ID)
	}
	if diff := cmp.Diff(zen7.DefaultSettings(), fresh.Settings); diff != "" {
		t.Errorf("reinstalled settings mismatch (-want +got):\n%s", diff)
	}
	if fresh.State != zen7.StateDisabled {
		t.Errorf("State = %q, want %q", fresh.State, zen7.StateDisabled)
	}
	if prev, _ := e.store.byID(old.ID); prev.State != zen7.StateUninstalled {
		t.Errorf("old instance State = %q, want it kept, uninstalled", prev.State)
	}
}

func TestServiceInstallStoreError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	boom := errors.New("database down")
	e.store.failLookups = boom
	_, err := e.svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: "key"})
	if !errors.Is(err, boom) {
		t.Errorf("Install() error = %v, want it to wrap the store error", err)
	}
	if errors.Is(err, zen7.ErrUnauthorized) || errors.Is(err, zen7.ErrInvalid) {
		t.Errorf("Install() error = %v, want neither unauthorized nor invalid", err)
	}
}

func TestServiceUnknownAPIKeyIsUnauthorized(t *testing.T) {
	t.Parallel()
	patch := mustParse(t, `{"source":"x"}`)
	hooks := []struct {
		name string
		call func(svc *lifecycle.Service, key string) error
	}{
		{name: "form", call: func(svc *lifecycle.Service, key string) error {
			_, err := svc.Form(context.Background(), key)
			return err
		}},
		{name: "settings read", call: func(svc *lifecycle.Service, key string) error {
			_, err := svc.Settings(context.Background(), key)
			return err
		}},
		{name: "settings update", call: func(svc *lifecycle.Service, key string) error {
			_, err := svc.UpdateSettings(context.Background(), key, patch)
			return err
		}},
		{name: "enable", call: func(svc *lifecycle.Service, key string) error {
			_, err := svc.SetEnabled(context.Background(), key, true)
			return err
		}},
		{name: "disable", call: func(svc *lifecycle.Service, key string) error {
			_, err := svc.SetEnabled(context.Background(), key, false)
			return err
		}},
		{name: "api key refresh", call: func(svc *lifecycle.Service, key string) error {
			return svc.RefreshAPIKey(context.Background(), key, "brand-new-key")
		}},
		{name: "uninstall", call: func(svc *lifecycle.Service, key string) error {
			return svc.Uninstall(context.Background(), key)
		}},
	}
	keys := []struct {
		name  string
		setup func(tb testing.TB, e *env) string
	}{
		{name: "empty", setup: func(testing.TB, *env) string { return "" }},
		{name: "never installed", setup: func(testing.TB, *env) string { return "unknown-key" }},
		{name: "refreshed away", setup: func(tb testing.TB, e *env) string {
			e.install(tb, "old-key")
			if err := e.svc.RefreshAPIKey(context.Background(), "old-key", "new-key"); err != nil {
				tb.Fatal(err)
			}
			return "old-key"
		}},
		{name: "uninstalled", setup: func(tb testing.TB, e *env) string {
			e.install(tb, "gone-key")
			if err := e.svc.Uninstall(context.Background(), "gone-key"); err != nil {
				tb.Fatal(err)
			}
			return "gone-key"
		}},
		{name: "prefix of a live key", setup: func(tb testing.TB, e *env) string {
			e.install(tb, "live-key-123")
			return "live-key"
		}},
	}
	for _, h := range hooks {
		for _, k := range keys {
			t.Run(h.name+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				key := k.setup(t, e)
				auditBefore := len(e.store.auditEntries())
				versions := map[string]int64{}
				for _, id := range e.instanceIDs() {
					inst, _ := e.store.byID(id)
					versions[id] = inst.Version
				}
				err := h.call(e.svc, key)
				if !errors.Is(err, zen7.ErrUnauthorized) {
					t.Fatalf("error = %v, want ErrUnauthorized", err)
				}
				for id, v := range versions {
					if inst, _ := e.store.byID(id); inst.Version != v {
						t.Errorf("instance %s changed (version %d → %d)", id, v, inst.Version)
					}
				}
				if got := len(e.store.auditEntries()); got != auditBefore {
					t.Errorf("audit grew from %d to %d entries for a call that names no instance", auditBefore, got)
				}
				if calls := e.checker.callsMade(); len(calls) != 0 {
					t.Errorf("credential checker called %v", calls)
				}
			})
		}
	}
}

func (e *env) instanceIDs() []string {
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	ids := make([]string, 0, len(e.store.instances))
	for id := range e.store.instances {
		ids = append(ids, id)
	}
	return ids
}

func TestServiceUpdateSettingsCredentialCheck(t *testing.T) {
	t.Parallel()
	const (
		storedID     = "client-1"
		storedSecret = "stored-secret-value"
	)
	noCreds := with(configured(), func(s *zen7.Settings) { s.ClientID, s.ClientSecret = "", "" })
	tests := []struct {
		name      string
		stored    zen7.Settings
		body      string
		wantCalls [][2]string
		want      zen7.Settings
	}{
		{
			name:      "both set the first time",
			stored:    noCreds,
			body:      `{"clientId":"c-new","clientSecret":"s-new"}`,
			wantCalls: [][2]string{{"c-new", "s-new"}},
			want:      with(noCreds, func(s *zen7.Settings) { s.ClientID, s.ClientSecret = "c-new", "s-new" }),
		},
		{
			name:   "only the id, no secret yet",
			stored: noCreds,
			body:   `{"clientId":"c-new"}`,
			want:   with(noCreds, func(s *zen7.Settings) { s.ClientID = "c-new" }),
		},
		{
			name:   "only the secret, no id yet",
			stored: noCreds,
			body:   `{"clientSecret":"s-new"}`,
			want:   with(noCreds, func(s *zen7.Settings) { s.ClientSecret = "s-new" }),
		},
		{
			name:      "new secret with the stored id",
			stored:    configured(),
			body:      `{"clientSecret":"s-new"}`,
			wantCalls: [][2]string{{storedID, "s-new"}},
			want:      with(configured(), func(s *zen7.Settings) { s.ClientSecret = "s-new" }),
		},
		{
			name:      "new id with the stored secret",
			stored:    configured(),
			body:      `{"clientId":"c-new","clientSecret":"` + zen7.SecretMask + `"}`,
			wantCalls: [][2]string{{"c-new", storedSecret}},
			want:      with(configured(), func(s *zen7.Settings) { s.ClientID = "c-new" }),
		},
		{
			name:   "same id and mask: unchanged, not checked",
			stored: configured(),
			body:   `{"clientId":"` + storedID + `","clientSecret":"` + zen7.SecretMask + `"}`,
			want:   configured(),
		},
		{
			name:   "same id and same secret: unchanged, not checked",
			stored: configured(),
			body:   `{"clientId":"` + storedID + `","clientSecret":"` + storedSecret + `"}`,
			want:   configured(),
		},
		{
			name:   "unrelated field",
			stored: configured(),
			body:   `{"source":"Web","autoForward":false}`,
			want:   with(configured(), func(s *zen7.Settings) { s.Source, s.AutoForward = "Web", false }),
		},
		{
			name:   "id cleared",
			stored: configured(),
			body:   `{"clientId":null}`,
			want:   with(configured(), func(s *zen7.Settings) { s.ClientID = "" }),
		},
		{
			name:   "whole view sent back",
			stored: configured(),
			body:   viewJSON(t, configured()),
			want:   configured(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.install(t, "key")
			e.configure(t, "key", tt.stored)
			got, err := e.svc.UpdateSettings(context.Background(), "key", mustParse(t, tt.body))
			if err != nil {
				t.Fatalf("UpdateSettings() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("returned settings mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, e.store.byKey(t, "key").Settings); diff != "" {
				t.Errorf("stored settings mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCalls, e.checker.callsMade()); diff != "" {
				t.Errorf("checker calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceUpdateSettingsCredentialRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		checkerErr error
		check      func(t *testing.T, err error)
	}{
		{
			name:       "rejected",
			checkerErr: fmt.Errorf("seventargets: token: 401: %w", zen7.ErrInvalid),
			check: func(t *testing.T, err error) {
				got := fieldErrors(t, err)
				if _, ok := got["clientSecret"]; !ok || len(got) != 1 {
					t.Errorf("field errors = %v, want one on clientSecret", got)
				}
				if errors.Is(err, zen7.ErrUpstream) {
					t.Errorf("error = %v also matches ErrUpstream", err)
				}
			},
		},
		{
			name:       "unreachable",
			checkerErr: fmt.Errorf("seventargets: token: %w", context.DeadlineExceeded),
			check: func(t *testing.T, err error) {
				if !errors.Is(err, zen7.ErrUpstream) {
					t.Errorf("error = %v, want ErrUpstream", err)
				}
				if errors.Is(err, zen7.ErrInvalid) {
					t.Errorf("error = %v also matches ErrInvalid", err)
				}
			},
		},
		{
			name:       "upstream error from the checker",
			checkerErr: fmt.Errorf("seventargets: token: 503: %w", zen7.ErrUpstream),
			check: func(t *testing.T, err error) {
				if !errors.Is(err, zen7.ErrUpstream) {
					t.Errorf("error = %v, want ErrUpstream", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.install(t, "key")
			before := e.configure(t, "key", configured())
			e.checker.err = tt.checkerErr
			const newSecret = "rejected-secret-value"
			_, err := e.svc.UpdateSettings(context.Background(), "key",
				mustParse(t, `{"clientSecret":"`+newSecret+`","source":"Changed"}`))
			tt.check(t, err)
			if err != nil && strings.Contains(err.Error(), newSecret) {
				t.Errorf("error %q contains the secret", err)
			}
			after := e.store.byKey(t, "key")
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("instance changed although nothing may be saved (-before +after):\n%s", diff)
			}
			if n := e.store.replaces(); n != 0 {
				t.Errorf("ReplaceSettings called %d times, want 0", n)
			}
			if got := len(e.checker.callsMade()); got != 1 {
				t.Errorf("checker called %d times, want 1", got)
			}
		})
	}
}

func TestServiceUpdateSettingsInvalidPatchIsNotChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.install(t, "key")
	before := e.configure(t, "key", configured())
	_, err := e.svc.UpdateSettings(context.Background(), "key",
		mustParse(t, `{"clientId":"c-new","clientSecret":"s-new","assistantEmail":"nope"}`))
	got := fieldErrors(t, err)
	if _, ok := got["assistantEmail"]; !ok {
		t.Errorf("field errors = %v, want one on assistantEmail", got)
	}
	if calls := e.checker.callsMade(); len(calls) != 0 {
		t.Errorf("checker called %v for an invalid patch", calls)
	}
	if diff := cmp.Diff(before, e.store.byKey(t, "key")); diff != "" {
		t.Errorf("instance changed (-before +after):\n%s", diff)
	}
}

func TestServiceUpdateSettingsRetriesOnConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst := e.install(t, "key")
	e.configure(t, "key", configured())
	// Another hook changes the instance between this update's read and its write, once.
	e.store.beforeReplace = func(call int) {
		if call == 1 {
			e.store.mutate(inst.ID, func(i *zen7.Instance) {
				i.Settings.ScheduleName = "Set meanwhile"
				i.Settings.AutoForward = false
			})
		}
	}
	got, err := e.svc.UpdateSettings(context.Background(), "key",
		mustParse(t, `{"source":"Web","clientSecret":"s-new"}`))
	if err != nil {
		t.Fatalf("UpdateSettings() error = %v, want nil", err)
	}
	want := with(configured(), func(s *zen7.Settings) {
		s.ScheduleName = "Set meanwhile" // the other hook's change survives
		s.AutoForward = false
		s.Source = "Web" // and so does this one's
		s.ClientSecret = "s-new"
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("returned settings mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, e.store.byKey(t, "key").Settings); diff != "" {
		t.Errorf("stored settings mismatch (-want +got):\n%s", diff)
	}
	if n := e.store.replaces(); n != 2 {
		t.Errorf("ReplaceSettings called %d times, want 2", n)
	}
	// The credentials did not change between attempts: checked once.
	if diff := cmp.Diff([][2]string{{"client-1", "s-new"}}, e.checker.callsMade()); diff != "" {
		t.Errorf("checker calls mismatch (-want +got):\n%s", diff)
	}
}

func TestServiceUpdateSettingsRechecksCredentialsChangedMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst := e.install(t, "key")
	e.configure(t, "key", configured())
	e.store.beforeReplace = func(call int) {
		if call == 1 {
			e.store.mutate(inst.ID, func(i *zen7.Instance) { i.Settings.ClientSecret = "other-secret" })
		}
	}
	got, err := e.svc.UpdateSettings(context.Background(), "key", mustParse(t, `{"clientId":"c-new"}`))
	if err != nil {
		t.Fatalf("UpdateSettings() error = %v, want nil", err)
	}
	if got.ClientID != "c-new" || got.ClientSecret != "other-secret" {
		t.Errorf("credentials = %q/%q, want c-new/other-secret", got.ClientID, got.ClientSecret)
	}
	want := [][2]string{{"c-new", "stored-secret-value"}, {"c-new", "other-secret"}}
	if diff := cmp.Diff(want, e.checker.callsMade()); diff != "" {
		t.Errorf("checker calls mismatch (-want +got):\n%s", diff)
	}
}

func TestServiceUpdateSettingsGivesUpOnEndlessConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst := e.install(t, "key")
	e.store.beforeReplace = func(int) {
		e.store.mutate(inst.ID, func(*zen7.Instance) {})
	}
	_, err := e.svc.UpdateSettings(context.Background(), "key", mustParse(t, `{"source":"Web"}`))
	if !errors.Is(err, zen7.ErrConflict) {
		t.Fatalf("UpdateSettings() error = %v, want ErrConflict", err)
	}
	if n := e.store.replaces(); n < 2 || n > 100 {
		t.Errorf("ReplaceSettings called %d times, want a few bounded retries", n)
	}
	if got := e.store.byKey(t, "key").Settings.Source; got != "" {
		t.Errorf("Source = %q, want nothing saved", got)
	}
}

func TestServiceUpdateSettingsKeyRefreshedMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst := e.install(t, "key")
	e.store.beforeReplace = func(call int) {
		if call == 1 {
			if _, err := e.store.RotateAPIKey(context.Background(), inst.ID, "key", "key-2", time.Now()); err != nil {
				t.Error(err)
			}
		}
	}
	_, err := e.svc.UpdateSettings(context.Background(), "key", mustParse(t, `{"source":"Web"}`))
	if !errors.Is(err, zen7.ErrUnauthorized) {
		t.Fatalf("UpdateSettings() error = %v, want ErrUnauthorized", err)
	}
	if got := e.store.byKey(t, "key-2").Settings.Source; got != "" {
		t.Errorf("Source = %q, want nothing saved through the old key", got)
	}
}

func TestServiceUpdateSettingsConcurrentMerges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.install(t, "key")
	bodies := []string{
		`{"clientId":"c-1"}`,
		`{"userIdentifier":"u-1"}`,
		`{"assistantEmail":"ava@example.com"}`,
		`{"scheduleName":"Seq"}`,
		`{"source":"Web"}`,
		`{"autoForward":false}`,
	}
	var wg sync.WaitGroup
	for _, b := range bodies {
		p := mustParse(t, b)
		wg.Go(func() {
			if _, err := e.svc.UpdateSettings(context.Background(), "key", p); err != nil {
				t.Errorf("UpdateSettings(%s) error = %v", b, err)
			}
		})
	}
	wg.Wait()
	want := zen7.Settings{
		ClientID: "c-1", UserIdentifier: "u-1", AssistantEmail: "ava@example.com",
		ScheduleName: "Seq", Source: "Web", AutoForward: false, StopFollowupOnClaim: true,
	}
	if diff := cmp.Diff(want, e.store.byKey(t, "key").Settings); diff != "" {
		t.Errorf("settings after concurrent updates (-want +got):\n%s", diff)
	}
}

func TestServiceSetEnabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.install(t, "key") // enabled
	for _, step := range []bool{false, false, true, true, false} {
		got, err := e.svc.SetEnabled(ctx, "key", step)
		if err != nil || got != step {
			t.Fatalf("SetEnabled(%v) = %v, %v; want %v, nil", step, got, err, step)
		}
		wantState := zen7.StateDisabled
		if step {
			wantState = zen7.StateEnabled
		}
		if s := e.store.byKey(t, "key").State; s != wantState {
			t.Errorf("after SetEnabled(%v): State = %q, want %q", step, s, wantState)
		}
	}
}

func TestServiceRefreshAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("old key stops, new key works", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		inst := e.install(t, "old")
		if err := e.svc.RefreshAPIKey(ctx, "old", "new"); err != nil {
			t.Fatalf("RefreshAPIKey() error = %v", err)
		}
		if _, err := e.svc.Settings(ctx, "old"); !errors.Is(err, zen7.ErrUnauthorized) {
			t.Errorf("Settings(old key) error = %v, want ErrUnauthorized", err)
		}
		if got := e.store.byKey(t, "new"); got.ID != inst.ID {
			t.Errorf("new key names instance %s, want %s", got.ID, inst.ID)
		}
	})

	t.Run("same key again", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.install(t, "same")
		if err := e.svc.RefreshAPIKey(ctx, "same", "same"); err != nil {
			t.Fatalf("RefreshAPIKey(same) error = %v", err)
		}
		e.store.byKey(t, "same")
	})

	t.Run("key of another instance", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.install(t, "a")
		e.install(t, "b")
		err := e.svc.RefreshAPIKey(ctx, "a", "b")
		if !errors.Is(err, zen7.ErrConflict) {
			t.Fatalf("RefreshAPIKey(a → b) error = %v, want ErrConflict", err)
		}
		e.store.byKey(t, "a")
	})

	for _, bad := range []string{"", "has space", "ключ", strings.Repeat("k", 513), "tab\t"} {
		t.Run("invalid new key "+fmt.Sprintf("%.10q", bad), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.install(t, "old")
			err := e.svc.RefreshAPIKey(ctx, "old", bad)
			got := fieldErrors(t, err)
			if _, ok := got["newApiKey"]; !ok || len(got) != 1 {
				t.Errorf("field errors = %v, want one on newApiKey", got)
			}
			e.store.byKey(t, "old") // still works
		})
	}
}

func TestServiceUninstall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	inst := e.install(t, "key")
	e.configure(t, "key", configured())
	if err := e.svc.Uninstall(ctx, "key"); err != nil {
		t.Fatalf("Uninstall() error = %v", err)
	}
	got, ok := e.store.byID(inst.ID)
	if !ok || got.State != zen7.StateUninstalled {
		t.Fatalf("instance after uninstall = %+v, want kept and uninstalled", got)
	}
	if err := e.svc.Uninstall(ctx, "key"); !errors.Is(err, zen7.ErrUnauthorized) {
		t.Errorf("second Uninstall() error = %v, want ErrUnauthorized", err)
	}
}

func TestServiceSettingsReadAndForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.install(t, "key")
	e.configure(t, "key", configured())
	s, err := e.svc.Settings(ctx, "key")
	if err != nil {
		t.Fatalf("Settings() error = %v", err)
	}
	if diff := cmp.Diff(configured(), s); diff != "" {
		t.Errorf("Settings() mismatch (-want +got):\n%s", diff)
	}
	f, err := e.svc.Form(ctx, "key")
	if err != nil {
		t.Fatalf("Form() error = %v", err)
	}
	if diff := cmp.Diff(lifecycle.SettingsFormWith(e.checker.assistants), f); diff != "" {
		t.Errorf("Form() mismatch (-want +got):\n%s", diff)
	}
}

// TestServiceFormOffersTheAssistants: the form is per instance. With stored credentials it
// offers the assistants 7Targets lists for them as the choices of assistantEmail; without
// credentials, or when 7Targets cannot say, assistantEmail is a text input.
func TestServiceFormOffersTheAssistants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name        string
		configure   bool
		listErr     error
		wantOptions []lifecycle.FormOption // nil: a text input
		wantListing bool
	}{
		{name: "configured", configure: true, wantListing: true,
			wantOptions: []lifecycle.FormOption{{Value: "ava@example.com", Label: "Ava <ava@example.com>"}, {Value: "bo@example.com", Label: "Bo <bo@example.com>"}}},
		{name: "7Targets cannot say", configure: true, listErr: zen7.ErrUpstream, wantListing: true},
		{name: "no credentials yet", configure: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.install(t, "key")
			if tt.configure {
				e.configure(t, "key", configured())
			}
			e.checker.mu.Lock()
			e.checker.err, e.checker.listings = tt.listErr, 0
			e.checker.mu.Unlock()
			f, err := e.svc.Form(ctx, "key")
			if err != nil {
				t.Fatal(err)
			}
			var in lifecycle.FormInput
			for _, sec := range f.Sections {
				for _, i := range sec.Inputs {
					if i.Name == "assistantEmail" {
						in = i
					}
				}
			}
			switch {
			case tt.wantOptions == nil && (in.Type != "text" || in.CustomProps != nil):
				t.Errorf("assistantEmail is %q with %v, want a text input", in.Type, in.CustomProps)
			case tt.wantOptions != nil:
				if in.Type != "select" {
					t.Errorf("assistantEmail is %q, want select", in.Type)
				}
				if diff := cmp.Diff(map[string]any{"options": tt.wantOptions}, in.CustomProps); diff != "" {
					t.Errorf("options (-want +got):\n%s", diff)
				}
			}
			e.checker.mu.Lock()
			listed := e.checker.listings > 0
			e.checker.mu.Unlock()
			if listed != tt.wantListing {
				t.Errorf("7Targets asked for the assistants: %v, want %v", listed, tt.wantListing)
			}
		})
	}
}

// TestServiceAudit checks that every hook on a known instance leaves one audit entry naming
// the hook and its outcome, and that no entry (nor any log line) holds a secret.
func TestServiceAudit(t *testing.T) {
	t.Parallel()
	const (
		apiKey    = "secret-api-key-A1"
		newAPIKey = "secret-api-key-B2"
		otherKey  = "secret-api-key-C3"
		clientSec = "secret-client-value-D4"
	)
	secrets := []string{apiKey, newAPIKey, otherKey, clientSec, "stored-secret-value", testAppSecret}
	tests := []struct {
		name        string
		setup       func(tb testing.TB, e *env)
		call        func(svc *lifecycle.Service) error
		wantHook    string
		wantOutcome string
		wantDetail  string // a fragment, if any
	}{
		{
			name:        "install",
			call:        installCall(otherKey, true),
			wantHook:    lifecycle.HookInstall,
			wantOutcome: "ok",
			wantDetail:  "enabled",
		},
		{
			name:        "install repeated",
			call:        installCall(apiKey, false),
			wantHook:    lifecycle.HookInstall,
			wantOutcome: "ok",
			wantDetail:  "already",
		},
		{
			name: "settings form",
			call: func(svc *lifecycle.Service) error {
				_, err := svc.Form(context.Background(), apiKey)
				return err
			},
			wantHook:    lifecycle.HookSettingsForm,
			wantOutcome: "ok",
		},
		{
			name: "settings read",
			call: func(svc *lifecycle.Service) error {
				_, err := svc.Settings(context.Background(), apiKey)
				return err
			},
			wantHook:    lifecycle.HookSettingsRead,
			wantOutcome: "ok",
		},
		{
			name:        "settings update",
			call:        updateCall(apiKey, `{"clientSecret":"`+clientSec+`","source":"Web"}`),
			wantHook:    lifecycle.HookSettingsUpdate,
			wantOutcome: "ok",
			wantDetail:  "clientSecret",
		},
		{
			name:        "settings update invalid",
			call:        updateCall(apiKey, `{"clientSecret":"`+clientSec+`","assistantEmail":"nope"}`),
			wantHook:    lifecycle.HookSettingsUpdate,
			wantOutcome: "invalid",
			wantDetail:  "assistantEmail",
		},
		{
			name:        "settings update rejected credentials",
			setup:       func(_ testing.TB, e *env) { e.checker.err = zen7.ErrInvalid },
			call:        updateCall(apiKey, `{"clientSecret":"`+clientSec+`"}`),
			wantHook:    lifecycle.HookSettingsUpdate,
			wantOutcome: "invalid",
		},
		{
			name:        "settings update 7Targets down",
			setup:       func(_ testing.TB, e *env) { e.checker.err = errors.New("dial tcp: connection refused " + clientSec) },
			call:        updateCall(apiKey, `{"clientSecret":"`+clientSec+`"}`),
			wantHook:    lifecycle.HookSettingsUpdate,
			wantOutcome: "upstream_unavailable",
		},
		{
			name: "disable",
			call: func(svc *lifecycle.Service) error {
				_, err := svc.SetEnabled(context.Background(), apiKey, false)
				return err
			},
			wantHook:    lifecycle.HookEnabled,
			wantOutcome: "ok",
			wantDetail:  "disabled",
		},
		{
			name: "enable",
			call: func(svc *lifecycle.Service) error {
				_, err := svc.SetEnabled(context.Background(), apiKey, true)
				return err
			},
			wantHook:    lifecycle.HookEnabled,
			wantOutcome: "ok",
			wantDetail:  "enabled",
		},
		{
			name: "api key refresh",
			call: func(svc *lifecycle.Service) error {
				return svc.RefreshAPIKey(context.Background(), apiKey, newAPIKey)
			},
			wantHook:    lifecycle.HookAPIKeyRefresh,
			wantOutcome: "ok",
		},
		{
			name: "api key refresh invalid",
			call: func(svc *lifecycle.Service) error {
				return svc.RefreshAPIKey(context.Background(), apiKey, newAPIKey+" x")
			},
			wantHook:    lifecycle.HookAPIKeyRefresh,
			wantOutcome: "invalid",
		},
		{
			name:  "api key refresh conflict",
			setup: func(tb testing.TB, e *env) { e.install(tb, otherKey) },
			call: func(svc *lifecycle.Service) error {
				return svc.RefreshAPIKey(context.Background(), apiKey, otherKey)
			},
			wantHook:    lifecycle.HookAPIKeyRefresh,
			wantOutcome: "conflict",
		},
		{
			name: "uninstall",
			call: func(svc *lifecycle.Service) error {
				return svc.Uninstall(context.Background(), apiKey)
			},
			wantHook:    lifecycle.HookUninstall,
			wantOutcome: "ok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			inst := e.install(t, apiKey)
			e.configure(t, apiKey, configured())
			if tt.setup != nil {
				tt.setup(t, e)
			}
			before := len(e.store.auditEntries())
			err := tt.call(e.svc)
			if (err == nil) != (tt.wantOutcome == "ok") {
				t.Fatalf("hook error = %v, want outcome %q", err, tt.wantOutcome)
			}
			entries := e.store.auditEntries()
			if got := len(entries) - before; got != 1 {
				t.Fatalf("hook appended %d audit entries, want 1: %+v", got, entries[before:])
			}
			got := entries[len(entries)-1]
			if got.Hook != tt.wantHook || got.Outcome != tt.wantOutcome {
				t.Errorf("audit entry hook/outcome = %q/%q, want %q/%q", got.Hook, got.Outcome, tt.wantHook, tt.wantOutcome)
			}
			if tt.name != "install" && got.InstanceID != inst.ID {
				t.Errorf("audit entry instance = %q, want %q", got.InstanceID, inst.ID)
			}
			if got.InstanceID == "" {
				t.Error("audit entry has no instance id")
			}
			if got.At.IsZero() {
				t.Error("audit entry has no time")
			}
			if !strings.Contains(got.Detail, tt.wantDetail) {
				t.Errorf("audit detail = %q, want it to contain %q", got.Detail, tt.wantDetail)
			}
			logs := e.logs.String()
			for _, s := range secrets {
				if strings.Contains(got.Detail, s) {
					t.Errorf("audit detail %q contains secret %q", got.Detail, s)
				}
				if strings.Contains(logs, s) {
					t.Errorf("logs contain secret %q:\n%s", s, logs)
				}
			}
		})
	}
}

func installCall(key string, enabled bool) func(*lifecycle.Service) error {
	return func(svc *lifecycle.Service) error {
		_, err := svc.Install(context.Background(), lifecycle.InstallRequest{APIKey: key, Enabled: &enabled})
		return err
	}
}

func updateCall(key, body string) func(*lifecycle.Service) error {
	return func(svc *lifecycle.Service) error {
		p, err := lifecycle.ParseSettingsPatch([]byte(body))
		if err != nil {
			return fmt.Errorf("test setup: %w", err)
		}
		_, err = svc.UpdateSettings(context.Background(), key, p)
		return err
	}
}

func TestAccountSyncRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.accounts.set("key", zen7.Account{}, errors.New("sales down"))
	e.install(t, "key")
	e.accounts.set("key", zen7.Account{GroupID: "g"}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	as := &lifecycle.AccountSync{Service: e.svc, Logger: slog.New(slog.DiscardHandler), Interval: 10 * time.Millisecond}
	go func() { done <- as.Run(ctx) }()

	deadline := time.Now().Add(5 * time.Second)
	for !e.store.byKey(t, "key").Account.Resolved() {
		if time.Now().After(deadline) {
			t.Fatal("AccountSync did not resolve the pending account")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() error = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run() did not return after cancel")
	}
}

func TestInstanceLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	inst := zen7.Instance{ID: "inst-1", State: zen7.StateEnabled, APIKey: "api-key-secret-1", Settings: configured()}
	logger.Info("msg", "instance", inst)
	logger.Info("msg", "ptr", &inst)
	out := buf.String()
	for _, s := range []string{inst.APIKey, inst.Settings.ClientSecret} {
		if strings.Contains(out, s) {
			t.Errorf("log output contains secret %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "inst-1") {
		t.Errorf("log output lacks the instance id:\n%s", out)
	}
}

// TestServiceStoreFailures checks each hook's answer when the store fails or loses the
// instance between the hook's lookup and its write, and the audit entry it leaves.
func TestServiceStoreFailures(t *testing.T) {
	t.Parallel()
	boom := errors.New("store: connection reset")
	tests := []struct {
		name        string
		op          string
		err         error
		call        func(svc *lifecycle.Service) error
		wantErr     error
		wantOutcome string // "" when the hook leaves no entry
	}{
		{
			name: "enable, store down", op: "SetState", err: boom,
			call: func(svc *lifecycle.Service) error {
				_, err := svc.SetEnabled(context.Background(), "key", false)
				return err
			},
			wantErr: boom, wantOutcome: "error",
		},
		{
			name: "enable, uninstalled meanwhile", op: "SetState", err: zen7.ErrNotFound,
			call: func(svc *lifecycle.Service) error {
				_, err := svc.SetEnabled(context.Background(), "key", false)
				return err
			},
			wantErr: zen7.ErrUnauthorized, wantOutcome: "unauthorized",
		},
		{
			name: "uninstall, store down", op: "Uninstall", err: boom,
			call:    func(svc *lifecycle.Service) error { return svc.Uninstall(context.Background(), "key") },
			wantErr: boom, wantOutcome: "error",
		},
		{
			name: "uninstall, refreshed meanwhile", op: "Uninstall", err: zen7.ErrNotFound,
			call:    func(svc *lifecycle.Service) error { return svc.Uninstall(context.Background(), "key") },
			wantErr: zen7.ErrUnauthorized, wantOutcome: "unauthorized",
		},
		{
			name: "refresh, store down", op: "RotateAPIKey", err: boom,
			call:    func(svc *lifecycle.Service) error { return svc.RefreshAPIKey(context.Background(), "key", "key-2") },
			wantErr: boom, wantOutcome: "error",
		},
		{
			name: "refresh, uninstalled meanwhile", op: "RotateAPIKey", err: zen7.ErrNotFound,
			call:    func(svc *lifecycle.Service) error { return svc.RefreshAPIKey(context.Background(), "key", "key-2") },
			wantErr: zen7.ErrUnauthorized, wantOutcome: "unauthorized",
		},
		{
			name: "settings update, store down", op: "ReplaceSettings", err: boom,
			call:    updateCall("key", `{"source":"Web"}`),
			wantErr: boom, wantOutcome: "error",
		},
		{
			name: "install, store down", op: "CreateInstance", err: boom,
			call:    installCall("key-new", true),
			wantErr: boom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.install(t, "key")
			before := len(e.store.auditEntries())
			e.store.failWith(tt.op, tt.err)
			err := tt.call(e.svc)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == boom && (errors.Is(err, zen7.ErrUnauthorized) || errors.Is(err, zen7.ErrInvalid)) {
				t.Errorf("error = %v, a store failure must not look like the caller's fault", err)
			}
			entries := e.store.auditEntries()[before:]
			if tt.wantOutcome == "" {
				if len(entries) != 0 {
					t.Errorf("audit entries = %+v, want none", entries)
				}
				return
			}
			if len(entries) != 1 || entries[0].Outcome != tt.wantOutcome {
				t.Errorf("audit entries = %+v, want one with outcome %q", entries, tt.wantOutcome)
			}
		})
	}
}

func TestServiceAuditFailureDoesNotFailTheHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.install(t, "key")
	e.store.failWith("RecordAudit", errors.New("audit collection unavailable"))
	if _, err := e.svc.SetEnabled(context.Background(), "key", false); err != nil {
		t.Fatalf("SetEnabled() error = %v, want nil although the audit failed", err)
	}
	if got := e.store.byKey(t, "key").State; got != zen7.StateDisabled {
		t.Errorf("State = %q, want disabled", got)
	}
	if !strings.Contains(e.logs.String(), "audit") {
		t.Errorf("the audit failure was not logged:\n%s", e.logs.String())
	}
}

func TestServiceAccountRecordFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.accounts.set("key", zen7.Account{GroupID: "g"}, nil)
	e.store.failWith("SetAccount", errors.New("write failed"))
	e.install(t, "key")
	if e.store.byKey(t, "key").Account.Resolved() {
		t.Fatal("Account resolved although recording it failed")
	}
	if n, err := e.svc.ResolveAccounts(ctx); err != nil || n != 0 {
		t.Errorf("ResolveAccounts() = %d, %v; want 0, nil while recording fails", n, err)
	}
	e.store.failWith("SetAccount", nil)
	if n, err := e.svc.ResolveAccounts(ctx); err != nil || n != 1 {
		t.Errorf("ResolveAccounts() = %d, %v; want 1, nil", n, err)
	}

	boom := errors.New("query failed")
	e.store.failWith("InstancesWithoutAccount", boom)
	if _, err := e.svc.ResolveAccounts(ctx); !errors.Is(err, boom) {
		t.Errorf("ResolveAccounts() error = %v, want it to wrap the store error", err)
	}
}

// TestServiceReadsGroupTrees checks an instance's group tree is read with its own key at
// install and again once its account is accountRefreshAge (ten minutes) old, that the new read
// replaces the old groups, and that a failed refresh keeps what was recorded.
func TestServiceReadsGroupTrees(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const key = "key-tree"
	e.accounts.set(key, zen7.Account{GroupID: "g-top"}, nil)
	e.accounts.setTree(key, zen7.GroupTree{Root: "g-top", Groups: []string{"g-top", "g-old"}})
	inst := e.install(t, key)
	for _, g := range []string{"g-top", "g-old"} {
		if got := e.store.groupInstance(g); got != inst.ID {
			t.Fatalf("group %s serves %q after install, want %q", g, got, inst.ID)
		}
	}

	e.accounts.setTree(key, zen7.GroupTree{Root: "g-top", Groups: []string{"g-top", "g-new"}})
	if _, err := e.svc.ResolveAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.accounts.groupCallsFor(key); n != 1 {
		t.Fatalf("%d tree reads of a fresh account, want 1 (at install)", n)
	}

	later := time.Now().UTC().Add(11 * time.Minute)
	e.svc.SetClock(func() time.Time { return later })
	if _, err := e.svc.ResolveAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.store.groupInstance("g-new"); got != inst.ID {
		t.Errorf("group added in Sales serves %q after the refresh, want %q", got, inst.ID)
	}
	if got := e.store.groupInstance("g-old"); got != "" {
		t.Errorf("group removed in Sales still serves %q after the refresh", got)
	}

	e.accounts.set(key, zen7.Account{GroupID: "g-top"}, errors.New("sales: 503"))
	later = later.Add(11 * time.Minute)
	for range 2 {
		if _, err := e.svc.ResolveAccounts(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.accounts.callsFor(key); n != 3 {
		t.Errorf("%d account lookups, want 3: install, refresh, one failed refresh not retried at once", n)
	}
	acct := e.store.byKey(t, key).Account
	if !acct.Resolved() || acct.LastTriedAt.IsZero() {
		t.Errorf("account after a failed refresh = %+v, want it kept, the attempt noted", acct)
	}
	if got := e.store.groupInstance("g-new"); got != inst.ID {
		t.Errorf("group serves %q after a failed refresh, want it kept for %q", got, inst.ID)
	}
}

// TestServiceUninstallHandsGroupsBack checks that when the deeper of two nested installations
// is uninstalled, the one above reads its own tree again at once, with its own key, and serves
// the groups the deeper one held.
func TestServiceUninstallHandsGroupsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.accounts.set("key-top", zen7.Account{GroupID: "g-top"}, nil)
	e.accounts.setTree("key-top", zen7.GroupTree{Root: "g-top", Groups: []string{"g-top", "g-branch", "g-team"}})
	e.accounts.set("key-branch", zen7.Account{GroupID: "g-branch"}, nil)
	e.accounts.setTree("key-branch", zen7.GroupTree{Root: "g-branch", Parent: "g-top", Depth: 1, Groups: []string{"g-branch", "g-team"}})
	top := e.install(t, "key-top")
	branch := e.install(t, "key-branch")
	if got := e.store.groupInstance("g-team"); got != branch.ID {
		t.Fatalf("shared group serves %q, want the deeper installation %q", got, branch.ID)
	}

	reads := e.accounts.groupCallsFor("key-top")
	if err := e.svc.Uninstall(ctx, "key-branch"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g-branch", "g-team"} {
		if got := e.store.groupInstance(g); got != top.ID {
			t.Errorf("group %s serves %q after the deeper uninstall, want %q", g, got, top.ID)
		}
	}
	if n := e.accounts.groupCallsFor("key-top") - reads; n != 1 {
		t.Errorf("the installation above read its tree %d times with its own key, want 1", n)
	}
}
