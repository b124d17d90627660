package lifecycle_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// mustParse parses body as a settings patch and fails tb if it does not parse.
func mustParse(tb testing.TB, body string) lifecycle.SettingsPatch {
	tb.Helper()
	p, err := lifecycle.ParseSettingsPatch([]byte(body))
	if err != nil {
		tb.Fatalf("ParseSettingsPatch(%.200q) error = %v, want nil", body, err)
	}
	return p
}

// fieldErrors returns the per-field messages of err, failing tb unless err is a
// *lifecycle.ValidationError that also matches lifecycle.ErrInvalid.
func fieldErrors(tb testing.TB, err error) map[string]string {
	tb.Helper()
	if err == nil {
		tb.Fatal("error = nil, want a *lifecycle.ValidationError")
	}
	var verr *zen7.ValidationError
	if !errors.As(err, &verr) {
		tb.Fatalf("error = %v (%T), want a *lifecycle.ValidationError", err, err)
	}
	if !errors.Is(err, zen7.ErrInvalid) {
		tb.Errorf("errors.Is(%v, ErrInvalid) = false, want true", err)
	}
	if errors.Is(err, zen7.ErrMalformed) {
		tb.Errorf("errors.Is(%v, ErrMalformed) = true, want false", err)
	}
	for k, msg := range verr.FieldErrors() {
		if strings.TrimSpace(msg) == "" {
			tb.Errorf("field %q has an empty message", k)
		}
	}
	return verr.FieldErrors()
}

// checkFields checks that got names exactly the fields of want and that each message contains
// the fragment want gives for it.
func checkFields(tb testing.TB, got, want map[string]string) {
	tb.Helper()
	gotKeys := slices.Sorted(maps.Keys(got))
	wantKeys := slices.Sorted(maps.Keys(want))
	if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
		tb.Errorf("fields with errors mismatch (-want +got):\n%s\nall: %v", diff, got)
	}
	for k, fragment := range want {
		if msg, ok := got[k]; ok && !strings.Contains(msg, fragment) {
			tb.Errorf("message for %q = %q, want it to contain %q", k, msg, fragment)
		}
	}
}

// configured is a fully configured, valid settings value.
func configured() zen7.Settings {
	return zen7.Settings{
		ClientID:            "client-1",
		ClientSecret:        "stored-secret-value",
		UserIdentifier:      "user-1",
		AssistantEmail:      "ava@example.com",
		ScheduleName:        "Default sequence",
		Source:              "Zenvia",
		AutoForward:         true,
		StopFollowupOnClaim: true,
	}
}

func with(s zen7.Settings, change func(*zen7.Settings)) zen7.Settings {
	change(&s)
	return s
}

