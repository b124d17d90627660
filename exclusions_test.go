package zen7_test

import (
	"strings"
	"testing"

	zen7 "github.com/7targets/zenvia-sales-app"
)

func TestExclusions(t *testing.T) {
	t.Parallel()
	ex, err := zen7.ParseExclusions("Ana@Example.com, @competitor.com\nrival.io;  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		email string
		want  bool
	}{
		{"ana@example.com", true},
		{" ANA@example.com", true},
		{"bea@example.com", false},
		{"anyone@competitor.com", true},
		{"x@rival.io", true},
		{"x@sub.rival.io", false}, // a domain is the domain itself
		{"not an email", false},
		{"", false},
	} {
		if got := ex.Match(tc.email); got != tc.want {
			t.Errorf("Match(%q) = %v, want %v", tc.email, got, tc.want)
		}
	}
	for _, bad := range []string{"ana@", "not-a-domain", "a b@x.com", "@", "x@y@z.com"} {
		if _, err := zen7.ParseExclusions("ok@example.com, " + bad); err == nil {
			t.Errorf("ParseExclusions accepted %q", bad)
		}
	}
	if _, err := zen7.ParseExclusions(strings.Repeat("a.io ", 1001)); err == nil {
		t.Error("ParseExclusions accepted 1001 entries")
	}
	if _, err := zen7.ParseExclusions(""); err != nil {
		t.Errorf("an empty list: %v", err)
	}
}

// FuzzParseExclusions checks that any setting text either parses or is refused, never panics,
// and that every address a parsed list names is matched.
func FuzzParseExclusions(f *testing.F) {
	for _, s := range []string{"ana@example.com, @x.io", "x.io\ny.io", "@", "a@b@c", "\xff@x.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ex, err := zen7.ParseExclusions(text)
		if err != nil {
			return
		}
		for _, e := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
			if strings.Contains(e, "@") && !strings.HasPrefix(e, "@") && !ex.Match(e) {
				t.Fatalf("ParseExclusions(%q) lists %q but does not match it", text, e)
			}
		}
	})
}
