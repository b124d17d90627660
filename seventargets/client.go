// Package seventargets is a client for the 7Targets API: it creates and
// updates leads, stops their follow-up and lists assistants, with OAuth2
// client-credentials tokens cached per App instance so that a token is
// requested once per lifetime, not once per lead.
//
// Every error it returns is an *APIError that says whether the call is worth
// retrying and matches one of ErrInvalidCredentials, ErrUnavailable,
// ErrRateLimited or ErrRejected with errors.Is.
package seventargets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/7targets/zenvia-sales-app/internal/upstream"
)

// scope is the only OAuth2 scope 7Targets documents for its API.
const scope = "leads/post"

// maxBodySize bounds how much of a response is read: a lead or a page of
// assistants is a few KiB, so more means something is wrong upstream.
const maxBodySize = 1 << 20

// Defaults, chosen for a worker that forwards leads in the background.
const (
	defaultTimeout         = 10 * time.Second
	defaultEarlyExpiry     = 60 * time.Second
	defaultMaxCachedTokens = 10000
	// defaultTokenLifetime applies when the token endpoint omits expires_in;
	// 7Targets documents 3600.
	defaultTokenLifetime = time.Hour
)

// userIdentifierHeader names the header 7Targets uses to pick the user (and
// so the organisation) a call acts for.
const userIdentifierHeader = "7ts-user-identifier"

// userAgent lets 7Targets tell this integration's traffic apart.
const userAgent = "zenvia-sales-app-7targets/1"

// Credentials are one App instance's 7Targets settings: the OAuth2 client
// and the user the API calls act for.
type Credentials struct {
	ClientID       string
	ClientSecret   string
	UserIdentifier string
}

// String hides the secret, so Credentials can be logged by accident safely.
func (c Credentials) String() string {
	return fmt.Sprintf("{ClientID:%s ClientSecret:[redacted] UserIdentifier:%s}", c.ClientID, c.UserIdentifier)
}

// GoString hides the secret from %#v as String does from %v.
func (c Credentials) GoString() string { return "seventargets.Credentials" + c.String() }

// TokenOutcome is the result of one request to the token endpoint, as
// reported to an Observer.
type TokenOutcome string

// Token request outcomes.
const (
	// TokenOK means a token was issued.
	TokenOK TokenOutcome = "ok"
	// TokenRejected means the endpoint rejected the credentials.
	TokenRejected TokenOutcome = "rejected"
	// TokenUnavailable means the endpoint failed: network, timeout, 5xx or a
	// malformed answer.
	TokenUnavailable TokenOutcome = "unavailable"
)

// Observer receives measurements of the Client's outbound traffic, for
// metrics. Implementations must be safe for concurrent use and return quickly:
// they are called on the request path.
type Observer interface {
	// ObserveCall is called once per HTTP request to the API, including the
	// retry after a token refresh. op is the method name ("CreateLead"),
	// status is 0 when no response arrived, and err is nil on success.
	ObserveCall(op string, status int, elapsed time.Duration, err error)
	// ObserveTokenRequest is called once per request to the token endpoint.
	ObserveTokenRequest(outcome TokenOutcome, elapsed time.Duration)
}

type nopObserver struct{}

func (nopObserver) ObserveCall(string, int, time.Duration, error)   {}
func (nopObserver) ObserveTokenRequest(TokenOutcome, time.Duration) {}

