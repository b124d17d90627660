package app

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/extensions/view"
)

// extensionHandlers serves the pages Zenvia Sales embeds (contract section 5).
type extensionHandlers struct {
	svc            *extensions.Service
	logger         *slog.Logger
	signingKey     []byte
	publicBaseURL  string
	frameAncestors string
}

// frameable replaces the App-wide "never frame me" headers with a policy that lets Zenvia
// Sales, and only it, frame the page, and that allows nothing from anywhere else.
func (h extensionHandlers) frameable(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Del("X-Frame-Options")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors "+h.frameAncestors)
	c.Next()
}

// limit is the pages' rate limit per client address. Past it the answer is the error page, as
// for the pages' other errors: it shows inside Sales' iframe, where JSON would be gibberish.
func (h extensionHandlers) limit(l *limiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := l.take(c, byClient(c)); err != nil {
			h.errorPage(c, http.StatusTooManyRequests, "error.generic") // "try again in a few minutes"
			c.Abort()
			return
		}
		c.Next()
	}
}

// assets serves the pages' stylesheet and script. The file server answers its errors (an
// unknown file, or 412 and 416 for a request's preconditions and ranges) in text/plain; they
// are held back and answered as the contract's JSON error instead, as on every route that is
// not a page.
func assets() gin.HandlerFunc {
	files := view.Assets()
	return func(c *gin.Context) {
		w := &heldError{ResponseWriter: c.Writer}
		files.ServeHTTP(w, c.Request)
		if w.status == 0 {
			return
		}
		hd := c.Writer.Header()
		for _, k := range []string{"Content-Type", "ETag", "Last-Modified"} { // of the file, or text/plain
			hd.Del(k)
		}
		hd.Set("Cache-Control", "no-store")
		if w.status == http.StatusNotFound {
			fail(c, errNoRoute)
			return
		}
		fail(c, statusError(w.status))
	}
}

// heldError passes a handler's answer through unless its status is an error, which it records
// and discards with its body.
type heldError struct {
	http.ResponseWriter
	status int
}

