package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestMain lets the test binary be the App child process, as the loadgen binary is.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "app" {
		if err := runApp(); err != nil {
			os.Stderr.WriteString("loadgen app: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuickRun runs every phase at a tiny scale and checks what does not depend on speed: every
// webhook is accepted, each new prospect costs exactly one POST /leads, each instance one token
// request, no Sales call, and every file of the report is written.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several App processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var log bytes.Buffer
	r, err := run(context.Background(), exe, nil, quickPlan(), out, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	// On a busy machine a short load point may measure nothing; none may fail.
	var app, baseline int
	for _, pt := range r.Intake {
		app, baseline = app+pt.App.Requests, baseline+pt.Baseline.Requests
		if pt.App.Failed+pt.Baseline.Failed > 0 {
			t.Errorf("intake at %d senders: %+v", pt.Concurrency, pt)
		}
	}
	if app == 0 || baseline == 0 {
		t.Errorf("the intake sweep measured %d App and %d baseline webhooks", app, baseline)
	}
	for _, s := range r.Scale {
		if s.Result.Failed > 0 {
			t.Errorf("scale at %d instances: %+v", s.Instances, s.Result)
		}
	}
	c := r.Calls
	if c.PostsPerLead != 1 || c.TokenRequestsMin != 1 || c.TokenRequestsMax != 1 || c.SalesCalls != 0 {
		t.Errorf("calls = %+v, want 1 POST /leads per lead, 1 token request per instance, 0 Sales calls", c)
	}
	if c.BulkLeadPosts != r.Memory.Notifications || c.BulkOtherSevenTargets != 0 {
		t.Errorf("%d notifications made %d POST /leads and %d other lead calls", r.Memory.Notifications, c.BulkLeadPosts, c.BulkOtherSevenTargets)
	}
	if !r.Pages.ShowsCounts {
		t.Errorf("the report over %d deliveries does not show that count", r.Pages.Deliveries)
	}
	for _, f := range []string{"results.json", "results.md", "intake.svg", "profiles/intake.pprof", "profiles/worker.pprof", "profiles/intake-top.txt", "profiles/heap-settled.pprof"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}
