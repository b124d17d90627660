package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/7targets/zenvia-sales-app/extensions"
)

// plan sizes every phase of a run.
type plan struct {
	Levels        []int         // concurrency levels of the intake sweep (figure 1)
	Warmup, Run   time.Duration // per load point
	ProfileLevel  int           // the sweep level whose App run is CPU-profiled
	Scale         []int         // installed instances (figure 4); the first is the sweep's env
	ScaleConc     int
	Latency       int   // prospects sent one at a time (figures 2 and 3)
	Notifications int64 // for the memory figure (5)
	NotifConc     int
	Settle        time.Duration // wait after the queue drained before the last memory reading
	Renders       int           // page renders per range (figure 6)
	Profile       time.Duration // CPU profile length
	Sustain       time.Duration // each constant-rate trial of the sustained figure
	Fairness      time.Duration // each constant-rate run of the fairness figure
	Drain         time.Duration // the longest wait for a backlog to reach 7Targets
	// ForwardingOnly skips the intake phase (figures 1 and 4, sustained, fairness): a run of
	// figures 2, 3, 5 and 6 alone, when looking into one of them.
	ForwardingOnly bool
}

func fullPlan() plan {
	return plan{
		Levels: []int{1, 4, 16, 32, 64, 128, 256}, Warmup: time.Second, Run: 6 * time.Second, ProfileLevel: 64,
		Scale: []int{10, 1_000, 10_000}, ScaleConc: 32,
		Latency: 200, Notifications: 100_000, NotifConc: 32, Settle: 30 * time.Second,
		Renders: 5, Profile: 10 * time.Second, Sustain: time.Minute, Fairness: 20 * time.Second, Drain: 30 * time.Minute,
	}
}

func quickPlan() plan {
	return plan{
		Levels: []int{1, 8}, Warmup: 100 * time.Millisecond, Run: 1500 * time.Millisecond, ProfileLevel: 8,
		Scale: []int{3, 30}, ScaleConc: 4,
		Latency: 12, Notifications: 300, NotifConc: 8, Settle: time.Second,
		Renders: 3, Profile: time.Second, Sustain: 2 * time.Second, Fairness: 2 * time.Second, Drain: 2 * time.Minute,
	}
}

// results is every figure of a run; docs/BENCHMARKS.md quotes them.
type results struct {
	Started   time.Time     `json:"started"`
	Seconds   float64       `json:"seconds"`
	GoVersion string        `json:"goVersion"`
	CPUs      int           `json:"cpus"`
	Plan      plan          `json:"plan"`
	Intake    []intakePoint `json:"intake"`          // the worker forwarding meanwhile, as in production
	IntakeOff []intakePoint `json:"intakeWorkerOff"` // the same with the delivery worker off
	// SweepForwarding is the leads per second the worker posted while the sweep ran and until
	// its backlog was drained.
	SweepForwarding float64          `json:"sweepForwardingPerSecond"`
	Sustained       sustainedFigures `json:"sustained"`
	Fairness        fairnessFigures  `json:"fairness"`
	Commands        commandFigures   `json:"commands"`
	Scale           []scalePoint     `json:"scale"`
	Latency         latencyFigures   `json:"latency"`
	Calls           callFigures      `json:"calls"`
	Memory          memoryFigures    `json:"memory"`
	Pages           pageFigures      `json:"pages"`
}

type intakePoint struct {
	Concurrency int        `json:"concurrency"`
	App         loadResult `json:"app"`
	Baseline    loadResult `json:"baseline"`
	Ratio       float64    `json:"throughputRatio"` // App / baseline
	// Commands are the App's store commands per accepted webhook over its run: the intake's
	// own (the outbox insert) and, with the worker on, the rest per lead posted meanwhile.
	IntakeCommands perUnit `json:"intakeCommands"`
	WorkerCommands perUnit `json:"workerCommands"`
	Drained        float64 `json:"drainSeconds"` // with the worker on: after the App's run, until its backlog reached 7Targets
}

// commandFigures are the App's store commands per unit of work (see commands.go).
type commandFigures struct {
	PerWebhookWorkerOff perUnit `json:"perAcceptedWebhookWorkerOff"` // the worker-off sweep, every level
	LowLoadPerLead      perUnit `json:"lowLoadPerNewLead"`           // figure 2: every command, intake's included
	LowLoadPerDelivery  perUnit `json:"lowLoadPerDelivery"`          // figure 2: all but the intake's insert
}

