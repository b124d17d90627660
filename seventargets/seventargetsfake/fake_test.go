package seventargetsfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

const (
	clientID = "client-1"
	secret   = "secret-1"
	user     = "user-1"
)

func newFake(tb testing.TB) *seventargetsfake.Server {
	tb.Helper()
	f := seventargetsfake.New()
	tb.Cleanup(f.Close)
	f.Seed()
	f.AddClient(clientID, secret, user)
	return f
}

// response is a decoded answer of the fake.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func send(tb testing.TB, req *http.Request) response {
	tb.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("%s %s: Content-Type = %q, want application/json", req.Method, req.URL.Path, ct)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body) // arrays stay in Raw
	return r
}

// tokenRequest builds a token request; a nil form means the standard one.
func tokenRequest(tb testing.TB, f *seventargetsfake.Server, id, sec string, form url.Values) *http.Request {
	tb.Helper()
	if form == nil {
		form = url.Values{"grant_type": {"client_credentials"}, "scope": {"leads/post"}}
	}
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodPost, f.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	}
	return req
}

func getToken(tb testing.TB, f *seventargetsfake.Server) string {
	tb.Helper()
	r := send(tb, tokenRequest(tb, f, clientID, secret, nil))
	tok, _ := r.Body["access_token"].(string)
	if r.Status != http.StatusOK || tok == "" {
		tb.Fatalf("token: %d %s", r.Status, r.Raw)
	}
	return tok
}

func apiRequest(tb testing.TB, f *seventargetsfake.Server, method, path, token, userID, body string) *http.Request {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, f.APIURL()+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if userID != "" {
		req.Header.Set("7ts-user-identifier", userID)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

const validLead = `{"name":"John","email":"john@example.com","assistantEmail":"` + seventargetsfake.SeedAssistantEmail + `"}`

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		req       func(testing.TB, *seventargetsfake.Server) *http.Request
		setup     func(*seventargetsfake.Server)
		status    int
		wantError string
	}{
		{
			name: "basic auth",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, clientID, secret, nil)
			},
			status: http.StatusOK,
		},
		{
			name: "credentials in the form",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, "", "", url.Values{
					"grant_type": {"client_credentials"}, "scope": {"leads/post"},
					"client_id": {clientID}, "client_secret": {secret},
				})
			},
			status: http.StatusOK,
		},
		{
			name: "wrong secret",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, clientID, "nope", nil)
			},
			status: http.StatusBadRequest, wantError: "invalid_client",
		},
		{
			name: "unknown client",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, "nobody", secret, nil)
			},
			status: http.StatusBadRequest, wantError: "invalid_client",
		},
		{
			name:   "no credentials",
			req:    func(tb testing.TB, f *seventargetsfake.Server) *http.Request { return tokenRequest(tb, f, "", "", nil) },
			status: http.StatusBadRequest, wantError: "invalid_client",
		},
		{
			name: "password grant",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, clientID, secret, url.Values{"grant_type": {"password"}, "scope": {"leads/post"}})
			},
			status: http.StatusBadRequest, wantError: "unsupported_grant_type",
		},
		{
			name: "other scope",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, clientID, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"leads/post admin"}})
			},
			status: http.StatusBadRequest, wantError: "invalid_scope",
		},
		{
			name: "no scope",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, clientID, secret, url.Values{"grant_type": {"client_credentials"}})
			},
			status: http.StatusBadRequest, wantError: "invalid_scope",
		},
		{
			name: "JSON body",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				req := tokenRequest(tb, f, clientID, secret, nil)
				req.Header.Set("Content-Type", "application/json")
				return req
			},
			status: http.StatusBadRequest, wantError: "invalid_request",
		},
		{
			name: "GET",
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				req := tokenRequest(tb, f, clientID, secret, nil)
				req.Method = http.MethodGet
				return req
			},
			status: http.StatusMethodNotAllowed, wantError: "invalid_request",
		},
		{
			name:  "down",
			setup: func(f *seventargetsfake.Server) { f.SetDown(true) },
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, clientID, secret, nil)
			},
			status: http.StatusServiceUnavailable, wantError: "temporarily_unavailable",
		},
		{
			name: "API faults do not touch the token endpoint",
			setup: func(f *seventargetsfake.Server) {
				f.FailNext(5, http.StatusInternalServerError)
				f.ExpireTokens()
			},
			req: func(tb testing.TB, f *seventargetsfake.Server) *http.Request {
				return tokenRequest(tb, f, clientID, secret, nil)
			},
			status: http.StatusOK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			r := send(t, tt.req(t, f))
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d (%s)", r.Status, tt.status, r.Raw)
			}
			if got, _ := r.Body["error"].(string); got != tt.wantError {
				t.Errorf("error = %q, want %q", got, tt.wantError)
			}
			if f.TokenRequests() != 1 {
				t.Errorf("TokenRequests() = %d, want 1", f.TokenRequests())
			}
			if tt.status != http.StatusOK {
				return
			}
			tok, _ := r.Body["access_token"].(string)
			if strings.Count(tok, ".") != 2 {
				t.Errorf("access_token %q does not look like a JWT", tok)
			}
			if r.Body["expires_in"] != float64(3600) || r.Body["token_type"] != "Bearer" {
				t.Errorf("token response = %s, want expires_in 3600 and token_type Bearer", r.Raw)
			}
			if f.TokenRequestsFor(clientID) != 1 {
				t.Errorf("TokenRequestsFor(%q) = %d, want 1", clientID, f.TokenRequestsFor(clientID))
			}
		})
	}
}

