package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// forwardingInstance is an installed, configured and subscribed instance.
type forwardingInstance struct {
	key, id, groupID string
}

// setupForwarding installs an instance with complete settings plus the extra settings JSON
// (e.g. `"stopFollowupOnClaim":false`), and checks it subscribed to Sales notifications.
func (e *testEnv) setupForwarding(key, extra string) forwardingInstance {
	e.t.Helper()
	integ := e.sales.AddIntegration(key, sales.Integration{})
	e.install(key)
	e.configure(key)
	if extra != "" {
		if res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: key, body: "{" + extra + "}"}); res.status != 200 {
			e.t.Fatalf("settings %s: %d %s", extra, res.status, res.body)
		}
	}
	sub, ok := e.sales.ActiveSubscription(integ.GroupID)
	if !ok {
		e.t.Fatalf("no active Sales subscription after configuring %s", key)
	}
	in := e.instance(key)
	if sub.Topics[0] != "prospects" || !strings.HasPrefix(sub.CallbackURL, e.url+"/webhooks/sales/"+in.ID+"?token=") {
		e.t.Fatalf("subscription = %+v", sub)
	}
	return forwardingInstance{key: key, id: in.ID, groupID: integ.GroupID}
}

func prospect(id, status string) sales.Prospect {
	return sales.Prospect{
		ID: id, FirstName: " Jorge ", LastName: "Letona", Status: status,
		Emails: []string{"Jorge." + id + "@Example.com"}, Phones: []string{"+54 9 11 4552-0371"},
		Leads: []sales.Lead{{UtmSource: "google", Comments: "Interested in the Civic"}},
	}
}

// notify has the fake Sales deliver one prospects notification and returns the App's status.
func (e *testEnv) notify(in forwardingInstance, typ string, updatedAt time.Time, ps ...sales.Prospect) int {
	e.t.Helper()
	status, err := e.sales.Notify(context.Background(), in.groupID, sales.Notification{Type: typ, UpdatedAt: updatedAt, Prospect: ps})
	if err != nil {
		e.t.Fatalf("notify: %v", err)
	}
	return status
}

// eventually waits, up to a generous bound, for cond; it is a wait, not a speed assertion.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leadRequests returns the fake 7Targets' recorded requests to path.
func (e *testEnv) leadRequests(method, path string) []seventargetsfake.Request {
	var out []seventargetsfake.Request
	for _, r := range e.st.Requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// delivery waits for the prospect's notification delivery to finish and returns it.
func (e *testEnv) finished(in forwardingInstance, prospectID string, state zen7.DeliveryState) zen7.Lead {
	e.t.Helper()
	var lead zen7.Lead
	eventually(e.t, "the lead record of "+prospectID+" and its deliveries finished", func() bool {
		l, err := e.outbox.Lead(context.Background(), in.id, prospectID)
		lead = l
		if err != nil || l.State != zen7.LeadState(state) {
			return false
		}
		// The record is saved before the delivery's outcome: wait for that too.
		ds, err := e.outbox.ProspectDeliveries(context.Background(), in.id, prospectID, 100)
		return err == nil && !slices.ContainsFunc(ds, func(d zen7.Delivery) bool { return d.State == zen7.StatePending })
	})
	return lead
}

func TestWebhookCreatesOneLead(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-create-01", `"source":"","scheduleName":"`+seventargetsfake.SeedScheduleName+`"`)

	if status := e.notify(in, "created", time.Time{}, prospect("507f191e810c19729de860ea", "unclaimed")); status != 200 {
		t.Fatalf("webhook answered %d", status)
	}
	lead := e.finished(in, "507f191e810c19729de860ea", "forwarded")
	posts := e.leadRequests("POST", "/leads")
	if len(posts) != 1 {
		t.Fatalf("%d POST /leads, want 1", len(posts))
	}
	r := posts[0]
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || r.Header.Get("7ts-user-identifier") != stUser {
		t.Errorf("headers: Authorization %q, 7ts-user-identifier %q", r.Header.Get("Authorization"), r.Header.Get("7ts-user-identifier"))
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "Jorge", "lastName": "Letona", "email": "jorge.507f191e810c19729de860ea@example.com", "phone": "+5491145520371",
		"source": "google", "assistantEmail": seventargetsfake.SeedAssistantEmail, "scheduleName": seventargetsfake.SeedScheduleName,
		"additionalInformationLine": "Interested in the Civic",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("lead %s = %v, want %v", k, body[k], v)
		}
	}
	if cf := fmt.Sprint(body["customFields"]); !strings.Contains(cf, "zenviaProspectId") || !strings.Contains(cf, "507f191e810c19729de860ea") {
		t.Errorf("customFields = %s", cf)
	}
	if lead.LeadID == 0 || lead.Email != want["email"] {
		t.Errorf("lead record = %+v", lead)
	}
	d, err := e.outbox.Delivery(context.Background(), deliveryOf(t, e, in, "507f191e810c19729de860ea"))
	if err != nil || d.State != zen7.StateDone || d.Outcome != zen7.OutcomeCreated || d.Attempts != 1 {
		t.Errorf("delivery = %+v, %v", d, err)
	}
}

