package extensions_test

import (
	"time"

	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions"
)

// i18nVerb matches a fmt verb, with an optional explicit argument index.
var i18nVerb = regexp.MustCompile(`%(?:\[(\d+)\])?[-+# 0]*\d*(?:\.\d+)?([a-zA-Z%])`)

// i18nArgs lists which argument each verb of format uses and how ("1:s", "2:d"), sorted, so
// translations that reorder arguments compare equal.
func i18nArgs(format string) []string {
	var out []string
	next := 1
	for _, m := range i18nVerb.FindAllStringSubmatch(format, -1) {
		if m[2] == "%" {
			continue
		}
		n := next
		if m[1] != "" {
			n, _ = strconv.Atoi(m[1])
		}
		next = n + 1
		out = append(out, strconv.Itoa(n)+":"+m[2])
	}
	slices.Sort(out)
	return out
}

func TestI18nCatalogComplete(t *testing.T) {
	t.Parallel()
	keys := extensions.Keys()
	if len(keys) < 100 {
		t.Fatalf("only %d keys", len(keys))
	}
	if !slices.IsSorted(keys) {
		t.Error("Keys is not sorted")
	}
	for _, key := range keys {
		en := extensions.T(extensions.English, key)
		for _, lang := range extensions.Langs {
			s := extensions.T(lang, key)
			switch {
			case s == "" || s == key:
				t.Errorf("%s: no %s text", key, lang)
			case strings.TrimSpace(s) != s:
				t.Errorf("%s (%s): %q has surrounding spaces", key, lang, s)
			}
			if diff := cmp.Diff(i18nArgs(en), i18nArgs(s)); diff != "" {
				t.Errorf("%s (%s): %q takes other arguments than the English %q (-en +%s):\n%s", key, lang, s, en, lang, diff)
			}
		}
	}
}

func TestI18nFallbacks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"unknown key", extensions.T(extensions.Spanish, "no.such.key"), "no.such.key"},
		{"unknown language", extensions.T("fr", "forward.title"), "Forward to 7Targets"},
		{"empty language", extensions.T("", "forward.title"), "Forward to 7Targets"},
		{"Spanish", extensions.T(extensions.Spanish, "forward.title"), "Reenviar a 7Targets"},
		{"Portuguese", extensions.T(extensions.Portuguese, "forward.title"), "Encaminhar para a 7Targets"},
		{"retry", extensions.T(extensions.Spanish, "action.retry"), "Reintentar"},
		{"arguments", extensions.T(extensions.Portuguese, "error.status", 401), "Erro 401"},
		{"signature", extensions.T(extensions.English, "error.signature.message"), "This link is not valid or has been changed. Open it again from Zenvia Sales."},
		{"group", extensions.T(extensions.English, "error.group.message"), "This group has no 7Targets App installed."},
		{"expired", extensions.T(extensions.English, "error.expired.message"), "This action has expired. Reopen the dialog and try again."},
		{"a lone percent", extensions.T(extensions.English, "num.percent", "5"), "5%"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestI18nLangOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]extensions.Lang{
		"": extensions.English, "en": extensions.English, "es": extensions.Spanish, "ES-mx": extensions.Spanish,
		"pt-BR": extensions.Portuguese, "pt": extensions.Portuguese, "fr": extensions.English, "p": extensions.English,
	} {
		if got := extensions.LangOf(in); got != want {
			t.Errorf("LangOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestI18nKeysInUse checks that every key the templates and the package's Go code name
// exists: templates call {{t "key" …}}, Go code T(lang, "key"), handlers errorPage(…, "key")
// for key.title and key.message, and field errors carry Key: "key".
func TestI18nKeysInUse(t *testing.T) {
	t.Parallel()
	type source struct {
		glob string
		re   *regexp.Regexp
		sfx  []string
	}
	sources := []source{
		{"templates/*.html", regexp.MustCompile(`\bt\s+"([^"]+)"`), []string{""}},
		{"*.go", regexp.MustCompile(`\bT\([^,()]+,\s*"([^"]+)"\s*[,)]`), []string{""}}, // "prefix."+x is dynamic
		{"*.go", regexp.MustCompile(`\bKey:\s*"([^"]+)"`), []string{""}},
		{"../app/*.go", regexp.MustCompile(`\berrorPage\([^,]+,[^,]+,\s*"([^"]+)"\)`), []string{".title", ".message"}},
	}
	used := 0
	for _, src := range sources {
		files, err := filepath.Glob(src.glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range src.re.FindAllStringSubmatch(string(b), -1) {
				for _, sfx := range src.sfx {
					used++
					if key := m[1] + sfx; !extensions.HasKey(key) {
						t.Errorf("%s uses the unknown message key %q", f, key)
					}
				}
			}
		}
	}
	if used < 100 {
		t.Errorf("found only %d key uses: is the pattern still right?", used)
	}
}

func TestI18nRanges(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"today", "yesterday", "last7", "last30", "this-month", "last-month", "custom"} {
		for _, lang := range extensions.Langs {
			if got := extensions.RangeText(lang, name); got == "" {
				t.Errorf("RangeText(%s, %q) is empty", lang, name)
			}
		}
	}
	if got := extensions.RangeText(extensions.English, "fortnight"); got != "" {
		t.Errorf("RangeText of an unknown range = %q, want empty", got)
	}
}

func TestI18nStateText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lang        extensions.Lang
		state, want string
	}{
		{extensions.English, "Cold", "Cold"},
		{extensions.Spanish, "Cold", "Frío"},
		{extensions.Portuguese, "WARM", "Morno"},
		{extensions.Spanish, " hot ", "Caliente"},
		{extensions.Portuguese, "Stopped", "Interrompido"},
		{extensions.Spanish, "Meeting booked", "Meeting booked"},
		{extensions.English, "", ""},
	} {
		if got := extensions.StateText(tc.lang, tc.state); got != tc.want {
			t.Errorf("StateText(%s, %q) = %q, want %q", tc.lang, tc.state, got, tc.want)
		}
	}
}