func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.SetTokenLifetime(300 * time.Millisecond)
	r := send(t, tokenRequest(t, f, clientID, secret, nil))
	if r.Body["expires_in"] != float64(1) {
		t.Errorf("expires_in = %v, want 1 (rounded up)", r.Body["expires_in"])
	}
	tok := r.Body["access_token"].(string)
	if got := send(t, apiRequest(t, f, http.MethodGet, "/leads/assistant", tok, user, "")); got.Status != http.StatusOK {
		t.Fatalf("fresh token: status %d", got.Status)
	}
	time.Sleep(400 * time.Millisecond)
	got := send(t, apiRequest(t, f, http.MethodGet, "/leads/assistant", tok, user, ""))
	if got.Status != http.StatusUnauthorized || got.Body["message"] != "The incoming token has expired" {
		t.Errorf("expired token: %d %s, want 401 expired", got.Status, got.Raw)
	}
}

func TestAPIAuthentication(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		token  func(tb testing.TB, f *seventargetsfake.Server) string
		user   string
		status int
	}{
		{name: "valid", token: getToken, user: user, status: http.StatusOK},
		{name: "no token", token: func(testing.TB, *seventargetsfake.Server) string { return "" }, user: user, status: http.StatusUnauthorized},
		{name: "unknown token", token: func(testing.TB, *seventargetsfake.Server) string { return "a.b.c" }, user: user, status: http.StatusUnauthorized},
		{
			name: "expired token",
			token: func(tb testing.TB, f *seventargetsfake.Server) string {
				tok := getToken(tb, f)
				f.ExpireTokens()
				return tok
			},
			user: user, status: http.StatusUnauthorized,
		},
		{name: "no user identifier", token: getToken, user: "", status: http.StatusUnauthorized},
		{name: "another client's user", token: getToken, user: "user-2", status: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.AddClient("client-2", "secret-2", "user-2")
			r := send(t, apiRequest(t, f, http.MethodGet, "/leads/assistant", tt.token(t, f), tt.user, ""))
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d (%s)", r.Status, tt.status, r.Raw)
			}
			if r.Status != http.StatusOK {
				if msg, _ := r.Body["message"].(string); msg == "" {
					t.Errorf("error body %s has no message", r.Raw)
				}
			}
			if r.Status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	t.Run("client without user list accepts any user", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		f.AddClient(clientID, secret) // replaces the user list with none
		r := send(t, apiRequest(t, f, http.MethodGet, "/leads/assistant", getToken(t, f), "anyone", ""))
		if r.Status != http.StatusOK {
			t.Errorf("status = %d, want 200", r.Status)
		}
	})
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	tok := getToken(t, f)
	tests := []struct {
		method, path, body string
		status             int
		wantMessage        string
	}{
		{http.MethodGet, "/nope", "", http.StatusNotFound, "Not Found"},
		{http.MethodDelete, "/leads", "", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{http.MethodGet, "/leads/stop/followup", "", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{http.MethodPost, "/leads", "", http.StatusBadRequest, "The body can't be empty"},
		{http.MethodPost, "/leads", "null", http.StatusBadRequest, "The body can't be empty"},
		{http.MethodPost, "/leads", "{", http.StatusBadRequest, "Malformed JSON request body"},
		{http.MethodPost, "/leads", `{"name":1}`, http.StatusBadRequest, "Malformed JSON request body"},
		{http.MethodPost, "/leads", `{}`, http.StatusBadRequest, "name, email, assistantEmail mandatory"},
		{http.MethodPut, "/leads", "", http.StatusBadRequest, "The body can't be empty"},
		{http.MethodPut, "/leads", `{"id":99}`, http.StatusNotFound, "Lead not found"},
		{http.MethodPut, "/leads/stop/followup", `{}`, http.StatusBadRequest, "id or email is required to identify the lead"},
		{http.MethodGet, "/leads/assistant?page=-1", "", http.StatusBadRequest, "invalid page parameter"},
		{http.MethodGet, "/leads/assistant?size=x", "", http.StatusBadRequest, "invalid size parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			t.Parallel()
			r := send(t, apiRequest(t, f, tt.method, tt.path, tok, user, tt.body))
			if r.Status != tt.status || r.Body["message"] != tt.wantMessage {
				t.Errorf("got %d %s, want %d %q", r.Status, r.Raw, tt.status, tt.wantMessage)
			}
		})
	}
}

