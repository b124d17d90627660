// Package extensions serves the pages Zenvia Sales embeds in iframes: the managers' report and
// the agents' conversation-button dialog. Every request is signed by Sales (verified here in
// constant time); actions posted back from a page carry a short-lived, single-use token bound
// to the instance, the user and the prospect, and go through the same outbox as webhooks.
// This package gathers what a page shows and carries out its actions; package view draws it.
package extensions

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// Errors of the pages.
var (
	// ErrUnknownGroup means no live instance serves the group.
	ErrUnknownGroup = errors.New("unknown group")
	// ErrInvalidInput means a posted action is malformed.
	ErrInvalidInput = errors.New("invalid action input")
)

// Store is what the pages read and write.
type Store interface {
	// GroupInstance returns the instance recorded for a group, or zen7.ErrNotFound.
	GroupInstance(ctx context.Context, groupID string) (string, error)
	// ReportDeliveries returns the instance's finished deliveries of days from..to (YYYY-MM-DD, UTC).
	ReportDeliveries(ctx context.Context, instanceID, from, to string) ([]zen7.Delivery, error)
	// ForwardedLeads returns the instance's prospects that have a 7Targets lead.
	ForwardedLeads(ctx context.Context, instanceID string) ([]zen7.Lead, error)
	// Backfill returns the instance's current or last backfill, or zen7.ErrNotFound.
	Backfill(ctx context.Context, instanceID string) (zen7.Backfill, error)
	// ChatTonicSource returns the state of the instance's Chat-Tonic import, or
	// zen7.ErrNotFound when it never had one.
	ChatTonicSource(ctx context.Context, instanceID string) (zen7.ChatTonicSource, error)
	NonceStore
}

// Instances gives the pages the instances.
type Instances interface {
	// Instance returns the instance with id, whatever its state, or zen7.ErrNotFound.
	Instance(ctx context.Context, id string) (zen7.Instance, error)
}

// Outbox is the part of the forwarding outbox the dialog uses.
type Outbox interface {
	Lead(ctx context.Context, instanceID, prospectID string) (zen7.Lead, error)
	ProspectDeliveries(ctx context.Context, instanceID, prospectID string, limit int) ([]zen7.Delivery, error)
}

// GroupTrees reads an instance's group tree again, with that instance's own API key, and
// records which groups it serves (lifecycle.Service.ReadGroups). The pages never ask Sales
// about a group with any other key.
type GroupTrees interface {
	ReadGroups(ctx context.Context, inst zen7.Instance) error
}

// Assistants lists an instance's 7Targets assistants.
type Assistants interface {
	Assistants(ctx context.Context, key string, creds seventargets.Credentials, q seventargets.AssistantQuery) ([]seventargets.Assistant, error)
}

// Prospects reads a prospect from Zenvia Sales with the instance's own API key: the fields
// routing rules compare, which a signed URL does not carry.
type Prospects interface {
	Prospect(ctx context.Context, apiKey, prospectID string) (sales.Prospect, error)
}

// Queue is the forwarding core's one way in (forwarding.Intake): actions become deliveries
// there, as webhooks do.
type Queue interface {
	// Add stores the requests' deliveries durably; it returns zen7.ErrUnavailable when it cannot.
	Add(ctx context.Context, reqs ...forwarding.Request) (int, error)
	// Retry sends a failed delivery round again; it returns zen7.ErrNotFound or zen7.ErrInvalid.
	Retry(ctx context.Context, instanceID, deliveryID string) error
}

// Deps are the Service's collaborators, given to NewService. The Service keeps them to itself:
// handlers ask it for pages and actions, never its store or its token issuer.
type Deps struct {
	Store      Store
	Instances  Instances
	Outbox     Outbox
	Trees      GroupTrees
	Assistants Assistants
	Prospects  Prospects
	Queue      Queue
	Tokens     *Tokens
	Logger     *slog.Logger
}

