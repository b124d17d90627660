package zen7

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RouteField names the prospect field a routing rule compares.
type RouteField string

// The fields a routing rule may compare, as the routingRules setting spells them.
const (
	RouteGroup       RouteField = "group" // the prospect's group, by id or by name
	RouteCategory    RouteField = "category"
	RouteUTMSource   RouteField = "utmSource"
	RouteUTMMedium   RouteField = "utmMedium"
	RouteUTMCampaign RouteField = "utmCampaign"
	RouteProvider    RouteField = "provider"
)

// RouteFields lists the fields in the order messages name them.
var RouteFields = []RouteField{RouteGroup, RouteCategory, RouteUTMSource, RouteUTMMedium, RouteUTMCampaign, RouteProvider}

// RoutingRule is one line of the routingRules setting: prospects whose Field equals Value
// (contains it, with Contains), ignoring case, go to AssistantEmail with ScheduleName.
type RoutingRule struct {
	Line           int // in the setting, from 1
	Field          RouteField
	Contains       bool
	Value          string
	AssistantEmail string
	// ScheduleName is the sequence the rule names; empty: the assistant's default sequence
	// (the settings' scheduleName belongs to the default assistant, not to this one).
	ScheduleName string
	// Text is the rule as written, without its comment: what pages show.
	Text string
}

// RoutingRules are the parsed routingRules setting, in order: the first that matches wins.
type RoutingRules []RoutingRule

// Limits of the routingRules setting.
const (
	maxRoutingRules = 200
	maxRouteValue   = 200
	maxRouteRunes   = 200 // of a sequence name, as the scheduleName setting allows
)

// RuleError is a line of the routingRules setting that does not parse.
type RuleError struct {
	Line int
	Msg  string
}

func (e *RuleError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Msg }

// ParseRoutingRules reads the routingRules setting: one rule a line,
// `FIELD = VALUE -> ASSISTANT_EMAIL` or `FIELD = VALUE -> ASSISTANT_EMAIL | SEQUENCE NAME`, with
// `~` instead of `=` for "contains". A `#` at the start of a line or after a space starts a
// comment; blank lines are ignored. The first line that does not parse is a *RuleError naming
// it.
func ParseRoutingRules(text string) (RoutingRules, error) {
	var rules RoutingRules
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(stripComment(line))
		if line == "" {
			continue
		}
		if len(rules) == maxRoutingRules {
			return nil, &RuleError{n, fmt.Sprintf("at most %d rules", maxRoutingRules)}
		}
		r, msg := parseRule(line)
		if msg != "" {
			return nil, &RuleError{n, msg}
		}
		r.Line = n
		rules = append(rules, r)
	}
	return rules, nil
}

// stripComment cuts line at a '#' that starts it or follows a space, so that values such as
// "promo#1" keep theirs.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// parseRule parses one rule without its comment; msg says what is wrong, if anything.
func parseRule(line string) (r RoutingRule, msg string) {
	line = strings.ReplaceAll(line, "\t", " ")
	if !utf8.ValidString(line) || strings.IndexFunc(line, unicode.IsControl) >= 0 {
		return r, "has characters that are not text"
	}
	cond, target, ok := strings.Cut(line, "->")
	if !ok {
		return r, `has no "->" before the assistant's email`
	}
	op := strings.IndexAny(cond, "=~")
	if op < 0 {
		return r, `has no "=" or "~" between the field and its value`
	}
	r.Contains = cond[op] == '~'
	name := strings.TrimSpace(cond[:op])
	field, ok := routeField(name)
	if !ok {
		return r, fmt.Sprintf("unknown field %q; the fields are %s", name, fieldList())
	}
	r.Field = field
	r.Value = strings.Join(strings.Fields(cond[op+1:]), " ")
	switch {
	case r.Value == "":
		return r, "has no value after " + string(cond[op])
	case utf8.RuneCountInString(r.Value) > maxRouteValue:
		return r, fmt.Sprintf("has a value longer than %d characters", maxRouteValue)
	}
	assistant, schedule, hasSchedule := strings.Cut(target, "|")
	email, ok := BareEmail(strings.TrimSpace(assistant))
	if !ok {
		return r, fmt.Sprintf("%q is not an assistant's email address", strings.TrimSpace(assistant))
	}
	r.AssistantEmail = email
	r.ScheduleName = strings.TrimSpace(schedule)
	switch {
	case hasSchedule && r.ScheduleName == "":
		return r, `has no sequence name after "|"`
	case utf8.RuneCountInString(r.ScheduleName) > maxRouteRunes:
		return r, fmt.Sprintf("has a sequence name longer than %d characters", maxRouteRunes)
	}
	r.Text = strings.Join(strings.Fields(line), " ")
	return r, ""
}

