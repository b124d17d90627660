package zen7_test

import (
	zen7 "github.com/7targets/zenvia-sales-app"

	"reflect"
	"strings"
	"testing"
)

// TestSettingKeysCoverSettings checks that every Settings field has exactly one entry in the
// table and every entry one field of its own: a field without an entry would be a setting
// nobody can see or change, two entries on one field one setting under two keys.
func TestSettingKeysCoverSettings(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[zen7.Settings]()
	readers := map[string][]string{} // entry name -> the fields it reads
	for i := range typ.NumField() {
		f := typ.Field(i)
		var s zen7.Settings
		field := reflect.ValueOf(&s).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			field.SetString("changed")
		case reflect.Bool:
			field.SetBool(true)
		case reflect.Int:
			field.SetInt(7)
		default:
			t.Fatalf("Settings.%s is a %s: give SettingKind a kind for it", f.Name, f.Type)
		}
		var by []string
		for _, k := range zen7.SettingKeys() {
			if k.Value(s) != k.Value(zen7.Settings{}) {
				by = append(by, k.Name)
				readers[k.Name] = append(readers[k.Name], f.Name)
			}
		}
		if len(by) != 1 {
			t.Errorf("Settings.%s is read by the entries %v, want exactly one", f.Name, by)
		}
	}
	for _, k := range zen7.SettingKeys() {
		if got := readers[k.Name]; len(got) != 1 {
			t.Errorf("entry %q reads the fields %v, want exactly one", k.Name, got)
		}
	}
}

// TestSettingKeysAreWellFormed checks each entry says what its consumers rely on.
func TestSettingKeysAreWellFormed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, k := range zen7.SettingKeys() {
		t.Run(k.Name, func(t *testing.T) {
			if k.Name == "" || strings.HasPrefix(k.Name, "$") || strings.Contains(k.Name, ".") {
				t.Errorf("name %q: want a non-empty name without '$' or '.' (it is a stored key)", k.Name)
			}
			if seen[k.Name] {
				t.Errorf("name %q repeats", k.Name)
			}
			seen[k.Name] = true
			if got, ok := zen7.LookupSettingKey(k.Name); !ok || got.Name != k.Name {
				t.Errorf("LookupSettingKey(%q) = %q, %v", k.Name, got.Name, ok)
			}
			if k.Section == "" {
				t.Error("no form section")
			}
			var s zen7.Settings
			switch k.Kind() {
			case zen7.SettingText:
				if k.Text(&s) == nil || k.Bool(&s) != nil || k.Number(&s) != nil {
					t.Error("a text setting must give its field by Text only")
				}
				if _, ok := k.Default().(string); !ok {
					t.Errorf("Default() = %#v, want a string", k.Default())
				}
				if k.Max <= 0 {
					t.Errorf("Max = %d, want a bound on the text", k.Max)
				}
				if k.Rule == "" {
					t.Error("a text setting needs a Rule")
				}
				want := "text"
				switch {
				case k.Secret:
					want = "password"
				case k.Input == "textarea": // a list, one entry a line
					want = "textarea"
				}
				if k.Input != want {
					t.Errorf("Input = %q, want %q", k.Input, want)
				}
			case zen7.SettingBool:
				if k.Bool(&s) == nil || k.Text(&s) != nil || k.Number(&s) != nil {
					t.Error("a bool setting must give its field by Bool only")
				}
				if _, ok := k.Default().(bool); !ok {
					t.Errorf("Default() = %#v, want a bool", k.Default())
				}
				if k.Secret || k.Max != 0 || k.Rule != "" {
					t.Errorf("a bool setting has no secrecy, length or rule: %+v", k)
				}
				if k.Input != "checkbox" {
					t.Errorf("Input = %q, want checkbox", k.Input)
				}
			case zen7.SettingNumber:
				if k.Number(&s) == nil || k.Text(&s) != nil || k.Bool(&s) != nil {
					t.Error("a number setting must give its field by Number only")
				}
				def, ok := k.Default().(int)
				if !ok {
					t.Fatalf("Default() = %#v, want an int", k.Default())
				}
				if k.Min > k.Max || def < k.Min || def > k.Max {
					t.Errorf("Min %d, Max %d, Default %d: want Min <= Default <= Max", k.Min, k.Max, def)
				}
				if k.Secret || k.Rule != "" {
					t.Errorf("a number setting has no secrecy or rule: %+v", k)
				}
				if k.Input != "number" {
					t.Errorf("Input = %q, want number", k.Input)
				}
			default:
				t.Fatalf("Kind() = %v, want SettingText, SettingBool or SettingNumber", k.Kind())
			}
			if got := k.Value(zen7.DefaultSettings()); got != k.Default() {
				t.Errorf("in DefaultSettings() the value is %#v, want Default() %#v", got, k.Default())
			}
		})
	}
	if _, ok := zen7.LookupSettingKey("ClientID"); ok {
		t.Error("LookupSettingKey found a Go field name, want only setting names")
	}
}

// TestSettingKeysIsACopy checks that callers cannot change the table others read.
func TestSettingKeysIsACopy(t *testing.T) {
	t.Parallel()
	keys := zen7.SettingKeys()
	keys[0].Name, keys[0].Secret = "changed", !keys[0].Secret
	again := zen7.SettingKeys()
	if again[0].Name == "changed" || again[0].Secret == keys[0].Secret {
		t.Error("SettingKeys() shares its entries between calls")
	}
}
