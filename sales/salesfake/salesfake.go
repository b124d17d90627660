// Package salesfake is a fake Zenvia Sales API for tests and the demo sandbox: a real HTTP
// server on loopback that answers the calls package sales makes the way the documented API
// does, errors included, and posts webhook notifications the way Sales does.
//
// Tests get real HTTP (status codes, headers, timeouts, bodies) without mocks, and can inject
// faults: outages, failures, latency and rate limiting. All methods are safe for concurrent use.
package salesfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/upstream/upstreamtest"
	"github.com/7targets/zenvia-sales-app/sales"
)

// APIPath is the path under which the API is served, as in https://sales.zenvia.com/api/v1.
const APIPath = "/api/v1"

// RateLimitLimit is the X-RateLimit-Limit the fake reports on 429 answers.
const RateLimitLimit = 100

// maxRequestBody bounds request bodies, as any production API does.
const maxRequestBody = 1 << 20

// idPattern is the id format the reference documents for groups, prospects and subscriptions.
var idPattern = regexp.MustCompile(`^[a-z0-9]{24}$`)

// knownTopics are the notification topics Sales documents.
var knownTopics = []string{sales.TopicProspects, sales.TopicInteractions, sales.TopicQuotes, sales.TopicAgents}

// Server is a fake Zenvia Sales API. Create it with New and stop it with Close.
type Server struct {
	ts      *httptest.Server
	mux     *http.ServeMux
	webhook *http.Client
	closed  chan struct{}
	once    sync.Once

	mu           sync.Mutex
	keys         map[string]*integration // by API key
	revoked      map[string]bool
	groups       map[string]sales.Group // as added; relations are derived on read
	groupOrder   []string
	prospects    map[string]sales.Prospect
	subs         []*Subscription // in creation order
	log          *upstreamtest.RequestLog
	deliveries   []Delivery
	failN        int
	failStatus   int
	down         bool
	latency      time.Duration
	rateN        int
	rateReset    time.Time
	asArray      bool
	hookDeadline time.Duration
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
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+APIPath+"/integration", s.authed(s.handleIntegration))
	s.mux.HandleFunc("GET "+APIPath+"/group/{groupId}", s.authed(s.handleGroup))
	s.mux.HandleFunc("GET "+APIPath+"/prospect/{prospectId}", s.authed(s.handleProspect))
	s.mux.HandleFunc("GET "+APIPath+"/notifications/subscriptions", s.authed(s.handleListSubscriptions))
	s.mux.HandleFunc("POST "+APIPath+"/notifications/subscriptions", s.authed(s.handleSubscribe))
	s.mux.HandleFunc("GET "+APIPath+"/notifications/subscription/{subscriptionId}", s.authed(s.handleGetSubscription))
	s.mux.HandleFunc("DELETE "+APIPath+"/notifications/subscription/{subscriptionId}", s.authed(s.handleDeleteSubscription))
	// Everything else, other methods on known paths included, is an unknown route.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server, ending requests held by SetLatency at once.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
	s.ts.Close()
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

// FailNext makes the next n API requests answer status with a JSON error body.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// SetDown makes every API request answer 503 while down is true, as during an outage.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetLatency delays every API request by d before it is answered, to test client timeouts.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// RateLimit makes the next n API requests answer 429 with the X-RateLimit-Limit, -Remaining and
// -Reset headers, Reset being reset as unix seconds (a minute from now when reset is zero).
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

// serve records the request, applies the injected faults in order (latency, outage, failures,
// rate limit) and routes it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	s.record(r, body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 && !s.sleep(r.Context(), latency) {
		return // the client gave up or the server is closing
	}

	s.mu.Lock()
	var status int
	var msg string
	var header http.Header
	switch {
	case s.down:
		status, msg = http.StatusServiceUnavailable, "Sales is down (salesfake.SetDown)"
	case s.failN > 0:
		s.failN--
		status, msg = s.failStatus, "injected failure (salesfake.FailNext)"
	case s.rateN > 0:
		s.rateN--
		reset := s.rateReset
		if reset.IsZero() {
			reset = time.Now().Add(time.Minute)
		}
		status, msg = http.StatusTooManyRequests, "too many requests"
		header = http.Header{
			"X-Ratelimit-Limit":     {strconv.Itoa(RateLimitLimit)},
			"X-Ratelimit-Remaining": {"0"},
			"X-Ratelimit-Reset":     {strconv.FormatInt(reset.Unix(), 10)},
		}
	}
	s.mu.Unlock()
	if status != 0 {
		maps.Copy(w.Header(), header)
		writeError(w, status, msg)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) record(r *http.Request, body []byte) {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, APIPath); ok && (rest == "" || rest[0] == '/') {
		p = rest
	}
	s.log.Record(r, p, body)
}

// authed requires the api-key query parameter of a known, valid integration: missing, unknown,
// refreshed-away or revoked keys get 401, a disabled instance 403.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, sales.Integration)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("api-key")
		s.mu.Lock()
		it, ok := s.keys[key]
		revoked := s.revoked[key]
		var in sales.Integration
		var disabled bool
		if ok {
			in, disabled = it.in, it.disabled
		}
		s.mu.Unlock()
		switch {
		case key == "":
			writeError(w, http.StatusUnauthorized, "missing api-key")
		case !ok || revoked:
			writeError(w, http.StatusUnauthorized, "invalid api-key")
		case disabled:
			writeError(w, http.StatusForbidden, "the App is disabled")
		default:
			h(w, r, in)
		}
	}
}