// Service builds the pages' data and carries out their actions.
type Service struct {
	store      Store
	instances  Instances
	outbox     Outbox
	trees      GroupTrees
	assistants Assistants
	prospects  Prospects
	queue      Queue
	tokens     *Tokens
	logger     *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	rereads map[string]time.Time // instance id → when a page miss last had its tree read
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	return &Service{
		store: d.Store, instances: d.Instances, outbox: d.Outbox, trees: d.Trees, assistants: d.Assistants, prospects: d.Prospects,
		queue: d.Queue, tokens: d.Tokens, logger: d.Logger,
		now: func() time.Time { return time.Now().UTC() }, rereads: map[string]time.Time{},
	}
}

// rereadInterval is how often a page miss may have one instance's tree read again: a signed
// URL can name any group, and a stream of unknown ones must not become a stream of Sales calls.
const rereadInterval = time.Minute

// ResolveInstance finds the live instance serving groupID: one read of the group's mapping,
// which each instance's own tree reads keep (at install, every ten minutes, and here). A
// report's URL also names parentGroupID, the group above; when groupID is unknown, perhaps
// made in Sales since its instance's tree was last read, and the parent's instance is known,
// that instance's tree is read again, with its own key and at most once per rereadInterval,
// and groupID looked up again; the parent's instance serves it if it is still unknown, as it
// serves every group below its own. It returns ErrUnknownGroup if no instance serves either.
func (s *Service) ResolveInstance(ctx context.Context, groupID, parentGroupID string) (zen7.Instance, error) {
	inst, err := s.groupInstance(ctx, groupID)
	if !errors.Is(err, ErrUnknownGroup) || parentGroupID == "" || parentGroupID == groupID {
		return inst, err
	}
	parent, err := s.groupInstance(ctx, parentGroupID)
	if err != nil || !s.mayReread(parent.ID) {
		return parent, err
	}
	if err := s.trees.ReadGroups(ctx, parent); err != nil {
		s.logger.WarnContext(ctx, "reading an instance's group tree on a page miss failed", "instance", parent.ID, "error", err)
		return parent, nil
	}
	if inst, err := s.groupInstance(ctx, groupID); !errors.Is(err, ErrUnknownGroup) {
		return inst, err
	}
	return parent, nil
}

// groupInstance returns the live instance recorded for groupID, or ErrUnknownGroup.
func (s *Service) groupInstance(ctx context.Context, groupID string) (zen7.Instance, error) {
	if groupID == "" || len(groupID) > 64 {
		return zen7.Instance{}, ErrUnknownGroup
	}
	id, err := s.store.GroupInstance(ctx, groupID)
	if errors.Is(err, zen7.ErrNotFound) {
		return zen7.Instance{}, ErrUnknownGroup
	}
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("extensions.ResolveInstance: %w", err)
	}
	inst, err := s.instances.Instance(ctx, id)
	switch {
	case errors.Is(err, zen7.ErrNotFound):
		return zen7.Instance{}, ErrUnknownGroup
	case err != nil:
		return zen7.Instance{}, fmt.Errorf("extensions.ResolveInstance: %w", err)
	case inst.State == zen7.StateUninstalled:
		return zen7.Instance{}, ErrUnknownGroup // a mapping an uninstall failed to drop
	}
	return inst, nil
}

// mayReread reports whether a page miss may read the instance's tree now, and if so counts it.
func (s *Service) mayReread(instanceID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if last, ok := s.rereads[instanceID]; ok && now.Sub(last) < rereadInterval {
		return false
	}
	if len(s.rereads) >= 1024 { // keep the map small: only recent reads matter
		for id, at := range s.rereads {
			if now.Sub(at) >= rereadInterval {
				delete(s.rereads, id)
			}
		}
	}
	s.rereads[instanceID] = now
	return true
}

// ReportRange turns Sales' report parameters into the first and last day shown (UTC dates).
// An unknown or malformed range shows the last 30 days; a custom range is capped to 366 days.
func ReportRange(name, start, end string, now time.Time) (string, time.Time, time.Time) {
	today := now.UTC().Truncate(24 * time.Hour)
	switch name {
	case "today":
		return name, today, today
	case "yesterday":
		y := today.AddDate(0, 0, -1)
		return name, y, y
	case "last7":
		return name, today.AddDate(0, 0, -6), today
	case "this-month":
		return name, time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC), today
	case "last-month":
		first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
		return name, first.AddDate(0, -1, 0), first.AddDate(0, 0, -1)
	case "custom":
		s, err1 := time.Parse(time.DateOnly, start)
		e, err2 := time.Parse(time.DateOnly, end)
		if err1 == nil && err2 == nil && !e.Before(s) {
			if e.Sub(s) > 365*24*time.Hour {
				s = e.AddDate(0, 0, -365)
			}
			return name, s, e
		}
	}
	return "last30", today.AddDate(0, 0, -29), today
}