// deliveryOf finds the id of the (single) finished delivery of a prospect.
func deliveryOf(t *testing.T, e *testEnv, in forwardingInstance, prospectID string) string {
	t.Helper()
	var id string
	eventually(t, "the delivery of "+prospectID, func() bool {
		ds, err := e.outbox.ProspectDeliveries(context.Background(), in.id, prospectID, 10)
		if err != nil || len(ds) == 0 {
			return false
		}
		id = ds[0].ID
		return true
	})
	return id
}

func TestTwentyProspectsCostOneToken(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-token-01", "")
	// The settings check took one of its own to check the credentials, and the assistants'
	// listing one for the instance, which forwarding then uses.
	before := e.st.TokenRequests() - 1

	for i := range 20 {
		if status := e.notify(in, "created", time.Time{}, prospect(fmt.Sprintf("p%023d", i), "new")); status != 200 {
			t.Fatalf("webhook %d answered %d", i, status)
		}
	}
	eventually(t, "20 leads", func() bool { return len(e.leadRequests("POST", "/leads")) == 20 })
	if got := e.st.TokenRequests() - before; got != 1 {
		t.Fatalf("20 leads cost %d token requests, want 1", got)
	}
	if n := len(e.st.Leads()); n != 20 {
		t.Fatalf("7Targets holds %d leads, want 20", n)
	}
}

func TestDuplicateNotificationsMakeOneLead(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-dupes-01", "")
	n := sales.Notification{Type: "created", Prospect: []sales.Prospect{prospect("dup0000000000000000000001", "unclaimed")}}

	var wg sync.WaitGroup
	for attempt := range 4 {
		wg.Go(func() {
			n := n
			n.Attempts = attempt // Sales' redeliveries differ in attempts and sent time only
			status, err := e.sales.Notify(context.Background(), in.groupID, n)
			if err != nil || status != 200 {
				t.Errorf("copy %d: %d %v", attempt, status, err)
			}
		})
	}
	wg.Wait()
	e.finished(in, "dup0000000000000000000001", "forwarded")
	// A late copy, after delivery, changes nothing either.
	if status, _ := e.sales.Notify(context.Background(), in.groupID, n); status != 200 {
		t.Fatalf("late copy answered %d", status)
	}
	time.Sleep(300 * time.Millisecond) // several poll intervals for a wrong second delivery to show
	if posts := e.leadRequests("POST", "/leads"); len(posts) != 1 {
		t.Fatalf("%d POST /leads for 5 copies of one notification, want 1", len(posts))
	}
}

