package forwarding

import (
	"math"
	"testing"
	"time"
)

// TestInProgressMean checks the intake's load as the worker reads it: the mean of what is in
// progress over time, recent time weighing more, so that a moment's crowd counts for little
// and a lasting one for nearly all it is.
func TestInProgressMean(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	type step struct {
		after time.Duration // since t0
		add   int
	}
	tests := []struct {
		name  string
		steps []step
		at    time.Duration
		want  float64
	}{
		{"nothing yet", nil, time.Second, 0},
		{"three for one averaging time", []step{{0, 3}}, busyOver, 3 * (1 - math.Exp(-1))},
		{"three for long", []step{{0, 3}}, 20 * busyOver, 3},
		{"a moment's crowd of twenty", []step{{0, 20}, {time.Millisecond, -20}}, time.Millisecond, 20 * (1 - math.Exp(-0.01))},
		{"twenty, long gone", []step{{0, 20}, {20 * busyOver, -20}}, 40 * busyOver, 20 * math.Exp(-20)},
		{"two on top of four that lasted", []step{{0, 4}, {20 * busyOver, 2}}, 21 * busyOver, 4 + 2*(1-math.Exp(-1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p inProgress
			p.at = t0
			for _, s := range tt.steps {
				p.add(s.add, t0.Add(s.after))
			}
			if got := p.mean(t0.Add(tt.at)); math.Abs(got-tt.want) > 1e-3 {
				t.Errorf("mean = %.4f, want %.4f", got, tt.want)
			}
		})
	}
}
