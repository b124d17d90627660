// Package chattonic is a client of the Chat-Tonic leads API: the funnels of a bot account and
// the lead records its bots captured in them, read page by page with the account's access
// token. It also maps a record to what a Zenvia Sales retail lead needs (ToLead).
//
// Every call takes the codename and token, because each App instance configures its own bot
// account: the Client holds neither and one Client serves every instance. The token is a
// secret: it travels only in the Authorization header and never appears in errors. Every error
// a call returns is an *APIError; see the sentinels for what each means.
package chattonic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/upstream"
)

// DefaultTimeout bounds each call, body read included, unless WithTimeout says otherwise.
const DefaultTimeout = 15 * time.Second

// MaxLimit is the largest page Chat-Tonic serves (its documented default and maximum).
const MaxLimit = 100

// maxBodySize bounds what is read from a response: a page of 100 records is some 100 KiB, so
// more means something is wrong upstream, and a runaway body must not exhaust memory.
const maxBodySize = 8 << 20

// maxPages bounds one paging run: 10000 pages of 100 is a million records of one funnel group,
// beyond any bot; a server that never answers a short page must not keep a poller forever.
const maxPages = 10000

// userAgent lets Chat-Tonic tell this integration's traffic apart.
const userAgent = "zenvia-sales-app-chattonic/1"

// Client calls the Chat-Tonic API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	hc      *http.Client
	timeout time.Duration
	observe func(op string, status int, d time.Duration, err error)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send requests through hc. hc should carry its own Transport
// timeouts; it is used as given, so its redirect policy applies.
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

// WithObserver makes the Client report every HTTP request once it ends, for metrics: op is
// "Funnels" or "Records", status the HTTP status (0 when no response arrived), d the duration
// and err the returned error. fn runs on the calling goroutine and must be safe for concurrent
// use.
func WithObserver(fn func(op string, status int, d time.Duration, err error)) Option {
	return func(c *Client) { c.observe = fn }
}

// New returns a Client for the API at baseURL, the {{baseUrl}} of the reference, such as
// "https://chattonic.mobile-tonic.com".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := upstream.ParseBaseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("chattonic.New: %w", err)
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

// maxCodenameLen bounds a codename: Chat-Tonic issues short identifiers ("demo_codename").
const maxCodenameLen = 64

// ValidateCodename reports whether codename can name a Chat-Tonic bot account: 1 to 64 ASCII
// letters, digits, '_' or '-', starting with a letter or digit. The codename is a path segment,
// so anything else ("..", "/", "%2F", "?") could make the call reach another path; it is
// refused before any request, with an error matching ErrUnknownCodename.
func ValidateCodename(codename string) error {
	if codename == "" || len(codename) > maxCodenameLen {
		return fmt.Errorf("%w: it must have 1 to %d characters", ErrUnknownCodename, maxCodenameLen)
	}
	for i := 0; i < len(codename); i++ {
		c := codename[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%w: only letters, digits, '_' and '-' may appear, and it must start with a letter or digit", ErrUnknownCodename)
		}
	}
	return nil
}

// Funnels reads one page of the bot account's funnels, skip funnels in, at most limit of them
// (MaxLimit when limit is 0 or above it). Settings are checked with Funnels(ctx, codename,
// token, 0, 1).
func (c *Client) Funnels(ctx context.Context, codename, token string, skip, limit int) (FunnelPage, error) {
	const op = "Funnels"
	var page FunnelPage
	q, err := pageQuery(op, codename, skip, limit)
	if err != nil {
		return page, err
	}
	err = c.do(ctx, call{op: op, codename: codename, token: token, resource: "funnels", query: q,
		decode: func(b []byte) (err error) { page, err = DecodeFunnels(b); return err }})
	return page, err
}

// AllFunnels reads every funnel of the bot account, page by page until a short page.
func (c *Client) AllFunnels(ctx context.Context, codename, token string) ([]Funnel, error) {
	var all []Funnel
	seen := make(map[string]bool)
	skip := 0
	for range maxPages {
		page, err := c.Funnels(ctx, codename, token, skip, MaxLimit)
		if err != nil {
			return nil, err
		}
		for _, f := range page.Funnels {
			if !seen[f.ID] {
				seen[f.ID] = true
				all = append(all, f)
			}
		}
		if isLastPage(len(page.Funnels), MaxLimit, page.Limit) {
			return all, nil
		}
		skip += len(page.Funnels)
	}
	return nil, pagingError("AllFunnels", codename)
}

// RecordQuery selects the records of one funnel group.
type RecordQuery struct {
	// Funnel is the funnel ID and FunnelGroup the group's name; both are required.
	Funnel      string
	FunnelGroup string
	// Skip and Limit page the records; a Limit of 0 or above MaxLimit means MaxLimit.
	Skip, Limit int
	// StartDate and EndDate, when set, bound the records' creation time.
	StartDate, EndDate time.Time
}

// Records reads one page of the records of q's funnel group.
func (c *Client) Records(ctx context.Context, codename, token string, q RecordQuery) (RecordPage, error) {
	const op = "Records"
	var page RecordPage
	v, err := pageQuery(op, codename, q.Skip, q.Limit)
	if err != nil {
		return page, err
	}
	switch {
	case strings.TrimSpace(q.Funnel) == "" || strings.TrimSpace(q.FunnelGroup) == "":
		return page, invalid(op, codename, "funnel and funnel group are required")
	case !q.StartDate.IsZero() && !q.EndDate.IsZero() && q.EndDate.Before(q.StartDate):
		return page, invalid(op, codename, "end date is before start date")
	}
	v.Set("funnel", q.Funnel)
	v.Set("funnelGroup", q.FunnelGroup)
	if !q.StartDate.IsZero() {
		v.Set("startDate", formatTime(q.StartDate))
	}
	if !q.EndDate.IsZero() {
		v.Set("endDate", formatTime(q.EndDate))
	}
	err = c.do(ctx, call{op: op, codename: codename, token: token, resource: "records", query: v,
		decode: func(b []byte) (err error) { page, err = DecodeRecords(b); return err }})
	return page, err
}