// TestWebhookAnswerCountsDuplicates: the webhook's answer says what became of each prospect
// event: queued for delivery, or a duplicate, whether its first copy is still waiting or was
// delivered already (Sales retries and duplicates, before and after the App delivered).
func TestWebhookAnswerCountsDuplicates(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-answer-01", "")
	sub, _ := e.sales.ActiveSubscription(in.groupID)
	const first, second = "answer000000000000000001", "answer000000000000000002"
	post := func(attempts int, prospectIDs ...string) string {
		t.Helper()
		var ps []sales.Prospect
		for _, id := range prospectIDs {
			ps = append(ps, prospect(id, "unclaimed"))
		}
		body, err := json.Marshal(sales.Notification{SubscriptionID: sub.ID, Topic: sales.TopicProspects,
			Type: sales.NotificationCreated, Attempts: attempts, Sent: time.Now().UTC(), Prospect: ps})
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.Post(sub.CallbackURL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("webhook: %d %s", res.StatusCode, b)
		}
		return string(b)
	}
	e.st.SetDown(true) // the first copy stays in the outbox, retrying
	if got := post(1, first); got != `{"queued":1}` {
		t.Fatalf("first copy answered %s", got)
	}
	if got := post(2, first); got != `{"queued":0,"duplicates":1}` {
		t.Errorf("copy while the first is pending answered %s, want one duplicate", got)
	}
	e.st.SetDown(false)
	e.finished(in, first, "forwarded")
	eventually(t, "the first copy in the history", func() bool {
		done, err := e.outbox.Finished(context.Background(), deliveryOf(t, e, in, first))
		return err == nil && done
	})
	if got := post(3, first); got != `{"queued":0,"duplicates":1}` {
		t.Errorf("copy after the first was delivered answered %s, want one duplicate", got)
	}
	// Another notification naming the same prospect is another event, not a copy.
	if got := post(4, first, second); got != `{"queued":2}` {
		t.Errorf("a notification of two prospects answered %s", got)
	}
	e.finished(in, second, "forwarded")
	eventually(t, "both events of the second notification in the history", func() bool {
		ds, err := e.outbox.ProspectDeliveries(context.Background(), in.id, first, 10)
		return err == nil && len(ds) == 2 && ds[0].State != zen7.StatePending && ds[1].State != zen7.StatePending
	})
	if got := post(5, first, second); got != `{"queued":0,"duplicates":2}` {
		t.Errorf("its copy after delivery answered %s, want two duplicates", got)
	}
	// 7Targets accepted one creation per prospect. (A POST /leads it refused while down, which
	// the first copy's attempt may reach before it is up again, created nothing.)
	if n := e.creations(); n != 2 {
		t.Errorf("7Targets accepted %d lead creations for two prospects, want 2", n)
	}
	if n := len(e.st.Leads()); n != 2 {
		t.Errorf("7Targets holds %d leads for two prospects, want 2", n)
	}
}

func TestClaimStopsFollowup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings string
		status   string
		wantStop bool
	}{
		{name: "claimed", status: "followUp", wantStop: true},
		{name: "archived", status: "archived", wantStop: true},
		{name: "still unclaimed", status: "unclaimed", wantStop: false},
		{name: "stop on claim off", settings: `"stopFollowupOnClaim":false`, status: "followUp", wantStop: false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			in := e.setupForwarding(fmt.Sprintf("key-fwd-claim-%02d", i), tt.settings)
			pid := fmt.Sprintf("claim%019d", i)
			t0 := time.Now().UTC().Add(-time.Minute)
			e.notify(in, "created", t0, prospect(pid, "unclaimed"))
			e.finished(in, pid, "forwarded")

			claimed := prospect(pid, tt.status)
			claimed.Phones = []string{"+54 11 0000 0000"} // a real change, so "no stop" still updates
			e.notify(in, "updated", t0.Add(30*time.Second), claimed)
			if tt.wantStop {
				e.finished(in, pid, "stopped")
				stops := e.leadRequests("PUT", "/leads/stop/followup")
				if len(stops) != 1 {
					t.Fatalf("%d stop requests, want 1", len(stops))
				}
				var body map[string]any
				_ = json.Unmarshal(stops[0].Body, &body)
				if body["id"] == nil || body["email"] == nil {
					t.Errorf("stop body = %s, want the lead's id and email", stops[0].Body)
				}
				return
			}
			eventually(t, "the update", func() bool { return len(e.leadRequests("PUT", "/leads")) == 1 })
			if n := len(e.leadRequests("PUT", "/leads/stop/followup")); n != 0 {
				t.Fatalf("%d stop requests, want none", n)
			}
		})
	}
}

