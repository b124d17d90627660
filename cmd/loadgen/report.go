package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// writeResults writes results.json, results.md, intake.svg and the profiles' tops to out.
func writeResults(out string, r *results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "intake.svg"), []byte(plotIntake(r.Intake)), 0o644); err != nil {
		return err
	}
	for _, name := range []string{"intake", "intake-off", "worker"} {
		profile := filepath.Join(out, "profiles", name+".pprof")
		if _, err := os.Stat(profile); err != nil {
			continue
		}
		top, err := topOf(profile)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "profiles", name+"-top.txt"), []byte(top), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, "results.md"), []byte(markdown(r)), 0o644)
}

// rerenderResults renders the report of a results.json again (after editing it, or from a
// run whose files were lost) into out.
func rerenderResults(path, out string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Join(out, "profiles"), 0o755); err != nil {
		return err
	}
	return writeResults(out, &r)
}

// markdown renders the figures as the tables docs/BENCHMARKS.md quotes.
func markdown(r *results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("Run of %s, %s, %d CPUs.", r.Started.Format("2006-01-02 15:04 UTC"), r.GoVersion, r.CPUs)
	p("")
	p("### 1. Webhook intake against one insert per webhook, the worker forwarding meanwhile")
	p("")
	p("| concurrent senders | App webhooks/s | App p50 / p99 ms | baseline webhooks/s | baseline p50 / p99 ms | throughput ratio | store commands per webhook: intake; the rest per lead | backlog drained after |")
	p("|---:|---:|---:|---:|---:|---:|---|---:|")
	for _, pt := range r.Intake {
		p("| %d | %.0f | %.1f / %.1f | %.0f | %.1f / %.1f | %.2f× | %.2f; %s | %.1f s |", pt.Concurrency,
			pt.App.PerSecond, pt.App.P50ms, pt.App.P99ms, pt.Baseline.PerSecond, pt.Baseline.P50ms, pt.Baseline.P99ms, pt.Ratio,
			pt.IntakeCommands.PerUnit, pt.WorkerCommands, pt.Drained)
	}
	p("")
	p("The worker posted %.0f leads/s over the sweep and its drains.", r.SweepForwarding)
	for _, pt := range r.Intake {
		p("Store commands per lead posted at %d senders, by command and collection: %s.", pt.Concurrency, pt.WorkerCommands.Detail())
	}
	p("")
	p("#### 1b. The same with the delivery worker off (the intake alone; not the figure of record)")
	p("")
	p("| concurrent senders | App webhooks/s | App p50 / p99 ms | baseline webhooks/s | baseline p50 / p99 ms | throughput ratio |")
	p("|---:|---:|---:|---:|---:|---:|")
	for _, pt := range r.IntakeOff {
		p("| %d | %.0f | %.1f / %.1f | %.0f | %.1f / %.1f | %.2f× |", pt.Concurrency,
			pt.App.PerSecond, pt.App.P50ms, pt.App.P99ms, pt.Baseline.PerSecond, pt.Baseline.P50ms, pt.Baseline.P99ms, pt.Ratio)
	}
	p("")
	p("Store commands per accepted webhook, worker off: %s.", r.Commands.PerWebhookWorkerOff)
	p("")
	su := r.Sustained
	p("#### 1c. Sustained rate (%v per trial, a fresh App each), against the baseline's %.0f webhooks/s", r.Plan.Sustain, su.Baseline)
	p("")
	p("| webhooks/s asked | answered/s | p50 / p99 ms | refused | leads/s | backlog at the end (most) | within |")
	p("|---:|---:|---:|---:|---:|---:|---|")
	for _, t := range su.Trials {
		p("| %.0f | %.0f | %.1f / %.1f | %d | %.0f | %d (%d) | %v |", t.Rate, t.Result.PerSecond, t.Result.P50ms, t.Result.P99ms, t.Result.Failed, t.Forwards, t.Backlog, t.MaxLag, t.Within)
	}
	p("")
	p("Sustained: %.0f webhooks/s, %.2f× the baseline. At that rate, store commands per accepted webhook (intake) %s; per delivery %s.",
		su.Rate, su.Ratio, su.Commands.PerWebhook, su.Commands.PerDelivery)
	if su.Rate > 0 {
		p("")
		p("Per delivery at that rate, by command and collection: %s.", su.Commands.PerDelivery.Detail())
	}
	p("")
	fa := r.Fairness
	p("#### 1d. Fairness: %.0f webhooks/s over ten instances for %v", fa.Rate, r.Plan.Fairness)
	p("")
	p("| run | nine fast instances' webhook → POST /leads p50 / p99 ms |")
	p("|---|---:|")
	p("| all ten answering at once | %.1f / %.1f |", fa.AllFastP50, fa.AllFastP99)
	p("| one answering in %.0f s | %.1f / %.1f |", fa.SlowSeconds, fa.OneSlowP50, fa.OneSlowP99)
	p("| ratio of the p50s | %.2f× |", fa.Ratio)
	p("")
	l := r.Latency
	p("### 2. Webhook → POST /leads at low load (%d prospects one at a time)", l.Prospects)
	p("")
	p("| end-to-end p50 / p99 ms | intake p50 ms | one 7Targets call (mean) ms | ratio |")
	p("|---:|---:|---:|---:|")
	p("| %.2f / %.2f | %.2f | %.2f | %.2f× |", l.EndToEnd.P50ms, l.EndToEnd.P99ms, l.IntakeP50ms, l.CallMeanMs, l.Ratio)
	p("")
	p("Store commands per new lead at low load: %s; of them after the webhook's insert: %s.", r.Commands.LowLoadPerLead, r.Commands.LowLoadPerDelivery)
	p("")
	p("The same after the webhook's insert, by command and collection: %s.", r.Commands.LowLoadPerDelivery.Detail())
	p("")
	c := r.Calls
	p("### 3. Calls per lead")
	p("")
	p("| figure | measured |")
	p("|---|---:|")
	p("| 7Targets `POST /leads` per new lead (%d leads) | %.2f |", c.NewLeads, c.PostsPerLead)
	p("| token requests per instance over the run (min–max of %d instances) | %d–%d |", 10, c.TokenRequestsMin, c.TokenRequestsMax)
	p("| Sales API calls per notification carrying its prospect | %.2f (%d calls) |", c.SalesCallsPerNotif, c.SalesCalls)
	p("| `POST /leads` for the %d notifications of figure 5 | %d |", r.Memory.Notifications, c.BulkLeadPosts)
	p("| other 7Targets lead calls for them | %d |", c.BulkOtherSevenTargets)
	p("")
	p("### 4. Intake cost against installed instances")
	p("")
	p("| installed instances | webhooks/s | µs per webhook | p50 / p99 ms | against the first |")
	p("|---:|---:|---:|---:|---:|")
	for _, s := range r.Scale {
		p("| %d | %.0f | %.0f | %.1f / %.1f | %.2f× |", s.Instances, s.Result.PerSecond, s.MicrosPerReq, s.Result.P50ms, s.Result.P99ms, s.Ratio)
	}
	p("")
	m := r.Memory
	p("### 5. Memory (%d notifications)", m.Notifications)
	p("")
	p("| reading | resident MB | Go heap in use MB | goroutines |")
	p("|---|---:|---:|---:|")
	p("| idle, before | %.0f | %.0f | %.0f |", m.IdleRSSMB, m.IdleHeapMB, m.IdleGoroutines)
	p("| peak while queued and forwarding | %.0f | | |", m.PeakRSSMB)
	p("| queue drained | %.0f | %.0f | |", m.DrainedRSSMB, m.DrainedHeapMB)
	p("| %v after that | %.0f | %.0f | %.0f |", r.Plan.Settle, m.SettledRSSMB, m.SettledHeapMB, m.SettledGoroutines)
	p("")
	if m.SettledParts.AnonMB > 0 { // runs before the split was recorded have none
		p("Resident memory by where it lives (from /proc/<pid>/smaps): idle %s; settled %s.", m.IdleParts, m.SettledParts)
		p("")
	}
	p("Intake of all %d took %.0f s; the last lead reached 7Targets after %.0f s (%.0f deliveries/s).", m.Notifications, m.IntakeSeconds, m.DrainSeconds, m.DeliveriesPerSec)
	p("")
	g := r.Pages
	p("### 6. Signed report render")
	p("")
	p("| range | p50 ms |")
	p("|---|---:|")
	p("| %d deliveries | %.1f |", g.Deliveries, g.FullP50ms)
	p("| empty | %.1f |", g.EmptyP50ms)
	p("| ratio | %.1f× |", g.Ratio)
	return b.String()
}

