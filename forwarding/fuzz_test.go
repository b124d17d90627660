package forwarding_test

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
)

// The testdata/fuzz seed corpora hold more seeds, among them the documented envelope.

func FuzzParseNotifications(f *testing.F) {
	for _, seed := range []string{
		documentedEnvelope,
		referenceExample,
		`{"topic":"prospects","type":"updated","prospect":{"id":"p1","status":"archived"}}`,
		`[{"topic":"prospects","prospect":[{"id":"p1"}]},{"topic":"interactions","prospect":[{"id":"p2"}]}]`,
		`{"id":"p1","firstName":"Ana","emails":["ana@example.com"]}`,
		`{"_id":"p1","contactMediums":[{"type":"email","value":"A@B.co"},"x@y.z",{"phone":"0054 11 4552 0371"}]}`,
		`{"prospect":[{"id":"p1"},{"id":"p1"},{"id":""},null]}`,
		`{"prospect":[{"id":"p1","leads":[{"created":"string","comments":"a"},{"created":1714655042,"comments":"b","utmSource":"u"}]}]}`,
		`{"topic":"prospects","attempts":"3","sent":12,"received":null,"updatedAt":"2024-05-02","prospect":[{"id":"p1"}]}`,
		`{"prospect":[{"id":"p1","additionalData":{"n":1e400}}]}`,
		`{"prospect":[{"id":"p1","firstName":"\u0000\u202e\ud800"}]}`,
		`{"Prospect":[{"ID":"p1"}],"TOPIC":"Prospects"}`,
		`{"prospect":[{"id":"a"}],"prospect":[{"id":"b"}]}`,
		`{}`, `[]`, `null`, `1`, `"x"`, `[[]]`, `{"id":5}`, `{"prospect":"x"}`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := forwarding.ParseNotifications(body)
		if err != nil {
			if !errors.Is(err, forwarding.ErrMalformed) {
				t.Fatalf("ParseNotifications error = %v, want ErrMalformed", err)
			}
			if events != nil {
				t.Fatalf("%d events with an error", len(events))
			}
			return
		}
		if len(events) > 100 {
			t.Fatalf("%d events from one body, want at most 100", len(events))
		}
		keys := make(map[string]bool)
		for _, e := range events {
			checkEvent(t, e)
			if keys[e.Key] {
				t.Fatalf("two events with Key %s", e.Key)
			}
			keys[e.Key] = true
		}
		again, err := forwarding.ParseNotifications(body)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		if diff := cmp.Diff(events, again); diff != "" {
			t.Fatalf("parsing the same body twice differs (-first +second):\n%s", diff)
		}
	})
}

// checkEvent checks what every parsed event promises.
func checkEvent(t *testing.T, e forwarding.Event) {
	t.Helper()
	p := e.Prospect
	switch {
	case p.ID == "" || p.ID != strings.TrimSpace(p.ID) || len(p.ID) > 256:
		t.Fatalf("event with prospect ID %q", p.ID)
	case !keyPattern.MatchString(e.Key):
		t.Fatalf("Key %q is not 32 hex digits", e.Key)
	case e.Topic != "prospects":
		t.Fatalf("Topic = %q", e.Topic)
	case e.Type != "created" && e.Type != "updated":
		t.Fatalf("Type = %q", e.Type)
	case utf8.RuneCountInString(p.Comments) > 1000:
		t.Fatalf("Comments has %d runes", utf8.RuneCountInString(p.Comments))
	}
	for _, s := range []string{p.FirstName, p.LastName, p.UTMSource, p.Comments, p.GroupID} {
		if !utf8.ValidString(s) || s != strings.Join(strings.Fields(s), " ") {
			t.Fatalf("text field %q is not one trimmed line", s)
		}
	}
	for _, e := range p.Emails {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" || e != strings.ToLower(e) {
			t.Fatalf("email %q is not a bare lowercase address", e)
		}
	}
	for _, ph := range p.Phones {
		checkPhone(t, ph)
	}
	partial := p.FirstName == "" && p.LastName == "" && len(p.Emails) == 0 && len(p.Phones) == 0 && strings.TrimSpace(p.Status) == ""
	if p.Partial != partial {
		t.Fatalf("Partial = %t for %+v", p.Partial, p)
	}
	if !p.UpdatedAt.IsZero() {
		if y := p.UpdatedAt.Year(); y < 1 || y > 9999 {
			t.Fatalf("UpdatedAt %v cannot be stored", p.UpdatedAt)
		}
	}
	// Whatever was parsed maps to a lead or to ErrNoEmail.
	if _, err := forwarding.ToLead(zen7.Settings{}, p, zen7.Overrides{}); err != nil && !errors.Is(err, forwarding.ErrNoEmail) {
		t.Fatalf("ToLead of a parsed prospect: %v", err)
	}
}

