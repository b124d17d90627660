package app

import (
	"encoding/json"
	"errors"
	"testing"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// FuzzDecodeHookBodies feeds the lifecycle hooks' JSON bodies (install, enable/disable, API key
// refresh) to the one decoder they share: whatever the bytes, it answers a decoded object, a
// 422 naming one field, or a 400, and never panics.
func FuzzDecodeHookBodies(f *testing.F) {
	for _, seed := range []string{
		`{"appId":"app","appSecret":"s","integration":{"apiKey":"k","enabled":true}}`,
		`{"appId":"app","appSecret":"s","integration":{"apiKey":"k"},"extra":[1,2]}`,
		`{"integration":{"enabled":"yes"}}`,
		`{"integration":[]}`,
		`{"enabled":false}`,
		`{"enabled":null}`,
		`{"enabled":1}`,
		`{"newApiKey":"k2"}`,
		`{"newApiKey":123}`,
		`{"newApiKey":"\ud800"}`,
		`{}{}`, `{} `, `[]`, `null`, `"x"`, ``, `{`, `{"a":1e999}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var enabled struct {
			Enabled *bool `json:"enabled"`
		}
		var refresh struct {
			NewAPIKey string `json:"newApiKey"`
		}
		for _, v := range []any{&installBody{}, &enabled, &refresh} {
			err := decodeObject(body, v)
			if err == nil {
				if !json.Valid(body) {
					t.Fatalf("decodeObject accepted invalid JSON %q", body)
				}
				continue
			}
			var verr *zen7.ValidationError
			switch {
			case errors.As(err, &verr):
				if len(verr.Fields) != 1 {
					t.Fatalf("decodeObject(%q) into %T: %d fields in %v, want 1", body, v, len(verr.Fields), err)
				}
			case errors.Is(err, errMalformed):
			default:
				t.Fatalf("decodeObject(%q) into %T = %v, want a ValidationError or errMalformed", body, v, err)
			}
		}
	})
}
