// Package chattonicfake is a fake Chat-Tonic leads API for tests, the sandbox and the load tool:
// a real HTTP server on loopback that answers GET /api/v1/{codename}/lead/funnels and
// …/lead/records the way the reference documents them, errors included (401 for a wrong token,
// 404 for an unknown codename), with injectable faults (429 with Retry-After, 5xx, latency),
// and bots whose records are created and advance through their funnel on every Tick.
//
// A typical test:
//
//	fake := chattonicfake.New()
//	defer fake.Close()
//	fake.Seed("acme", "token-1")
//	c, _ := chattonic.New(fake.BaseURL())
//
// All methods are safe for concurrent use.
package chattonicfake

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/internal/upstream/upstreamtest"
)

// Seed data: the funnel, group and record of the reference, and a contact funnel whose records
// carry an email, so that a seeded bot's leads can reach 7Targets.
const (
	SeedFunnel        = "sacarTarjeta"
	SeedGroup         = "Sacar Tarjeta"
	SeedRecordID      = "5d7bfc1298317f98fa111f99"
	SeedContactFunnel = "contacto"
	SeedContactGroup  = "Contacto Web"
)

// DefaultLimit is the page size the API answers when the request names none, as documented.
const DefaultLimit = 10

// Errors of the methods that set the fake up.
var (
	// ErrUnknown means a codename, funnel or funnel group the fake does not have.
	ErrUnknown = errors.New("chattonicfake: unknown")
	// ErrExists means a record with that ID exists already.
	ErrExists = errors.New("chattonicfake: exists")
)

// Server is a fake Chat-Tonic API. Create it with New and stop it with Close.
type Server struct {
	ts     *httptest.Server
	closed chan struct{}
	once   sync.Once

	upstreamtest.Faults // FailNext, SetDown, SetLatency

	mu           sync.Mutex
	accounts     map[string]*account // by codename
	log          *upstreamtest.RequestLog
	now          func() time.Time
	rateN        int
	rateWait     time.Duration
	stringPaging bool
	generated    int // records the bots made, for their names and answers
}

type account struct {
	token   string // "" refuses every token
	app     string
	id      string
	funnels map[string]chattonic.Funnel
	records []*stored // in creation order
	byID    map[string]*stored
	bots    []Bot
}

type stored struct {
	rec    chattonic.Record
	stages []string // the group's interactions, to advance through
	bot    bool
}

// New starts a fake Chat-Tonic API on loopback with no accounts. Call Close when done.
func New() *Server {
	s := &Server{
		closed:   make(chan struct{}),
		accounts: make(map[string]*account),
		log:      upstreamtest.NewRequestLog(upstreamtest.DefaultLimit),
		now:      time.Now,
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server, ending requests held by SetLatency and Run at once.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
	s.ts.Close()
}

// BaseURL is the API base to give chattonic.New: the reference's {{baseUrl}}, such as
// "http://127.0.0.1:41234".
func (s *Server) BaseURL() string { return s.ts.URL }

// NewID returns a random id in the format Chat-Tonic uses: 24 lowercase hex digits.
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// SetClock makes the fake read the time from now, for records' createdAt and updatedAt; nil
// restores time.Now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
	if now == nil {
		s.now = time.Now
	}
}

