package zen7_test

import (
	"strings"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// TestParseReasonReadsString checks that every reason reads back from its English text, which
// is how reasons stored by versions before reason codes are read.
func TestParseReasonReadsString(t *testing.T) {
	t.Parallel()
	for _, code := range zen7.ReasonCodes {
		r := zen7.Because(code)
		switch code {
		case zen7.ReasonInstanceState:
			r.Detail = "disabled"
		case zen7.ReasonLookupFailed, zen7.ReasonOther:
			r.Detail = "sales: 403 Forbidden: no: really"
		case zen7.ReasonRefused:
			r.Status, r.Detail = 422, "Invalid email (HTTP 400): x"
		case zen7.ReasonListFailed:
			r.Status, r.Detail = 403, "the App is disabled"
		case zen7.ReasonImportRefused:
			r.Status, r.Detail = 400, "invalid phone"
		case zen7.ReasonGaveUp:
			r.After, r.Detail = 24*time.Hour, "7targets: 503: busy"
		}
		t.Run(string(code), func(t *testing.T) {
			t.Parallel()
			if got := zen7.ParseReason(r.String()); got != r {
				t.Errorf("ParseReason(%q) = %+v, want %+v", r.String(), got, r)
			}
		})
	}
}

func TestParseReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		want       zen7.Reason
	}{
		{"empty", "  ", zen7.Reason{}},
		{"spaces around a known one", " nothing changed for 7Targets\n", zen7.Because(zen7.ReasonNoChange)},
		{"refused without a number", "7Targets refused it (HTTP x): no", zen7.Reason{Code: zen7.ReasonOther, Detail: "7Targets refused it (HTTP x): no"}},
		{"gave up without a cause", "gave up after 72h0m0s", zen7.Reason{Code: zen7.ReasonOther, Detail: "gave up after 72h0m0s"}},
		{"instance is nothing", "the instance is ", zen7.Reason{Code: zen7.ReasonOther, Detail: "the instance is "}},
		{"7Targets' own words", "7targets: 400 Bad Request", zen7.Reason{Code: zen7.ReasonOther, Detail: "7targets: 400 Bad Request"}},
	} {
		if got := zen7.ParseReason(tc.text); got != tc.want {
			t.Errorf("%s: ParseReason(%q) = %+v, want %+v", tc.name, tc.text, got, tc.want)
		}
	}
}

// FuzzParseReason checks that reading any stored text never panics and that what it reads
// writes back as the same text (up to surrounding space).
func FuzzParseReason(f *testing.F) {
	for _, s := range []string{"gave up after 1h0m0s: x", "7Targets refused it (HTTP 400): y", "the instance is disabled", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r := zen7.ParseReason(text)
		if r.Code == zen7.ReasonOther {
			if r.Detail != text {
				t.Fatalf("ParseReason(%q) kept %q", text, r.Detail)
			}
			return
		}
		if again := zen7.ParseReason(r.String()); again != r {
			t.Fatalf("ParseReason(%q) = %+v, which writes %q and reads back %+v", text, r, r.String(), again)
		}
	})
}

func TestBareEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{" Ana@Example.com ", "ana@example.com", true},
		{"ana\u00a0lima@example.com", "", false}, // a no-break space net/mail takes for a letter
		{"ana\u200b@example.com", "", false},
		{"Ana <ana@example.com>", "", false},
		{"ana@example.com (work)", "", false},
		{"", "", false},
		{strings.Repeat("a", 250) + "@x.io", "", false},
	} {
		if got, ok := zen7.BareEmail(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("BareEmail(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
