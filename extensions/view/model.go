// Package view draws the pages Zenvia Sales embeds in iframes (the managers' report, the
// agents' conversation dialog and the small error page) from the data package extensions
// gathers: the page types, their templates, the charts drawn on the server as SVG, the message
// table in English, Spanish and Portuguese with the number and date formats, and the
// stylesheet and script the pages link. It does no I/O and depends on nothing of the App but
// the root package, so every page can be drawn and checked from plain values.
//
// It is called view rather than pages because "pages" already names the feature (extensions'
// pages, store.Pages, which reads their data); this package is only how they look.
package view

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// ReportPage is the managers' report page: the one value report.html reads. Its exported
// fields are the facts, set by extensions and the handler; RenderReport derives what the page
// shows besides (reportDerived) from them, once, before drawing it, so no caller can set a
// derived value that disagrees with the facts.
type ReportPage struct {
	Lang Lang
	// Range is the period shown, both ends inclusive dates (UTC), and Sales' name for it
	// ("last7", "custom", …).
	RangeName  string
	Start, End time.Time

	Totals Counts
	// Days has one entry per day of the range, oldest first, empty days included.
	Days []DayCounts
	// Assistants has the counts per 7Targets assistant email, most forwarded first.
	Assistants []AssistantCounts
	// States counts the forwarded prospects by their current 7Targets lead state, in funnel
	// order (Cold, Warm, Hot, then any other state, then Stopped).
	States []StateCount
	// Funnel is the conversion of forwarded leads through 7Targets states: each step counts
	// the leads that reached it or a later one, with its share of the first step.
	Funnel []FunnelStep
	// Failures are the most recent failed deliveries (newest first, at most 20).
	Failures []Failure
	// Actions holds what the failure rows' retry buttons post: the form's target and a token
	// per failure (same order as Failures).
	ActionURL   string
	RetryTokens []string
	// Back is this page's own signed URL (path and query): after an action the App returns
	// the frame to it. Forms carry it in a hidden input named "back".
	Back         string
	ErrorMessage string // set when the data could not be loaded: the page shows an error state
	// Backfill is the instance's current or last backfill (backfillDays); nil when it never
	// had one.
	Backfill *BackfillProgress
	// ChatTonic is the instance's Chat-Tonic import (chatTonicCodename); nil when it has no
	// source, Chat-Tonic is not configured and nothing was imported in the period. Its
	// deliveries are counted there only, never in Totals, Days or Assistants: an imported
	// record reaches 7Targets, if it does, as the Sales prospect made of it.
	ChatTonic *ChatTonicImport

	reportDerived
}

// BackfillProgress is how far a backfill got: the prospects found in Sales, and of those the
// ones forwarded, skipped and failed (the rest are on their way).
type BackfillProgress struct {
	Days                              int
	Found, Forwarded, Skipped, Failed int
	State                             zen7.BackfillState
	Reason                            zen7.Reason // why it stopped or failed
	StartedAt, FinishedAt             time.Time
}

// backfillDerived is what report.html shows of a BackfillProgress.
type backfillDerived struct {
	BackfillProgress
	StateText  string
	StateClass string // the badge's class: info (running), success (done) or danger
	Window     string // "Unclaimed prospects created in the last 7 days"
	ReasonText string
	InFlight   int
}

// deriveBackfill works out what the report shows of b, in lang.
func deriveBackfill(lang Lang, b *BackfillProgress) *backfillDerived {
	if b == nil {
		return nil
	}
	d := &backfillDerived{BackfillProgress: *b, ReasonText: ReasonText(lang, b.Reason)}
	d.InFlight = max(0, b.Found-b.Forwarded-b.Skipped-b.Failed)
	d.Window = T(lang, "report.backfill.window", b.Days)
	switch b.State {
	case zen7.BackfillRunning:
		d.StateText, d.StateClass = T(lang, "backfill.running"), "info"
	case zen7.BackfillDone:
		d.StateText, d.StateClass = T(lang, "backfill.done"), "success"
	case zen7.BackfillStopped:
		d.StateText, d.StateClass = T(lang, "backfill.stopped"), "warn"
	default:
		d.StateText, d.StateClass = T(lang, "backfill.failed"), "danger"
	}
	return d
}

// ChatTonicImport is how an instance's Chat-Tonic import goes: the state of its source (as
// zen7.ChatTonicSource keeps it) and, per day of the report's period, the records read and
// what became of them.
type ChatTonicImport struct {
	// On: the instance is enabled and has Chat-Tonic configured, so its source is read.
	On bool
	// LastGoodRead is when a read last succeeded; LastError and LastErrorAt the last failure,
	// kept after later reads succeed. Failing: Chat-Tonic refuses the codename or the token.
	LastGoodRead time.Time
	LastError    string
	LastErrorAt  time.Time
	Failing      bool
	// Groups are the funnel groups the last read selected ("funnel/group").
	Groups []string
	// Days has one entry per day of the period, oldest first, empty days included; Totals
	// are their sums.
	Days   []ChatTonicDay
	Totals ChatTonicCounts
}