// RecordPages reads the records of q's funnel group from q.Skip, page by page until a short
// page, and calls fn with each page as it arrives, so that a caller can keep what it read before
// a later page fails. An error from fn stops the reading and is returned as it is.
func (c *Client) RecordPages(ctx context.Context, codename, token string, q RecordQuery, fn func(RecordPage) error) error {
	limit := effectiveLimit(q.Limit)
	q.Limit = limit
	prevFirst := ""
	for range maxPages {
		page, err := c.Records(ctx, codename, token, q)
		if err != nil {
			return err
		}
		if len(page.Records) > 0 {
			// A server that ignores skip answers the same full page forever.
			first := page.Records[0].ID
			if first != "" && first == prevFirst {
				return pagingError("RecordPages", codename)
			}
			prevFirst = first
		}
		if err := fn(page); err != nil {
			return err
		}
		if isLastPage(len(page.Records), limit, page.Limit) {
			return nil
		}
		q.Skip += len(page.Records)
	}
	return pagingError("RecordPages", codename)
}

// isLastPage reports whether a page of n items, asked for with limit, ends the paging. A server
// that serves smaller pages than asked says so in its limit; a page shorter than that ends it.
func isLastPage(n, asked, answered int) bool {
	size := asked
	if answered > 0 && answered < size {
		size = answered
	}
	return n == 0 || n < size
}

func pagingError(op, codename string) *APIError {
	return &APIError{Op: op, Codename: codename, kind: ErrUnavailable,
		Message: errorf("paging did not end: the server repeats pages or has more than %d", maxPages)}
}

func effectiveLimit(limit int) int {
	if limit <= 0 || limit > MaxLimit {
		return MaxLimit
	}
	return limit
}

// pageQuery validates what every call shares and returns its skip and limit parameters.
func pageQuery(op, codename string, skip, limit int) (url.Values, error) {
	if err := ValidateCodename(codename); err != nil {
		// Not echoed: it may be anything a user typed.
		return nil, &APIError{Op: op, kind: ErrUnknownCodename, Message: "invalid codename", err: err}
	}
	if skip < 0 {
		return nil, invalid(op, codename, "skip must not be negative")
	}
	return url.Values{"skip": {strconv.Itoa(skip)}, "limit": {strconv.Itoa(effectiveLimit(limit))}}, nil
}

func invalid(op, codename, msg string) *APIError {
	return &APIError{Op: op, Codename: codename, kind: ErrRejected, Message: msg}
}

// call describes one API request.
type call struct {
	op       string
	codename string // validated
	token    string
	resource string // "funnels" or "records", under /api/v1/{codename}/lead/
	query    url.Values
	decode   func([]byte) error // reads a 2xx body
}

// do sends one request with its own timeout, maps its outcome to an *APIError and reports it to
// the observer.
func (c *Client) do(ctx context.Context, cl call) (err error) {
	start := time.Now()
	status := 0
	defer func() {
		if c.observe != nil {
			c.observe(cl.op, status, time.Since(start), err)
		}
	}()
	fail := func(kind, cause error, msg string) *APIError {
		return &APIError{Op: cl.op, Codename: cl.codename, Status: status, kind: kind,
			Message: upstream.SafeMessage(msg, cl.token, maxMessageLen), err: upstream.RedactError(cause, cl.token)}
	}
	if strings.TrimSpace(cl.token) == "" {
		return fail(ErrUnauthorized, nil, "missing access token")
	}
	if strings.ContainsAny(cl.token, "\r\n") {
		// Not a token Chat-Tonic issued, and net/http would refuse the header anyway.
		return fail(ErrUnauthorized, nil, "malformed access token")
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := *c.base
	// The codename was validated: it needs no escaping and cannot leave its segment.
	u.Path = c.base.Path + "/api/v1/" + cl.codename + "/lead/" + cl.resource
	u.RawPath = ""
	if c.base.RawPath != "" {
		u.RawPath = c.base.RawPath + "/api/v1/" + cl.codename + "/lead/" + cl.resource
	}
	u.RawQuery = cl.query.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(ErrRejected, err, "building request")
	}
	req.Header.Set("Authorization", "Bearer "+cl.token)
	req.Header.Set("Accept", "application/json")
	// The reference lists it on these GETs; sent so that a server that checks it is satisfied.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		cause := transportCause(ctx, err)
		return fail(ErrUnavailable, cause, "request failed: "+cause.Error())
	}
	defer resp.Body.Close()
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	status = resp.StatusCode

	if status < 200 || status > 299 {
		kind := classify(status)
		e := fail(kind, nil, errorMessage(b, cl.token))
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			e.RetryAfter = upstream.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now(), maxRetryAfter)
		}
		return e
	}
	switch {
	case readErr != nil:
		cause := transportCause(ctx, readErr)
		return fail(ErrUnavailable, cause, "reading response: "+cause.Error())
	case len(b) > maxBodySize:
		return fail(ErrUnavailable, nil, fmt.Sprintf("response body exceeds %d bytes", maxBodySize))
	}
	if err := cl.decode(b); err != nil {
		// Reads are idempotent and a garbled answer (a proxy's page) tends to pass: retryable.
		return fail(ErrUnavailable, err, "malformed response: "+err.Error())
	}
	return nil
}

// transportCause names why no (complete) response arrived, without the request URL that
// *url.Error repeats.
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
