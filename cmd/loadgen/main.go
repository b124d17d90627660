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
	flag.Parse()

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
	if _, err := run(ctx, exe, nil, plan, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
