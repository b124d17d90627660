package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/testport"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
	"github.com/7targets/zenvia-sales-app/store"
)

// TestMain lets the test binary stand in for the server binary: started with
// ZENVIA_TEST_AS_SERVER=1 it runs main, so process tests need no separate build.
func TestMain(m *testing.M) {
	if os.Getenv("ZENVIA_TEST_AS_SERVER") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is the App running as a separate OS process.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and been waited for
	url    string
	logs   string
	env    []string
}

// startProcess runs the App with environ on a fresh port and waits until it is ready.
func startProcess(t *testing.T, environ map[string]string) *process {
	t.Helper()
	port := testport.Free(t)
	p := &process{t: t, url: "http://127.0.0.1:" + strconv.Itoa(port), logs: filepath.Join(t.TempDir(), "server.log")}
	p.env = append(os.Environ(), "ZENVIA_TEST_AS_SERVER=1", "PORT="+strconv.Itoa(port), "PUBLIC_BASE_URL="+p.url)
	for k, v := range environ {
		p.env = append(p.env, k+"="+v)
	}
	p.start()
	return p
}

// start runs the process and waits until it answers /readyz with 200. A process that exits
// first fails the test at once, with its logs.
func (p *process) start() {
	p.t.Helper()
	logFile, err := os.OpenFile(p.logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.env, logFile, logFile
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	cmd, exited := p.cmd, make(chan struct{})
	p.exited = exited
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	p.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	ready := func() bool {
		res, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		select {
		case <-exited:
			p.dumpLogs()
			p.t.Fatalf("the App at %s exited before it was ready: %v", p.url, cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			p.dumpLogs() // what kept it from being ready is in them
			p.t.Fatalf("timed out waiting for the App at %s to be ready", p.url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill stops the process with SIGKILL: no shutdown code runs.
func (p *process) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited
}

// restart starts the process again with the same environment and port.
func (p *process) restart() { p.start() }

func (p *process) dumpLogs() {
	b, _ := os.ReadFile(p.logs)
	p.t.Logf("logs of %s:\n%s", p.url, b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, 60*time.Second, what, cond)
}

func waitForWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fakes are the outside world of a process test.
type fakes struct {
	sales *salesfake.Server
	st    *seventargetsfake.Server
}

const (
	procAppID, procAppSecret = "proc-app", "proc-app-secret-0123456789"
	procClientID             = "proc-client"
	procClientSecret         = "proc-client-secret-abcdef"
	procUser                 = "proc-user"
)

func newFakes(t *testing.T) fakes {
	f := fakes{sales: salesfake.New(), st: seventargetsfake.New()}
	t.Cleanup(f.sales.Close)
	t.Cleanup(f.st.Close)
	f.st.Seed()
	f.st.AddClient(procClientID, procClientSecret, procUser)
	return f
}

func (f fakes) env(extra map[string]string) map[string]string {
	m := map[string]string{
		"ZENVIA_APP_ID": procAppID, "ZENVIA_APP_SECRET": procAppSecret, "ENCRYPTION_KEY": secret.NewKey(),
		"ZENVIA_API_URL": f.sales.BaseURL(), "SEVENTARGETS_API_URL": f.st.APIURL(), "SEVENTARGETS_TOKEN_URL": f.st.TokenURL(),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// setUp installs and configures an instance through p and returns its webhook callback URL.
func (f fakes) setUp(t *testing.T, p *process, apiKey string) string {
	t.Helper()
	integ := f.sales.AddIntegration(apiKey, sales.Integration{})
	if s, _ := hook(t, procAppID, procAppSecret, "POST", p.url+"/lifecycle/install", `{"integration":{"apiKey":"`+apiKey+`","enabled":true}}`); s != 201 {
		t.Fatalf("install: %d", s)
	}
	body := `{"clientId":"` + procClientID + `","clientSecret":"` + procClientSecret + `","userIdentifier":"` + procUser +
		`","assistantEmail":"` + seventargetsfake.SeedAssistantEmail + `"}`
	if s, _ := hook(t, procAppID, procAppSecret, "PUT", p.url+"/lifecycle/settings?api-key="+apiKey, body); s != 200 {
		t.Fatalf("settings: %d", s)
	}
	sub, ok := f.sales.ActiveSubscription(integ.GroupID)
	if !ok {
		p.dumpLogs()
		t.Fatal("no subscription")
	}
	return sub.CallbackURL
}

// notification is a documented prospects envelope for a new prospect.
func notification(i int) []byte {
	return []byte(fmt.Sprintf(`{"subscriptionId":"s1","topic":"prospects","type":"created","attempts":0,"sent":"%s",
		"prospect":[{"id":"%024d","firstName":"Lead","lastName":"Number %d","status":"unclaimed","emails":["lead%d@example.com"]}]}`,
		time.Now().UTC().Format(time.RFC3339Nano), i, i, i))
}

// post delivers body to the callback URL, but to the host of p (same path and token).
func post(t *testing.T, callback string, p *process, body []byte) int {
	t.Helper()
	u, _ := url.Parse(callback)
	target, _ := url.Parse(p.url)
	u.Host = target.Host
	res, err := http.Post(u.String(), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("webhook to %s: %v", p.url, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// createdLeads counts successful lead creations per email at the fake 7Targets.
func createdLeads(st *seventargetsfake.Server) map[string]int {
	out := map[string]int{}
	for _, l := range st.Leads() {
		out[l.Email]++
	}
	return out
}

func TestKill9WithPendingDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	f := newFakes(t)
	p := startProcess(t, f.env(map[string]string{"DATA_DIR": t.TempDir()}))
	callback := f.setUp(t, p, "proc-kill-key-0001")

	f.st.SetDown(true) // deliveries pile up, retrying
	const n = 30
	for i := range n {
		if s := post(t, callback, p, notification(i)); s != 200 {
			t.Fatalf("webhook %d: %d", i, s)
		}
	}
	waitFor(t, "first failed attempts", func() bool { return len(f.st.Requests()) >= 1 })
	p.kill()
	if len(f.st.Leads()) != 0 {
		t.Fatal("leads created while 7Targets was down?")
	}

	f.st.SetDown(false)
	p.restart()
	// Deliveries that were mid-call at the kill wait out their lease (60s) first.
	waitForWithin(t, 150*time.Second, "all leads after the restart", func() bool { return len(f.st.Leads()) == n })
	for email, c := range createdLeads(f.st) {
		if c != 1 {
			t.Errorf("%s created %d times", email, c)
		}
	}
	posts := 0
	for _, r := range f.st.Requests() {
		if r.Method == "POST" && r.Path == "/leads" {
			posts++
		}
	}
	t.Logf("%d POST /leads in all (503s while down included) for %d leads", posts, n)
}

func TestThreeProcessesShareOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	f := newFakes(t)
	shared, err := store.StartEmbedded(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Stop)
	// One deployment behind a load balancer: one PUBLIC_BASE_URL for the three (post sends
	// each webhook to the process chosen, whatever the callback's host).
	env := f.env(map[string]string{"MONGODB_URI": shared.URI(), "PUBLIC_BASE_URL": "http://zenvia-app.example.com"})
	ps := []*process{startProcess(t, env), startProcess(t, env), startProcess(t, env)}
	callback := f.setUp(t, ps[0], "proc-three-key-0001")

	// 200 notifications spread across the processes, each sent twice to two different ones,
	// as Sales' duplicate deliveries would land behind a load balancer.
	const n = 200
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		for _, p := range []*process{ps[i%3], ps[(i+1)%3]} {
			wg.Go(func() {
				// 400 webhooks at once overload three processes on one store: the intake
				// answers 503 past its 5 s bound, and Sales, like this sender, delivers again.
				s := post(t, callback, p, notification(i))
				for attempt := 1; s == http.StatusServiceUnavailable && attempt < 20; attempt++ {
					time.Sleep(time.Second)
					s = post(t, callback, p, notification(i))
				}
				if s != 200 {
					errs <- fmt.Errorf("notification %d to %s: %d", i, p.url, s)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A wait, not a speed figure: under the race detector, with other packages' tests running,
	// three processes on one embedded store take tens of seconds for 200 leads.
	dumped := false
	waitForWithin(t, 3*time.Minute, "200 leads", func() bool {
		done := len(f.st.Leads()) >= n
		if !done && !dumped && time.Since(start) > 3*time.Minute-time.Second {
			dumped = true // about to time out: show what the processes said
			for _, p := range ps {
				p.dumpLogs()
			}
		}
		return done
	})
	time.Sleep(2 * time.Second) // several poll intervals, for any second delivery to show
	posts := 0
	for _, r := range f.st.Requests() {
		if r.Method == "POST" && r.Path == "/leads" {
			posts++
		}
	}
	if got := len(f.st.Leads()); got != n || posts != n {
		for _, p := range ps {
			p.dumpLogs()
		}
		t.Fatalf("%d leads from %d POST /leads, want %d and %d: none twice", got, posts, n, n)
	}
}

// runOnce runs the server binary with environ (a complete environment, as process.env) and
// args until it exits, for at most limit, and returns what it printed on stdout and stderr. A
// process still running at limit is killed, and the error says so.
func runOnce(t *testing.T, environ []string, limit time.Duration, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = environ
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	err = cmd.Run()
	if ctx.Err() != nil {
		err = errors.New("still running after " + limit.String())
	}
	return out.String(), errs.String(), err
}

// refused checks the process exited on its own with an error, printing nothing on stdout.
func refused(t *testing.T, what, stdout, stderr string, err error) {
	t.Helper()
	if err == nil || strings.HasPrefix(err.Error(), "still running") {
		t.Fatalf("%s: %v; want it to refuse to start\n%s%s", what, err, stdout, stderr)
	}
	if stdout != "" {
		t.Errorf("%s printed on stdout: %s", what, stdout)
	}
}

// withEnv returns environ with the variables of extra set (last one wins for exec).
func withEnv(environ []string, extra map[string]string) []string {
	out := append([]string(nil), environ...)
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

// oneLine checks out is one line holding every want, as an operator reads a refusal.
func oneLine(t *testing.T, what, out string, want ...string) {
	t.Helper()
	out = strings.TrimSpace(out)
	if strings.Contains(out, "\n") {
		t.Errorf("%s printed more than one line:\n%s", what, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s printed %q; want it to name %q", what, out, w)
		}
	}
}
