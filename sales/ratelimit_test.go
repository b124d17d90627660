package sales_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/sales"
)

func TestParseRateLimitReset(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	unix := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	unixMilli := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{name: "delta seconds", value: "30", want: 30 * time.Second},
		{name: "delta with spaces", value: " 45 ", want: 45 * time.Second},
		{name: "fractional delta", value: "1.5", want: 1500 * time.Millisecond},
		{name: "delta 120", value: "120", want: 2 * time.Minute},
		{name: "zero delta clamps up", value: "0", want: time.Second},
		{name: "large small number clamps down", value: "3600", want: 2 * time.Minute},
		{name: "unix seconds", value: unix(42 * time.Second), want: 42 * time.Second},
		{name: "unix seconds past", value: unix(-time.Hour), want: time.Second},
		{name: "unix seconds far future", value: unix(24 * time.Hour), want: 2 * time.Minute},
		{name: "unix milliseconds", value: unixMilli(42500 * time.Millisecond), want: 42500 * time.Millisecond},
		{name: "HTTP date", value: now.Add(50 * time.Second).Format(http.TimeFormat), want: 50 * time.Second},
		{name: "RFC 1123 with zone", value: now.Add(50 * time.Second).In(time.FixedZone("", -3*3600)).Format(time.RFC1123Z), want: 50 * time.Second},
		{name: "RFC 3339", value: now.Add(20 * time.Second).Format(time.RFC3339), want: 20 * time.Second},
		{name: "RFC 3339 past", value: now.Add(-20 * time.Second).Format(time.RFC3339), want: time.Second},
		{name: "empty", value: "", want: time.Minute},
		{name: "garbage", value: "soon", want: time.Minute},
		{name: "negative", value: "-5", want: time.Minute},
		{name: "NaN", value: "NaN", want: time.Minute},
		{name: "infinity", value: "+Inf", want: time.Minute},
		{name: "absurd number", value: "1e300", want: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sales.ParseRateLimitReset(tt.value, now); got != tt.want {
				t.Errorf("ParseRateLimitReset(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func FuzzParseRateLimitReset(f *testing.F) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{
		"", "0", "30", "120", "121", "1.5", "-1", "NaN", "Inf", "1e300", "0x1p-2", "1_000",
		strconv.FormatInt(now.Unix()+30, 10), strconv.FormatInt(now.UnixMilli()+30000, 10),
		now.Format(http.TimeFormat), now.Format(time.RFC3339Nano), "Mon, 02 Jan 2006 15:04:05 -0700",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := sales.ParseRateLimitReset(v, now)
		if got < time.Second || got > 2*time.Minute {
			t.Errorf("ParseRateLimitReset(%q) = %v, outside [1s, 2m]", v, got)
		}
	})
}

// FuzzDecode checks that no webhook body or API answer can panic the decoder, and that
// whatever decodes encodes back and decodes again: the fake sends what the App reads.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		referenceNotification,
		`{"prospect":{"agent":{"id":"a"}}}`,
		`{"prospect":[{"agent":"id","contactMediums":["x",1,null,{"type":"email","value":"a@b"}]}]}`,
		`{"attempts":"7","sent":1566656122000,"updates":{"a":1}}`,
		`{"prospect":[null],"updates":[null]}`,
		`{"created":"9999-12-31T23:59:59-23:59","leads":[{"created":1e14}]}`,
		`null`, `[]`, `""`, `{"agent":[{}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var n sales.Notification
		if json.Unmarshal(b, &n) == nil {
			out, err := json.Marshal(n)
			if err != nil {
				t.Fatalf("Marshal of decoded %q: %v", b, err)
			}
			var again sales.Notification
			if err := json.Unmarshal(out, &again); err != nil {
				t.Fatalf("Unmarshal of re-encoded %s: %v", out, err)
			}
		}
		var p sales.Prospect
		if json.Unmarshal(b, &p) == nil {
			out, err := json.Marshal(p)
			if err != nil {
				t.Fatalf("Marshal of decoded %q: %v", b, err)
			}
			var again sales.Prospect
			if err := json.Unmarshal(out, &again); err != nil {
				t.Fatalf("Unmarshal of re-encoded %s: %v", out, err)
			}
		}
	})
}
