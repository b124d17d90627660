package app_test

import (
	"encoding/json"
	"html"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

const lyra = "lyra@7targets.test" // the fake's second seeded assistant

// routedTo returns the assistant and sequence of the POST /leads 7Targets got for pid.
func (e *testEnv) routedTo(pid string) (assistant, schedule string, posts int) {
	want := strings.ToLower("Jorge." + pid + "@Example.com")
	for _, r := range e.leadRequests("POST", "/leads") {
		var lead struct{ Email, AssistantEmail, ScheduleName string }
		if json.Unmarshal(r.Body, &lead) == nil && lead.Email == want {
			assistant, schedule = lead.AssistantEmail, lead.ScheduleName
			posts++
		}
	}
	return assistant, schedule, posts
}

func TestRoutingRulesChooseTheAssistant(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	rules := strings.Join([]string{
		"# social leads go to Lyra",
		"utmSource = Facebook -> " + lyra + " | " + seventargetsfake.SeedScheduleName,
		"utmMedium ~ mail -> " + lyra,
		"utmCampaign = Black Friday -> " + lyra + " | Product Demo",
		"category = USED -> " + lyra + " | Product Demo # trade-ins",
		"provider ~ webmotors -> " + lyra,
		"group = Sucursal Palermo -> " + lyra + " | Product Demo",
		"utmSource = facebook -> " + seventargetsfake.SeedAssistantEmail + " # never reached: the first match wins",
	}, "\n")
	body, _ := json.Marshal(map[string]string{"routingRules": rules, "scheduleName": "Ashley Default"})
	in := e.setupForwarding("key-routing-0001", strings.Trim(string(body), "{}"))

	type want struct{ assistant, schedule, rule string }
	byRule := func(line string, schedule string) want { return want{lyra, schedule, line} }
	tests := []struct {
		name  string
		id    string
		edit  func(*sales.Prospect)
		want  want
		route zen7.RoutedBy
	}{
		{"utmSource equals, any case", "route000000000000000001", func(p *sales.Prospect) { p.Leads[0].UtmSource = "facebook" },
			byRule("utmSource = Facebook -> "+lyra+" | "+seventargetsfake.SeedScheduleName, seventargetsfake.SeedScheduleName), zen7.RoutedByRule},
		{"utmMedium contains: no sequence named, the assistant's own", "route000000000000000002", func(p *sales.Prospect) { p.Leads[0].UtmMedium = "E-Mail" },
			byRule("utmMedium ~ mail -> "+lyra, ""), zen7.RoutedByRule},
		{"utmCampaign of the newest lead", "route000000000000000003", func(p *sales.Prospect) {
			p.Leads = []sales.Lead{
				{Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UtmCampaign: "Summer"},
				{Created: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), UtmCampaign: "black  friday"},
			}
		}, byRule("utmCampaign = Black Friday -> "+lyra+" | Product Demo", "Product Demo"), zen7.RoutedByRule},
		{"category", "route000000000000000004", func(p *sales.Prospect) { p.Category = "used" },
			byRule("category = USED -> "+lyra+" | Product Demo", "Product Demo"), zen7.RoutedByRule},
		{"provider", "route000000000000000005", func(p *sales.Prospect) { p.Leads[0].Provider = "Webmotors BR" },
			byRule("provider ~ webmotors -> "+lyra, ""), zen7.RoutedByRule},
		{"group by name", "route000000000000000006", func(p *sales.Prospect) { p.GroupID, p.Group = "5e8f1a2b3c4d5e6f70819a2b", "sucursal palermo" },
			byRule("group = Sucursal Palermo -> "+lyra+" | Product Demo", "Product Demo"), zen7.RoutedByRule},
		{"no rule matches: the default", "route000000000000000007", func(p *sales.Prospect) {},
			want{seventargetsfake.SeedAssistantEmail, "Ashley Default", ""}, zen7.RoutedByDefault},
	}
	for _, tt := range tests {
		p := prospect(tt.id, "new")
		tt.edit(&p)
		if status := e.notify(in, "created", time.Time{}, p); status != http.StatusOK {
			t.Fatalf("%s: webhook %d", tt.name, status)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lead := e.finished(in, tt.id, "forwarded")
			assistant, schedule, posts := e.routedTo(tt.id)
			if posts != 1 || assistant != tt.want.assistant || schedule != tt.want.schedule {
				t.Errorf("7Targets got %d POST /leads, the last to %q with sequence %q; want 1 to %q with %q", posts, assistant, schedule, tt.want.assistant, tt.want.schedule)
			}
			if lead.RoutedBy != tt.route || lead.Rule != tt.want.rule || lead.AssistantEmail != tt.want.assistant {
				t.Errorf("lead record routed by %q, rule %q, assistant %q; want %q, %q, %q", lead.RoutedBy, lead.Rule, lead.AssistantEmail, tt.route, tt.want.rule, tt.want.assistant)
			}
			ds, err := e.outbox.ProspectDeliveries(t.Context(), in.id, tt.id, 10)
			if err != nil || len(ds) != 1 || ds[0].RoutedBy != tt.route || ds[0].Rule != tt.want.rule || ds[0].AssistantEmail != tt.want.assistant {
				t.Errorf("deliveries %+v, %v: want one routed by %q, rule %q", ds, err, tt.route, tt.want.rule)
			}
		})
	}

	t.Run("a forwarded prospect keeps its assistant", func(t *testing.T) {
		// The rules change so that the first prospect would now go to Ashley: its update goes
		// to 7Targets with the assistant it has, since 7Targets ignores a re-assignment.
		res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key, body: `{"routingRules":""}`})
		if res.status != http.StatusOK {
			t.Fatalf("clearing the rules: %d %s", res.status, res.body)
		}
		p := prospect(tests[0].id, "new")
		tests[0].edit(&p)
		p.FirstName = "Jorge Luis"
		if status := e.notify(in, "updated", time.Now(), p); status != http.StatusOK {
			t.Fatalf("webhook %d", status)
		}
		eventually(t, "the update", func() bool { return len(e.leadRequests("PUT", "/leads")) == 1 })
		var upd struct{ AssistantEmail, ScheduleName string }
		if err := json.Unmarshal(e.leadRequests("PUT", "/leads")[0].Body, &upd); err != nil {
			t.Fatal(err)
		}
		if upd.AssistantEmail != lyra || upd.ScheduleName != seventargetsfake.SeedScheduleName {
			t.Errorf("update sent to %q with %q, want %q with %q", upd.AssistantEmail, upd.ScheduleName, lyra, seventargetsfake.SeedScheduleName)
		}
	})
}