type scalePoint struct {
	Instances    int        `json:"instances"`
	Result       loadResult `json:"result"`
	MicrosPerReq float64    `json:"microsPerWebhook"` // 1 / throughput
	Ratio        float64    `json:"ratioToFirst"`
}

type latencyFigures struct {
	Prospects   int     `json:"prospects"`
	IntakeP50ms float64 `json:"intakeP50ms"`
	CallMeanMs  float64 `json:"sevenTargetsCallMeanMs"` // POST /leads as the App's own histogram saw it
	EndToEnd    struct {
		P50ms float64 `json:"p50ms"`
		P99ms float64 `json:"p99ms"`
	} `json:"endToEnd"`
	Ratio float64 `json:"ratio"` // end-to-end p50 / (intake p50 + call mean)
}

type callFigures struct {
	NewLeads              int64   `json:"newLeads"`
	LeadPosts             int64   `json:"leadPosts"`
	PostsPerLead          float64 `json:"postsPerLead"`
	TokenRequestsMin      int     `json:"tokenRequestsPerInstanceMin"`
	TokenRequestsMax      int     `json:"tokenRequestsPerInstanceMax"`
	SalesCalls            int     `json:"salesCalls"`
	SalesCallsPerNotif    float64 `json:"salesCallsPerNotification"`
	BulkLeadPosts         int64   `json:"bulkLeadPosts"` // POST /leads for the memory phase's notifications
	BulkOtherSevenTargets int64   `json:"bulkOtherSevenTargetsCalls"`
}

type memoryFigures struct {
	Notifications     int64   `json:"notifications"`
	IntakeSeconds     float64 `json:"intakeSeconds"`
	DrainSeconds      float64 `json:"drainSeconds"` // from the first notification to the last lead
	DeliveriesPerSec  float64 `json:"deliveriesPerSecond"`
	IdleRSSMB         float64 `json:"idleRssMB"`
	PeakRSSMB         float64 `json:"peakRssMB"`
	DrainedRSSMB      float64 `json:"drainedRssMB"`
	SettledRSSMB      float64 `json:"settledRssMB"`
	IdleHeapMB        float64 `json:"idleHeapInuseMB"`
	DrainedHeapMB     float64 `json:"drainedHeapInuseMB"`
	SettledHeapMB     float64 `json:"settledHeapInuseMB"`
	SettledGoroutines float64 `json:"settledGoroutines"`
	IdleGoroutines    float64 `json:"idleGoroutines"`
	// Where the resident memory is, idle and settled (profiles/heap-settled.pprof says what
	// the settled Go heap holds).
	IdleParts    residentParts `json:"idleResident"`
	SettledParts residentParts `json:"settledResident"`
}

type pageFigures struct {
	Deliveries  int     `json:"deliveriesInRange"`
	FullP50ms   float64 `json:"fullP50ms"`
	EmptyP50ms  float64 `json:"emptyP50ms"`
	Ratio       float64 `json:"ratio"`
	FullBytes   int     `json:"fullBytes"`
	ShowsCounts bool    `json:"showsCounts"`
}

