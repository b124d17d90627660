// Package sales is a client of the Zenvia Sales REST API: the calls the App makes on behalf of
// an installed instance (its integration, groups, prospects and notification subscriptions),
// and the webhook envelope Sales posts back.
//
// Every call takes the instance API key, because Sales issues one key per App instance and may
// refresh it at any time: the Client holds no key and one Client serves every instance. The key
// is a secret, so it travels only in the api-key query parameter and never appears in errors.
package sales

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/upstream"
)

// DefaultTimeout bounds each call, body read included, unless WithTimeout says otherwise.
const DefaultTimeout = 10 * time.Second

// maxBodySize bounds what is read from a response: Sales answers are small, and a runaway
// body must not exhaust memory.
const maxBodySize = 1 << 20

// Client calls the Zenvia Sales API. It is safe for concurrent use. Every method returns nil or
// an *APIError, to be told apart with errors.Is against ErrUnauthorized, ErrNotFound,
// ErrRateLimited and ErrUnavailable, or with APIError.Retryable.
type Client struct {
	base    *url.URL
	hc      *http.Client
	timeout time.Duration
	observe func(op string, status int, d time.Duration, err error)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send requests through hc, for instance to share a Transport
// or to instrument it. hc should carry its own Transport timeouts; it is used as given, so its
// redirect policy applies.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithTimeout sets the time limit of each call (DefaultTimeout when not set). Non-positive
// values are ignored.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithObserver makes the Client report every call once it ends, for metrics: op names the call
// ("integration", "group", "prospect", "prospects", "subscribe", "subscriptions", "unsubscribe", "lead"), status is
// the HTTP status (0 when no response arrived), d the duration and err the returned error.
// fn runs on the calling goroutine and must be safe for concurrent use.
func WithObserver(fn func(op string, status int, d time.Duration, err error)) Option {
	return func(c *Client) { c.observe = fn }
}

// New returns a Client for the API at baseURL, such as "https://sales.zenvia.com/api/v1".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := upstream.ParseBaseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("sales.New: %w", err)
	}

	c := &Client{base: u, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(c)
	}
	if c.hc == nil {
		c.hc = upstream.NewHTTPClient(c.timeout)
	}
	return c, nil
}

// Integration returns the integration of the API key: the App instance as Sales knows it,
// with the group it was installed in. Sales answers with one object or with a list of the
// active integrations; of a list, the first is returned, and an empty list is ErrNotFound.
func (c *Client) Integration(ctx context.Context, apiKey string) (Integration, error) {
	var in Integration
	err := c.do(ctx, call{
		op: "integration", method: http.MethodGet, segs: []string{"integration"}, apiKey: apiKey,
		decode: func(b []byte) error {
			b = bytes.TrimSpace(b)
			if len(b) > 0 && b[0] == '[' {
				var list []Integration
				if err := json.Unmarshal(b, &list); err != nil {
					return err
				}
				if len(list) == 0 {
					return errNoIntegration
				}
				in = list[0]
				return nil
			}
			return json.Unmarshal(b, &in)
		},
	})
	return in, err
}

// errNoIntegration marks an empty integration list, reported as ErrNotFound.
var errNoIntegration = errors.New("no active integration for this api key")

// Group returns the group groupID.
func (c *Client) Group(ctx context.Context, apiKey, groupID string) (Group, error) {
	var g Group
	err := c.do(ctx, call{
		op: "group", method: http.MethodGet, segs: []string{"group", groupID}, apiKey: apiKey,
		decode: func(b []byte) error { return json.Unmarshal(b, &g) },
	})
	return g, err
}

// Prospect returns the prospect prospectID.
func (c *Client) Prospect(ctx context.Context, apiKey, prospectID string) (Prospect, error) {
	var p Prospect
	err := c.do(ctx, call{
		op: "prospect", method: http.MethodGet, segs: []string{"prospect", prospectID}, apiKey: apiKey,
		decode: func(b []byte) error { return json.Unmarshal(b, &p) },
	})
	return p, err
}

// MaxProspectsPage is the most prospects Prospects asks for in one call.
const MaxProspectsPage = 100

// ProspectsWindow is how far back GET /prospects lists: Sales refuses a createdAfter more than
// 31 days before now.
const ProspectsWindow = 31 * 24 * time.Hour

// ProspectQuery filters GET /prospects. Zero fields are not sent.
type ProspectQuery struct {
	// CreatedAfter lists prospects created at or after it; Sales refuses one more than
	// ProspectsWindow ago.
	CreatedAfter time.Time
	// Status lists only prospects in that status, such as "unclaimed".
	Status string
	// Limit is the page size, at most MaxProspectsPage (larger values are lowered to it).
	Limit int
	// After lists only the prospects created after the one with this id (not included): the
	// last id of a page asks for the next one.
	After string
}

