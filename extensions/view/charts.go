package view

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The charts are inline SVG drawn on the server, so the pages need no script and no
// third-party library, and they pass a CSP without 'unsafe-inline'. Horizontal positions
// are percentages of the chart's width and vertical ones are CSS pixels: the charts fill
// their container from 600 to 1400 px while their text keeps the page's size, which a
// scaled viewBox cannot do. Here are the geometry and the texts; the markup is in
// templates/charts.html, whose html/template escapes every text and number it is given.
//
// Colours come from CSS classes (assets/app.css), never from style attributes.

// Geometry of the daily chart, in CSS pixels.
const (
	dailyHeight   = 248.0
	dailyTop      = 12.0  // top of the plot
	dailyBottom   = 212.0 // the x axis
	dailyLabelY   = 232.0 // baseline of the day labels
	dailyAxisW    = 52.0  // left of the plot: the y tick labels, right-aligned at dailyAxisW-8
	maxDayLabels  = 8     // day labels that fit a 600 px wide iframe
	maxBarPercent = 6.0   // widest bar, as a share of the plot width (one or few days)
	minBarPx      = 1.0   // a non-zero segment is at least this tall, to stay visible
)

// Geometry of the horizontal bar charts, in CSS pixels.
const (
	rowHeight   = 48.0
	rowLabelY   = 15.0 // baseline of a row's label, from the row's top
	rowBarY     = 24.0
	rowBarH     = 14.0
	maxLabelLen = 48 // runes of a row label before it is cut with an ellipsis
)

// series is one of the stacked outcomes: its CSS class and message key.
type series struct{ class, key string }

var outcomeSeries = []series{
	{"fwd", "count.forwarded"},
	{"skip", "count.skipped"},
	{"fail", "count.failed"},
}

func outcomeValues(c Counts) []float64 {
	return []float64{nonNeg(c.Forwarded), nonNeg(c.Skipped), nonNeg(c.Failed)}
}

func nonNeg(n int) float64 {
	if n < 0 {
		return 0
	}
	return float64(n)
}

// chartTemplates draw the views below. The views hold only strings and coords, which cannot
// fail to print, so an execution error is a bug in charts.html that the tests, which draw
// every chart, catch; chart panics on one as template.Must does on a parse error.
var chartTemplates = template.Must(template.ParseFS(templateFS, "templates/charts.html"))

func chart(name string, view any) template.HTML {
	var b strings.Builder
	if err := chartTemplates.ExecuteTemplate(&b, name, view); err != nil {
		panic(fmt.Sprintf("view: chart template %s: %v", name, err))
	}
	return template.HTML(b.String()) // html/template escaped every value in it
}

// coord is a position or a size in a chart. html/template prints it with String: at most two
// decimals, finer than a pixel, and never an exponent as fmt would print a float64 (1e+06).
type coord float64

