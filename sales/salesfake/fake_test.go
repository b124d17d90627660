package salesfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
)

const key = "fake-key-0001"

func newFake(tb testing.TB) (*salesfake.Server, sales.Integration) {
	tb.Helper()
	s := salesfake.New()
	tb.Cleanup(s.Close)
	in := s.AddIntegration(key, sales.Integration{Name: "7Targets", Group: "Ventas"})
	return s, in
}

// response is an answer of the fake, its body decoded as a JSON object when it is one.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a raw request to the fake: path is under BaseURL and may carry a query.
func do(tb testing.TB, s *salesfake.Server, method, path, body string) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, s.BaseURL()+path, rd)
	if err != nil {
		tb.Fatalf("NewRequest: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading %s %s: %v", method, path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("%s %s: Content-Type = %q, want JSON", method, path, ct)
	}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// wantError checks an error answer: its status and the {"error","message"} body.
func wantError(tb testing.TB, r response, status int) {
	tb.Helper()
	if r.status != status {
		tb.Errorf("status = %d, want %d (body %s)", r.status, status, r.raw)
	}
	if got := r.body["error"]; got != http.StatusText(status) {
		tb.Errorf("body error = %v, want %q (body %s)", got, http.StatusText(status), r.raw)
	}
	if msg, _ := r.body["message"].(string); msg == "" {
		tb.Errorf("body has no message: %s", r.raw)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(s *salesfake.Server)
		query  string
		status int
	}{
		{name: "valid key", query: "?api-key=" + key, status: 200},
		{name: "missing key", query: "", status: 401},
		{name: "empty key", query: "?api-key=", status: 401},
		{name: "unknown key", query: "?api-key=nope", status: 401},
		{name: "revoked key", setup: func(s *salesfake.Server) { s.RevokeKey(key) }, query: "?api-key=" + key, status: 401},
		{name: "refreshed-away key", setup: func(s *salesfake.Server) { s.RefreshKey(key, "k2") }, query: "?api-key=" + key, status: 401},
		{name: "refreshed key", setup: func(s *salesfake.Server) { s.RefreshKey(key, "k2") }, query: "?api-key=k2", status: 200},
		{name: "disabled", setup: func(s *salesfake.Server) { s.SetDisabled(key, true) }, query: "?api-key=" + key, status: 403},
		{name: "re-enabled", setup: func(s *salesfake.Server) { s.SetDisabled(key, true); s.SetDisabled(key, false) }, query: "?api-key=" + key, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newFake(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			for _, path := range []string{"/integration", "/notifications/subscriptions"} {
				r := do(t, s, http.MethodGet, path+tt.query, "")
				if tt.status == 200 {
					if r.status != 200 {
						t.Errorf("GET %s: status = %d, want 200 (body %s)", path, r.status, r.raw)
					}
					continue
				}
				wantError(t, r, tt.status)
			}
		})
	}
}

func TestRefreshKeyKeepsSubscriptions(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	r := do(t, s, http.MethodPost, "/notifications/subscriptions?api-key="+key, `{"topics":["prospects"],"callbackUrl":"https://a.example/h"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("subscribe: status %d, body %s", r.status, r.raw)
	}
	if !s.RefreshKey(key, "k2") {
		t.Fatal("RefreshKey of a valid key = false")
	}
	if s.RefreshKey(key, "k3") {
		t.Error("RefreshKey of a refreshed-away key = true")
	}
	r = do(t, s, http.MethodGet, "/notifications/subscriptions?api-key=k2", "")
	var list []sales.Subscription
	if err := json.Unmarshal(r.raw, &list); err != nil || len(list) != 1 {
		t.Errorf("subscriptions under the new key = %s (%v), want the one made under the old key", r.raw, err)
	}
}

func TestIntegrationShapes(t *testing.T) {
	t.Parallel()
	s, in := newFake(t)
	r := do(t, s, http.MethodGet, "/integration?api-key="+key, "")
	var obj sales.Integration
	if err := json.Unmarshal(r.raw, &obj); err != nil {
		t.Fatalf("object answer %s: %v", r.raw, err)
	}
	if diff := cmp.Diff(in, obj); diff != "" {
		t.Errorf("integration mismatch (-want +got):\n%s", diff)
	}
	for _, id := range []string{in.ID, in.GroupID, in.AccountID} {
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Errorf("generated id %q is not 24 lowercase hex digits", id)
		}
	}

	s.SetIntegrationArray(true)
	r = do(t, s, http.MethodGet, "/integration?api-key="+key, "")
	var list []sales.Integration
	if err := json.Unmarshal(r.raw, &list); err != nil {
		t.Fatalf("array answer %s: %v", r.raw, err)
	}
	if diff := cmp.Diff([]sales.Integration{in}, list); diff != "" {
		t.Errorf("integration list mismatch (-want +got):\n%s", diff)
	}
}

func TestNotFoundAndBadRequest(t *testing.T) {
	t.Parallel()
	s, in := newFake(t)
	const unknown = "0123456789abcdef01234567"
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"unknown route", http.MethodGet, "/nope?api-key=" + key, 404},
		{"unknown route without key", http.MethodGet, "/nope", 404},
		{"wrong method", http.MethodPost, "/integration?api-key=" + key, 404},
		{"outside the API", http.MethodGet, "/../other?api-key=" + key, 404},
		{"unknown group", http.MethodGet, "/group/" + unknown + "?api-key=" + key, 404},
		{"unknown prospect", http.MethodGet, "/prospect/" + unknown + "?api-key=" + key, 404},
		{"unknown subscription", http.MethodGet, "/notifications/subscription/" + unknown + "?api-key=" + key, 404},
		{"delete unknown subscription", http.MethodDelete, "/notifications/subscription/" + unknown + "?api-key=" + key, 404},
		{"uppercase group id", http.MethodGet, "/group/" + strings.ToUpper(in.GroupID) + "?api-key=" + key, 400},
		{"short prospect id", http.MethodGet, "/prospect/abc?api-key=" + key, 400},
		{"bad subscription id", http.MethodDelete, "/notifications/subscription/zzzzzzzzzzzzzzzzzzzzzzz!?api-key=" + key, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantError(t, do(t, s, tt.method, tt.path, ""), tt.status)
		})
	}
}

func TestSubscribeValidation(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	tests := []struct{ name, body string }{
		{"empty body", ""},
		{"not JSON", "topics=prospects"},
		{"truncated", `{"topics":["prospects"]`},
		{"trailing data", `{"topics":["prospects"],"callbackUrl":"https://a.example/h"} {}`},
		{"topics not a list", `{"topics":"prospects","callbackUrl":"https://a.example/h"}`},
		{"no topics", `{"callbackUrl":"https://a.example/h"}`},
		{"empty topics", `{"topics":[],"callbackUrl":"https://a.example/h"}`},
		{"unknown topic", `{"topics":["leads"],"callbackUrl":"https://a.example/h"}`},
		{"no callback", `{"topics":["prospects"]}`},
		{"relative callback", `{"topics":["prospects"],"callbackUrl":"/webhooks/sales"}`},
		{"non-http callback", `{"topics":["prospects"],"callbackUrl":"ftp://a.example/h"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantError(t, do(t, s, http.MethodPost, "/notifications/subscriptions?api-key="+key, tt.body), http.StatusBadRequest)
		})
	}
	if got := s.Subscriptions(); len(got) != 0 {
		t.Errorf("rejected subscribes stored %d subscriptions", len(got))
	}
}

func TestSubscriptionsPerGroup(t *testing.T) {
	t.Parallel()
	s, in := newFake(t)
	other := s.AddIntegration("other", sales.Integration{})
	subscribe := func(k, cb string) sales.Subscription {
		t.Helper()
		r := do(t, s, http.MethodPost, "/notifications/subscriptions?api-key="+k, `{"topics":["prospects","interactions"],"callbackUrl":"`+cb+`"}`)
		if r.status != http.StatusCreated {
			t.Fatalf("subscribe: %d %s", r.status, r.raw)
		}
		var sub sales.Subscription
		if err := json.Unmarshal(r.raw, &sub); err != nil {
			t.Fatalf("subscribe answer %s: %v", r.raw, err)
		}
		return sub
	}
	first := subscribe(key, "https://a.example/1")
	theirs := subscribe("other", "https://b.example/1")
	second := subscribe(key, "https://a.example/2")

	// Subscribing twice in a group deactivates the first; other groups are untouched.
	if r := do(t, s, http.MethodGet, "/notifications/subscription/"+first.ID+"?api-key="+key, ""); r.status != 404 {
		t.Errorf("GET replaced subscription: status %d, want 404", r.status)
	}
	if r := do(t, s, http.MethodGet, "/notifications/subscription/"+second.ID+"?api-key="+key, ""); r.status != 200 {
		t.Errorf("GET active subscription: status %d, want 200", r.status)
	}
	if r := do(t, s, http.MethodGet, "/notifications/subscription/"+theirs.ID+"?api-key="+key, ""); r.status != 404 {
		t.Errorf("GET another group's subscription: status %d, want 404", r.status)
	}
	type state struct {
		ID, GroupID string
		Active      bool
	}
	var got []state
	for _, sub := range s.Subscriptions() {
		got = append(got, state{sub.ID, sub.GroupID, sub.Active})
	}
	want := []state{{first.ID, in.GroupID, false}, {theirs.ID, other.GroupID, true}, {second.ID, in.GroupID, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subscriptions mismatch (-want +got):\n%s", diff)
	}

	r := do(t, s, http.MethodDelete, "/notifications/subscription/"+second.ID+"?api-key="+key, "")
	if r.status != 200 || r.body["id"] != second.ID {
		t.Errorf("DELETE: %d %s, want 200 and the subscription", r.status, r.raw)
	}
	if _, ok := s.ActiveSubscription(in.GroupID); ok {
		t.Error("group still has an active subscription after DELETE")
	}
	wantError(t, do(t, s, http.MethodDelete, "/notifications/subscription/"+second.ID+"?api-key="+key, ""), 404)
}

func TestGroupsDerived(t *testing.T) {
	t.Parallel()
	s := salesfake.New()
	t.Cleanup(s.Close)
	const root, mid, leaf, outside = "aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccc", "dddddddddddddddddddddddd"
	// Children first: relations are derived, whatever the order.
	s.AddGroup(sales.Group{ID: leaf, Parent: mid})
	s.AddGroup(sales.Group{ID: mid, Parent: root})
	// The root's parent is unknown: what it says about its ancestors is kept.
	s.AddGroup(sales.Group{ID: root, Parent: outside, Ancestors: []string{"eeeeeeeeeeeeeeeeeeeeeeee", outside}})

	tests := []struct {
		id                     string
		ancestors, descendants []string
	}{
		{leaf, []string{"eeeeeeeeeeeeeeeeeeeeeeee", outside, root, mid}, nil},
		{mid, []string{"eeeeeeeeeeeeeeeeeeeeeeee", outside, root}, []string{leaf}},
		{root, []string{"eeeeeeeeeeeeeeeeeeeeeeee", outside}, []string{leaf, mid}},
	}
	for _, tt := range tests {
		g, ok := s.Group(tt.id)
		if !ok {
			t.Fatalf("Group(%s) not found", tt.id)
		}
		if diff := cmp.Diff(tt.ancestors, g.Ancestors); diff != "" {
			t.Errorf("ancestors of %s mismatch (-want +got):\n%s", tt.id, diff)
		}
		if diff := cmp.Diff(tt.descendants, g.Descendants); diff != "" {
			t.Errorf("descendants of %s mismatch (-want +got):\n%s", tt.id, diff)
		}
	}

	// A parent cycle must not hang the fake.
	s.AddGroup(sales.Group{ID: root, Parent: leaf})
	if g, _ := s.Group(leaf); len(g.Ancestors) != 2 {
		t.Errorf("ancestors in a cycle = %v, want the two other groups", g.Ancestors)
	}
}

func TestProspectResourceShape(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	p := s.PutProspect(key, sales.Prospect{FirstName: "Ana", Agents: sales.Agents{{ID: "a1"}, {ID: "a2"}}})
	r := do(t, s, http.MethodGet, "/prospect/"+p.ID+"?api-key="+key, "")
	if r.status != 200 {
		t.Fatalf("GET prospect: %d %s", r.status, r.raw)
	}
	// GET /prospect answers the agent as one object, unlike notifications.
	if agent, ok := r.body["agent"].(map[string]any); !ok || agent["id"] != "a1" {
		t.Errorf("agent = %v, want the first agent as an object", r.body["agent"])
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("FailNext", func(t *testing.T) {
		t.Parallel()
		s, _ := newFake(t)
		s.FailNext(2, http.StatusBadGateway)
		for i, want := range []int{502, 502, 200} {
			r := do(t, s, http.MethodGet, "/integration?api-key="+key, "")
			if r.status != want {
				t.Errorf("request %d: status %d, want %d", i, r.status, want)
			}
			if want != 200 {
				wantError(t, r, want)
			}
		}
	})
	t.Run("SetDown", func(t *testing.T) {
		t.Parallel()
		s, _ := newFake(t)
		s.SetDown(true)
		for range 3 {
			wantError(t, do(t, s, http.MethodGet, "/integration?api-key="+key, ""), 503)
		}
		s.SetDown(false)
		if r := do(t, s, http.MethodGet, "/integration?api-key="+key, ""); r.status != 200 {
			t.Errorf("after SetDown(false): status %d", r.status)
		}
	})
	t.Run("RateLimit", func(t *testing.T) {
		t.Parallel()
		s, _ := newFake(t)
		reset := time.Now().Add(45 * time.Second)
		s.RateLimit(1, reset)
		r := do(t, s, http.MethodGet, "/integration?api-key="+key, "")
		wantError(t, r, 429)
		for h, want := range map[string]string{
			"X-RateLimit-Limit":     strconv.Itoa(salesfake.RateLimitLimit),
			"X-RateLimit-Remaining": "0",
			"X-RateLimit-Reset":     strconv.FormatInt(reset.Unix(), 10),
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		if r := do(t, s, http.MethodGet, "/integration?api-key="+key, ""); r.status != 200 {
			t.Errorf("after the limited request: status %d", r.status)
		}
	})
	t.Run("SetLatency", func(t *testing.T) {
		t.Parallel()
		s, _ := newFake(t)
		s.SetLatency(100 * time.Millisecond)
		start := time.Now()
		do(t, s, http.MethodGet, "/integration?api-key="+key, "")
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("request took %v, want at least the 100ms latency", d)
		}
	})
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	do(t, s, http.MethodGet, "/integration?api-key="+key, "")
	do(t, s, http.MethodPost, "/notifications/subscriptions?api-key="+key, `{"topics":["prospects"],"callbackUrl":"https://a.example/h"}`)
	do(t, s, http.MethodGet, "/integration?api-key=other", "")

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("Requests() has %d entries, want 3", len(reqs))
	}
	if got := reqs[1]; got.Method != http.MethodPost || got.Path != "/notifications/subscriptions" ||
		got.Query.Get("api-key") != key || !strings.Contains(string(got.Body), `"callbackUrl"`) || got.Time.IsZero() {
		t.Errorf("Requests()[1] = %+v, want the subscribe with its key and body", got)
	}
	// Returned requests are copies.
	reqs[0].Query.Set("api-key", "changed")
	if got := s.Requests()[0].Query.Get("api-key"); got != key {
		t.Errorf("Requests() shares state: api-key = %q", got)
	}
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/integration", 2},
		{"", "/integration", 2},
		{http.MethodPost, "/integration", 0},
		{http.MethodPost, "/notifications/subscriptions", 1},
	} {
		if got := s.Count(tt.method, tt.path); got != tt.want {
			t.Errorf("Count(%q, %q) = %d, want %d", tt.method, tt.path, got, tt.want)
		}
	}
}

// receiver is a webhook endpoint that answers statuses in turn (200 once they run out) and
// keeps what it received.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	delay    time.Duration // on the first request only
	got      []sales.Notification
	calls    atomic.Int32
}

