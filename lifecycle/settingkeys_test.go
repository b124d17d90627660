package lifecycle_test

import (
	zen7 "github.com/7targets/zenvia-sales-app"

	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// sampleValue is a valid value of the setting other than its default: a string every rule
// accepts, or the bool opposite to the default.
func sampleValue(k zen7.SettingKey) any {
	switch k.Kind() {
	case zen7.SettingBool:
		return !k.Default().(bool)
	case zen7.SettingNumber:
		return k.Max
	}
	switch k.Rule {
	case zen7.RuleRouting:
		return "utmSource = ads -> value@example.com"
	case zen7.RuleCodename:
		return "value-example"
	case zen7.RuleFunnels:
		return "sacarTarjeta/Sacar Tarjeta"
	}
	return "value@example.com"
}

// TestEverySettingKeyIsWired checks that each entry of zen7.SettingKeys shows in the form as its
// entry says, in the read view, and parses, applies and validates as an update, so that a new
// entry cannot be half-wired. (The store's side is checked in the store's tests.)
func TestEverySettingKeyIsWired(t *testing.T) {
	t.Parallel()
	form := lifecycle.SettingsForm()
	var formNames []string
	for _, sec := range form.Sections {
		for _, in := range sec.Inputs {
			formNames = append(formNames, in.Name)
		}
	}
	all := map[string]any{}
	for _, k := range zen7.SettingKeys() {
		all[k.Name] = sampleValue(k)
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			// The form: one input, in its section, with its type and texts.
			var found []lifecycle.FormInput
			for _, sec := range form.Sections {
				for _, in := range sec.Inputs {
					if in.Name != k.Name {
						continue
					}
					found = append(found, in)
					if sec.Name != k.Section {
						t.Errorf("form: in section %q, want %q", sec.Name, k.Section)
					}
				}
			}
			want := lifecycle.FormInput{Name: k.Name, Type: k.Input, Label: k.Label, Hint: k.Hint}
			if k.Kind() == zen7.SettingNumber {
				want.CustomProps = map[string]any{"min": k.Min, "max": k.Max, "step": 1}
			}
			if diff := cmp.Diff([]lifecycle.FormInput{want}, found); diff != "" {
				t.Errorf("form inputs named %q (-want +got):\n%s", k.Name, diff)
			}

			// The update: a value parses, applies and is what the view then shows.
			sample := sampleValue(k)
			body, err := json.Marshal(map[string]any{k.Name: sample})
			if err != nil {
				t.Fatal(err)
			}
			p := mustParse(t, string(body))
			if diff := cmp.Diff([]string{k.Name}, p.Keys()); diff != "" {
				t.Errorf("Keys() (-want +got):\n%s", diff)
			}
			got, err := p.Apply(zen7.DefaultSettings())
			if err != nil {
				t.Fatalf("Apply(%s) error = %v", body, err)
			}
			if v := k.Value(got); v != sample {
				t.Errorf("after Apply(%s) the value is %#v, want %#v", body, v, sample)
			}
			wantView := sample
			if k.Secret {
				wantView = zen7.SecretMask
			}
			if v, ok := got.View()[k.Name]; !ok || v != wantView {
				t.Errorf("View()[%q] = %#v (present %v), want %#v", k.Name, v, ok, wantView)
			}

			// A value of the wrong type is refused on this key.
			wrong := `"true"`
			if k.Kind() == zen7.SettingText {
				wrong = "true"
			}
			_, err = lifecycle.ParseSettingsPatch([]byte(`{"` + k.Name + `":` + wrong + `}`))
			checkFields(t, fieldErrors(t, err), map[string]string{k.Name: "must be"})

			if k.Kind() == zen7.SettingNumber {
				// Out of range on either side, or not whole: refused on this key.
				for _, v := range []string{strconv.Itoa(k.Max + 1), strconv.Itoa(k.Min - 1), "1.5"} {
					_, err := lifecycle.ParseSettingsPatch([]byte(`{"` + k.Name + `":` + v + `}`))
					if err == nil {
						_, err = mustParse(t, `{"`+k.Name+`":`+v+`}`).Apply(zen7.DefaultSettings())
					}
					checkFields(t, fieldErrors(t, err), map[string]string{k.Name: "must be a whole number"})
				}
				// null sets the default again.
				got, err = mustParse(t, `{"`+k.Name+`":null}`).Apply(got)
				if err != nil {
					t.Fatalf("Apply(null) error = %v", err)
				}
				if v := k.Value(got); v != k.Default() {
					t.Errorf("after null the value is %#v, want the default %#v", v, k.Default())
				}
			}
			if k.Kind() != zen7.SettingText {
				return
			}
			// A text too long for its bound is refused on this key, by the rule's validation.
			body, _ = json.Marshal(map[string]string{k.Name: strings.Repeat("a", k.Max+1)})
			_, err = mustParse(t, string(body)).Apply(zen7.DefaultSettings())
			checkFields(t, fieldErrors(t, err), map[string]string{k.Name: "at most " + strconv.Itoa(k.Max) + " characters"})

			// null clears a plain text and keeps a secret.
			stored := got
			got, err = mustParse(t, `{"`+k.Name+`":null}`).Apply(stored)
			if err != nil {
				t.Fatalf("Apply(null) error = %v", err)
			}
			wantAfterNull := ""
			if k.Secret {
				wantAfterNull = sample.(string)
			}
			if v := k.Value(got); v != wantAfterNull {
				t.Errorf("after null the value is %#v, want %#v", v, wantAfterNull)
			}
		})
	}

	// Every key at once: Keys() lists them in the form's order.
	body, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(formNames, mustParse(t, string(body)).Keys()); diff != "" {
		t.Errorf("Keys() of a patch of every key vs the form's order (-form +keys):\n%s", diff)
	}
}