func TestLeadLifecycle(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	tok := getToken(t, f)

	created := send(t, apiRequest(t, f, http.MethodPost, "/leads", tok, user, validLead))
	if created.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Status, created.Raw)
	}
	// The wire format is zone-less, as a Java LocalDateTime.
	next, _ := created.Body["nextScheduleTime"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05", next); err != nil {
		t.Errorf("nextScheduleTime %q: %v", next, err)
	}
	id := int64(created.Body["id"].(float64))

	again := send(t, apiRequest(t, f, http.MethodPost, "/leads", tok, user, validLead))
	if again.Status != http.StatusCreated || int64(again.Body["id"].(float64)) != id {
		t.Errorf("second create: %d %s, want 201 with id %d", again.Status, again.Raw, id)
	}

	// Another organisation's lead with the same email is another lead.
	f.AddClient("client-2", "secret-2")
	r := send(t, tokenRequest(t, f, "client-2", "secret-2", nil))
	other := send(t, apiRequest(t, f, http.MethodPost, "/leads", r.Body["access_token"].(string), "u", validLead))
	if other.Status != http.StatusCreated || int64(other.Body["id"].(float64)) == id {
		t.Errorf("other client's create: %d %s, want 201 with a new id", other.Status, other.Raw)
	}
	// ... and invisible to the first.
	otherID := int64(other.Body["id"].(float64))
	if r := send(t, apiRequest(t, f, http.MethodPut, "/leads", tok, user, fmt.Sprintf(`{"id":%d,"name":"x"}`, otherID))); r.Status != http.StatusNotFound {
		t.Errorf("update of another client's lead: %d, want 404", r.Status)
	}

	updated := send(t, apiRequest(t, f, http.MethodPut, "/leads", tok, user, `{"email":"JOHN@example.com","lastName":"Doe","phone":null}`))
	if updated.Status != http.StatusOK || updated.Body["lastName"] != "Doe" {
		t.Errorf("update: %d %s", updated.Status, updated.Raw)
	}
	stopped := send(t, apiRequest(t, f, http.MethodPut, "/leads/stop/followup", tok, user, fmt.Sprintf(`{"id":%d}`, id)))
	if stopped.Status != http.StatusOK || stopped.Body["nextScheduleTime"] != nil || stopped.Body["subState"] != "Stopped" {
		t.Errorf("stop: %d %s", stopped.Status, stopped.Raw)
	}

	lead, ok := f.Lead(id)
	if !ok {
		t.Fatalf("Lead(%d) not found", id)
	}
	want := seventargets.LeadResult{
		ID: id, Name: "John", LastName: "Doe", Type: "SALES", Email: "john@example.com",
		ScheduleID: 127, ScheduleName: "Ashley Default", AssistantID: seventargetsfake.SeedAssistantID,
		State: "Cold", SubState: "Stopped", Followup: 1,
	}
	if diff := cmp.Diff(want, lead); diff != "" {
		t.Errorf("Lead(%d) (-want +got):\n%s", id, diff)
	}
	if n := len(f.Leads()); n != 2 {
		t.Errorf("len(Leads()) = %d, want 2", n)
	}
	if _, ok := f.Lead(12345678); ok {
		t.Error("Lead of an unknown id reported found")
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		setup          func(*seventargetsfake.Server)
		wantStatuses   []int
		wantRetryAfter string
	}{
		{
			name:         "FailNext fails exactly n API requests",
			setup:        func(f *seventargetsfake.Server) { f.FailNext(2, http.StatusBadGateway) },
			wantStatuses: []int{502, 502, 200},
		},
		{
			name:           "429 carries Retry-After",
			setup:          func(f *seventargetsfake.Server) { f.FailNext(1, http.StatusTooManyRequests) },
			wantStatuses:   []int{429, 200},
			wantRetryAfter: "1",
		},
		{
			name:         "down",
			setup:        func(f *seventargetsfake.Server) { f.SetDown(true) },
			wantStatuses: []int{503, 503},
		},
		{
			name:         "expired tokens",
			setup:        (*seventargetsfake.Server).ExpireTokens,
			wantStatuses: []int{401, 401},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			tok := getToken(t, f)
			tt.setup(f)
			for i, want := range tt.wantStatuses {
				r := send(t, apiRequest(t, f, http.MethodGet, "/leads/assistant", tok, user, ""))
				if r.Status != want {
					t.Errorf("request %d: status %d, want %d", i, r.Status, want)
				}
				if want != http.StatusOK && r.Body["message"] == nil {
					t.Errorf("request %d: error body %s has no message", i, r.Raw)
				}
				if i == 0 && r.Header.Get("Retry-After") != tt.wantRetryAfter {
					t.Errorf("Retry-After = %q, want %q", r.Header.Get("Retry-After"), tt.wantRetryAfter)
				}
			}
		})
	}
}

