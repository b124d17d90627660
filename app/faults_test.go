package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/store"
)

// The faults of issue 7, each shown over real HTTP against the real store and the loopback
// fakes: the database unreachable, 7Targets slow for one account, Zenvia Sales down at install
// and at subscription time. Waits are generous bounds for a loaded machine, never speed
// assertions.

// waitFor waits up to bound for cond, polling; it is a wait, not a speed assertion.
func waitFor(tb testing.TB, what string, bound time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", bound, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// storeServer is an embedded store served on a fixed loopback address, which the test stops
// and starts again on the same address and data directory, as an outage of a database server.
type storeServer struct {
	tb   testing.TB
	dir  string
	addr string
	mu   sync.Mutex
	e    *store.Embedded
}

func startStoreServer(tb testing.TB) *storeServer {
	tb.Helper()
	s := &storeServer{tb: tb, dir: tb.TempDir(), addr: "127.0.0.1:0"}
	s.start()
	u, err := url.Parse(s.e.URI())
	if err != nil {
		tb.Fatal(err)
	}
	s.addr = u.Host // the port picked: a restart listens on it again
	tb.Cleanup(s.stop)
	return s
}

func (s *storeServer) start() {
	s.tb.Helper()
	e, err := store.StartEmbeddedOn(s.dir, s.addr, slog.New(slog.DiscardHandler))
	if err != nil {
		s.tb.Fatalf("starting the store on %s: %v", s.addr, err)
	}
	s.mu.Lock()
	s.e = e
	s.mu.Unlock()
}

// stop stops the server and waits for it to close its files; stopping twice is a no-op.
func (s *storeServer) stop() {
	s.mu.Lock()
	e := s.e
	s.mu.Unlock()
	e.Stop()
}

// openClient connects to the server as a separate client, as the App connects to a MongoDB
// server by its URI. One connection, as the App gives the embedded store (docs/architecture.md).
func (s *storeServer) openClient(tb testing.TB) *store.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, store.Config{URI: "mongodb://" + s.addr + "/?maxPoolSize=1", Database: "faults"})
	if err != nil {
		tb.Fatalf("opening the store at %s: %v", s.addr, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Close(ctx)
	})
	return db
}

// webhookPost posts a notification body to a callback URL as Sales does and returns the
// status and the Retry-After header; status 0 (and a test error) when no answer came. It may
// run in a goroutine of its own.
func webhookPost(tb testing.TB, callbackURL string, body []byte) (int, string) {
	tb.Helper()
	// Sales gives up on a webhook after 10 s: the App must answer within that to be heard.
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Post(callbackURL, "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Errorf("webhook post: %v", err)
		return 0, ""
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After")
}

func readyStatus(tb testing.TB, base string) int {
	tb.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestDatabaseOutageRecoversWithoutRestart stops the database server under a running App and
// starts it again: while it is down /readyz answers 503 and webhooks 503 with Retry-After (so
// Sales delivers them again) instead of a 2xx that would lose them; once it is back the same
// App, not restarted, is ready again, accepts the re-sent webhooks, and every notification
// acknowledged with 200 or re-sent after a 503 becomes exactly one lead creation at 7Targets.
func TestDatabaseOutageRecoversWithoutRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cached bool // webhook targets cached, as the App runs: the outage shows at the insert
	}{
		{name: "webhook target read from the store"},
		{name: "webhook target cached", cached: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testDatabaseOutage(t, fmt.Sprintf("key-fault-db-%05d", i), tt.cached)
		})
	}
}

