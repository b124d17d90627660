// Command loadgen measures the App: it runs the real App (the server's own wiring) in a child
// process on the embedded store, with simulated Zenvia Sales and 7Targets on loopback, drives it
// with realistic prospect webhooks across many instances, and writes every figure of
// docs/BENCHMARKS.md, a plot and CPU profiles to an output directory:
//
//	go run ./cmd/loadgen -out docs/bench
//
// The figures are ratios measured in one run, side by side, because absolute times on a shared
// machine are noisy. -quick runs every phase at a tiny scale (a smoke test, not a measurement).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// roleEnv makes the process the App under measurement instead of the driver.
const roleEnv = "LOADGEN_ROLE"

func main() {
	if os.Getenv(roleEnv) == "app" {
		if err := runApp(); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen app:", err)
			os.Exit(1)
		}
		return
	}
	out := flag.String("out", "bench-out", "directory for results.json, results.md, the plot and the profiles")
	quick := flag.Bool("quick", false, "run every phase at a tiny scale (checks the tool, measures nothing)")
	levels := flag.String("levels", "", "concurrency levels of the intake sweep, comma-separated (default 1,4,16,32,64,128,256)")
	scale := flag.String("instances", "", "installed instances of the scale figure, comma-separated (default 10,1000,10000)")
	notifications := flag.Int64("notifications", 0, "notifications of the memory figure (default 100000)")
	sustain := flag.Duration("sustain", 0, "length of each constant-rate trial of the sustained figure (default 60s)")
	forwardingOnly := flag.Bool("forwarding-only", false, "run only the forwarding phase (figures 2, 3, 5 and 6: latency, calls, memory, report)")
	rerender := flag.String("rerender", "", "only render results.md, the plot and the profiles' tops into -out from this results.json")
	rates := flag.String("rates", "", "only run constant-rate trials at these webhook rates per second, comma-separated, each on a fresh App for -sustain, and print them")
	flag.Parse()
	if *rerender != "" {
		if err := rerenderResults(*rerender, *out); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	plan := fullPlan()
	if *quick {
		plan = quickPlan()
	}
	if plan.Levels, err = intsOr(*levels, plan.Levels); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: -levels:", err)
		os.Exit(2)
	}
	if plan.Scale, err = intsOr(*scale, plan.Scale); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: -instances:", err)
		os.Exit(2)
	}
	if *notifications > 0 {
		plan.Notifications = *notifications
	}
	if *sustain > 0 {
		plan.Sustain = *sustain
	}
	plan.ForwardingOnly = *forwardingOnly
	if *rates != "" {
		if err := rateTrials(ctx, exe, plan, *rates); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	if _, err := run(ctx, exe, nil, plan, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// rateTrials runs a constant-rate trial at each of the comma-separated rates (rateTrial).
func rateTrials(ctx context.Context, exe string, p plan, rates string) error {
	var seq atomic.Int64
	logf := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	for f := range strings.SplitSeq(rates, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || rate <= 0 {
			return fmt.Errorf("-rates: %q is not a positive rate", f)
		}
		if _, err := rateTrial(ctx, exe, nil, p, rate, &seq, "", logf); err != nil {
			return err
		}
	}
	return nil
}

// intsOr parses a comma-separated list of positive integers, or returns def for "".
func intsOr(s string, def []int) ([]int, error) {
	if s == "" {
		return def, nil
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
