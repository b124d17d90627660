package seventargets_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/7targets/zenvia-sales-app/seventargets"
)

// echoToken is the access token the echoing server issues: long, so that an echo of it would
// be cut where the client truncates server text, and with characters query escaping changes.
var echoToken = "eyJhbGciOi.echo+token/" + strings.Repeat("x", 600)

// TestAPIErrorsNeverCarryTheToken: 7Targets, or a gateway in front of it, may echo the request
// in an error body, the bearer token included. What the client keeps of an error body ends up
// in logs, in a delivery's reason and on the report page, so it must never hold the token,
// whole or cut, however the body carries it and whatever the call.
func TestAPIErrorsNeverCarryTheToken(t *testing.T) {
	t.Parallel()
	bodies := []struct {
		name   string
		render func(auth string) string
	}{
		{"message", func(a string) string { return fmt.Sprintf(`{"message":"invalid header %s"}`, a) }},
		{"error description", func(a string) string { return fmt.Sprintf(`{"error":"x","error_description":"token %s rejected"}`, a) }},
		{"errors array", func(a string) string { return fmt.Sprintf(`{"errors":[{"message":"bad"},{"message":"%s"}]}`, a) }},
		{"plain text", func(a string) string { return "Unauthorized request: " + a }},
		{"query escaped", func(a string) string { return `{"message":"see /debug?auth=` + url.QueryEscape(a) + `"}` }},
		{"cut by the length limit", func(a string) string { return `{"message":"` + strings.Repeat("y", 480) + " " + a + `"}` }},
	}
	calls := map[string]func(context.Context, *seventargets.Client) error{
		"CreateLead": func(ctx context.Context, c *seventargets.Client) error {
			_, err := c.CreateLead(ctx, "k", testCreds, testLead(1))
			return err
		},
		"UpdateLead": func(ctx context.Context, c *seventargets.Client) error {
			_, err := c.UpdateLead(ctx, "k", testCreds, testLead(1))
			return err
		},
		"StopFollowup": func(ctx context.Context, c *seventargets.Client) error {
			_, err := c.StopFollowup(ctx, "k", testCreds, testLead(1))
			return err
		},
		"Assistants": func(ctx context.Context, c *seventargets.Client) error {
			_, err := c.Assistants(ctx, "k", testCreds, seventargets.AssistantQuery{})
			return err
		},
	}
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		for _, b := range bodies {
			for op, call := range calls {
				t.Run(fmt.Sprintf("%d %s %s", status, b.name, op), func(t *testing.T) {
					t.Parallel()
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.URL.Path == "/oauth2/token" {
							jsonError(w, http.StatusOK, `{"access_token":"`+echoToken+`","expires_in":3600,"token_type":"Bearer"}`)
							return
						}
						jsonError(w, status, b.render(r.Header.Get("Authorization")))
					}))
					defer srv.Close()
					c, err := seventargets.New(srv.URL, srv.URL+"/oauth2/token")
					if err != nil {
						t.Fatal(err)
					}
					err = call(t.Context(), c)
					var apiErr *seventargets.APIError
					if !errors.As(err, &apiErr) || apiErr.Status != status {
						t.Fatalf("err = %v, want an *APIError with status %d", err, status)
					}
					for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), apiErr.Message} {
						for _, form := range []string{echoToken[:16], url.QueryEscape(echoToken)[:16], echoToken[len(echoToken)-40:]} {
							if strings.Contains(s, form) {
								t.Fatalf("the error holds the access token: %.200s…", s)
							}
						}
					}
				})
			}
		}
	}
}
