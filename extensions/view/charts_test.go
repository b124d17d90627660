package view_test

import (
	"encoding/xml"
	"errors"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/extensions/view"
)

// chartElem is an element of a chart as encoding/xml reads it.
type chartElem struct {
	name  string
	attrs map[string]string
	text  string // character data directly inside it
}

// chartParse checks that a chart is well-formed XML and returns its elements in order.
func chartParse(t *testing.T, h template.HTML) []chartElem {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(h)))
	dec.Strict = true
	var out []chartElem
	var open []int
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, h)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := chartElem{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
			open = append(open, len(out)-1)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				out[open[len(open)-1]].text += string(tok)
			}
		}
	}
	return out
}

func chartClass(e chartElem, class string) bool {
	return strings.Contains(" "+e.attrs["class"]+" ", " "+class+" ")
}

func chartFloat(t *testing.T, e chartElem, attr string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(e.attrs[attr], "%"), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.name, attr, e.attrs[attr], err)
	}
	return v
}

// chartSane checks what every chart must satisfy: no NaN or infinity, no negative sizes,
// coordinates inside the chart, and no style attribute.
func chartSane(t *testing.T, h template.HTML) []chartElem {
	t.Helper()
	s := string(h)
	for _, bad := range []string{"NaN", "Inf", "e+", "style="} {
		if strings.Contains(s, bad) {
			t.Errorf("chart contains %q", bad)
		}
	}
	elems := chartParse(t, h)
	for _, e := range elems {
		for _, a := range []string{"x", "y", "width", "height"} {
			v, ok := e.attrs[a]
			if !ok {
				continue
			}
			f := chartFloat(t, e, a)
			if f < 0 {
				t.Errorf("<%s %s=%q>: negative", e.name, a, v)
			}
			if strings.HasSuffix(v, "%") && f > 100.01 {
				t.Errorf("<%s %s=%q>: beyond the chart", e.name, a, v)
			}
		}
	}
	return elems
}

func chartDays(n int, c func(i int) view.Counts) []view.DayCounts {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	days := make([]view.DayCounts, n)
	for i := range days {
		days[i] = view.DayCounts{Day: start.AddDate(0, 0, i), Counts: c(i)}
	}
	return days
}

func TestChartDailyShapes(t *testing.T) {
	t.Parallel()
	some := func(i int) view.Counts {
		return view.Counts{Forwarded: i % 13, Skipped: i % 3, Failed: i % 2}
	}
	for _, tc := range []struct {
		name   string
		days   []view.DayCounts
		empty  bool
		labels int // day labels drawn
		bars   int // days with a bar group
	}{
		{name: "no days", days: nil, empty: true},
		{name: "all zero", days: chartDays(30, func(int) view.Counts { return view.Counts{} }), empty: true},
		{name: "negative counts", days: chartDays(3, func(int) view.Counts { return view.Counts{Forwarded: -5} }), empty: true},
		{name: "one day", days: chartDays(1, func(int) view.Counts { return view.Counts{Forwarded: 1} }), labels: 1, bars: 1},
		{name: "a week", days: chartDays(7, some), labels: 7, bars: 7},
		{name: "a month", days: chartDays(31, some), labels: 5, bars: 31},
		{name: "a quarter", days: chartDays(92, some), labels: 7, bars: 92},
		{name: "huge counts", days: chartDays(10, func(i int) view.Counts {
			return view.Counts{Forwarded: math.MaxInt32 * (i + 1), Skipped: math.MaxInt32, Failed: 1}
		}), labels: 10 / 2, bars: 10},
	} {
		for _, lang := range view.Langs {
			t.Run(tc.name+"/"+string(lang), func(t *testing.T) {
				t.Parallel()
				h := view.DailyChart(lang, tc.days)
				elems := chartSane(t, h)
				if tc.empty {
					if strings.Contains(string(h), "<svg") || !strings.Contains(string(h), view.T(lang, "chart.empty")) {
						t.Errorf("want the empty state, got %s", h)
					}
					return
				}
				if elems[0].name != "svg" || elems[0].attrs["width"] != "100%" || elems[0].attrs["role"] != "img" || elems[0].attrs["aria-label"] == "" {
					t.Errorf("root %v: want a full-width svg with role img and a label", elems[0])
				}
				var labels, groups, titles, ticks int
				inLabels, inTicks := false, false
				for _, e := range elems {
					switch {
					case e.name == "g":
						inLabels, inTicks = chartClass(e, "labels"), chartClass(e, "ticks")
						if chartClass(e, "day") {
							groups++
						}
					case e.name == "title":
						titles++
					case e.name == "text" && inLabels:
						labels++
					case e.name == "text" && inTicks:
						ticks++
						if len(e.text) > 8 {
							t.Errorf("tick label %q is too long for the axis", e.text)
						}
					}
				}
				if labels != tc.labels {
					t.Errorf("%d day labels, want %d", labels, tc.labels)
				}
				if groups != tc.bars || titles != tc.bars {
					t.Errorf("%d day groups and %d tooltips, want %d", groups, titles, tc.bars)
				}
				if ticks < 2 || ticks > 11 {
					t.Errorf("%d y ticks", ticks)
				}
			})
		}
	}
}

