package app_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/sales"
)

// chatTonicSettings turns on the Chat-Tonic source of codename with token, on top of what
// setupForwarding configures.
func chatTonicSettings(codename, token string) string {
	return `"autoForward":true,"chatTonicCodename":"` + codename + `","chatTonicToken":"` + token + `"`
}

// TestChatTonicRecordBecomesProspectThenLead follows one bot record end to end, through the
// App as it runs: the Chat-Tonic import reads it, the worker hands it to Sales as a retail
// lead, Sales notifies the App of the prospect it created, and the App forwards that prospect
// to 7Targets with the fields the record gave; the report counts the lead.
func TestChatTonicRecordBecomesProspectThenLead(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const codename, token = "acme-bots", "chattonic-token-e2e-0123456789"
	if err := e.ct.AddAccount(codename, token); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ct.AddFunnel(codename, chattonic.Funnel{ID: "contacto", Interactions: []string{"INICIO", "NOMBRE", "EMAIL", "CELULAR", "FIN"},
		Groups: []chattonic.FunnelGroup{{Name: "Web Leads"}}}); err != nil {
		t.Fatal(err)
	}
	in := e.setupForwarding("key-chattonic-e2e-001", chatTonicSettings(codename, token))
	// A bot's record made once the source is configured, whether or not it has been read yet.
	rec, err := e.ct.AddRecord(codename, chattonic.Record{
		Funnel: "contacto", Group: "Web Leads", Last: "FIN",
		User: chattonic.User{MessageUser: "mu-1", Platform: "whatsapp", FirstName: "Lucía", LastName: "Gómez", ExtraData: []chattonic.ExtraData{
			{Name: "Correo", Value: "Lucia.Gomez@Example.com"},
			{Name: "Celular", Value: "+54 9 11 5555-0101"},
			{Name: "DNI", Value: "30111222"},
			{Name: "Horario", Value: "mañana"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Into Sales: one retail lead with the contract's mapping.
	eventually(t, "the retail lead at Sales", func() bool { return e.sales.Count(http.MethodPost, "/lead/retail") >= 1 })
	var retail sales.RetailLead
	for _, r := range e.sales.Requests() {
		if r.Method == http.MethodPost && r.Path == "/lead/retail" {
			if err := json.Unmarshal(r.Body, &retail); err != nil {
				t.Fatal(err)
			}
			if r.Query.Get("api-key") != in.key {
				t.Errorf("the retail lead was created with key %q, want the instance's", r.Query.Get("api-key"))
			}
		}
	}
	if retail.Provider != chattonic.Provider || retail.UtmSource != chattonic.Provider || retail.ProviderLeadID != rec.ID ||
		retail.UtmMedium != "whatsapp" || retail.UtmCampaign != "Web Leads" || retail.FirstName != "Lucía" || retail.LastName != "Gómez" {
		t.Errorf("retail lead = %+v, want the record's mapping", retail)
	}
	if !slices.Equal(retail.Emails, []string{"lucia.gomez@example.com"}) || !slices.Equal(retail.Phones, []string{"+54 9 11 5555-0101"}) ||
		!slices.Equal(retail.NIN, []sales.NIN{{Type: "DNI", Number: "30111222"}}) {
		t.Errorf("retail lead contact = emails %v phones %v nin %v", retail.Emails, retail.Phones, retail.NIN)
	}
	for _, want := range []string{"Funnel group: Web Leads", "Stage reached: FIN", "Horario: mañana"} {
		if !strings.Contains(retail.Comments, want) {
			t.Errorf("retail lead comments %q lack %q", retail.Comments, want)
		}
	}

	// Sales created the prospect and notified the App, which forwarded it to 7Targets.
	eventually(t, "the lead at 7Targets", func() bool { return len(e.leadRequests(http.MethodPost, "/leads")) == 1 })
	var lead map[string]any
	if err := json.Unmarshal(e.leadRequests(http.MethodPost, "/leads")[0].Body, &lead); err != nil {
		t.Fatal(err)
	}
	if lead["email"] != "lucia.gomez@example.com" || lead["name"] != "Lucía" {
		t.Errorf("7Targets lead = %v, want the record's contact", lead)
	}
	prospectID := notifiedProspect(t, e)
	e.finished(in, prospectID, "forwarded")
	if p, ok := e.sales.Prospect(prospectID); !ok || p.Leads[len(p.Leads)-1].ProviderKey != chattonic.Provider {
		t.Errorf("the Sales prospect %s = %+v, want a lead from %s", prospectID, p, chattonic.Provider)
	}

	// A record is imported once: later reads find it again (it is recent) and leave it.
	reads := e.ct.Count(http.MethodGet, "/api/v1/"+codename+"/lead/records")
	eventually(t, "two more reads of the records", func() bool {
		return e.ct.Count(http.MethodGet, "/api/v1/"+codename+"/lead/records") >= reads+2
	})
	if n := e.sales.Count(http.MethodPost, "/lead/retail"); n != 1 {
		t.Errorf("%d retail leads at Sales, want the record once", n)
	}

	report := getPage(t, e.signedURL(reportPath(in.groupID, "en"), true))
	if report.status != http.StatusOK || !strings.Contains(report.body, `<div class="kpi kpi-fwd">`) {
		t.Fatalf("report: %d %s", report.status, report.body)
	}
	if got := kpi(t, summaryOf(t, report.body), "kpi-fwd"); got != "1" {
		t.Errorf("the report counts %s forwarded, want the prospect the record became", got)
	}
	// The Chat-Tonic card counts the import apart, and shows the source reading fine.
	card := regexp.MustCompile(`(?s)<section class="card chattonic".*?</section>`).FindString(report.body)
	if card == "" {
		t.Fatalf("the report has no Chat-Tonic card:\n%s", report.body)
	}
	if got := kpi(t, card, "kpi-fwd"); got != "1" {
		t.Errorf("the Chat-Tonic card counts %s imported, want the record", got)
	}
	if !strings.Contains(card, "contacto/Web Leads") || !strings.Contains(card, view.T(view.English, "chattonic.ok")) {
		t.Errorf("the Chat-Tonic card does not show the group read fine:\n%s", card)
	}
}

// summaryOf returns the report's summary of 7Targets forwarding, its first list of key figures
// after the source cards.
func summaryOf(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section aria-label="[^"]*">\s*<dl class="kpis">.*?</dl>`).FindString(body)
	if m == "" {
		t.Fatalf("the report has no summary:\n%s", body)
	}
	return m
}

// notifiedProspect returns the id of the prospect of the last notification Sales delivered.
func notifiedProspect(t *testing.T, e *testEnv) string {
	t.Helper()
	ds := e.sales.Deliveries()
	for i := len(ds) - 1; i >= 0; i-- {
		var n sales.Notification
		if json.Unmarshal(ds[i].Body, &n) == nil && len(n.Prospect) == 1 {
			return n.Prospect[0].ID
		}
	}
	t.Fatal("Sales delivered no notification of a prospect")
	return ""
}

// kpi returns the value of the first key figure of class class (kpi-fwd, kpi-skip, kpi-fail)
// on a report page.
func kpi(t *testing.T, body, class string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<div class="kpi ` + regexp.QuoteMeta(class) + `">.*?<dd class="kpi-value">([^<]*)</dd>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the report has no %s figure:\n%s", class, body)
	}
	return m[1]
}