func checkPhone(t *testing.T, ph string) {
	t.Helper()
	digits := strings.TrimPrefix(ph, "+")
	if strings.Trim(digits, "0123456789") != "" || len(digits) < 6 || len(digits) > 15 {
		t.Fatalf("phone %q is not '+' and 6 to 15 digits", ph)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, seed := range []string{
		"+54 9 11 4552-0371", "(11) 4552.0371", "0054 11 4552 0371", "abc", "123",
		"1234567890123456", "+", "00", "++1234567", "12+34567", "\u00a0+55\u200911 91234 5678",
		"١٢٣٤٥٦٧٨", "+00 54 11 4552 0371", "0000000000000000", "11/4552/0371",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := forwarding.NormalizePhone(s)
		if got == "" {
			return
		}
		checkPhone(t, got)
		if again := forwarding.NormalizePhone(got); again != got {
			t.Fatalf("NormalizePhone(%q) = %q, but NormalizePhone(%q) = %q", s, got, got, again)
		}
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
		if strings.HasPrefix(got, "+") != (strings.Contains(s, "+") || strings.HasPrefix(digits, "00")) {
			t.Fatalf("NormalizePhone(%q) = %q: the '+' came from nowhere or went missing", s, got)
		}
	})
}

func FuzzToLead(f *testing.F) {
	type args struct {
		first, last, email, phone, comments, utm, id, group, source, schedule, override string
	}
	for _, a := range []args{
		{"María José", "Pérez", "maria@example.com", "+5491145520371", "Quiere cotización", "google", "6633a1f0c2d4e5f601234abc", "g1", "", "Otoño", ""},
		{"", "", "x@example.com", "", "", "", "p1", "", "Web", "", ""},
		{"", "Solo", "", "", "", "", "p1", "", "", "", "agent@example.com"},
		{strings.Repeat("é", 150), strings.Repeat("日", 150), "a@b.c", "abc", strings.Repeat("ñ", 1200), strings.Repeat("🚗", 120), "p", "", "", "", ""},
		{"\xff\xfe", "\u0000", "\u00a0@x.com", "00", "\t", "", "", "", "", "", "nope"},
		{"", "", "\"a b\"@x.com", "", "", "", "p", "", "", "", ""},
	} {
		f.Add(a.first, a.last, a.email, a.phone, a.comments, a.utm, a.id, a.group, a.source, a.schedule, a.override)
	}
	f.Fuzz(func(t *testing.T, first, last, email, phone, comments, utm, id, group, source, schedule, override string) {
		s := zen7.Settings{AssistantEmail: "ava@example.com", Source: source, ScheduleName: schedule}
		p := zen7.Prospect{
			ID: id, GroupID: group, FirstName: first, LastName: last,
			Emails: []string{email}, Phones: []string{phone}, Comments: comments, UTMSource: utm,
		}
		o := zen7.Overrides{Email: override}
		l, err := forwarding.ToLead(s, p, o)
		if err != nil {
			if !errors.Is(err, forwarding.ErrNoEmail) {
				t.Fatalf("ToLead error = %v, want ErrNoEmail", err)
			}
			return
		}
		if l.Name == "" {
			t.Fatalf("ToLead gave no name for %+v, %+v", p, o)
		}
		if a, err := mail.ParseAddress(l.Email); err != nil || a.Address != l.Email {
			t.Fatalf("email %q is not a bare address", l.Email)
		}
		if l.Phone != "" {
			checkPhone(t, l.Phone)
		}
		for _, f := range []struct {
			name  string
			value string
			max   int
		}{
			{"name", l.Name, 100}, {"lastName", l.LastName, 100}, {"source", l.Source, 100},
			{"additionalInformationLine", l.AdditionalInformationLine, 1000},
			{"scheduleName", l.ScheduleName, 200}, {"assistantEmail", l.AssistantEmail, 254},
		} {
			if !utf8.ValidString(f.value) || utf8.RuneCountInString(f.value) > f.max {
				t.Fatalf("%s %q: not valid UTF-8 or over %d runes", f.name, f.value, f.max)
			}
		}
		if len(l.CustomFields) == 0 || l.CustomFields[0].Name != forwarding.CustomFieldProspectID {
			t.Fatalf("custom fields %+v do not start with the prospect id", l.CustomFields)
		}
		again, _ := forwarding.ToLead(s, p, o)
		if fp := forwarding.Fingerprint(l); len(fp) != 64 || fp != forwarding.Fingerprint(again) {
			t.Fatalf("Fingerprint %q is not 64 hex digits or not stable", fp)
		}
	})
}