func testDatabaseOutage(t *testing.T, key string, cached bool) {
	srv := startStoreServer(t)
	e := newTestEnvOn(t, srv.openClient(t))
	if cached {
		e.instances.CacheWebhookTargets(time.Hour) // before the first request, as cmd/server does
	}
	in := e.setupForwarding(key, "")
	sub, _ := e.sales.ActiveSubscription(in.groupID)

	var acked, refused []string
	for i := range 4 {
		acked = append(acked, fmt.Sprintf("dbup%020d", i))
		refused = append(refused, fmt.Sprintf("dbdown%018d", i))
	}
	bodies := map[string][]byte{} // each prospect's notification, the same bytes every time sent
	for _, pid := range append(append([]string{}, acked...), refused...) {
		b, err := json.Marshal(sales.Notification{
			SubscriptionID: sub.ID, Topic: sales.TopicProspects, Type: "created", Prospect: []sales.Prospect{prospect(pid, "new")},
		})
		if err != nil {
			t.Fatal(err)
		}
		bodies[pid] = b
	}
	body := func(pid string) []byte { return bodies[pid] }

	// 7Targets is down too, so what is acknowledged now is still in the outbox when the
	// database goes: it must survive the outage, not just what was already forwarded.
	e.st.SetDown(true)
	for _, pid := range acked {
		if status, _ := webhookPost(t, sub.CallbackURL, body(pid)); status != http.StatusOK {
			t.Fatalf("webhook %s with the database up: %d, want 200", pid, status)
		}
	}
	// A wait, not one probe: the App's one store connection may be busy past /readyz's 2 s.
	waitFor(t, "/readyz to answer 200 with the database up", time.Minute, func() bool { return readyStatus(t, e.url) == http.StatusOK })

	srv.stop()
	waitFor(t, "/readyz to answer 503", time.Minute, func() bool { return readyStatus(t, e.url) == http.StatusServiceUnavailable })
	resent := append(append([]string{}, refused...), acked[0]) // acked[0]: a redelivery Sales makes meanwhile
	var wg sync.WaitGroup
	for _, pid := range resent {
		wg.Go(func() {
			status, retryAfter := webhookPost(t, sub.CallbackURL, body(pid))
			if status != http.StatusServiceUnavailable || retryAfter == "" {
				t.Errorf("webhook %s with the database down: %d, Retry-After %q; want 503 with Retry-After", pid, status, retryAfter)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Down long enough for the worker's reads to fail too (past the driver's 10 s server
	// selection), not just to wait: it must keep going through store errors.
	waitFor(t, "the worker to meet the outage", time.Minute, func() bool { return strings.Contains(e.logs.String(), "reading the outbox failed") })

	e.st.SetDown(false)
	srv.start()
	waitFor(t, "/readyz to answer 200 again", time.Minute, func() bool { return readyStatus(t, e.url) == http.StatusOK })
	for _, pid := range resent { // as Sales retries after Retry-After
		if status, _ := webhookPost(t, sub.CallbackURL, body(pid)); status != http.StatusOK {
			t.Fatalf("webhook %s re-sent after recovery: %d, want 200", pid, status)
		}
	}

	all := append(append([]string{}, acked...), refused...)
	for _, pid := range all {
		waitFor(t, "the lead of "+pid, 2*time.Minute, func() bool {
			l, err := e.outbox.Lead(context.Background(), in.id, pid)
			return err == nil && l.State == zen7.LeadForwarded
		})
	}
	time.Sleep(500 * time.Millisecond) // several poll intervals for a wrong second creation to show
	// Each prospect's lead is forwarded, so each had a creation 7Targets accepted; as many
	// accepted creations as prospects means none had two.
	if got := e.creations(); got != len(all) {
		t.Errorf("7Targets accepted %d lead creations for %d notifications, want one each", got, len(all))
	}
	if got := len(e.st.Leads()); got != len(all) {
		t.Errorf("7Targets holds %d leads, want %d", got, len(all))
	}
}

// 7Targets credentials of a second organisation, the one whose account is slow.
const (
	slowClientID     = "st-slow-client"
	slowClientSecret = "st-slow-client-secret-0123"
	slowUser         = "st-slow-user"
)

// creations counts the lead creations 7Targets answered 201, read from the App's /metrics.
func (e *testEnv) creations() int {
	e.t.Helper()
	res := e.do(request{method: "GET", path: "/metrics", noAuth: true})
	const series = `upstream_request_duration_seconds_count{op="CreateLead",service="seventargets",status="201"} `
	for line := range strings.SplitSeq(string(res.body), "\n") {
		if v, ok := strings.CutPrefix(line, series); ok {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				e.t.Fatalf("metric %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

// leadPostsFor counts the POST /leads 7Targets received for the prospect's email.
func (e *testEnv) leadPostsFor(pid string) int {
	want := strings.ToLower("Jorge." + pid + "@Example.com")
	n := 0
	for _, r := range e.leadRequests("POST", "/leads") {
		var lead struct{ Email string }
		if json.Unmarshal(r.Body, &lead) == nil && lead.Email == want {
			n++
		}
	}
	return n
}

// TestSlowSevenTargetsAccount makes one organisation's 7Targets account hang far longer than a
// delivery's budget while another instance's leads keep flowing: the slow calls time out and
// free their worker slots, so the other instance's lead is forwarded while the slow ones are
// still failing (no starvation, even when the slow account holds more deliveries than the
// worker has slots); the timed-out deliveries are retried and, once 7Targets answers again,
// each becomes exactly one lead.
func TestSlowSevenTargetsAccount(t *testing.T) {
	t.Parallel()
	// The worker runs 32 deliveries at once (forwarding.WorkerConfig.Concurrency's default); the
	// test env gives a call 2 s and a delivery 3 s (newTestEnv).
	tests := []struct {
		name string
		slow int // deliveries of the slow account hanging at once
	}{
		{name: "one slow delivery", slow: 1},
		{name: "more slow deliveries than worker slots", slow: 40},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			// Closed before the worker stops (cleanups run last first): should calls hang, the
			// test fails rather than waiting the hang out.
			t.Cleanup(e.st.Close)
			e.st.AddClient(slowClientID, slowClientSecret, slowUser)
			slowIn := e.setupForwarding(fmt.Sprintf("key-fault-slow-%02d", i),
				`"clientId":"`+slowClientID+`","clientSecret":"`+slowClientSecret+`","userIdentifier":"`+slowUser+`"`)
			fastIn := e.setupForwarding(fmt.Sprintf("key-fault-fast-%02d", i), "")

			// One lead of the slow account while it is fast: its token is cached, so what hangs
			// later is the lead call itself.
			warm := fmt.Sprintf("slowwarm%016d", i)
			e.notify(slowIn, "created", time.Time{}, prospect(warm, "new"))
			e.finished(slowIn, warm, "forwarded")

			e.st.SetClientLatency(slowClientID, 10*time.Minute) // hangs far past every bound below
			var slow []string
			for j := range tt.slow {
				pid := fmt.Sprintf("slow%02d%018d", i, j)
				slow = append(slow, pid)
				if status := e.notify(slowIn, "created", time.Time{}, prospect(pid, "new")); status != 200 {
					t.Fatalf("webhook %s: %d", pid, status)
				}
			}
			hanging := min(tt.slow, 8) // the slow account's share of the worker's 32 slots (WorkerConfig.PerInstance)
			waitFor(t, fmt.Sprintf("%d slow lead calls to reach 7Targets", hanging), time.Minute, func() bool {
				n := 0
				for _, pid := range slow {
					n += min(e.leadPostsFor(pid), 1)
				}
				return n >= hanging
			})

			fast := fmt.Sprintf("fastlead%016d", i)
			if status := e.notify(fastIn, "created", time.Time{}, prospect(fast, "new")); status != 200 {
				t.Fatalf("webhook %s: %d", fast, status)
			}
			// The bound is a wait for a loaded machine, not a speed assertion: it is far below the
			// slow account's 10 minutes, which a worker without timeouts would wait out.
			waitFor(t, "the other instance's lead while the slow account hangs", time.Minute, func() bool {
				l, err := e.outbox.Lead(context.Background(), fastIn.id, fast)
				return err == nil && l.State == zen7.LeadForwarded
			})
			for _, pid := range slow {
				if l, err := e.outbox.Lead(context.Background(), slowIn.id, pid); err == nil && l.State == zen7.LeadForwarded {
					t.Fatalf("slow prospect %s forwarded while its account hangs", pid)
				}
			}
			// The slow calls time out and are retried: each slow delivery is released for another
			// attempt with the timeout as its last error.
			for _, pid := range slow {
				id := deliveryOf(t, e, slowIn, pid)
				waitFor(t, "a timed-out attempt of "+pid, time.Minute, func() bool {
					d, err := e.outbox.Delivery(context.Background(), id)
					return err == nil && d.State == zen7.StatePending && d.Attempts >= 1 && d.LastError != ""
				})
				d, _ := e.outbox.Delivery(context.Background(), id)
				if !strings.Contains(d.LastError, "deadline") && !strings.Contains(d.LastError, "timeout") {
					t.Errorf("slow delivery's last error = %q, want a timeout", d.LastError)
				}
			}

			e.st.SetClientLatency(slowClientID, 0)
			for _, pid := range slow {
				waitFor(t, "the slow lead "+pid+" once 7Targets is fast again", 2*time.Minute, func() bool {
					l, err := e.outbox.Lead(context.Background(), slowIn.id, pid)
					return err == nil && l.State == zen7.LeadForwarded
				})
			}
			time.Sleep(300 * time.Millisecond) // several poll intervals for a wrong second creation to show
			// Every prospect, warm, slow and fast, is exactly one lead: as many leads at 7Targets,
			// and as many creations it accepted, as prospects.
			prospects := len(slow) + 2
			if got := len(e.st.Leads()); got != prospects {
				t.Errorf("7Targets holds %d leads, want %d", got, prospects)
			}
			if got := e.creations(); got != prospects {
				t.Errorf("7Targets accepted %d lead creations, want %d (one per prospect)", got, prospects)
			}
			for _, pid := range slow {
				d, err := e.outbox.Delivery(context.Background(), deliveryOf(t, e, slowIn, pid))
				if err != nil || d.State != zen7.StateDone || d.Outcome != zen7.OutcomeCreated || d.Attempts < 2 {
					t.Errorf("slow delivery %s = %+v, %v; want created after at least one timed-out attempt", pid, d, err)
				}
			}
		})
	}
}

// TestSalesDownAtInstallAndSubscription: with Zenvia Sales unreachable at install, at the
// settings update that subscribes, or both, the hooks still succeed, and the App's own
// background loops, run as cmd/server runs them, retry while Sales stays down and finish the
// job once it is back: the account lookup is recorded (the embedded report page of the
// instance's group opens) and the subscription is made (a Sales notification becomes a lead).
// TestAccountLookedUpAtInstall and TestSubscriptionRepairedWhenSalesWasDown call the retry
// passes directly, and lifecycle's TestServiceInstallAccountLookupFailsThenResolves covers the
// service alone; this shows the loops doing it, end to end over HTTP.
func TestSalesDownAtInstallAndSubscription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                          string
		downAtInstall, downAtSettings bool
	}{
		{name: "down at install", downAtInstall: true},
		{name: "down at subscription", downAtSettings: true},
		{name: "down at both", downAtInstall: true, downAtSettings: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			key := fmt.Sprintf("key-fault-sales-%02d", i)
			integ := e.sales.AddIntegration(key, sales.Integration{})
			report := e.signedURL(reportPath(integ.GroupID, "en"), true)

			e.sales.SetDown(tt.downAtInstall)
			e.install(key) // 201 whether Sales answers or not
			e.sales.SetDown(tt.downAtSettings)
			e.configure(key) // 200 whether Sales answers or not
			if got := e.instance(key).Account.Resolved(); got == tt.downAtInstall {
				t.Fatalf("account resolved = %v with Sales down at install = %v", got, tt.downAtInstall)
			}
			if _, got := e.sales.ActiveSubscription(integ.GroupID); got == tt.downAtSettings {
				t.Fatalf("subscribed = %v with Sales down at subscription = %v", got, tt.downAtSettings)
			}

			// The loops start while Sales is still down, and keep trying.
			e.sales.SetDown(true)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			t.Cleanup(func() { cancel(); wg.Wait() })
			accounts := &lifecycle.AccountSync{Service: e.svc, Logger: slog.New(slog.DiscardHandler), Interval: 50 * time.Millisecond}
			wg.Go(func() { _ = accounts.Run(ctx) })
			wg.Go(func() { _ = e.subscriber.Run(ctx, 50*time.Millisecond) })
			before := len(e.sales.Requests())
			waitFor(t, "the loops to try Sales while it is down", time.Minute, func() bool { return len(e.sales.Requests()) >= before+4 })
			if tt.downAtInstall {
				waitFor(t, "a failed lookup to be recorded", time.Minute, func() bool { return !e.instance(key).Account.LastTriedAt.IsZero() })
				if e.instance(key).Account.Resolved() {
					t.Fatal("account resolved while Sales is down")
				}
				// Refused for now; nothing remembers the refusal once the account is resolved.
				if p := getPage(t, report); p.status != http.StatusUnauthorized {
					t.Fatalf("report page before the account lookup: %d, want 401", p.status)
				}
			}

			e.sales.SetDown(false)
			waitFor(t, "the account lookup", time.Minute, func() bool { return e.instance(key).Account.Resolved() })
			if acct := e.instance(key).Account; acct.GroupID != integ.GroupID || acct.AccountID != integ.AccountID || acct.ResolvedAt.IsZero() {
				t.Fatalf("account recorded = %+v, want group %s account %s", acct, integ.GroupID, integ.AccountID)
			}
			if p := getPage(t, report); p.status != http.StatusOK {
				t.Fatalf("report page of the instance's group: %d, want 200", p.status)
			}
			waitFor(t, "the subscription", time.Minute, func() bool {
				_, ok := e.sales.ActiveSubscription(integ.GroupID)
				return ok
			})
			in := forwardingInstance{key: key, id: e.instance(key).ID, groupID: integ.GroupID}
			pid := fmt.Sprintf("salesdown%015d", i)
			if status := e.notify(in, "created", time.Time{}, prospect(pid, "new")); status != http.StatusOK {
				t.Fatalf("notification after Sales came back: %d", status)
			}
			e.finished(in, pid, "forwarded")
			if n := e.leadPostsFor(pid); n != 1 {
				t.Fatalf("%d POST /leads for the prospect, want 1", n)
			}
		})
	}
}

// TestSalesRateLimitRetriedAtReset checks that Sales' 429 at install (the account lookup) and
// at subscription is tried again once its X-RateLimit-Reset has passed, by the background
// loops, and not only on their next regular pass (an hour here).
func TestSalesRateLimitRetriedAtReset(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const key = "key-rate-limited-at-install"
	integ := e.sales.AddIntegration(key, sales.Integration{})
	// Beyond what one call waits out itself, so the loops must come back for it.
	reset := time.Now().Add(7 * time.Second).Truncate(time.Second)
	e.sales.RateLimit(1<<20, reset)
	e.install(key)
	e.configure(key)
	// On a loaded machine the hooks may take until the reset: what they did after it proves
	// nothing either way.
	if limited := time.Now().Before(reset); limited && e.instance(key).Account.Resolved() {
		t.Fatal("account resolved while Sales answers 429")
	}
	if _, ok := e.sales.ActiveSubscription(integ.GroupID); ok && time.Now().Before(reset) {
		t.Fatal("subscribed while Sales answers 429")
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	accounts := &lifecycle.AccountSync{Service: e.svc, Logger: slog.New(slog.DiscardHandler), Interval: time.Hour}
	wg.Go(func() { _ = accounts.Run(ctx) })
	wg.Go(func() { _ = e.subscriber.Run(ctx, time.Hour) })
	waitFor(t, "the account lookup after the reset", 30*time.Second, func() bool { return e.instance(key).Account.Resolved() })
	waitFor(t, "the subscription after the reset", 30*time.Second, func() bool {
		_, ok := e.sales.ActiveSubscription(integ.GroupID)
		return ok
	})
	if at := e.instance(key).Account.ResolvedAt; at.Before(reset) {
		t.Errorf("account resolved at %v, before the reset at %v", at, reset)
	}
}