func TestClaimedBeforeForwardedIsNeverCreated(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-order-01", "")
	t0 := time.Now().UTC().Add(-time.Hour)
	// The claim arrives (or is processed) before the creation it follows.
	e.notify(in, "updated", t0.Add(time.Minute), prospect("order00000000000000000001", "followUp"))
	e.finished(in, "order00000000000000000001", "skipped")
	e.notify(in, "created", t0, prospect("order00000000000000000001", "unclaimed"))
	eventually(t, "both deliveries", func() bool {
		ds, _ := e.outbox.ProspectDeliveries(context.Background(), in.id, "order00000000000000000001", 10)
		return len(ds) == 2 && ds[0].State != zen7.StatePending && ds[1].State != zen7.StatePending
	})
	if n := len(e.leadRequests("POST", "/leads")); n != 0 {
		t.Fatalf("%d leads created for a prospect an agent had already taken", n)
	}
}

func TestProspectWithoutEmailIsSkipped(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-noemail-1", "")
	p := prospect("noemail000000000000000001", "unclaimed")
	p.Emails = nil
	e.notify(in, "created", time.Time{}, p)
	lead := e.finished(in, p.ID, "skipped")
	if lead.Reason.String() != "the prospect has no email address" {
		t.Fatalf("reason = %q", lead.Reason)
	}
	d, _ := e.outbox.Delivery(context.Background(), deliveryOf(t, e, in, p.ID))
	if d.State != zen7.StateSkipped || d.Reason != lead.Reason {
		t.Fatalf("delivery = %+v", d)
	}
	if n := len(e.leadRequests("POST", "/leads")); n != 0 {
		t.Fatalf("%d POST /leads", n)
	}
}

func TestSevenTargetsFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     func(st *seventargetsfake.Server)
		heal      func(st *seventargetsfake.Server)
		wantState zen7.DeliveryState
		minCalls  int
	}{
		{name: "503 several times", fault: func(st *seventargetsfake.Server) { st.FailNext(3, 503) }, wantState: zen7.StateDone, minCalls: 4},
		{name: "429", fault: func(st *seventargetsfake.Server) { st.FailNext(1, 429) }, wantState: zen7.StateDone, minCalls: 2},
		{
			name:      "timeouts",
			fault:     func(st *seventargetsfake.Server) { st.SetLatency(10 * time.Second) },
			heal:      func(st *seventargetsfake.Server) { st.SetLatency(0) },
			wantState: zen7.StateDone, minCalls: 1,
		},
		{name: "400 is permanent", fault: func(st *seventargetsfake.Server) { st.FailNext(1, 400) }, wantState: zen7.StateFailed, minCalls: 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			in := e.setupForwarding(fmt.Sprintf("key-fwd-fault-%02d", i), "")
			tt.fault(e.st)
			pid := fmt.Sprintf("fault%019d", i)
			if status := e.notify(in, "created", time.Time{}, prospect(pid, "new")); status != 200 {
				t.Fatalf("webhook answered %d while 7Targets is failing", status)
			}
			id := deliveryOf(t, e, in, pid)
			if tt.heal != nil {
				eventually(t, "an attempt to time out", func() bool {
					d, err := e.outbox.Delivery(context.Background(), id)
					return err == nil && d.Attempts >= 1 && d.LastError != ""
				})
				tt.heal(e.st)
			}
			var d zen7.Delivery
			eventually(t, "the delivery to finish", func() bool {
				d, _ = e.outbox.Delivery(context.Background(), id)
				return d.State != zen7.StatePending && d.State != ""
			})
			if d.State != tt.wantState {
				t.Fatalf("delivery state = %s (%s), want %s", d.State, d.Reason, tt.wantState)
			}
			if calls := len(e.leadRequests("POST", "/leads")); calls < tt.minCalls {
				t.Errorf("%d POST /leads, want at least %d", calls, tt.minCalls)
			}
			if tt.wantState == zen7.StateFailed {
				if d.Reason.String() == "" || d.Attempts != 1 {
					t.Errorf("failed delivery = %+v, want its reason kept after one attempt", d)
				}
				return
			}
			if n := len(e.st.Leads()); n != 1 {
				t.Errorf("7Targets holds %d leads, want 1", n)
			}
		})
	}
}

