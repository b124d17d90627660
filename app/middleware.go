package app

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/gin-gonic/gin"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// LogHandler wraps h so that every record logged with a request's context carries its
// request id, wherever in the code it is logged.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}
func (h requestIDHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(a)}
}
func (h requestIDHandler) WithGroup(n string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(n)}
}

// requestID takes the caller's X-Request-Id when it is a sane token, else makes one, and puts
// it on the context and the response.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if !validRequestID(id) {
			id = secret.RandomHex(8)
		}
		c.Header("X-Request-Id", id)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey, id))
		c.Next()
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// observe logs one line per request and feeds the metrics. It logs the path, never the query:
// the query carries api-keys and tokens. The client is the address the rate limits use.
func observe(logger *slog.Logger, m *httpMetrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		status := c.Writer.Status()
		m.observe(c.Request.Method, route(c), status, elapsed)
		logger.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
			slog.String("method", c.Request.Method),
			slog.String("route", route(c)),
			slog.String("path", c.Request.URL.Path),
			slog.String("client", c.ClientIP()),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int("bytes", c.Writer.Size()),
		)
	}
}

// route names the matched route pattern, so metrics do not grow a label per URL.
func route(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return "unmatched"
}

// recoverPanics turns a panic into the JSON 500; the process never goes down for one request.
func recoverPanics(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(c.Request.Context(), "panic in handler",
					"route", route(c), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				c.Errors = c.Errors[:0]
				fail(c, errPanic) // renderErrors, outside, writes the JSON 500
			}
		}()
		c.Next()
	}
}

// securityHeaders sets what every response carries. Pages meant to be framed (the extension
// pages) replace the frame rules.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		c.Next()
	}
}

// limitBody refuses bodies over limit: at once when Content-Length says so, else when the
// handler reads past it.
func limitBody(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			fail(c, &http.MaxBytesError{Limit: limit})
			c.Header("Connection", "close")
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// requireJSON answers 415 to a request whose body is not declared as JSON.
func requireJSON() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := checkJSONContentType(c); err != nil {
			fail(c, err)
			return
		}
		c.Next()
	}
}

// checkJSONContentType returns errMediaType for a body not declared as JSON; a request without
// a body passes (its handler decides whether it needs one).
func checkJSONContentType(c *gin.Context) error {
	if c.Request.ContentLength == 0 && len(c.Request.TransferEncoding) == 0 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errMediaType
	}
	return nil
}

func statusLabel(status int) string { return strconv.Itoa(status) }
