package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// openLoad is a run at a constant webhook rate: each webhook is sent at its scheduled time
// whether or not earlier ones were answered, as many Sales accounts together send them.
type openLoad struct {
	Rate     float64    `json:"rate"` // webhooks per second asked for
	Result   loadResult `json:"result"`
	Backlog  int64      `json:"backlogAtEnd"`  // accepted and not yet at 7Targets when the last was answered
	MaxLag   int64      `json:"maxBacklog"`    // the most waiting at any one-second sample
	Bounded  bool       `json:"outboxBounded"` // the backlog at the end is under two seconds of webhooks
	Within   bool       `json:"withinBudget"`  // bounded, p99 ≤ 100 ms, none refused
	Forwards float64    `json:"leadsPerSecond"`

	perWebhook, perDelivery perUnit // store commands (rateTrial)
}

// maxInFlight bounds the webhooks one open-loop run has unanswered; a webhook due while that
// many wait counts as failed, as Sales would time it out.
const maxInFlight = 2048

// openLoop sends webhooks at rate per second for d, latency measured from each one's scheduled
// time (so an App that falls behind shows it), and samples the backlog of prospects accepted
// and not yet posted to 7Targets every second.
func openLoop(ctx context.Context, e *env, rate float64, d time.Duration, next func(i int64) (string, []byte)) openLoad {
	client := newClient(256)
	defer client.CloseIdleConnections()
	postsBefore := int64(e.st.Count(http.MethodPost, "/leads"))
	var accepted atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	var wg sync.WaitGroup
	inflight := make(chan struct{}, maxInFlight)
	backlog := func() int64 { return accepted.Load() - (int64(e.st.Count(http.MethodPost, "/leads")) - postsBefore) }
	var maxBacklog atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if b := backlog(); b > maxBacklog.Load() {
					maxBacklog.Store(b)
				}
			}
		}
	}()
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := int64(0); ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= d || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Until(at))
		select {
		case inflight <- struct{}{}:
		default:
			mu.Lock()
			failed++
			mu.Unlock()
			continue
		}
		url, body := next(i + 1)
		wg.Go(func() {
			defer func() { <-inflight }()
			status := post(ctx, client, url, body)
			took := time.Since(at)
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, took)
			if status == http.StatusOK {
				accepted.Add(1)
			} else {
				failed++
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopSampling)
	<-sampled
	r := summarize(lat)
	r.Failed, r.Accepted, r.Seconds = failed, accepted.Load(), elapsed.Seconds()
	r.PerSecond = float64(len(lat)) / elapsed.Seconds()
	o := openLoad{Rate: rate, Result: r, Backlog: backlog(), MaxLag: max(maxBacklog.Load(), backlog())}
	o.Forwards = float64(int64(e.st.Count(http.MethodPost, "/leads"))-postsBefore) / elapsed.Seconds()
	o.Bounded = float64(o.Backlog) <= max(2*rate, 20)
	o.Within = o.Bounded && r.P99ms <= 100 && r.Failed == 0
	return o
}

// rateTrial sends webhooks at rate per second for p.Sustain to a fresh App and store, and says
// how it went, with the store commands per accepted webhook and per lead posted. With profile
// set, it takes a CPU profile of the App there from a quarter into the trial.
func rateTrial(ctx context.Context, exe string, extraEnv []string, p plan, rate float64, seq *atomic.Int64, profile string, logf func(string, ...any)) (openLoad, error) {
	e, err := startEnv(ctx, exe, extraEnv, envOptions{instances: p.Scale[0]})
	if err != nil {
		return openLoad{}, err
	}
	defer e.stop()
	before, err := e.commands()
	if err != nil {
		return openLoad{}, err
	}
	profiled := make(chan error, 1)
	if profile != "" {
		go func() {
			time.Sleep(p.Sustain / 4)
			profiled <- e.profile(min(p.Profile, p.Sustain/2), profile)
		}()
	}
	o := openLoop(ctx, e, rate, p.Sustain, func(n int64) (string, []byte) {
		in := e.instances[n%int64(len(e.instances))]
		return in.webhookURL, prospectNotification(in, seq.Add(1), "created", "unclaimed")
	})
	if profile != "" {
		if err := <-profiled; err != nil {
			return o, fmt.Errorf("profile: %w", err)
		}
	}
	after, err := e.commands()
	if err != nil {
		return o, err
	}
	intake, rest := after.since(before).split()
	posted := int64(o.Forwards * o.Result.Seconds)
	o.perWebhook, o.perDelivery = per(intake, o.Result.Accepted), per(rest, posted)
	logf("  %.0f webhooks/s: p50 %.1f p99 %.1f ms, %d failed, %.0f leads/s, backlog %d at the end (most %d): within %v; commands per webhook %s, per delivery %s",
		rate, o.Result.P50ms, o.Result.P99ms, o.Result.Failed, o.Forwards, o.Backlog, o.MaxLag, o.Within, o.perWebhook, o.perDelivery.Detail())
	return o, nil
}