// run measures every figure and writes them, the plot and the profiles to out.
func run(ctx context.Context, exe string, extraEnv []string, p plan, out string, log io.Writer) (*results, error) {
	if err := os.MkdirAll(filepath.Join(out, "profiles"), 0o755); err != nil {
		return nil, err
	}
	r := &results{Started: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Plan: p}
	var seq atomic.Int64 // prospect numbers, unique across the run

	logf := func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	var err error
	if !p.ForwardingOnly {
		err = intakePhase(ctx, exe, extraEnv, p, out, r, &seq, logf)
	}
	if err != nil {
		err = fmt.Errorf("intake: %w", err)
	} else if err = forwardingPhase(ctx, exe, extraEnv, p, out, r, &seq, logf); err != nil {
		err = fmt.Errorf("forwarding: %w", err)
	}
	// What was measured is written even when a later phase failed: a long run is not lost.
	r.Seconds = time.Since(r.Started).Seconds()
	if werr := writeResults(out, r); werr != nil {
		return nil, errors.Join(err, werr)
	}
	logf("wrote %s", out)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// intakePhase measures figure 1 with the delivery worker forwarding as in production (the
// figure of record) and again with it off (the intake alone), then the sustained rate and the
// fairness figures, then figure 4.
func intakePhase(ctx context.Context, exe string, extraEnv []string, p plan, out string, r *results, seq *atomic.Int64, logf func(string, ...any)) error {
	for _, workerOn := range []bool{true, false} {
		logf("intake: starting the App with %d installed instances, worker on: %v", p.Scale[0], workerOn)
		e, err := startEnv(ctx, exe, extraEnv, envOptions{instances: p.Scale[0], noWorker: !workerOn})
		if err != nil {
			return err
		}
		err = sweep(ctx, e, p, out, r, seq, workerOn, logf)
		e.stop()
		if err != nil {
			return err
		}
	}
	if err := sustained(ctx, exe, extraEnv, p, out, r, seq, logf); err != nil {
		return fmt.Errorf("sustained: %w", err)
	}
	if err := fairness(ctx, exe, extraEnv, p, r, seq, logf); err != nil {
		return fmt.Errorf("fairness: %w", err)
	}
	// Figure 4 turns the instance cache off: every webhook reads its instance from the store,
	// the case of many instances with sparse traffic, and the one that shows how lookups scale.
	// Webhooks go to the same number of enabled instances each time (the first point's); the
	// other instances are installed, configured and disabled. The worker is off: the figure
	// is the intake's cost, as in the runs before.
	for _, n := range p.Scale {
		logf("scale: starting the App with %d installed instances (%d receiving webhooks), no instance cache", n, p.Scale[0])
		e, err := startEnv(ctx, exe, extraEnv, envOptions{instances: n, active: p.Scale[0], noWorker: true, noTargetCache: true})
		if err != nil {
			return err
		}
		res := hammer(ctx, p.ScaleConc, p.Warmup, p.Run, 0, func(i int64) (string, []byte) {
			in := e.instances[i%int64(len(e.instances))]
			return in.webhookURL, prospectNotification(in, seq.Add(1), "created", "unclaimed")
		})
		e.stop()
		pt := scalePoint{Instances: n, Result: res, MicrosPerReq: 1e6 / res.PerSecond}
		pt.Ratio = pt.MicrosPerReq / firstOr(r.Scale, pt).MicrosPerReq
		r.Scale = append(r.Scale, pt)
		logf("  %d instances: %.0f webhooks/s, p50 %.1f ms, p99 %.1f ms, %d failed", n, res.PerSecond, res.P50ms, res.P99ms, res.Failed)
	}
	return nil
}

func firstOr(s []scalePoint, p scalePoint) scalePoint {
	if len(s) > 0 {
		return s[0]
	}
	return p
}

// sweep runs the App's webhook route and the baseline route at each concurrency level, one
// after the other on the same App, store and instances, alternating which goes first. With
// the worker on, each App run is followed by a wait until what it accepted has reached
// 7Targets, so that neither the next run nor the baseline shares the store with the backlog.
func sweep(ctx context.Context, e *env, p plan, out string, r *results, seq *atomic.Int64, workerOn bool, logf func(string, ...any)) error {
	label, profileName := "worker on", "intake.pprof"
	if !workerOn {
		label, profileName = "worker off", "intake-off.pprof"
	}
	logf("intake (%s): App against the one-insert baseline, %v per point", label, p.Run)
	var forwarded int64
	var forwarding time.Duration
	offCommands := commandSnapshot{}
	var offAccepted int64
	for li, c := range p.Levels {
		profiled := make(chan error, 1)
		profiled <- nil
		var pt intakePoint
		pt.Concurrency = c
		measure := func(baseline bool) (loadResult, error) {
			if !baseline && c == p.ProfileLevel {
				// The App's run at this level is profiled, from the end of its warm-up.
				<-profiled
				go func() {
					time.Sleep(p.Warmup)
					profiled <- e.profile(min(p.Profile, p.Run), filepath.Join(out, "profiles", profileName))
				}()
			}
			var before commandSnapshot
			postsBefore := e.st.Count(http.MethodPost, "/leads")
			if !baseline {
				var err error
				if before, err = e.commands(); err != nil {
					return loadResult{}, err
				}
			}
			t0 := time.Now()
			res := hammer(ctx, c, p.Warmup, p.Run, 0, func(i int64) (string, []byte) {
				in := e.instances[i%int64(len(e.instances))]
				body := prospectNotification(in, seq.Add(1), "created", "unclaimed")
				if baseline {
					return in.baselineURL, body
				}
				return in.webhookURL, body
			})
			if baseline {
				return res, nil
			}
			if workerOn {
				ran := time.Now()
				if err := e.drain(ctx, postsBefore, res.Accepted, p.Drain); err != nil {
					return res, err
				}
				pt.Drained = time.Since(ran).Seconds()
				forwarded += int64(e.st.Count(http.MethodPost, "/leads") - postsBefore)
				forwarding += time.Since(t0)
			}
			after, err := e.commands()
			if err != nil {
				return res, err
			}
			intake, rest := after.since(before).split()
			pt.IntakeCommands = per(intake, res.Accepted)
			if workerOn {
				pt.WorkerCommands = per(rest, int64(e.st.Count(http.MethodPost, "/leads")-postsBefore))
			} else {
				for col, names := range after.since(before).all() {
					for name, n := range names {
						offCommands.add(col, name, n)
					}
				}
				offAccepted += res.Accepted
			}
			return res, nil
		}
		var err, err2 error
		if li%2 == 0 {
			pt.Baseline, err = measure(true)
			pt.App, err2 = measure(false)
		} else {
			pt.App, err = measure(false)
			pt.Baseline, err2 = measure(true)
		}
		if err := errors.Join(err, err2); err != nil {
			return err
		}
		if err := <-profiled; err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		pt.Ratio = pt.App.PerSecond / pt.Baseline.PerSecond
		if workerOn {
			r.Intake = append(r.Intake, pt)
		} else {
			r.IntakeOff = append(r.IntakeOff, pt)
		}
		logf("  c=%-3d App %6.0f/s p50 %6.1f p99 %6.1f ms | baseline %6.0f/s p50 %6.1f p99 %6.1f ms | %.2fx | failed %d/%d",
			c, pt.App.PerSecond, pt.App.P50ms, pt.App.P99ms, pt.Baseline.PerSecond, pt.Baseline.P50ms, pt.Baseline.P99ms, pt.Ratio,
			pt.App.Failed, pt.Baseline.Failed)
		logf("        commands per accepted webhook: intake %s", pt.IntakeCommands)
		if workerOn {
			logf("        per lead posted: %s; backlog drained %.1f s after the run", pt.WorkerCommands, pt.Drained)
			logf("        per lead posted, by collection: %s", pt.WorkerCommands.Detail())
		}
	}
	if workerOn && forwarding > 0 {
		r.SweepForwarding = float64(forwarded) / forwarding.Seconds()
		logf("  the worker posted %.0f leads/s over the sweep and its drains", r.SweepForwarding)
	}
	if !workerOn {
		r.Commands.PerWebhookWorkerOff = per(offCommands, offAccepted)
		logf("  commands per accepted webhook, worker off: %s", r.Commands.PerWebhookWorkerOff)
	}
	return nil
}

// drain waits until accepted prospects more than before have reached 7Targets, for at most d.
func (e *env) drain(ctx context.Context, before int, accepted int64, d time.Duration) error {
	deadline := time.Now().Add(d)
	for int64(e.st.Count(http.MethodPost, "/leads")-before) < accepted {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d accepted webhooks reached 7Targets within %v", e.st.Count(http.MethodPost, "/leads")-before, accepted, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// forwardingPhase measures figures 2, 3, 5 and 6 on an App with its worker on.
func forwardingPhase(ctx context.Context, exe string, extraEnv []string, p plan, out string, r *results, seq *atomic.Int64, logf func(string, ...any)) error {
	const instances = 10
	logf("forwarding: starting the App with %d instances and its worker", instances)
	e, err := startEnv(ctx, exe, extraEnv, envOptions{instances: instances})
	if err != nil {
		return err
	}
	defer e.stop()
	if err := latencyAndCalls(ctx, e, p, r, seq, logf); err != nil {
		return err
	}
	if err := memory(ctx, e, p, out, r, seq, logf); err != nil {
		return err
	}
	return pages(ctx, e, p, r, logf)
}

// latencyAndCalls sends new prospects one at a time and times each from the webhook's start to
// the simulated 7Targets receiving its POST /leads.
func latencyAndCalls(ctx context.Context, e *env, p plan, r *results, seq *atomic.Int64, logf func(string, ...any)) error {
	client := newClient(1)
	salesBefore := len(e.sales.Requests())
	cmdBefore, err := e.commands()
	if err != nil {
		return err
	}
	var intake []time.Duration
	sent := make(map[string]time.Time) // email → when its webhook started
	for i := range p.Latency {
		in := e.instances[i%len(e.instances)]
		n := seq.Add(1)
		body := prospectNotification(in, n, "created", "unclaimed")
		before := e.st.Count(http.MethodPost, "/leads")
		t0 := time.Now()
		if status := post(ctx, client, in.webhookURL, body); status != http.StatusOK {
			return fmt.Errorf("webhook answered %d", status)
		}
		intake = append(intake, time.Since(t0))
		sent[prospectEmail(firstNames[n%int64(len(firstNames))], lastNames[n%int64(len(lastNames))], n)] = t0
		deadline := time.Now().Add(30 * time.Second)
		for e.st.Count(http.MethodPost, "/leads") == before {
			if time.Now().After(deadline) {
				return errors.New("a lead did not reach 7Targets within 30 s")
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond) // low load: one prospect at a time
	}
	time.Sleep(500 * time.Millisecond) // the last delivery records its outcome
	cmdAfter, err := e.commands()
	if err != nil {
		return err
	}
	lowLoad := cmdAfter.since(cmdBefore)
	_, worker := lowLoad.split()
	r.Commands.LowLoadPerLead = per(lowLoad.all(), int64(p.Latency))
	r.Commands.LowLoadPerDelivery = per(worker, int64(p.Latency))
	logf("  store commands per new lead at low load: %s; of them after the webhook's insert: %s",
		r.Commands.LowLoadPerLead, r.Commands.LowLoadPerDelivery)
	logf("  of them after the webhook's insert, by collection: %s", r.Commands.LowLoadPerDelivery.Detail())
	var e2e []time.Duration
	for _, req := range e.st.Requests() {
		if req.Method != http.MethodPost || req.Path != "/leads" {
			continue
		}
		for email, t0 := range sent {
			if strings.Contains(string(req.Body), `"`+email+`"`) {
				e2e = append(e2e, req.At.Sub(t0))
			}
		}
	}
	if len(e2e) != p.Latency {
		return fmt.Errorf("matched %d leads to %d prospects", len(e2e), p.Latency)
	}
	m, err := e.metrics()
	if err != nil {
		return err
	}
	sum, count := metricMatching(m, "upstream_request_duration_seconds_sum", `op="CreateLead"`, `status="2`),
		metricMatching(m, "upstream_request_duration_seconds_count", `op="CreateLead"`, `status="2`)
	if count == 0 {
		return errors.New("no CreateLead calls in the App's metrics")
	}
	lat := &r.Latency
	lat.Prospects = p.Latency
	lat.IntakeP50ms = summarize(intake).P50ms
	lat.CallMeanMs = sum / count * 1000
	e2eSum := summarize(e2e)
	lat.EndToEnd.P50ms, lat.EndToEnd.P99ms = e2eSum.P50ms, e2eSum.P99ms
	lat.Ratio = lat.EndToEnd.P50ms / (lat.IntakeP50ms + lat.CallMeanMs)
	logf("  webhook→POST /leads p50 %.2f ms (p99 %.2f) against intake p50 %.2f + call %.2f ms: %.2fx",
		lat.EndToEnd.P50ms, lat.EndToEnd.P99ms, lat.IntakeP50ms, lat.CallMeanMs, lat.Ratio)

	c := &r.Calls
	c.NewLeads = int64(p.Latency)
	c.LeadPosts = int64(e.st.Count(http.MethodPost, "/leads"))
	c.PostsPerLead = float64(c.LeadPosts) / float64(c.NewLeads)
	c.TokenRequestsMin = int(^uint(0) >> 1)
	for _, in := range e.instances {
		t := e.st.TokenRequestsFor(in.clientID)
		c.TokenRequestsMin, c.TokenRequestsMax = min(c.TokenRequestsMin, t), max(c.TokenRequestsMax, t)
	}
	c.SalesCalls = len(e.sales.Requests()) - salesBefore
	c.SalesCallsPerNotif = float64(c.SalesCalls) / float64(p.Latency)
	logf("  calls: %.2f POST /leads per lead, %d–%d token requests per instance, %d Sales calls for %d notifications",
		c.PostsPerLead, c.TokenRequestsMin, c.TokenRequestsMax, c.SalesCalls, p.Latency)
	return nil
}

// maxBacklog bounds the prospects waiting to be forwarded during the memory phase.
const maxBacklog = 256

// memory reads the App's memory idle, while p.Notifications new prospects go through it, once
// the queue has drained, and again after p.Settle.
func memory(ctx context.Context, e *env, p plan, out string, r *results, seq *atomic.Int64, logf func(string, ...any)) error {
	mem := &r.Memory
	mem.Notifications = p.Notifications
	// reading also fills parts, when given, with where the resident memory is (a walk of smaps).
	reading := func(parts *residentParts) (rss, heap, goroutines float64, err error) {
		b, err := e.rss()
		if err != nil {
			return 0, 0, 0, err
		}
		m, err := e.metrics()
		if err != nil {
			return 0, 0, 0, err
		}
		if parts != nil {
			if *parts, err = e.residentParts(m); err != nil {
				return 0, 0, 0, err
			}
		}
		return float64(b) / (1 << 20), m["go_memstats_heap_inuse_bytes"] / (1 << 20), m["go_goroutines"], nil
	}
	time.Sleep(p.Settle / 10)
	var err error
	if mem.IdleRSSMB, mem.IdleHeapMB, mem.IdleGoroutines, err = reading(&mem.IdleParts); err != nil {
		return err
	}
	postsBefore := int64(e.st.Count(http.MethodPost, "/leads"))
	otherBefore := int64(e.st.Count(http.MethodPut, "/leads")) + int64(e.st.Count(http.MethodPut, "/leads/stop/followup"))
	logf("memory: %d notifications at concurrency %d (idle RSS %.0f MB)", p.Notifications, p.NotifConc, mem.IdleRSSMB)

	peak := make(chan float64, 1)
	stopSampling := make(chan struct{})
	go func() {
		var top float64
		for {
			if b, err := e.rss(); err == nil {
				top = max(top, float64(b)/(1<<20))
			}
			select {
			case <-stopSampling:
				peak <- top
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	profiled := make(chan error, 1)
	go func() {
		time.Sleep(time.Second) // into the steady state
		profiled <- e.profile(p.Profile, filepath.Join(out, "profiles", "worker.pprof"))
	}()
	start := time.Now()
	// Sales is held back while more than maxBacklog prospects wait to be forwarded: the figure
	// is the App's memory in steady forwarding, not with a queue the size of the run (on the
	// embedded store a deep queue also makes every claim slower, see docs/BENCHMARKS.md).
	res := hammer(ctx, p.NotifConc, 0, 24*time.Hour, p.Notifications, func(i int64) (string, []byte) {
		for i-(int64(e.st.Count(http.MethodPost, "/leads"))-postsBefore) > maxBacklog && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		in := e.instances[i%int64(len(e.instances))]
		return in.webhookURL, prospectNotification(in, seq.Add(1), "created", "unclaimed")
	})
	mem.IntakeSeconds = time.Since(start).Seconds()
	if res.Failed > 0 {
		close(stopSampling)
		<-profiled
		return fmt.Errorf("%d of %d notifications were refused", res.Failed, res.Requests)
	}
	deadline := time.Now().Add(time.Hour)
	for int64(e.st.Count(http.MethodPost, "/leads"))-postsBefore < p.Notifications {
		if time.Now().After(deadline) || ctx.Err() != nil {
			close(stopSampling)
			return fmt.Errorf("only %d of %d leads after an hour", int64(e.st.Count(http.MethodPost, "/leads"))-postsBefore, p.Notifications)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mem.DrainSeconds = time.Since(start).Seconds()
	mem.DeliveriesPerSec = float64(p.Notifications) / mem.DrainSeconds
	if err := <-profiled; err != nil {
		close(stopSampling)
		return fmt.Errorf("profile: %w", err)
	}
	close(stopSampling)
	mem.PeakRSSMB = <-peak
	time.Sleep(2 * time.Second) // the last deliveries finish recording
	r.Calls.BulkLeadPosts = int64(e.st.Count(http.MethodPost, "/leads")) - postsBefore
	r.Calls.BulkOtherSevenTargets = int64(e.st.Count(http.MethodPut, "/leads")) + int64(e.st.Count(http.MethodPut, "/leads/stop/followup")) - otherBefore
	if mem.DrainedRSSMB, mem.DrainedHeapMB, _, err = reading(nil); err != nil {
		return err
	}
	time.Sleep(p.Settle)
	if mem.SettledRSSMB, mem.SettledHeapMB, mem.SettledGoroutines, err = reading(&mem.SettledParts); err != nil {
		return err
	}
	if err := e.heapProfile(filepath.Join(out, "profiles", "heap-settled.pprof")); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	logf("  intake %.0f s, drained after %.0f s (%.0f deliveries/s); RSS idle %.0f, peak %.0f, drained %.0f, settled %.0f MB; heap in use idle %.0f, settled %.0f MB",
		mem.IntakeSeconds, mem.DrainSeconds, mem.DeliveriesPerSec, mem.IdleRSSMB, mem.PeakRSSMB, mem.DrainedRSSMB, mem.SettledRSSMB, mem.IdleHeapMB, mem.SettledHeapMB)
	logf("  resident idle: %s; settled: %s", mem.IdleParts, mem.SettledParts)
	return nil
}

// pages times the signed report of one instance over a range holding its deliveries against a
// range holding none.
func pages(ctx context.Context, e *env, p plan, r *results, logf func(string, ...any)) error {
	in := e.instances[0]
	report := func(rangeQuery string) string {
		pq := extensions.ReportsPath + extensions.ReportKey + "?user=loadgen-manager&lang=en&" + rangeQuery +
			"&group=" + in.groupID + "&parentGroup=" + in.groupID
		return e.base + pq + "&signature=" + extensions.Sign([]byte(signingKey), e.base+pq)
	}
	client := newClient(1)
	client.Timeout = 10 * time.Minute // a report over many deliveries scans them on the embedded store
	render := func(u string) (loadResult, int, string, error) {
		var lat []time.Duration
		var size int
		var last string
		for range p.Renders {
			t0 := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			res, err := client.Do(req)
			if err != nil {
				return loadResult{}, 0, "", err
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				return loadResult{}, 0, "", fmt.Errorf("report: %d %v", res.StatusCode, err)
			}
			lat = append(lat, time.Since(t0))
			size, last = len(b), string(b)
		}
		return summarize(lat), size, last, nil
	}
	full, size, body, err := render(report("range=last7"))
	if err != nil {
		return err
	}
	empty, _, _, err := render(report("range=custom&start=2020-01-01&end=2020-01-31"))
	if err != nil {
		return err
	}
	// Instance 0 got every tenth prospect of each phase (i%10 == 0: i from 0 for the latency
	// phase, from 1 for the memory phase).
	deliveries := int(r.Memory.Notifications)/len(e.instances) + (r.Latency.Prospects+len(e.instances)-1)/len(e.instances)
	pg := &r.Pages
	pg.Deliveries, pg.FullP50ms, pg.EmptyP50ms, pg.FullBytes = deliveries, full.P50ms, empty.P50ms, size
	pg.Ratio = full.P50ms / empty.P50ms
	pg.ShowsCounts = strings.Contains(body, formatCount(deliveries))
	logf("pages: report over %d deliveries p50 %.1f ms, empty range %.1f ms: %.1fx (%d bytes; count shown: %v)",
		deliveries, pg.FullP50ms, pg.EmptyP50ms, pg.Ratio, size, pg.ShowsCounts)
	return nil
}

// formatCount writes n as the English report does (thousands separated by commas).
func formatCount(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// metricMatching sums the series of name whose labels contain every one of labels.
func metricMatching(m map[string]float64, name string, labels ...string) float64 {
	var sum float64
	for k, v := range m {
		if !strings.HasPrefix(k, name+"{") {
			continue
		}
		if !slices.ContainsFunc(labels, func(l string) bool { return !strings.Contains(k, l) }) {
			sum += v
		}
	}
	return sum
}

// topOf renders the top of a CPU profile as text, for docs/BENCHMARKS.md.
func topOf(profile string) (string, error) {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", profile).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w: %s", err, out)
	}
	return string(out), nil
}