func TestRoutingRulesAreChecked(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-routing-0002", "")
	tests := []struct {
		name      string
		body      string
		status    int
		field     string
		mentions  []string
		absentKey string
	}{
		{"a line that does not parse names its number", `{"routingRules":"# first\nutmSource = a -> ` + lyra + `\n\nutm = b -> ` + lyra + `"}`,
			http.StatusUnprocessableEntity, "routingRules", []string{"line 4", `unknown field \"utm\"`, "utmCampaign"}, ""},
		{"no arrow", `{"routingRules":"utmSource = a ` + lyra + `"}`, http.StatusUnprocessableEntity, "routingRules", []string{"line 1", "->"}, ""},
		{"an empty sequence after the bar", `{"routingRules":"category = used -> ` + lyra + ` | "}`, http.StatusUnprocessableEntity, "routingRules", []string{"line 1", "sequence"}, ""},
		{"an unknown assistant in a rule names the ones found", `{"routingRules":"utmSource = a -> ` + lyra + `\nutmSource = b -> nobody@7targets.test"}`,
			http.StatusUnprocessableEntity, "routingRules", []string{"line 2", "nobody@7targets.test", seventargetsfake.SeedAssistantEmail, lyra}, ""},
		{"an unknown default assistant names the ones found", `{"assistantEmail":"typo@7targets.test"}`,
			http.StatusUnprocessableEntity, "assistantEmail", []string{"typo@7targets.test", seventargetsfake.SeedAssistantEmail, lyra}, ""},
		{"known assistants are saved", `{"assistantEmail":"` + lyra + `","routingRules":"utmSource ~ ads -> ` + seventargetsfake.SeedAssistantEmail + ` | Product Demo"}`,
			http.StatusOK, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key, body: tt.body})
			if res.status != tt.status {
				t.Fatalf("status %d %s, want %d", res.status, res.body, tt.status)
			}
			if tt.field == "" {
				return
			}
			code, fields := res.errorCode(t)
			msg, _ := fields[tt.field].(string)
			if code != "invalid" || msg == "" {
				t.Fatalf("error %s with fields %v, want invalid on %s", code, fields, tt.field)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(msg, strings.ReplaceAll(m, `\"`, `"`)) {
					t.Errorf("%s: %q does not mention %q", tt.field, msg, m)
				}
			}
		})
	}
	if got := e.settings(in.key); got["assistantEmail"] != lyra || !strings.Contains(got["routingRules"].(string), "Product Demo") {
		t.Errorf("settings after the checks: %v", got)
	}

	t.Run("7Targets unreachable: 502, nothing saved", func(t *testing.T) {
		// A new instance: no listing of its assistants is cached yet. Its credentials are
		// checked at the token endpoint; the listing then fails.
		const key = "key-routing-0003"
		e.sales.AddIntegration(key, sales.Integration{})
		e.install(key)
		e.st.FailNext(1, http.StatusServiceUnavailable)
		res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: key, body: `{"clientId":"` + stClientID +
			`","clientSecret":"` + stClientSecret + `","userIdentifier":"` + stUser + `","assistantEmail":"` + lyra + `"}`})
		if res.status != http.StatusBadGateway {
			t.Fatalf("status %d %s, want 502", res.status, res.body)
		}
		if got := e.settings(key)["assistantEmail"]; got != "" {
			t.Errorf("assistantEmail is %v after the 502, want nothing saved", got)
		}
	})
}

