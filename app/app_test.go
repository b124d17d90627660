package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/chattonic/chattonicfake"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const (
	appID     = "app-id-for-tests"
	appSecret = "app-secret-for-tests-0123456789"
	// 7Targets credentials known to the fake.
	stClientID     = "st-client"
	stClientSecret = "st-client-secret-abcdef"
	stUser         = "st-user-1"
	// signingKey is Zenvia's key for embed URLs; frameAncestors who may frame the pages.
	signingKey     = "zenvia-signing-key-for-tests"
	frameAncestors = "https://*.zenvia.com"
)

// testEnv is the App served over loopback HTTP on a fresh database, with fake Zenvia Sales and
// fake 7Targets and Chat-Tonic servers, and everything it logs captured. It runs what
// appserver runs: the worker, the webhook batcher, the backfill and the Chat-Tonic import.
type testEnv struct {
	t          testing.TB
	url        string
	db         *store.DB
	outbox     *store.Outbox
	worker     *forwarding.Worker
	subscriber *forwarding.Subscriber
	pages      *extensions.Service
	sales      *salesfake.Server
	st         *seventargetsfake.Server
	ct         *chattonicfake.Server
	instances  *store.Instances
	svc        *lifecycle.Service
	logs       *syncBuffer
	bodies     *syncBuffer // every response body, to scan for secrets
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envOption changes the App's configuration before newTestEnv builds the App.
type envOption func(*app.Config)

func newTestEnv(tb testing.TB, opts ...envOption) *testEnv {
	tb.Helper()
	return newTestEnvOn(tb, storetest.NewDB(tb), opts...)
}

// newTestEnvOn is newTestEnv on the given database, for tests that control the store itself.
func newTestEnvOn(tb testing.TB, db *store.DB, opts ...envOption) *testEnv {
	tb.Helper()
	e := &testEnv{t: tb, db: db, sales: salesfake.New(), st: seventargetsfake.New(), ct: chattonicfake.New(), logs: &syncBuffer{}, bodies: &syncBuffer{}}
	tb.Cleanup(e.sales.Close)
	tb.Cleanup(e.st.Close)
	tb.Cleanup(e.ct.Close)
	e.st.Seed()
	e.st.AddClient(stClientID, stClientSecret, stUser)

	logger := slog.New(app.LogHandler(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	e.instances = store.NewInstances(db, storetest.NewKeyring(tb))
	registry := prometheus.NewRegistry()
	metrics := forwarding.NewMetrics(registry)
	salesClient, err := sales.New(e.sales.BaseURL(), sales.WithTimeout(2*time.Second), sales.WithObserver(metrics.ObserveSalesCall))
	if err != nil {
		tb.Fatal(err)
	}
	stClient, err := seventargets.New(e.st.APIURL(), e.st.TokenURL(), seventargets.WithTimeout(2*time.Second), seventargets.WithObserver(metrics))
	if err != nil {
		tb.Fatal(err)
	}
	ctClient, err := chattonic.New(e.ct.BaseURL(), chattonic.WithTimeout(2*time.Second), chattonic.WithObserver(metrics.ObserveChatTonicCall))
	if err != nil {
		tb.Fatal(err)
	}
	e.svc = lifecycle.NewService(lifecycle.Config{AppID: appID, AppSecret: appSecret, AccountLookupTimeout: time.Second},
		e.instances, lifecycle.SalesAccounts(salesClient), lifecycle.SevenTargetsChecker(stClient), logger)
	e.svc.SetChatTonic(lifecycle.ChatTonicAccounts(ctClient))

	// The server's URL is the public base URL of the webhook callbacks, so it is made first.
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	tb.Cleanup(srv.Close)
	e.url = srv.URL

	e.outbox = store.NewOutbox(db)
	e.worker = forwarding.NewWorker(forwarding.WorkerConfig{
		PollInterval: 50 * time.Millisecond, BaseBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Lease: 10 * time.Second, JobTimeout: 3 * time.Second,
	}, e.outbox, e.instances, stClient, salesClient, metrics, logger)
	e.worker.SetRetailLeads(salesClient)
	intake := forwarding.NewIntake(e.outbox, e.instances, e.worker, metrics)
	batcher := forwarding.NewBatcher(e.outbox, 0, 0) // as the App runs it: group commit
	intake.SetEnqueuer(batcher)
	backfiller := forwarding.NewBackfiller(forwarding.BackfillConfig{Poll: 50 * time.Millisecond, Interval: 200 * time.Millisecond},
		store.NewBackfills(db), e.instances, salesClient, intake, logger)
	e.svc.SetBackfills(backfiller)
	chatTonic := forwarding.NewChatTonicPoller(forwarding.ChatTonicConfig{Interval: 200 * time.Millisecond, Tick: 50 * time.Millisecond},
		store.NewChatTonicSources(db), e.instances, ctClient, intake, metrics, logger)
	e.subscriber = forwarding.NewSubscriber(salesClient, e.instances, srv.URL, logger)
	e.svc.SetSubscriptions(e.subscriber)
	e.pages = extensions.NewService(extensions.Deps{
		Store: store.NewPages(db), Instances: e.instances, Outbox: e.outbox, Trees: e.svc, Assistants: stClient, Prospects: salesClient,
		Queue: intake, Tokens: extensions.NewTokens([]byte(signingKey), 0), Logger: logger,
	})
	cfg := app.Config{
		Logger: logger, Lifecycle: e.svc, Intake: intake, Store: db, Registry: registry,
		Extensions: e.pages, SigningKey: []byte(signingKey), PublicBaseURL: srv.URL, FrameAncestors: frameAncestors,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv.Config.Handler = app.New(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.worker.Run(ctx) }()
	batched := make(chan struct{})
	go func() { defer close(batched); _ = batcher.Run(ctx) }()
	tb.Cleanup(func() { <-batched })
	sources := make(chan struct{})
	go func() { defer close(sources); _ = backfiller.Run(ctx) }()
	imports := make(chan struct{})
	go func() { defer close(imports); _ = chatTonic.Run(ctx) }()
	tb.Cleanup(func() { <-sources; <-imports })
	tb.Cleanup(func() { cancel(); <-done })
	return e
}

// request describes one call to the App.
type request struct {
	method, path string
	apiKey       string // sent as ?api-key= when set
	body         string
	contentType  string // defaults to application/json when there is a body
	noAuth       bool
	user, pass   string // Basic credentials; default the App's own
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("response %d is not a JSON object: %q", r.status, r.body)
	}
	return m
}

// errorCode returns error.code of a contract error body, and its fields.
func (r response) errorCode(tb testing.TB) (string, map[string]any) {
	tb.Helper()
	m := r.json(tb)
	e, ok := m["error"].(map[string]any)
	if !ok {
		tb.Fatalf("status %d body %s: not the contract's error JSON", r.status, r.body)
	}
	fields, _ := e["fields"].(map[string]any)
	if msg, _ := e["message"].(string); msg == "" {
		tb.Fatalf("error without message: %s", r.body)
	}
	return e["code"].(string), fields
}

func (e *testEnv) do(r request) response {
	e.t.Helper()
	u := e.url + r.path
	if r.apiKey != "" {
		u += "?api-key=" + r.apiKey
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if !r.noAuth {
		user, pass := r.user, r.pass
		if user == "" && pass == "" {
			user, pass = appID, appSecret
		}
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	_, _ = e.bodies.Write(append(b, '\n'))
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && r.path != "/metrics" {
		e.t.Errorf("%s %s: Content-Type %q, want JSON", r.method, r.path, res.Header.Get("Content-Type"))
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *testEnv) install(apiKey string) {
	e.t.Helper()
	res := e.do(request{method: "POST", path: "/lifecycle/install", body: `{"integration":{"apiKey":"` + apiKey + `","enabled":true}}`})
	if res.status != http.StatusCreated {
		e.t.Fatalf("install %s: %d %s", apiKey, res.status, res.body)
	}
}

// configure saves valid, complete settings through the hook.
func (e *testEnv) configure(apiKey string) {
	e.t.Helper()
	res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: apiKey, body: `{"clientId":"` + stClientID +
		`","clientSecret":"` + stClientSecret + `","userIdentifier":"` + stUser + `","assistantEmail":"` + seventargetsfake.SeedAssistantEmail + `"}`})
	if res.status != http.StatusOK {
		e.t.Fatalf("configure %s: %d %s", apiKey, res.status, res.body)
	}
}

func (e *testEnv) settings(apiKey string) map[string]any {
	e.t.Helper()
	res := e.do(request{method: "GET", path: "/lifecycle/settings", apiKey: apiKey})
	if res.status != http.StatusOK {
		e.t.Fatalf("read settings: %d %s", res.status, res.body)
	}
	return res.json(e.t)
}

// instance returns the stored instance for apiKey, failing if it is not live.
func (e *testEnv) instance(apiKey string) zen7.Instance {
	e.t.Helper()
	in, err := e.instances.InstanceByAPIKey(context.Background(), apiKey)
	if err != nil {
		e.t.Fatalf("instance for key: %v", err)
	}
	return in
}

// assertNoSecrets fails if any secret shows in a log line or a response body.
func (e *testEnv) assertNoSecrets(secrets ...string) {
	e.t.Helper()
	logs, bodies := e.logs.String(), e.bodies.String()
	for _, s := range append(secrets, appSecret, stClientSecret) {
		if strings.Contains(logs, s) {
			e.t.Errorf("secret %q appears in the logs", s)
		}
		if strings.Contains(bodies, s) {
			e.t.Errorf("secret %q appears in a response", s)
		}
	}
}
