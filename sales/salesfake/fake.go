// Package salesfake is a fake Zenvia Sales API for tests and the demo sandbox: a real HTTP
// server on loopback that answers the calls package sales makes the way the documented API
// does, errors included, and posts webhook notifications the way Sales does.
//
// Tests get real HTTP (status codes, headers, timeouts, bodies) without mocks, and can inject
// faults: outages, failures, latency and rate limiting. All methods are safe for concurrent use.
package salesfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/upstream/upstreamtest"
	"github.com/7targets/zenvia-sales-app/sales"
)

// APIPath is the path under which the API is served, as in https://sales.zenvia.com/api/v1.
const APIPath = "/api/v1"

// RateLimitLimit is the X-RateLimit-Limit the fake reports on 429 answers.
const RateLimitLimit = 100

// Server is a fake Zenvia Sales API. Create it with New and stop it with Close.
type Server struct {
	ts      *httptest.Server
	mux     *http.ServeMux
	webhook *http.Client
	closed  chan struct{}
	once    sync.Once

	upstreamtest.Faults // FailNext, SetDown, SetLatency

	mu           sync.Mutex
	keys         map[string]*integration // by API key
	revoked      map[string]bool
	groups       map[string]sales.Group // as added; relations are derived on read
	groupOrder   []string
	prospects    map[string]sales.Prospect
	subs         []*Subscription // in creation order
	log          *upstreamtest.RequestLog
	deliveries   []Delivery
	rateN        int
	rateReset    time.Time
	asArray      bool
	hookDeadline time.Duration
	leadAttempts int           // SetLeadDelivery; 0 means defaultLeadAttempts
	leadBackoff  time.Duration // SetLeadDelivery; 0 means defaultLeadBackoff

	bg sync.WaitGroup // notifications of leads still being delivered
}

type integration struct {
	in       sales.Integration
	disabled bool
}

// Subscription is a subscription as the fake stores it, for assertions.
type Subscription struct {
	sales.Subscription
	// GroupID is the group of the integration that subscribed: Sales keeps one per group.
	GroupID string
	// IntegrationID is the integration that subscribed.
	IntegrationID string
	// Active is false once the subscription was deleted or replaced by a newer one.
	Active bool
	// Created is when the subscription was made.
	Created time.Time
}

// Request is an API request the fake received.
type Request struct {
	Method string
	// Path is relative to BaseURL, such as "/integration"; requests outside it keep the full path.
	Path string
	// Query is the query string, the api-key parameter included, so tests can check it was sent.
	Query  url.Values
	Header http.Header
	Body   []byte
	Time   time.Time
}