// funnelOrder ranks 7Targets lead states; later is further along.
var funnelOrder = []string{"Cold", "Warm", "Hot"}

func stateRank(state string) int {
	for i, s := range funnelOrder {
		if strings.EqualFold(s, state) {
			return i
		}
	}
	return -1
}

// maxFailures is how many recent failures the report lists.
const maxFailures = 20

// Report builds the report page of inst for the range; a data problem yields the page's error
// state, not an error.
func (s *Service) Report(ctx context.Context, inst zen7.Instance, userID, rangeName, start, end string, lang view.Lang) view.ReportPage {
	name, from, to := ReportRange(rangeName, start, end, s.now())
	head := view.ReportPage{Lang: lang, RangeName: name, Start: from, End: to}
	failed := func(err error) view.ReportPage {
		s.logger.ErrorContext(ctx, "loading the report failed", "instance", inst.ID, "error", err)
		head.ErrorMessage = view.T(lang, "report.error.load")
		return head
	}
	p := head
	ds, err := s.store.ReportDeliveries(ctx, inst.ID, from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return failed(err)
	}
	switch b, err := s.store.Backfill(ctx, inst.ID); {
	case err == nil:
		p.Backfill = &view.BackfillProgress{
			Days: b.Days, Found: b.Found, Forwarded: b.Forwarded, Skipped: b.Skipped, Failed: b.Failed,
			State: b.State, Reason: b.Reason, StartedAt: b.StartedAt, FinishedAt: b.FinishedAt,
		}
	case !errors.Is(err, zen7.ErrNotFound):
		return failed(err)
	}
	src, hasSource, err := s.chatTonicSource(ctx, inst.ID)
	if err != nil {
		return failed(err)
	}

	byDay := map[string]*view.Counts{}
	byAssistant := map[string]*view.Counts{}
	type routeKey struct {
		assistant string
		by        zen7.RoutedBy
		rule      string
	}
	byRoute := map[routeKey]*view.Counts{}
	forwardedInRange := map[string]bool{}
	var failures []zen7.Delivery
	var imports []zen7.Delivery
	for _, d := range ds {
		if d.Kind == zen7.KindChatTonic {
			// An imported record is not a lead forwarded to 7Targets: Sales makes a prospect of
			// it, whose notification is forwarded, and counted, as any other. Its import is
			// counted in the Chat-Tonic card only.
			imports = append(imports, d)
			continue
		}
		day := d.FinishedAt.UTC().Format(time.DateOnly)
		assistant := d.AssistantEmail
		if assistant == "" {
			assistant = inst.Settings.AssistantEmail
		}
		counts := []*view.Counts{counter(byDay, day), counter(byAssistant, assistant), &p.Totals}
		if d.RoutedBy != "" { // recorded since routing was
			rk := routeKey{assistant, d.RoutedBy, d.Rule}
			if byRoute[rk] == nil {
				byRoute[rk] = &view.Counts{}
			}
			counts = append(counts, byRoute[rk])
		}
		count := d.Count()
		for _, c := range counts {
			switch count {
			case zen7.CountForwarded:
				c.Forwarded++
			case zen7.CountSkipped:
				c.Skipped++
			case zen7.CountFailed:
				c.Failed++
			}
		}
		switch count {
		case zen7.CountForwarded:
			forwardedInRange[d.Prospect.ID] = true
		case zen7.CountFailed:
			failures = append(failures, d)
		}
	}
	if hasSource || len(imports) > 0 || inst.Settings.ChatTonicConfigured() {
		p.ChatTonic = chatTonicImport(inst, src, imports, from, to)
	}
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		dc := view.DayCounts{Day: day}
		if c := byDay[day.Format(time.DateOnly)]; c != nil {
			dc.Counts = *c
		}
		p.Days = append(p.Days, dc)
	}
	routes := map[string][]view.RouteCounts{}
	for rk, c := range byRoute {
		if c.Total() > 0 {
			routes[rk.assistant] = append(routes[rk.assistant], view.RouteCounts{By: rk.by, Rule: rk.rule, Counts: *c})
		}
	}
	for a, c := range byAssistant {
		if c.Total() > 0 {
			rs := routes[a]
			sort.Slice(rs, func(i, j int) bool {
				if rs[i].Forwarded != rs[j].Forwarded {
					return rs[i].Forwarded > rs[j].Forwarded
				}
				if rs[i].By != rs[j].By {
					return rs[i].By < rs[j].By
				}
				return rs[i].Rule < rs[j].Rule
			})
			p.Assistants = append(p.Assistants, view.AssistantCounts{Assistant: a, Counts: *c, Routes: rs})
		}
	}
	sort.Slice(p.Assistants, func(i, j int) bool {
		a, b := p.Assistants[i], p.Assistants[j]
		if a.Forwarded != b.Forwarded {
			return a.Forwarded > b.Forwarded
		}
		return a.Assistant < b.Assistant
	})
	// The lead states count only prospects forwarded in range: with none, the instance's lead
	// records (all of them, in any range) need not be read.
	if len(forwardedInRange) > 0 {
		leads, err := s.store.ForwardedLeads(ctx, inst.ID)
		if err != nil {
			return failed(err)
		}
		p.States, p.Funnel = leadStates(leads, forwardedInRange)
	}

	sort.Slice(failures, func(i, j int) bool { return failures[i].FinishedAt.After(failures[j].FinishedAt) })
	for _, d := range failures[:min(len(failures), maxFailures)] {
		p.Failures = append(p.Failures, view.Failure{
			DeliveryID: d.ID, ProspectID: d.Prospect.ID, Name: strings.TrimSpace(d.Prospect.FirstName + " " + d.Prospect.LastName),
			Reason: d.Reason, At: d.FinishedAt, Dead: d.State == zen7.StateDead, Retrying: d.Retrying,
		})
		token := ""
		if !d.Retrying {
			token = s.tokens.Issue(Claims{InstanceID: inst.ID, UserID: userID, Action: ActionRetry, DeliveryID: d.ID})
		}
		p.RetryTokens = append(p.RetryTokens, token)
	}
	p.ActionURL = ActionPath
	return p
}

