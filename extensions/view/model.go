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
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// ReportPage is everything the report page shows.
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

// ButtonPage is everything the conversation-button dialog shows for one prospect.
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
	Assistants       []seventargets.Assistant
	AssistantsError  bool
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
