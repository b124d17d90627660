// Package upstreamtest holds what the fakes of outside APIs share (salesfake, seventargetsfake,
// and the coming chattonic fake): the bounded log of the requests a fake received, which tests
// assert on and the sandbox and load generator read.
//
// It is a package of its own, not part of upstream, so that the production clients, which
// import upstream, never link code only fakes need; it is named as net/http/httptest is, after
// what it serves the tests of: the outside APIs.
package upstreamtest

import (
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// DefaultLimit is the request log bound the fakes use: enough for any test to see every request
// it made, small enough that a long sandbox or load run cannot grow a fake without limit.
const DefaultLimit = 10000

// Request is one request a fake received.
type Request struct {
	Method string
	// Path is the path the fake recorded it under: the fake decides, such as relative to its
	// API base.
	Path string
	// Query is the parsed query string, secrets included, so tests can check what was sent.
	Query  url.Values
	Header http.Header
	Body   []byte
	// Time is when it arrived.
	Time time.Time
}

// Clone returns a copy of r that shares nothing with it.
func (r Request) Clone() Request {
	r.Query = cloneValues(r.Query)
	r.Header = r.Header.Clone()
	r.Body = slices.Clone(r.Body)
	return r
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// RequestLog keeps the requests a fake received, up to a bound, and counts every request by
// method and path past that bound, so counts stay exact however long the fake runs. It is safe
// for concurrent use.
type RequestLog struct {
	limit int

	mu     sync.Mutex
	reqs   []Request
	counts map[string]map[string]int // path → method → requests
}

// NewRequestLog returns an empty log that keeps at least the last limit/2 requests, and at
// most limit; a limit below 2 means DefaultLimit.
func NewRequestLog(limit int) *RequestLog {
	if limit < 2 {
		limit = DefaultLimit
	}
	return &RequestLog{limit: limit, counts: make(map[string]map[string]int)}
}

// Record adds r, read under path with body (which the log keeps: the caller must not change
// it), stamped with the current time.
func (l *RequestLog) Record(r *http.Request, path string, body []byte) {
	req := Request{
		Method: r.Method, Path: path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body,
		Time: time.Now(),
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	byMethod := l.counts[path]
	if byMethod == nil {
		byMethod = make(map[string]int)
		l.counts[path] = byMethod
	}
	byMethod[req.Method]++
	if len(l.reqs) >= l.limit {
		// Drop the older half at once: trimming one at a time copies the whole log on every
		// request once it is full, which shows under load.
		l.reqs = append(l.reqs[:0], l.reqs[l.limit/2:]...)
	}
	l.reqs = append(l.reqs, req)
}

// Requests returns copies of the requests kept, oldest first.
func (l *RequestLog) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Request, len(l.reqs))
	for i, r := range l.reqs {
		out[i] = r.Clone()
	}
	return out
}

// Count returns how many requests were recorded with method and path, dropped ones included;
// an empty method counts every method.
func (l *RequestLog) Count(method, path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if method != "" {
		return l.counts[path][method]
	}
	n := 0
	for _, c := range l.counts[path] {
		n += c
	}
	return n
}
