package seventargets_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/internal/testport"
	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		apiURL   string
		tokenURL string
		wantErr  bool
	}{
		{"production URLs", "https://api.7targets.com", "https://login.7targets.com/oauth2/token", false},
		{"trailing slash", "http://127.0.0.1:9/", "http://127.0.0.1:9/oauth2/token", false},
		{"empty API URL", "", "https://login.7targets.com/oauth2/token", true},
		{"relative API URL", "/leads", "https://login.7targets.com/oauth2/token", true},
		{"no host", "https://", "https://login.7targets.com/oauth2/token", true},
		{"bad scheme", "ftp://api.7targets.com", "https://login.7targets.com/oauth2/token", true},
		{"bad token URL", "https://api.7targets.com", "login.7targets.com/oauth2/token", true},
		{"unparseable", "https://api.7targets.com", "http://[::1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := seventargets.New(tt.apiURL, tt.tokenURL)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("New(%q, %q) error = %v, want error %v", tt.apiURL, tt.tokenURL, err, tt.wantErr)
			}
		})
	}
}

func TestCheckCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		setup        func(*seventargetsfake.Server)
		clientID     string
		secret       string
		opts         []seventargets.Option
		want         error // nil, ErrInvalidCredentials or ErrUnavailable
		wantRequests int
		wantCause    error
	}{
		{name: "valid", clientID: testClientID, secret: testSecret, wantRequests: 1},
		{name: "wrong secret", clientID: testClientID, secret: "s3cr3t-but-wrong", want: seventargets.ErrInvalidCredentials, wantRequests: 1},
		{name: "unknown client", clientID: "nobody", secret: testSecret, want: seventargets.ErrInvalidCredentials, wantRequests: 1},
		{name: "empty secret", clientID: testClientID, secret: "", want: seventargets.ErrInvalidCredentials, wantRequests: 0},
		{
			name:  "token endpoint down",
			setup: func(f *seventargetsfake.Server) { f.SetDown(true) },
			// A 503 says nothing about the credentials.
			clientID: testClientID, secret: testSecret, want: seventargets.ErrUnavailable, wantRequests: 1,
		},
		{
			name:     "token endpoint too slow",
			setup:    func(f *seventargetsfake.Server) { f.SetLatency(30 * time.Second) },
			clientID: testClientID, secret: testSecret,
			opts: []seventargets.Option{seventargets.WithTimeout(50 * time.Millisecond)},
			want: seventargets.ErrUnavailable, wantRequests: 1, wantCause: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			rec := &recorder{}
			c := newClient(t, f, append(tt.opts, seventargets.WithObserver(rec))...)

			start := time.Now()
			err := c.CheckCredentials(t.Context(), tt.clientID, tt.secret)
			// Not a speed figure: only that the call gave up long before a 30s-slow server answered.
			if elapsed := time.Since(start); elapsed > 20*time.Second {
				t.Errorf("CheckCredentials took %v, want it bounded by the timeout", elapsed)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckCredentials() = %v, want nil", err)
				}
			} else {
				apiErr := checkAPIError(t, err, tt.want, tt.want == seventargets.ErrUnavailable)
				if apiErr.Op != "CheckCredentials" {
					t.Errorf("Op = %q, want CheckCredentials", apiErr.Op)
				}
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantCause)
			}
			if got := f.TokenRequests(); got != tt.wantRequests {
				t.Errorf("token requests = %d, want %d", got, tt.wantRequests)
			}
			// CheckCredentials validates; it must not fill the cache.
			if tt.want == nil && f.TokenRequestsFor(testClientID) != 1 {
				t.Errorf("TokenRequestsFor(%q) = %d, want 1", testClientID, f.TokenRequestsFor(testClientID))
			}
			if len(rec.tokens) != tt.wantRequests {
				t.Errorf("observed %d token requests, want %d", len(rec.tokens), tt.wantRequests)
			}
		})
	}
}

