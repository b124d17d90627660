package view

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// AssetsPath is the route prefix the pages link their stylesheet and script under.
const AssetsPath = "/extensions/assets/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// assetVersions maps each asset's name to a short hash of its content, put in the links as
// ?v=… so browsers may cache an asset for good and still fetch a new one after a deploy.
var assetVersions = func() map[string]string {
	m := map[string]string{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, "assets/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		panic(err) // embedded: cannot happen once it built
	}
	return m
}()

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

func assetURL(name string) string {
	u := AssetsPath + name
	if v, ok := assetVersions[name]; ok {
		u += "?v=" + v
	}
	return u
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

// Assets serves the pages' stylesheet and script. Mount it on AssetsPath; it accepts the path
// with or without that prefix. A request carrying the asset's current ?v= is cacheable for
// a year; others for five minutes.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, AssetsPath)
		name = strings.TrimPrefix(name, "/")
		version, ok := assetVersions[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		switch path.Ext(name) {
		case ".css":
			h.Set("Content-Type", "text/css; charset=utf-8")
		case ".js":
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+version+`"`)
		if r.URL.Query().Get("v") == version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=300")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	})
}

// icons are small line icons drawn in the text colour; decorative, so hidden from screen
// readers.
var icons = map[string]string{
	"alert": `<path d="M12 9v4m0 4h.01M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0Z"/>`,
	"check": `<circle cx="12" cy="12" r="9"/><path d="m8 12.5 2.8 2.8L16.5 9.5"/>`,
	"clock": `<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>`,
	"inbox": `<path d="M3 13h5l1.5 3h5L16 13h5"/><path d="M5.5 5h13L21 13v5a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-5Z"/>`,
	"lock":  `<rect x="4" y="10" width="16" height="11" rx="2"/><path d="M8 10V7a4 4 0 0 1 8 0v3"/>`,
	"user":  `<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>`,
	"pause": `<circle cx="12" cy="12" r="9"/><path d="M10 9v6m4-6v6"/>`,
	"send":  `<path d="M21 3 10 14"/><path d="m21 3-7 18-4-7-7-4 18-7Z"/>`,
}

// icon returns one of icons as inline SVG. The markup is constant, hence safe.
func icon(name string) template.HTML {
	body, ok := icons[name]
	if !ok {
		return ""
	}
	return template.HTML(`<svg class="icon" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">` + body + `</svg>`)
}
