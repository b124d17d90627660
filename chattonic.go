package zen7

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// FunnelSelection is the chatTonicFunnels setting parsed: which Chat-Tonic funnels, or funnel
// groups of them, are imported. The zero FunnelSelection selects every group of every funnel.
type FunnelSelection struct {
	// Funnels are funnel ids selected whole; Groups funnel id → group names selected.
	Funnels map[string]bool
	Groups  map[string]map[string]bool
}

// maxFunnelEntry bounds one entry of a selection: funnel ids and group names are short.
const maxFunnelEntry = 200

// ParseFunnelSelection parses a chatTonicFunnels value: entries separated by commas or lines,
// each a funnel id ("sacarTarjeta") or a funnel id and a group name ("sacarTarjeta/Sacar
// Tarjeta"). Funnel ids compare exactly, as Chat-Tonic keys them; group names ignoring case.
func ParseFunnelSelection(s string) (FunnelSelection, error) {
	var sel FunnelSelection
	entries := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if len(e) > maxFunnelEntry || strings.IndexFunc(e, unicode.IsControl) >= 0 {
			return FunnelSelection{}, fmt.Errorf("entry %d: too long or not text", i+1)
		}
		funnel, group, hasGroup := strings.Cut(e, "/")
		funnel, group = strings.TrimSpace(funnel), strings.TrimSpace(group)
		switch {
		case funnel == "":
			return FunnelSelection{}, fmt.Errorf("entry %d (%q): a funnel id comes first", i+1, e)
		case strings.ContainsFunc(funnel, unicode.IsSpace):
			return FunnelSelection{}, fmt.Errorf("entry %d (%q): a funnel id has no spaces", i+1, e)
		case hasGroup && group == "":
			return FunnelSelection{}, fmt.Errorf("entry %d (%q): a group name follows the /", i+1, e)
		}
		if !hasGroup {
			if sel.Funnels == nil {
				sel.Funnels = map[string]bool{}
			}
			sel.Funnels[funnel] = true
			continue
		}
		if sel.Groups == nil {
			sel.Groups = map[string]map[string]bool{}
		}
		if sel.Groups[funnel] == nil {
			sel.Groups[funnel] = map[string]bool{}
		}
		sel.Groups[funnel][strings.ToLower(group)] = true
	}
	return sel, nil
}

// All reports whether the selection names nothing, and so takes every group.
func (s FunnelSelection) All() bool { return len(s.Funnels) == 0 && len(s.Groups) == 0 }

// Selects reports whether the group named group of funnel funnelID is imported.
func (s FunnelSelection) Selects(funnelID, group string) bool {
	if s.All() || s.Funnels[funnelID] {
		return true
	}
	return s.Groups[funnelID][strings.ToLower(strings.TrimSpace(group))]
}

// ChatTonicConfigured reports whether the settings turn the Chat-Tonic source on.
func (s Settings) ChatTonicConfigured() bool {
	return s.ChatTonicCodename != "" && s.ChatTonicToken != ""
}

// ChatTonicSource is the state of an instance's Chat-Tonic import: where reading stands, how
// the last reads went, what was read, and who holds the right to read it.
type ChatTonicSource struct {
	InstanceID string
	// Codename is the account the state is about: another codename starts over.
	Codename string
	// ConfiguredAt is when the source was first seen configured; records created up to
	// chatTonicBackfillDays before it are imported.
	ConfiguredAt time.Time
	// Watermark is when the last complete read started: every record created before it was
	// read. Records younger than a day are read again after it, so that one that completes
	// later still qualifies.
	Watermark time.Time
	// LastGoodRead is when a read last succeeded; LastError and LastErrorAt the last failure.
	LastGoodRead time.Time
	LastError    string
	LastErrorAt  time.Time
	// Failing means Chat-Tonic refuses the token or the codename: until a later read
	// succeeds, nothing is imported.
	Failing bool
	// Failures counts the retryable failures in a row, for the backoff; NextPollAt is when the
	// next read is due.
	Failures   int
	NextPollAt time.Time
	// Groups are the funnel groups the last read selected ("funnel/group").
	Groups []string
	// ReadKey names what the last complete read imported: its groups, whether only completed
	// records, and how many backfill days. A read under another key reads from the backfill
	// floor and looks at every record again, so that a widened selection or a raised
	// chatTonicBackfillDays imports what it now covers; under the same key, records not
	// updated since the last complete read began were looked at by it, as they are.
	ReadKey string
	// ReadByDay counts the records read by day (YYYY-MM-DD, UTC), the last 31 days.
	ReadByDay map[string]int
	// Lease is the number of the last lease taken; Owner holds it until LeaseUntil.
	Lease      int
	Owner      string
	LeaseUntil time.Time
}