// TestCheckCredentialsTokenAnswers covers token endpoint answers the fake
// does not produce: other servers, proxies and broken responses.
func TestCheckCredentialsTokenAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		handler        http.HandlerFunc
		want           error
		wantRetryAfter time.Duration
	}{
		{
			name: "invalid_grant",
			handler: func(w http.ResponseWriter, r *http.Request) {
				jsonError(w, http.StatusBadRequest, `{"error":"invalid_grant"}`)
			},
			want: seventargets.ErrInvalidCredentials,
		},
		{
			name: "unauthorized_client with 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				jsonError(w, http.StatusOK, `{"error":"unauthorized_client"}`)
			},
			want: seventargets.ErrInvalidCredentials,
		},
		{
			name: "plain 401",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no", http.StatusUnauthorized)
			},
			want: seventargets.ErrInvalidCredentials,
		},
		{
			name: "error body echoing the secret",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, secret, _ := r.BasicAuth()
				jsonError(w, http.StatusBadRequest, fmt.Sprintf(`{"error":"invalid_client","error_description":"bad secret %s"}`, secret))
			},
			want: seventargets.ErrInvalidCredentials,
		},
		{
			name: "500",
			handler: func(w http.ResponseWriter, r *http.Request) {
				jsonError(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
			},
			want: seventargets.ErrUnavailable,
		},
		{
			name: "429 with Retry-After",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "7")
				jsonError(w, http.StatusTooManyRequests, `{"message":"slow down"}`)
			},
			want:           seventargets.ErrUnavailable,
			wantRetryAfter: 7 * time.Second,
		},
		{
			name: "malformed JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				jsonError(w, http.StatusOK, `{"access_token":`)
			},
			want: seventargets.ErrUnavailable,
		},
		{
			name: "no access token",
			handler: func(w http.ResponseWriter, r *http.Request) {
				jsonError(w, http.StatusOK, `{"token_type":"Bearer","expires_in":3600}`)
			},
			want: seventargets.ErrUnavailable,
		},
		{
			name: "connection dropped",
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			want: seventargets.ErrUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			c, err := seventargets.New(srv.URL, srv.URL+"/oauth2/token")
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckCredentials(t.Context(), testClientID, testSecret)
			apiErr := checkAPIError(t, err, tt.want, tt.want == seventargets.ErrUnavailable)
			if apiErr.RetryAfter != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", apiErr.RetryAfter, tt.wantRetryAfter)
			}
		})
	}
}

func TestCheckCredentialsNoServer(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: connection refused, quickly.
	addr := "127.0.0.1:" + strconv.Itoa(testport.Free(t))
	c, err := seventargets.New("http://"+addr, "http://"+addr+"/oauth2/token")
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckCredentials(t.Context(), testClientID, testSecret)
	checkAPIError(t, err, seventargets.ErrUnavailable, true)
}

func jsonError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		status         int
		want           error
		retryable      bool
		wantRetryAfter time.Duration
		wantTokens     int
	}{
		{"400 rejected", http.StatusBadRequest, seventargets.ErrRejected, false, 0, 1},
		{"404 rejected", http.StatusNotFound, seventargets.ErrRejected, false, 0, 1},
		{"409 rejected", http.StatusConflict, seventargets.ErrRejected, false, 0, 1},
		// 403 is not a stale token: no refresh, and it is a credentials
		// problem the user must fix.
		{"403 invalid credentials", http.StatusForbidden, seventargets.ErrInvalidCredentials, false, 0, 1},
		{"429 rate limited", http.StatusTooManyRequests, seventargets.ErrRateLimited, true, time.Second, 1},
		{"500 unavailable", http.StatusInternalServerError, seventargets.ErrUnavailable, true, 0, 1},
		{"502 unavailable", http.StatusBadGateway, seventargets.ErrUnavailable, true, 0, 1},
		{"503 unavailable", http.StatusServiceUnavailable, seventargets.ErrUnavailable, true, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newClient(t, f)
			f.FailNext(1, tt.status)
			_, err := c.CreateLead(t.Context(), "instance-1", testCreds, testLead(1))
			apiErr := checkAPIError(t, err, tt.want, tt.retryable)
			if apiErr.Status != tt.status {
				t.Errorf("Status = %d, want %d", apiErr.Status, tt.status)
			}
			if apiErr.Op != "CreateLead" {
				t.Errorf("Op = %q, want CreateLead", apiErr.Op)
			}
			if want := "injected failure: " + http.StatusText(tt.status); apiErr.Message != want {
				t.Errorf("Message = %q, want the server's %q", apiErr.Message, want)
			}
			if apiErr.RetryAfter != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", apiErr.RetryAfter, tt.wantRetryAfter)
			}
			if got := f.TokenRequests(); got != tt.wantTokens {
				t.Errorf("token requests = %d, want %d", got, tt.wantTokens)
			}
			if got := f.Count(http.MethodPost, "/leads"); got != 1 {
				t.Errorf("POST /leads = %d, want 1: the client itself must not retry", got)
			}
			// The failure was injected once; the next call goes through.
			if _, err := c.CreateLead(t.Context(), "instance-1", testCreds, testLead(1)); err != nil {
				t.Errorf("CreateLead after the failure: %v", err)
			}
		})
	}
}