// TestSettingsFormOffersTheAssistants reads the form of a configured instance over HTTP: its
// assistantEmail offers the assistants the fake 7Targets lists for its credentials.
func TestSettingsFormOffersTheAssistants(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const fresh, configured = "key-form-0001", "key-form-0002"
	e.sales.AddIntegration(fresh, sales.Integration{})
	e.install(fresh)
	e.setupForwarding(configured, "")
	for _, tt := range []struct {
		key      string
		wantType string
		want     []any
	}{
		{fresh, "text", nil},
		{configured, "select", []any{
			map[string]any{"value": seventargetsfake.SeedAssistantEmail, "label": "Ashley <" + seventargetsfake.SeedAssistantEmail + ">"},
			map[string]any{"value": lyra, "label": "Lyra <" + lyra + ">"},
		}},
	} {
		res := e.do(request{method: "GET", path: "/lifecycle/settings/form", apiKey: tt.key})
		if res.status != http.StatusOK {
			t.Fatalf("form: %d %s", res.status, res.body)
		}
		var form struct {
			Sections []struct {
				Inputs []struct {
					Name        string
					Type        string
					CustomProps map[string]any
				}
			}
		}
		if err := json.Unmarshal(res.body, &form); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, sec := range form.Sections {
			for _, in := range sec.Inputs {
				if in.Name != "assistantEmail" {
					continue
				}
				found = true
				got, _ := in.CustomProps["options"].([]any)
				if in.Type != tt.wantType || len(got) != len(tt.want) {
					t.Errorf("%s: assistantEmail is %q with options %v, want %q with %v", tt.key, in.Type, got, tt.wantType, tt.want)
					continue
				}
				for _, w := range tt.want {
					if !slices.ContainsFunc(got, func(g any) bool { return reflect.DeepEqual(g, w) }) {
						t.Errorf("%s: options %v lack %v", tt.key, got, w)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: the form has no assistantEmail", tt.key)
		}
	}
}

// TestButtonAndReportShowTheRoute: the dialog of a prospect a rule routes preselects that
// rule's assistant and sequence and says why; forwarding with that choice records the rule;
// the dialog then shows it on the lead, and the report's "By assistant" splits by it.
func TestButtonAndReportShowTheRoute(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const rule = "utmSource = facebook -> " + lyra + " | Product Demo"
	in := e.setupForwarding("key-routing-0004", `"autoForward":false,"routingRules":"`+rule+`"`)
	const pid = "0123456789abcdef01234567"
	// Sales knows the prospect's lead came from Facebook; the signed URL does not say.
	e.sales.PutProspect(in.key, sales.Prospect{ID: pid, FirstName: "Ana", LastName: "Silva", GroupID: in.groupID, Status: "new",
		Emails: []string{"ana.silva@example.com"}, Leads: []sales.Lead{{UtmSource: "Facebook"}}})
	buttonURL := e.signedURL(buttonPath(in.groupID, pid, "ana.silva@example.com"), true)

	p := getPage(t, buttonURL)
	if p.status != http.StatusOK {
		t.Fatalf("dialog: %d", p.status)
	}
	selected := regexp.MustCompile(`<option value="([^"]*)" selected>`).FindStringSubmatch(p.body)
	if selected == nil || selected[1] != lyra {
		t.Errorf("the dialog preselects %v, want %s", selected, lyra)
	}
	if !strings.Contains(p.body, `id="schedule" name="scheduleName" type="text" value="Product Demo"`) {
		t.Error("the dialog does not preselect the rule's sequence")
	}
	// Portuguese (buttonPath's lang), quotes escaped by html/template.
	if !strings.Contains(html.UnescapeString(p.body), "Pré-selecionado: Regra de roteamento “"+rule+"”") {
		t.Errorf("the dialog does not say which rule chose the assistant:\n%s", p.body)
	}

	forward := formValues(t, p.body, "forward")
	forward.Set("assistantEmail", lyra)
	forward.Set("scheduleName", "Product Demo")
	if r := postForm(t, e.url+extensions.ActionPath, forward); r.status != http.StatusSeeOther {
		t.Fatalf("forward: %d %s", r.status, r.body)
	}
	lead := e.finished(in, pid, "forwarded")
	if lead.RoutedBy != zen7.RoutedByRule || lead.Rule != rule || lead.AssistantEmail != lyra || lead.ScheduleName != "Product Demo" {
		t.Errorf("lead record %+v: want routed by the rule to %s", lead, lyra)
	}

	p = getPage(t, buttonURL)
	if !strings.Contains(p.body, `data-route="rule"`) || !strings.Contains(html.UnescapeString(p.body), rule) {
		t.Errorf("the dialog of the forwarded prospect does not show its rule:\n%s", p.body)
	}
	report := getPage(t, e.signedURL(reportPath(in.groupID, "en"), true))
	if report.status != http.StatusOK {
		t.Fatalf("report: %d", report.status)
	}
	body := html.UnescapeString(report.body)
	if !strings.Contains(body, `<tr class="route-row" data-route="rule">`) || !strings.Contains(body, "Routing rule “"+rule+"”") ||
		!strings.Contains(report.body, `<details class="data" open>`) {
		t.Errorf("the report's By assistant does not show the rule:\n%s", report.body)
	}
}