func TestNoForwardingWhenDisabledOrUninstalled(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-off-0001", "")
	sub, _ := e.sales.ActiveSubscription(in.groupID)
	post := func(url string) int {
		body := `{"topic":"prospects","type":"created","prospect":[{"id":"off000000000000000000001","firstName":"A","emails":["a@example.com"],"status":"new"}]}`
		res, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	wrong := strings.Replace(sub.CallbackURL, "token=", "token=x", 1)
	if s := post(wrong); s != 401 {
		t.Fatalf("wrong token: %d, want 401", s)
	}
	if s := post(e.url + "/webhooks/sales/unknown-instance?token=abc"); s != 401 {
		t.Fatalf("unknown instance: %d, want 401", s)
	}

	if res := e.do(request{method: "PUT", path: "/lifecycle/enabled", apiKey: in.key, body: `{"enabled":false}`}); res.status != 200 {
		t.Fatalf("disable: %d", res.status)
	}
	if _, ok := e.sales.ActiveSubscription(in.groupID); ok {
		t.Fatal("disabling kept the Sales subscription")
	}
	if s := post(sub.CallbackURL); s != 401 {
		t.Fatalf("webhook to a disabled instance: %d, want 401 (its token is dropped with the subscription)", s)
	}

	if res := e.do(request{method: "PUT", path: "/lifecycle/enabled", apiKey: in.key, body: `{"enabled":true}`}); res.status != 200 {
		t.Fatalf("enable: %d", res.status)
	}
	resub, ok := e.sales.ActiveSubscription(in.groupID)
	if !ok || resub.CallbackURL == sub.CallbackURL {
		t.Fatalf("re-enabling: subscription %+v, want a new one with a new token", resub)
	}
	if res := e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: in.key}); res.status != 200 {
		t.Fatalf("uninstall: %d", res.status)
	}
	if _, ok := e.sales.ActiveSubscription(in.groupID); ok {
		t.Fatal("uninstalling kept the Sales subscription")
	}
	if s := post(resub.CallbackURL); s != 401 {
		t.Fatalf("webhook to an uninstalled instance: %d, want 401", s)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(e.leadRequests("POST", "/leads")); n != 0 {
		t.Fatalf("%d leads forwarded for a disabled or uninstalled instance", n)
	}
}

func TestKeyRefreshResubscribes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-rekey-001", "")
	old, _ := e.sales.ActiveSubscription(in.groupID)
	e.sales.RefreshKey(in.key, "key-fwd-rekey-002")
	if res := e.do(request{method: "PUT", path: "/lifecycle/api-key", apiKey: in.key, body: `{"newApiKey":"key-fwd-rekey-002"}`}); res.status != 200 {
		t.Fatalf("refresh: %d %s", res.status, res.body)
	}
	now, ok := e.sales.ActiveSubscription(in.groupID)
	if !ok || now.ID == old.ID {
		t.Fatalf("after refresh: subscription %+v (old %s), want a new one", now, old.ID)
	}
	if e.notify(in, "created", time.Time{}, prospect("rekey0000000000000000001", "new")) != 200 {
		t.Fatal("webhook after refresh refused")
	}
	e.finished(in, "rekey0000000000000000001", "forwarded")
}

func TestSubscriptionRepairedWhenSalesWasDown(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	integ := e.sales.AddIntegration("key-fwd-repair-01", sales.Integration{})
	e.install("key-fwd-repair-01")
	e.sales.SetDown(true)
	e.configure("key-fwd-repair-01") // settings saved; subscribing fails
	e.sales.SetDown(false)
	if _, ok := e.sales.ActiveSubscription(integ.GroupID); ok {
		t.Fatal("subscribed while Sales was down?")
	}
	if err := e.subscriber.Repair(context.Background(), false); err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if _, ok := e.sales.ActiveSubscription(integ.GroupID); !ok {
		t.Fatal("Repair did not subscribe the instance")
	}
	// At start the App checks its recorded subscriptions with Sales and replaces lost ones.
	sub, _ := e.sales.ActiveSubscription(integ.GroupID)
	if status := deleteSubscription(t, e.sales, "key-fwd-repair-01", sub.ID); status != 200 {
		t.Fatalf("delete at fake: %d", status)
	}
	if err := e.subscriber.Repair(context.Background(), true); err != nil {
		t.Fatalf("Repair(verify): %v", err)
	}
	if again, ok := e.sales.ActiveSubscription(integ.GroupID); !ok || again.ID == sub.ID {
		t.Fatalf("lost subscription not replaced: %+v", again)
	}

	// After PUBLIC_BASE_URL changes, the verification moves the subscription to the new URL.
	moved := forwarding.NewSubscriber(salesClientFor(t, e), e.instances, "https://new.example.com", slog.New(slog.DiscardHandler))
	if err := moved.Repair(context.Background(), true); err != nil {
		t.Fatalf("Repair(verify) with a new base URL: %v", err)
	}
	now, ok := e.sales.ActiveSubscription(integ.GroupID)
	if !ok || !strings.HasPrefix(now.CallbackURL, "https://new.example.com/webhooks/sales/") {
		t.Fatalf("subscription after a base URL change = %+v", now)
	}
}