func TestChartDailyProportional(t *testing.T) {
	t.Parallel()
	days := chartDays(3, func(i int) view.Counts {
		return []view.Counts{{Forwarded: 10}, {Forwarded: 5}, {Forwarded: 4, Skipped: 2, Failed: 2}}[i]
	})
	elems := chartSane(t, view.DailyChart(view.English, days))
	heights := map[string][]float64{}
	var baseline float64
	for _, e := range elems {
		if e.name == "rect" && chartClass(e, "bar") {
			for _, c := range []string{"fwd", "skip", "fail"} {
				if chartClass(e, c) {
					heights[c] = append(heights[c], chartFloat(t, e, "height"))
				}
			}
		}
		if e.name == "line" && chartClass(e, "axis") {
			baseline = chartFloat(t, e, "y1")
		}
	}
	fwd := heights["fwd"]
	if len(fwd) != 3 || len(heights["skip"]) != 1 || len(heights["fail"]) != 1 {
		t.Fatalf("bars %v", heights)
	}
	if math.Abs(fwd[0]-2*fwd[1]) > 0.02 || math.Abs(fwd[2]-0.4*fwd[0]) > 0.02 {
		t.Errorf("forwarded heights %v not proportional to 10, 5, 4", fwd)
	}
	if math.Abs(heights["skip"][0]-heights["fail"][0]) > 0.02 || math.Abs(2*heights["skip"][0]-fwd[2]) > 0.02 {
		t.Errorf("stacked heights %v not proportional to 4, 2, 2", heights)
	}
	// The stack of the third day sits on the axis and adds up.
	var stack []chartElem
	for _, e := range elems {
		if e.name == "rect" && chartClass(e, "bar") && chartFloat(t, e, "x") > 60 {
			stack = append(stack, e)
		}
	}
	if len(stack) != 3 {
		t.Fatalf("%d segments in the last day", len(stack))
	}
	if got := chartFloat(t, stack[0], "y") + chartFloat(t, stack[0], "height"); math.Abs(got-baseline) > 0.02 {
		t.Errorf("stack bottom %v, want the axis %v", got, baseline)
	}
	for i := 1; i < len(stack); i++ {
		top := chartFloat(t, stack[i-1], "y")
		if got := chartFloat(t, stack[i], "y") + chartFloat(t, stack[i], "height"); math.Abs(got-top) > 0.02 {
			t.Errorf("segment %d ends at %v, want on the previous one at %v", i, got, top)
		}
	}
}

func TestChartDailyTooltipAndLabels(t *testing.T) {
	t.Parallel()
	days := chartDays(2, func(i int) view.Counts { return view.Counts{Forwarded: 1234, Skipped: 5, Failed: i} })
	elems := chartSane(t, view.DailyChart(view.Spanish, days))
	var titles, texts []string
	for _, e := range elems {
		switch e.name {
		case "title":
			titles = append(titles, e.text)
		case "text":
			texts = append(texts, e.text)
		}
	}
	want := "1 ene 2026\nReenviados: 1.234\nOmitidos: 5\nCon error: 0"
	if len(titles) != 2 || titles[0] != want {
		t.Errorf("tooltips %q, want first %q", titles, want)
	}
	joined := strings.Join(texts, "|")
	for _, w := range []string{"1 ene", "2 ene", "1.500"} {
		if !strings.Contains(joined, w) {
			t.Errorf("labels %q lack %q", joined, w)
		}
	}
}

func TestChartCompactTicks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lang  view.Lang
		most  int
		label string // the top tick
	}{
		{view.English, 8, "8"},
		{view.English, 9_500, "10k"},
		{view.Spanish, 9_500, "10 mil"},
		{view.English, 3_000_000, "3M"},
		{view.Portuguese, 1_500_000, "1,5 mi"},
		{view.English, 4_000_000_000, "4B"},
		{view.Spanish, 4_000_000_000, "4 mil M"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			days := chartDays(2, func(i int) view.Counts { return view.Counts{Forwarded: tc.most * i} })
			elems := chartSane(t, view.DailyChart(tc.lang, days))
			var ticks []string
			in := false
			for _, e := range elems {
				if e.name == "g" {
					in = chartClass(e, "ticks")
				}
				if in && e.name == "text" {
					ticks = append(ticks, e.text)
				}
			}
			if len(ticks) == 0 || ticks[len(ticks)-1] != tc.label {
				t.Errorf("ticks %q, want the top one %q", ticks, tc.label)
			}
		})
	}
}