// chatTonicSource returns the instance's Chat-Tonic source and whether it has one.
func (s *Service) chatTonicSource(ctx context.Context, instanceID string) (zen7.ChatTonicSource, bool, error) {
	src, err := s.store.ChatTonicSource(ctx, instanceID)
	switch {
	case errors.Is(err, zen7.ErrNotFound):
		return zen7.ChatTonicSource{}, false, nil
	case err != nil:
		return zen7.ChatTonicSource{}, false, err
	}
	return src, true, nil
}

// chatTonicImport is the report's Chat-Tonic card: the state of the instance's source (src,
// zero when it has none yet) and, for each day from..to, the records it read and what the
// import deliveries of that day (KindChatTonic) did with them.
func chatTonicImport(inst zen7.Instance, src zen7.ChatTonicSource, imports []zen7.Delivery, from, to time.Time) *view.ChatTonicImport {
	ct := &view.ChatTonicImport{
		// The poller reads only an enabled instance's configured source.
		On:           inst.State == zen7.StateEnabled && inst.Settings.ChatTonicConfigured(),
		LastGoodRead: src.LastGoodRead, LastError: src.LastError, LastErrorAt: src.LastErrorAt,
		Failing: src.Failing, Groups: src.Groups,
	}
	if codename := inst.Settings.ChatTonicCodename; codename != "" && src.Codename != "" && src.Codename != codename {
		// The state is another bot account's: the next read starts this one over.
		ct.LastGoodRead, ct.LastError, ct.LastErrorAt, ct.Failing, ct.Groups = time.Time{}, "", time.Time{}, false, nil
	}
	byDay := map[string]*view.ChatTonicCounts{}
	for _, d := range imports {
		c := counter(byDay, d.FinishedAt.UTC().Format(time.DateOnly))
		switch d.Count() {
		case zen7.CountImported:
			c.Imported++
		case zen7.CountSkipped:
			c.Skipped++
		case zen7.CountFailed:
			c.Failed++
		}
	}
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		key := day.Format(time.DateOnly)
		dc := view.ChatTonicDay{Day: day}
		if c := byDay[key]; c != nil {
			dc.ChatTonicCounts = *c
		}
		dc.Read = src.ReadByDay[key]
		ct.Totals.Read += dc.Read
		ct.Totals.Imported += dc.Imported
		ct.Totals.Skipped += dc.Skipped
		ct.Totals.Failed += dc.Failed
		ct.Days = append(ct.Days, dc)
	}
	return ct
}