// TestSubscriptionsFollowTheDeploymentsURL: a subscriber whose base URL is not the one the
// database records subscribes nothing (a process left running after `server move-base-url`
// would take the webhooks back); MoveAll subscribes every instance that should be again, on
// the recorded URL, with a new token, and leaves the others alone.
func TestSubscriptionsFollowTheDeploymentsURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t)
	integ := e.sales.AddIntegration("key-fwd-move-01", sales.Integration{})
	e.install("key-fwd-move-01")
	e.configure("key-fwd-move-01")
	e.sales.AddIntegration("key-fwd-move-02", sales.Integration{})
	e.install("key-fwd-move-02") // no settings: nothing to subscribe
	before, ok := e.sales.ActiveSubscription(integ.GroupID)
	if !ok {
		t.Fatal("no subscription after the settings")
	}
	if _, err := e.db.ClaimPublicBaseURL(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	const newURL = "https://moved.example.com"
	old := forwarding.NewSubscriber(salesClientFor(t, e), e.instances, e.url, slog.New(slog.DiscardHandler))
	old.SetDeployment(e.db)
	moved := forwarding.NewSubscriber(salesClientFor(t, e), e.instances, newURL, slog.New(slog.DiscardHandler))
	moved.SetDeployment(e.db)

	if _, err := moved.MoveAll(ctx); !errors.Is(err, zen7.ErrConflict) {
		t.Fatalf("MoveAll before the URL is recorded: %v, want ErrConflict", err)
	}
	if now, _ := e.sales.ActiveSubscription(integ.GroupID); now.ID != before.ID {
		t.Fatalf("a subscriber on an unrecorded URL subscribed: %+v", now)
	}

	if _, err := e.db.SetPublicBaseURL(ctx, newURL); err != nil {
		t.Fatal(err)
	}
	n, err := moved.MoveAll(ctx)
	if err != nil || n != 1 {
		t.Fatalf("MoveAll = %d, %v; want 1 instance moved", n, err)
	}
	after, ok := e.sales.ActiveSubscription(integ.GroupID)
	if !ok || !strings.HasPrefix(after.CallbackURL, newURL+"/webhooks/sales/") ||
		strings.TrimPrefix(after.CallbackURL, newURL) == strings.TrimPrefix(before.CallbackURL, e.url) {
		t.Fatalf("after MoveAll the subscription is %+v; want it under %s with a new token", after, newURL)
	}

	// The old process's repair, which would see the callback under another URL than its own.
	if err := old.Repair(ctx, true); !errors.Is(err, zen7.ErrConflict) {
		t.Fatalf("Repair on the old URL: %v, want ErrConflict", err)
	}
	if now, _ := e.sales.ActiveSubscription(integ.GroupID); now.ID != after.ID {
		t.Fatalf("the old URL's repair subscribed again: %+v", now)
	}
}