// ChatTonicCounts are the Chat-Tonic records read (queued for import) and, of the imports
// that finished, those Sales took as leads, those skipped (no contact data, …) and those
// that failed.
type ChatTonicCounts struct {
	Read, Imported, Skipped, Failed int
}

// ChatTonicDay are the Chat-Tonic counts of one day.
type ChatTonicDay struct {
	Day time.Time
	ChatTonicCounts
}

// chatTonicDerived is what report.html shows of a ChatTonicImport.
type chatTonicDerived struct {
	ChatTonicImport
	StateText  string
	StateClass string // the badge's class: success, info, warn, danger or neutral
	StateNote  string // a sentence on the state, when it needs one
}

// deriveChatTonic works out what the report shows of c, in lang. The badge says whether the
// source is off, refused (failing), retrying after an error, not read yet, or reading fine.
func deriveChatTonic(lang Lang, c *ChatTonicImport) *chatTonicDerived {
	if c == nil {
		return nil
	}
	d := &chatTonicDerived{ChatTonicImport: *c}
	state, class := "ok", "success"
	switch {
	case !c.On:
		state, class = "off", "neutral"
	case c.Failing:
		state, class = "failing", "danger"
	case c.LastError != "" && c.LastErrorAt.After(c.LastGoodRead):
		state, class = "retrying", "warn"
	case c.LastGoodRead.IsZero():
		state, class = "notRead", "info"
	}
	d.StateText, d.StateClass = T(lang, "chattonic."+state), class
	if state != "ok" {
		d.StateNote = T(lang, "chattonic."+state+".text")
	}
	return d
}

// reportDerived is what report.html shows of a ReportPage's facts, in the page's language.
type reportDerived struct {
	RangeLabel    string
	Period        string
	Empty         bool // nothing processed in the period
	Rows          []failureRow
	CanRetry      bool // some row has a retry form
	BackfillCard  *backfillDerived
	ChatTonicCard *chatTonicDerived
	// RoutedByRules: routing rules sent prospects somewhere in the period, so the table that
	// says which shows open.
	RoutedByRules bool
}

// failureRow is one failure with its retry token ("" for no button).
type failureRow struct {
	Failure
	Display string // the prospect's name, or a placeholder
	Unnamed bool   // Display is the placeholder
	Token   string
}

// deriveReport works out, in the page's language, what report.html shows of p's facts.
func deriveReport(p ReportPage) reportDerived {
	lang := pageLang(p.Lang)
	d := reportDerived{
		RangeLabel:    RangeText(lang, p.RangeName),
		Period:        formatPeriod(lang, p.Start, p.End),
		Empty:         p.Totals.Total() == 0,
		BackfillCard:  deriveBackfill(lang, p.Backfill),
		ChatTonicCard: deriveChatTonic(lang, p.ChatTonic),
	}
	for _, a := range p.Assistants {
		for _, r := range a.Routes {
			d.RoutedByRules = d.RoutedByRules || r.By == zen7.RoutedByRule
		}
	}
	for i, f := range p.Failures {
		row := failureRow{Failure: f, Display: strings.TrimSpace(f.Name)}
		if row.Display == "" {
			row.Display, row.Unnamed = T(lang, "prospect.unnamed"), true
		}
		if i < len(p.RetryTokens) && p.ActionURL != "" && !f.Retrying {
			row.Token = p.RetryTokens[i]
		}
		if row.Token != "" {
			d.CanRetry = true
		}
		d.Rows = append(d.Rows, row)
	}
	return d
}

// Counts is how many deliveries were forwarded, skipped and failed.
type Counts struct {
	Forwarded, Skipped, Failed int
}

// Total is the sum of the counts.
func (c Counts) Total() int { return c.Forwarded + c.Skipped + c.Failed }

// DayCounts are the counts of one day.
type DayCounts struct {
	Day time.Time
	Counts
}

// AssistantCounts are the counts of one 7Targets assistant.
type AssistantCounts struct {
	Assistant string // email
	Counts
	// Routes splits the counts by what sent the prospects to the assistant, most forwarded
	// first.
	Routes []RouteCounts
}

// RouteCounts are the counts of the prospects one route sent to an assistant.
type RouteCounts struct {
	By   zen7.RoutedBy
	Rule string
	Counts
}

