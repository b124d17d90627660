package view

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages holds each page's templates, parsed once from templateFS, cloned per language with
// that language's functions.
var pages = parsePages()

// pageNames are the page templates; each defines "title", "bodyclass" and "content" for the
// "layout" of base.html.
var pageNames = []string{"report", "button", "error"}

func parsePages() map[string]map[Lang]*template.Template {
	base := template.Must(template.New("base.html").Funcs(funcs(English)).ParseFS(templateFS, "templates/base.html"))
	out := map[string]map[Lang]*template.Template{}
	for _, name := range pageNames {
		page := template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html"))
		out[name] = map[Lang]*template.Template{}
		for _, lang := range Langs {
			// Funcs after parsing only rebinds implementations: the names are the same.
			out[name][lang] = template.Must(page.Clone()).Funcs(funcs(lang))
		}
	}
	return out
}

// funcs are the template functions bound to one language.
func funcs(lang Lang) template.FuncMap {
	return template.FuncMap{
		"t":        func(key string, args ...any) string { return T(lang, key, args...) },
		"lang":     func() string { return string(lang) },
		"asset":    assetURL,
		"date":     func(t time.Time) string { return formatDate(lang, t) },
		"day":      func(t time.Time) string { return formatDay(lang, t) },
		"datetime": func(t time.Time) string { return formatDateTime(lang, t) },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"isoDate":  func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
		"num":      func(n int) string { return formatNumber(lang, n) },
		"pct":      func(p int) string { return formatPercent(lang, p) },
		"share":    func(part, whole int) string { return formatShare(lang, part, whole) },
		"reason":   func(r zen7.Reason) string { return ReasonText(lang, r) },
		"state":    func(s string) string { return StateText(lang, s) },
		"icon":     icon,

		"dailyChart":     func(d []DayCounts) template.HTML { return DailyChart(lang, d) },
		"assistantChart": func(a []AssistantCounts) template.HTML { return AssistantChart(lang, a) },
		"stateChart":     func(s []StateCount) template.HTML { return StateChart(lang, s) },
		"funnelChart":    func(s []FunnelStep) template.HTML { return FunnelChart(lang, s) },
	}
}

// render executes a page into a buffer first, so a failing template writes nothing and the
// caller can still send an error page.
func render(w io.Writer, page string, lang Lang, data any) error {
	t := pages[page][pageLang(lang)]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("view.render %s: %w", page, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// RenderReport writes the managers' report page. With ErrorMessage set it shows an error
// state and nothing else; with nothing in the period, an empty state. Retry buttons appear
// for failures that have a token in RetryTokens and are not being retried already, and only
// when ActionURL is set.
func RenderReport(w io.Writer, p ReportPage) error {
	p.reportDerived = deriveReport(p)
	return render(w, "report", p.Lang, p)
}

// RenderButton writes the conversation-button dialog for one prospect. Each action's form
// appears only when its token and ActionURL are set and the prospect's state allows it; none
// appears while a delivery is pending.
func RenderButton(w io.Writer, p ButtonPage) error {
	p.buttonDerived = deriveButton(p)
	return render(w, "button", p.Lang, p)
}

// RenderError writes a small error page. An empty Title or Message is replaced by the
// generic one in the page's language.
func RenderError(w io.Writer, p ErrorPage) error {
	if p.Title == "" {
		p.Title = T(p.Lang, "error.generic.title")
	}
	if p.Message == "" {
		p.Message = T(p.Lang, "error.generic.message")
	}
	return render(w, "error", p.Lang, p)
}
