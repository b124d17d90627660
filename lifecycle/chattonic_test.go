package lifecycle_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/chattonic/chattonicfake"
	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// TestUpdateSettingsChecksChatTonic checks the codename and token with the Chat-Tonic fake over
// HTTP when they change: a refused token and an unknown codename are 422 on their key, an
// unreachable Chat-Tonic is 502, and nothing is saved unless Chat-Tonic accepts them.
func TestUpdateSettingsChecksChatTonic(t *testing.T) {
	t.Parallel()
	fake := chattonicfake.New()
	t.Cleanup(fake.Close)
	if err := fake.Seed("acme", "ct-token-1"); err != nil {
		t.Fatal(err)
	}
	client, err := chattonic.New(fake.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		body      string
		down      bool
		wantField string // the key of the 422; "" for success
		wantErr   error
	}{
		{name: "accepted", body: `{"chatTonicCodename":"acme","chatTonicToken":"ct-token-1"}`},
		{name: "wrong token", body: `{"chatTonicCodename":"acme","chatTonicToken":"wrong"}`, wantField: "chatTonicToken"},
		{name: "unknown codename", body: `{"chatTonicCodename":"nobody","chatTonicToken":"ct-token-1"}`, wantField: "chatTonicCodename"},
		{name: "unreachable", body: `{"chatTonicCodename":"acme","chatTonicToken":"ct-token-1"}`, down: true, wantErr: zen7.ErrUpstream},
		{name: "codename alone is not checked", body: `{"chatTonicCodename":"nobody"}`},
		{name: "malformed codename", body: `{"chatTonicCodename":"../x","chatTonicToken":"ct-token-1"}`, wantField: "chatTonicCodename"},
		{name: "malformed funnels", body: `{"chatTonicFunnels":"/Sacar Tarjeta"}`, wantField: "chatTonicFunnels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the down case holds the shared fake down.
			e := newEnv(t)
			e.svc.SetChatTonic(lifecycle.ChatTonicAccounts(client))
			key := "key-" + strings.ReplaceAll(tt.name, " ", "-")
			e.install(t, key)
			fake.SetDown(tt.down)
			defer fake.SetDown(false)
			before := fake.Count(http.MethodGet, "/api/v1/acme/lead/funnels")

			p, perr := lifecycle.ParseSettingsPatch([]byte(tt.body))
			var got zen7.Settings
			if perr == nil {
				got, err = e.svc.UpdateSettings(context.Background(), key, p)
			} else {
				err = perr
			}
			stored := e.store.byKey(t, key).Settings
			var verr *zen7.ValidationError
			switch {
			case tt.wantField != "":
				if !errors.As(err, &verr) || verr.Fields[tt.wantField] == "" {
					t.Fatalf("UpdateSettings() error = %v, want a validation error on %s", err, tt.wantField)
				}
				if stored.ChatTonicCodename != "" || stored.ChatTonicToken != "" {
					t.Errorf("stored %q/%q after a refusal, want nothing saved", stored.ChatTonicCodename, stored.ChatTonicToken)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("UpdateSettings() error = %v, want %v", err, tt.wantErr)
				}
				if stored.ChatTonicToken != "" {
					t.Error("the token was saved though Chat-Tonic could not check it")
				}
			default:
				if err != nil {
					t.Fatalf("UpdateSettings() error = %v", err)
				}
				if got.ChatTonicCodename == "" {
					t.Errorf("ChatTonicCodename not saved: %+v", got)
				}
			}
			if err != nil && strings.Contains(err.Error(), "ct-token-1") {
				t.Errorf("error %q reveals the token", err)
			}
			if tt.name == "accepted" && fake.Count(http.MethodGet, "/api/v1/acme/lead/funnels") != before+1 {
				t.Errorf("funnels read %d times, want one check", fake.Count(http.MethodGet, "/api/v1/acme/lead/funnels")-before)
			}
		})
	}
}