func (s *Server) handleIntegration(w http.ResponseWriter, _ *http.Request, in sales.Integration) {
	s.mu.Lock()
	asArray := s.asArray
	s.mu.Unlock()
	if asArray {
		writeJSON(w, http.StatusOK, []sales.Integration{in})
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (s *Server) handleGroup(w http.ResponseWriter, r *http.Request, in sales.Integration) {
	id, ok := pathID(w, r, "groupId")
	if !ok {
		return
	}
	s.mu.Lock()
	_, known := s.groups[id]
	// A key sees its group, the groups above it and the groups below it.
	visible := known && (s.inScopeLocked(in, id) || slices.Contains(s.ancestorsLocked(in.GroupID), id))
	var g sales.Group
	if visible {
		g = s.groupLocked(id)
	}
	s.mu.Unlock()
	if !visible {
		writeError(w, http.StatusNotFound, "group not found")
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) handleProspect(w http.ResponseWriter, r *http.Request, in sales.Integration) {
	id, ok := pathID(w, r, "prospectId")
	if !ok {
		return
	}
	s.mu.Lock()
	p, known := s.prospects[id]
	visible := known && s.inScopeLocked(in, p.GroupID)
	s.mu.Unlock()
	if !visible {
		writeError(w, http.StatusNotFound, "prospect not found")
		return
	}
	writeJSON(w, http.StatusOK, prospectResource(p))
}

// prospectResource shapes a prospect as GET /prospect answers it: the agent is one object, not
// the array notifications carry.
func prospectResource(p sales.Prospect) any {
	b, err := json.Marshal(p)
	if err != nil {
		return p
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return p
	}
	if len(p.Agents) > 0 {
		m["agent"], _ = json.Marshal(p.Agents[0])
	}
	return m
}

func (s *Server) handleListSubscriptions(w http.ResponseWriter, _ *http.Request, in sales.Integration) {
	s.mu.Lock()
	list := []sales.Subscription{}
	for _, sub := range s.subs {
		if sub.Active && sub.GroupID == in.GroupID {
			list = append(list, cloneSub(sub).Subscription)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request, in sales.Integration) {
	var req struct {
		Topics      []string `json:"topics"`
		CallbackURL string   `json:"callbackUrl"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "malformed JSON body: trailing data")
		return
	}
	if msg := validateSubscription(req.Topics, req.CallbackURL); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	sub := &Subscription{
		Subscription:  sales.Subscription{ID: NewID(), Topics: slices.Clone(req.Topics), CallbackURL: req.CallbackURL},
		GroupID:       in.GroupID,
		IntegrationID: in.ID,
		Active:        true,
		Created:       time.Now(),
	}
	s.mu.Lock()
	// One subscription per group: subscribing again deactivates the previous one.
	for _, old := range s.subs {
		if old.GroupID == in.GroupID {
			old.Active = false
		}
	}
	s.subs = append(s.subs, sub)
	out := cloneSub(sub).Subscription
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func validateSubscription(topics []string, callbackURL string) string {
	if len(topics) == 0 {
		return "topics is required"
	}
	for _, t := range topics {
		if !slices.Contains(knownTopics, t) {
			return fmt.Sprintf("unknown topic %q: want one of %s", t, strings.Join(knownTopics, ", "))
		}
	}
	if callbackURL == "" {
		return "callbackUrl is required"
	}
	u, err := url.Parse(callbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "callbackUrl must be an absolute http or https URL"
	}
	return ""
}

func (s *Server) handleGetSubscription(w http.ResponseWriter, r *http.Request, in sales.Integration) {
	id, ok := pathID(w, r, "subscriptionId")
	if !ok {
		return
	}
	s.mu.Lock()
	sub := s.activeSubLocked(in, id)
	var out sales.Subscription
	if sub != nil {
		out = cloneSub(sub).Subscription
	}
	s.mu.Unlock()
	if sub == nil {
		writeError(w, http.StatusNotFound, "subscription not found")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeleteSubscription(w http.ResponseWriter, r *http.Request, in sales.Integration) {
	id, ok := pathID(w, r, "subscriptionId")
	if !ok {
		return
	}
	s.mu.Lock()
	sub := s.activeSubLocked(in, id)
	var out sales.Subscription
	if sub != nil {
		sub.Active = false
		out = cloneSub(sub).Subscription
	}
	s.mu.Unlock()
	if sub == nil {
		writeError(w, http.StatusNotFound, "subscription not found")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// activeSubLocked returns the active subscription id of the integration's group, or nil.
func (s *Server) activeSubLocked(in sales.Integration, id string) *Subscription {
	for _, sub := range s.subs {
		if sub.ID == id && sub.Active && sub.GroupID == in.GroupID {
			return sub
		}
	}
	return nil
}

// pathID reads and validates an id path parameter, answering 400 when it is malformed.
func pathID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	id := r.PathValue(name)
	if !idPattern.MatchString(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must match ^[a-z0-9]{24}$", name))
		return "", false
	}
	return id, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding response")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers the JSON error body Sales sends: {"error": status text, "message": …}.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{http.StatusText(status), msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

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
