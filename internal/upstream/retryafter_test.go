package upstream_test

import (
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/upstream"
)

var retryAfterNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		limit time.Duration
		want  time.Duration
	}{
		{"empty", "", time.Hour, 0},
		{"seconds", "120", time.Hour, 2 * time.Minute},
		{"zero", "0", time.Hour, 0},
		{"padded", " 5 ", time.Hour, 5 * time.Second},
		{"negative", "-5", time.Hour, 0},
		{"fraction", "1.5", time.Hour, 0},
		{"garbage", "soon", time.Hour, 0},
		{"beyond int64", "99999999999999999999999", time.Hour, time.Hour},
		{"over the limit", "3601", time.Hour, time.Hour},
		{"at the limit", "3600", time.Hour, time.Hour},
		{"HTTP date", "Sat, 01 Mar 2025 12:00:30 GMT", time.Hour, 30 * time.Second},
		{"past date", "Sat, 01 Mar 2025 11:00:00 GMT", time.Hour, 0},
		{"RFC 850 date", "Saturday, 01-Mar-25 12:01:00 GMT", time.Hour, time.Minute},
		{"far date", "Sat, 01 Mar 2125 12:00:00 GMT", time.Hour, time.Hour},
		{"no limit", "30", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := upstream.ParseRetryAfter(tt.value, retryAfterNow, tt.limit); got != tt.want {
				t.Errorf("ParseRetryAfter(%q, %v) = %v, want %v", tt.value, tt.limit, got, tt.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "1", "120", "-1", "1e3", "soon", "99999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sat, 01 Mar 2025 12:00:30 GMT", "Mon Jan  2 15:04:05 2006"} {
		f.Add(s, int64(time.Hour))
	}
	f.Fuzz(func(t *testing.T, v string, limit int64) {
		got := upstream.ParseRetryAfter(v, retryAfterNow, time.Duration(limit))
		if got < 0 || (limit > 0 && got > time.Duration(limit)) || (limit <= 0 && got != 0) {
			t.Errorf("ParseRetryAfter(%q, %v) = %v, want within [0, limit]", v, time.Duration(limit), got)
		}
	})
}
