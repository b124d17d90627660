// Package app is the App's HTTP layer: the router, the middleware every request passes, the one
// table that turns errors into the contract's JSON errors, the lifecycle hook handlers, and the
// health and metrics endpoints. The rules live in the feature packages; this package only
// translates between them and HTTP.
package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// MaxBodyBytes is the largest request body accepted (1 MiB).
const MaxBodyBytes = 1 << 20

// Readiness reports whether the store can do the App's work; /readyz uses it.
type Readiness interface {
	// Ready returns an error unless the store answers and takes writes: a webhook is answered
	// only once stored, so a store that cannot write (its disk full) cannot serve one.
	Ready(ctx context.Context) error
}

// Config holds the App's HTTP dependencies.
type Config struct {
	Logger    *slog.Logger
	Lifecycle *lifecycle.Service
	Intake    *forwarding.Intake
	Store     Readiness
	// Extensions serves the embedded pages; SigningKey verifies Sales' signatures of their URLs,
	// over PublicBaseURL + path or the path alone; FrameAncestors lists the origins allowed to
	// frame them (CSP frame-ancestors syntax).
	Extensions     *extensions.Service
	SigningKey     []byte
	PublicBaseURL  string
	FrameAncestors string
	// Limits are the rate limits; zero values take the defaults.
	Limits Limits
	// TrustedProxies are the load balancers in front of the App: only a connection from one of
	// them has its X-Forwarded-For believed, for the client address that rate limits and logs
	// use. None: the connection's own address, whatever the headers say.
	TrustedProxies []netip.Prefix
	// Registry collects the App's metrics and is served at /metrics. Nil makes a fresh one.
	Registry *prometheus.Registry
	// Mount, when set, adds routes behind the same middleware. Only cmd/loadgen sets it, to
	// serve its baseline webhook handler exactly as the App serves its own.
	Mount func(gin.IRouter)
}

func init() {
	gin.SetMode(gin.ReleaseMode)
}

// trustProxies makes c.ClientIP() the connection's address, or, for a connection from one of
// proxies, the last X-Forwarded-For entry not itself a proxy: the one the outermost trusted
// balancer appended, which a client cannot forge. gin's defaults would believe every sender
// and X-Real-IP too, which balancers that append to X-Forwarded-For often pass through as sent.
func trustProxies(r *gin.Engine, proxies []netip.Prefix) {
	r.TrustedPlatform = ""
	r.ForwardedByClientIP = len(proxies) > 0
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	var cidrs []string // nil: gin trusts no one
	for _, p := range proxies {
		cidrs = append(cidrs, p.String())
	}
	if err := r.SetTrustedProxies(cidrs); err != nil {
		// A netip.Prefix always prints as a CIDR that gin parses; trust no one rather than all.
		_ = r.SetTrustedProxies(nil)
	}
}

// New returns the App's HTTP handler.
func New(cfg Config) http.Handler {
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	trustProxies(r, cfg.TrustedProxies)

	r.Use(
		requestID(),
		observe(cfg.Logger, newHTTPMetrics(cfg.Registry)),
		renderErrors(cfg.Logger),
		recoverPanics(cfg.Logger),
		securityHeaders(),
		limitBody(MaxBodyBytes),
	)
	r.NoRoute(func(c *gin.Context) { fail(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { fail(c, errMethodNotAllowed) })

	r.GET("/healthz", healthz)
	r.GET("/readyz", readyz(cfg.Store))
	metrics := promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry})
	r.GET("/metrics", gin.WrapH(metrics))

	limits := cfg.Limits.withDefaults()
	hookLimit := rateLimit(newLimiter(limits.Hook), byClient)

	lh := lifecycleHandlers{svc: cfg.Lifecycle}
	hooks := r.Group("/lifecycle", hookLimit)
	hooks.POST("/install", lh.install) // checks credentials before the content type
	authed := hooks.Group("", lh.authenticateApp, requireJSON())
	authed.GET("/settings/form", lh.settingsForm)
	authed.GET("/settings", lh.readSettings)
	authed.PUT("/settings", lh.updateSettings)
	authed.PUT("/enabled", lh.setEnabled)
	authed.PUT("/api-key", lh.refreshAPIKey)
	authed.DELETE("/uninstall", lh.uninstall)

	// Webhooks are limited inside the handler, once it knows whether the token passed.
	wh := webhookHandlers{intake: cfg.Intake, perInstance: newLimiter(limits.Webhook), unauthenticated: newLimiter(limits.WebhookUnauthenticated)}
	r.POST(forwarding.WebhookPath+":instanceId", requireJSON(), wh.sales)

	eh := extensionHandlers{svc: cfg.Extensions, logger: cfg.Logger, signingKey: cfg.SigningKey, publicBaseURL: cfg.PublicBaseURL, frameAncestors: cfg.FrameAncestors}
	r.GET(extensions.ManifestPath, eh.manifest)
	r.GET(view.AssetsPath+"*file", assets())
	r.HEAD(view.AssetsPath+"*file", assets())
	framed := r.Group("", eh.frameable, eh.limit(newLimiter(limits.Page)))
	framed.GET(extensions.ReportsPath+":key", eh.signed, eh.report)
	framed.GET(extensions.ButtonsPath+":key", eh.signed, eh.button)
	framed.POST(extensions.ActionPath, eh.action)
	if cfg.Mount != nil {
		cfg.Mount(r)
	}
	return r
}
