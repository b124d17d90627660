package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/chattonic"
)

// SettingsPatch is a partial settings update as Zenvia Sales sends it: only the keys present
// change (Sales recommends merging, since it may send only what the user edited).
type SettingsPatch struct {
	fields map[string]json.RawMessage
}

// Keys returns the setting names the patch changes, for the audit trail.
func (p SettingsPatch) Keys() []string {
	keys := make([]string, 0, len(p.fields))
	for _, name := range formOrder() {
		if _, ok := p.fields[name]; ok {
			keys = append(keys, name)
		}
	}
	return keys
}

// Has reports whether the patch sets the setting name.
func (p SettingsPatch) Has(name string) bool {
	_, ok := p.fields[name]
	return ok
}

// backfillDaysKey is the setting whose saving starts a backfill.
const backfillDaysKey = "backfillDays"

// maxSettingKeys bounds the work one request can cause; the form has far fewer inputs.
const maxSettingKeys = 64

// ParseSettingsPatch parses a settings update body. It returns ErrMalformed for anything that
// is not a JSON object and a *ValidationError for unknown keys (including operator-like keys
// such as "$where" or dotted paths), values of the wrong type and strings that are not valid
// UTF-8.
func ParseSettingsPatch(body []byte) (SettingsPatch, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return SettingsPatch{}, fmt.Errorf("%w: %v", zen7.ErrMalformed, jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return SettingsPatch{}, fmt.Errorf("%w: trailing data after the JSON object", zen7.ErrMalformed)
	}
	if raw == nil {
		return SettingsPatch{}, fmt.Errorf("%w: the body must be a JSON object", zen7.ErrMalformed)
	}
	if len(raw) > maxSettingKeys {
		return SettingsPatch{}, zen7.InvalidField("body", fmt.Sprintf("too many keys (at most %d)", maxSettingKeys))
	}
	problems := map[string]string{}
	for key, value := range raw {
		k, ok := zen7.LookupSettingKey(key)
		switch {
		case strings.HasPrefix(key, "$") || strings.Contains(key, "."):
			problems[safeKey(key)] = "not a setting: names may not start with '$' or contain '.'"
		case !ok:
			problems[safeKey(key)] = "unknown setting"
		case !accepts(k, value):
			problems[key] = typeMessage(k)
		case k.Kind() == zen7.SettingText && !utf8Text(value):
			problems[key] = "must be valid UTF-8 text"
		}
	}
	if len(problems) > 0 {
		return SettingsPatch{}, &zen7.ValidationError{Fields: problems}
	}
	return SettingsPatch{fields: raw}, nil
}

// Apply merges the patch into s and validates the result. A masked or empty secret in the
// patch keeps the stored one: Sales sends back what it read.
func (p SettingsPatch) Apply(s zen7.Settings) (zen7.Settings, error) {
	out := s
	touched := maps.Clone(p.fields)
	problems := map[string]string{}
	for _, k := range zen7.SettingKeys() {
		raw, ok := p.fields[k.Name]
		if !ok {
			continue
		}
		if string(raw) == "null" {
			switch {
			case k.Kind() == zen7.SettingText && !k.Secret:
				*k.Text(&out) = ""
			case k.Kind() == zen7.SettingNumber:
				*k.Number(&out) = k.Default().(int) // cleared: back to its value on install
			}
			delete(touched, k.Name) // clearing, or keeping the secret, needs no validation
			continue
		}
		switch k.Kind() {
		case zen7.SettingText:
			var v string
			_ = json.Unmarshal(raw, &v) // type checked by ParseSettingsPatch
			v = strings.TrimSpace(v)
			if k.Secret && (v == zen7.SecretMask || v == "") {
				delete(touched, k.Name) // "keep the stored secret": not an edit to validate
				continue
			}
			*k.Text(&out) = v
		case zen7.SettingBool:
			var v bool
			_ = json.Unmarshal(raw, &v)
			*k.Bool(&out) = v
		case zen7.SettingNumber:
			v, _ := wholeNumber(raw) // checked by ParseSettingsPatch
			if v < int64(k.Min) || v > int64(k.Max) {
				problems[k.Name] = fmt.Sprintf("must be a whole number from %d to %d", k.Min, k.Max)
				continue
			}
			*k.Number(&out) = int(v)
		}
	}
	if len(problems) > 0 {
		return zen7.Settings{}, &zen7.ValidationError{Fields: problems}
	}
	if err := validateSettings(out, touched); err != nil {
		return zen7.Settings{}, err
	}
	return out, nil
}

