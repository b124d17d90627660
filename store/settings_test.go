package store_test

import (
	zen7 "github.com/7targets/zenvia-sales-app"

	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// legacySealed and legacySettings are the settings layout as the store wrote it from a
// hand-written struct (before the settings were described once, in zen7.SettingKeys). Existing
// databases hold documents like these, so the store must keep reading them and keep writing
// what an older replica, still running during a rollout, reads.
type legacySealed struct {
	KeyID string `bson:"kid"`
	Data  []byte `bson:"ct"`
}

type legacySettings struct {
	ClientID            string        `bson:"clientId"`
	ClientSecret        *legacySealed `bson:"clientSecret,omitempty"`
	UserIdentifier      string        `bson:"userIdentifier"`
	AssistantEmail      string        `bson:"assistantEmail"`
	ScheduleName        string        `bson:"scheduleName"`
	Source              string        `bson:"source"`
	AutoForward         bool          `bson:"autoForward"`
	StopFollowupOnClaim bool          `bson:"stopFollowupOnClaim"`
}

// legacyKeys are the keys of legacySettings in the order the driver wrote them.
func legacyKeys(withSecret bool) []string {
	keys := []string{"clientId", "clientSecret", "userIdentifier", "assistantEmail", "scheduleName", "source", "autoForward", "stopFollowupOnClaim"}
	if !withSecret {
		return slices.Delete(keys, 1, 2) // omitempty: no secret, no key
	}
	return keys
}

// settingsAddedSince are the keys of settings added after the legacy layout, in the order the
// store writes them (a reader of the legacy layout ignores them).
var settingsAddedSince = []string{"routingRules", "excludeEmails", "backfillDays",
	"chatTonicCodename", "chatTonicFunnels", "chatTonicCompletedOnly", "chatTonicBackfillDays"}

func legacySecretContext(id string) string { return "instances/" + id + "/settings.clientSecret" }

func compatSettings() []struct {
	name string
	s    zen7.Settings
} {
	return []struct {
		name string
		s    zen7.Settings
	}{
		{name: "configured", s: zen7.Settings{
			ClientID: "client-1", ClientSecret: "very-secret", UserIdentifier: "user-1",
			AssistantEmail: "ava@example.com", ScheduleName: "Secuencia de otoño", Source: "Web",
			AutoForward: true, StopFollowupOnClaim: false,
		}},
		{name: "defaults, no secret", s: zen7.DefaultSettings()},
		{name: "everything off and empty", s: zen7.Settings{}},
	}
}

// TestSettingsReadFromLegacyLayout writes settings in the old struct layout straight into the
// collection and reads them back through the store.
func TestSettingsReadFromLegacyLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	keys := storetest.NewKeyring(t)
	s := store.NewInstances(db, keys)
	for i, tt := range compatSettings() {
		t.Run(tt.name, func(t *testing.T) {
			id, apiKey := fmt.Sprintf("legacy-read-%d", i), fmt.Sprintf("key-legacy-read-%d", i)
			mustCreate(t, s, newInstance(id, apiKey))
			legacy := legacySettings{
				ClientID: tt.s.ClientID, UserIdentifier: tt.s.UserIdentifier, AssistantEmail: tt.s.AssistantEmail,
				ScheduleName: tt.s.ScheduleName, Source: tt.s.Source,
				AutoForward: tt.s.AutoForward, StopFollowupOnClaim: tt.s.StopFollowupOnClaim,
			}
			if tt.s.ClientSecret != "" {
				sealed := keys.Seal([]byte(tt.s.ClientSecret), legacySecretContext(id))
				legacy.ClientSecret = &legacySealed{KeyID: sealed.KeyID, Data: sealed.Ciphertext}
			}
			_, err := db.Collection("instances").UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "settings", Value: legacy}}}})
			if err != nil {
				t.Fatal(err)
			}
			for name, read := range map[string]func() (zen7.Instance, error){
				"InstanceByAPIKey": func() (zen7.Instance, error) { return s.InstanceByAPIKey(ctx, apiKey) },
				"Instance":         func() (zen7.Instance, error) { return s.Instance(ctx, id) },
			} {
				got, err := read()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff := cmp.Diff(tt.s, got.Settings); diff != "" {
					t.Errorf("%s: settings read from the legacy layout (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

// TestSettingsWrittenInLegacyLayout writes settings through the store and decodes the stored
// document with the old struct: same keys, same order, same types, the secret sealed under the
// same context.
func TestSettingsWrittenInLegacyLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	keys := storetest.NewKeyring(t)
	s := store.NewInstances(db, keys)
	for i, tt := range compatSettings() {
		t.Run(tt.name, func(t *testing.T) {
			id, apiKey := fmt.Sprintf("legacy-write-%d", i), fmt.Sprintf("key-legacy-write-%d", i)
			in := newInstance(id, apiKey)
			mustCreate(t, s, in)
			if _, err := s.ReplaceSettings(ctx, id, apiKey, in.Version, tt.s, time.Now()); err != nil {
				t.Fatal(err)
			}
			stored := rawSettings(t, db, id)
			elems, err := stored.Elements()
			if err != nil {
				t.Fatal(err)
			}
			var gotKeys []string
			for _, e := range elems {
				gotKeys = append(gotKeys, e.Key())
			}
			// The old layout's keys keep its order; the settings added since are the others.
			legacyOrder := legacyKeys(tt.s.ClientSecret != "")
			var gotLegacy, gotAdded []string
			for _, k := range gotKeys {
				if slices.Contains(legacyOrder, k) {
					gotLegacy = append(gotLegacy, k)
				} else {
					gotAdded = append(gotAdded, k)
				}
			}
			if diff := cmp.Diff(legacyOrder, gotLegacy); diff != "" {
				t.Errorf("stored legacy settings keys (-legacy +got):\n%s", diff)
			}
			if diff := cmp.Diff(settingsAddedSince, gotAdded); diff != "" {
				t.Errorf("stored settings keys added since the legacy layout (-want +got):\n%s", diff)
			}
			var legacy legacySettings
			if err := bson.Unmarshal(stored, &legacy); err != nil {
				t.Fatalf("the stored settings do not decode into the legacy layout: %v", err)
			}
			got := zen7.Settings{
				ClientID: legacy.ClientID, UserIdentifier: legacy.UserIdentifier, AssistantEmail: legacy.AssistantEmail,
				ScheduleName: legacy.ScheduleName, Source: legacy.Source,
				AutoForward: legacy.AutoForward, StopFollowupOnClaim: legacy.StopFollowupOnClaim,
			}
			if legacy.ClientSecret != nil {
				plain, err := keys.Open(secret.Sealed{KeyID: legacy.ClientSecret.KeyID, Ciphertext: legacy.ClientSecret.Data}, legacySecretContext(id))
				if err != nil {
					t.Fatalf("opening the stored secret with the legacy context: %v", err)
				}
				got.ClientSecret = string(plain)
			}
			if diff := cmp.Diff(tt.s, got); diff != "" {
				t.Errorf("settings decoded with the legacy layout (-want +got):\n%s", diff)
			}
		})
	}
}

// storeSample is a value of the setting other than its default.
func storeSample(k zen7.SettingKey) any {
	switch k.Kind() {
	case zen7.SettingBool:
		return !k.Default().(bool)
	case zen7.SettingNumber:
		return k.Max
	}
	return "stored-value-of-" + k.Name
}

// TestEverySettingKeyIsStored checks that each entry of zen7.SettingKeys is written under its
// name, sealed if secret, reads back, and, if secret, is wiped on uninstall and sealed again
// by Rekey, so that a new entry cannot be half-wired in the store.
func TestEverySettingKeyIsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	oldKey, newKey := mustKey(t), mustKey(t)
	oldRing, _ := secret.NewKeyring(oldKey)
	s := store.NewInstances(db, oldRing)
	for i, k := range zen7.SettingKeys() {
		t.Run(k.Name, func(t *testing.T) {
			id, apiKey := fmt.Sprintf("wired-%d", i), fmt.Sprintf("key-wired-%d", i)
			in := newInstance(id, apiKey)
			in.Settings = zen7.DefaultSettings()
			sample := storeSample(k)
			switch v := sample.(type) {
			case string:
				*k.Text(&in.Settings) = v
			case bool:
				*k.Bool(&in.Settings) = v
			case int:
				*k.Number(&in.Settings) = v
			}
			mustCreate(t, s, in)

			settings := rawSettings(t, db, id)
			v, err := settings.LookupErr(k.Name)
			if err != nil {
				t.Fatalf("the stored settings have no %q: %v", k.Name, err)
			}
			if k.Secret {
				sealed, ok := v.DocumentOK()
				if !ok || sealed.Lookup("kid").StringValue() != secret.KeyID(oldKey) || len(sealed.Lookup("ct").Value) == 0 {
					t.Fatalf("secret %q at rest = %v, want {kid, ct}", k.Name, v)
				}
				if strings.Contains(settings.String(), sample.(string)) {
					t.Fatalf("secret %q is stored in plaintext: %v", k.Name, settings)
				}
			} else {
				var stored any
				err := v.Unmarshal(&stored)
				if n, ok := v.AsInt64OK(); ok && k.Kind() == zen7.SettingNumber {
					stored = int(n) // stored as a BSON int32 or int64, read back as the int it is
				}
				if err != nil || stored != sample {
					t.Fatalf("stored %q = %#v (%v), want %#v", k.Name, stored, err, sample)
				}
			}
			got, err := s.Instance(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(in.Settings, got.Settings); diff != "" {
				t.Errorf("settings read back (-want +got):\n%s", diff)
			}
		})
	}

	// The secrets are sealed again under a new key, then wiped on uninstall.
	rotated, _ := secret.NewKeyring(newKey, oldKey)
	s = store.NewInstances(db, rotated)
	if _, err := s.Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	for i, k := range zen7.SettingKeys() {
		if !k.Secret {
			continue
		}
		id, apiKey := fmt.Sprintf("wired-%d", i), fmt.Sprintf("key-wired-%d", i)
		if kid := rawSettings(t, db, id).Lookup(k.Name, "kid").StringValue(); kid != secret.KeyID(newKey) {
			t.Errorf("after Rekey, secret %q is sealed with %q, want the new key", k.Name, kid)
		}
		newOnly, _ := secret.NewKeyring(newKey)
		if got, err := store.NewInstances(db, newOnly).Instance(ctx, id); err != nil || k.Value(got.Settings) != storeSample(k) {
			t.Errorf("after Rekey, with the new key only: %q = %#v, %v", k.Name, k.Value(got.Settings), err)
		}
		if _, err := s.Uninstall(ctx, id, apiKey, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := rawSettings(t, db, id).LookupErr(k.Name); err == nil {
			t.Errorf("uninstall left secret %q stored", k.Name)
		}
	}
}

// rawSettings returns the settings document of instance id as stored.
func rawSettings(tb testing.TB, db *store.DB, id string) bson.Raw {
	tb.Helper()
	var raw struct {
		Settings bson.Raw `bson:"settings"`
	}
	if err := db.Collection("instances").FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&raw); err != nil {
		tb.Fatal(err)
	}
	return raw.Settings
}
