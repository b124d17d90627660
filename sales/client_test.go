package sales_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
)

// testKey is distinctive so a leak into an error message cannot go unnoticed.
const testKey = "sk_live_Zx9-SECRET-4f1c2b8a7e6d5c4b3a29"

// env is a fake Sales API with one installed instance and a client of it.
type env struct {
	fake   *salesfake.Server
	client *sales.Client
	in     sales.Integration
}

func newEnv(tb testing.TB, opts ...sales.Option) env {
	tb.Helper()
	fake := salesfake.New()
	tb.Cleanup(fake.Close)
	in := fake.AddIntegration(testKey, sales.Integration{
		Name: "7Targets", ProviderKey: "7targets", Group: "Ventas", Language: "es", Account: "ACME",
		User: salesfake.NewID(),
	})
	return env{fake: fake, client: newClient(tb, fake.BaseURL(), opts...), in: in}
}

func newClient(tb testing.TB, baseURL string, opts ...sales.Option) *sales.Client {
	tb.Helper()
	c, err := sales.New(baseURL, opts...)
	if err != nil {
		tb.Fatalf("sales.New(%q): %v", baseURL, err)
	}
	return c
}

// rawServer serves h on loopback, for answers the fake does not give.
func rawServer(tb testing.TB, h http.HandlerFunc) string {
	tb.Helper()
	ts := httptest.NewServer(h)
	tb.Cleanup(ts.Close)
	return ts.URL + "/api/v1"
}

// assertNoKey fails if err's text, in any fmt verb, holds the API key.
func assertNoKey(tb testing.TB, err error) {
	tb.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(verb, err); strings.Contains(s, testKey) {
			tb.Errorf("error formatted with %s holds the API key: %s", verb, s)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		baseURL string
		wantErr bool
	}{
		{name: "production", baseURL: "https://sales.zenvia.com/api/v1"},
		{name: "trailing slash", baseURL: "https://sales.zenvia.com/api/v1/"},
		{name: "loopback http", baseURL: "http://127.0.0.1:8080/api/v1"},
		{name: "empty", baseURL: "", wantErr: true},
		{name: "no scheme", baseURL: "sales.zenvia.com/api/v1", wantErr: true},
		{name: "other scheme", baseURL: "ftp://sales.zenvia.com/api/v1", wantErr: true},
		{name: "query", baseURL: "https://sales.zenvia.com/api/v1?api-key=x", wantErr: true},
		{name: "user info", baseURL: "https://u:p@sales.zenvia.com/api/v1", wantErr: true},
		{name: "unparsable", baseURL: "http://[::1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sales.New(tt.baseURL)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("sales.New(%q) error = %v, want error: %v", tt.baseURL, err, tt.wantErr)
			}
		})
	}
}