func TestLatencyRespectsCancellation(t *testing.T) {
	t.Parallel()
	f := seventargetsfake.New()
	t.Cleanup(f.Close)
	f.SetLatency(60 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.APIURL()+"/leads/assistant", nil)
	start := time.Now()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("request succeeded, want the client's timeout")
	}

	// A request still waiting must not hold up Close.
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.APIURL()+"/leads/assistant", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(50 * time.Millisecond)
	f.Close()
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("timeout and Close took %v, want well under the 60s latency", elapsed)
	}
}

func TestClientLatencySlowsOneClientOnly(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.AddClient("slow-client", "slow-secret")
	fast := getToken(t, f)
	r := send(t, tokenRequest(t, f, "slow-client", "slow-secret", nil))
	slow, _ := r.Body["access_token"].(string)
	if r.Status != http.StatusOK || slow == "" {
		t.Fatalf("token: %d %s", r.Status, r.Raw)
	}
	f.SetClientLatency("slow-client", time.Minute)

	// answers reports whether req is answered within a bound far below the latency (a bound,
	// not a speed assertion: only the minute matters).
	answers := func(req *http.Request) bool {
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		defer cancel()
		resp, err := http.DefaultTransport.RoundTrip(req.WithContext(ctx))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	tests := []struct {
		name string
		req  *http.Request
		want bool
	}{
		{name: "other client's API call", req: apiRequest(t, f, http.MethodGet, "/leads/assistant", fast, user, ""), want: true},
		{name: "other client's token request", req: tokenRequest(t, f, clientID, secret, nil), want: true},
		{name: "slow client's API call", req: apiRequest(t, f, http.MethodGet, "/leads/assistant", slow, user, ""), want: false},
		{name: "slow client's token request", req: tokenRequest(t, f, "slow-client", "slow-secret", nil), want: false},
	}
	t.Run("while slow", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				if got := answers(tt.req); got != tt.want {
					t.Errorf("answered = %v, want %v", got, tt.want)
				}
			})
		}
	})
	f.SetClientLatency("slow-client", 0)
	if !answers(apiRequest(t, f, http.MethodGet, "/leads/assistant", slow, user, "")) {
		t.Error("the slow client is still slow after SetClientLatency(0)")
	}
}