func salesClientFor(t *testing.T, e *testEnv) *sales.Client {
	t.Helper()
	c, err := sales.New(e.sales.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deleteSubscription(t *testing.T, f *salesfake.Server, key, id string) int {
	t.Helper()
	req, _ := http.NewRequest("DELETE", f.BaseURL()+"/notifications/subscription/"+id+"?api-key="+key, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestForwardingMetrics(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-fwd-metrics-1", "")
	e.st.FailNext(1, 503)
	e.notify(in, "created", time.Time{}, prospect("metrics00000000000000001", "new"))
	e.notify(in, "created", time.Time{}, prospect("metrics00000000000000001", "new")) // a duplicate
	e.finished(in, "metrics00000000000000001", "forwarded")

	var body string
	eventually(t, "the delivery to be counted and the outbox gauges to catch up", func() bool {
		res := e.do(request{method: "GET", path: "/metrics", noAuth: true})
		body = string(res.body)
		return strings.Contains(body, `forwarding_deliveries_total{outcome="created",state="done"} 1`) &&
			strings.Contains(body, "forwarding_outbox_depth 0")
	})
	for _, want := range []string{
		`forwarding_deliveries_total{outcome="created",state="done"} 1`,
		`forwarding_attempts_total{result="error"} 1`,
		`forwarding_attempts_total{result="ok"} 1`,
		`forwarding_webhook_events_total{result="queued"} 1`,
		`forwarding_webhook_events_total{result="duplicate"} 1`,
		`seventargets_token_requests_total{outcome="ok"}`,
		`upstream_request_duration_seconds_count{op="CreateLead",service="seventargets",status="201"} 1`,
		`upstream_request_duration_seconds_count{op="CreateLead",service="seventargets",status="503"} 1`,
		`upstream_request_duration_seconds_count{op="subscribe",service="sales",status="201"} 1`,
		`forwarding_outbox_oldest_age_seconds 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestWebhookWithTheDatabaseDown: when nothing can be stored, the webhook says so with 503 and
// Retry-After, so Sales delivers it again later, rather than a 2xx that would lose it.
func TestWebhookWithTheDatabaseDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir(), Database: "down"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(ctx); err != nil { // the database is gone from now on
		t.Fatal(err)
	}
	intake := forwarding.NewIntake(store.NewOutbox(db), store.NewInstances(db, storetest.NewKeyring(t)), nil, nil)
	srv := httptest.NewServer(app.New(app.Config{Logger: slog.New(slog.DiscardHandler), Intake: intake, Store: db}))
	defer srv.Close()

	res, err := http.Post(srv.URL+"/webhooks/sales/some-instance?token=t", "application/json",
		strings.NewReader(`{"topic":"prospects","type":"created","prospect":[{"id":"p1","emails":["a@b.co"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	ready, _ := http.Get(srv.URL + "/readyz")
	ready.Body.Close()
	if ready.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database down: %d", ready.StatusCode)
	}
}

// TestExcludedEmailsAreNeverSent checks the excludeEmails setting over HTTP: a list with an
// entry that is no address or domain is refused on that key, naming it; a prospect whose email
// or domain is listed is recorded as skipped with reason "excluded", from a webhook as from the
// agent's button, and 7Targets never hears of it; others go on as usual.
func TestExcludedEmailsAreNeverSent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.setupForwarding("key-exclusions-01", `"excludeEmails":"@example.com, boss@other.example"`)
	res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: in.key, body: `{"excludeEmails":"@example.com, not-a-domain"}`})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `not-a-domain`) || !strings.Contains(string(res.body), `"excludeEmails"`) {
		t.Fatalf("a bad list: %d %s, want 422 on excludeEmails naming the entry", res.status, res.body)
	}

	const excluded, kept = "exclude00000000000000001", "exclude00000000000000002"
	if status := e.notify(in, "created", time.Time{}, prospect(excluded, "new")); status != http.StatusOK { // Jorge.…@Example.com
		t.Fatalf("webhook: %d", status)
	}
	other := prospect(kept, "new")
	other.Emails = []string{"jorge@elsewhere.example"}
	if status := e.notify(in, "created", time.Time{}, other); status != http.StatusOK {
		t.Fatalf("webhook: %d", status)
	}
	lead := e.finished(in, excluded, zen7.StateSkipped)
	if lead.Reason != zen7.Because(zen7.ReasonExcluded) {
		t.Errorf("reason = %+v, want excluded", lead.Reason)
	}
	e.finished(in, kept, "forwarded")
	if n := e.leadPostsFor(excluded); n != 0 {
		t.Errorf("%d POST /leads for the excluded prospect, want 0", n)
	}
	if n := len(e.leadRequests("POST", "/leads")); n != 1 {
		t.Errorf("%d POST /leads in all, want 1: the other prospect's", n)
	}
}
