//go:build container

package containertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/testport"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

const (
	appID, appSecret = "container-app", "container-app-secret-0123456789"
	stClientID       = "container-client"
	stClientSecret   = "container-client-secret-abcdef"
	stUser           = "container-user"
)

// gate stands between one App container and the fake 7Targets. It passes every request
// through, except that once closed it holds lead creations (POST /leads) unanswered, as a
// slow 7Targets would, until the caller goes away.
type gate struct {
	srv  *httptest.Server
	stop chan struct{} // closed at the end of the test: held calls are let go

	mu       sync.Mutex
	closed   bool
	holding  int // lead creations held now
	held     int // lead creations held in all
	inflight int // requests passed on and not yet answered
	passed   int // lead creations passed on and answered
}

func newGate(tb testing.TB, target string) *gate {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	g := &gate{stop: make(chan struct{})}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		creation := r.Method == http.MethodPost && r.URL.Path == "/leads"
		g.mu.Lock()
		if creation && g.closed {
			g.holding++
			g.held++
			g.mu.Unlock()
			// Reading the body to its end lets the server notice the caller hang up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done(): // the App gave up, or died
			case <-g.stop: // the test ended
			}
			g.mu.Lock()
			g.holding--
			g.mu.Unlock()
			return
		}
		g.inflight++
		g.mu.Unlock()
		proxy.ServeHTTP(w, r)
		g.mu.Lock()
		g.inflight--
		if creation {
			g.passed++
		}
		g.mu.Unlock()
	}))
	tb.Cleanup(func() {
		close(g.stop)
		g.srv.Close()
	})
	return g
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// counts returns the gate's counters.
func (g *gate) counts() (holding, held, inflight, passed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.holding, g.held, g.inflight, g.passed
}

