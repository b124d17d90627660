package zen7

import (
	"fmt"
	"strings"
)

// Exclusions are the addresses and domains an instance never forwards to (the excludeEmails
// setting): a prospect whose email matches is skipped with ReasonExcluded, whatever its source.
type Exclusions struct {
	addresses map[string]bool
	domains   map[string]bool
}

// maxExclusions bounds the entries one setting may hold.
const maxExclusions = 1000

// ParseExclusions reads the excludeEmails setting: addresses (ana@example.com) and domains
// (example.com or @example.com), separated by commas, spaces or lines, compared without regard
// to case. An entry that is neither is an error naming it.
func ParseExclusions(text string) (Exclusions, error) {
	ex := Exclusions{addresses: map[string]bool{}, domains: map[string]bool{}}
	entries := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ';' || isSpace(r) })
	if len(entries) > maxExclusions {
		return Exclusions{}, fmt.Errorf("at most %d addresses and domains", maxExclusions)
	}
	for _, e := range entries {
		if strings.Contains(e, "@") && !strings.HasPrefix(e, "@") {
			a, ok := BareEmail(e)
			if !ok {
				return Exclusions{}, fmt.Errorf("%q is not an email address or a domain", e)
			}
			ex.addresses[a] = true
			continue
		}
		d := strings.ToLower(strings.TrimPrefix(e, "@"))
		if _, ok := BareEmail("x@" + d); !ok || !strings.Contains(d, ".") {
			return Exclusions{}, fmt.Errorf("%q is not an email address or a domain", e)
		}
		ex.domains[d] = true
	}
	return ex, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// Match reports whether email is excluded: listed itself, or at a listed domain.
func (ex Exclusions) Match(email string) bool {
	e, ok := BareEmail(email)
	if !ok {
		return false
	}
	_, domain, _ := strings.Cut(e, "@")
	return ex.addresses[e] || ex.domains[domain]
}
