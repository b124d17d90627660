package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/chattonic/chattonicfake"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
	"github.com/7targets/zenvia-sales-app/store"
)

// instance is one enabled App instance as Sales sees it: where its webhooks go.
type instance struct {
	id, groupID, clientID string
	webhookURL            string // the callback URL the App subscribed, token included
	baselineURL           string
}

// env is one App child process on a fresh embedded store, its installed instances and the
// simulated Sales and 7Targets it talks to.
type env struct {
	base      string // the App's URL
	pprof     string // its pprof listener
	pid       int
	sales     *salesfake.Server
	st        *seventargetsfake.Server
	ct        *chattonicfake.Server // the instances have no Chat-Tonic source: it is idle
	instances []instance            // the enabled ones
	stop      func()
}

type envOptions struct {
	instances     int
	active        int // how many of them are enabled and subscribed (0: all); the rest are disabled
	noWorker      bool
	noTargetCache bool
}

// startEnv seeds n instances into a fresh embedded store as installs would leave them (enabled,
// complete settings, each with its own 7Targets client), starts the App on it and waits until
// the App has subscribed every instance to Sales notifications, as it does at start.
func startEnv(ctx context.Context, exe string, extraEnv []string, o envOptions) (*env, error) {
	e := &env{sales: salesfake.New(), st: seventargetsfake.New(), ct: chattonicfake.New()}
	cleanup := []func(){e.sales.Close, e.st.Close, e.ct.Close}
	e.stop = func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	fail := func(err error) (*env, error) { e.stop(); return nil, err }
	e.st.Seed()

	dir, err := os.MkdirTemp("", "zenvia-7targets-loadgen-")
	if err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, func() { _ = os.RemoveAll(dir) })
	keyText := secret.NewKey()
	key, err := secret.ParseKey(keyText)
	if err != nil {
		return fail(err)
	}
	if o.active == 0 {
		o.active = o.instances
	}
	if err := e.seed(ctx, dir, key, o.instances, o.active); err != nil {
		return fail(fmt.Errorf("seeding %d instances: %w", o.instances, err))
	}

	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	pprofPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	e.base = "http://127.0.0.1:" + strconv.Itoa(port)
	e.pprof = "http://127.0.0.1:" + strconv.Itoa(pprofPort)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Env = append(cmd.Env, roleEnv+"=app", envPort+"="+strconv.Itoa(port), envDataDir+"="+dir,
		envSalesURL+"="+e.sales.BaseURL(), envSTAPI+"="+e.st.APIURL(), envSTToken+"="+e.st.TokenURL(), envCTAPI+"="+e.ct.BaseURL(),
		envKey+"="+keyText, envPprof+"=127.0.0.1:"+strconv.Itoa(pprofPort))
	if o.noWorker {
		cmd.Env = append(cmd.Env, envNoWorker+"=1")
	}
	if o.noTargetCache {
		cmd.Env = append(cmd.Env, envNoCache+"=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	stderr, err := os.Create(dir + "/stderr.log")
	if err != nil {
		return fail(err)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	e.pid = cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cleanup = append(cleanup, func() { stopGracefully(ctx, cmd.Process, done); _ = stderr.Close() })

	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		b, _ := os.ReadFile(dir + "/stderr.log")
		done <- err
		return fail(fmt.Errorf("the App exited at start: %v: %s", err, b))
	case <-time.After(2 * time.Minute):
		return fail(errors.New("the App did not start within 2 minutes"))
	}
	if err := e.awaitSubscriptions(ctx); err != nil {
		return fail(err)
	}
	return e, nil
}

// seed writes n instances straight into the store, with their accounts and group trees, as n
// installs followed by settings would: installing 10,000 through the hooks would measure the
// hooks' rate limit instead. The first active are enabled (the App subscribes them at start);
// the others are installed, configured and disabled.
func (e *env) seed(ctx context.Context, dir string, key []byte, n, active int) error {
	db, err := store.Open(ctx, store.Config{DataDir: dir, Database: benchDatabase, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	keys, err := secret.NewKeyring(key)
	if err != nil {
		return err
	}
	instances := store.NewInstances(db, keys)
	now := time.Now().UTC()
	for i := range n {
		apiKey := fmt.Sprintf("loadgen-sales-api-key-%06d", i)
		in := instance{id: fmt.Sprintf("loadgen-instance-%06d", i), clientID: fmt.Sprintf("loadgen-client-%06d", i)}
		clientSecret, user := "secret-"+in.clientID, "user-"+in.clientID
		e.st.AddClient(in.clientID, clientSecret, user)
		integ := e.sales.AddIntegration(apiKey, sales.Integration{Name: "Loadgen account " + strconv.Itoa(i), Language: "en"})
		in.groupID = integ.GroupID
		settings := zen7.DefaultSettings()
		settings.ClientID, settings.ClientSecret, settings.UserIdentifier = in.clientID, clientSecret, user
		settings.AssistantEmail = seventargetsfake.SeedAssistantEmail
		state := zen7.StateEnabled
		if i >= active {
			state = zen7.StateDisabled
		}
		inst := zen7.Instance{
			ID: in.id, State: state, APIKey: apiKey, Settings: settings, Version: 1,
			Account:     zen7.Account{IntegrationID: integ.ID, GroupID: integ.GroupID, AccountID: integ.AccountID, Language: "en", ResolvedAt: now},
			InstalledAt: now, UpdatedAt: now,
		}
		if err := instances.CreateInstance(ctx, inst); err != nil {
			return err
		}
		// What install records of the instance's group tree, for the pages to find it.
		if err := instances.SetGroupTree(ctx, inst, zen7.GroupTree{Root: integ.GroupID, Groups: []string{integ.GroupID}}); err != nil {
			return err
		}
		if i < active {
			e.instances = append(e.instances, in)
		}
	}
	return nil
}

// awaitSubscriptions waits for the App's start-up subscription pass and reads each instance's
// callback URL (with its token) from the simulated Sales, as Sales itself would use it.
func (e *env) awaitSubscriptions(ctx context.Context) error {
	byGroup := make(map[string]*instance, len(e.instances))
	for i := range e.instances {
		byGroup[e.instances[i].groupID] = &e.instances[i]
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		found := 0
		for _, s := range e.sales.Subscriptions() {
			if in, ok := byGroup[s.GroupID]; ok && s.Active {
				in.webhookURL = s.CallbackURL
				found++
			}
		}
		if found == len(e.instances) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d instances subscribed", found, len(e.instances))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i := range e.instances {
		e.instances[i].baselineURL = e.base + baselinePath + url.PathEscape(e.instances[i].id)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// rss returns the App process's resident memory in bytes (Linux /proc).
func (e *env) rss() (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(e.pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// residentParts splits the App process's resident memory, from /proc/<pid>/smaps, into
// anonymous and file-backed pages (the binary, SQLite's shared WAL index), and sets beside
// them what the Go runtime holds from the system (its memory less what the heap returned) and
// how many SQLite connections are open (each an open .sqlite file, with its own page cache in
// the C heap that modernc.org/libc maps outside Go's). Anonymous less Go's is the C heap, about.
// Of what Go holds, the heap's part is its spans not returned to the system: those in use (the
// reading's heap in use) and those idle that the collector keeps for the heap to grow into (up to
// its goal, twice what is live) until the scavenger returns them.
type residentParts struct {
	AnonMB       float64 `json:"anonymousMB"`
	FileMB       float64 `json:"fileBackedMB"`
	GoHeldMB     float64 `json:"goHeldMB"`
	GoHeapHeldMB float64 `json:"goHeapHeldMB"`
	SQLiteConns  int     `json:"sqliteConnections"`
}

func (p residentParts) String() string {
	return fmt.Sprintf("anonymous %.0f MB (Go holds %.0f, of it heap %.0f; the rest %.0f), file-backed %.0f MB, %d SQLite connections",
		p.AnonMB, p.GoHeldMB, p.GoHeapHeldMB, p.AnonMB-p.GoHeldMB, p.FileMB, p.SQLiteConns)
}

// m is the App's /metrics, read at the same moment.
func (e *env) residentParts(m map[string]float64) (residentParts, error) {
	var parts residentParts
	proc := "/proc/" + strconv.Itoa(e.pid)
	f, err := os.Open(proc + "/smaps")
	if err != nil {
		return parts, err
	}
	defer f.Close()
	var file bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 0:
		case !strings.HasSuffix(fields[0], ":"):
			// A mapping's header: range, perms, offset, device, inode, [path].
			file = len(fields) >= 6 && strings.HasPrefix(fields[5], "/")
		case fields[0] == "Rss:" && len(fields) >= 2:
			kb, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				return parts, fmt.Errorf("smaps: %q: %w", sc.Text(), err)
			}
			if file {
				parts.FileMB += kb / 1024
			} else {
				parts.AnonMB += kb / 1024
			}
		}
	}
	if err := sc.Err(); err != nil {
		return parts, err
	}
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		return parts, err
	}
	for _, fd := range fds {
		if target, err := os.Readlink(proc + "/fd/" + fd.Name()); err == nil && strings.HasSuffix(target, ".sqlite") {
			parts.SQLiteConns++
		}
	}
	const mb = 1 << 20
	parts.GoHeldMB = (m["go_memstats_sys_bytes"] - m["go_memstats_heap_released_bytes"]) / mb
	parts.GoHeapHeldMB = (m["go_memstats_heap_sys_bytes"] - m["go_memstats_heap_released_bytes"]) / mb
	return parts, nil
}

// heapProfile writes the App's heap profile (what its live objects are, by allocation site).
func (e *env) heapProfile(path string) error {
	return e.savePprof("/debug/pprof/heap", path)
}

// metrics reads the App's /metrics into name{labels} → value.
func (e *env) metrics() (map[string]float64, error) {
	res, err := http.Get(e.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := make(map[string]float64)
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// profile records a CPU profile of the App for d into path.
func (e *env) profile(d time.Duration, path string) error {
	return e.savePprof("/debug/pprof/profile?seconds="+strconv.Itoa(int(d.Seconds())), path)
}

// savePprof writes what the App's pprof listener serves at route to path.
func (e *env) savePprof(route, path string) error {
	res, err := http.Get(e.pprof + route)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.ReadFrom(res.Body)
	return err
}