// sustainedFigures is the highest constant rate the App takes and forwards, against the
// baseline's throughput in the same run.
type sustainedFigures struct {
	Baseline float64    `json:"baselinePerSecond"` // the sweep's best baseline throughput at 16 senders or more
	Trials   []openLoad `json:"trials"`
	Rate     float64    `json:"sustainedRate"` // the highest trial within budget (0: none)
	Ratio    float64    `json:"ratio"`         // Rate / Baseline
	Commands struct {
		PerWebhook  perUnit `json:"perAcceptedWebhook"` // the intake's, at the sustained rate
		PerDelivery perUnit `json:"perDelivery"`        // the rest, per lead posted, at the sustained rate
	} `json:"commands"`
}

// sustainedFractions are the trial rates, as fractions of the baseline, from the highest down.
var sustainedFractions = []float64{1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08, 0.05, 0.035, 0.025, 0.018, 0.012}

// sustained finds the highest constant webhook rate at which, over p.Sustain, the backlog stays
// bounded and the webhooks' p99 within 100 ms. Each trial runs on a fresh App and store, so
// one that fell behind leaves nothing to the next. It starts at the rate the App forwarded
// in the sweep (rounded up to a trial rate) and goes down until a trial is within budget, or
// up from there while they are.
func sustained(ctx context.Context, exe string, extraEnv []string, p plan, out string, r *results, seq *atomic.Int64, logf func(string, ...any)) error {
	s := &r.Sustained
	for _, pt := range r.Intake {
		if pt.Concurrency >= 16 {
			s.Baseline = max(s.Baseline, pt.Baseline.PerSecond)
		}
	}
	if s.Baseline == 0 && len(r.Intake) > 0 {
		s.Baseline = r.Intake[len(r.Intake)-1].Baseline.PerSecond
	}
	if s.Baseline == 0 {
		return errors.New("no baseline measured")
	}
	start := len(sustainedFractions) - 1
	for i, f := range sustainedFractions {
		if f*s.Baseline <= 1.2*max(r.SweepForwarding, 1) {
			start = i
			break
		}
	}
	trial := func(i int) (openLoad, error) {
		rate := sustainedFractions[i] * s.Baseline
		profile := ""
		if i == start {
			profile = filepath.Join(out, "profiles", "worker.pprof")
		}
		o, err := rateTrial(ctx, exe, extraEnv, p, rate, seq, profile, logf)
		if err != nil {
			return o, err
		}
		if o.Within && rate > s.Rate {
			s.Rate = rate
			s.Commands.PerWebhook, s.Commands.PerDelivery = o.perWebhook, o.perDelivery
		}
		return o, nil
	}
	logf("sustained: constant webhook rates for %v each, against the baseline's %.0f/s", p.Sustain, s.Baseline)
	for i := start; i < len(sustainedFractions); i++ {
		o, err := trial(i)
		if err != nil {
			return err
		}
		s.Trials = append(s.Trials, o)
		if !o.Within {
			continue
		}
		// Within: try the rates above, until one is not.
		for j := i - 1; j >= 0 && i == start; j-- {
			o, err := trial(j)
			if err != nil {
				return err
			}
			s.Trials = append(s.Trials, o)
			if !o.Within {
				break
			}
		}
		break
	}
	s.Ratio = s.Rate / s.Baseline
	return nil
}