// New starts a fake Sales API on loopback. Call Close when done.
func New() *Server {
	s := &Server{
		closed:       make(chan struct{}),
		keys:         make(map[string]*integration),
		revoked:      make(map[string]bool),
		groups:       make(map[string]sales.Group),
		prospects:    make(map[string]sales.Prospect),
		log:          upstreamtest.NewRequestLog(upstreamtest.DefaultLimit),
		hookDeadline: 10 * time.Second,
	}
	s.webhook = &http.Client{
		Transport: &http.Transport{ResponseHeaderTimeout: time.Minute, MaxIdleConnsPerHost: 8},
		// Sales posts to the callback URL as given and does not follow redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.mux = s.routes()
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server, ending requests held by SetLatency at once.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
	s.ts.Close()
	s.bg.Wait() // after ts.Close: no handler can start another delivery
	s.webhook.CloseIdleConnections()
}

// BaseURL is the API base URL to give sales.New, such as "http://127.0.0.1:41234/api/v1".
func (s *Server) BaseURL() string { return s.ts.URL + APIPath }

// NewID returns a random id in the format Sales uses: 24 lowercase hex digits.
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// AddIntegration makes apiKey a valid key for the integration in and returns in with its empty
// ID, GroupID and AccountID filled with new ids. Its group is added with AddGroup if unknown.
// Adding an existing key replaces its integration and makes the key valid again.
func (s *Server) AddIntegration(apiKey string, in sales.Integration) sales.Integration {
	if in.ID == "" {
		in.ID = NewID()
	}
	if in.GroupID == "" {
		in.GroupID = NewID()
	}
	if in.AccountID == "" {
		in.AccountID = NewID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[in.GroupID]; !ok {
		s.addGroupLocked(sales.Group{ID: in.GroupID, Name: in.Group, DisplayName: in.Group})
	}
	s.keys[apiKey] = &integration{in: in}
	delete(s.revoked, apiKey)
	return in
}

// RevokeKey makes apiKey answer 401 from now on, as after an uninstall.
func (s *Server) RevokeKey(apiKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[apiKey] = true
}

// RefreshKey moves the integration of oldKey to newKey, as Sales does when it refreshes an
// App's key: oldKey answers 401 from now on. It reports whether oldKey was a valid key.
func (s *Server) RefreshKey(oldKey, newKey string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.keys[oldKey]
	if !ok || s.revoked[oldKey] {
		return false
	}
	delete(s.keys, oldKey)
	s.revoked[oldKey] = true
	s.keys[newKey] = it
	delete(s.revoked, newKey)
	return true
}

// SetDisabled disables or re-enables the App instance of apiKey. A disabled instance's calls
// answer 403, as Sales refuses calls from a disabled App.
func (s *Server) SetDisabled(apiKey string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it, ok := s.keys[apiKey]; ok {
		it.disabled = disabled
	}
}

// SetIntegrationArray makes GET /integration answer a list of the integration (true) or the
// bare object (false, the default): the reference documents both shapes.
func (s *Server) SetIntegrationArray(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asArray = on
}

// AddGroup adds or replaces a group and returns it with a new ID if it had none. Ancestors and
// descendants are derived from the parent links of all known groups whenever a group is read,
// so groups can be added in any order; the given lists only fill in for unknown parents.
func (s *Server) AddGroup(g sales.Group) sales.Group {
	if g.ID == "" {
		g.ID = NewID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addGroupLocked(g)
	return s.groupLocked(g.ID)
}

func (s *Server) addGroupLocked(g sales.Group) {
	if _, ok := s.groups[g.ID]; !ok {
		s.groupOrder = append(s.groupOrder, g.ID)
	}
	s.groups[g.ID] = g
}

// Group returns the group id with its derived ancestors and descendants.
func (s *Server) Group(id string) (sales.Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[id]; !ok {
		return sales.Group{}, false
	}
	return s.groupLocked(id), true
}

// groupLocked returns group id with its relations derived.
func (s *Server) groupLocked(id string) sales.Group {
	g := s.groups[id]
	g.Ancestors = s.ancestorsLocked(id)
	var desc []string
	for _, other := range s.groupOrder {
		if other != id && slices.Contains(s.ancestorsLocked(other), id) {
			desc = append(desc, other)
		}
	}
	for _, d := range g.Descendants { // given ones the fake cannot know
		if _, known := s.groups[d]; !known && !slices.Contains(desc, d) {
			desc = append(desc, d)
		}
	}
	g.Descendants = desc
	return g
}

// ancestorsLocked returns the ancestors of group id, root first, following known parents and
// trusting the given ancestors of the topmost known group.
func (s *Server) ancestorsLocked(id string) []string {
	var up []string // nearest first
	seen := map[string]bool{id: true}
	cur := s.groups[id]
	for cur.Parent != "" && !seen[cur.Parent] {
		seen[cur.Parent] = true
		up = append(up, cur.Parent)
		parent, ok := s.groups[cur.Parent]
		if !ok {
			for _, a := range slices.Backward(cur.Ancestors) {
				if !seen[a] {
					seen[a] = true
					up = append(up, a)
				}
			}
			break
		}
		cur = parent
	}
	slices.Reverse(up)
	return up
}

// inScopeLocked reports whether group id is the integration's group or one of its descendants:
// what an API key may see.
func (s *Server) inScopeLocked(in sales.Integration, id string) bool {
	return id == in.GroupID || slices.Contains(s.ancestorsLocked(id), in.GroupID)
}

// PutProspect adds or replaces a prospect in the group of apiKey's integration and returns it
// as stored. Empty ID, Created, GroupID, Group, AccountID and Account are filled: the ids and
// names from the integration (when apiKey is known), ID with a new id, Created with now. A
// prospect is visible to keys whose group is its group or one of its ancestors.
func (s *Server) PutProspect(apiKey string, p sales.Prospect) sales.Prospect {
	if p.ID == "" {
		p.ID = NewID()
	}
	if p.Created.IsZero() {
		p.Created = time.Now().UTC().Truncate(time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if it, ok := s.keys[apiKey]; ok {
		if p.GroupID == "" {
			p.GroupID, p.Group = it.in.GroupID, it.in.Group
		}
		if p.AccountID == "" {
			p.AccountID, p.Account = it.in.AccountID, it.in.Account
		}
	}
	s.prospects[p.ID] = p
	return p
}

// Subscriptions returns every subscription ever made, deactivated ones included, oldest first.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, len(s.subs))
	for i, sub := range s.subs {
		out[i] = cloneSub(sub)
	}
	return out
}

// ActiveSubscription returns the active subscription of group groupID.
func (s *Server) ActiveSubscription(groupID string) (Subscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		if sub.Active && sub.GroupID == groupID {
			return cloneSub(sub), true
		}
	}
	return Subscription{}, false
}

func cloneSub(sub *Subscription) Subscription {
	c := *sub
	c.Topics = slices.Clone(sub.Topics)
	return c
}

// RateLimit makes the next n API requests answer 429 with the X-RateLimit-Limit, -Remaining and
// -Reset headers, Reset being reset as unix seconds (a minute from now when reset is zero). As at
// Sales, the limit is over once reset has passed, whatever is left of n.
func (s *Server) RateLimit(n int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateN, s.rateReset = n, reset
}

// Requests returns the API requests received, oldest first: at least the last 5000, so that a
// long sandbox session cannot grow the fake without limit (Count counts them all).
func (s *Server) Requests() []Request {
	logged := s.log.Requests()
	out := make([]Request, len(logged))
	for i, r := range logged {
		out[i] = Request{Method: r.Method, Path: r.Path, Query: r.Query, Header: r.Header, Body: r.Body, Time: r.Time}
	}
	return out
}

// Count returns how many requests had method and path (relative to BaseURL, as in Request);
// an empty method counts every method.
func (s *Server) Count(method, path string) int { return s.log.Count(method, path) }

// sleep waits d and reports true, or false as soon as ctx or the server is done.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}
