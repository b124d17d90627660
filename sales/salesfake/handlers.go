package salesfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/sales"
)

// maxRequestBody bounds request bodies, as any production API does.
const maxRequestBody = 1 << 20

// idPattern is the id format the reference documents for groups, prospects and subscriptions.
var idPattern = regexp.MustCompile(`^[a-z0-9]{24}$`)

// knownTopics are the notification topics Sales documents.
var knownTopics = []string{sales.TopicProspects, sales.TopicInteractions, sales.TopicQuotes, sales.TopicAgents}

// routes maps the documented API to its handlers.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+APIPath+"/integration", s.authed(s.handleIntegration))
	mux.HandleFunc("GET "+APIPath+"/group/{groupId}", s.authed(s.handleGroup))
	mux.HandleFunc("GET "+APIPath+"/prospect/{prospectId}", s.authed(s.handleProspect))
	mux.HandleFunc("GET "+APIPath+"/prospects", s.authed(s.handleProspects))
	mux.HandleFunc("GET "+APIPath+"/notifications/subscriptions", s.authed(s.handleListSubscriptions))
	mux.HandleFunc("POST "+APIPath+"/notifications/subscriptions", s.authed(s.handleSubscribe))
	mux.HandleFunc("GET "+APIPath+"/notifications/subscription/{subscriptionId}", s.authed(s.handleGetSubscription))
	mux.HandleFunc("DELETE "+APIPath+"/notifications/subscription/{subscriptionId}", s.authed(s.handleDeleteSubscription))
	mux.HandleFunc("POST "+APIPath+"/lead/retail", s.authed(s.handleRetailLead))
	// Everything else, other methods on known paths included, is an unknown route.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

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

	if latency := s.Latency(); latency > 0 && !s.sleep(r.Context(), latency) {
		return // the client gave up or the server is closing
	}

	// The faults in order: an outage, injected failures, the rate limit.
	var status int
	var msg string
	var header http.Header
	if s.Down() {
		status, msg = http.StatusServiceUnavailable, "Sales is down (salesfake.SetDown)"
	} else if failure, ok := s.TakeFailure(); ok {
		status, msg = failure, "injected failure (salesfake.FailNext)"
	}
	s.mu.Lock()
	if status == 0 && s.rateN > 0 && (s.rateReset.IsZero() || time.Now().Before(s.rateReset)) {
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

// maxProspectsLimit is the largest page the fake serves; Sales recommends no more than 1000.
const maxProspectsLimit = 1000

// handleProspects lists the prospects the key sees, oldest first, filtered as GET /prospects
// documents: createdAfter (default and earliest: 31 days before now, a range over 31 days
// being refused), createdBefore, status, after (the prospects created after the one named)
// and limit.
func (s *Server) handleProspects(w http.ResponseWriter, r *http.Request, in sales.Integration) {
	q := r.URL.Query()
	now := time.Now().UTC()
	after, before := now.Add(-sales.ProspectsWindow), now
	for name, t := range map[string]*time.Time{"createdAfter": &after, "createdBefore": &before} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, name+" must be an ISO 8601 date-time")
			return
		}
		*t = parsed
	}
	if before.Before(after) || before.Sub(after) > sales.ProspectsWindow {
		writeError(w, http.StatusBadRequest, "the date range must be of 31 days or less")
		return
	}
	limit := maxProspectsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive number")
			return
		}
		limit = min(n, maxProspectsLimit)
	}
	status, cursor := q.Get("status"), q.Get("after")

	s.mu.Lock()
	var list []sales.Prospect
	for _, p := range s.prospects {
		if s.inScopeLocked(in, p.GroupID) {
			list = append(list, p)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(list, prospectOrder)
	if cursor != "" {
		i := slices.IndexFunc(list, func(p sales.Prospect) bool { return p.ID == cursor })
		if i < 0 {
			writeError(w, http.StatusBadRequest, "after must name a prospect")
			return
		}
		list = list[i+1:]
	}
	page := []any{}
	for _, p := range list {
		if len(page) == limit {
			break
		}
		if p.Created.Before(after) || p.Created.After(before) || (status != "" && p.Status != status) {
			continue
		}
		page = append(page, prospectResource(p))
	}
	writeJSON(w, http.StatusOK, page)
}

// prospectOrder orders prospects by creation, then id, as paging with after needs.
func prospectOrder(a, b sales.Prospect) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
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