func TestSettingsPatchApplyMerges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stored zen7.Settings
		body   string
		want   zen7.Settings
	}{
		{
			name:   "empty object changes nothing",
			stored: configured(),
			body:   `{}`,
			want:   configured(),
		},
		{
			name:   "one string field, others untouched",
			stored: configured(),
			body:   `{"scheduleName":"Spring campaign"}`,
			want:   with(configured(), func(s *zen7.Settings) { s.ScheduleName = "Spring campaign" }),
		},
		{
			name:   "one bool field, others untouched",
			stored: configured(),
			body:   `{"autoForward":false}`,
			want:   with(configured(), func(s *zen7.Settings) { s.AutoForward = false }),
		},
		{
			name:   "bool set back to true",
			stored: with(configured(), func(s *zen7.Settings) { s.StopFollowupOnClaim = false }),
			body:   `{"stopFollowupOnClaim":true}`,
			want:   configured(),
		},
		{
			name:   "first configuration onto defaults",
			stored: zen7.DefaultSettings(),
			body:   `{"clientId":"client-1","clientSecret":"stored-secret-value","userIdentifier":"user-1","assistantEmail":"ava@example.com"}`,
			want: zen7.Settings{
				ClientID: "client-1", ClientSecret: "stored-secret-value", UserIdentifier: "user-1",
				AssistantEmail: "ava@example.com", AutoForward: true, StopFollowupOnClaim: true,
			},
		},
		{
			name:   "every key at once, as Sales sends the whole form back",
			stored: zen7.DefaultSettings(),
			body: `{"clientId":"c2","clientSecret":"s2","userIdentifier":"u2","assistantEmail":"bob@example.org",
				"scheduleName":"Seq","source":"Web","autoForward":false,"stopFollowupOnClaim":false}`,
			want: zen7.Settings{
				ClientID: "c2", ClientSecret: "s2", UserIdentifier: "u2", AssistantEmail: "bob@example.org",
				ScheduleName: "Seq", Source: "Web",
			},
		},
		{
			name:   "the read view sent back unchanged keeps everything",
			stored: configured(),
			body:   viewJSON(t, configured()),
			want:   configured(),
		},
		{
			name:   "surrounding spaces are trimmed",
			stored: configured(),
			body:   `{"clientId":"  client-2 ","source":" Web  "}`,
			want: with(configured(), func(s *zen7.Settings) {
				s.ClientID = "client-2"
				s.Source = "Web"
			}),
		},
		{
			name:   "empty string clears an optional field",
			stored: configured(),
			body:   `{"scheduleName":""}`,
			want:   with(configured(), func(s *zen7.Settings) { s.ScheduleName = "" }),
		},
		{
			name:   "null clears a plain string field",
			stored: configured(),
			body:   `{"source":null,"assistantEmail":null}`,
			want: with(configured(), func(s *zen7.Settings) {
				s.Source = ""
				s.AssistantEmail = ""
			}),
		},
		{
			name:   "null on a bool keeps it",
			stored: configured(),
			body:   `{"autoForward":null}`,
			want:   configured(),
		},
		{
			name:   "non-ASCII text in free-text fields",
			stored: configured(),
			body:   `{"scheduleName":"Secuencia de otoño ✓","source":"Campanha São João"}`,
			want: with(configured(), func(s *zen7.Settings) {
				s.ScheduleName = "Secuencia de otoño ✓"
				s.Source = "Campanha São João"
			}),
		},
		{
			name:   "escaped JSON strings are decoded",
			stored: configured(),
			body:   `{"source":"\u0057eb \"site\""}`,
			want:   with(configured(), func(s *zen7.Settings) { s.Source = `Web "site"` }),
		},
		{
			name:   "longest allowed values",
			stored: zen7.DefaultSettings(),
			body: fmt.Sprintf(`{"clientId":%q,"clientSecret":%q,"userIdentifier":%q,"assistantEmail":%q,"scheduleName":%q,"source":%q}`,
				strings.Repeat("i", 256), strings.Repeat("s", 512), strings.Repeat("u", 256),
				longEmail(254), strings.Repeat("é", 200), strings.Repeat("ñ", 200)),
			want: zen7.Settings{
				ClientID: strings.Repeat("i", 256), ClientSecret: strings.Repeat("s", 512),
				UserIdentifier: strings.Repeat("u", 256), AssistantEmail: longEmail(254),
				ScheduleName: strings.Repeat("é", 200), Source: strings.Repeat("ñ", 200),
				AutoForward: true, StopFollowupOnClaim: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stored := tt.stored
			got, err := mustParse(t, tt.body).Apply(stored)
			if err != nil {
				t.Fatalf("Apply() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Apply() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.stored, stored); diff != "" {
				t.Errorf("Apply() changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

// longEmail returns a valid email address of exactly n bytes (n >= 20).
func longEmail(n int) string {
	const domain = "@example.com"
	local := n - len(domain)
	// Labels of an address are limited to 63 characters: split the local part with dots.
	var b strings.Builder
	for b.Len() < local {
		if b.Len() > 0 && b.Len()%60 == 0 && local-b.Len() > 1 {
			b.WriteByte('.')
			continue
		}
		b.WriteByte('a')
	}
	return b.String() + domain
}

func viewJSON(tb testing.TB, s zen7.Settings) string {
	tb.Helper()
	b, err := json.Marshal(s.View())
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestParseSettingsPatchRejectsKeys(t *testing.T) {
	t.Parallel()
	longKey := "$" + strings.Repeat("k", 10_000)
	tests := []struct {
		name       string
		body       string
		wantFields []string
	}{
		{name: "unknown key", body: `{"apiKey":"x"}`, wantFields: []string{"apiKey"}},
		{name: "unknown key with a valid one", body: `{"clientId":"ok","webhookUrl":"http://x"}`, wantFields: []string{"webhookUrl"}},
		{name: "wrong case of a known key", body: `{"ClientId":"x"}`, wantFields: []string{"ClientId"}},
		{name: "empty key", body: `{"":"x"}`, wantFields: []string{""}},
		{name: "operator $where", body: `{"$where":"sleep(1000)"}`, wantFields: []string{"$where"}},
		{name: "operator $set with an object", body: `{"$set":{"clientId":"x"}}`, wantFields: []string{"$set"}},
		{name: "escaped dollar", body: `{"\u0024where":"1"}`, wantFields: []string{"$where"}},
		{name: "dollar prefix on a known key", body: `{"$clientId":"x"}`, wantFields: []string{"$clientId"}},
		{name: "dotted key", body: `{"a.b":true}`, wantFields: []string{"a.b"}},
		{name: "dotted path to a known key", body: `{"settings.clientId":"x"}`, wantFields: []string{"settings.clientId"}},
		{name: "known key with an operator suffix", body: `{"clientId.$ne":""}`, wantFields: []string{"clientId.$ne"}},
		{name: "trailing dot", body: `{"clientId.":"x"}`, wantFields: []string{"clientId."}},
		{
			name:       "several bad keys are all named",
			body:       `{"$where":"1","a.b":1,"bogus":null,"source":"ok"}`,
			wantFields: []string{"$where", "a.b", "bogus"},
		},
		{name: "huge key is named, bounded", body: fmt.Sprintf(`{%q:1}`, longKey), wantFields: []string{"$" + strings.Repeat("k", 63) + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := lifecycle.ParseSettingsPatch([]byte(tt.body))
			got := fieldErrors(t, err)
			if diff := cmp.Diff(tt.wantFields, slices.Sorted(maps.Keys(got))); diff != "" {
				t.Errorf("fields mismatch (-want +got):\n%s", diff)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error message is %d bytes long; an attacker's key must not be echoed whole", len(err.Error()))
			}
		})
	}
}

func TestParseSettingsPatchTooManyKeys(t *testing.T) {
	t.Parallel()
	m := map[string]int{}
	for i := range 1000 {
		m[fmt.Sprintf("k%d", i)] = i
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lifecycle.ParseSettingsPatch(body)
	got := fieldErrors(t, err)
	if len(got) != 1 {
		t.Errorf("got %d field errors, want 1 summarising the body: %v", len(got), got)
	}
}

func TestParseSettingsPatchWrongTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want map[string]string
	}{
		{name: "string for bool", body: `{"autoForward":"true"}`, want: map[string]string{"autoForward": "true or false"}},
		{name: "number for bool", body: `{"stopFollowupOnClaim":1}`, want: map[string]string{"stopFollowupOnClaim": "true or false"}},
		{name: "number for string", body: `{"clientId":12345}`, want: map[string]string{"clientId": "string"}},
		{name: "bool for string", body: `{"assistantEmail":false}`, want: map[string]string{"assistantEmail": "string"}},
		{name: "object for string", body: `{"clientSecret":{"$ne":""}}`, want: map[string]string{"clientSecret": "string"}},
		{name: "array for string", body: `{"scheduleName":["a"]}`, want: map[string]string{"scheduleName": "string"}},
		{name: "object for bool", body: `{"autoForward":{}}`, want: map[string]string{"autoForward": "true or false"}},
		{name: "array for bool", body: `{"autoForward":[true]}`, want: map[string]string{"autoForward": "true or false"}},
		{
			name: "several wrong types at once",
			body: `{"clientId":1,"source":[],"autoForward":"no","userIdentifier":"fine"}`,
			want: map[string]string{"clientId": "string", "source": "string", "autoForward": "true or false"},
		},
		{
			name: "wrong types and unknown keys together",
			body: `{"clientId":1,"$where":"x"}`,
			want: map[string]string{"clientId": "string", "$where": "$"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := lifecycle.ParseSettingsPatch([]byte(tt.body))
			checkFields(t, fieldErrors(t, err), tt.want)
		})
	}
}

func TestParseSettingsPatchMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{name: "empty", body: ``},
		{name: "whitespace only", body: " \n\t"},
		{name: "null", body: `null`},
		{name: "array", body: `[]`},
		{name: "array of objects", body: `[{"clientId":"x"}]`},
		{name: "string", body: `"x"`},
		{name: "number", body: `1`},
		{name: "bool", body: `true`},
		{name: "unterminated", body: `{`},
		{name: "unterminated string", body: `{"clientId":"x`},
		{name: "missing value", body: `{"clientId":}`},
		{name: "trailing comma", body: `{"clientId":"x",}`},
		{name: "single quotes", body: `{'clientId':'x'}`},
		{name: "trailing object", body: `{}{}`},
		{name: "trailing data after a valid patch", body: `{"clientId":"x"}{"clientId":"y"}`},
		{name: "trailing garbage", body: `{} x`},
		{name: "trailing number", body: `{} 1`},
		{name: "invalid UTF-8 outside strings", body: "{\xff}"},
		{name: "NUL byte", body: "\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := lifecycle.ParseSettingsPatch([]byte(tt.body))
			if !errors.Is(err, zen7.ErrMalformed) {
				t.Fatalf("ParseSettingsPatch(%q) error = %v, want ErrMalformed", tt.body, err)
			}
			if errors.Is(err, zen7.ErrInvalid) {
				t.Errorf("ParseSettingsPatch(%q) error = %v also matches ErrInvalid", tt.body, err)
			}
		})
	}
}

// TestParseSettingsPatchTrailingCloser: json.Decoder.More reports false before a stray ']' or
// '}', so a check on More alone would accept `{}]` and `{}}` as valid patches.
func TestParseSettingsPatchTrailingCloser(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{}]`, `{}}`, `{"autoForward":false}]`, `{"autoForward":false} }`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			_, err := lifecycle.ParseSettingsPatch([]byte(body))
			if err == nil {
				t.Fatalf("ParseSettingsPatch(%q) accepted, want ErrMalformed", body)
			}
			if !errors.Is(err, zen7.ErrMalformed) {
				t.Errorf("ParseSettingsPatch(%q) error = %v, want ErrMalformed", body, err)
			}
		})
	}
}

func TestSettingsPatchApplyInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stored zen7.Settings
		body   string
		want   map[string]string
	}{
		{name: "email without @", body: `{"assistantEmail":"ava.example.com"}`, want: map[string]string{"assistantEmail": "email"}},
		{name: "email without domain", body: `{"assistantEmail":"ava@"}`, want: map[string]string{"assistantEmail": "email"}},
		{name: "email with spaces", body: `{"assistantEmail":"ava smith@example.com"}`, want: map[string]string{"assistantEmail": "email"}},
		{name: "email with a display name", body: `{"assistantEmail":"Ava <ava@example.com>"}`, want: map[string]string{"assistantEmail": "email"}},
		{name: "email list", body: `{"assistantEmail":"a@example.com,b@example.com"}`, want: map[string]string{"assistantEmail": "email"}},
		{name: "email too long", body: fmt.Sprintf(`{"assistantEmail":%q}`, longEmail(255)), want: map[string]string{"assistantEmail": "254"}},
		{name: "clientId with a space", body: `{"clientId":"client 1"}`, want: map[string]string{"clientId": "ASCII"}},
		{name: "clientId with a tab", body: `{"clientId":"client\t1"}`, want: map[string]string{"clientId": "ASCII"}},
		{name: "clientId non-ASCII", body: `{"clientId":"clïent"}`, want: map[string]string{"clientId": "ASCII"}},
		{name: "clientId with NUL", body: `{"clientId":"a\u0000b"}`, want: map[string]string{"clientId": "ASCII"}},
		{name: "clientId too long", body: fmt.Sprintf(`{"clientId":%q}`, strings.Repeat("i", 257)), want: map[string]string{"clientId": "256"}},
		{name: "clientSecret with a space", body: `{"clientSecret":"new secret"}`, want: map[string]string{"clientSecret": "ASCII"}},
		{name: "clientSecret non-ASCII", body: `{"clientSecret":"sécret"}`, want: map[string]string{"clientSecret": "ASCII"}},
		{name: "clientSecret too long", body: fmt.Sprintf(`{"clientSecret":%q}`, strings.Repeat("s", 513)), want: map[string]string{"clientSecret": "512"}},
		{name: "userIdentifier with a newline", body: `{"userIdentifier":"user\n1"}`, want: map[string]string{"userIdentifier": "ASCII"}},
		{name: "userIdentifier header injection", body: `{"userIdentifier":"u1\r\nX-Evil: 1"}`, want: map[string]string{"userIdentifier": "ASCII"}},
		{name: "userIdentifier too long", body: fmt.Sprintf(`{"userIdentifier":%q}`, strings.Repeat("u", 257)), want: map[string]string{"userIdentifier": "256"}},
		{name: "scheduleName with a newline", body: `{"scheduleName":"Seq\nuence"}`, want: map[string]string{"scheduleName": "control"}},
		{name: "scheduleName with NUL", body: `{"scheduleName":"Seq\u0000"}`, want: map[string]string{"scheduleName": "control"}},
		{name: "scheduleName with ESC", body: `{"scheduleName":"\u001b[31mred"}`, want: map[string]string{"scheduleName": "control"}},
		{name: "scheduleName with C1 control", body: `{"scheduleName":"a\u0085b"}`, want: map[string]string{"scheduleName": "control"}},
		{name: "scheduleName too long", body: fmt.Sprintf(`{"scheduleName":%q}`, strings.Repeat("é", 201)), want: map[string]string{"scheduleName": "200"}},
		{name: "source with a tab", body: `{"source":"Web\tsite"}`, want: map[string]string{"source": "control"}},
		{name: "source with DEL", body: `{"source":"Web\u007f"}`, want: map[string]string{"source": "control"}},
		{name: "source too long", body: fmt.Sprintf(`{"source":%q}`, strings.Repeat("s", 201)), want: map[string]string{"source": "200"}},
		{
			name: "several invalid fields are all reported",
			body: `{"assistantEmail":"nope","clientId":"a b","scheduleName":"x\ny","source":"ok","autoForward":false}`,
			want: map[string]string{"assistantEmail": "email", "clientId": "ASCII", "scheduleName": "control"},
		},
		{
			name: "every string field invalid at once",
			body: fmt.Sprintf(`{"clientId":"a b","clientSecret":"c d","userIdentifier":"e f","assistantEmail":"g","scheduleName":"\u0001","source":%q}`,
				strings.Repeat("x", 201)),
			want: map[string]string{
				"clientId": "ASCII", "clientSecret": "ASCII", "userIdentifier": "ASCII",
				"assistantEmail": "email", "scheduleName": "control", "source": "200",
			},
		},
		{
			name:   "an invalid stored value is reported when the patch touches it",
			stored: with(configured(), func(s *zen7.Settings) { s.AssistantEmail = "legacy value" }),
			body:   `{"assistantEmail":" legacy value "}`,
			want:   map[string]string{"assistantEmail": "email"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stored := tt.stored
			if stored == (zen7.Settings{}) {
				stored = configured()
			}
			got, err := mustParse(t, tt.body).Apply(stored)
			checkFields(t, fieldErrors(t, err), tt.want)
			if got != (zen7.Settings{}) {
				t.Errorf("Apply() = %+v with an error, want the zero Settings", got)
			}
		})
	}
}

func TestSettingsPatchApplyStoredInvalidValueDoesNotBlock(t *testing.T) {
	t.Parallel()
	// Rules may tighten after values were stored; an admin must still be able to change
	// anything else.
	stored := with(configured(), func(s *zen7.Settings) {
		s.AssistantEmail = "not an email"
		s.ScheduleName = "old\tname"
		s.ClientID = "legacy id with spaces"
	})
	tests := []struct {
		name string
		body string
		want zen7.Settings
	}{
		{name: "bool", body: `{"autoForward":false}`, want: with(stored, func(s *zen7.Settings) { s.AutoForward = false })},
		{name: "string", body: `{"source":"Web"}`, want: with(stored, func(s *zen7.Settings) { s.Source = "Web" })},
		{name: "fixing one invalid field", body: `{"assistantEmail":"ava@example.com"}`, want: with(stored, func(s *zen7.Settings) { s.AssistantEmail = "ava@example.com" })},
		{name: "mask for the secret", body: `{"clientSecret":"********"}`, want: stored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mustParse(t, tt.body).Apply(stored)
			if err != nil {
				t.Fatalf("Apply() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Apply() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettingsPatchApplyClientSecret(t *testing.T) {
	t.Parallel()
	const stored = "stored-secret-value"
	tests := []struct {
		name       string
		stored     string
		body       string
		wantSecret string
	}{
		{name: "mask keeps the stored secret", stored: stored, body: `{"clientSecret":"` + zen7.SecretMask + `"}`, wantSecret: stored},
		{name: "mask with spaces keeps it", stored: stored, body: `{"clientSecret":" ` + zen7.SecretMask + ` "}`, wantSecret: stored},
		{name: "empty string keeps it", stored: stored, body: `{"clientSecret":""}`, wantSecret: stored},
		{name: "blank string keeps it", stored: stored, body: `{"clientSecret":"   "}`, wantSecret: stored},
		{name: "null keeps it", stored: stored, body: `{"clientSecret":null}`, wantSecret: stored},
		{name: "absent keeps it", stored: stored, body: `{"clientId":"client-2"}`, wantSecret: stored},
		{name: "new value replaces it", stored: stored, body: `{"clientSecret":"new-secret"}`, wantSecret: "new-secret"},
		{name: "new value trimmed", stored: stored, body: `{"clientSecret":" new-secret\n"}`, wantSecret: "new-secret"},
		{name: "new value when none stored", stored: "", body: `{"clientSecret":"first-secret"}`, wantSecret: "first-secret"},
		{name: "mask when none stored stays empty", stored: "", body: `{"clientSecret":"` + zen7.SecretMask + `"}`, wantSecret: ""},
		{name: "longer than the mask is a new value", stored: stored, body: `{"clientSecret":"*********"}`, wantSecret: "*********"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := with(configured(), func(s *zen7.Settings) { s.ClientSecret = tt.stored })
			got, err := mustParse(t, tt.body).Apply(in)
			if err != nil {
				t.Fatalf("Apply() error = %v, want nil", err)
			}
			if got.ClientSecret != tt.wantSecret {
				t.Errorf("ClientSecret = %q, want %q", got.ClientSecret, tt.wantSecret)
			}
			if got.ClientID != in.ClientID && !strings.Contains(tt.body, "clientId") {
				t.Errorf("ClientID = %q, want it untouched (%q)", got.ClientID, in.ClientID)
			}
		})
	}
}

func TestSettingsPatchKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []string
	}{
		{name: "none", body: `{}`, want: []string{}},
		{name: "form order whatever the body order", body: `{"stopFollowupOnClaim":true,"clientSecret":"x","clientId":"y"}`, want: []string{"clientId", "clientSecret", "stopFollowupOnClaim"}},
		{name: "null counts as present", body: `{"source":null}`, want: []string{"source"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, mustParse(t, tt.body).Keys()); diff != "" {
				t.Errorf("Keys() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettingsView(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		settings           zen7.Settings
		wantSecret         string
		wantChatTonicToken string
	}{
		{name: "secret set", settings: configured(), wantSecret: zen7.SecretMask},
		{name: "chat-tonic token set", settings: with(configured(), func(s *zen7.Settings) {
			s.ChatTonicCodename, s.ChatTonicToken, s.ChatTonicFunnels = "acme", "ct-token-1", "sacarTarjeta"
			s.ChatTonicCompletedOnly, s.ChatTonicBackfillDays = true, 3
		}), wantSecret: zen7.SecretMask, wantChatTonicToken: zen7.SecretMask},
		{name: "secret empty", settings: with(configured(), func(s *zen7.Settings) { s.ClientSecret = "" }), wantSecret: ""},
		{name: "defaults", settings: zen7.DefaultSettings(), wantSecret: ""},
		{name: "secret equal to the mask", settings: with(configured(), func(s *zen7.Settings) { s.ClientSecret = zen7.SecretMask }), wantSecret: zen7.SecretMask},
	}
	wantKeys := formInputNames(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.settings.View()
			if diff := cmp.Diff(wantKeys, slices.Sorted(maps.Keys(v))); diff != "" {
				t.Errorf("View() keys mismatch with the form's input names (-want +got):\n%s", diff)
			}
			if got := v["clientSecret"]; got != tt.wantSecret {
				t.Errorf(`View()["clientSecret"] = %#v, want %q`, got, tt.wantSecret)
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if s := tt.settings.ClientSecret; s != "" && s != zen7.SecretMask && strings.Contains(string(b), s) {
				t.Errorf("View() JSON %s contains the secret", b)
			}
			if s := tt.settings.ChatTonicToken; s != "" && strings.Contains(string(b), s) {
				t.Errorf("View() JSON %s contains the Chat-Tonic token", b)
			}
			want := map[string]any{
				"clientId":               tt.settings.ClientID,
				"clientSecret":           tt.wantSecret,
				"userIdentifier":         tt.settings.UserIdentifier,
				"assistantEmail":         tt.settings.AssistantEmail,
				"scheduleName":           tt.settings.ScheduleName,
				"source":                 tt.settings.Source,
				"autoForward":            tt.settings.AutoForward,
				"stopFollowupOnClaim":    tt.settings.StopFollowupOnClaim,
				"excludeEmails":          tt.settings.ExcludeEmails,
				"routingRules":           tt.settings.RoutingRules,
				"backfillDays":           tt.settings.BackfillDays,
				"chatTonicCodename":      tt.settings.ChatTonicCodename,
				"chatTonicToken":         tt.wantChatTonicToken,
				"chatTonicFunnels":       tt.settings.ChatTonicFunnels,
				"chatTonicCompletedOnly": tt.settings.ChatTonicCompletedOnly,
				"chatTonicBackfillDays":  tt.settings.ChatTonicBackfillDays,
			}
			if diff := cmp.Diff(want, v); diff != "" {
				t.Errorf("View() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSettingsViewRoundTrip checks that what Sales reads can be sent back as an update and
// parses, validates and changes nothing.
func TestSettingsViewRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []zen7.Settings{configured(), zen7.DefaultSettings(), {}} {
		p := mustParse(t, viewJSON(t, s))
		got, err := p.Apply(s)
		if err != nil {
			t.Fatalf("Apply(View()) error = %v, want nil", err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("Apply(View()) changed the settings (-want +got):\n%s", diff)
		}
	}
}

func TestDefaultSettings(t *testing.T) {
	t.Parallel()
	got := zen7.DefaultSettings()
	want := zen7.Settings{AutoForward: true, StopFollowupOnClaim: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DefaultSettings() mismatch (-want +got):\n%s", diff)
	}
	if got.Complete() {
		t.Error("DefaultSettings().Complete() = true, want false")
	}
}

func TestSettingsComplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    zen7.Settings
		want bool
	}{
		{name: "configured", s: configured(), want: true},
		{name: "optional fields empty", s: with(configured(), func(s *zen7.Settings) { s.ScheduleName, s.Source = "", "" }), want: true},
		{name: "no clientId", s: with(configured(), func(s *zen7.Settings) { s.ClientID = "" }), want: false},
		{name: "no clientSecret", s: with(configured(), func(s *zen7.Settings) { s.ClientSecret = "" }), want: false},
		{name: "no userIdentifier", s: with(configured(), func(s *zen7.Settings) { s.UserIdentifier = "" }), want: false},
		{name: "no assistantEmail", s: with(configured(), func(s *zen7.Settings) { s.AssistantEmail = "" }), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.Complete(); got != tt.want {
				t.Errorf("Complete() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	err := &zen7.ValidationError{Fields: map[string]string{"b": "second", "a": "first"}}
	if got, want := err.Error(), "invalid input: a: first; b: second"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", err), zen7.ErrInvalid) {
		t.Error("a wrapped ValidationError does not match ErrInvalid")
	}
}

// TestSettingsPatchApplyMaskOverInvalidStoredSecret: the mask means "keep the stored secret", so
// a stored secret that breaks today's rules must not block an update that sends the mask back.
func TestSettingsPatchApplyMaskOverInvalidStoredSecret(t *testing.T) {
	t.Parallel()
	stored := with(configured(), func(s *zen7.Settings) { s.ClientSecret = "legacy secret with spaces" })
	got, err := mustParse(t, `{"clientSecret":"`+zen7.SecretMask+`","source":"Web"}`).Apply(stored)
	if err != nil {
		t.Fatalf("mask over an invalid stored secret rejected: %v", err)
	}
	want := with(stored, func(s *zen7.Settings) { s.Source = "Web" })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply() mismatch (-want +got):\n%s", diff)
	}
}

// TestParseSettingsPatchInvalidUTF8: encoding/json would replace what is not UTF-8 (bytes, or
// escapes of lone UTF-16 surrogates) with U+FFFD and store a value the admin never typed; the
// update is refused on that key instead.
func TestParseSettingsPatchInvalidUTF8(t *testing.T) {
	t.Parallel()
	const msg = "must be valid UTF-8 text"
	tests := []struct {
		name string
		body string
		want map[string]string
	}{
		{name: "invalid byte", body: "{\"scheduleName\":\"a\xffb\"}", want: map[string]string{"scheduleName": msg}},
		{name: "truncated sequence", body: "{\"source\":\"S\xc3\"}", want: map[string]string{"source": msg}},
		{name: "overlong encoding", body: "{\"source\":\"\xc0\xaf\"}", want: map[string]string{"source": msg}},
		{name: "surrogate encoded as UTF-8", body: "{\"scheduleName\":\"\xed\xa0\x80\"}", want: map[string]string{"scheduleName": msg}},
		{name: "in a secret", body: "{\"clientSecret\":\"s3cr\xfft\"}", want: map[string]string{"clientSecret": msg}},
		{name: "in a token", body: "{\"clientId\":\"\xff\"}", want: map[string]string{"clientId": msg}},
		{name: "lone high surrogate escape", body: `{"source":"a\ud800b"}`, want: map[string]string{"source": msg}},
		{name: "lone low surrogate escape", body: `{"source":"\udc00"}`, want: map[string]string{"source": msg}},
		{name: "high surrogate escape at the end", body: `{"source":"a\ud83d"}`, want: map[string]string{"source": msg}},
		{name: "high surrogate escape before another escape", body: `{"source":"\ud83d\u0041"}`, want: map[string]string{"source": msg}},
		{name: "two highs", body: `{"source":"\ud83d\ud83d"}`, want: map[string]string{"source": msg}},
		{
			name: "with other problems, all named",
			body: "{\"scheduleName\":\"\xff\",\"source\":\"ok\",\"clientId\":1,\"bogus\":\"\xff\"}",
			want: map[string]string{"scheduleName": msg, "clientId": "string", "bogus": "unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := lifecycle.ParseSettingsPatch([]byte(tt.body))
			checkFields(t, fieldErrors(t, err), tt.want)
		})
	}
}

// TestParseSettingsPatchValidUnicode checks that what is valid stays accepted and decoded:
// escaped surrogate pairs, a literal or escaped U+FFFD, an escaped backslash before a "u".
func TestParseSettingsPatchValidUnicode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want string
	}{
		{body: `{"source":"\ud83d\ude00 grin"}`, want: "😀 grin"},
		{body: `{"source":"😀 São"}`, want: "😀 São"},
		{body: `{"source":"\ufffd"}`, want: "\ufffd"},
		{body: `{"source":"�"}`, want: "\ufffd"},
		{body: `{"source":"a\\ud800"}`, want: `a\ud800`},
		{body: `{"source":"\"\\\/\u00e9"}`, want: `"\/é`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			got, err := mustParse(t, tt.body).Apply(configured())
			if err != nil {
				t.Fatalf("Apply(%s) error = %v", tt.body, err)
			}
			if got.Source != tt.want {
				t.Errorf("Source = %q, want %q", got.Source, tt.want)
			}
		})
	}
}