func (c coord) String() string {
	v := float64(c)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// rect is a bar, or a day's hover area: X and W are percentages, Y and H pixels.
type rect struct {
	Class      string
	X, Y, W, H coord
}

// mark is a tick label or a day label, at At along its axis.
type mark struct {
	At   coord
	Text string
}

// dailyView is what "chart-daily" draws.
type dailyView struct {
	Label  string  // the chart's accessible name
	Height coord   // of the chart, and of the plot inside it
	AxisW  coord   // the plot's left edge
	TickX  coord   // the right edge of the tick labels
	AxisY  coord   // the x axis
	LabelY coord   // the baseline of the day labels
	Ticks  []mark  // y axis labels, from 0 up
	Grid   []coord // the ticks but 0, where the axis is
	Days   []dailyDay
	Labels []mark // x axis labels, as percentages
}

// dailyDay is one day's group: its tooltip, a hover area over its whole slot (so that a
// day with short bars is as easy to point at), and its bars from the axis up.
type dailyDay struct {
	Title string
	Hit   rect
	Bars  []rect
}

// barsView is what "chart-bars" draws.
type barsView struct {
	Class, Label string
	Height       coord
	BarH         coord
	Track        bool // a light track behind each bar, showing the scale; a funnel has none
	Rows         []barRow
}

// barRow is one row: its texts (the label cut to maxLabelLen) and its bars.
type barRow struct {
	Title, Label, Value string
	TextY, BarY         coord
	Bars                []rect
}

// DailyChart draws the deliveries per day as stacked bars (forwarded, skipped, failed), with
// a y axis, thinned day labels and a tooltip per day. With no day or only zeros it returns a
// short empty-state paragraph instead.
func DailyChart(lang Lang, days []DayCounts) template.HTML {
	lang = pageLang(lang)
	var most float64
	for _, d := range days {
		most = math.Max(most, sum(outcomeValues(d.Counts)))
	}
	if len(days) == 0 || most <= 0 {
		return emptyChart(lang)
	}
	step, top := niceScale(most)
	plotH := dailyBottom - dailyTop
	y := func(v float64) coord { return coord(dailyBottom - v/top*plotH) }

	v := dailyView{
		Label:  T(lang, "chart.daily.label", formatDate(lang, days[0].Day), formatDate(lang, days[len(days)-1].Day)),
		Height: dailyHeight,
		AxisW:  dailyAxisW,
		TickX:  dailyAxisW - 8,
		AxisY:  dailyBottom,
		LabelY: dailyLabelY,
	}
	ticks := int(math.Round(top / step))
	for i := 0; i <= ticks; i++ {
		t := float64(i) * step
		// The label sits 4 px below the line, centring its digits on it.
		v.Ticks = append(v.Ticks, mark{At: y(t) + 4, Text: formatCompact(lang, t)})
		if i > 0 {
			v.Grid = append(v.Grid, y(t))
		}
	}

	n := len(days)
	slot := 100 / float64(n)
	barW := math.Min(slot*0.72, maxBarPercent)
	for i, d := range days {
		vals := outcomeValues(d.Counts)
		x := slot * float64(i)
		var tip strings.Builder
		tip.WriteString(formatDate(lang, d.Day))
		for j, s := range outcomeSeries {
			fmt.Fprintf(&tip, "\n%s: %s", T(lang, s.key), formatNumber(lang, int(vals[j])))
		}
		day := dailyDay{
			Title: tip.String(),
			Hit:   rect{Class: "hit", X: coord(x), Y: dailyTop, W: coord(slot), H: coord(plotH)},
		}
		base := dailyBottom
		for j, s := range outcomeSeries {
			if vals[j] <= 0 {
				continue
			}
			h := math.Max(vals[j]/top*plotH, minBarPx)
			base -= h
			day.Bars = append(day.Bars, rect{
				Class: "bar " + s.class, X: coord(x + (slot-barW)/2), Y: coord(base), W: coord(barW), H: coord(h),
			})
		}
		v.Days = append(v.Days, day)
	}
	k := labelStep(n)
	for i := 0; i < n; i += k {
		v.Labels = append(v.Labels, mark{At: coord(slot * (float64(i) + 0.5)), Text: formatDay(lang, days[i].Day)})
	}
	return chart("chart-daily", v)
}

// AssistantChart draws one stacked horizontal bar per assistant (forwarded, skipped, failed),
// all on the scale of the busiest assistant.
func AssistantChart(lang Lang, rows []AssistantCounts) template.HTML {
	lang = pageLang(lang)
	var most float64
	bars := make([]hbar, 0, len(rows))
	for _, r := range rows {
		vals := outcomeValues(r.Counts)
		total := sum(vals)
		most = math.Max(most, total)
		var tip strings.Builder
		tip.WriteString(r.Assistant)
		bar := hbar{label: r.Assistant, value: formatNumber(lang, int(total))}
		for j, s := range outcomeSeries {
			fmt.Fprintf(&tip, "\n%s: %s", T(lang, s.key), formatNumber(lang, int(vals[j])))
			bar.segs = append(bar.segs, hseg{class: s.class, value: vals[j]})
		}
		bar.title = tip.String()
		bars = append(bars, bar)
	}
	return hbarChart(lang, "chart-assistants", T(lang, "chart.assistants.label"), bars, most, false)
}

// StateChart draws one horizontal bar per 7Targets lead state, coloured by state.
func StateChart(lang Lang, states []StateCount) template.HTML {
	lang = pageLang(lang)
	var most, total float64
	for _, s := range states {
		most = math.Max(most, nonNeg(s.Count))
		total += nonNeg(s.Count)
	}
	bars := make([]hbar, 0, len(states))
	for _, s := range states {
		name := StateText(lang, s.State)
		share := formatShare(lang, int(nonNeg(s.Count)), int(total))
		value := formatNumber(lang, int(nonNeg(s.Count))) + " · " + share
		class := "state-other"
		if k := stateKey(s.State); k != "" {
			class = "state-" + k
		}
		bars = append(bars, hbar{
			label: name, value: value, title: name + ": " + value,
			segs: []hseg{{class: class, value: nonNeg(s.Count)}},
		})
	}
	return hbarChart(lang, "chart-states", T(lang, "chart.states.label"), bars, most, false)
}

// FunnelChart draws the conversion funnel: one centred bar per step, with its count and its
// share of the first step.
func FunnelChart(lang Lang, steps []FunnelStep) template.HTML {
	lang = pageLang(lang)
	var most float64
	for _, s := range steps {
		most = math.Max(most, nonNeg(s.Count))
	}
	bars := make([]hbar, 0, len(steps))
	for i, s := range steps {
		name := StateText(lang, s.State)
		value := formatNumber(lang, int(nonNeg(s.Count))) + " · " + formatPercent(lang, max(s.Percent, 0))
		bars = append(bars, hbar{
			label: name, value: value, title: name + ": " + value,
			segs: []hseg{{class: "step-" + strconv.Itoa(min(i, 4)), value: nonNeg(s.Count)}},
		})
	}
	return hbarChart(lang, "chart-funnel", T(lang, "chart.funnel.label"), bars, most, true)
}

// hbar is one row of a horizontal bar chart, before it is laid out.
type hbar struct {
	label, value, title string
	segs                []hseg
}

type hseg struct {
	class string
	value float64
}

// hbarChart draws rows of horizontal bars: the label on the left and the value on the right
// above each bar, on a light track. Bars are scaled to most; centred draws a funnel.
func hbarChart(lang Lang, class, label string, rows []hbar, most float64, centred bool) template.HTML {
	if len(rows) == 0 || most <= 0 {
		return emptyChart(lang)
	}
	v := barsView{
		Class:  class,
		Label:  label,
		Height: coord(rowHeight * float64(len(rows))),
		BarH:   rowBarH,
		Track:  !centred,
	}
	for i, r := range rows {
		top := rowHeight * float64(i)
		var total float64
		for _, s := range r.segs {
			total += s.value
		}
		x := 0.0
		if centred {
			x = (100 - total/most*100) / 2
		}
		row := barRow{
			Title: r.title, Label: truncate(r.label, maxLabelLen), Value: r.value,
			TextY: coord(top + rowLabelY), BarY: coord(top + rowBarY),
		}
		for _, s := range r.segs {
			if s.value <= 0 {
				continue
			}
			w := s.value / most * 100
			row.Bars = append(row.Bars, rect{Class: "bar " + s.class, X: coord(x), Y: row.BarY, W: coord(w), H: rowBarH})
			x += w
		}
		v.Rows = append(v.Rows, row)
	}
	return chart("chart-bars", v)
}

func emptyChart(lang Lang) template.HTML {
	return chart("chart-empty", T(lang, "chart.empty"))
}

// niceScale picks a tick step of 1, 2 or 5 times a power of ten giving about four ticks
// up to most, and the axis top, a multiple of the step at or above most. Steps are whole:
// counts have no fractions.
func niceScale(most float64) (step, top float64) {
	rough := most / 4
	if rough <= 1 {
		step = 1
	} else {
		mag := math.Pow(10, math.Floor(math.Log10(rough)))
		switch norm := rough / mag; {
		case norm <= 1:
			step = mag
		case norm <= 2:
			step = 2 * mag
		case norm <= 5:
			step = 5 * mag
		default:
			step = 10 * mag
		}
	}
	top = math.Ceil(most/step) * step
	return step, top
}

// labelStep is how many days apart the day labels are so that at most maxDayLabels show;
// a week or multiples of it once days are many.
func labelStep(n int) int {
	for _, k := range []int{1, 2, 3, 7, 14, 28} {
		if (n+k-1)/k <= maxDayLabels {
			return k
		}
	}
	return (n + maxDayLabels - 1) / maxDayLabels
}

func sum(vs []float64) float64 {
	var s float64
	for _, v := range vs {
		s += v
	}
	return s
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