// TestAPIErrorBodies covers error bodies the fake does not send.
func TestAPIErrorBodies(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 2000)
	tests := []struct {
		name        string
		status      int
		body        string
		header      map[string]string
		retryAt     time.Duration // sends Retry-After as the date this far ahead
		wantMessage string
		wantAfter   time.Duration
	}{
		{name: "gateway message", status: 400, body: `{"message":"name mandatory"}`, wantMessage: "name mandatory"},
		{name: "spring error", status: 400, body: `{"timestamp":"x","status":400,"error":"Bad Request","message":"email invalid"}`, wantMessage: "email invalid"},
		{name: "errors array", status: 422, body: `{"errors":[{"message":"a"},{"message":"b"}]}`, wantMessage: "a; b"},
		{name: "plain text", status: 400, body: "bad\nthing\x00", wantMessage: "bad thing"},
		{name: "empty", status: 404, body: "", wantMessage: ""},
		{name: "retry-after date", status: 503, body: "{}", retryAt: 90 * time.Second, wantAfter: 90 * time.Second},
		{name: "retry-after ignored on 500", status: 500, body: "{}", header: map[string]string{"Retry-After": "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header := tt.header
			if tt.retryAt > 0 {
				header = map[string]string{"Retry-After": time.Now().Add(tt.retryAt).UTC().Format(http.TimeFormat)}
			}
			c := fixedAPI(t, tt.status, tt.body, header)
			_, err := c.CreateLead(t.Context(), "k", testCreds, testLead(1))
			var apiErr *seventargets.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if apiErr.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", apiErr.Message, tt.wantMessage)
			}
			// Date-based delays lose up to a second to the header's precision.
			if d := apiErr.RetryAfter - tt.wantAfter; d < -time.Second || d > time.Second {
				t.Errorf("RetryAfter = %v, want about %v", apiErr.RetryAfter, tt.wantAfter)
			}
		})
	}
	t.Run("long message truncated", func(t *testing.T) {
		t.Parallel()
		c := fixedAPI(t, 400, `{"message":"`+long+`"}`, nil)
		_, err := c.CreateLead(t.Context(), "k", testCreds, testLead(1))
		var apiErr *seventargets.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("err = %v, want *APIError", err)
		}
		if n := len(apiErr.Message); n == 0 || n > 512 {
			t.Errorf("len(Message) = %d, want 1..512", n)
		}
		if !strings.HasPrefix(long, strings.TrimSuffix(apiErr.Message, "…")) {
			t.Errorf("Message is not a prefix of the server's message on a rune boundary")
		}
	})
	t.Run("oversized success body", func(t *testing.T) {
		t.Parallel()
		c := fixedAPI(t, 201, `{"id":1,"name":"`+strings.Repeat("x", 2<<20)+`"}`, nil)
		_, err := c.CreateLead(t.Context(), "k", testCreds, testLead(1))
		checkAPIError(t, err, seventargets.ErrUnavailable, true)
	})
	t.Run("malformed success body", func(t *testing.T) {
		t.Parallel()
		c := fixedAPI(t, 201, `{"id":"not a number"}`, nil)
		_, err := c.CreateLead(t.Context(), "k", testCreds, testLead(1))
		checkAPIError(t, err, seventargets.ErrUnavailable, true)
	})
}