// AddAccount makes codename a bot account whose calls need token, and keeps its funnels and
// records if it had them. It fails on a codename the client would refuse.
func (s *Server) AddAccount(codename, token string) error {
	if err := chattonic.ValidateCodename(codename); err != nil {
		return fmt.Errorf("chattonicfake.AddAccount: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[codename]
	if a == nil {
		a = &account{app: NewID(), id: NewID(), funnels: make(map[string]chattonic.Funnel), byID: make(map[string]*stored)}
		s.accounts[codename] = a
	}
	a.token = token
	return nil
}

// SetToken replaces codename's token, as when it is rotated; "" revokes it, so that every call
// answers 401 until a new one is set.
func (s *Server) SetToken(codename, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[codename]
	if a == nil {
		return fmt.Errorf("chattonicfake.SetToken: %w codename %q", ErrUnknown, codename)
	}
	a.token = token
	return nil
}

// AddFunnel adds or replaces a funnel of codename. Each group is filled as Chat-Tonic fills it:
// FunnelID with f.ID, an empty ID with a new id, empty Interactions with the funnel's.
func (s *Server) AddFunnel(codename string, f chattonic.Funnel) (chattonic.Funnel, error) {
	if strings.TrimSpace(f.ID) == "" {
		return f, errors.New("chattonicfake.AddFunnel: the funnel needs an ID")
	}
	f.Interactions = slices.Clone(f.Interactions)
	f.Groups = slices.Clone(f.Groups)
	for i := range f.Groups {
		g := &f.Groups[i]
		g.FunnelID = f.ID
		g.ID = cmp.Or(g.ID, NewID())
		if len(g.Interactions) == 0 {
			g.Interactions = slices.Clone(f.Interactions)
		} else {
			g.Interactions = slices.Clone(g.Interactions)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[codename]
	if a == nil {
		return f, fmt.Errorf("chattonicfake.AddFunnel: %w codename %q", ErrUnknown, codename)
	}
	a.funnels[f.ID] = f
	return cloneFunnel(f), nil
}

// AddRecord adds a record to codename and returns it as stored: an empty ID gets a new id,
// App and Account the account's, CreatedAt and UpdatedAt the fake's clock, and an empty Last
// the first interaction of its group. Its funnel and group must exist, so that Advance can
// move it through the group's interactions.
func (s *Server) AddRecord(codename string, r chattonic.Record) (chattonic.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addRecordLocked(codename, r, false)
}

func (s *Server) addRecordLocked(codename string, r chattonic.Record, bot bool) (chattonic.Record, error) {
	a := s.accounts[codename]
	if a == nil {
		return r, fmt.Errorf("chattonicfake.AddRecord: %w codename %q", ErrUnknown, codename)
	}
	g, ok := a.group(r.Funnel, r.Group)
	if !ok {
		return r, fmt.Errorf("chattonicfake.AddRecord: %w funnel group %q/%q", ErrUnknown, r.Funnel, r.Group)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	r.ID = cmp.Or(r.ID, NewID())
	if _, dup := a.byID[r.ID]; dup {
		return r, fmt.Errorf("chattonicfake.AddRecord: %w: record %q", ErrExists, r.ID)
	}
	r.App, r.Account = cmp.Or(r.App, a.app), cmp.Or(r.Account, a.id)
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	if r.Last == "" && len(g.Interactions) > 0 {
		r.Last = g.Interactions[0]
	}
	r.User.ExtraData = slices.Clone(r.User.ExtraData)
	st := &stored{rec: r, stages: slices.Clone(g.Interactions), bot: bot}
	a.records = append(a.records, st)
	a.byID[r.ID] = st
	return cloneRecord(r), nil
}

func (a *account) group(funnel, name string) (chattonic.FunnelGroup, bool) {
	f, ok := a.funnels[funnel]
	if !ok {
		return chattonic.FunnelGroup{}, false
	}
	for _, g := range f.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return chattonic.FunnelGroup{}, false
}

// Advance moves record id of codename to the next interaction of its group, adds answers to
// its extraData and stamps UpdatedAt, as a user answering the bot does. It reports false, and
// changes nothing, when the record is unknown or already at the group's last interaction.
func (s *Server) Advance(codename, id string, answers ...chattonic.ExtraData) (chattonic.Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[codename]
	if a == nil {
		return chattonic.Record{}, false
	}
	st := a.byID[id]
	if st == nil || !s.advanceLocked(st, answers) {
		return chattonic.Record{}, false
	}
	return cloneRecord(st.rec), true
}

func (s *Server) advanceLocked(st *stored, answers []chattonic.ExtraData) bool {
	i := slices.IndexFunc(st.stages, func(v string) bool { return strings.EqualFold(v, st.rec.Last) })
	if i < 0 || i+1 >= len(st.stages) {
		return false
	}
	st.rec.Last = st.stages[i+1]
	st.rec.User.ExtraData = append(st.rec.User.ExtraData, answers...)
	st.rec.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	return true
}

// Records returns codename's records in creation order.
func (s *Server) Records(codename string) []chattonic.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[codename]
	if a == nil {
		return nil
	}
	out := make([]chattonic.Record, 0, len(a.records))
	for _, st := range a.records {
		out = append(out, cloneRecord(st.rec))
	}
	return out
}

// Record returns record id of codename.
func (s *Server) Record(codename, id string) (chattonic.Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[codename]; a != nil {
		if st := a.byID[id]; st != nil {
			return cloneRecord(st.rec), true
		}
	}
	return chattonic.Record{}, false
}

// RateLimit makes the next n API requests answer 429, with Retry-After in whole seconds when
// retryAfter is positive and without it otherwise: the reference documents neither.
func (s *Server) RateLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateN, s.rateWait = n, retryAfter
}

// SetStringPaging makes answers carry skip and limit as strings (true) or numbers (false, the
// default): the reference documents strings and shows numbers.
func (s *Server) SetStringPaging(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stringPaging = on
}

// Requests returns the requests received, oldest first: at least the last
// upstreamtest.DefaultLimit/2, so that a long sandbox run cannot grow the fake without limit.
// Paths are the full request paths, such as "/api/v1/acme/lead/records".
func (s *Server) Requests() []upstreamtest.Request { return s.log.Requests() }

// Count returns how many requests had method and path (as in Requests), dropped ones included;
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

func cloneFunnel(f chattonic.Funnel) chattonic.Funnel {
	f.Interactions = slices.Clone(f.Interactions)
	f.Groups = slices.Clone(f.Groups)
	for i := range f.Groups {
		f.Groups[i].Interactions = slices.Clone(f.Groups[i].Interactions)
	}
	return f
}

func cloneRecord(r chattonic.Record) chattonic.Record {
	r.User.ExtraData = slices.Clone(r.User.ExtraData)
	return r
}
