package zen7_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
)

func TestParseRoutingRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		text     string
		want     zen7.RoutingRules
		wantLine int    // of the error; 0: none
		wantMsg  string // part of the error
	}{
		{name: "empty", text: ""},
		{name: "comments and blank lines only", text: "# nothing yet\n\n   \n\t# still nothing"},
		{name: "equals, with a sequence", text: "utmSource = Facebook -> Lyra@7Targets.test | Social  leads",
			want: zen7.RoutingRules{{Line: 1, Field: zen7.RouteUTMSource, Value: "Facebook", AssistantEmail: "lyra@7targets.test",
				ScheduleName: "Social  leads", Text: "utmSource = Facebook -> Lyra@7Targets.test | Social leads"}}},
		{name: "contains, field in any case, comment, CRLF", text: "# header\r\nUTMCAMPAIGN ~ black friday -> ana@x.example # promo\r\n",
			want: zen7.RoutingRules{{Line: 2, Field: zen7.RouteUTMCampaign, Contains: true, Value: "black friday", AssistantEmail: "ana@x.example",
				Text: "UTMCAMPAIGN ~ black friday -> ana@x.example"}}},
		{name: "a # inside a value is kept", text: "utmCampaign = promo#1 -> ana@x.example",
			want: zen7.RoutingRules{{Line: 1, Field: zen7.RouteUTMCampaign, Value: "promo#1", AssistantEmail: "ana@x.example", Text: "utmCampaign = promo#1 -> ana@x.example"}}},
		{name: "tabs are spaces", text: "group\t=\tSucursal Palermo\t->\tana@x.example",
			want: zen7.RoutingRules{{Line: 1, Field: zen7.RouteGroup, Value: "Sucursal Palermo", AssistantEmail: "ana@x.example", Text: "group = Sucursal Palermo -> ana@x.example"}}},
		{name: "unknown field", text: "\nutm = a -> ana@x.example", wantLine: 2, wantMsg: `unknown field "utm"`},
		{name: "no arrow", text: "category = used ana@x.example", wantLine: 1, wantMsg: `no "->"`},
		{name: "no operator", text: "category used -> ana@x.example", wantLine: 1, wantMsg: `no "=" or "~"`},
		{name: "no value", text: "category = -> ana@x.example", wantLine: 1, wantMsg: "no value"},
		{name: "not an email", text: "category = used -> ana", wantLine: 1, wantMsg: `"ana" is not an assistant's email`},
		{name: "empty sequence", text: "category = used -> ana@x.example |", wantLine: 1, wantMsg: "no sequence name"},
		{name: "a control character", text: "category = us\x00ed -> ana@x.example", wantLine: 1, wantMsg: "not text"},
		{name: "a value too long", text: "category = " + strings.Repeat("v", 201) + " -> ana@x.example", wantLine: 1, wantMsg: "longer than 200"},
		{name: "too many rules", text: strings.Repeat("category = used -> ana@x.example\n", 201), wantLine: 201, wantMsg: "at most 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := zen7.ParseRoutingRules(tt.text)
			if tt.wantLine != 0 {
				var rerr *zen7.RuleError
				if !errors.As(err, &rerr) || rerr.Line != tt.wantLine || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error = %v, want line %d: …%s…", err, tt.wantLine, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettingsRoute(t *testing.T) {
	t.Parallel()
	s := zen7.Settings{AssistantEmail: "default@x.example", ScheduleName: "Main", RoutingRules: strings.Join([]string{
		"group = 5e8f1a2b3c4d5e6f70819a2b -> group-id@x.example",
		"group = Sucursal Palermo -> group-name@x.example | Branch",
		"category = used -> category@x.example",
		"utmSource = google -> source@x.example",
		"utmMedium ~ mail -> medium@x.example",
		"utmCampaign = black friday -> campaign@x.example",
		"provider ~ webmotors -> provider@x.example",
		"utmSource ~ goo -> never@x.example # shadowed by the rule above for google",
	}, "\n")}
	tests := []struct {
		name string
		p    zen7.Prospect
		want zen7.Route
	}{
		{"group by id", zen7.Prospect{GroupID: "5e8f1a2b3c4d5e6f70819a2b"}, zen7.Route{AssistantEmail: "group-id@x.example", By: zen7.RoutedByRule, Rule: "group = 5e8f1a2b3c4d5e6f70819a2b -> group-id@x.example"}},
		{"group by name, case and spaces aside", zen7.Prospect{GroupID: "other", GroupName: "sucursal  PALERMO"}, zen7.Route{AssistantEmail: "group-name@x.example", ScheduleName: "Branch", By: zen7.RoutedByRule, Rule: "group = Sucursal Palermo -> group-name@x.example | Branch"}},
		{"category", zen7.Prospect{Category: "Used"}, zen7.Route{AssistantEmail: "category@x.example", By: zen7.RoutedByRule, Rule: "category = used -> category@x.example"}},
		{"first match wins", zen7.Prospect{UTMSource: "Google"}, zen7.Route{AssistantEmail: "source@x.example", By: zen7.RoutedByRule, Rule: "utmSource = google -> source@x.example"}},
		{"contains", zen7.Prospect{UTMSource: "googleads", UTMMedium: "E-mail"}, zen7.Route{AssistantEmail: "medium@x.example", By: zen7.RoutedByRule, Rule: "utmMedium ~ mail -> medium@x.example"}},
		{"equals is not contains", zen7.Prospect{UTMCampaign: "black friday 2026"}, zen7.Route{AssistantEmail: "default@x.example", ScheduleName: "Main", By: zen7.RoutedByDefault}},
		{"campaign", zen7.Prospect{UTMCampaign: "Black Friday"}, zen7.Route{AssistantEmail: "campaign@x.example", By: zen7.RoutedByRule, Rule: "utmCampaign = black friday -> campaign@x.example"}},
		{"provider", zen7.Prospect{Provider: "Webmotors"}, zen7.Route{AssistantEmail: "provider@x.example", By: zen7.RoutedByRule, Rule: "provider ~ webmotors -> provider@x.example"}},
		{"contains after an earlier miss", zen7.Prospect{UTMSource: "goodwill"}, zen7.Route{AssistantEmail: "never@x.example", By: zen7.RoutedByRule, Rule: "utmSource ~ goo -> never@x.example"}},
		{"nothing matches: the default", zen7.Prospect{}, zen7.Route{AssistantEmail: "default@x.example", ScheduleName: "Main", By: zen7.RoutedByDefault}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, s.Route(tt.p)); diff != "" {
				t.Errorf("Route (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a stored list that no longer parses routes to the default", func(t *testing.T) {
		bad := s
		bad.RoutingRules = "nonsense"
		if got := bad.Route(zen7.Prospect{UTMSource: "google"}); got.By != zen7.RoutedByDefault {
			t.Errorf("Route = %+v, want the default", got)
		}
	})
}

func FuzzParseRoutingRules(f *testing.F) {
	for _, seed := range []string{
		"", "# c", "utmSource = a -> b@c.example", "category ~ x -> b@c.example | Seq # c",
		"group = a -> b@c.example\nutm = b -> c@d.example", "a = b -> c | ", "= -> |", "\x00\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rules, err := zen7.ParseRoutingRules(text)
		if err != nil {
			var rerr *zen7.RuleError
			if !errors.As(err, &rerr) || rerr.Line < 1 {
				t.Fatalf("error %v is no *RuleError with a line", err)
			}
			return
		}
		for _, r := range rules {
			if _, ok := zen7.BareEmail(r.AssistantEmail); !ok || r.Value == "" || !utf8.ValidString(r.Text) {
				t.Fatalf("rule %+v accepted", r)
			}
			// A rule's text parses back to the same rule.
			again, err := zen7.ParseRoutingRules(r.Text)
			if err != nil || len(again) != 1 || again[0].AssistantEmail != r.AssistantEmail || again[0].Value != r.Value ||
				again[0].Field != r.Field || again[0].Contains != r.Contains {
				t.Fatalf("rule %+v does not parse back from its text: %+v, %v", r, again, err)
			}
		}
		s := zen7.Settings{AssistantEmail: "d@x.example", RoutingRules: text}
		_ = s.Route(zen7.Prospect{UTMSource: text, GroupName: text})
	})
}
