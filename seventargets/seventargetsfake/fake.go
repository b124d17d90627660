// Package seventargetsfake runs a fake 7Targets on loopback: the OAuth2
// token endpoint and the lead and assistant API, errors included, with fault
// injection and a record of every request. Tests and the sandbox use it in
// place of the real service, through the real seventargets client.
//
// A typical test:
//
//	fake := seventargetsfake.New()
//	defer fake.Close()
//	fake.Seed()
//	fake.AddClient("client", "secret", "user-1")
//	c, _ := seventargets.New(fake.APIURL(), fake.TokenURL())
package seventargetsfake

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/upstream/upstreamtest"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// TokenPath is where the fake serves its OAuth2 token endpoint.
const TokenPath = "/oauth2/token"

// Seed data, for tests that need an assistant and a named sequence.
const (
	// SeedAssistantEmail is the email of the first assistant Seed adds.
	SeedAssistantEmail = "ashley@7targets.test"
	// SeedAssistantID is the ID of the assistant with SeedAssistantEmail.
	SeedAssistantID = 61
	// SeedScheduleName names a sequence Seed adds, usable as scheduleName.
	SeedScheduleName = "Webinar Follow-up"
	// SeedScheduleID is the ID of the sequence named SeedScheduleName.
	SeedScheduleID = 200
)

// firstLeadID is where lead IDs start, as in the 7Targets examples.
const firstLeadID = 2345

// Request is one request the fake received, for assertions.
type Request struct {
	At     time.Time // when it arrived
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// Server is a fake 7Targets. It is safe for concurrent use.
type Server struct {
	ts        *httptest.Server
	done      chan struct{}
	closeOnce sync.Once

	// FailNext (a 429 also carries "Retry-After: 1"; token requests never fail), SetDown
	// (the token endpoint too), SetLatency (the token endpoint's answers too).
	upstreamtest.Faults

	mu         sync.Mutex
	clients    map[string]*apiClient
	tokens     map[string]*issuedToken
	lifetime   time.Duration
	assistants []seventargets.Assistant
	schedules  map[int64]string // sequence ID → name
	leads      map[int64]*storedLead
	byEmail    map[string]*storedLead // emailKey → lead: a lookup by email stays cheap with 100,000 leads
	nextLeadID int64
	slow       map[string]time.Duration // client ID → extra latency (SetClientLatency)
	log        *upstreamtest.RequestLog
	tokenReqs  int
	tokenFor   map[string]int // client ID → token requests
}

type apiClient struct {
	secret string
	users  map[string]bool // empty: any user identifier is accepted
}

type issuedToken struct {
	clientID string
	expiry   time.Time
}

type storedLead struct {
	owner string // client ID; leads are per organisation
	res   seventargets.LeadResult
}

// New starts a fake with no clients, assistants or leads; see Seed and
// AddClient. Close it when done.
func New() *Server {
	s := &Server{
		done:       make(chan struct{}),
		clients:    make(map[string]*apiClient),
		tokens:     make(map[string]*issuedToken),
		lifetime:   time.Hour,
		schedules:  make(map[int64]string),
		leads:      make(map[int64]*storedLead),
		byEmail:    make(map[string]*storedLead),
		nextLeadID: firstLeadID,
		log:        upstreamtest.NewRequestLog(upstreamtest.DefaultLimit),
		tokenFor:   make(map[string]int),
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Close stops the server, cutting short any delayed responses.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ts.Close()
	})
}

// URL returns the base URL of the server.
func (s *Server) URL() string { return s.ts.URL }

// APIURL returns the API base URL, to pass as seventargets.New's apiURL.
func (s *Server) APIURL() string { return s.ts.URL }

// TokenURL returns the token endpoint URL, to pass as seventargets.New's
// tokenURL.
func (s *Server) TokenURL() string { return s.ts.URL + TokenPath }

// Seed adds two assistants and four sequences modelled on the 7Targets
// examples, including SeedAssistantEmail and SeedScheduleName.
func (s *Server) Seed() {
	s.AddSchedule(127, "Ashley Default")
	s.AddSchedule(135, "Lyra Default")
	s.AddSchedule(SeedScheduleID, SeedScheduleName)
	s.AddSchedule(201, "Product Demo")
	s.AddAssistant(seventargets.Assistant{
		ID: SeedAssistantID, Name: "Ashley", OrganisationID: 45, EmailID: SeedAssistantEmail,
		Description: "7Targets AI Assistant is helping the Sales team productivity",
		Role:        "BDE", DefaultScheduleID: 127, PerDayEmailLimit: 200,
	})
	s.AddAssistant(seventargets.Assistant{
		ID: 135, Name: "Lyra", OrganisationID: 45, EmailID: "lyra@7targets.test",
		DefaultScheduleID: 135, PerDayEmailLimit: 200,
	})
}