// Text is the route as the report's table names it.
func (r RouteCounts) Text(lang Lang) string { return RouteText(lang, r.By, r.Rule) }

// RouteText says what chose an assistant: the default, a routing rule (quoted), or the
// agent; "" when nothing is known.
func RouteText(lang Lang, by zen7.RoutedBy, rule string) string {
	switch by {
	case zen7.RoutedByRule:
		return T(lang, "route.rule", rule)
	case zen7.RoutedByAgent:
		return T(lang, "route.agent")
	case zen7.RoutedByDefault:
		return T(lang, "route.default")
	}
	return ""
}

// StateCount is how many forwarded leads are in a 7Targets state.
type StateCount struct {
	State string
	Count int
}

// FunnelStep is one step of the conversion funnel.
type FunnelStep struct {
	State   string
	Count   int
	Percent int // of the first step, rounded down
}

// Failure is a delivery 7Targets refused or that was given up on.
type Failure struct {
	DeliveryID string
	ProspectID string
	Name       string // prospect's name as known
	Reason     zen7.Reason
	At         time.Time
	Dead       bool // retried until it was given up, rather than refused
	Retrying   bool // already sent round again
}

// ButtonPage is the conversation-button dialog for one prospect: the one value button.html
// reads. As with ReportPage, its exported fields are the facts and RenderButton derives the
// rest (buttonDerived) from them, once, before drawing it.
type ButtonPage struct {
	Lang     Lang
	Prospect ButtonProspect

	// Lead is what the App knows of the prospect's 7Targets lead, nil if nothing.
	Lead *zen7.Lead
	// Pending is true while a delivery for the prospect waits in the outbox.
	Pending bool
	// Last is the prospect's most recent delivery, nil if none.
	Last *zen7.Delivery

	// Assistants to choose from when forwarding (empty if 7Targets could not be asked:
	// AssistantsError then says so and the default assistant is used).
	Assistants      []Assistant
	AssistantsError bool
	// Route is where the prospect goes: a forwarded lead's assistant and what chose it, or
	// where the routing rules would send it now. DefaultAssistant and DefaultSchedule, what
	// the forward form offers first, are its choice.
	Route            zen7.Route
	DefaultAssistant string
	DefaultSchedule  string

	// ActionURL is where the forms post; each action has its own single-use token.
	ActionURL string
	// Back is this page's own signed URL (path and query), carried in a hidden input "back".
	Back         string
	ForwardToken string
	StopToken    string
	RetryToken   string // empty unless Last failed

	Notice       string // e.g. "Forwarding queued" after an action
	ErrorMessage string // a problem to show (invalid email typed, …), already translated
	// FieldErrors are per-field problems of the forward form ("email").
	FieldErrors map[string]string

	buttonDerived
}

// buttonDerived is what button.html shows of a ButtonPage's facts, in the page's language.
type buttonDerived struct {
	Name        string // the prospect as a person reads it
	Initials    string // for the avatar; "" shows an icon
	EmailsCSV   string // placeholders posted back, as Sales sent them
	PhonesCSV   string
	Status      string // new, skipped, pending, forwarded, stopped or failed
	StatusText  string // the badge
	StatusClass string // the badge's colour
	StatusNote  string // a sentence on where the prospect stands
	Forwarded   bool   // 7Targets follows the prospect up
	HasLead     bool   // a 7Targets lead exists: show its facts
	SkipReason  zen7.Reason
	Failed      bool // the last delivery failed or was given up on
	LastReason  zen7.Reason
	LastAt      time.Time
	ShowStatus  bool // the status card has something to say
	ShowForward bool
	ShowStop    bool
	ShowRetry   bool
	NeedEmail   bool   // the forward form asks for an email
	UseEmail    string // the email 7Targets will write to otherwise
	RouteText   string // what chose the assistant, as a sentence
	Options     []assistantOption
	EmailError  string
	ScheduleErr string
	AssistErr   string
}

// assistantOption is one choice of the forward form's assistant list.
type assistantOption struct {
	Email, Label string
	Selected     bool
}