// Client calls the 7Targets API on behalf of many App instances, each with
// its own Credentials. It is safe for concurrent use.
type Client struct {
	apiURL     string
	tokenURL   string
	hc         *http.Client
	timeout    time.Duration
	early      time.Duration
	maxCache   int
	obs        Observer
	tokens     *tokenCache
	assistants *assistantCache
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for the API and the token endpoint.
// By default the Client builds its own with connection and TLS timeouts, which
// returns a redirect as the response instead of following it; hc is used as
// given, so its own redirect policy applies.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithTimeout sets the time limit of each HTTP request (default 10s). A call
// that needs a token and a retry makes up to three requests.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithObserver sets the Observer that receives call and token measurements.
func WithObserver(o Observer) Option {
	return func(c *Client) {
		if o != nil {
			c.obs = o
		}
	}
}

// WithTokenEarlyExpiry sets how long before its expiry a cached token is
// replaced (default 60s), so a token never expires in flight. A token that
// lives less than twice d is replaced at half its lifetime instead, so short
// lifetimes do not cost a token request per call.
func WithTokenEarlyExpiry(d time.Duration) Option {
	return func(c *Client) {
		if d >= 0 {
			c.early = d
		}
	}
}

// WithMaxCachedTokens bounds the token cache (default 10000 keys). When full,
// expired tokens go first, then the least recently used.
func WithMaxCachedTokens(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxCache = n
		}
	}
}

// New returns a Client for the API at apiURL (such as
// "https://api.7targets.com") whose tokens come from tokenURL (such as
// "https://login.7targets.com/oauth2/token"). It fails if either is not an
// absolute http or https URL.
func New(apiURL, tokenURL string, opts ...Option) (*Client, error) {
	for _, u := range []struct{ name, value string }{{"apiURL", apiURL}, {"tokenURL", tokenURL}} {
		p, err := url.Parse(u.value)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("seventargets.New: %s %q is not an absolute http(s) URL", u.name, u.value)
		}
	}
	c := &Client{
		apiURL:   strings.TrimRight(apiURL, "/"),
		tokenURL: tokenURL,
		timeout:  defaultTimeout,
		early:    defaultEarlyExpiry,
		maxCache: defaultMaxCachedTokens,
		obs:      nopObserver{},
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.hc == nil {
		c.hc = upstream.NewHTTPClient(c.timeout)
	}
	c.tokens = newTokenCache(c.maxCache)
	c.assistants = newAssistantCache(c.maxCache)
	return c, nil
}

// CheckCredentials asks the token endpoint for a token with clientID and
// clientSecret, without caching it, to validate settings before they are
// saved. It returns nil, an error matching ErrInvalidCredentials when the
// endpoint rejects them, or one matching ErrUnavailable when it cannot tell.
func (c *Client) CheckCredentials(ctx context.Context, clientID, clientSecret string) error {
	const op = "CheckCredentials"
	if clientID == "" || clientSecret == "" {
		return newAPIError(op, 0, ErrInvalidCredentials, "client ID and secret are required", nil)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.fetchToken(ctx, op, clientID, clientSecret)
	return err
}

// fetchToken makes one client-credentials token request. The error never
// carries the response body or the secret: Cognito's bodies are not needed to
// decide, and an echoing proxy could leak the secret.
func (c *Client) fetchToken(ctx context.Context, op, clientID, clientSecret string) (*oauth2.Token, error) {
	cfg := clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		TokenURL:     c.tokenURL,
		Scopes:       []string{scope},
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	start := time.Now()
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, c.hc))
	var apiErr *APIError
	if err != nil {
		apiErr = tokenError(op, err, clientSecret)
	}
	outcome := TokenOK
	switch {
	case apiErr == nil:
	case errors.Is(apiErr, ErrInvalidCredentials):
		outcome = TokenRejected
	default:
		outcome = TokenUnavailable
	}
	c.obs.ObserveTokenRequest(outcome, time.Since(start))
	if apiErr != nil {
		return nil, apiErr
	}
	return tok, nil
}