func TestRequestsRecorded(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	tok := getToken(t, f)
	send(t, apiRequest(t, f, http.MethodPost, "/leads", tok, user, validLead))
	send(t, apiRequest(t, f, http.MethodGet, "/leads/assistant?searchString=ly", tok, user, ""))

	reqs := f.Requests()
	var got []string
	for _, r := range reqs {
		got = append(got, r.Method+" "+r.Path)
	}
	want := []string{"POST " + seventargetsfake.TokenPath, "POST /leads", "GET /leads/assistant"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	if string(reqs[1].Body) != validLead || reqs[1].Header.Get("7ts-user-identifier") != user {
		t.Errorf("recorded POST /leads = %s %v", reqs[1].Body, reqs[1].Header)
	}
	if reqs[2].Query.Get("searchString") != "ly" {
		t.Errorf("recorded query = %v", reqs[2].Query)
	}
	// Callers get copies.
	reqs[1].Body[0] = 'X'
	reqs[1].Header.Set("7ts-user-identifier", "changed")
	if again := f.Requests(); !bytes.Equal(again[1].Body, []byte(validLead)) || again[1].Header.Get("7ts-user-identifier") != user {
		t.Error("Requests() shares memory with the fake")
	}
	if f.Count(http.MethodPost, "/leads") != 1 || f.Count(http.MethodGet, "/leads/assistant") != 1 || f.Count(http.MethodPut, "/leads") != 0 {
		t.Error("Count disagrees with the requests made")
	}
}

func TestAssistantsPaging(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	added := f.AddAssistant(seventargets.Assistant{Name: "Max", EmailID: "max@7targets.test"})
	if added.ID == 0 || added.DefaultScheduleID == 0 {
		t.Errorf("AddAssistant = %+v, want an ID and a default sequence assigned", added)
	}
	tok := getToken(t, f)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"Ashley", "Lyra", "Max"}},
		{"?size=2", []string{"Ashley", "Lyra"}},
		{"?size=2&page=1", []string{"Max"}},
		{"?size=2&page=2", []string{}},
		{"?searchString=LY", []string{"Lyra"}},
		{"?searchString=max%407targets", []string{"Max"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			r := send(t, apiRequest(t, f, http.MethodGet, "/leads/assistant"+tt.query, tok, user, ""))
			var list []map[string]any
			if err := json.Unmarshal(r.Raw, &list); err != nil || list == nil {
				t.Fatalf("body %s is not a JSON array: %v", r.Raw, err)
			}
			got := []string{}
			for _, a := range list {
				got = append(got, a["name"].(string))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c, err := seventargets.New(f.APIURL(), f.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	creds := seventargets.Credentials{ClientID: clientID, ClientSecret: secret, UserIdentifier: user}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			lead := seventargets.Lead{Name: "N", Email: fmt.Sprintf("n%d@example.com", i), AssistantEmail: seventargetsfake.SeedAssistantEmail}
			if _, err := c.CreateLead(t.Context(), "k", creds, lead); err != nil {
				t.Errorf("CreateLead: %v", err)
			}
		})
		wg.Go(func() { _, _, _ = f.Leads(), f.Requests(), f.TokenRequests() })
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, l := range f.Leads() {
		if seen[l.ID] {
			t.Errorf("duplicate lead id %d", l.ID)
		}
		seen[l.ID] = true
	}
	if len(seen) != 30 {
		t.Errorf("%d leads, want 30", len(seen))
	}
}
