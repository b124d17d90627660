package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// SettingsPatch is a partial settings update as Zenvia Sales sends it: only the keys present
// change (Sales recommends merging, since it may send only what the user edited).
type SettingsPatch struct {
	fields map[string]json.RawMessage
}

// Keys returns the setting names the patch changes, for the audit trail.
func (p SettingsPatch) Keys() []string {
	keys := make([]string, 0, len(p.fields))
	for _, f := range settingFields() {
		if _, ok := p.fields[f.name]; ok {
			keys = append(keys, f.name)
		}
	}
	return keys
}

// maxSettingKeys bounds the work one request can cause; the form has far fewer inputs.
const maxSettingKeys = 64

// ParseSettingsPatch parses a settings update body. It returns ErrMalformed for anything that
// is not a JSON object and a *ValidationError for unknown keys (including operator-like keys
// such as "$where" or dotted paths) and values of the wrong type.
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
	known := make(map[string]settingField, len(settingFields()))
	for _, f := range settingFields() {
		known[f.name] = f
	}
	problems := map[string]string{}
	for key, value := range raw {
		f, ok := known[key]
		switch {
		case strings.HasPrefix(key, "$") || strings.Contains(key, "."):
			problems[safeKey(key)] = "not a setting: names may not start with '$' or contain '.'"
		case !ok:
			problems[safeKey(key)] = "unknown setting"
		case !f.accepts(value):
			problems[key] = f.typeMessage()
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
	for _, f := range settingFields() {
		raw, ok := p.fields[f.name]
		if !ok {
			continue
		}
		field := reflect.ValueOf(&out).Elem().Field(f.index)
		if string(raw) == "null" {
			if f.kind == reflect.String && f.name != "clientSecret" {
				field.SetString("")
			}
			delete(touched, f.name) // clearing, or keeping the secret, needs no validation
			continue
		}
		switch f.kind {
		case reflect.String:
			var v string
			_ = json.Unmarshal(raw, &v) // type checked by ParseSettingsPatch
			v = strings.TrimSpace(v)
			if f.name == "clientSecret" && (v == zen7.SecretMask || v == "") {
				delete(touched, f.name) // "keep the stored secret": not an edit to validate
				continue
			}
			field.SetString(v)
		case reflect.Bool:
			var v bool
			_ = json.Unmarshal(raw, &v)
			field.SetBool(v)
		}
	}
	if err := validateSettings(out, touched); err != nil {
		return zen7.Settings{}, err
	}
	return out, nil
}

type settingField struct {
	name  string
	index int
	kind  reflect.Kind
}

func (f settingField) accepts(raw json.RawMessage) bool {
	if string(raw) == "null" {
		return true
	}
	switch f.kind {
	case reflect.String:
		var s string
		return json.Unmarshal(raw, &s) == nil
	case reflect.Bool:
		var b bool
		return json.Unmarshal(raw, &b) == nil
	}
	return false
}

func (f settingField) typeMessage() string {
	if f.kind == reflect.Bool {
		return "must be true or false"
	}
	return "must be a string"
}

// settingFields lists the Settings fields by their JSON (form input) names, in form order.
var settingFields = sync.OnceValue(func() []settingField {
	t := reflect.TypeFor[zen7.Settings]()
	fields := make([]settingField, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		fields = append(fields, settingField{name: sf.Tag.Get("json"), index: i, kind: sf.Type.Kind()})
	}
	return fields
})

var settingsValidator = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return f.Tag.Get("json") })
	// token: visible ASCII without spaces, as OAuth2 client ids, secrets and header values are.
	_ = v.RegisterValidation("token", func(fl validator.FieldLevel) bool {
		return strings.IndexFunc(fl.Field().String(), func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0
	})
	// text: valid UTF-8 without control characters, safe to show and to send on.
	_ = v.RegisterValidation("text", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
	})
	return v
})

// validateSettings checks s against its validation tags and reports the fields that fail.
// Only fields the patch touched are reported, so a stored value that later rules reject never
// blocks an unrelated update.
func validateSettings(s zen7.Settings, touched map[string]json.RawMessage) error {
	err := settingsValidator().Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate settings: %w", err)
	}
	problems := map[string]string{}
	for _, fe := range verrs {
		if _, ok := touched[fe.Field()]; !ok {
			continue
		}
		problems[fe.Field()] = validationMessage(fe)
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