// tokenError maps a token request failure: the endpoint refusing the client
// is permanent, anything else (network, timeout, 5xx, garbage) may pass.
func tokenError(op string, err error, secret string) *APIError {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// Network errors, timeouts and unparseable answers; their text names
		// the token URL at most, never the secret, but be sure, in the cause
		// too since a caller may print the chain.
		return newAPIError(op, 0, ErrUnavailable, upstream.SafeMessage("token request failed: "+err.Error(), secret, maxMessageLen), upstream.RedactError(err, secret))
	}
	status := 0
	var retryAfter time.Duration
	if re.Response != nil {
		status = re.Response.StatusCode
		retryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
	}
	code := oauthErrorCode(re.ErrorCode)
	switch {
	case code == "invalid_client" || code == "unauthorized_client" || code == "invalid_grant",
		status == http.StatusBadRequest || status == http.StatusUnauthorized:
		msg := "token endpoint rejected the client credentials"
		if code != "" {
			msg += " (" + code + ")"
		}
		return newAPIError(op, status, ErrInvalidCredentials, msg, nil)
	default:
		msg := "token endpoint failed"
		if code != "" {
			msg += " (" + code + ")"
		}
		e := newAPIError(op, status, ErrUnavailable, msg, nil)
		e.RetryAfter = retryAfter
		return e
	}
}

// oauthErrorCode keeps an OAuth2 error code only if it looks like one, so
// server text of any other shape never reaches messages.
func oauthErrorCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	for _, r := range code {
		if (r < 'a' || r > 'z') && r != '_' {
			return ""
		}
	}
	return code
}

// Forget drops the token and the assistants cached for key, for example when the instance
// is uninstalled or its credentials are replaced.
func (c *Client) Forget(key string) {
	c.tokens.forget(key)
	c.assistants.forget(key)
}

// call performs one API operation for an instance: it gets a token, sends
// the request, and on a 401 refreshes the token once and retries once, since
// tokens can be revoked or expire early on the server side.
func (c *Client) call(ctx context.Context, op, key string, creds Credentials, method, path string, in, out any) error {
	switch {
	case creds.ClientID == "" || creds.ClientSecret == "":
		return newAPIError(op, 0, ErrInvalidCredentials, "client ID and secret are required", nil)
	case creds.UserIdentifier == "":
		return newAPIError(op, 0, ErrInvalidCredentials, "user identifier is required", nil)
	}
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return newAPIError(op, 0, ErrRejected, errorf("encoding request: %v", err), err)
		}
	}
	tok, err := c.token(ctx, op, key, creds, "")
	if err != nil {
		return err
	}
	status, err := c.do(ctx, op, method, path, tok, creds.UserIdentifier, payload, out)
	if status != http.StatusUnauthorized {
		return err
	}
	if tok, err = c.token(ctx, op, key, creds, tok); err != nil {
		return err
	}
	_, err = c.do(ctx, op, method, path, tok, creds.UserIdentifier, payload, out)
	return err
}

// do sends one request with its own timeout and maps the response. It
// returns the status (0 without a response) so call can spot a 401.
func (c *Client) do(ctx context.Context, op, method, path, token, userID string, payload []byte, out any) (status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	defer func() { c.obs.ObserveCall(op, status, time.Since(start), err) }()

	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.apiURL+path, body)
	if err != nil {
		return 0, newAPIError(op, 0, ErrRejected, errorf("building request: %v", err), err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(userIdentifierHeader, userID)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, newAPIError(op, 0, ErrUnavailable, errorf("request failed: %v", err), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	status = resp.StatusCode
	if err != nil {
		return status, newAPIError(op, status, ErrUnavailable, errorf("reading response: %v", err), err)
	}

	if status < 200 || status > 299 {
		e := newAPIError(op, status, classify(status), errorMessage(data, token), nil)
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return status, e
	}
	if len(data) > maxBodySize {
		return status, newAPIError(op, status, ErrUnavailable, "response body exceeds 1 MiB", nil)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return status, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		// The call may well have taken effect; the operations are idempotent
		// upstream (create "creates or assigns"), so a retry is safe.
		return status, newAPIError(op, status, ErrUnavailable, errorf("malformed response: %v", err), err)
	}
	return status, nil
}
