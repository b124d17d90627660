package forwarding

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// ErrNoEmail means there is no usable email address for the lead: 7Targets requires one, so
// such a prospect is recorded as skipped with this reason.
var ErrNoEmail = errors.New("the prospect has no email address")

// DefaultSource is the lead source when neither the settings nor the prospect's leads name one.
const DefaultSource = "Zenvia Sales"

// Names of the custom fields ToLead attaches to every lead, so a 7Targets lead can be traced
// back to its Sales prospect.
const (
	CustomFieldProspectID = "zenviaProspectId"
	CustomFieldGroupID    = "zenviaGroupId"
)

// Lengths, in runes, that lead fields are cut to. 7Targets documents none; these keep a
// prospect's odd data from making it reject the lead.
const (
	maxNameRunes         = 100
	maxSourceRunes       = 100
	maxInfoRunes         = maxCommentsRunes
	maxScheduleRunes     = 200
	maxCustomValueRunes  = 256
	maxPhoneDigits       = 15 // E.164
	minPhoneDigits       = 6
	maxAssistantEmailLen = maxEmailLen
)

// IsClaimed reports whether a prospect status shows that an agent has taken the prospect over:
// any status but "", "unclaimed" and "new" (in any case), which includes "archived".
func IsClaimed(status string) bool {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "", "unclaimed", "new":
		return false
	}
	return true
}

// NormalizePhone returns s as '+' and digits: a leading '+' is kept, an international "00"
// prefix becomes '+', and spaces, dashes, dots, parentheses and slashes are dropped. It
// returns "" when s has letters or other characters, a '+' that does not lead, fewer than 6
// digits, or more than 15 (the E.164 maximum).
func NormalizePhone(s string) string {
	var digits strings.Builder
	plus := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			if digits.Len() > maxPhoneDigits+2 { // room for a "00" prefix
				return ""
			}
			digits.WriteRune(r)
		case r == '+' && !plus && digits.Len() == 0:
			plus = true
		case r == '-' || r == '.' || r == '(' || r == ')' || r == '/' || unicode.IsSpace(r):
		default:
			return ""
		}
	}
	d := digits.String()
	if !plus && strings.HasPrefix(d, "00") {
		plus, d = true, d[2:]
	}
	if len(d) < minPhoneDigits || len(d) > maxPhoneDigits {
		return ""
	}
	if plus {
		return "+" + d
	}
	return d
}

// ToLead maps a prospect to the 7Targets lead to create or update, following the contract:
// name from the first name (else the last name, else the email's local part, since 7Targets
// requires a name), email from o or the prospect's first valid email, phone from its first
// valid phone, source from the settings, else the leads' utmSource, else DefaultSource,
// assistant and schedule from o or the settings, the leads' comments as the additional
// information line, and the prospect (and group) id as custom fields. Text fields are cut to
// sane lengths on rune boundaries.
//
// It returns an error wrapping ErrNoEmail when there is no valid email address: none in the
// prospect and none in o, or an invalid one in o.
func ToLead(s zen7.Settings, p zen7.Prospect, o zen7.Overrides) (seventargets.Lead, error) {
	var email string
	if o.Email != "" {
		e, ok := zen7.BareEmail(o.Email)
		if !ok {
			return seventargets.Lead{}, fmt.Errorf("%w: the chosen address is not valid", ErrNoEmail)
		}
		email = e
	} else {
		for _, e := range p.Emails {
			if e, ok := zen7.BareEmail(e); ok {
				email = e
				break
			}
		}
	}
	if email == "" {
		return seventargets.Lead{}, ErrNoEmail
	}

	name := capRunes(squashSpace(p.FirstName), maxNameRunes)
	lastName := capRunes(squashSpace(p.LastName), maxNameRunes)
	if name == "" {
		name, lastName = lastName, ""
	}
	if name == "" {
		local, _, _ := strings.Cut(email, "@")
		name = capRunes(squashSpace(local), maxNameRunes)
	}

	var phone string
	for _, ph := range p.Phones {
		if phone = NormalizePhone(ph); phone != "" {
			break
		}
	}

	source := firstNonEmpty(squashSpace(s.Source), squashSpace(p.UTMSource), DefaultSource)

	fields := []seventargets.CustomField{{Name: CustomFieldProspectID, Value: capRunes(squashSpace(p.ID), maxCustomValueRunes)}}
	if g := capRunes(squashSpace(p.GroupID), maxCustomValueRunes); g != "" {
		fields = append(fields, seventargets.CustomField{Name: CustomFieldGroupID, Value: g})
	}

	return seventargets.Lead{
		Name:                      name,
		LastName:                  lastName,
		Email:                     email,
		Phone:                     phone,
		Source:                    capRunes(source, maxSourceRunes),
		AssistantEmail:            capRunes(firstNonEmpty(exact(o.AssistantEmail), exact(s.AssistantEmail)), maxAssistantEmailLen),
		ScheduleName:              capRunes(firstNonEmpty(exact(o.ScheduleName), exact(s.ScheduleName)), maxScheduleRunes),
		AdditionalInformationLine: capRunes(squashSpace(p.Comments), maxInfoRunes),
		CustomFields:              fields,
	}, nil
}

// exact trims a value 7Targets matches exactly (an assistant's address, a schedule name, case
// sensitive), leaving its inner spaces alone.
func exact(s string) string {
	return strings.TrimSpace(strings.ToValidUTF8(s, ""))
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Fingerprint returns the hex SHA-256 of the lead's JSON encoding: two leads have the same
// fingerprint exactly when 7Targets would receive the same body, so an update that would
// change nothing can be skipped. It covers every field, ID included.
func Fingerprint(l seventargets.Lead) string {
	// A Lead holds only strings, integers and a slice of string pairs: encoding cannot fail.
	b, _ := json.Marshal(l)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
