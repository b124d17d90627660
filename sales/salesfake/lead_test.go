package salesfake_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
)

func postLead(tb testing.TB, s *salesfake.Server, lead sales.RetailLead) sales.Prospect {
	tb.Helper()
	c, err := sales.New(s.BaseURL())
	if err != nil {
		tb.Fatal(err)
	}
	p, err := c.CreateRetailLead(tb.Context(), key, lead)
	if err != nil {
		tb.Fatalf("CreateRetailLead: %v", err)
	}
	return p
}

// waitNotes waits until rcv got n notifications and returns them.
func waitNotes(tb testing.TB, rcv *receiver, n int) []sales.Notification {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rcv.mu.Lock()
		got := append([]sales.Notification(nil), rcv.got...)
		rcv.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				tb.Fatalf("receiver got %d notifications, want %d", len(got), n)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRetailLeadNotifies(t *testing.T) {
	t.Parallel()
	s, in := newFake(t)
	s.SetLeadDelivery(5, 10*time.Millisecond)
	rcv := &receiver{statuses: []int{503}} // the first post fails: Sales posts again
	sub := subscribe(t, s, newReceiver(t, rcv))

	p := postLead(t, s, sales.RetailLead{UtmSource: "chat-tonic", Provider: "chat-tonic", FirstName: "Juan",
		Emails: []string{"Juan@Example.com"}, Phones: []string{"+54 11 4552 0371"}})
	notes := waitNotes(t, rcv, 2)
	n := notes[1]
	if n.SubscriptionID != sub.ID || n.Topic != sales.TopicProspects || n.Type != sales.NotificationCreated || n.Attempts != 1 ||
		len(n.Prospect) != 1 || n.Prospect[0].ID != p.ID || n.Prospect[0].GroupID != in.GroupID ||
		n.Prospect[0].EmailAddresses()[0] != "juan@example.com" || n.Prospect[0].Leads[0].ProviderKey != "chat-tonic" {
		t.Errorf("notification %+v", n)
	}

	// Matched by phone digits: the same prospect, notified as updated, with both leads.
	p2 := postLead(t, s, sales.RetailLead{UtmSource: "chat-tonic", Phones: []string{"5411-4552-0371"}})
	n = waitNotes(t, rcv, 3)[2]
	if p2.ID != p.ID || n.Type != sales.NotificationUpdated || len(n.Prospect[0].Leads) != 2 {
		t.Errorf("second lead: prospect %s, notification %+v", p2.ID, n)
	}
	// The fake records a delivery once the receiver has answered it: the last may still be
	// on its way back.
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Deliveries()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d := s.Deliveries(); len(d) != 3 || d[0].Status != 503 || d[1].Status != 200 {
		t.Errorf("%d deliveries, statuses %v, want 3: 503, 200, 200", len(d), statuses(d))
	}
}

func TestRetailLeadValidation(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	for _, body := range []string{`{`, `{"firstName":"x"}`, `{"utmSource":"x","emails":["a@b.c","no"]}`, `{"utmSource":"x"} {}`} {
		if r := do(t, s, http.MethodPost, "/lead/retail?api-key="+key, body); r.status != http.StatusBadRequest {
			t.Errorf("body %s: status %d, want 400", body, r.status)
		}
	}
	if r := do(t, s, http.MethodPost, "/lead/retail", `{"utmSource":"x"}`); r.status != http.StatusUnauthorized {
		t.Errorf("without a key: status %d, want 401", r.status)
	}
	if got := len(s.Deliveries()); got != 0 {
		t.Errorf("%d deliveries without a subscription", got)
	}
}

func TestRetailLeadCreatedWithoutSubscription(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	r := do(t, s, http.MethodPost, "/lead/retail?api-key="+key, `{"utmSource":"x","firstName":"Ana","emails":["ana@example.com"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d, want 201", r.status)
	}
	if r := do(t, s, http.MethodPost, "/lead/retail?api-key="+key, `{"utmSource":"y","emails":["ANA@example.com"]}`); r.status != http.StatusOK {
		t.Fatalf("matched: status %d, want 200", r.status)
	}
	time.Sleep(50 * time.Millisecond) // a delivery, were there one, would have started
	if got := len(s.Deliveries()); got != 0 {
		t.Errorf("%d deliveries without a subscription", got)
	}
}

func TestCloseEndsLeadDelivery(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t)
	s.SetLeadDelivery(20, time.Hour) // a failing callback would be retried for hours
	rcv := &receiver{statuses: []int{500}}
	subscribe(t, s, newReceiver(t, rcv))
	postLead(t, s, sales.RetailLead{UtmSource: "x", Emails: []string{"a@example.com"}})
	waitNotes(t, rcv, 1)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a delivery backing off for an hour")
	}
}

func statuses(ds []salesfake.Delivery) []int {
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = d.Status
	}
	return out
}