// routeField finds the field named name, ignoring case.
func routeField(name string) (RouteField, bool) {
	for _, f := range RouteFields {
		if strings.EqualFold(name, string(f)) {
			return f, true
		}
	}
	return "", false
}

func fieldList() string {
	names := make([]string, len(RouteFields))
	for i, f := range RouteFields {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// Assistants returns the assistants the rules name, each once, in order.
func (rs RoutingRules) Assistants() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rs {
		if !seen[r.AssistantEmail] {
			seen[r.AssistantEmail] = true
			out = append(out, r.AssistantEmail)
		}
	}
	return out
}

// Match returns the first rule that matches p.
func (rs RoutingRules) Match(p Prospect) (RoutingRule, bool) {
	for _, r := range rs {
		if r.matches(p) {
			return r, true
		}
	}
	return RoutingRule{}, false
}

func (r RoutingRule) matches(p Prospect) bool {
	var values []string
	switch r.Field {
	case RouteGroup:
		values = []string{p.GroupID, p.GroupName}
	case RouteCategory:
		values = []string{p.Category}
	case RouteUTMSource:
		values = []string{p.UTMSource}
	case RouteUTMMedium:
		values = []string{p.UTMMedium}
	case RouteUTMCampaign:
		values = []string{p.UTMCampaign}
	case RouteProvider:
		values = []string{p.Provider}
	}
	want := strings.ToLower(r.Value)
	for _, v := range values {
		v = strings.ToLower(strings.Join(strings.Fields(v), " "))
		if v == "" {
			continue
		}
		if v == want || r.Contains && strings.Contains(v, want) {
			return true
		}
	}
	return false
}

// RoutedBy says what chose a lead's assistant and sequence.
type RoutedBy string

// What can choose a lead's assistant.
const (
	RoutedByDefault RoutedBy = "default" // the settings' assistantEmail and scheduleName
	RoutedByRule    RoutedBy = "rule"    // a routing rule
	RoutedByAgent   RoutedBy = "agent"   // the agent who forwarded the prospect by hand
)

// Route is where a prospect goes in 7Targets, and what chose it.
type Route struct {
	AssistantEmail string
	ScheduleName   string
	By             RoutedBy
	Rule           string // the rule as written, when By is RoutedByRule
}

// Route returns where the settings send p: to the first routing rule that matches, else to
// assistantEmail and scheduleName. A stored routingRules setting that no longer parses (it
// was checked when saved) routes nothing rather than stop every delivery.
func (s Settings) Route(p Prospect) Route {
	if s.RoutingRules != "" {
		if rules, err := ParseRoutingRules(s.RoutingRules); err == nil {
			if r, ok := rules.Match(p); ok {
				return Route{AssistantEmail: r.AssistantEmail, ScheduleName: r.ScheduleName, By: RoutedByRule, Rule: r.Text}
			}
		}
	}
	return Route{AssistantEmail: s.AssistantEmail, ScheduleName: s.ScheduleName, By: RoutedByDefault}
}

// Route returns the route of a lead already forwarded: the assistant and sequence it has, and
// what chose them, which a prospect keeps since 7Targets ignores a re-assignment. It reports
// false for a prospect not forwarded yet, which the settings route instead.
func (l Lead) Route() (Route, bool) {
	if l.LeadID == 0 || l.AssistantEmail == "" {
		return Route{}, false
	}
	by := l.RoutedBy
	if by == "" { // forwarded before routing was recorded
		by = RoutedByDefault
	}
	return Route{AssistantEmail: l.AssistantEmail, ScheduleName: l.ScheduleName, By: by, Rule: l.Rule}, true
}