// values is the query string of q, without the API key.
func (q ProspectQuery) values() url.Values {
	v := url.Values{}
	if !q.CreatedAfter.IsZero() {
		v.Set("createdAfter", q.CreatedAfter.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(min(q.Limit, MaxProspectsPage)))
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	return v
}

// Prospects returns a page of the prospects q selects, oldest first (as paging with After
// needs): a page shorter than the limit is the last. A 429 is waited out in the call when its
// reset is near (see do); otherwise RateLimitDelay says when to ask again.
func (c *Client) Prospects(ctx context.Context, apiKey string, q ProspectQuery) ([]Prospect, error) {
	var list []Prospect
	err := c.do(ctx, call{
		op: "prospects", method: http.MethodGet, segs: []string{"prospects"}, apiKey: apiKey, query: q.values(),
		decode: func(b []byte) error { return json.Unmarshal(b, &list) },
	})
	return list, err
}

// Subscribe asks Sales to post notifications of topics (such as TopicProspects) to
// callbackURL. Sales keeps one subscription per group: subscribing again deactivates the
// previous one, so re-subscribing is how a callback URL is changed.
func (c *Client) Subscribe(ctx context.Context, apiKey string, topics []string, callbackURL string) (Subscription, error) {
	var s Subscription
	err := c.do(ctx, call{
		op: "subscribe", method: http.MethodPost, segs: []string{"notifications", "subscriptions"}, apiKey: apiKey,
		body: struct {
			Topics      []string `json:"topics"`
			CallbackURL string   `json:"callbackUrl"`
		}{topics, callbackURL},
		decode: func(b []byte) error { return json.Unmarshal(b, &s) },
	})
	return s, err
}

// Subscriptions returns the active notification subscriptions of the API key's group.
func (c *Client) Subscriptions(ctx context.Context, apiKey string) ([]Subscription, error) {
	var list []Subscription
	err := c.do(ctx, call{
		op: "subscriptions", method: http.MethodGet, segs: []string{"notifications", "subscriptions"}, apiKey: apiKey,
		decode: func(b []byte) error { return json.Unmarshal(b, &list) },
	})
	return list, err
}

// Unsubscribe deactivates the subscription id. A subscription Sales does not know (404) counts
// as removed, so disabling or uninstalling twice is harmless.
func (c *Client) Unsubscribe(ctx context.Context, apiKey, id string) error {
	return c.do(ctx, call{
		op: "unsubscribe", method: http.MethodDelete, segs: []string{"notifications", "subscription", id}, apiKey: apiKey,
		notFoundOK: true,
	})
}

// call describes one API request.
type call struct {
	op         string
	method     string
	segs       []string // path segments under the base URL, unescaped
	apiKey     string
	query      url.Values         // parameters besides api-key; nil for none
	body       any                // JSON request body; nil for none
	decode     func([]byte) error // reads a 2xx body; nil ignores it
	notFoundOK bool               // a 404 is success
}

// path is the request path under the base URL, as shown in errors: it never has the query.
func (cl call) path() string {
	var b strings.Builder
	for _, s := range cl.segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// maxRateLimitWait is the longest reset a call waits out itself before trying again; a caller
// told of a longer one (RateLimitDelay) schedules its own retry for then.
const maxRateLimitWait = 5 * time.Second

// do runs one call and reports each attempt to the observer. A 429 whose reset comes within
// maxRateLimitWait, and before ctx ends, is waited out and the call made again, a few times.
func (c *Client) do(ctx context.Context, cl call) error {
	for try := 0; ; try++ {
		start := time.Now()
		status, err := c.roundTrip(ctx, cl)
		if c.observe != nil {
			c.observe(cl.op, status, time.Since(start), err)
		}
		wait, limited := RateLimitDelay(err)
		if !limited || try == 2 || wait > maxRateLimitWait {
			return err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// roundTrip sends the request and maps the outcome to an *APIError. It returns the HTTP status,
// 0 when no response arrived.
func (c *Client) roundTrip(ctx context.Context, cl call) (int, error) {
	fail := func(status int, kind error, cause error, msg string) *APIError {
		return &APIError{
			Op: cl.op, Method: cl.method, Path: cl.path(), Status: status,
			Message: upstream.SafeMessage(msg, cl.apiKey, maxMessageLen), kind: kind,
			err: upstream.RedactError(cause, cl.apiKey),
		}
	}
	if cl.apiKey == "" {
		return 0, fail(0, ErrUnauthorized, nil, "missing api key")
	}
	for _, s := range cl.segs {
		if s == "" || s == "." || s == ".." {
			return 0, fail(0, ErrNotFound, nil, "empty or invalid id")
		}
	}

	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return 0, fail(0, nil, err, "encoding request: "+err.Error())
		}
		body = bytes.NewReader(b)
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := *c.base
	u.RawPath = c.base.EscapedPath() + cl.path()
	u.Path, _ = url.PathUnescape(u.RawPath) // cannot fail: every segment went through PathEscape
	q := url.Values{}
	maps.Copy(q, cl.query)
	q.Set("api-key", cl.apiKey)
	u.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return 0, fail(0, nil, nil, "building request")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "zenvia-sales-app (+https://github.com/7targets/zenvia-sales-app)")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fail(0, ErrUnavailable, transportCause(ctx, err), "")
	}
	defer resp.Body.Close()

	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	status := resp.StatusCode

	if status < 200 || status > 299 {
		if status == http.StatusNotFound && cl.notFoundOK {
			return status, nil
		}
		kind := classify(status)
		e := fail(status, kind, nil, errorMessage(b))
		if kind == ErrRateLimited {
			e.RetryAfter = retryAfter(resp.Header, time.Now())
		}
		return status, e
	}

	switch {
	case readErr != nil:
		// The connection broke mid-body: as transient as a failed dial.
		cause := transportCause(ctx, readErr)
		return status, fail(status, ErrUnavailable, cause, "reading response: "+cause.Error())
	case len(b) > maxBodySize:
		return status, fail(status, nil, nil, fmt.Sprintf("response body exceeds %d bytes", maxBodySize))
	case cl.decode == nil:
		return status, nil
	}
	if err := cl.decode(b); err != nil {
		if errors.Is(err, errNoIntegration) {
			return status, fail(status, ErrNotFound, nil, err.Error())
		}
		// A 2xx Sales answer we cannot read will not read better next time.
		return status, fail(status, nil, err, "decoding response: "+err.Error())
	}
	return status, nil
}

// transportCause names why no (complete) response arrived. *url.Error is unwrapped because its
// text holds the request URL, and so the API key.
func transportCause(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		// Either the caller gave up or the per-call timeout fired: say which, plainly.
		return ctxErr
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