// plotIntake draws throughput and p99 latency against concurrency for the App and the
// baseline, side by side, as a self-contained SVG.
func plotIntake(points []intakePoint) string {
	const w, h, panelW, left, top, plotW, plotH = 960, 380, 480, 70, 40, 380, 280
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	if len(points) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	x := func(i int) float64 {
		if len(points) == 1 {
			return left + plotW/2
		}
		return left + float64(i)*plotW/float64(len(points)-1)
	}
	panel := func(ox float64, title, unit string, value func(loadResult) float64, logScale bool, marker float64) {
		maxV := marker
		minV := math.Inf(1)
		for _, pt := range points {
			maxV = max(maxV, value(pt.App), value(pt.Baseline))
			minV = min(minV, value(pt.App), value(pt.Baseline))
		}
		lo, hi := 0.0, maxV*1.1
		scale := func(v float64) float64 { return v }
		if logScale {
			lo, hi = math.Floor(math.Log10(max(minV, 0.01))), math.Ceil(math.Log10(maxV))
			scale = func(v float64) float64 { return math.Log10(max(v, 0.01)) }
		}
		y := func(v float64) float64 { return top + plotH - (scale(v)-lo)/(hi-lo)*plotH }
		fmt.Fprintf(&b, `<g transform="translate(%.0f,0)">`+"\n", ox)
		fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", left, title)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left, top+plotH, left+plotW, top+plotH)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left, top, left, top+plotH)
		for i, pt := range points {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(i), top+plotH+16, pt.Concurrency)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">concurrent senders</text>`+"\n", left+plotW/2, top+plotH+34)
		ticks := 5
		if logScale {
			ticks = max(1, int(hi-lo)) // one per decade
		}
		for t := 0; t <= ticks; t++ {
			v := lo + (hi-lo)*float64(t)/float64(ticks)
			label := v
			if logScale {
				label = math.Pow(10, v)
			}
			yy := top + plotH - float64(t)/float64(ticks)*plotH
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, yy, left+plotW, yy)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, yy+4, trimFloat(label))
		}
		fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`+"\n", top+plotH/2, top+plotH/2, unit)
		if marker > 0 {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c00" stroke-dasharray="5,4"/>`+"\n", left, y(marker), left+plotW, y(marker))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#c00" text-anchor="end">budget %s ms</text>`+"\n", left+plotW, y(marker)-4, trimFloat(marker))
		}
		series := func(pick func(intakePoint) loadResult, color string) {
			var path strings.Builder
			for i, pt := range points {
				cmd := "L"
				if i == 0 {
					cmd = "M"
				}
				fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, x(i), y(value(pick(pt))))
			}
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.TrimSpace(path.String()), color)
			for i, pt := range points {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(i), y(value(pick(pt))), color)
			}
		}
		series(func(pt intakePoint) loadResult { return pt.Baseline }, "#888")
		series(func(pt intakePoint) loadResult { return pt.App }, "#1565c0")
		b.WriteString("</g>\n")
	}
	panel(0, "Webhook intake throughput", "webhooks per second", func(r loadResult) float64 { return r.PerSecond }, false, 0)
	panel(panelW, "Webhook intake p99 latency (log scale)", "p99 latency, ms", func(r loadResult) float64 { return r.P99ms }, true, 50)
	fmt.Fprintf(&b, `<g transform="translate(%d,%d)"><rect width="12" height="12" fill="#1565c0"/><text x="18" y="11">App (group commit)</text>`+
		`<rect x="170" width="12" height="12" fill="#888"/><text x="188" y="11">baseline: one insert per webhook</text></g>`+"\n", left, h-18)
	b.WriteString("</svg>\n")
	return b.String()
}

func trimFloat(v float64) string {
	if v >= 100 || v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