func (w *heldError) WriteHeader(code int) {
	if code >= http.StatusBadRequest {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *heldError) Write(b []byte) (int, error) {
	if w.status != 0 {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// signed refuses a page request whose Sales signature is missing or wrong, with the small
// error page and nothing else.
func (h extensionHandlers) signed(c *gin.Context) {
	if err := extensions.VerifySignature(h.signingKey, h.publicBaseURL, c.Request.RequestURI); err != nil {
		h.errorPage(c, http.StatusUnauthorized, "error.signature")
		c.Abort()
		return
	}
	c.Next()
}

func lang(c *gin.Context) view.Lang { return view.LangOf(c.Query("lang")) }

func (h extensionHandlers) errorPage(c *gin.Context, status int, key string) {
	l := lang(c)
	h.html(c, status, func(b *bytes.Buffer) error {
		return view.RenderError(b, view.ErrorPage{Lang: l, Status: status,
			Title: view.T(l, key+".title"), Message: view.T(l, key+".message")})
	})
}

// internalError logs err and answers the generic error page: inside an iframe, a page, never
// JSON; and nothing of the error itself.
func (h extensionHandlers) internalError(c *gin.Context, err error) {
	_ = c.Error(err) // for the access log's sake; the page below is the answer
	h.logger.ErrorContext(c.Request.Context(), "page failed", "route", route(c), "error", err)
	h.errorPage(c, http.StatusInternalServerError, "error.generic")
}

// html renders into a buffer first, so a template error becomes a clean 500, never half a page.
func (h extensionHandlers) html(c *gin.Context, status int, render func(*bytes.Buffer) error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		fail(c, err)
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

func (h extensionHandlers) manifest(c *gin.Context) {
	c.JSON(http.StatusOK, extensions.NewManifest(h.publicBaseURL))
}

// instance finds the instance serving the page's group (parentGroup, the group above, only
// helps find a group made since), or answers with the error page.
func (h extensionHandlers) instance(c *gin.Context, group, parentGroup string) (zen7.Instance, bool) {
	inst, err := h.svc.ResolveInstance(c.Request.Context(), group, parentGroup)
	switch {
	case errors.Is(err, extensions.ErrUnknownGroup):
		h.errorPage(c, http.StatusUnauthorized, "error.group")
		return zen7.Instance{}, false
	case err != nil:
		h.internalError(c, err)
		return zen7.Instance{}, false
	}
	return inst, true
}

func (h extensionHandlers) report(c *gin.Context) {
	if c.Param("key") != extensions.ReportKey {
		h.errorPage(c, http.StatusNotFound, "error.notfound")
		return
	}
	inst, ok := h.instance(c, c.Query("group"), c.Query("parentGroup"))
	if !ok {
		return
	}
	p := h.svc.Report(c.Request.Context(), inst, c.Query("user"), c.Query("range"), c.Query("start"), c.Query("end"), lang(c))
	p.Back = c.Request.RequestURI
	h.html(c, http.StatusOK, func(b *bytes.Buffer) error { return view.RenderReport(b, p) })
}

func (h extensionHandlers) button(c *gin.Context) {
	if c.Param("key") != extensions.ButtonKey {
		h.errorPage(c, http.StatusNotFound, "error.notfound")
		return
	}
	inst, ok := h.instance(c, c.Query("group"), "")
	if !ok {
		return
	}
	pr := view.ButtonProspect{
		ID: c.Query("prospect"), FirstName: c.Query("firstName"), LastName: c.Query("lastName"),
		Emails: splitList(c.Query("emails")), Phones: splitList(c.Query("phones")),
	}
	if pr.ID == "" {
		h.errorPage(c, http.StatusBadRequest, "error.prospect")
		return
	}
	p := h.svc.Button(c.Request.Context(), inst, c.Query("user"), pr, lang(c))
	p.Back = c.Request.RequestURI
	h.html(c, http.StatusOK, func(b *bytes.Buffer) error { return view.RenderButton(b, p) })
}

// splitList splits Sales' comma-separated placeholder values (emails, phones).
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" && len(out) < 20 {
			out = append(out, v)
		}
	}
	return out
}

// action carries out what a page posted, then returns the frame to the page it came from.
func (h extensionHandlers) action(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		h.errorPage(c, http.StatusBadRequest, "error.generic")
		return
	}
	f := c.Request.PostForm
	req := extensions.ActionRequest{
		Token: f.Get("token"), Action: extensions.Action(f.Get("action")), ProspectID: f.Get("prospectId"),
		DeliveryID: f.Get("deliveryId"), Email: f.Get("email"), AssistantEmail: f.Get("assistantEmail"),
		ScheduleName: f.Get("scheduleName"),
		Prospect: view.ButtonProspect{ID: f.Get("prospectId"), FirstName: f.Get("prospectFirstName"),
			LastName: f.Get("prospectLastName"), Emails: splitList(f.Get("prospectEmails")), Phones: splitList(f.Get("prospectPhones"))},
	}
	claims, err := h.svc.Act(c.Request.Context(), req)
	var fe *extensions.FieldError
	switch {
	case errors.As(err, &fe):
		h.actionFieldError(c, claims, req, fe)
		return
	case errors.Is(err, extensions.ErrTokenExpired), errors.Is(err, extensions.ErrTokenReplayed), errors.Is(err, extensions.ErrTokenInvalid):
		h.errorPage(c, http.StatusUnauthorized, "error.expired")
		return
	case errors.Is(err, zen7.ErrNotFound):
		h.errorPage(c, http.StatusNotFound, "error.notfound")
		return
	case errors.Is(err, zen7.ErrInvalid):
		h.errorPage(c, http.StatusUnprocessableEntity, "error.generic")
		return
	case err != nil:
		h.internalError(c, err)
		return
	}
	back := f.Get("back")
	if !h.returnable(back) {
		h.errorPage(c, http.StatusOK, "action.done")
		return
	}
	c.Redirect(http.StatusSeeOther, back)
}

// returnable accepts only a signed URL of this App's own pages as the place to go back to.
func (h extensionHandlers) returnable(back string) bool {
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, extensions.PathPrefix) {
		return false
	}
	return extensions.VerifySignature(h.signingKey, h.publicBaseURL, back) == nil
}

func (h extensionHandlers) actionFieldError(c *gin.Context, claims extensions.Claims, req extensions.ActionRequest, fe *extensions.FieldError) {
	l := lang(c)
	if v := c.Request.PostForm.Get("lang"); v != "" {
		l = view.LangOf(v)
	}
	p, err := h.svc.ButtonFor(c.Request.Context(), claims, req.Prospect, l)
	if err != nil {
		h.internalError(c, err)
		return
	}
	p.FieldErrors = map[string]string{fe.Field: view.T(l, fe.Key)}
	p.Back = c.Request.PostForm.Get("back")
	h.html(c, http.StatusUnprocessableEntity, func(b *bytes.Buffer) error { return view.RenderButton(b, p) })
}