// hook calls a lifecycle hook with the App's credentials and returns the status.
func hook(tb testing.TB, method, u, body string) int {
	tb.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.SetBasicAuth(appID, appSecret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// notification is the documented prospects envelope announcing new prospect i; attempt > 0
// makes it Sales' redelivery of the same notification.
func notification(i, attempt int) []byte {
	return fmt.Appendf(nil, `{"subscriptionId":"s1","topic":"prospects","type":"created","attempts":%d,"sent":%q,
		"prospect":[{"id":"%024d","firstName":"Lead","lastName":"Number %d","status":"unclaimed","emails":["lead%d@example.com"]}]}`,
		attempt, time.Now().UTC().Format(time.RFC3339Nano), i, i, i)
}

// post delivers body to the subscription's callback URL (its path and token) at the App a,
// as a load balancer in front of several App containers would.
func post(tb testing.TB, callback string, a *app, body []byte) {
	tb.Helper()
	u, err := url.Parse(callback)
	if err != nil {
		tb.Fatal(err)
	}
	target, _ := url.Parse(a.url)
	u.Host = target.Host
	res, err := http.Post(u.String(), "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("webhook to %s: %v", a.name, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("webhook to %s: %d, want 200", a.name, res.StatusCode)
	}
}

func waitFor(tb testing.TB, limit time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLeadsExactlyOnceAcrossAContainerCrash runs one store container and two App containers
// on it, installs and configures an instance, streams webhooks across both Apps, kills one of
// them with SIGKILL while it has lead creations in flight, keeps streaming to the other, and
// checks that 7Targets received every lead once: one POST /leads per prospect, none twice.
//
// The crash comes while the dying App's calls to 7Targets are held unanswered, which is how a
// slow 7Targets looks; its claimed deliveries then run again in the other App once their
// lease (60s) has passed. A crash in the instant between 7Targets' answer and the App's record
// of it would send one lead again, which 7Targets' create-or-assign by email answers with the
// same lead (docs/architecture.md); holding the calls keeps this test's count exact.
func TestLeadsExactlyOnceAcrossAContainerCrash(t *testing.T) {
	ctx := context.Background()
	began := time.Now()

	salesFake := salesfake.New()
	t.Cleanup(salesFake.Close)
	st := seventargetsfake.New()
	t.Cleanup(st.Close)
	st.Seed()
	st.AddClient(stClientID, stClientSecret, stUser)

	storeURI := startStore(ctx, t)
	gates := []*gate{newGate(t, st.URL()), newGate(t, st.URL())}
	env := map[string]string{
		"MONGODB_URI":       storeURI,
		"ENCRYPTION_KEY":    secret.NewKey(), // one key: the Apps read each other's records
		"ZENVIA_APP_ID":     appID,
		"ZENVIA_APP_SECRET": appSecret,
		"ZENVIA_API_URL":    salesFake.BaseURL(),
	}
	// Each App talks to 7Targets through its own gate. They start at once: each waits for
	// its first health check.
	ports := []int{testport.Free(t), testport.Free(t)}
	// One deployment, one PUBLIC_BASE_URL (the second App would refuse another): app-a's
	// address stands in for the load balancer; post sends each webhook to the App it picks.
	env["PUBLIC_BASE_URL"] = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	apps, errs := make([]*app, 2), make([]error, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"app-a", "app-b"} {
		e := maps.Clone(env)
		e["SEVENTARGETS_API_URL"], e["SEVENTARGETS_TOKEN_URL"] = gates[i].srv.URL, gates[i].srv.URL+seventargetsfake.TokenPath
		wg.Go(func() { apps[i], errs[i] = startApp(ctx, t, name, ports[i], e) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("store and two App containers healthy and ready in %s", time.Since(began).Round(100*time.Millisecond))
	for _, a := range apps {
		checkUnprivileged(ctx, t, a)
	}

	// Install and configure through one App; the other sees the same instance.
	const apiKey = "container-sales-api-key-0001"
	integ := salesFake.AddIntegration(apiKey, sales.Integration{})
	if s := hook(t, "POST", apps[0].url+"/lifecycle/install", `{"integration":{"apiKey":"`+apiKey+`","enabled":true}}`); s != http.StatusCreated {
		t.Fatalf("install: %d, want 201", s)
	}
	settings := func(secret string) string {
		return `{"clientId":"` + stClientID + `","clientSecret":"` + secret + `","userIdentifier":"` + stUser +
			`","assistantEmail":"` + seventargetsfake.SeedAssistantEmail + `"}`
	}
	if s := hook(t, "PUT", apps[0].url+"/lifecycle/settings?api-key="+apiKey, settings("not-the-secret-0000")); s != http.StatusUnprocessableEntity {
		t.Fatalf("settings with a wrong 7Targets secret: %d, want 422", s)
	}
	if s := hook(t, "PUT", apps[0].url+"/lifecycle/settings?api-key="+apiKey, settings(stClientSecret)); s != http.StatusOK {
		t.Fatalf("settings: %d, want 200", s)
	}
	if n := st.TokenRequestsFor(stClientID); n < 2 {
		t.Fatalf("7Targets saw %d token requests for the client, want the check of each credential", n)
	}
	if s := hook(t, "GET", apps[1].url+"/lifecycle/settings?api-key="+apiKey, ""); s != http.StatusOK {
		t.Fatalf("settings read through the other App: %d, want 200", s)
	}
	sub, ok := salesFake.ActiveSubscription(integ.GroupID)
	if !ok {
		t.Fatal("the App did not subscribe to prospects notifications")
	}

	// The stream: notification i goes to apps[i%2]; every third is also redelivered by Sales
	// to the other App, as behind a load balancer.
	const n = 120
	victim, survivor := apps[1], apps[0]
	send := func(from, to int, alive []*app) {
		for i := from; i < to; i++ {
			post(t, sub.CallbackURL, alive[i%len(alive)], notification(i, 0))
			if i%3 == 0 {
				post(t, sub.CallbackURL, alive[(i+1)%len(alive)], notification(i, 1))
			}
		}
	}
	send(0, 60, apps)

	// The victim's 7Targets slows down; the stream goes on; the victim dies mid-delivery.
	gates[1].close()
	send(60, 90, apps)
	waitFor(t, 60*time.Second, "the victim to have lead creations in flight and no answered call unrecorded", func() bool {
		holding, _, inflight, _ := gates[1].counts()
		return holding > 0 && inflight == 0
	})
	time.Sleep(time.Second) // for the victim to record what 7Targets last answered it
	victim.kill(ctx, t)
	killed := time.Now()
	waitFor(t, 10*time.Second, "the dead App's held calls to end with its connections", func() bool {
		holding, _, _, _ := gates[1].counts()
		return holding == 0
	})
	_, held, _, victimPassed := gates[1].counts()
	t.Logf("killed %s with %d lead creations held in flight, after %d it made", victim.name, held, victimPassed)

	// The survivor takes the rest of the stream, and Sales' redeliveries of what the victim took.
	send(90, n, []*app{survivor})
	for i := 61; i < 90; i += 4 {
		post(t, sub.CallbackURL, survivor, notification(i, 2))
	}

	// The victim's leases run out after 60s; allow three minutes.
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d leads at 7Targets", n), func() bool { return len(st.Leads()) >= n })
	t.Logf("all %d leads at 7Targets %s after the kill", n, time.Since(killed).Round(100*time.Millisecond))
	time.Sleep(3 * time.Second) // several poll intervals, for any second creation to show

	want := map[string]bool{}
	for i := range n {
		want[fmt.Sprintf("lead%d@example.com", i)] = true
	}
	got := map[string]int{}
	for _, l := range st.Leads() {
		got[l.Email]++
	}
	for email := range want {
		if got[email] != 1 {
			t.Errorf("%s: %d leads, want 1", email, got[email])
		}
	}
	for email := range got {
		if !want[email] {
			t.Errorf("unexpected lead %s", email)
		}
	}
	posts := 0
	perEmail := map[string]int{}
	for _, r := range st.Requests() {
		if r.Method == http.MethodPost && r.Path == "/leads" {
			posts++
			var body struct {
				Email string `json:"email"`
			}
			_ = json.Unmarshal(r.Body, &body)
			perEmail[body.Email]++
		}
	}
	for email, c := range perEmail {
		if c != 1 {
			t.Errorf("%s: POST /leads %d times, want once", email, c)
		}
	}
	_, _, _, survivorPassed := gates[0].counts()
	if posts != n || st.Count(http.MethodPost, "/leads") != n {
		t.Errorf("7Targets received %d POST /leads for %d prospects, want exactly one each", posts, n)
	}
	if survivorPassed+victimPassed != n {
		t.Errorf("the gates passed %d+%d lead creations, want %d", survivorPassed, victimPassed, n)
	}
	if victimPassed == 0 {
		t.Error("the victim created no lead before it died: the test shows no sharing")
	}
	t.Logf("%d leads, %d POST /leads (%s %d, %s %d), %d held calls abandoned by the crash; %s in all",
		len(got), posts, survivor.name, survivorPassed, victim.name, victimPassed, held, time.Since(began).Round(time.Second))

	// The survivor is still healthy by its HEALTHCHECK.
	checkUnprivileged(ctx, t, survivor)
}
