package view_test

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
	"github.com/7targets/zenvia-sales-app/extensions/view"
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
	keys := view.Keys()
	if len(keys) < 100 {
		t.Fatalf("only %d keys", len(keys))
	}
	if !slices.IsSorted(keys) {
		t.Error("Keys is not sorted")
	}
	for _, key := range keys {
		en := view.T(view.English, key)
		for _, lang := range view.Langs {
			s := view.T(lang, key)
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
		{"unknown key", view.T(view.Spanish, "no.such.key"), "no.such.key"},
		{"unknown language", view.T("fr", "forward.title"), "Forward to 7Targets"},
		{"empty language", view.T("", "forward.title"), "Forward to 7Targets"},
		{"Spanish", view.T(view.Spanish, "forward.title"), "Reenviar a 7Targets"},
		{"Portuguese", view.T(view.Portuguese, "forward.title"), "Encaminhar para a 7Targets"},
		{"retry", view.T(view.Spanish, "action.retry"), "Reintentar"},
		{"arguments", view.T(view.Portuguese, "error.status", 401), "Erro 401"},
		{"signature", view.T(view.English, "error.signature.message"), "This link is not valid or has been changed. Open it again from Zenvia Sales."},
		{"group", view.T(view.English, "error.group.message"), "This group has no 7Targets App installed."},
		{"expired", view.T(view.English, "error.expired.message"), "This action has expired. Reopen the dialog and try again."},
		{"a lone percent", view.T(view.English, "num.percent", "5"), "5%"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestI18nLangOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]view.Lang{
		"": view.English, "en": view.English, "es": view.Spanish, "ES-mx": view.Spanish,
		"pt-BR": view.Portuguese, "pt": view.Portuguese, "fr": view.English, "p": view.English,
	} {
		if got := view.LangOf(in); got != want {
			t.Errorf("LangOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestI18nKeysInUse checks that every key the templates and the Go code name exists:
// templates call {{t "key" …}}, this package and extensions T(lang, "key"), handlers
// errorPage(…, "key") for key.title and key.message, and extensions' field errors carry
// Key: "key".
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
		{"../*.go", regexp.MustCompile(`\bT\([^,()]+,\s*"([^"]+)"\s*[,)]`), []string{""}},
		{"../*.go", regexp.MustCompile(`\bKey:\s*"([^"]+)"`), []string{""}},
		{"../../app/*.go", regexp.MustCompile(`\berrorPage\([^,]+,[^,]+,\s*"([^"]+)"\)`), []string{".title", ".message"}},
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
					if key := m[1] + sfx; !view.HasKey(key) {
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
		for _, lang := range view.Langs {
			if got := view.RangeText(lang, name); got == "" {
				t.Errorf("RangeText(%s, %q) is empty", lang, name)
			}
		}
	}
	if got := view.RangeText(view.English, "fortnight"); got != "" {
		t.Errorf("RangeText of an unknown range = %q, want empty", got)
	}
}

func TestI18nStateText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lang        view.Lang
		state, want string
	}{
		{view.English, "Cold", "Cold"},
		{view.Spanish, "Cold", "Frío"},
		{view.Portuguese, "WARM", "Morno"},
		{view.Spanish, " hot ", "Caliente"},
		{view.Portuguese, "Stopped", "Interrompido"},
		{view.Spanish, "Meeting booked", "Meeting booked"},
		{view.English, "", ""},
	} {
		if got := view.StateText(tc.lang, tc.state); got != tc.want {
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
		lang   view.Lang
		reason string
		want   string
	}{
		{"known", view.English, "the prospect has no email address", "The prospect has no email address"},
		{"known es", view.Spanish, "automatic forwarding is off", "El reenvío automático está desactivado"},
		{"known pt", view.Portuguese, "an agent took the prospect over before it was forwarded", "Um agente assumiu o contato antes que ele fosse encaminhado"},
		{"spaces", view.Spanish, "  the follow-up was already stopped\n", "El seguimiento ya estaba detenido"},
		{"instance disabled", view.Portuguese, "the instance is disabled", "O App está desativado"},
		{"instance in another state", view.English, "the instance is frozen", "The App is frozen"},
		{"gave up, days", view.Spanish, "gave up after 72h0m0s: 7targets: 503 Service Unavailable", "Se abandonó tras 3 días: 7targets: 503 Service Unavailable"},
		{"gave up, one day", view.English, "gave up after 24h0m0s: timeout", "Gave up after 1 day: timeout"},
		{"gave up, hours", view.Portuguese, "gave up after 6h0m0s: timeout", "Abandonado após 6 horas: timeout"},
		{"gave up, minutes", view.English, "gave up after 30m0s: timeout", "Gave up after 30 minutes: timeout"},
		{"gave up, odd duration", view.English, "gave up after 1h30m5s: timeout", "Gave up after 1h30m5s: timeout"},
		{"gave up, no cause", view.English, "gave up after 72h0m0s", "gave up after 72h0m0s"},
		{"lookup", view.Spanish, "looking the prospect up in Zenvia Sales failed: sales: 403 Forbidden", "No se pudo consultar el prospecto en Zenvia Sales: sales: 403 Forbidden"},
		{"7Targets' own message", view.Spanish, "7targets: 400 Bad Request: Invalid email", "7targets: 400 Bad Request: Invalid email"},
		{"empty", view.Portuguese, "", ""},
		{"unknown language", "de", "nothing changed for 7Targets", "Nothing changed for 7Targets"},
	} {
		if got := view.ReasonText(tc.lang, zen7.ParseReason(tc.reason)); got != tc.want {
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
		for _, lang := range view.Langs {
			got := view.ReasonText(lang, r)
			switch {
			case got == "":
				t.Errorf("%s: no %s text", code, lang)
			case lang != view.English && got == r.String():
				t.Errorf("%s: no %s text, got the English %q", code, lang, got)
			case varies && !strings.Contains(got, "cause"):
				t.Errorf("%s: %s text %q lacks the detail", code, lang, got)
			}
		}
	}
}
