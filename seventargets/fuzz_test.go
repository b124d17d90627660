package seventargets_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/seventargets"
)

var retryAfterNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "120", 2 * time.Minute},
		{"zero", "0", 0},
		{"padded", " 5 ", 5 * time.Second},
		{"negative", "-5", 0},
		{"fraction", "1.5", 0},
		{"garbage", "soon", 0},
		{"huge", "99999999999999999999999", 24 * time.Hour},
		{"over a day", "100000", 24 * time.Hour},
		{"HTTP date", "Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second},
		{"past date", "Sat, 01 Mar 2025 11:00:00 GMT", 0},
		{"RFC 850 date", "Saturday, 01-Mar-25 12:01:00 GMT", time.Minute},
		{"far date", "Sat, 01 Mar 2125 12:00:00 GMT", 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := seventargets.ParseRetryAfter(tt.value, retryAfterNow); got != tt.want {
				t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "1", "120", "-1", "1e3", "soon", "99999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sat, 01 Mar 2025 12:00:30 GMT", "Mon Jan  2 15:04:05 2006"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := seventargets.ParseRetryAfter(v, retryAfterNow)
		if got < 0 || got > 24*time.Hour {
			t.Errorf("ParseRetryAfter(%q) = %v, want within [0, 24h]", v, got)
		}
	})
}

func TestLeadResultNextScheduleTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		json string
		want *time.Time
	}{
		{"RFC 3339", `"2025-03-01T09:30:00-03:00"`, &want},
		{"RFC 3339 UTC with fraction", `"2025-03-01T12:30:00.000Z"`, &want},
		{"zone-less, as a Java LocalDateTime", `"2025-03-01T12:30:00"`, &want},
		{"zone-less with fraction", `"2025-03-01T12:30:00.000"`, &want},
		{"space separated", `"2025-03-01 12:30:00"`, &want},
		{"epoch milliseconds", `1740832200000`, &want},
		{"epoch seconds", `1740832200`, &want},
		{"null", `null`, nil},
		{"empty string", `""`, nil},
		{"garbage", `"next tuesday"`, nil},
		{"array", `[2025,3,1,12,30]`, nil},
		{"negative", `-1`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got seventargets.LeadResult
			if err := json.Unmarshal([]byte(`{"id":7,"state":"Cold","nextScheduleTime":`+tt.json+`}`), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if got.ID != 7 || got.State != "Cold" {
				t.Errorf("other fields lost: id %d state %q", got.ID, got.State)
			}
			switch {
			case tt.want == nil && got.NextScheduleTime != nil:
				t.Errorf("NextScheduleTime = %v, want nil", got.NextScheduleTime)
			case tt.want != nil && (got.NextScheduleTime == nil || !got.NextScheduleTime.Equal(*tt.want)):
				t.Errorf("NextScheduleTime = %v, want %v", got.NextScheduleTime, tt.want)
			}
		})
	}
}

func FuzzDecodeLeadResult(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"id":2345,"name":"John","nextScheduleTime":"2025-03-01T12:30:00"}`,
		`{"nextScheduleTime":null,"customFields":[{"name":"a","value":"b"}]}`,
		`{"nextScheduleTime":1740832200000}`, `{"nextScheduleTime":1e308}`, `{"nextScheduleTime":"9999-12-31T23:59:59Z"}`,
		`{"nextScheduleTime":{"x":1}}`, `{"id":"x"}`, `{"nextScheduleTime":"2025-03-01T12:30:00+14:00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var l seventargets.LeadResult
		if err := json.Unmarshal(data, &l); err != nil {
			return
		}
		if l.NextScheduleTime != nil {
			if y := l.NextScheduleTime.Year(); y < 1970 || y > 9999 {
				t.Errorf("NextScheduleTime year %d out of range for %q", y, data)
			}
		}
		// What was decoded must encode again: the outbox stores results.
		if _, err := json.Marshal(l); err != nil {
			t.Errorf("Marshal of decoded %q: %v", data, err)
		}
	})
}
