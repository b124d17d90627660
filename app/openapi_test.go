package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// The tests in this file hold docs/openapi.yaml to the handlers: real requests go through the
// real router (a testEnv over loopback HTTP), and each request and response is validated
// against the document. A handler whose answer stops matching the document fails here.

var registerTextDecoders sync.Once

// openAPI is the loaded document and a router over it.
type openAPI struct {
	doc    *openapi3.T
	router routers.Router
}

// loadOpenAPI loads and validates docs/openapi.yaml.
func loadOpenAPI(tb testing.TB) openAPI {
	tb.Helper()
	// kin-openapi decodes JSON, forms and text/plain itself; the pages and assets are text too,
	// so their bodies are checked against their string schemas (the HTML page pattern).
	registerTextDecoders.Do(func() {
		for _, ct := range []string{"text/html", "text/css", "text/javascript"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		}
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join("..", "docs", "openapi.yaml"))
	if err != nil {
		tb.Fatalf("loading docs/openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		tb.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatalf("routing docs/openapi.yaml: %v", err)
	}
	return openAPI{doc: doc, router: router}
}

var validationOptions = &openapi3filter.Options{
	AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
	// A status the document does not list for the operation is a mismatch, not a pass.
	IncludeResponseStatus: true,
}

// call is one HTTP request, kept as data so it can be sent and then rebuilt for validation.
type call struct {
	method, url string
	body        string
	header      http.Header
}

func (c call) request(tb testing.TB) *http.Request {
	tb.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, c.url, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header = c.header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	return req
}

// with returns c with header name set to value.
func (c call) with(name, value string) call {
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(name, value)
	c.header = h
	return c
}

func (c call) basic(user, pass string) call {
	return c.with("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

func (c call) withoutAuth() call {
	c.header = c.header.Clone()
	c.header.Del("Authorization")
	return c
}

// exchange is a request as sent and the response it got.
type exchange struct {
	call   call
	status int
	header http.Header
	body   []byte
}

func send(tb testing.TB, c call) exchange {
	tb.Helper()
	res, err := noRedirect.Do(c.request(tb))
	if err != nil {
		tb.Fatalf("%s %s: %v", c.method, c.url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body: %v", c.method, c.url, err)
	}
	return exchange{call: c, status: res.StatusCode, header: res.Header, body: b}
}

// validate checks ex against the document. It returns the request's mismatch (or the router's
// error when no documented operation serves it) and the response's mismatch. A request no
// operation serves is answered by the router: its response is checked against the document's
// NotFound or MethodNotAllowed response; against names another component response to use.
func (o openAPI) validate(tb testing.TB, ex exchange, against string) (route *routers.Route, reqErr, resErr error) {
	tb.Helper()
	ctx := context.Background()
	req := ex.call.request(tb)
	route, params, routeErr := o.router.FindRoute(req)
	if against == "" && routeErr != nil {
		switch {
		case errors.Is(routeErr, routers.ErrPathNotFound):
			against = "NotFound"
		case errors.Is(routeErr, routers.ErrMethodNotAllowed):
			against = "MethodNotAllowed"
		default:
			tb.Fatalf("routing %s %s: %v", req.Method, req.URL, routeErr)
		}
	}
	reqErr = routeErr
	if against != "" {
		resp := o.doc.Components.Responses[against]
		if resp == nil {
			tb.Fatalf("docs/openapi.yaml has no components.responses.%s", against)
		}
		status := map[string]int{"NotFound": 404, "MethodNotAllowed": 405, "InternalError": 500}[against]
		route = &routers.Route{Spec: o.doc, Path: req.URL.Path, Method: req.Method,
			Operation: &openapi3.Operation{Responses: openapi3.NewResponses(openapi3.WithStatus(status, resp))}}
	} else {
		reqErr = openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: validationOptions,
		})
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: validationOptions,
		},
		Status:  ex.status,
		Header:  ex.header,
		Options: validationOptions,
	}
	in.SetBodyBytes(ex.body)
	return route, reqErr, openapi3filter.ValidateResponse(ctx, in)
}

// documentedOperations returns "METHOD /path" for every operation in the document.
func (o openAPI) documentedOperations() []string {
	var ops []string
	for path, item := range o.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

var ginParam = regexp.MustCompile(`/[:*]([^/]+)`)

func TestOpenAPIDocumentCoversEveryRoute(t *testing.T) {
	t.Parallel()
	oas := loadOpenAPI(t)
	_, engine, _ := newBareApp(t, nil)
	var served []string
	for _, r := range engine.Routes() {
		served = append(served, r.Method+" "+ginParam.ReplaceAllString(r.Path, "/{$1}"))
	}
	slices.Sort(served)
	documented := oas.documentedOperations()
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("route %s is served but not in docs/openapi.yaml", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("docs/openapi.yaml documents %s, which the App does not serve", op)
		}
	}
}

// newAppWithoutDatabase serves the App on a store whose database is gone, and returns its URL.
func newAppWithoutDatabase(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: tb.TempDir(), Database: "gone"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(ctx); err != nil {
		tb.Fatal(err)
	}
	intake := forwarding.NewIntake(store.NewOutbox(db), store.NewInstances(db, storetest.NewKeyring(tb)), nil, nil)
	srv := httptest.NewServer(app.New(app.Config{Logger: slog.New(slog.DiscardHandler), Intake: intake, Store: db}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// apiCase is one request of TestOpenAPIResponsesMatchDocument.
type apiCase struct {
	name string
	call func() call
	want int
	// offDoc marks a request that breaks the document on purpose (malformed JSON, a missing
	// required parameter, an unknown route): the document must reject it too.
	offDoc bool
	// against names a component response to check the answer with, for routes outside the
	// document (the panic route).
	against string
	// before and after run around the request (to take a fake down, or to keep what the
	// answer holds for later cases).
	before func()
	after  func(exchange)
}

func TestOpenAPIResponsesMatchDocument(t *testing.T) {
	t.Parallel()
	oas := loadOpenAPI(t)
	e := newTestEnv(t)
	fwd := e.setupForwarding("key-oas-forward-01", "")
	sub, ok := e.sales.ActiveSubscription(fwd.groupID)
	if !ok {
		t.Fatal("no subscription")
	}

	// Routes outside the testEnv: a store that is down, and a handler that panics.
	down, _, _ := newBareApp(t, errors.New("connection refused"))
	noDB := newAppWithoutDatabase(t)
	panicky, engine, _ := newBareApp(t, nil)
	engine.GET("/test/panic", func(*gin.Context) { panic("boom") })

	const (
		key, key2, key3 = "key-oas-0000001", "key-oas-0000002", "key-oas-0000003"
		forwarded       = "oas0000000000000000000001" // reaches 7Targets through the webhook
		fresh           = "oas0000000000000000000002" // only ever seen in the button dialog
	)
	req := func(method, path, body string) call {
		c := call{method: method, url: e.url + path, body: body}
		if body != "" {
			c = c.with("Content-Type", "application/json")
		}
		return c.basic(appID, appSecret)
	}
	hook := func(method, path, apiKey, body string) call {
		return req(method, path+"?api-key="+url.QueryEscape(apiKey), body)
	}
	plain := func(method, u string) call { return call{method: method, url: u} }
	form := func(v url.Values) call {
		return call{method: "POST", url: e.url + extensions.ActionPath, body: v.Encode()}.
			with("Content-Type", "application/x-www-form-urlencoded")
	}
	validCreds := `{"clientId":"` + stClientID + `","clientSecret":"` + stClientSecret + `","userIdentifier":"` + stUser +
		`","assistantEmail":"ashley@7targets.test"}`

	notification, err := json.Marshal(sales.Notification{
		SubscriptionID: sub.ID, Topic: sales.TopicProspects, Type: sales.NotificationCreated,
		Sent: time.Now().UTC(), Attempts: 1, Prospect: []sales.Prospect{prospect(forwarded, "new")},
	})
	if err != nil {
		t.Fatal(err)
	}
	webhook := func(callbackURL, body string) call {
		return call{method: "POST", url: callbackURL, body: body}.with("Content-Type", "application/json")
	}
	wrongToken := regexp.MustCompile(`token=[^&]+`).ReplaceAllString(sub.CallbackURL, "token=wrong")

	var dialog string // the button dialog's HTML, for its forms
	forwardForm := func(email string) url.Values {
		v := formValues(t, dialog, "forward")
		v.Set("email", email)
		v.Set("assistantEmail", "")
		v.Set("scheduleName", "")
		return v
	}
	tokens := extensions.NewTokens([]byte(signingKey), 0)
	retryForm := func(deliveryID string) url.Values {
		return url.Values{"action": {"retry"}, "deliveryId": {deliveryID}, "lang": {"en"},
			"token": {tokens.Issue(extensions.Claims{InstanceID: fwd.id, UserID: "u1", Action: extensions.ActionRetry, DeliveryID: deliveryID})}}
	}
	var forwardedDelivery string

	cases := []apiCase{
		// Lifecycle hooks.
		{name: "install", want: 201, call: func() call {
			return req("POST", "/lifecycle/install", `{"integration":{"apiKey":"`+key+`","enabled":true}}`)
		}},
		{name: "install again", want: 200, call: func() call {
			return req("POST", "/lifecycle/install", `{"integration":{"apiKey":"`+key+`","enabled":true}}`)
		}},
		{name: "install with credentials in the body", want: 201, call: func() call {
			return req("POST", "/lifecycle/install", `{"appId":"`+appID+`","appSecret":"`+appSecret+
				`","integration":{"apiKey":"`+key2+`","enabled":false}}`).withoutAuth()
		}},
		{name: "install with a wrong secret", want: 401, call: func() call {
			return req("POST", "/lifecycle/install", `{"integration":{"apiKey":"key-oas-refused1"}}`).basic(appID, "wrong")
		}},
		{name: "install without credentials", want: 401, call: func() call {
			return req("POST", "/lifecycle/install", `{"integration":{"apiKey":"key-oas-refused2"}}`).withoutAuth()
		}},
		{name: "install malformed", want: 400, offDoc: true, call: func() call {
			return req("POST", "/lifecycle/install", `{"integration":`)
		}},
		{name: "install not JSON", want: 415, offDoc: true, call: func() call {
			return req("POST", "/lifecycle/install", `apiKey=k`).with("Content-Type", "text/plain")
		}},
		{name: "install without api key", want: 422, offDoc: true, call: func() call {
			return req("POST", "/lifecycle/install", `{"integration":{}}`)
		}},
		{name: "install with enabled of the wrong type", want: 422, offDoc: true, call: func() call {
			return req("POST", "/lifecycle/install", `{"integration":{"apiKey":"key-oas-refused3","enabled":"yes"}}`)
		}},
		{name: "install over 1 MiB", want: 413, offDoc: true, call: func() call {
			return req("POST", "/lifecycle/install", `{"integration":{"apiKey":"`+strings.Repeat("k", 2<<20)+`"}}`)
		}},
		{name: "wrong method", want: 405, offDoc: true, call: func() call { return req("GET", "/lifecycle/install", "") }},
		{name: "unknown route", want: 404, offDoc: true, call: func() call { return req("GET", "/lifecycle/nope", "") }},
		{name: "trailing slash", want: 404, offDoc: true, call: func() call { return plain("GET", e.url+"/healthz/") }},

		{name: "settings form", want: 200, call: func() call { return hook("GET", "/lifecycle/settings/form", key, "") }},
		{name: "settings form offering the assistants", want: 200, call: func() call { return hook("GET", "/lifecycle/settings/form", fwd.key, "") }},
		{name: "settings form with wrong credentials", want: 401, call: func() call {
			return hook("GET", "/lifecycle/settings/form", key, "").basic("other", appSecret)
		}},
		{name: "read settings", want: 200, call: func() call { return hook("GET", "/lifecycle/settings", key, "") }},
		{name: "read settings without api-key", want: 401, offDoc: true, call: func() call {
			return req("GET", "/lifecycle/settings", "")
		}},
		{name: "read settings with an unknown api-key", want: 401, call: func() call {
			return hook("GET", "/lifecycle/settings", "key-oas-unknown1", "")
		}},
		{name: "update settings", want: 200, call: func() call { return hook("PUT", "/lifecycle/settings", key, validCreds) }},
		{name: "update settings partially", want: 200, call: func() call {
			return hook("PUT", "/lifecycle/settings", key, `{"autoForward":false,"scheduleName":"Warm leads","source":null}`)
		}},
		{name: "update settings sending the mask back", want: 200, call: func() call {
			return hook("PUT", "/lifecycle/settings", key, `{"clientSecret":"********"}`)
		}},
		{name: "update settings with rejected credentials", want: 422, call: func() call {
			return hook("PUT", "/lifecycle/settings", key, `{"clientSecret":"wrong-secret"}`)
		}},
		{name: "update settings with an unknown key", want: 422, offDoc: true, call: func() call {
			return hook("PUT", "/lifecycle/settings", key, `{"color":"blue","$where":"1"}`)
		}},
		{name: "update settings with a wrong type", want: 422, offDoc: true, call: func() call {
			return hook("PUT", "/lifecycle/settings", key, `{"autoForward":"yes"}`)
		}},
		{name: "update settings, 7Targets down", want: 502,
			before: func() { e.st.SetDown(true) }, after: func(exchange) { e.st.SetDown(false) },
			call: func() call {
				return hook("PUT", "/lifecycle/settings", key, `{"clientId":"`+stClientID+`","clientSecret":"another-secret-123"}`)
			}},
		{name: "update settings malformed", want: 400, offDoc: true, call: func() call {
			return hook("PUT", "/lifecycle/settings", key, `{"autoForward":`)
		}},
		{name: "update settings not JSON", want: 415, offDoc: true, call: func() call {
			return hook("PUT", "/lifecycle/settings", key, `autoForward=false`).with("Content-Type", "application/x-www-form-urlencoded")
		}},
		{name: "disable", want: 200, call: func() call { return hook("PUT", "/lifecycle/enabled", key, `{"enabled":false}`) }},
		{name: "enable", want: 200, call: func() call { return hook("PUT", "/lifecycle/enabled", key, `{"enabled":true}`) }},
		{name: "enable without the field", want: 422, offDoc: true, call: func() call {
			return hook("PUT", "/lifecycle/enabled", key, `{}`)
		}},
		{name: "enable without a body", want: 400, offDoc: true, call: func() call {
			return hook("PUT", "/lifecycle/enabled", key, "")
		}},
		{name: "refresh to another instance's key", want: 409, call: func() call {
			return hook("PUT", "/lifecycle/api-key", key, `{"newApiKey":"`+key2+`"}`)
		}},
		{name: "refresh to an empty key", want: 422, offDoc: true, call: func() call {
			return hook("PUT", "/lifecycle/api-key", key, `{"newApiKey":""}`)
		}},
		{name: "refresh the key", want: 200, call: func() call {
			return hook("PUT", "/lifecycle/api-key", key, `{"newApiKey":"`+key3+`"}`)
		}},
		{name: "the old key after a refresh", want: 401, call: func() call { return hook("GET", "/lifecycle/settings", key, "") }},
		{name: "uninstall", want: 200, call: func() call { return hook("DELETE", "/lifecycle/uninstall", key3, "") }},
		{name: "uninstall again", want: 401, call: func() call { return hook("DELETE", "/lifecycle/uninstall", key3, "") }},

		// The prospects webhook.
		{name: "webhook", want: 200, call: func() call { return webhook(sub.CallbackURL, string(notification)) },
			after: func(ex exchange) {
				if !bytes.Equal(ex.body, []byte(`{"queued":1}`)) {
					t.Errorf("webhook answered %s, want one queued", ex.body)
				}
				e.finished(fwd, forwarded, "forwarded")
				forwardedDelivery = deliveryOf(t, e, fwd, forwarded)
				// The retry cases below need it in the history, not on its way there.
				eventually(t, "the delivery in the history", func() bool {
					done, err := e.outbox.Finished(context.Background(), forwardedDelivery)
					return err == nil && done
				})
			}},
		{name: "webhook duplicate", want: 200, call: func() call {
			return webhook(sub.CallbackURL, strings.Replace(string(notification), `"attempts":1`, `"attempts":2`, 1))
		}},
		{name: "webhook with a bare prospect", want: 200, call: func() call {
			return webhook(sub.CallbackURL, `{"id":"`+forwarded+`","status":"new","firstName":"Jorge"}`)
		}},
		{name: "webhook with a wrong token", want: 401, call: func() call { return webhook(wrongToken, string(notification)) }},
		{name: "webhook for an unknown instance", want: 401, call: func() call {
			return webhook(e.url+"/webhooks/sales/aaaaaaaaaaaaaaaaaaaaaaaa?token=x", string(notification))
		}},
		{name: "webhook without a token", want: 401, offDoc: true, call: func() call {
			return webhook(strings.Split(sub.CallbackURL, "?")[0], string(notification))
		}},
		{name: "webhook with the database down", want: 503, call: func() call {
			return webhook(noDB+"/webhooks/sales/"+fwd.id+"?token=t", string(notification))
		}},
		{name: "webhook that is no notification", want: 400, offDoc: true, call: func() call {
			return webhook(sub.CallbackURL, `{"foo":1}`)
		}},
		{name: "webhook not JSON", want: 415, offDoc: true, call: func() call {
			return webhook(sub.CallbackURL, `x`).with("Content-Type", "text/plain")
		}},

		// Embedded pages and their actions.
		{name: "manifest", want: 200, call: func() call { return plain("GET", e.url+"/extensions/manifest") }},
		{name: "report signed over the full URL", want: 200, call: func() call {
			return plain("GET", e.signedURL(reportPath(fwd.groupID, "es"), true))
		}},
		{name: "report signed over the path", want: 200, call: func() call {
			return plain("GET", e.signedURL(reportPath(fwd.groupID, "pt")+"&start=2025-01-01&end=2025-01-31", false))
		}},
		{name: "report without signature", want: 401, offDoc: true, call: func() call {
			return plain("GET", e.url+reportPath(fwd.groupID, "en"))
		}},
		{name: "report with a wrong signature", want: 401, call: func() call {
			return plain("GET", e.url+reportPath(fwd.groupID, "en")+"&signature="+strings.Repeat("ab", 32))
		}},
		{name: "report of a foreign group", want: 401, call: func() call {
			return plain("GET", e.signedURL(reportPath("aaaaaaaaaaaaaaaaaaaaaaaa", "en"), true))
		}},
		{name: "report with an unknown key", want: 404, offDoc: true, call: func() call {
			return plain("GET", e.signedURL("/extensions/reports/other?group="+fwd.groupID, true))
		}},
		{name: "button", want: 200, call: func() call {
			return plain("GET", e.signedURL(buttonPath(fwd.groupID, fresh, ""), true))
		}, after: func(ex exchange) { dialog = string(ex.body) }},
		{name: "button with a tampered URL", want: 401, call: func() call {
			return plain("GET", strings.Replace(e.signedURL(buttonPath(fwd.groupID, fresh, ""), true), "Silva", "Silvb", 1))
		}},
		{name: "button without a prospect", want: 400, call: func() call {
			return plain("GET", e.signedURL("/extensions/buttons/"+extensions.ButtonKey+"?user=u1&group="+fwd.groupID+"&lang=en", true))
		}},
		{name: "forward with an invalid email", want: 422, call: func() call { return form(forwardForm("not-an-email")) }},
		{name: "forward", want: 303, call: func() call { return form(forwardForm("ana.silva@example.com")) }},
		{name: "forward with a spent token", want: 401, call: func() call { return form(forwardForm("ana.silva@example.com")) }},
		{name: "forward with a forged token", want: 401, call: func() call {
			v := forwardForm("ana.silva@example.com")
			v.Set("token", "x"+v.Get("token"))
			return form(v)
		}},
		{name: "action without a token", want: 401, offDoc: true, call: func() call { return form(url.Values{"action": {"stop"}}) }},
		{name: "retry of a delivery that did not fail", want: 422, call: func() call { return form(retryForm(forwardedDelivery)) }},
		{name: "retry of an unknown delivery", want: 404, call: func() call { return form(retryForm(fwd.id + ":nope")) }},
		{name: "stop without a page to go back to", want: 200, call: func() call {
			return form(url.Values{"action": {"stop"}, "prospectId": {forwarded}, "lang": {"pt"},
				"token": {tokens.Issue(extensions.Claims{InstanceID: fwd.id, UserID: "u1", ProspectID: forwarded, Action: extensions.ActionStop,
					Prospect: extensions.ProspectDigest(view.ButtonProspect{ID: forwarded})})}})
		}},
		{name: "stylesheet", want: 200, call: func() call { return plain("GET", e.url+view.AssetsPath+"app.css") }},
		{name: "script", want: 200, call: func() call { return plain("GET", e.url+view.AssetsPath+"app.js?v=old") }},
		{name: "unknown asset", want: 404, offDoc: true, call: func() call { return plain("GET", e.url+view.AssetsPath+"nope.js") }},
		{name: "stylesheet's headers", want: 200, call: func() call { return plain("HEAD", e.url+view.AssetsPath+"app.css") }},
		{name: "stylesheet's range past the end", want: 416, call: func() call {
			return plain("GET", e.url+view.AssetsPath+"app.css").with("Range", "bytes=9999999-")
		}},

		// Operations.
		{name: "healthz", want: 200, call: func() call { return plain("GET", e.url+"/healthz") }},
		{name: "readyz", want: 200, call: func() call { return plain("GET", e.url+"/readyz") }},
		{name: "readyz with the store down", want: 503, call: func() call { return plain("GET", down.URL+"/readyz") }},
		{name: "healthz with the store down", want: 200, call: func() call { return plain("GET", down.URL+"/healthz") }},
		{name: "metrics", want: 200, call: func() call { return plain("GET", e.url+"/metrics") }},
		{name: "panic", want: 500, offDoc: true, against: "InternalError", call: func() call { return plain("GET", panicky.URL+"/test/panic") }},
	}

	succeeded := map[string]bool{} // "METHOD /path" of operations answered with a 2xx or 3xx
	for _, tc := range cases {
		// Requests are built and sent here, in the parent test: they use what earlier cases left
		// (a dialog's forms, a delivery id), and the helpers they use fail the parent test.
		if tc.before != nil {
			tc.before()
		}
		ex := send(t, tc.call())
		if tc.after != nil {
			tc.after(ex)
		}
		t.Run(tc.name, func(t *testing.T) {
			if ex.status != tc.want {
				t.Fatalf("status = %d, want %d\n%.500s", ex.status, tc.want, ex.body)
			}
			route, reqErr, resErr := oas.validate(t, ex, tc.against)
			switch {
			case tc.offDoc && reqErr == nil:
				t.Errorf("the request breaks the document on purpose, but the document accepts it")
			case !tc.offDoc && reqErr != nil:
				t.Errorf("the request does not match docs/openapi.yaml: %v", reqErr)
			}
			if resErr != nil {
				t.Errorf("the %d response does not match docs/openapi.yaml: %v\nbody: %.500s", ex.status, resErr, ex.body)
			}
			if route != nil && route.Operation != nil && ex.status < 400 && tc.against == "" {
				succeeded[route.Method+" "+route.Path] = true
			}
		})
	}
	for _, op := range oas.documentedOperations() {
		if !succeeded[op] {
			t.Errorf("no case answered %s with a success: add one", op)
		}
	}
}

// TestOpenAPIValidationCatchesDrift proves the checks above can fail: real answers, altered as
// a regressed handler might alter them, no longer match the document.
func TestOpenAPIValidationCatchesDrift(t *testing.T) {
	t.Parallel()
	oas := loadOpenAPI(t)
	e := newTestEnv(t)
	fwd := e.setupForwarding("key-oas-drift-001", "")

	hook := func(method, path, body string) call {
		c := call{method: method, url: e.url + path, body: body}.basic(appID, appSecret)
		if body != "" {
			c = c.with("Content-Type", "application/json")
		}
		return c
	}
	install := send(t, hook("POST", "/lifecycle/install", `{"integration":{"apiKey":"key-oas-drift-002","enabled":true}}`))
	settings := send(t, hook("GET", "/lifecycle/settings?api-key="+fwd.key, ""))
	refused := send(t, hook("GET", "/lifecycle/settings?api-key=key-oas-unknown2", ""))
	invalid := send(t, hook("PUT", "/lifecycle/settings?api-key="+fwd.key, `{"clientSecret":"wrong-secret"}`))
	page := send(t, call{method: "GET", url: e.signedURL(reportPath(fwd.groupID, "en"), true)})
	if install.status != 201 || settings.status != 200 || refused.status != 401 || invalid.status != 422 || page.status != 200 {
		t.Fatalf("statuses %d %d %d %d %d, want 201 200 401 422 200", install.status, settings.status, refused.status, invalid.status, page.status)
	}

	jsonBody := func(ex exchange, change func(m map[string]any)) exchange {
		var m map[string]any
		if err := json.Unmarshal(ex.body, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		ex.body, _ = json.Marshal(m)
		return ex
	}
	withHeader := func(ex exchange, name, value string) exchange {
		ex.header = ex.header.Clone()
		if value == "" {
			ex.header.Del(name)
		} else {
			ex.header.Set(name, value)
		}
		return ex
	}

	for _, real := range []exchange{install, settings, refused, invalid, page} {
		if _, _, err := oas.validate(t, real, ""); err != nil {
			t.Fatalf("the real %d answer of %s does not match: %v", real.status, real.call.url, err)
		}
	}
	tests := []struct {
		name string
		ex   exchange
	}{
		{"install says success as a string", jsonBody(install, func(m map[string]any) { m["success"] = "yes" })},
		{"install says success false", jsonBody(install, func(m map[string]any) { m["success"] = false })},
		{"install answers an empty object", jsonBody(install, func(m map[string]any) { delete(m, "success") })},
		{"install answers an undocumented status", func() exchange { ex := install; ex.status = 202; return ex }()},
		{"settings without clientSecret", jsonBody(settings, func(m map[string]any) { delete(m, "clientSecret") })},
		{"settings leak the client secret", jsonBody(settings, func(m map[string]any) { m["clientSecret"] = stClientSecret })},
		{"settings with an undocumented key", jsonBody(settings, func(m map[string]any) { m["color"] = "blue" })},
		{"settings with autoForward as a string", jsonBody(settings, func(m map[string]any) { m["autoForward"] = "true" })},
		{"401 with another code", jsonBody(refused, func(m map[string]any) { m["error"].(map[string]any)["code"] = "invalid" })},
		{"401 without a message", jsonBody(refused, func(m map[string]any) { delete(m["error"].(map[string]any), "message") })},
		{"401 as plain text", withHeader(refused, "Content-Type", "text/plain; charset=utf-8")},
		{"422 without fields", jsonBody(invalid, func(m map[string]any) { delete(m["error"].(map[string]any), "fields") })},
		{"page served as JSON", withHeader(page, "Content-Type", "application/json")},
		{"page without its frame-ancestors policy", withHeader(page, "Content-Security-Policy", "")},
		{"page that is not a whole document", func() exchange { ex := page; ex.body = []byte("<p>hello</p>"); return ex }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := oas.validate(t, tt.ex, ""); err == nil {
				t.Errorf("the altered answer matches docs/openapi.yaml; the document or the check is too loose\nbody: %.300s", tt.ex.body)
			}
		})
	}
}
