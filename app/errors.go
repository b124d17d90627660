package app

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
)

// Errors raised by the HTTP layer itself.
var (
	errNoRoute          = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed")
	errMediaType        = errors.New("unsupported media type")
	errMalformed        = errors.New("malformed JSON body")
	errPanic            = errors.New("handler panicked")
)

// errorBody is the contract's JSON error: {"error":{"code","message","fields"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// fieldErrors is implemented by validation errors that say which input field is wrong.
type fieldErrors interface {
	FieldErrors() map[string]string
}

// errorRows is the one table from errors to statuses and safe messages. Order matters: the
// first row whose error matches wins. Messages are fixed text: nothing of the error's own
// text, which may hold internals, reaches the client.
var errorRows = []struct {
	err     error
	status  int
	code    string
	message string
}{
	{errNoRoute, http.StatusNotFound, "not_found", "no such route"},
	{errMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route"},
	{errMediaType, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)"},
	{errMalformed, http.StatusBadRequest, "malformed_json", "the body is not the JSON object this route expects"},
	{errRateLimited, http.StatusTooManyRequests, "rate_limited", "too many requests; retry after the time in Retry-After"},
	// A feature's own refinement of a sentinel comes before the sentinel's row.
	{forwarding.ErrMalformed, http.StatusBadRequest, "malformed_notification", "the body is not a Zenvia Sales notification"},
	{zen7.ErrMalformed, http.StatusBadRequest, "malformed_json", "the body is not the JSON object this route expects"},
	{zen7.ErrUnauthorized, http.StatusUnauthorized, "unauthorized", "missing or wrong credentials, api-key or webhook token"},
	{zen7.ErrInvalid, http.StatusUnprocessableEntity, "invalid", "the request has invalid fields or cannot apply"},
	{zen7.ErrConflict, http.StatusConflict, "conflict", "the request conflicts with the instance's current state"},
	{zen7.ErrUpstream, http.StatusBadGateway, "upstream_unavailable", "7Targets could not be reached; nothing was saved, try again"},
	{zen7.ErrNotFound, http.StatusNotFound, "not_found", "no such delivery"},
	{zen7.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "temporarily unavailable; nothing was stored, try again"},
}

// statusError is an error status that a net/http handler the App wraps answered (the asset
// file server's 412 or 416), to be rendered in the contract's form.
type statusError int

func (e statusError) Error() string { return http.StatusText(int(e)) }

// toErrorBody maps err to its status and JSON body.
func toErrorBody(err error) (int, errorBody) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge, errorBody{errorDetail{Code: "body_too_large", Message: "the body is larger than 1 MiB"}}
	}
	var se statusError
	if errors.As(err, &se) {
		text := strings.ToLower(se.Error())
		return int(se), errorBody{errorDetail{Code: strings.ReplaceAll(text, " ", "_"), Message: text}}
	}
	for _, row := range errorRows {
		if !errors.Is(err, row.err) {
			continue
		}
		body := errorBody{errorDetail{Code: row.code, Message: row.message}}
		var fe fieldErrors
		if errors.As(err, &fe) {
			body.Error.Fields = fe.FieldErrors()
		}
		return row.status, body
	}
	return http.StatusInternalServerError, errorBody{errorDetail{Code: "internal", Message: "internal error"}}
}

// fail records err for the error renderer and stops the handler chain.
func fail(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// renderErrors writes the last error a handler recorded, once the chain has run. Only 5xx are
// logged as errors: 4xx are the client's business.
func renderErrors(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		status, body := toErrorBody(err)
		if status >= 500 {
			logger.ErrorContext(c.Request.Context(), "request failed", "route", route(c), "error", err)
		}
		if status == http.StatusServiceUnavailable {
			c.Header("Retry-After", "5")
		}
		if status == http.StatusUnauthorized && c.GetHeader("Authorization") == "" {
			c.Header("WWW-Authenticate", `Basic realm="zenvia-7targets"`)
		}
		c.JSON(status, body)
	}
}