func newReceiver(tb testing.TB, r *receiver) string {
	tb.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var note sales.Notification
		if err := json.NewDecoder(req.Body).Decode(&note); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The body is read, so the server notices when the sender gives up.
		if n := r.calls.Add(1); n == 1 && r.delay > 0 {
			select {
			case <-time.After(r.delay):
			case <-req.Context().Done():
				return
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, note)
		status := 200
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		w.WriteHeader(status)
	}))
	tb.Cleanup(ts.Close)
	return ts.URL + "/webhooks/sales/inst1?token=secret"
}

func subscribe(tb testing.TB, s *salesfake.Server, callback string) sales.Subscription {
	tb.Helper()
	c, err := sales.New(s.BaseURL())
	if err != nil {
		tb.Fatal(err)
	}
	sub, err := c.Subscribe(tb.Context(), key, []string{sales.TopicProspects}, callback)
	if err != nil {
		tb.Fatalf("Subscribe: %v", err)
	}
	return sub
}

func TestNotify(t *testing.T) {
	t.Parallel()
	s, in := newFake(t)
	rcv := &receiver{}
	sub := subscribe(t, s, newReceiver(t, rcv))
	p := s.PutProspect(key, sales.Prospect{FirstName: "Ana", Emails: []string{"ana@example.com"}})

	for _, target := range []string{sub.ID, in.GroupID} {
		status, err := s.Notify(t.Context(), target, sales.Notification{Type: sales.NotificationCreated, Prospect: []sales.Prospect{p}})
		if err != nil || status != 200 {
			t.Fatalf("Notify(%s) = %d, %v; want 200", target, status, err)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 2 {
		t.Fatalf("receiver got %d notifications, want 2", len(rcv.got))
	}
	n := rcv.got[0]
	if n.SubscriptionID != sub.ID || n.Topic != sales.TopicProspects || n.Type != "created" || n.Attempts != 0 ||
		n.Received.IsZero() || n.Sent.IsZero() {
		t.Errorf("envelope = %+v, want subscriptionId, topic, received and sent filled", n)
	}
	if len(n.Prospect) != 1 || n.Prospect[0].ID != p.ID || n.Prospect[0].EmailAddresses()[0] != "ana@example.com" {
		t.Errorf("prospect = %+v, want %+v", n.Prospect, p)
	}
	if d := s.Deliveries(); len(d) != 2 || d[0].Status != 200 || d[0].Attempt != 1 || d[0].SubscriptionID != sub.ID {
		t.Errorf("Deliveries() = %+v", d)
	}
}

func TestNotifyNoSubscription(t *testing.T) {
	t.Parallel()
	s, in := newFake(t)
	if _, err := s.Notify(t.Context(), in.GroupID, sales.Notification{}); !errors.Is(err, salesfake.ErrNoSubscription) {
		t.Errorf("Notify without a subscription: err = %v, want ErrNoSubscription", err)
	}
}

func TestNotifyReportsStatus(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	sub := subscribe(t, s, newReceiver(t, &receiver{statuses: []int{500}}))
	status, err := s.Notify(t.Context(), sub.ID, sales.Notification{})
	if err != nil || status != 500 {
		t.Errorf("Notify = %d, %v; want 500 and no error: Notify tries once", status, err)
	}
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		rcv          *receiver
		timeout      time.Duration
		maxAttempts  int
		wantAttempts int
		wantErr      bool
	}{
		{name: "first try", rcv: &receiver{}, maxAttempts: 20, wantAttempts: 1},
		{name: "retries on 5xx and 4xx", rcv: &receiver{statuses: []int{500, 503, 404, 429}}, maxAttempts: 20, wantAttempts: 5},
		{name: "3xx is success", rcv: &receiver{statuses: []int{302}}, maxAttempts: 20, wantAttempts: 1},
		{name: "retries on timeout", rcv: &receiver{delay: 2 * time.Second}, timeout: 100 * time.Millisecond, maxAttempts: 20, wantAttempts: 2},
		{name: "gives up", rcv: &receiver{statuses: []int{500, 500, 500, 500}}, maxAttempts: 3, wantAttempts: 3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newFake(t)
			if tt.timeout > 0 {
				s.SetWebhookTimeout(tt.timeout)
			}
			sub := subscribe(t, s, newReceiver(t, tt.rcv))
			attempts, err := s.Deliver(t.Context(), sub.ID, sales.Notification{Type: "updated"}, tt.maxAttempts, time.Millisecond)
			if (err != nil) != tt.wantErr {
				t.Errorf("Deliver error = %v, want error: %v", err, tt.wantErr)
			}
			if attempts != tt.wantAttempts {
				t.Errorf("Deliver attempts = %d, want %d", attempts, tt.wantAttempts)
			}
			if got := len(s.Deliveries()); got != tt.wantAttempts {
				t.Errorf("Deliveries() has %d entries, want %d", got, tt.wantAttempts)
			}
			// Every post carries its attempt count, and one subscription and received time.
			tt.rcv.mu.Lock()
			defer tt.rcv.mu.Unlock()
			for i, n := range tt.rcv.got {
				if tt.timeout > 0 {
					i++ // the timed-out post never reached the handler's record
				}
				if n.Attempts != i || n.SubscriptionID != sub.ID || !n.Received.Equal(tt.rcv.got[0].Received) {
					t.Errorf("post %d: attempts %d, subscription %q, received %v", i, n.Attempts, n.SubscriptionID, n.Received)
				}
			}
		})
	}
}