// counter returns m's counts for k, made zero the first time.
func counter[C any](m map[string]*C, k string) *C {
	c := m[k]
	if c == nil {
		c = new(C)
		m[k] = c
	}
	return c
}

// leadStates counts the leads forwarded in the range by 7Targets state and builds the funnel.
func leadStates(leads []zen7.Lead, inRange map[string]bool) ([]view.StateCount, []view.FunnelStep) {
	counts := map[string]int{}
	reached := make([]int, len(funnelOrder))
	total := 0
	for _, l := range leads {
		if !inRange[l.ProspectID] {
			continue
		}
		total++
		state := l.SevenTargetsState
		if l.State == zen7.LeadStopped {
			counts["Stopped"]++
		} else {
			if state == "" {
				state = "Cold"
			}
			counts[state]++
		}
		for i := 0; i <= stateRank(state); i++ {
			reached[i]++
		}
	}
	var states []view.StateCount
	for _, st := range funnelOrder {
		if counts[st] > 0 {
			states = append(states, view.StateCount{State: st, Count: counts[st]})
		}
	}
	var others []string
	for st := range counts {
		if stateRank(st) < 0 && st != "Stopped" {
			others = append(others, st)
		}
	}
	sort.Strings(others)
	for _, st := range append(others, "Stopped") {
		if counts[st] > 0 {
			states = append(states, view.StateCount{State: st, Count: counts[st]})
		}
	}
	if total == 0 {
		return states, nil
	}
	funnel := []view.FunnelStep{{State: "Forwarded", Count: total, Percent: 100}}
	for i, st := range funnelOrder[1:] {
		n := reached[i+1]
		funnel = append(funnel, view.FunnelStep{State: st, Count: n, Percent: n * 100 / total})
	}
	return states, funnel
}

// Button builds the conversation dialog of a prospect, as the signed URL names it.
func (s *Service) Button(ctx context.Context, inst zen7.Instance, userID string, pr view.ButtonProspect, lang view.Lang) view.ButtonPage {
	return s.button(ctx, inst, userID, pr, lang, time.Time{})
}