func TestIntegration(t *testing.T) {
	t.Parallel()
	for _, asArray := range []bool{false, true} {
		t.Run(fmt.Sprintf("array=%v", asArray), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.fake.SetIntegrationArray(asArray)
			got, err := e.client.Integration(t.Context(), testKey)
			if err != nil {
				t.Fatalf("Integration: %v", err)
			}
			if diff := cmp.Diff(e.in, got); diff != "" {
				t.Errorf("Integration mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIntegrationEmptyList(t *testing.T) {
	t.Parallel()
	base := rawServer(t, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "[]")
	})
	_, err := newClient(t, base).Integration(t.Context(), testKey)
	if !errors.Is(err, sales.ErrNotFound) {
		t.Errorf("Integration of an empty list: err = %v, want ErrNotFound", err)
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.client.Subscribe(t.Context(), testKey, []string{sales.TopicProspects}, "https://app.example.com/webhooks/sales/i1?token=t"); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	reqs := e.fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("fake got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/notifications/subscriptions" {
		t.Errorf("request = %s %s, want POST /notifications/subscriptions", r.Method, r.Path)
	}
	if got := r.Query.Get("api-key"); got != testKey {
		t.Errorf("api-key = %q, want %q", got, testKey)
	}
	for h, want := range map[string]string{"Accept": "application/json", "Content-Type": "application/json"} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("request body %s: %v", r.Body, err)
	}
	want := map[string]any{"topics": []any{"prospects"}, "callbackUrl": "https://app.example.com/webhooks/sales/i1?token=t"}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("request body mismatch (-want +got):\n%s", diff)
	}
}

func TestTrailingSlashBaseURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newClient(t, e.fake.BaseURL()+"/")
	if _, err := c.Integration(t.Context(), testKey); err != nil {
		t.Fatalf("Integration with a trailing-slash base URL: %v", err)
	}
	if got := e.fake.Count(http.MethodGet, "/integration"); got != 1 {
		t.Errorf("GET /integration count = %d, want 1", got)
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.fake.AddGroup(sales.Group{Name: "acme", DisplayName: "ACME", Type: []string{"company"}})
	e.fake.AddGroup(sales.Group{ID: e.in.GroupID, Name: "ventas", DisplayName: "Ventas", Parent: root.ID, Timezone: "America/Bogota"})
	child := e.fake.AddGroup(sales.Group{Name: "norte", Parent: e.in.GroupID})

	tests := []struct {
		name string
		id   string
		want sales.Group
	}{
		{
			name: "own group",
			id:   e.in.GroupID,
			want: sales.Group{ID: e.in.GroupID, Name: "ventas", DisplayName: "Ventas", Parent: root.ID,
				Ancestors: []string{root.ID}, Descendants: []string{child.ID}, Timezone: "America/Bogota"},
		},
		{
			name: "descendant",
			id:   child.ID,
			want: sales.Group{ID: child.ID, Name: "norte", Parent: e.in.GroupID, Ancestors: []string{root.ID, e.in.GroupID}},
		},
		{
			name: "ancestor",
			id:   root.ID,
			want: sales.Group{ID: root.ID, Name: "acme", DisplayName: "ACME", Type: []string{"company"},
				Descendants: []string{e.in.GroupID, child.ID}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.client.Group(t.Context(), testKey, tt.id)
			if err != nil {
				t.Fatalf("Group: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Group mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProspect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	want := e.fake.PutProspect(testKey, sales.Prospect{
		Created:   created,
		FirstName: "Jorge", LastName: "Letona", Status: "unclaimed",
		Phones:         []string{"+54 9 11 4552 0371"},
		Emails:         []string{"jorge@example.com"},
		ContactMediums: []sales.ContactMedium{{Type: "email", Value: "jorge.work@example.com"}},
		Leads: []sales.Lead{{
			Created: created, CreatedBy: salesfake.NewID(), Source: "web", UtmSource: "google",
			ProviderKey: "webmotors", Comments: "Interested in financing", Type: "retail",
		}},
		Agents:         sales.Agents{{ID: salesfake.NewID(), FirstName: "Ana", Email: "ana@acme.example"}},
		Assigned:       created.Add(time.Hour),
		AdditionalData: json.RawMessage(`{"budget":"high"}`),
	})
	if want.ID == "" || want.GroupID != e.in.GroupID || want.AccountID != e.in.AccountID {
		t.Fatalf("PutProspect did not fill id, group and account: %+v", want)
	}

	got, err := e.client.Prospect(t.Context(), testKey, want.ID)
	if err != nil {
		t.Fatalf("Prospect: %v", err)
	}
	// The fake answers the agent as one object, as GET /prospect does: Agents reads it as a list.
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(sales.ContactMedium{}, "Raw")); diff != "" {
		t.Errorf("Prospect mismatch (-want +got):\n%s", diff)
	}
	if got, want := got.EmailAddresses(), []string{"jorge@example.com", "jorge.work@example.com"}; !cmp.Equal(got, want) {
		t.Errorf("EmailAddresses() = %q, want %q", got, want)
	}
}

func TestProspectAgentArray(t *testing.T) {
	t.Parallel()
	base := rawServer(t, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"id":"507f191e810c19729de860ea","agent":[{"id":"a1","firstName":"Ana"},{"id":"a2"}]}`)
	})
	got, err := newClient(t, base).Prospect(t.Context(), testKey, "507f191e810c19729de860ea")
	if err != nil {
		t.Fatalf("Prospect: %v", err)
	}
	want := sales.Agents{{ID: "a1", FirstName: "Ana"}, {ID: "a2"}}
	if diff := cmp.Diff(want, got.Agents); diff != "" {
		t.Errorf("Agents mismatch (-want +got):\n%s", diff)
	}
}

func TestProspectOutOfScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.fake.AddIntegration("other-key", sales.Integration{})
	p := e.fake.PutProspect("other-key", sales.Prospect{FirstName: "Eve"})
	if p.GroupID != other.GroupID {
		t.Fatalf("prospect group = %q, want %q", p.GroupID, other.GroupID)
	}
	_, err := e.client.Prospect(t.Context(), testKey, p.ID)
	if !errors.Is(err, sales.ErrNotFound) {
		t.Errorf("Prospect of another group: err = %v, want ErrNotFound", err)
	}
}

func TestSubscriptionLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	const callback = "https://app.example.com/webhooks/sales/inst1?token=abc"

	sub, err := e.client.Subscribe(ctx, testKey, []string{sales.TopicProspects}, callback)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	want := sales.Subscription{ID: sub.ID, Topics: []string{"prospects"}, CallbackURL: callback}
	if diff := cmp.Diff(want, sub); diff != "" {
		t.Errorf("Subscribe mismatch (-want +got):\n%s", diff)
	}

	list, err := e.client.Subscriptions(ctx, testKey)
	if err != nil {
		t.Fatalf("Subscriptions: %v", err)
	}
	if diff := cmp.Diff([]sales.Subscription{want}, list); diff != "" {
		t.Errorf("Subscriptions mismatch (-want +got):\n%s", diff)
	}

	if err := e.client.Unsubscribe(ctx, testKey, sub.ID); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	list, err = e.client.Subscriptions(ctx, testKey)
	if err != nil {
		t.Fatalf("Subscriptions after Unsubscribe: %v", err)
	}
	if len(list) != 0 {
		t.Errorf("Subscriptions after Unsubscribe = %+v, want none", list)
	}

	// Sales answers 404 for a subscription already gone: that is what the caller wanted.
	if err := e.client.Unsubscribe(ctx, testKey, sub.ID); err != nil {
		t.Errorf("second Unsubscribe: %v, want nil", err)
	}
	if got := e.fake.Count(http.MethodDelete, "/notifications/subscription/"+sub.ID); got != 2 {
		t.Errorf("DELETE count = %d, want 2", got)
	}
}

func TestSubscribeTwiceDeactivatesFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	first, err := e.client.Subscribe(ctx, testKey, []string{sales.TopicProspects}, "https://app.example.com/hook?token=1")
	if err != nil {
		t.Fatalf("first Subscribe: %v", err)
	}
	second, err := e.client.Subscribe(ctx, testKey, []string{sales.TopicProspects}, "https://app.example.com/hook?token=2")
	if err != nil {
		t.Fatalf("second Subscribe: %v", err)
	}
	list, err := e.client.Subscriptions(ctx, testKey)
	if err != nil {
		t.Fatalf("Subscriptions: %v", err)
	}
	if diff := cmp.Diff([]sales.Subscription{second}, list); diff != "" {
		t.Errorf("Subscriptions mismatch (-want +got):\n%s", diff)
	}
	var active []string
	for _, s := range e.fake.Subscriptions() {
		if s.Active {
			active = append(active, s.ID)
		}
	}
	if diff := cmp.Diff([]string{second.ID}, active); diff != "" {
		t.Errorf("active subscriptions mismatch (-want +got):\n%s", diff)
	}
	// Removing the replaced one is harmless.
	if err := e.client.Unsubscribe(ctx, testKey, first.ID); err != nil {
		t.Errorf("Unsubscribe of the replaced subscription: %v", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	const missing = "0123456789abcdef01234567" // well-formed, unknown
	tests := []struct {
		name       string
		setup      func(e env)
		call       func(ctx context.Context, e env) error
		wantIs     error // nil: a permanent error matching no sentinel
		wantStatus int
		retryable  bool
	}{
		{
			name: "unknown key",
			call: func(ctx context.Context, e env) error {
				_, err := e.client.Integration(ctx, testKey+"-unknown")
				return err
			},
			wantIs: sales.ErrUnauthorized, wantStatus: 401,
		},
		{
			name:   "revoked key",
			setup:  func(e env) { e.fake.RevokeKey(testKey) },
			call:   func(ctx context.Context, e env) error { _, err := e.client.Integration(ctx, testKey); return err },
			wantIs: sales.ErrUnauthorized, wantStatus: 401,
		},
		{
			name:   "refreshed-away key",
			setup:  func(e env) { e.fake.RefreshKey(testKey, "new-key") },
			call:   func(ctx context.Context, e env) error { _, err := e.client.Subscriptions(ctx, testKey); return err },
			wantIs: sales.ErrUnauthorized, wantStatus: 401,
		},
		{
			name:   "disabled instance",
			setup:  func(e env) { e.fake.SetDisabled(testKey, true) },
			call:   func(ctx context.Context, e env) error { _, err := e.client.Integration(ctx, testKey); return err },
			wantIs: sales.ErrUnauthorized, wantStatus: 403,
		},
		{
			name:   "empty key",
			call:   func(ctx context.Context, e env) error { _, err := e.client.Integration(ctx, ""); return err },
			wantIs: sales.ErrUnauthorized,
		},
		{
			name:   "unknown group",
			call:   func(ctx context.Context, e env) error { _, err := e.client.Group(ctx, testKey, missing); return err },
			wantIs: sales.ErrNotFound, wantStatus: 404,
		},
		{
			name:   "unknown prospect",
			call:   func(ctx context.Context, e env) error { _, err := e.client.Prospect(ctx, testKey, missing); return err },
			wantIs: sales.ErrNotFound, wantStatus: 404,
		},
		{
			name:   "empty prospect id",
			call:   func(ctx context.Context, e env) error { _, err := e.client.Prospect(ctx, testKey, ""); return err },
			wantIs: sales.ErrNotFound,
		},
		{
			name: "malformed id",
			call: func(ctx context.Context, e env) error {
				_, err := e.client.Prospect(ctx, testKey, "not-an-id")
				return err
			},
			wantStatus: 400,
		},
		{
			name: "subscribe without topics",
			call: func(ctx context.Context, e env) error {
				_, err := e.client.Subscribe(ctx, testKey, nil, "https://app.example.com/hook")
				return err
			},
			wantStatus: 400,
		},
		{
			name:   "500",
			setup:  func(e env) { e.fake.FailNext(1, 500) },
			call:   func(ctx context.Context, e env) error { _, err := e.client.Integration(ctx, testKey); return err },
			wantIs: sales.ErrUnavailable, wantStatus: 500, retryable: true,
		},
		{
			name:  "502 on subscribe",
			setup: func(e env) { e.fake.FailNext(1, 502) },
			call: func(ctx context.Context, e env) error {
				_, err := e.client.Subscribe(ctx, testKey, []string{"prospects"}, "https://a.example/h")
				return err
			},
			wantIs: sales.ErrUnavailable, wantStatus: 502, retryable: true,
		},
		{
			name:   "down",
			setup:  func(e env) { e.fake.SetDown(true) },
			call:   func(ctx context.Context, e env) error { return e.client.Unsubscribe(ctx, testKey, missing) },
			wantIs: sales.ErrUnavailable, wantStatus: 503, retryable: true,
		},
		{
			name:  "rate limited",
			setup: func(e env) { e.fake.RateLimit(1, time.Now().Add(30*time.Second)) },
			call: func(ctx context.Context, e env) error {
				_, err := e.client.Group(ctx, testKey, e.in.GroupID)
				return err
			},
			wantIs: sales.ErrRateLimited, wantStatus: 429, retryable: true,
		},
		{
			name:       "422",
			setup:      func(e env) { e.fake.FailNext(1, 422) },
			call:       func(ctx context.Context, e env) error { _, err := e.client.Integration(ctx, testKey); return err },
			wantStatus: 422,
		},
		{
			name:   "connection refused",
			setup:  func(e env) { e.fake.Close() },
			call:   func(ctx context.Context, e env) error { _, err := e.client.Integration(ctx, testKey); return err },
			wantIs: sales.ErrUnavailable, retryable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			err := tt.call(t.Context(), e)
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			assertNoKey(t, err)
			var apiErr *sales.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %T %v, want *sales.APIError", err, err)
			}
			if apiErr.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d (err: %v)", apiErr.Status, tt.wantStatus, err)
			}
			sentinels := []error{sales.ErrUnauthorized, sales.ErrNotFound, sales.ErrRateLimited, sales.ErrUnavailable}
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == tt.wantIs; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v (err: %v)", s, got, want, err)
				}
			}
			if got := apiErr.Retryable(); got != tt.retryable {
				t.Errorf("Retryable() = %v, want %v", got, tt.retryable)
			}
			if got := sales.IsRetryable(fmt.Errorf("wrapped: %w", err)); got != tt.retryable {
				t.Errorf("IsRetryable(wrapped) = %v, want %v", got, tt.retryable)
			}
			if apiErr.Op == "" || !strings.HasPrefix(err.Error(), "sales: "+apiErr.Op) {
				t.Errorf("error %q does not start with its operation %q", err, apiErr.Op)
			}
		})
	}
}

func TestRateLimitedRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.RateLimit(1, time.Now().Add(30*time.Second))
	_, err := e.client.Integration(t.Context(), testKey)
	var apiErr *sales.APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, sales.ErrRateLimited) {
		t.Fatalf("err = %v, want a rate-limited *APIError", err)
	}
	// The header has whole seconds: 30s from now reads as 29 to 30 seconds.
	if apiErr.RetryAfter < 28*time.Second || apiErr.RetryAfter > 30*time.Second {
		t.Errorf("RetryAfter = %v, want about 30s", apiErr.RetryAfter)
	}
	if _, err := e.client.Integration(t.Context(), testKey); err != nil {
		t.Errorf("call after the rate-limited one: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sales.WithTimeout(50*time.Millisecond))
	e.fake.SetLatency(30 * time.Second)
	start := time.Now()
	_, err := e.client.Integration(t.Context(), testKey)
	// Not a speed figure: only that the call gave up long before a 30s-slow server answered.
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("call took %v, want the 50ms timeout to end it", elapsed)
	}
	if !errors.Is(err, sales.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want ErrUnavailable and context.DeadlineExceeded", err)
	}
	if !sales.IsRetryable(err) {
		t.Errorf("a timeout is not retryable: %v", err)
	}
	assertNoKey(t, err)
}

func TestCallerCanceled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := e.client.Integration(ctx, testKey)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestKeyNotInErrorsEchoed(t *testing.T) {
	t.Parallel()
	// A server or proxy that echoes the request URL must not leak the key through us.
	base := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"message": "bad request " + r.URL.String() + " key=" + r.URL.Query().Get("api-key")})
	})
	_, err := newClient(t, base).Integration(t.Context(), testKey)
	if err == nil {
		t.Fatal("want an error")
	}
	assertNoKey(t, err)
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q lost the server message", err)
	}
}

func TestUndecodableAnswer(t *testing.T) {
	t.Parallel()
	base := rawServer(t, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"id": 42`)
	})
	_, err := newClient(t, base).Group(t.Context(), testKey, "507f191e810c19729de860ea")
	var apiErr *sales.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if apiErr.Retryable() || apiErr.Status != 200 {
		t.Errorf("undecodable 200: Status %d Retryable %v, want 200 and permanent", apiErr.Status, apiErr.Retryable())
	}
}

func TestOversizedAnswer(t *testing.T) {
	t.Parallel()
	base := rawServer(t, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"id":"`+strings.Repeat("x", 2<<20)+`"}`)
	})
	_, err := newClient(t, base).Group(t.Context(), testKey, "507f191e810c19729de860ea")
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("err = %v, want a body-too-large error", err)
	}
}

func TestObserver(t *testing.T) {
	t.Parallel()
	type obs struct {
		op     string
		status int
		failed bool
	}
	var (
		mu  sync.Mutex
		got []obs
	)
	e := newEnv(t, sales.WithObserver(func(op string, status int, d time.Duration, err error) {
		if d <= 0 {
			t.Errorf("observer got duration %v for %s", d, op)
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, obs{op, status, err != nil})
	}))
	ctx := t.Context()
	_, _ = e.client.Integration(ctx, testKey)
	_, _ = e.client.Group(ctx, "wrong-key", e.in.GroupID)
	_ = e.client.Unsubscribe(ctx, testKey, "0123456789abcdef01234567")
	want := []obs{
		{"integration", 200, false},
		{"group", 401, true},
		{"unsubscribe", 404, false}, // gone already: a success
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(obs{})); diff != "" {
		t.Errorf("observations mismatch (-want +got):\n%s", diff)
	}
}

func TestWithHTTPClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var calls int
	var mu sync.Mutex
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, e.fake.BaseURL(), sales.WithHTTPClient(hc))
	if _, err := c.Integration(t.Context(), testKey); err != nil {
		t.Fatalf("Integration: %v", err)
	}
	if calls != 1 {
		t.Errorf("custom transport saw %d requests, want 1", calls)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.fake.PutProspect(testKey, sales.Prospect{FirstName: "Ana"})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ctx := t.Context()
			switch i % 4 {
			case 0:
				_, _ = e.client.Integration(ctx, testKey)
			case 1:
				_, _ = e.client.Prospect(ctx, testKey, p.ID)
			case 2:
				_, _ = e.client.Subscribe(ctx, testKey, []string{"prospects"}, "https://a.example/h")
			case 3:
				e.fake.FailNext(1, 503)
				_, _ = e.client.Subscriptions(ctx, testKey)
			}
		})
	}
	wg.Wait()
	if got := len(e.fake.Requests()); got != 16 {
		t.Errorf("fake got %d requests, want 16", got)
	}
}

// TestRateLimitWaitedOut checks that a 429 whose reset is a moment away is waited out and the
// call made again once it has passed, while one whose reset is far off is returned at once
// for the caller to schedule.
func TestRateLimitWaitedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reset := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second) // whole seconds, as the header
	e.fake.RateLimit(1000, reset)
	before := len(e.fake.Requests())
	if _, err := e.client.Integration(t.Context(), testKey); err != nil {
		t.Fatalf("Integration across a reset a moment away: %v", err)
	}
	reqs := e.fake.Requests()[before:]
	if len(reqs) < 2 {
		t.Fatalf("%d requests, want the 429 and a call again", len(reqs))
	}
	if last := reqs[len(reqs)-1]; last.Time.Before(reset) {
		t.Errorf("called again at %v, before the reset at %v", last.Time, reset)
	}
}