// fixedAPI returns a Client whose token endpoint works and whose API always
// answers status, body and header.
func fixedAPI(tb testing.TB, status int, body string, header map[string]string) *seventargets.Client {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/token" {
			jsonError(w, http.StatusOK, `{"access_token":"t","expires_in":3600,"token_type":"Bearer"}`)
			return
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	tb.Cleanup(srv.Close)
	c, err := seventargets.New(srv.URL, srv.URL+"/oauth2/token")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// warm gets a token before the latency starts, so the API call
		// itself is what times out.
		warm      bool
		ctxLimit  time.Duration
		timeout   time.Duration
		wantCause error
	}{
		{name: "token request times out", timeout: 100 * time.Millisecond, wantCause: context.DeadlineExceeded},
		{name: "API request times out", warm: true, timeout: 100 * time.Millisecond, wantCause: context.DeadlineExceeded},
		{name: "caller deadline while waiting for a token", ctxLimit: 100 * time.Millisecond, timeout: 10 * time.Second, wantCause: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newClient(t, f, seventargets.WithTimeout(tt.timeout))
			if tt.warm {
				mustCreate(t, c, "k", testLead(0))
			}
			f.SetLatency(5 * time.Second)
			ctx := t.Context()
			if tt.ctxLimit > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxLimit)
				defer cancel()
			}
			start := time.Now()
			_, err := c.CreateLead(ctx, "k", testCreds, testLead(1))
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("CreateLead took %v, want about 100ms", elapsed)
			}
			checkAPIError(t, err, seventargets.ErrUnavailable, true)
			if !errors.Is(err, tt.wantCause) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantCause)
			}
		})
	}
}

func TestMissingCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		creds seventargets.Credentials
	}{
		{"no client ID", seventargets.Credentials{ClientSecret: testSecret, UserIdentifier: testUser}},
		{"no secret", seventargets.Credentials{ClientID: testClientID, UserIdentifier: testUser}},
		{"no user identifier", seventargets.Credentials{ClientID: testClientID, ClientSecret: testSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newClient(t, f)
			_, err := c.CreateLead(t.Context(), "k", tt.creds, testLead(1))
			checkAPIError(t, err, seventargets.ErrInvalidCredentials, false)
			if n := len(f.Requests()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

func TestWrongUserIdentifier(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newClient(t, f)
	creds := testCreds
	creds.UserIdentifier = "someone-else"
	_, err := c.CreateLead(t.Context(), "k", creds, testLead(1))
	apiErr := checkAPIError(t, err, seventargets.ErrInvalidCredentials, false)
	if apiErr.Status != http.StatusForbidden {
		t.Errorf("Status = %d, want 403", apiErr.Status)
	}
	if !errors.Is(err, seventargets.ErrRejected) {
		t.Errorf("invalid credentials should also match ErrRejected")
	}
}

func TestCredentialsFormattingHidesSecret(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, testCreds); strings.Contains(got, "s3cr3t") {
			t.Errorf("Sprintf(%q, creds) = %q, shows the secret", format, got)
		}
	}
}

func TestObserver(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	rec := &recorder{}
	c := newClient(t, f, seventargets.WithObserver(rec))

	mustCreate(t, c, "k", testLead(1))
	f.ExpireTokens()
	mustCreate(t, c, "k", testLead(2))
	if err := c.CheckCredentials(t.Context(), testClientID, "wrong-secret"); err == nil {
		t.Fatal("CheckCredentials with a wrong secret succeeded")
	}
	f.SetDown(true)
	if err := c.CheckCredentials(t.Context(), testClientID, testSecret); err == nil {
		t.Fatal("CheckCredentials with the fake down succeeded")
	}

	wantCalls := []call{
		{Op: "CreateLead", Status: 201},
		{Op: "CreateLead", Status: 401, Err: true},
		{Op: "CreateLead", Status: 201},
	}
	if diff := cmp.Diff(wantCalls, rec.calls); diff != "" {
		t.Errorf("observed calls (-want +got):\n%s", diff)
	}
	wantTokens := []seventargets.TokenOutcome{
		seventargets.TokenOK, seventargets.TokenOK, seventargets.TokenRejected, seventargets.TokenUnavailable,
	}
	if diff := cmp.Diff(wantTokens, rec.tokens); diff != "" {
		t.Errorf("observed token requests (-want +got):\n%s", diff)
	}
}
