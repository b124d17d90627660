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
	"unicode"
	"unicode/utf8"

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
	return render(w, "report", p.Lang, newReportView(p))
}

// RenderButton writes the conversation-button dialog for one prospect. Each action's form
// appears only when its token and ActionURL are set and the prospect's state allows it; none
// appears while a delivery is pending.
func RenderButton(w io.Writer, p ButtonPage) error {
	return render(w, "button", p.Lang, newButtonView(p))
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

// reportView is what report.html renders.
type reportView struct {
	ReportPage
	Lang       Lang // the page language actually used
	RangeLabel string
	Period     string
	Empty      bool // nothing processed in the period
	Rows       []failureRow
	CanRetry   bool // some row has a retry form
}

// failureRow is one failure with its retry token ("" for no button).
type failureRow struct {
	Failure
	Display string // the prospect's name, or a placeholder
	Unnamed bool   // Display is the placeholder
	Token   string
}

func newReportView(p ReportPage) reportView {
	lang := pageLang(p.Lang)
	v := reportView{
		ReportPage: p,
		Lang:       lang,
		RangeLabel: RangeText(lang, p.RangeName),
		Period:     formatPeriod(lang, p.Start, p.End),
		Empty:      p.Totals.Total() == 0,
	}
	for i, f := range p.Failures {
		row := failureRow{Failure: f, Display: strings.TrimSpace(f.Name)}
		if row.Display == "" {
			row.Display, row.Unnamed = T(lang, "prospect.unnamed"), true
		}
		if i < len(p.RetryTokens) && p.ActionURL != "" && !f.Retrying {
			row.Token = p.RetryTokens[i]
		}
		if row.Token != "" {
			v.CanRetry = true
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// buttonView is what button.html renders.
type buttonView struct {
	ButtonPage
	Lang        Lang
	Name        string // the prospect as a person reads it
	Initials    string // for the avatar; "" shows an icon
	EmailsCSV   string // placeholders posted back, as Sales sent them
	PhonesCSV   string
	Status      string // new, skipped, pending, forwarded, stopped or failed
	StatusText  string // the badge
	StatusClass string // the badge's colour
	StatusNote  string // a sentence on where the prospect stands
	Forwarded   bool   // 7Targets follows the prospect up
	HasLead     bool   // a 7Targets lead exists: show its facts
	SkipReason  zen7.Reason
	Failed      bool // the last delivery failed or was given up on
	LastReason  zen7.Reason
	LastAt      time.Time
	ShowStatus  bool // the status card has something to say
	ShowForward bool
	ShowStop    bool
	ShowRetry   bool
	NeedEmail   bool   // the forward form asks for an email
	UseEmail    string // the email 7Targets will write to otherwise
	Options     []assistantOption
	EmailError  string
	ScheduleErr string
	AssistErr   string
}

// assistantOption is one choice of the forward form's assistant list.
type assistantOption struct {
	Email, Label string
	Selected     bool
}

func newButtonView(p ButtonPage) buttonView {
	lang := pageLang(p.Lang)
	v := buttonView{
		ButtonPage: p,
		Lang:       lang,
		Name:       prospectName(lang, p.Prospect),
		Initials:   initials(p.Prospect),
		EmailsCSV:  strings.Join(p.Prospect.Emails, ","),
		PhonesCSV:  strings.Join(p.Prospect.Phones, ","),
	}
	lead := p.Lead
	if last := p.Last; last != nil && !last.Retrying &&
		(last.State == zen7.StateFailed || last.State == zen7.StateDead) {
		v.Failed = true
		v.LastReason = last.Reason
		if v.LastReason.IsZero() { // a delivery that died retrying: its last error says why
			v.LastReason = zen7.Reason{Code: zen7.ReasonOther, Detail: last.LastError}
		}
		v.LastAt = last.FinishedAt
	}
	forwarded := lead != nil && lead.State == zen7.LeadForwarded
	stopped := lead != nil && lead.State == zen7.LeadStopped
	switch {
	case p.Pending:
		v.Status, v.StatusClass = "pending", "info"
	case forwarded:
		v.Status, v.StatusClass = "forwarded", "success"
	case stopped:
		v.Status, v.StatusClass = "stopped", "neutral"
	case v.Failed:
		v.Status, v.StatusClass = "failed", "danger"
	case lead != nil && lead.State == zen7.LeadSkipped:
		v.Status, v.StatusClass = "skipped", "warn"
	default:
		v.Status, v.StatusClass = "new", "neutral"
	}
	v.StatusText = T(lang, "status."+v.Status)
	note := "new"
	switch {
	case forwarded:
		note = "forwarded"
	case stopped:
		note = "stopped"
	case lead != nil && lead.State == zen7.LeadSkipped:
		note = "skipped"
		v.SkipReason = lead.Reason
	}
	if !(p.Pending && note == "new") { // "not sent yet" would contradict "being sent"
		v.StatusNote = T(lang, "status."+note+".text")
	}
	v.Forwarded = forwarded
	v.HasLead = lead != nil && (forwarded || stopped || lead.LeadID != 0)

	canAct := !p.Pending && p.ActionURL != ""
	v.ShowRetry = canAct && v.Failed && p.RetryToken != ""
	v.ShowStop = canAct && forwarded && p.StopToken != ""
	v.ShowForward = canAct && !forwarded && !stopped && p.ForwardToken != ""

	v.UseEmail = firstNonEmpty(p.Prospect.Emails)
	if lead != nil && lead.Email != "" {
		v.UseEmail = lead.Email
	}
	v.NeedEmail = v.UseEmail == ""
	v.ShowStatus = v.StatusNote != "" || v.HasLead || !v.SkipReason.IsZero() || v.ShowStop
	v.EmailError = p.FieldErrors["email"]
	v.ScheduleErr = p.FieldErrors["scheduleName"]
	v.AssistErr = p.FieldErrors["assistantEmail"]

	seen := false
	for _, a := range p.Assistants {
		if a.EmailID == "" {
			continue
		}
		label := strings.TrimSpace(a.Name)
		if label == "" {
			label = a.EmailID
		}
		sel := a.EmailID == p.DefaultAssistant
		seen = seen || sel
		v.Options = append(v.Options, assistantOption{Email: a.EmailID, Label: label, Selected: sel})
	}
	if !seen && p.DefaultAssistant != "" {
		// The default is not in the list (the list failed, or was cut short): offer it first.
		def := assistantOption{Email: p.DefaultAssistant, Label: T(lang, "forward.assistant.default", p.DefaultAssistant), Selected: true}
		v.Options = append([]assistantOption{def}, v.Options...)
	}
	return v
}

// prospectName is the prospect's full name, else an email or phone, else a placeholder.
func prospectName(lang Lang, p ButtonProspect) string {
	if n := strings.TrimSpace(strings.TrimSpace(p.FirstName) + " " + strings.TrimSpace(p.LastName)); n != "" {
		return n
	}
	if e := firstNonEmpty(p.Emails); e != "" {
		return e
	}
	if ph := firstNonEmpty(p.Phones); ph != "" {
		return ph
	}
	return T(lang, "prospect.unnamed")
}

// initials are the first letters of the first and last names, upper case.
func initials(p ButtonProspect) string {
	var out []rune
	for _, s := range []string{p.FirstName, p.LastName} {
		if r, _ := utf8.DecodeRuneInString(strings.TrimSpace(s)); unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
	}
	return string(out)
}

func firstNonEmpty(ss []string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
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