// accepts reports whether raw is a JSON value of the setting's kind, or null.
func accepts(k zen7.SettingKey, raw json.RawMessage) bool {
	if string(raw) == "null" {
		return true
	}
	switch k.Kind() {
	case zen7.SettingText:
		var s string
		return json.Unmarshal(raw, &s) == nil
	case zen7.SettingBool:
		var b bool
		return json.Unmarshal(raw, &b) == nil
	case zen7.SettingNumber:
		_, ok := wholeNumber(raw)
		return ok
	}
	return false
}

// wholeNumber reads raw as a JSON number with an integer value (7, or 7.0 as some form
// libraries send it); strings, fractions and numbers beyond int64 are not.
func wholeNumber(raw json.RawMessage) (int64, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil || len(raw) == 0 || raw[0] == '"' {
		return 0, false
	}
	if v, err := n.Int64(); err == nil {
		return v, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// utf8Text reports whether the JSON string raw (syntax already checked by the decoder) holds
// valid UTF-8 text: its bytes are UTF-8 and its \u escapes name no lone UTF-16 surrogate.
// encoding/json replaces either with U+FFFD without a word, which would store a value the admin
// never typed, so it is checked on the raw string before decoding.
func utf8Text(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 < len(raw) && raw[i+1] != 'u' {
			i++ // a two-byte escape such as \" or \\: its second byte is no escape of its own
			continue
		}
		r, ok := escapedRune(raw, i)
		if !ok {
			return false
		}
		i += 5 // on the escape's last hex digit
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r >= 0xdc00 {
			return false // a low surrogate with no high one before it
		}
		low, ok := escapedRune(raw, i+1)
		if !ok || low < 0xdc00 || low > 0xdfff {
			return false // a high surrogate not followed by a low one
		}
		i += 6
	}
	return true
}

// escapedRune returns the code unit of the \uXXXX escape at raw[i:].
func escapedRune(raw []byte, i int) (rune, bool) {
	if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
	return rune(n), err == nil
}

func typeMessage(k zen7.SettingKey) string {
	switch k.Kind() {
	case zen7.SettingBool:
		return "must be true or false"
	case zen7.SettingNumber:
		return fmt.Sprintf("must be a whole number from %d to %d", k.Min, k.Max)
	}
	return "must be a string"
}

// ruleTags are the validator tags of the setting rules; a rule without one fails validation
// of its setting loudly (validationTag), and a test checks every entry has one.
var ruleTags = map[zen7.SettingRule]string{
	zen7.RuleToken:      "token",
	zen7.RuleText:       "text",
	zen7.RuleEmail:      "email",
	zen7.RuleExclusions: "exclusions",
	zen7.RuleRouting:    "routing",
	zen7.RuleCodename:   "codename",
	zen7.RuleFunnels:    "funnels",
}

// validationTag returns the validator tag that checks a text setting: empty is always fine
// (the setting is then unset), else at most Max characters passing its Rule.
func validationTag(k zen7.SettingKey) (string, error) {
	rule, ok := ruleTags[k.Rule]
	if !ok {
		return "", fmt.Errorf("setting %q: no validation for rule %q", k.Name, k.Rule)
	}
	return "omitempty,max=" + strconv.Itoa(k.Max) + "," + rule, nil
}

var settingsValidator = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// token: visible ASCII without spaces, as OAuth2 client ids, secrets and header values are.
	_ = v.RegisterValidation("token", func(fl validator.FieldLevel) bool {
		return strings.IndexFunc(fl.Field().String(), func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0
	})
	// text: valid UTF-8 without control characters, safe to show and to send on.
	_ = v.RegisterValidation("text", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
	})
	// exclusions: addresses and domains, as the excludeEmails setting holds them.
	_ = v.RegisterValidation("exclusions", func(fl validator.FieldLevel) bool {
		_, err := zen7.ParseExclusions(fl.Field().String())
		return err == nil
	})
	// routing: routing rules, one a line, as the routingRules setting holds them.
	_ = v.RegisterValidation("routing", func(fl validator.FieldLevel) bool {
		_, err := zen7.ParseRoutingRules(fl.Field().String())
		return err == nil
	})
	// codename: a Chat-Tonic codename, a path segment of its API.
	_ = v.RegisterValidation("codename", func(fl validator.FieldLevel) bool {
		return chattonic.ValidateCodename(fl.Field().String()) == nil
	})
	// funnels: a Chat-Tonic funnel selection, as the chatTonicFunnels setting holds it.
	_ = v.RegisterValidation("funnels", func(fl validator.FieldLevel) bool {
		_, err := zen7.ParseFunnelSelection(fl.Field().String())
		return err == nil
	})
	return v
})