func TestChartBars(t *testing.T) {
	t.Parallel()
	hostile := `"><img src=x onerror=alert(1)>`
	assistants := []view.AssistantCounts{
		{Assistant: "ava@acme.com", Counts: view.Counts{Forwarded: 80, Skipped: 10, Failed: 10}},
		{Assistant: hostile, Counts: view.Counts{Forwarded: 50}},
		{Assistant: strings.Repeat("very-long-assistant-name", 4) + "@acme.com", Counts: view.Counts{Forwarded: 1}},
	}
	states := []view.StateCount{{State: "Cold", Count: 60}, {State: "warm", Count: 30}, {State: hostile, Count: 10}, {State: "Stopped"}}
	funnel := []view.FunnelStep{{State: "Cold", Count: 200, Percent: 100}, {State: "Warm", Count: 100, Percent: 50}, {State: "Hot", Count: 1, Percent: 0}}

	t.Run("assistants", func(t *testing.T) {
		t.Parallel()
		elems := chartSane(t, view.AssistantChart(view.English, assistants))
		var widths []float64
		var labels []string
		for _, e := range elems {
			if e.name == "rect" && chartClass(e, "bar") {
				widths = append(widths, chartFloat(t, e, "width"))
			}
			if e.name == "text" && chartClass(e, "row-label") {
				labels = append(labels, e.text)
			}
		}
		// 80+10+10 fill the width; 50 is half of it; 1 is 1%.
		want := []float64{80, 10, 10, 50, 1}
		if len(widths) != len(want) {
			t.Fatalf("widths %v, want %v", widths, want)
		}
		for i := range want {
			if math.Abs(widths[i]-want[i]) > 0.01 {
				t.Errorf("widths %v, want %v", widths, want)
				break
			}
		}
		if labels[1] != hostile {
			t.Errorf("label %q, want the hostile text back as text", labels[1])
		}
		if r := []rune(labels[2]); len(r) > 48 || r[len(r)-1] != '…' {
			t.Errorf("long label %q not cut", labels[2])
		}
	})
	t.Run("states", func(t *testing.T) {
		t.Parallel()
		elems := chartSane(t, view.StateChart(view.Portuguese, states))
		var got []string
		for _, e := range elems {
			if e.name == "text" {
				got = append(got, e.text)
			}
		}
		want := []string{"Frio", "60 · 60%", "Morno", "30 · 30%", hostile, "10 · 10%", "Interrompido", "0 · 0%"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("texts %q, want %q", got, want)
		}
		for _, e := range elems {
			if e.name == "rect" && chartClass(e, "bar") && !strings.Contains(e.attrs["class"], "state-") {
				t.Errorf("state bar without a state class: %q", e.attrs["class"])
			}
		}
	})
	t.Run("funnel", func(t *testing.T) {
		t.Parallel()
		elems := chartSane(t, view.FunnelChart(view.Spanish, funnel))
		var texts []string
		for _, e := range elems {
			if e.name == "text" {
				texts = append(texts, e.text)
			}
			if e.name == "rect" && chartClass(e, "bar") {
				// Centred: as much space on both sides.
				x, w := chartFloat(t, e, "x"), chartFloat(t, e, "width")
				if math.Abs(x+w/2-50) > 0.02 {
					t.Errorf("bar x=%v width=%v not centred", x, w)
				}
			}
		}
		want := []string{"Frío", "200 · 100 %", "Tibio", "100 · 50 %", "Caliente", "1 · 0 %"}
		if strings.Join(texts, "|") != strings.Join(want, "|") {
			t.Errorf("texts %q, want %q", texts, want)
		}
	})
	for _, tc := range []struct {
		name string
		h    template.HTML
	}{
		{"assistants nil", view.AssistantChart(view.English, nil)},
		{"assistants zero", view.AssistantChart(view.English, []view.AssistantCounts{{Assistant: "a@b.c"}})},
		{"states nil", view.StateChart(view.English, nil)},
		{"states zero", view.StateChart(view.English, []view.StateCount{{State: "Cold"}})},
		{"funnel nil", view.FunnelChart(view.English, nil)},
		{"funnel zero", view.FunnelChart(view.English, []view.FunnelStep{{State: "Cold"}, {State: "Warm"}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chartSane(t, tc.h)
			if strings.Contains(string(tc.h), "<svg") || !strings.Contains(string(tc.h), "chart-empty") {
				t.Errorf("want the empty state, got %s", tc.h)
			}
		})
	}
}

// TestChartNoZgotmplZ draws every chart in every language, with ordinary, hostile and empty
// data, and checks that html/template found nothing to refuse: ZgotmplZ is what it writes
// in place of a value it cannot make safe where it stands (a URL, a style, a script).
func TestChartNoZgotmplZ(t *testing.T) {
	t.Parallel()
	hostile := `javascript:alert(1)"><script>alert('x')</script>`
	counts := func(i int) view.Counts {
		return view.Counts{Forwarded: (i + 1) * 7, Skipped: i % 3, Failed: i % 2}
	}
	for _, lang := range view.Langs {
		for _, tc := range []struct {
			name string
			h    template.HTML
		}{
			{"daily one day", view.DailyChart(lang, chartDays(1, counts))},
			{"daily a quarter", view.DailyChart(lang, chartDays(92, counts))},
			{"daily huge", view.DailyChart(lang, chartDays(3, func(int) view.Counts { return view.Counts{Forwarded: math.MaxInt32} }))},
			{"daily empty", view.DailyChart(lang, nil)},
			{"assistants", view.AssistantChart(lang, []view.AssistantCounts{
				{Assistant: "ava@acme.com", Counts: counts(3)}, {Assistant: hostile, Counts: counts(1)},
			})},
			{"assistants empty", view.AssistantChart(lang, nil)},
			{"states", view.StateChart(lang, []view.StateCount{{State: "Cold", Count: 3}, {State: hostile, Count: 1}})},
			{"states empty", view.StateChart(lang, nil)},
			{"funnel", view.FunnelChart(lang, []view.FunnelStep{{State: "Cold", Count: 9, Percent: 100}, {State: hostile, Count: 1, Percent: 11}})},
			{"funnel empty", view.FunnelChart(lang, nil)},
		} {
			t.Run(tc.name+"/"+string(lang), func(t *testing.T) {
				t.Parallel()
				chartSane(t, tc.h)
				if strings.Contains(string(tc.h), "ZgotmplZ") {
					t.Errorf("chart contains ZgotmplZ:\n%s", tc.h)
				}
			})
		}
	}
}

// TestChartEscapes checks that an assistant's email and a lead state, which come from
// outside, reach the chart as text: escaped in the markup, read back unchanged.
func TestChartEscapes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		escaped    []string // in the markup
	}{
		{name: "script", text: `<script>alert(1)</script>@acme.com`, escaped: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{name: "quotes", text: `"a'b"@acme.com`, escaped: []string{"&#34;a&#39;b&#34;"}},
		{name: "attribute break", text: `x" onmouseover="alert(1)`, escaped: []string{"x&#34; onmouseover=&#34;alert(1)"}},
		// html/template writes + as &#43;, which must still read back as +.
		{name: "plus address", text: "ava+sales@acme.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				chart string
				h     template.HTML
			}{
				{"assistants", view.AssistantChart(view.English, []view.AssistantCounts{{Assistant: tc.text, Counts: view.Counts{Forwarded: 2}}})},
				{"states", view.StateChart(view.English, []view.StateCount{{State: tc.text, Count: 2}})},
				{"funnel", view.FunnelChart(view.English, []view.FunnelStep{{State: tc.text, Count: 2, Percent: 100}})},
			} {
				raw := string(c.h)
				for _, bad := range []string{"<script", `" onmouseover`, "'b"} {
					if strings.Contains(raw, bad) {
						t.Errorf("%s: markup contains %q unescaped:\n%s", c.chart, bad, raw)
					}
				}
				for _, e := range tc.escaped {
					if !strings.Contains(raw, e) {
						t.Errorf("%s: markup lacks %q:\n%s", c.chart, e, raw)
					}
				}
				var label, title string
				for _, e := range chartSane(t, c.h) {
					switch {
					case e.name == "script":
						t.Errorf("%s: a <script> element", c.chart)
					case e.name == "text" && chartClass(e, "row-label"):
						label = e.text
					case e.name == "title":
						title = e.text
					}
				}
				if label != tc.text {
					t.Errorf("%s: label %q, want %q", c.chart, label, tc.text)
				}
				if !strings.HasPrefix(title, tc.text) {
					t.Errorf("%s: tooltip %q, want it to start with %q", c.chart, title, tc.text)
				}
			}
		})
	}
}
