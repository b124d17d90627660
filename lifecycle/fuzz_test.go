package lifecycle_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// invalidStored holds values that break today's rules, as older data might.
func invalidStored() zen7.Settings {
	return zen7.Settings{
		ClientID:       "legacy id",
		ClientSecret:   "legacy secret with spaces",
		UserIdentifier: "user\n1",
		AssistantEmail: "not an email",
		ScheduleName:   "tab\there",
		Source:         strings.Repeat("s", 300),
	}
}

func FuzzParseSettingsPatch(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"clientId":"client-1","clientSecret":"s3cr3t","userIdentifier":"u-1","assistantEmail":"ava@example.com"}`,
		`{"scheduleName":"Secuencia de otoño","source":"Web","autoForward":false,"stopFollowupOnClaim":true}`,
		`{"clientSecret":"********"}`,
		`{"clientSecret":""}`,
		`{"clientSecret":null,"source":null,"autoForward":null}`,
		`{"$where":"sleep(1000)"}`,
		`{"$set":{"clientId":"x"}}`,
		`{"\u0024where":1}`,
		`{"a.b":true}`,
		`{"settings.clientId":"x"}`,
		`{"clientId.$ne":""}`,
		`{"autoForward":"true"}`,
		`{"clientId":123,"source":[],"scheduleName":{}}`,
		`{"assistantEmail":"nope","clientId":"a b","scheduleName":"x\ny"}`,
		`{"scheduleName":"\u0000\u001b\u0085"}`,
		`{"clientId":"` + strings.Repeat("i", 257) + `"}`,
		`{"source":"` + strings.Repeat("é", 5000) + `"}`,
		`{"` + strings.Repeat("k", 5000) + `":1}`,
		`{"clientId":"x","clientId":1}`,
		``, `null`, `[]`, `"x"`, `{`, `{}{}`, `{}]`, "{\"clientId\":\"\xff\"}",
		`{"source":"\ud800"}`, `{"source":"\ud83d\ude00"}`, `{"source":"a\\ud800"}`, "{\"clientSecret\":\"\xed\xa0\x80\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := lifecycle.ParseSettingsPatch(body)
		if err != nil {
			var verr *zen7.ValidationError
			switch {
			case errors.As(err, &verr):
				if len(verr.Fields) == 0 {
					t.Fatalf("ValidationError with no fields for %q", body)
				}
			case !errors.Is(err, zen7.ErrMalformed):
				t.Fatalf("ParseSettingsPatch(%q) error = %v (%T), want ErrMalformed or a *ValidationError", body, err, err)
			}
			if errors.Is(err, zen7.ErrMalformed) == errors.Is(err, zen7.ErrInvalid) {
				t.Fatalf("error %v must match exactly one of ErrMalformed and ErrInvalid", err)
			}
			return
		}
		checkParsedIsObject(t, body)

		keys := p.Keys()
		for _, stored := range []zen7.Settings{zen7.DefaultSettings(), configured(), invalidStored()} {
			got, err := p.Apply(stored)
			if err != nil {
				fields := fieldErrors(t, err)
				for k := range fields {
					if !slices.Contains(keys, k) {
						t.Fatalf("Apply(%q) onto %+v reports %q, a field the patch did not touch (%v)", body, stored, k, err)
					}
				}
				continue
			}
			checkView(t, got)
			checkUntouched(t, keys, stored, got)
			if stored.ClientSecret != "" && got.ClientSecret == "" {
				t.Fatalf("Apply(%q) erased the stored secret", body)
			}
			if stored != invalidStored() {
				checkRoundTrip(t, got)
			}
		}
	})
}

// checkParsedIsObject checks that an accepted body is exactly one JSON object: trailing data,
// a stray ']' or '}' included, must be rejected.
func checkParsedIsObject(t *testing.T, body []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil || obj == nil {
		t.Fatalf("ParseSettingsPatch accepted %q, which is not a JSON object (%v)", body, err)
	}
	rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")
	if len(rest) > 0 {
		t.Fatalf("ParseSettingsPatch accepted %q with trailing data %q", body, rest)
	}
}

// checkView checks that the read view holds every form key and never the secret.
func checkView(t *testing.T, s zen7.Settings) {
	t.Helper()
	v := s.View()
	if len(v) != len(zen7.SettingKeys()) {
		t.Fatalf("View() has %d keys, want %d: %v", len(v), len(zen7.SettingKeys()), v)
	}
	secret, ok := v["clientSecret"].(string)
	if !ok || (secret != "" && secret != zen7.SecretMask) {
		t.Fatalf(`View()["clientSecret"] = %#v, want "" or the mask`, v["clientSecret"])
	}
	if (secret == "") != (s.ClientSecret == "") {
		t.Fatalf(`View()["clientSecret"] = %q for a stored secret of length %d`, secret, len(s.ClientSecret))
	}
}

// checkUntouched checks that Apply merged: fields the patch does not name keep their values.
func checkUntouched(t *testing.T, keys []string, before, after zen7.Settings) {
	t.Helper()
	bv, av := before.View(), after.View()
	for k, want := range bv {
		if slices.Contains(keys, k) {
			continue
		}
		if av[k] != want {
			t.Fatalf("Apply changed untouched %q from %#v to %#v", k, want, av[k])
		}
	}
	if !slices.Contains(keys, "clientSecret") && after.ClientSecret != before.ClientSecret {
		t.Fatal("Apply changed the untouched secret")
	}
}

// checkRoundTrip checks that sending back what was read is accepted and changes nothing.
// s must satisfy every rule (it came from a valid stored value and a patch that applied).
func checkRoundTrip(t *testing.T, s zen7.Settings) {
	t.Helper()
	b, err := json.Marshal(s.View())
	if err != nil {
		t.Fatal(err)
	}
	p, err := lifecycle.ParseSettingsPatch(b)
	if err != nil {
		t.Fatalf("the view %s does not parse back: %v", b, err)
	}
	again, err := p.Apply(s)
	if err != nil {
		t.Fatalf("the view %s does not apply back: %v", b, err)
	}
	if diff := cmp.Diff(s, again); diff != "" {
		t.Fatalf("sending back the view %s changed the settings (-want +got):\n%s", b, diff)
	}
}
