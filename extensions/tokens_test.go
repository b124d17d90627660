package extensions_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/extensions"
)

func TestActionTokens(t *testing.T) {
	t.Parallel()
	tokens := extensions.NewTokens([]byte("signing key"), time.Minute)
	claims := extensions.Claims{InstanceID: "inst1", UserID: "user1", ProspectID: "p1", Action: extensions.ActionForward}
	good := tokens.Issue(claims)
	short := extensions.NewTokens([]byte("signing key"), time.Nanosecond).Issue(claims)
	time.Sleep(time.Millisecond) // let the nanosecond token expire: a wait, not a speed assertion
	other := extensions.NewTokens([]byte("other key"), time.Minute).Issue(claims)
	payload, mac, _ := strings.Cut(good, ".")

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "valid", token: good},
		{name: "expired", token: short, wantErr: extensions.ErrTokenExpired},
		{name: "other key", token: other, wantErr: extensions.ErrTokenInvalid},
		{name: "empty", token: "", wantErr: extensions.ErrTokenInvalid},
		{name: "no mac", token: payload, wantErr: extensions.ErrTokenInvalid},
		{name: "mac of another token", token: payload + "." + strings.Split(other, ".")[1], wantErr: extensions.ErrTokenInvalid},
		{name: "flipped payload", token: "A" + payload[1:] + "." + mac, wantErr: extensions.ErrTokenInvalid},
		{name: "not base64", token: "!!!." + mac, wantErr: extensions.ErrTokenInvalid},
		{name: "huge", token: strings.Repeat("a", 5000) + "." + mac, wantErr: extensions.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tokens.Verify(tt.token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (got.InstanceID != "inst1" || got.UserID != "user1" || got.ProspectID != "p1" ||
				got.Action != extensions.ActionForward || got.Nonce == "" || !got.Expires.After(time.Now())) {
				t.Fatalf("claims = %+v", got)
			}
		})
	}
	if a, b := tokens.Issue(claims), tokens.Issue(claims); a == b {
		t.Fatal("two tokens for the same claims are equal: no nonce")
	}
}

func TestActionTokenSeparatorCannotShiftFields(t *testing.T) {
	t.Parallel()
	tokens := extensions.NewTokens([]byte("k"), time.Minute)
	c, err := tokens.Verify(tokens.Issue(extensions.Claims{InstanceID: "a\x1fb", UserID: "u"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.InstanceID != "ab" || c.UserID != "u" {
		t.Fatalf("claims = %+v: a separator in a value moved the fields", c)
	}
}

func FuzzVerifyActionToken(f *testing.F) {
	tokens := extensions.NewTokens([]byte("k"), time.Minute)
	f.Add(tokens.Issue(extensions.Claims{InstanceID: "i", Action: extensions.ActionStop}))
	f.Add("a.b")
	f.Add(".")
	f.Fuzz(func(t *testing.T, token string) {
		_, err := tokens.Verify(token)
		if err != nil && !errors.Is(err, extensions.ErrTokenInvalid) && !errors.Is(err, extensions.ErrTokenExpired) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
