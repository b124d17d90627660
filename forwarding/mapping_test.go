package forwarding_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"international with spaces and dash", "+54 9 11 4552-0371", "+5491145520371"},
		{"the reference example", "+54 9 11 4552 0371", "+5491145520371"},
		{"parentheses and dots", "(11) 4552.0371", "1145520371"},
		{"00 prefix", "0054 11 4552 0371", "+541145520371"},
		{"00 prefix without spaces", "00541145520371", "+541145520371"},
		{"slashes", "11/4552/0371", "1145520371"},
		{"surrounding white space and tabs", " \t+55 11 91234 5678\n", "+5511912345678"},
		{"no-break spaces", "+55\u00a011\u00a091234\u00a05678", "+5511912345678"},
		{"already normalised", "+5491145520371", "+5491145520371"},
		{"a single national zero stays", "011 4552 0371", "01145520371"},
		{"six digits", "123456", "123456"},
		{"fifteen digits", "+123456789012345", "+123456789012345"},
		{"fifteen digits after 00", "00123456789012345", "+123456789012345"},
		{"letters", "abc", ""},
		{"letters among digits", "+54 11 4552 0371 ext 12", ""},
		{"vanity number", "1-800-FLOWERS", ""},
		{"too short", "123", ""},
		{"five digits", "12-345", ""},
		{"sixteen digits", "1234567890123456", ""},
		{"sixteen digits with plus", "+1234567890123456", ""},
		{"very long", strings.Repeat("9", 1000), ""},
		{"plus not leading", "54+9 11 4552 0371", ""},
		{"two pluses", "++54 9 11 4552 0371", ""},
		{"other symbols", "*11#4552#0371", ""},
		{"non-ASCII digits", "١٢٣٤٥٦٧٨", ""},
		{"empty", "", ""},
		{"only separators", " -().-/ ", ""},
		{"only plus", "+", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := forwarding.NormalizePhone(tt.in); got != tt.want {
				t.Errorf("NormalizePhone(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.want != "" {
				if again := forwarding.NormalizePhone(tt.want); again != tt.want {
					t.Errorf("NormalizePhone is not idempotent: %q → %q", tt.want, again)
				}
			}
		})
	}
}

func TestIsClaimed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		want   bool
	}{
		{"", false},
		{"unclaimed", false},
		{"new", false},
		{"Unclaimed", false},
		{" NEW ", false},
		{"followUp", true},
		{"archived", true},
		{"ARCHIVED", true},
		{"contacted", true},
		{"string", true},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			t.Parallel()
			if got := forwarding.IsClaimed(tt.status); got != tt.want {
				t.Errorf("IsClaimed(%q) = %t, want %t", tt.status, got, tt.want)
			}
		})
	}
}

func configuredSettings() zen7.Settings {
	return zen7.Settings{
		ClientID:       "client-1",
		ClientSecret:   "s3cr3t",
		UserIdentifier: "u-1",
		AssistantEmail: "ava@assistants.example.com",
		ScheduleName:   "Secuencia de otoño",
		AutoForward:    true,
	}
}

func fullProspect() zen7.Prospect {
	return zen7.Prospect{
		ID:        "6633a1f0c2d4e5f601234abc",
		GroupID:   "5e8f1a2b3c4d5e6f70819a2b",
		FirstName: "María José",
		LastName:  "Pérez",
		Emails:    []string{"maria.perez@example.com", "mj@example.com"},
		Phones:    []string{"+5491145520371", "1145520372"},
		Status:    "unclaimed",
		UTMSource: "google",
		Comments:  "Quiere una cotización.",
	}
}