func TestDeliverStopsOnCancel(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	sub := subscribe(t, s, newReceiver(t, &receiver{statuses: []int{500, 500, 500}}))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	attempts, err := s.Deliver(ctx, sub.ID, sales.Notification{}, 20, time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) || attempts != 1 {
		t.Errorf("Deliver = %d, %v; want 1 attempt and context.DeadlineExceeded", attempts, err)
	}
}

func TestCloseEndsSlowRequests(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	s.SetLatency(time.Hour)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(s.BaseURL() + "/integration?api-key=" + key)
		if err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a request held by SetLatency")
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s, in := newFake(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			switch i % 5 {
			case 0:
				do(t, s, http.MethodGet, "/integration?api-key="+key, "")
			case 1:
				s.PutProspect(key, sales.Prospect{FirstName: strconv.Itoa(i)})
			case 2:
				s.AddGroup(sales.Group{Parent: in.GroupID})
			case 3:
				do(t, s, http.MethodPost, "/notifications/subscriptions?api-key="+key, `{"topics":["prospects"],"callbackUrl":"https://a.example/h"}`)
			case 4:
				_ = s.Requests()
				_ = s.Subscriptions()
				_, _ = s.Group(in.GroupID)
			}
		})
	}
	wg.Wait()
	active := 0
	for _, sub := range s.Subscriptions() {
		if sub.Active {
			active++
		}
	}
	if active != 1 {
		t.Errorf("%d active subscriptions in one group, want 1", active)
	}
}
