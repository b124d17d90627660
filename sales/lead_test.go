package sales_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/sales"
)

func chatTonicLead() sales.RetailLead {
	return sales.RetailLead{
		Provider: "chat-tonic", ProviderLeadID: "5d7bfc1298317f98fa111f99", UtmSource: "chat-tonic",
		UtmMedium: "messenger", UtmCampaign: "Sacar Tarjeta", FirstName: "Juan", LastName: "Perez",
		Phones: []string{"1412345678"}, Emails: []string{"juan@example.com"},
		NIN:      []sales.NIN{{Type: "DNI", Number: "12345678"}},
		Comments: "Funnel group: Sacar Tarjeta\nStage reached: INGRESO\nIngreso: 1000",
	}
}

func TestCreateRetailLead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lead := chatTonicLead()
	p, err := e.client.CreateRetailLead(t.Context(), testKey, lead)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.FirstName != "Juan" || p.GroupID != e.in.GroupID || len(p.Leads) != 1 || p.Leads[0].Comments != lead.Comments ||
		!cmp.Equal(p.NIN, lead.NIN) || !cmp.Equal(p.EmailAddresses(), lead.Emails) {
		t.Errorf("created prospect %+v", p)
	}

	reqs := e.fake.Requests()
	r := reqs[len(reqs)-1]
	if r.Method != http.MethodPost || r.Path != "/lead/retail" || r.Query.Get("api-key") != testKey || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query.Encode())
	}
	var sent map[string]any
	if err := json.Unmarshal(r.Body, &sent); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"provider": "chat-tonic", "providerLeadId": lead.ProviderLeadID, "utmSource": "chat-tonic",
		"utmMedium": "messenger", "utmCampaign": "Sacar Tarjeta", "firstName": "Juan", "lastName": "Perez"} {
		if sent[k] != want {
			t.Errorf("body %s = %v, want %v", k, sent[k], want)
		}
	}
	if nin, _ := sent["nin"].([]any); len(nin) != 1 || nin[0].(map[string]any)["type"] != "DNI" {
		t.Errorf("body nin = %v", sent["nin"])
	}

	// The same person again, by phone only: the same prospect, with only the new lead.
	again := sales.RetailLead{UtmSource: "chat-tonic", Phones: []string{"14 1234 5678"}, Comments: "second"}
	p2, err := e.client.CreateRetailLead(t.Context(), testKey, again)
	if err != nil {
		t.Fatal(err)
	}
	if p2.ID != p.ID || len(p2.Leads) != 1 || p2.Leads[0].Comments != "second" {
		t.Errorf("matched prospect %+v, want %s with the new lead only", p2, p.ID)
	}
	if stored, _ := e.fake.Prospect(p.ID); len(stored.Leads) != 2 {
		t.Errorf("stored prospect has %d leads, want 2", len(stored.Leads))
	}
}

func TestCreateRetailLeadErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := len(e.fake.Requests())
	_, err := e.client.CreateRetailLead(t.Context(), testKey, sales.RetailLead{FirstName: "x"})
	var apiErr *sales.APIError
	if !errors.As(err, &apiErr) || sales.IsRetryable(err) || len(e.fake.Requests()) != before {
		t.Errorf("without utmSource: %v, %d requests; want a permanent error and no request", err, len(e.fake.Requests())-before)
	}

	_, err = e.client.CreateRetailLead(t.Context(), testKey, sales.RetailLead{UtmSource: "x", Emails: []string{"not an email"}})
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || sales.IsRetryable(err) {
		t.Errorf("bad email: %v, want a permanent 400", err)
	}
	_, err = e.client.CreateRetailLead(t.Context(), "wrong-key-for-this-test", chatTonicLead())
	if !errors.Is(err, sales.ErrUnauthorized) {
		t.Errorf("wrong key: %v, want ErrUnauthorized", err)
	}
	e.fake.FailNext(1, http.StatusBadGateway)
	_, err = e.client.CreateRetailLead(t.Context(), testKey, chatTonicLead())
	if !errors.Is(err, sales.ErrUnavailable) || !sales.IsRetryable(err) {
		t.Errorf("502: %v, want a retryable ErrUnavailable", err)
	}
	assertNoKey(t, err)
}

// TestCreateRetailLeadRateLimited checks the lead call's 429 handling, the same as every call's:
// a reset a moment away is waited out, one far off is returned for the caller to schedule.
func TestCreateRetailLeadRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reset := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	e.fake.RateLimit(1000, reset)
	p, err := e.client.CreateRetailLead(t.Context(), testKey, chatTonicLead())
	if err != nil || p.ID == "" {
		t.Fatalf("CreateRetailLead across a reset a moment away: %+v, %v", p, err)
	}
	if e.fake.Count(http.MethodPost, "/lead/retail") < 2 {
		t.Errorf("%d posts, want the 429 and a call again", e.fake.Count(http.MethodPost, "/lead/retail"))
	}

	e.fake.RateLimit(1, time.Now().Add(time.Minute))
	_, err = e.client.CreateRetailLead(t.Context(), testKey, chatTonicLead())
	if wait, ok := sales.RateLimitDelay(err); !ok || wait < 50*time.Second {
		t.Errorf("far reset: %v (wait %v), want ErrRateLimited for about a minute", err, wait)
	}
	assertNoKey(t, err)
}