func TestToLead(t *testing.T) {
	t.Parallel()
	fullLead := seventargets.Lead{
		Name:                      "María José",
		LastName:                  "Pérez",
		Email:                     "maria.perez@example.com",
		Phone:                     "+5491145520371",
		Source:                    "google",
		AssistantEmail:            "ava@assistants.example.com",
		ScheduleName:              "Secuencia de otoño",
		AdditionalInformationLine: "Quiere una cotización.",
		CustomFields: []seventargets.CustomField{
			{Name: "zenviaProspectId", Value: "6633a1f0c2d4e5f601234abc"},
			{Name: "zenviaGroupId", Value: "5e8f1a2b3c4d5e6f70819a2b"},
		},
	}
	tests := []struct {
		name     string
		settings func(*zen7.Settings)
		prospect func(*zen7.Prospect)
		o        zen7.Overrides
		want     func(*seventargets.Lead)
	}{
		{
			name: "every field",
		},
		{
			name:     "settings source wins over the utmSource",
			settings: func(s *zen7.Settings) { s.Source = "Zenvia campaign" },
			want:     func(l *seventargets.Lead) { l.Source = "Zenvia campaign" },
		},
		{
			name:     "default source",
			prospect: func(p *zen7.Prospect) { p.UTMSource = "" },
			want:     func(l *seventargets.Lead) { l.Source = "Zenvia Sales" },
		},
		{
			name:     "last name as name when there is no first name",
			prospect: func(p *zen7.Prospect) { p.FirstName = "" },
			want:     func(l *seventargets.Lead) { l.Name, l.LastName = "Pérez", "" },
		},
		{
			name:     "email local part as name when there are no names",
			prospect: func(p *zen7.Prospect) { p.FirstName, p.LastName = "  ", "" },
			want:     func(l *seventargets.Lead) { l.Name, l.LastName = "maria.perez", "" },
		},
		{
			name: "names cleaned",
			prospect: func(p *zen7.Prospect) {
				p.FirstName, p.LastName = " María \n José ", "\tPérez  "
			},
		},
		{
			name:     "no phone",
			prospect: func(p *zen7.Prospect) { p.Phones = nil },
			want:     func(l *seventargets.Lead) { l.Phone = "" },
		},
		{
			name:     "first valid phone",
			prospect: func(p *zen7.Prospect) { p.Phones = []string{"abc", "(11) 4552.0371"} },
			want:     func(l *seventargets.Lead) { l.Phone = "1145520371" },
		},
		{
			name:     "first valid email",
			prospect: func(p *zen7.Prospect) { p.Emails = []string{"Ana <ana@example.com>", " MJ@Example.com "} },
			want:     func(l *seventargets.Lead) { l.Email = "mj@example.com" },
		},
		{
			name:     "schedule name kept as set, but trimmed",
			settings: func(s *zen7.Settings) { s.ScheduleName = " Secuencia  Doble " },
			want:     func(l *seventargets.Lead) { l.ScheduleName = "Secuencia  Doble" },
		},
		{
			name:     "no schedule: omitted",
			settings: func(s *zen7.Settings) { s.ScheduleName = "" },
			want:     func(l *seventargets.Lead) { l.ScheduleName = "" },
		},
		{
			name:     "no comments",
			prospect: func(p *zen7.Prospect) { p.Comments = "" },
			want:     func(l *seventargets.Lead) { l.AdditionalInformationLine = "" },
		},
		{
			name:     "no group",
			prospect: func(p *zen7.Prospect) { p.GroupID = "" },
			want: func(l *seventargets.Lead) {
				l.CustomFields = []seventargets.CustomField{{Name: "zenviaProspectId", Value: "6633a1f0c2d4e5f601234abc"}}
			},
		},
		{
			name: "overrides",
			o: zen7.Overrides{
				Email:          " Otra@Example.com ",
				AssistantEmail: "bot@assistants.example.com",
				ScheduleName:   "Manual",
			},
			want: func(l *seventargets.Lead) {
				l.Email, l.AssistantEmail, l.ScheduleName = "otra@example.com", "bot@assistants.example.com", "Manual"
			},
		},
		{
			name:     "email override when the prospect has none",
			prospect: func(p *zen7.Prospect) { p.Emails = nil },
			o:        zen7.Overrides{Email: "otra@example.com"},
			want:     func(l *seventargets.Lead) { l.Email = "otra@example.com" },
		},
		{
			name: "a partial prospect maps too",
			prospect: func(p *zen7.Prospect) {
				*p = zen7.Prospect{ID: "p1", Partial: true}
			},
			o: zen7.Overrides{Email: "x@example.com"},
			want: func(l *seventargets.Lead) {
				*l = seventargets.Lead{
					Name: "x", Email: "x@example.com", Source: "Zenvia Sales",
					AssistantEmail: "ava@assistants.example.com", ScheduleName: "Secuencia de otoño",
					CustomFields: []seventargets.CustomField{{Name: "zenviaProspectId", Value: "p1"}},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, p, want := configuredSettings(), fullProspect(), fullLead
			want.CustomFields = append([]seventargets.CustomField(nil), fullLead.CustomFields...)
			if tt.settings != nil {
				tt.settings(&s)
			}
			if tt.prospect != nil {
				tt.prospect(&p)
			}
			if tt.want != nil {
				tt.want(&want)
			}
			got, err := forwarding.ToLead(s, p, tt.o)
			if err != nil {
				t.Fatalf("ToLead() error = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ToLead() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToLeadNoEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		emails []string
		o      zen7.Overrides
	}{
		{"no emails", nil, zen7.Overrides{}},
		{"only invalid emails", []string{"", "not-an-email", "Ana <ana@example.com>"}, zen7.Overrides{}},
		{"invalid override", []string{"ana@example.com"}, zen7.Overrides{Email: "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := fullProspect()
			p.Emails = tt.emails
			got, err := forwarding.ToLead(configuredSettings(), p, tt.o)
			if !errors.Is(err, forwarding.ErrNoEmail) {
				t.Fatalf("ToLead() = %+v, %v; want ErrNoEmail", got, err)
			}
		})
	}
}

func TestToLeadTruncation(t *testing.T) {
	t.Parallel()
	long := func(unit string, n int) string { return strings.Repeat(unit, n) }
	p := fullProspect()
	p.FirstName = long("é", 150)   // two bytes a rune
	p.LastName = long("日本", 80)    // three bytes a rune
	p.UTMSource = long("🚗", 120)   // four bytes a rune
	p.Comments = long("ñ a ", 400) // 1600 runes with spaces
	p.GroupID = long("g", 300)     // custom field values
	s := configuredSettings()
	l, err := forwarding.ToLead(s, p, zen7.Overrides{ScheduleName: long("s", 300)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		field, got, want string
	}{
		{"name", l.Name, long("é", 100)},
		{"lastName", l.LastName, long("日本", 50)},
		{"source", l.Source, long("🚗", 100)},
		{"additionalInformationLine", l.AdditionalInformationLine, strings.TrimSpace(long("ñ a ", 250))},
		{"scheduleName", l.ScheduleName, long("s", 200)},
		{"zenviaGroupId", l.CustomFields[1].Value, long("g", 256)},
	} {
		if !utf8.ValidString(f.got) {
			t.Errorf("%s is not valid UTF-8 after truncation", f.field)
		}
		if f.got != f.want {
			t.Errorf("%s = %d runes %.20q…, want %d runes", f.field, utf8.RuneCountInString(f.got), f.got, utf8.RuneCountInString(f.want))
		}
	}

	// The settings source is capped too.
	s.Source = long("ü", 150)
	l, err = forwarding.ToLead(s, p, zen7.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Source != long("ü", 100) {
		t.Errorf("source from settings has %d runes, want 100", utf8.RuneCountInString(l.Source))
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	base, err := forwarding.ToLead(configuredSettings(), fullProspect(), zen7.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	fp := forwarding.Fingerprint(base)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(fp) {
		t.Fatalf("Fingerprint = %q, want 64 hex digits", fp)
	}
	again, _ := forwarding.ToLead(configuredSettings(), fullProspect(), zen7.Overrides{})
	if got := forwarding.Fingerprint(again); got != fp {
		t.Errorf("Fingerprint of an equal lead = %s, want %s", got, fp)
	}

	changes := map[string]func(*seventargets.Lead){
		"id":            func(l *seventargets.Lead) { l.ID = 7 },
		"name":          func(l *seventargets.Lead) { l.Name = "Maria Jose" },
		"lastName":      func(l *seventargets.Lead) { l.LastName = "" },
		"phone":         func(l *seventargets.Lead) { l.Phone = "+5491145520372" },
		"source":        func(l *seventargets.Lead) { l.Source = "web" },
		"assistant":     func(l *seventargets.Lead) { l.AssistantEmail = "bot@example.com" },
		"schedule":      func(l *seventargets.Lead) { l.ScheduleName = "Otra" },
		"comments":      func(l *seventargets.Lead) { l.AdditionalInformationLine += "!" },
		"custom field":  func(l *seventargets.Lead) { l.CustomFields[1].Value = "g2" },
		"custom fields": func(l *seventargets.Lead) { l.CustomFields = l.CustomFields[:1] },
		"moved text": func(l *seventargets.Lead) {
			l.Name, l.LastName = l.Name+" "+l.LastName, ""
		},
	}
	seen := map[string]string{fp: "base"}
	for name, change := range changes {
		l := base
		l.CustomFields = append([]seventargets.CustomField(nil), base.CustomFields...)
		change(&l)
		got := forwarding.Fingerprint(l)
		if other, ok := seen[got]; ok {
			t.Errorf("changing the %s gives the fingerprint of %s", name, other)
		}
		seen[got] = name
	}
}

func TestToLeadJSON(t *testing.T) {
	t.Parallel()
	s := configuredSettings()
	s.ScheduleName = ""
	p := fullProspect()
	p.GroupID = ""
	l, err := forwarding.ToLead(s, p, zen7.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name":                      "María José",
		"lastName":                  "Pérez",
		"email":                     "maria.perez@example.com",
		"phone":                     "+5491145520371",
		"source":                    "google",
		"assistantEmail":            "ava@assistants.example.com",
		"additionalInformationLine": "Quiere una cotización.",
		"customFields":              []any{map[string]any{"name": "zenviaProspectId", "value": "6633a1f0c2d4e5f601234abc"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lead JSON mismatch (-want +got):\n%s", diff)
	}
}