// deriveButton works out, in the page's language, what button.html shows of p's facts: the
// badge, which forms appear, the assistant choices, the field errors.
func deriveButton(p ButtonPage) buttonDerived {
	lang := pageLang(p.Lang)
	v := buttonDerived{
		Name:      prospectName(lang, p.Prospect),
		Initials:  initials(p.Prospect),
		EmailsCSV: strings.Join(p.Prospect.Emails, ","),
		PhonesCSV: strings.Join(p.Prospect.Phones, ","),
	}
	lead := p.Lead
	if last := p.Last; last != nil && !last.Retrying &&
		(last.State == zen7.StateFailed || last.State == zen7.StateDead) {
		v.Failed = true
		v.LastReason = last.Reason
		if v.LastReason.IsZero() { // a delivery that died retrying: its last error says why
			v.LastReason = zen7.Reason{Code: zen7.ReasonOther, Detail: last.LastError}
		}
		v.LastAt = last.FinishedAt
	}
	forwarded := lead != nil && lead.State == zen7.LeadForwarded
	stopped := lead != nil && lead.State == zen7.LeadStopped
	switch {
	case p.Pending:
		v.Status, v.StatusClass = "pending", "info"
	case forwarded:
		v.Status, v.StatusClass = "forwarded", "success"
	case stopped:
		v.Status, v.StatusClass = "stopped", "neutral"
	case v.Failed:
		v.Status, v.StatusClass = "failed", "danger"
	case lead != nil && lead.State == zen7.LeadSkipped:
		v.Status, v.StatusClass = "skipped", "warn"
	default:
		v.Status, v.StatusClass = "new", "neutral"
	}
	v.StatusText = T(lang, "status."+v.Status)
	note := "new"
	switch {
	case forwarded:
		note = "forwarded"
	case stopped:
		note = "stopped"
	case lead != nil && lead.State == zen7.LeadSkipped:
		note = "skipped"
		v.SkipReason = lead.Reason
	}
	if !(p.Pending && note == "new") { // "not sent yet" would contradict "being sent"
		v.StatusNote = T(lang, "status."+note+".text")
	}
	v.Forwarded = forwarded
	v.HasLead = lead != nil && (forwarded || stopped || lead.LeadID != 0)

	canAct := !p.Pending && p.ActionURL != ""
	v.ShowRetry = canAct && v.Failed && p.RetryToken != ""
	v.ShowStop = canAct && forwarded && p.StopToken != ""
	v.ShowForward = canAct && !forwarded && !stopped && p.ForwardToken != ""

	v.UseEmail = firstNonEmpty(p.Prospect.Emails)
	if lead != nil && lead.Email != "" {
		v.UseEmail = lead.Email
	}
	v.NeedEmail = v.UseEmail == ""
	v.ShowStatus = v.StatusNote != "" || v.HasLead || !v.SkipReason.IsZero() || v.ShowStop
	v.EmailError = p.FieldErrors["email"]
	v.ScheduleErr = p.FieldErrors["scheduleName"]
	v.AssistErr = p.FieldErrors["assistantEmail"]
	v.RouteText = RouteText(lang, p.Route.By, p.Route.Rule)

	seen := false
	for _, a := range p.Assistants {
		if a.Email == "" {
			continue
		}
		label := strings.TrimSpace(a.Name)
		if label == "" {
			label = a.Email
		}
		sel := a.Email == p.DefaultAssistant
		seen = seen || sel
		v.Options = append(v.Options, assistantOption{Email: a.Email, Label: label, Selected: sel})
	}
	if !seen && p.DefaultAssistant != "" {
		// The default is not in the list (the list failed, or was cut short): offer it first.
		def := assistantOption{Email: p.DefaultAssistant, Label: T(lang, "forward.assistant.default", p.DefaultAssistant), Selected: true}
		v.Options = append([]assistantOption{def}, v.Options...)
	}
	return v
}

// prospectName is the prospect's full name, else an email or phone, else a placeholder.
func prospectName(lang Lang, p ButtonProspect) string {
	if n := strings.TrimSpace(strings.TrimSpace(p.FirstName) + " " + strings.TrimSpace(p.LastName)); n != "" {
		return n
	}
	if e := firstNonEmpty(p.Emails); e != "" {
		return e
	}
	if ph := firstNonEmpty(p.Phones); ph != "" {
		return ph
	}
	return T(lang, "prospect.unnamed")
}

// initials are the first letters of the first and last names, upper case.
func initials(p ButtonProspect) string {
	var out []rune
	for _, s := range []string{p.FirstName, p.LastName} {
		if r, _ := utf8.DecodeRuneInString(strings.TrimSpace(s)); unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
	}
	return string(out)
}

func firstNonEmpty(ss []string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// Assistant is a 7Targets assistant the dialog offers to forward to. The page has its own
// type so that it depends on no client of an outside API.
type Assistant struct {
	Name  string
	Email string
}

// ButtonProspect is the prospect as the button URL's placeholders describe it.
type ButtonProspect struct {
	ID        string
	FirstName string
	LastName  string
	Emails    []string
	Phones    []string
}

// ErrorPage is a small page shown instead of a report or dialog (bad signature, unknown
// group, …): a title and a sentence, both already translated, and the HTTP status.
type ErrorPage struct {
	Lang    Lang
	Status  int
	Title   string
	Message string
}