// button is Button with tokens that expire no later than notAfter, when it is set.
func (s *Service) button(ctx context.Context, inst zen7.Instance, userID string, pr view.ButtonProspect, lang view.Lang, notAfter time.Time) view.ButtonPage {
	p := view.ButtonPage{Lang: lang, Prospect: pr, ActionURL: ActionPath}
	// The deliveries are read before the lead record: the worker saves the record before it
	// records the delivery's outcome, so a delivery seen finished here has its record saved.
	// Read the other way round, a delivery finishing between the two reads would show as
	// neither on its way nor forwarded, on a page that then does not reload itself.
	if ds, err := s.outbox.ProspectDeliveries(ctx, inst.ID, pr.ID, 5); err == nil && len(ds) > 0 {
		p.Last = &ds[0]
		p.Pending = ds[0].State == zen7.StatePending
	}
	if l, err := s.outbox.Lead(ctx, inst.ID, pr.ID); err == nil {
		p.Lead = &l
	} else if !errors.Is(err, zen7.ErrNotFound) {
		s.logger.ErrorContext(ctx, "loading a lead failed", "instance", inst.ID, "error", err)
		p.ErrorMessage = view.T(lang, "button.error.load")
	}
	// Where the prospect goes: a forwarded lead keeps its assistant; otherwise the routing
	// rules decide, and "forward now" offers their choice first.
	forwarded := false
	if p.Lead != nil {
		p.Route, forwarded = p.Lead.Route()
	}
	if !forwarded {
		p.Route = inst.Settings.Route(s.routable(ctx, inst, buttonProspect(pr)))
	}
	p.DefaultAssistant, p.DefaultSchedule = p.Route.AssistantEmail, p.Route.ScheduleName

	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	creds := seventargets.Credentials{ClientID: inst.Settings.ClientID, ClientSecret: inst.Settings.ClientSecret, UserIdentifier: inst.Settings.UserIdentifier}
	if as, err := s.assistants.Assistants(actx, inst.ID, creds, seventargets.AssistantQuery{Size: 50}); err == nil {
		for _, a := range as {
			p.Assistants = append(p.Assistants, view.Assistant{Name: a.Name, Email: a.EmailID})
		}
	} else {
		p.AssistantsError = true
	}

	claims := Claims{InstanceID: inst.ID, UserID: userID, ProspectID: pr.ID, Prospect: ProspectDigest(pr), Expires: notAfter}
	issue := func(a Action, deliveryID string) string {
		c := claims
		c.Action, c.DeliveryID = a, deliveryID
		return s.tokens.Issue(c)
	}
	p.ForwardToken = issue(ActionForward, "")
	p.StopToken = issue(ActionStop, "")
	if p.Last != nil && (p.Last.State == zen7.StateFailed || p.Last.State == zen7.StateDead) && !p.Last.Retrying {
		p.RetryToken = issue(ActionRetry, p.Last.ID)
	}
	return p
}

// routableTimeout bounds the Sales read of a prospect's routing fields: without them the
// page still works, routing by what the signed URL tells.
const routableTimeout = 2 * time.Second

// routable returns p with the fields routing rules compare (group, category, UTM, provider)
// read from Sales, as the worker reads a notification's prospect; p as it is when Sales
// cannot say. The identity fields stay those of the signed URL.
func (s *Service) routable(ctx context.Context, inst zen7.Instance, p zen7.Prospect) zen7.Prospect {
	if s.prospects == nil || inst.APIKey == "" || p.ID == "" {
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, routableTimeout)
	defer cancel()
	sp, err := s.prospects.Prospect(ctx, inst.APIKey, p.ID)
	if err != nil {
		s.logger.WarnContext(ctx, "reading a prospect's routing fields from Sales failed", "instance", inst.ID, "error", err)
		return p
	}
	full := forwarding.FromSales(sp)
	p.GroupID, p.GroupName, p.Category = full.GroupID, full.GroupName, full.Category
	p.UTMSource, p.UTMMedium, p.UTMCampaign, p.Provider = full.UTMSource, full.UTMMedium, full.UTMCampaign, full.Provider
	return p
}

// ButtonFor builds the dialog again for the instance and user of a token's claims, as after a
// form error in it (Act's *FieldError), with tokens that expire no later than the claims'. It returns the instance lookup's error, such as
// zen7.ErrNotFound.
func (s *Service) ButtonFor(ctx context.Context, c Claims, pr view.ButtonProspect, lang view.Lang) (view.ButtonPage, error) {
	inst, err := s.instances.Instance(ctx, c.InstanceID)
	if err != nil {
		return view.ButtonPage{}, fmt.Errorf("extensions.ButtonFor: %w", err)
	}
	return s.button(ctx, inst, c.UserID, pr, lang, c.Expires), nil
}

// ActionRequest is what a page posted.
type ActionRequest struct {
	Token      string
	Action     Action
	ProspectID string // the prospect the form was about (dialog actions)
	DeliveryID string // retry
	// Forward's choices.
	Email          string
	AssistantEmail string
	ScheduleName   string
	// The prospect as the dialog knew it.
	Prospect view.ButtonProspect
}