// fairnessFigures compare the nine fast instances' webhook → lead latency with one instance's
// 7Targets slow against all ten fast.
type fairnessFigures struct {
	Rate        float64 `json:"rate"` // webhooks per second, spread over ten instances
	SlowSeconds float64 `json:"slowSeconds"`
	AllFastP50  float64 `json:"allFastP50ms"` // the nine's p50 with all ten fast
	OneSlowP50  float64 `json:"oneSlowP50ms"` // the nine's p50 with the tenth slow
	AllFastP99  float64 `json:"allFastP99ms"`
	OneSlowP99  float64 `json:"oneSlowP99ms"`
	Ratio       float64 `json:"ratio"` // OneSlowP50 / AllFastP50
	Leads       int     `json:"fastLeadsEach"`
}

// fairness sends webhooks at half the sustained rate to ten instances, once with every
// 7Targets account answering at once and once with the first answering in 5 s, and compares
// the other nine's webhook → POST /leads latency.
func fairness(ctx context.Context, exe string, extraEnv []string, p plan, r *results, seq *atomic.Int64, logf func(string, ...any)) error {
	const instances, slow = 10, 5 * time.Second
	f := &r.Fairness
	f.Rate = max(5, r.Sustained.Rate/2)
	f.SlowSeconds = slow.Seconds()
	run := func(slowFirst bool) (loadResult, error) {
		e, err := startEnv(ctx, exe, extraEnv, envOptions{instances: instances})
		if err != nil {
			return loadResult{}, err
		}
		defer e.stop()
		if slowFirst {
			e.st.SetClientLatency(e.instances[0].clientID, slow)
		}
		var mu sync.Mutex
		sent := map[string]time.Time{} // a fast instance's prospect's email → when its webhook was sent
		o := openLoop(ctx, e, f.Rate, p.Fairness, func(n int64) (string, []byte) {
			in := e.instances[n%int64(len(e.instances))]
			k := seq.Add(1)
			if n%int64(len(e.instances)) != 0 {
				mu.Lock()
				sent[prospectEmail(firstNames[k%int64(len(firstNames))], lastNames[k%int64(len(lastNames))], k)] = time.Now()
				mu.Unlock()
			}
			return in.webhookURL, prospectNotification(in, k, "created", "unclaimed")
		})
		if o.Result.Failed > 0 {
			return loadResult{}, fmt.Errorf("%d webhooks refused", o.Result.Failed)
		}
		mu.Lock()
		defer mu.Unlock()
		deadline := time.Now().Add(5 * time.Minute)
		for {
			lat := leadLatencies(e, sent)
			if len(lat) == len(sent) {
				return summarize(lat), nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return loadResult{}, fmt.Errorf("%d of %d fast instances' leads reached 7Targets", len(lat), len(sent))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	logf("fairness: %.0f webhooks/s over %d instances for %v, all fast, then one answering in %v", f.Rate, instances, p.Fairness, slow)
	fast, err := run(false)
	if err != nil {
		return err
	}
	oneSlow, err := run(true)
	if err != nil {
		return err
	}
	f.AllFastP50, f.AllFastP99, f.OneSlowP50, f.OneSlowP99 = fast.P50ms, fast.P99ms, oneSlow.P50ms, oneSlow.P99ms
	f.Ratio = f.OneSlowP50 / f.AllFastP50
	f.Leads = fast.Requests
	logf("  nine fast instances' webhook→lead p50 %.1f ms (p99 %.1f) with one slow, against %.1f ms (p99 %.1f) all fast: %.2fx",
		f.OneSlowP50, f.OneSlowP99, f.AllFastP50, f.AllFastP99, f.Ratio)
	return nil
}

// leadLatencies times each prospect of sent from its webhook to its POST /leads at the fake.
func leadLatencies(e *env, sent map[string]time.Time) []time.Duration {
	var out []time.Duration
	for _, req := range e.st.Requests() {
		if req.Method != http.MethodPost || req.Path != "/leads" {
			continue
		}
		var body struct {
			Email string `json:"email"`
		}
		if json.Unmarshal(req.Body, &body) != nil {
			continue
		}
		if t0, ok := sent[body.Email]; ok {
			out = append(out, req.At.Sub(t0))
		}
	}
	return out
}
