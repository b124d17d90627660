package lifecycle_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// formInputNames returns the names of every input of the settings form, sorted.
func formInputNames(tb testing.TB) []string {
	tb.Helper()
	var names []string
	for _, sec := range lifecycle.SettingsForm().Sections {
		for _, in := range sec.Inputs {
			names = append(names, in.Name)
		}
	}
	slices.Sort(names)
	return names
}

// settingsJSONKeys returns the keys of the settings table and their Go kinds.
func settingsJSONKeys(tb testing.TB) map[string]reflect.Kind {
	tb.Helper()
	keys := map[string]reflect.Kind{}
	for _, k := range zen7.SettingKeys() {
		if k.Name == "" {
			tb.Fatalf("a settings table entry has no name; every setting must be a form input")
		}
		keys[k.Name] = reflect.TypeOf(k.Default()).Kind()
	}
	return keys
}

func TestSettingsFormInputsAreTheSettingsKeys(t *testing.T) {
	t.Parallel()
	keys := settingsJSONKeys(t)
	want := make([]string, 0, len(keys))
	for k := range keys {
		want = append(want, k)
	}
	slices.Sort(want)
	got := formInputNames(t)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("form input names vs Settings JSON keys (-settings +form):\n%s", diff)
	}
	if dup := slices.Compact(slices.Clone(got)); len(dup) != len(got) {
		t.Errorf("form input names repeat: %v", got)
	}

	// Every input must be editable: a patch naming it parses, and a valid value for it applies.
	for _, name := range got {
		k, ok := zen7.LookupSettingKey(name)
		if !ok {
			t.Errorf("input %q is no setting", name)
			continue
		}
		value, _ := json.Marshal(sampleValue(k))
		body := `{"` + name + `":` + string(value) + `}`
		p, err := lifecycle.ParseSettingsPatch([]byte(body))
		if err != nil {
			t.Errorf("input %q: ParseSettingsPatch(%s) error = %v, want nil", name, body, err)
			continue
		}
		if _, err := p.Apply(zen7.DefaultSettings()); err != nil {
			t.Errorf("input %q: Apply(%s) error = %v, want nil", name, body, err)
		}
		if diff := cmp.Diff([]string{name}, p.Keys()); diff != "" {
			t.Errorf("input %q: Keys() mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestSettingsFormInputTypes(t *testing.T) {
	t.Parallel()
	keys := settingsJSONKeys(t)
	for _, sec := range lifecycle.SettingsForm().Sections {
		for _, in := range sec.Inputs {
			var want []string
			switch {
			case keys[in.Name] == reflect.Bool:
				want = []string{"checkbox"}
			case keys[in.Name] == reflect.Int:
				want = []string{"number"}
			case isSecret(in.Name):
				want = []string{"password"}
			default:
				want = []string{"text", "textarea"}
			}
			if !slices.Contains(want, in.Type) {
				t.Errorf("input %q has type %q, want one of %v", in.Name, in.Type, want)
			}
		}
	}
}

// isSecret reports whether the setting named name is a secret (its entry says so), which only
// a password input may show.
func isSecret(name string) bool {
	k, ok := zen7.LookupSettingKey(name)
	return ok && k.Secret
}

func checkText(t *testing.T, where string, txt zen7.Text) {
	t.Helper()
	for lang, s := range map[string]string{"en": txt.En, "es": txt.Es, "pt": txt.Pt} {
		if strings.TrimSpace(s) == "" {
			t.Errorf("%s: %s text is empty (%+v)", where, lang, txt)
		}
	}
}

func TestSettingsFormTextsAreLocalized(t *testing.T) {
	t.Parallel()
	f := lifecycle.SettingsForm()
	checkText(t, "form title", f.Title)
	checkText(t, "form description", f.Description)
	checkText(t, "form hint", f.Hint)
	if len(f.Sections) == 0 {
		t.Fatal("form has no sections")
	}
	for _, sec := range f.Sections {
		if sec.Name == "" {
			t.Errorf("a section has no name: %+v", sec.Title)
		}
		if len(sec.Inputs) == 0 {
			t.Errorf("section %q has no inputs", sec.Name)
		}
		checkText(t, "section "+sec.Name+" title", sec.Title)
		checkText(t, "section "+sec.Name+" description", sec.Description)
		for _, in := range sec.Inputs {
			checkText(t, "input "+in.Name+" label", in.Label)
			checkText(t, "input "+in.Name+" hint", in.Hint)
		}
	}
	for i, v := range f.Validations {
		if len(v.Changes) == 0 {
			t.Errorf("validation %d changes nothing", i)
		}
		for _, c := range v.Changes {
			texts := 0
			for kind, txt := range map[string]*zen7.Text{"hint": c.Hint, "warning": c.Warning, "error": c.Error} {
				if txt != nil {
					texts++
					checkText(t, "validation change "+c.Name+" "+kind, *txt)
				}
			}
			if texts == 0 {
				t.Errorf("validation %d change on %q carries no text", i, c.Name)
			}
		}
	}
}

func TestSettingsFormValidationsNameInputs(t *testing.T) {
	t.Parallel()
	keys := settingsJSONKeys(t)
	for i, v := range lifecycle.SettingsForm().Validations {
		if len(v.Where) == 0 {
			t.Errorf("validation %d has an empty where: it would always apply", i)
		}
		for name, value := range v.Where {
			kind, ok := keys[name]
			if !ok {
				t.Errorf("validation %d: where names %q, not a form input", i, name)
				continue
			}
			if _, isBool := value.(bool); kind == reflect.Bool && !isBool {
				t.Errorf("validation %d: where %q = %#v, want a bool for a checkbox", i, name, value)
			}
		}
		for _, c := range v.Changes {
			if _, ok := keys[c.Name]; !ok {
				t.Errorf("validation %d: change names %q, not a form input", i, c.Name)
			}
		}
	}
}

func TestSettingsFormJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(lifecycle.SettingsForm())
	if err != nil {
		t.Fatalf("json.Marshal(SettingsForm()) error = %v", err)
	}
	var doc struct {
		Title       map[string]string `json:"title"`
		Description map[string]string `json:"description"`
		Hint        map[string]string `json:"hint"`
		Sections    []struct {
			Name   string           `json:"name"`
			Title  map[string]any   `json:"title"`
			Inputs []map[string]any `json:"inputs"`
		} `json:"sections"`
		Validations []map[string]any `json:"validations"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decoding the form JSON: %v\n%s", err, b)
	}
	wantLangs := []string{"en", "es", "pt"}
	for _, field := range []struct {
		name string
		text map[string]string
	}{{"title", doc.Title}, {"description", doc.Description}, {"hint", doc.Hint}} {
		for _, lang := range wantLangs {
			if field.text[lang] == "" {
				t.Errorf("form %s has no %q string: %v", field.name, lang, field.text)
			}
		}
	}
	if len(doc.Sections) == 0 {
		t.Fatalf("form JSON has no sections: %s", b)
	}
	var names []string
	for _, sec := range doc.Sections {
		if len(sec.Inputs) == 0 {
			t.Errorf("section %q has no inputs in JSON", sec.Name)
		}
		for _, in := range sec.Inputs {
			name, _ := in["name"].(string)
			names = append(names, name)
			for _, key := range []string{"name", "type"} {
				if s, ok := in[key].(string); !ok || s == "" {
					t.Errorf("input %q: %q = %#v, want a non-empty string", name, key, in[key])
				}
			}
			for _, key := range []string{"label", "hint"} {
				obj, ok := in[key].(map[string]any)
				if !ok {
					t.Errorf("input %q: %q = %#v, want a localizable object", name, key, in[key])
					continue
				}
				for _, lang := range wantLangs {
					if s, ok := obj[lang].(string); !ok || s == "" {
						t.Errorf("input %q: %s.%s = %#v, want a non-empty string", name, key, lang, obj[lang])
					}
				}
			}
			if cp, ok := in["customProps"]; ok && cp == nil {
				t.Errorf("input %q: customProps is null", name)
			}
		}
	}
	slices.Sort(names)
	if diff := cmp.Diff(formInputNames(t), names); diff != "" {
		t.Errorf("JSON input names mismatch (-want +got):\n%s", diff)
	}
	for i, v := range doc.Validations {
		if _, ok := v["where"].(map[string]any); !ok {
			t.Errorf("validations[%d].where = %#v, want an object", i, v["where"])
		}
		if _, ok := v["changes"].([]any); !ok {
			t.Errorf("validations[%d].changes = %#v, want an array", i, v["changes"])
		}
	}
}

// TestSettingsFormIsFresh checks that callers cannot change the form others get.
func TestSettingsFormIsFresh(t *testing.T) {
	t.Parallel()
	f := lifecycle.SettingsForm()
	f.Sections[0].Inputs[0].Name = "changed"
	f.Validations[0].Where["injected"] = true
	g := lifecycle.SettingsForm()
	if g.Sections[0].Inputs[0].Name == "changed" {
		t.Error("SettingsForm() shares its inputs between calls")
	}
	if _, ok := g.Validations[0].Where["injected"]; ok {
		t.Error("SettingsForm() shares its validations between calls")
	}
}