// AddClient registers an OAuth2 client, or replaces its secret and users.
// With no userIdentifiers, any 7ts-user-identifier is accepted for it.
func (s *Server) AddClient(clientID, clientSecret string, userIdentifiers ...string) {
	users := make(map[string]bool, len(userIdentifiers))
	for _, u := range userIdentifiers {
		users[u] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[clientID] = &apiClient{secret: clientSecret, users: users}
}

// AddSchedule registers a sequence that leads can name by ID or name.
func (s *Server) AddSchedule(id int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.schedules[id] = name
}

// AddAssistant registers an assistant, or replaces the one with the same
// email, and returns it as stored: a zero ID gets the next free one, and a
// missing default sequence is created.
func (s *Server) AddAssistant(a seventargets.Assistant) seventargets.Assistant {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.assistants, func(b seventargets.Assistant) bool {
		return strings.EqualFold(b.EmailID, a.EmailID)
	})
	if a.ID == 0 {
		if i >= 0 {
			a.ID = s.assistants[i].ID
		} else {
			for _, b := range s.assistants {
				a.ID = max(a.ID, b.ID)
			}
			a.ID++
		}
	}
	if a.DefaultScheduleID == 0 {
		for id := range s.schedules {
			a.DefaultScheduleID = max(a.DefaultScheduleID, id)
		}
		a.DefaultScheduleID++
	}
	if _, ok := s.schedules[a.DefaultScheduleID]; !ok {
		s.schedules[a.DefaultScheduleID] = a.Name + " Default"
	}
	if i >= 0 {
		s.assistants[i] = a
	} else {
		s.assistants = append(s.assistants, a)
	}
	return a
}

// SetTokenLifetime sets the lifetime of tokens issued from now on (default
// one hour). expires_in is sent in whole seconds, at least 1, while the fake
// itself honours the exact lifetime.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// ExpireTokens makes every token issued so far invalid: API calls with them
// get 401 until a new token is requested.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.tokens {
		t.expiry = past
	}
}

// SetClientLatency delays the responses to one client's requests, its token
// requests and the API calls made with its tokens, by d on top of SetLatency,
// as when one organisation's 7Targets account is slow while others are not.
// Zero removes the delay. A request whose context ends while waiting gets no
// answer.
func (s *Server) SetClientLatency(clientID string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.slow, clientID)
		return
	}
	if s.slow == nil {
		s.slow = make(map[string]time.Duration)
	}
	s.slow[clientID] = d
}

// Requests returns the requests received, oldest first: at least the last
// 5000, so that a long sandbox session cannot grow the fake without limit
// (Count counts them all).
func (s *Server) Requests() []Request {
	logged := s.log.Requests()
	out := make([]Request, len(logged))
	for i, r := range logged {
		out[i] = Request{At: r.Time, Method: r.Method, Path: r.Path, Query: r.Query, Header: r.Header, Body: r.Body}
	}
	return out
}

// Count returns how many requests had method and path, such as
// Count("POST", "/leads"); the token endpoint's path is TokenPath. An empty
// method counts every method.
func (s *Server) Count(method, path string) int { return s.log.Count(method, path) }

// TokenRequests returns how many requests the token endpoint received,
// whatever their outcome.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

// TokenRequestsFor returns how many token requests named clientID, whatever
// their outcome.
func (s *Server) TokenRequestsFor(clientID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenFor[clientID]
}

// Leads returns every lead, of every client, in creation order.
func (s *Server) Leads() []seventargets.LeadResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]seventargets.LeadResult, 0, len(s.leads))
	for _, l := range s.leads {
		out = append(out, cloneLead(l.res))
	}
	slices.SortFunc(out, func(a, b seventargets.LeadResult) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Lead returns the lead with id, and whether it exists.
func (s *Server) Lead(id int64) (seventargets.LeadResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leads[id]
	if !ok {
		return seventargets.LeadResult{}, false
	}
	return cloneLead(l.res), true
}

func cloneLead(l seventargets.LeadResult) seventargets.LeadResult {
	l.CustomFields = slices.Clone(l.CustomFields)
	if l.NextScheduleTime != nil {
		t := *l.NextScheduleTime
		l.NextScheduleTime = &t
	}
	return l
}

// wait applies the configured latency, the global one and that of the client
// making r. It reports false when the request's context ended or the server
// closed first.
func (s *Server) wait(ctx context.Context, r *http.Request, body []byte) bool {
	d := s.Latency()
	s.mu.Lock()
	if len(s.slow) > 0 {
		d += s.slow[s.clientOfLocked(r, body)]
	}
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// clientOfLocked names the client a request acts for: the one a token request
// claims to be, or the owner of an API call's bearer token ("" if unknown).
func (s *Server) clientOfLocked(r *http.Request, body []byte) string {
	if r.URL.Path == TokenPath {
		return tokenClientID(r, body)
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if t, ok := s.tokens[tok]; ok && strings.EqualFold(scheme, "Bearer") {
		return t.clientID
	}
	return ""
}