// FieldError is a problem with one posted field; the dialog shows it next to the field.
type FieldError struct {
	Field, Key string // Key is the message's translation key
}

func (e *FieldError) Error() string { return "invalid " + e.Field }

// Is makes errors.Is(err, ErrInvalidInput) hold.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidInput }

// Act checks an action's token (signature, expiry, binding to the action, the prospect and the
// delivery, and single use) and carries the action out through the outbox. It returns the
// token's claims, ErrTokenInvalid, ErrTokenExpired, ErrTokenReplayed, a *FieldError, or the
// forwarding errors of a retry.
func (s *Service) Act(ctx context.Context, r ActionRequest) (Claims, error) {
	c, err := s.tokens.Verify(r.Token)
	if err != nil {
		return Claims{}, err
	}
	if c.Action != r.Action || c.ProspectID != r.ProspectID || c.DeliveryID != r.DeliveryID {
		return Claims{}, ErrTokenInvalid
	}
	// The prospect's names, emails and phones are those of the signed URL, posted back: any
	// other values were changed in the browser.
	if c.ProspectID != "" && subtle.ConstantTimeCompare([]byte(c.Prospect), []byte(ProspectDigest(r.Prospect))) != 1 {
		return Claims{}, ErrTokenInvalid
	}
	inst, err := s.instances.Instance(ctx, c.InstanceID)
	if err != nil || inst.State == zen7.StateUninstalled {
		return Claims{}, ErrTokenInvalid
	}
	req := forwarding.Request{InstanceID: inst.ID, Prospect: buttonProspect(r.Prospect)}
	switch r.Action {
	case ActionForward:
		email := strings.ToLower(strings.TrimSpace(r.Email))
		if _, ok := zen7.BareEmail(email); email != "" && !ok {
			return c, &FieldError{Field: "email", Key: "button.error.email"}
		}
		if email == "" && len(req.Prospect.Emails) == 0 {
			return c, &FieldError{Field: "email", Key: "button.error.email.required"}
		}
		if a := strings.TrimSpace(r.AssistantEmail); a != "" {
			if _, ok := zen7.BareEmail(a); !ok {
				return c, &FieldError{Field: "assistantEmail", Key: "button.error.assistant"}
			}
		}
		if len(r.ScheduleName) > 200 {
			return c, &FieldError{Field: "scheduleName", Key: "button.error.schedule"}
		}
		req.Kind = zen7.KindForward
		req.Prospect = s.routable(ctx, inst, req.Prospect)
		req.Overrides = zen7.Overrides{Email: email, AssistantEmail: strings.TrimSpace(r.AssistantEmail), ScheduleName: strings.TrimSpace(r.ScheduleName)}
	case ActionStop:
		req.Kind = zen7.KindStop
	case ActionRetry:
		if err := s.useNonce(ctx, c); err != nil {
			return Claims{}, err
		}
		return c, s.queue.Retry(ctx, inst.ID, r.DeliveryID)
	default:
		return Claims{}, ErrTokenInvalid
	}
	if err := s.useNonce(ctx, c); err != nil {
		return Claims{}, err
	}
	if _, err := s.queue.Add(ctx, req); err != nil {
		return c, fmt.Errorf("extensions.Act: %w", err)
	}
	s.logger.InfoContext(ctx, "agent action queued", "instance", inst.ID, "action", r.Action, "prospect", req.Prospect.ID)
	return c, nil
}

// useNonce uses up the token of c; a token used before is ErrTokenReplayed.
func (s *Service) useNonce(ctx context.Context, c Claims) error {
	err := s.store.UseNonce(ctx, c.Nonce, c.Expires)
	if errors.Is(err, zen7.ErrConflict) {
		return ErrTokenReplayed
	}
	return err
}

// buttonProspect is the prospect as the dialog knew it, cleaned by the rules a prospect from
// Sales is cleaned by.
func buttonProspect(pr view.ButtonProspect) zen7.Prospect {
	return zen7.Prospect{ID: pr.ID, FirstName: pr.FirstName, LastName: pr.LastName,
		Emails: forwarding.CleanEmails(pr.Emails), Phones: forwarding.CleanPhones(pr.Phones)}
}
