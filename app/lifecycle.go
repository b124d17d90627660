package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// lifecycleHandlers serves the hooks Zenvia Sales calls (contract section 2).
type lifecycleHandlers struct {
	svc *lifecycle.Service
}

// apiKeyParam is the query parameter naming the instance, as in the Sales API itself.
const apiKeyParam = "api-key"

type installBody struct {
	AppID       string `json:"appId"`
	AppSecret   string `json:"appSecret"`
	Integration struct {
		APIKey  string `json:"apiKey"`
		Enabled *bool  `json:"enabled"`
	} `json:"integration"`
}

// install authenticates first: with Basic credentials before anything else, and without them
// by the body, where any failure to read them (not JSON, malformed, wrong types) is a 401 to a
// caller that has shown no credentials.
func (h lifecycleHandlers) install(c *gin.Context) {
	id, secret, hasBasic := c.Request.BasicAuth()
	if hasBasic {
		if err := h.svc.CheckApp(id, secret); err != nil {
			fail(c, err)
			return
		}
	}
	var body installBody
	err := checkJSONContentType(c)
	if err == nil {
		err = decodeJSON(c, &body)
	}
	if err != nil {
		if !hasBasic {
			err = zen7.ErrUnauthorized
		}
		fail(c, err)
		return
	}
	if !hasBasic {
		if err := h.svc.CheckApp(body.AppID, body.AppSecret); err != nil {
			fail(c, err)
			return
		}
	}
	created, err := h.svc.Install(c.Request.Context(), lifecycle.InstallRequest{
		APIKey: body.Integration.APIKey, Enabled: body.Integration.Enabled,
	})
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, gin.H{"success": true})
}

// authenticateApp checks the App credentials every hook but install carries as HTTP Basic.
func (h lifecycleHandlers) authenticateApp(c *gin.Context) {
	id, secret, ok := c.Request.BasicAuth()
	if !ok {
		fail(c, zen7.ErrUnauthorized)
		return
	}
	if err := h.svc.CheckApp(id, secret); err != nil {
		fail(c, err)
		return
	}
	c.Next()
}

func (h lifecycleHandlers) settingsForm(c *gin.Context) {
	form, err := h.svc.Form(c.Request.Context(), c.Query(apiKeyParam))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, form)
}

func (h lifecycleHandlers) readSettings(c *gin.Context) {
	s, err := h.svc.Settings(c.Request.Context(), c.Query(apiKeyParam))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.View())
}

func (h lifecycleHandlers) updateSettings(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		fail(c, err)
		return
	}
	patch, err := lifecycle.ParseSettingsPatch(body)
	if err != nil {
		fail(c, err)
		return
	}
	s, err := h.svc.UpdateSettings(c.Request.Context(), c.Query(apiKeyParam), patch)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.View())
}

func (h lifecycleHandlers) setEnabled(c *gin.Context) {
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decodeJSON(c, &body); err != nil {
		fail(c, err)
		return
	}
	if body.Enabled == nil {
		fail(c, &zen7.ValidationError{Fields: map[string]string{"enabled": "is required (true or false)"}})
		return
	}
	enabled, err := h.svc.SetEnabled(c.Request.Context(), c.Query(apiKeyParam), *body.Enabled)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"enabled": enabled})
}

func (h lifecycleHandlers) refreshAPIKey(c *gin.Context) {
	var body struct {
		NewAPIKey string `json:"newApiKey"`
	}
	if err := decodeJSON(c, &body); err != nil {
		fail(c, err)
		return
	}
	if err := h.svc.RefreshAPIKey(c.Request.Context(), c.Query(apiKeyParam), body.NewAPIKey); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true})
}

func (h lifecycleHandlers) uninstall(c *gin.Context) {
	if err := h.svc.Uninstall(c.Request.Context(), c.Query(apiKeyParam)); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true})
}

// readBody reads the whole (size-limited) body.
func readBody(c *gin.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return b, nil
}

// decodeJSON reads one JSON object into v. A value of the wrong type is a 422 naming the
// field; anything else that is not one JSON object is a 400. Unknown fields are ignored:
// Sales may add some.
func decodeJSON(c *gin.Context, v any) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeObject(b, v)
}

// decodeObject is decodeJSON's parser, apart from the request so it can be fuzzed.
func decodeObject(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return &zen7.ValidationError{Fields: map[string]string{typeErr.Field: "must be a JSON " + jsonKind(typeErr.Type.Kind().String())}}
		}
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data", errMalformed)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "bool", "ptr":
		return "boolean"
	case "string":
		return "string"
	case "struct", "map":
		return "object"
	default:
		return goKind
	}
}