// validateSettings checks the text settings the patch touched against their rules and reports
// those that fail. Untouched ones are not checked, so a stored value that later rules reject
// never blocks an unrelated update.
func validateSettings(s zen7.Settings, touched map[string]json.RawMessage) error {
	problems := map[string]string{}
	for _, k := range zen7.SettingKeys() {
		if _, ok := touched[k.Name]; !ok || k.Kind() != zen7.SettingText {
			continue
		}
		tag, err := validationTag(k)
		if err != nil {
			return fmt.Errorf("validate settings: %w", err)
		}
		err = settingsValidator().Var(*k.Text(&s), tag)
		var verrs validator.ValidationErrors
		switch {
		case err == nil:
		case errors.As(err, &verrs) && len(verrs) > 0:
			problems[k.Name] = validationMessage(verrs[0])
		default:
			return fmt.Errorf("validate settings: %s: %w", k.Name, err)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &zen7.ValidationError{Fields: problems}
}

func validationMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "email":
		return "must be an email address"
	case "max":
		return "must be at most " + fe.Param() + " characters"
	case "token":
		return "must be printable ASCII without spaces"
	case "text":
		return "must be text without control characters"
	case "exclusions":
		_, err := zen7.ParseExclusions(fmt.Sprint(fe.Value()))
		return "must list email addresses and domains: " + err.Error()
	case "routing":
		_, err := zen7.ParseRoutingRules(fmt.Sprint(fe.Value()))
		return "must be routing rules (FIELD = VALUE -> ASSISTANT_EMAIL | SEQUENCE NAME), one a line: " + err.Error()
	case "codename":
		return "must be a Chat-Tonic codename: " + strings.TrimPrefix(chattonic.ValidateCodename(fmt.Sprint(fe.Value())).Error(), "chattonic: ")
	case "funnels":
		_, err := zen7.ParseFunnelSelection(fmt.Sprint(fe.Value()))
		return "must list funnel ids or funnelId/Group Name, separated by commas or lines: " + err.Error()
	default:
		return "is not valid (" + fe.Tag() + ")"
	}
}

// safeKey bounds an attacker-chosen key before it is echoed back in an error.
func safeKey(k string) string {
	const limit = 64
	if len(k) > limit {
		k = k[:limit] + "…"
	}
	return strings.ToValidUTF8(k, "?")
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return "the body must be a JSON object"
	case err.Error() == "EOF":
		return "the body is empty"
	default:
		return "invalid JSON"
	}
}