// TestReasonText reads reasons as earlier versions stored them, in English words, and shows
// them translated.
func TestReasonText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		lang   extensions.Lang
		reason string
		want   string
	}{
		{"known", extensions.English, "the prospect has no email address", "The prospect has no email address"},
		{"known es", extensions.Spanish, "automatic forwarding is off", "El reenvío automático está desactivado"},
		{"known pt", extensions.Portuguese, "an agent took the prospect over before it was forwarded", "Um agente assumiu o contato antes que ele fosse encaminhado"},
		{"spaces", extensions.Spanish, "  the follow-up was already stopped\n", "El seguimiento ya estaba detenido"},
		{"instance disabled", extensions.Portuguese, "the instance is disabled", "O App está desativado"},
		{"instance in another state", extensions.English, "the instance is frozen", "The App is frozen"},
		{"gave up, days", extensions.Spanish, "gave up after 72h0m0s: 7targets: 503 Service Unavailable", "Se abandonó tras 3 días: 7targets: 503 Service Unavailable"},
		{"gave up, one day", extensions.English, "gave up after 24h0m0s: timeout", "Gave up after 1 day: timeout"},
		{"gave up, hours", extensions.Portuguese, "gave up after 6h0m0s: timeout", "Abandonado após 6 horas: timeout"},
		{"gave up, minutes", extensions.English, "gave up after 30m0s: timeout", "Gave up after 30 minutes: timeout"},
		{"gave up, odd duration", extensions.English, "gave up after 1h30m5s: timeout", "Gave up after 1h30m5s: timeout"},
		{"gave up, no cause", extensions.English, "gave up after 72h0m0s", "gave up after 72h0m0s"},
		{"lookup", extensions.Spanish, "looking the prospect up in Zenvia Sales failed: sales: 403 Forbidden", "No se pudo consultar el prospecto en Zenvia Sales: sales: 403 Forbidden"},
		{"7Targets' own message", extensions.Spanish, "7targets: 400 Bad Request: Invalid email", "7targets: 400 Bad Request: Invalid email"},
		{"empty", extensions.Portuguese, "", ""},
		{"unknown language", "de", "nothing changed for 7Targets", "Nothing changed for 7Targets"},
	} {
		if got := extensions.ReasonText(tc.lang, zen7.ParseReason(tc.reason)); got != tc.want {
			t.Errorf("%s: ReasonText(%s, %q) = %q, want %q", tc.name, tc.lang, tc.reason, got, tc.want)
		}
	}
}

// TestReasonTextCoversCodes checks that every reason code has its text in every language, with
// its variable part shown.
func TestReasonTextCoversCodes(t *testing.T) {
	t.Parallel()
	for _, code := range zen7.ReasonCodes {
		if code == zen7.ReasonOther {
			continue // shown in its recorded words
		}
		r := zen7.Reason{Code: code, Status: 418, After: time.Hour, Detail: "cause"}
		varies := r.String() != zen7.Because(code).String()
		for _, lang := range extensions.Langs {
			got := extensions.ReasonText(lang, r)
			switch {
			case got == "":
				t.Errorf("%s: no %s text", code, lang)
			case lang != extensions.English && got == r.String():
				t.Errorf("%s: no %s text, got the English %q", code, lang, got)
			case varies && !strings.Contains(got, "cause"):
				t.Errorf("%s: %s text %q lacks the detail", code, lang, got)
			}
		}
	}
}
