package secret_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/7targets/zenvia-sales-app/secret"
)

func mustKeyring(tb testing.TB, keys ...string) *secret.Keyring {
	tb.Helper()
	var raw [][]byte
	for _, k := range keys {
		b, err := secret.ParseKey(k)
		if err != nil {
			tb.Fatalf("ParseKey: %v", err)
		}
		raw = append(raw, b)
	}
	k, err := secret.NewKeyring(raw[0], raw[1:]...)
	if err != nil {
		tb.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	oldKey, newKey, otherKey := secret.NewKey(), secret.NewKey(), secret.NewKey()
	old := mustKeyring(t, oldKey)
	rotated := mustKeyring(t, newKey, oldKey)
	other := mustKeyring(t, otherKey)

	sealedOld := old.Seal([]byte("s3cret"), "instances/a/apiKey")
	sealedNew := rotated.Seal([]byte("s3cret"), "instances/a/apiKey")
	tampered := sealedNew
	tampered.Ciphertext = bytes.Clone(sealedNew.Ciphertext)
	tampered.Ciphertext[len(tampered.Ciphertext)-1] ^= 1

	tests := []struct {
		name    string
		ring    *secret.Keyring
		sealed  secret.Sealed
		context string
		wantErr error
	}{
		{name: "same key", ring: old, sealed: sealedOld, context: "instances/a/apiKey"},
		{name: "old key after rotation", ring: rotated, sealed: sealedOld, context: "instances/a/apiKey"},
		{name: "new key", ring: rotated, sealed: sealedNew, context: "instances/a/apiKey"},
		{name: "new key unknown to old ring", ring: old, sealed: sealedNew, context: "instances/a/apiKey", wantErr: secret.ErrUnknownKey},
		{name: "foreign keyring", ring: other, sealed: sealedOld, context: "instances/a/apiKey", wantErr: secret.ErrUnknownKey},
		{name: "moved to another record", ring: rotated, sealed: sealedNew, context: "instances/b/apiKey", wantErr: secret.ErrCorrupt},
		{name: "tampered", ring: rotated, sealed: tampered, context: "instances/a/apiKey", wantErr: secret.ErrCorrupt},
		{name: "truncated", ring: rotated, sealed: secret.Sealed{KeyID: sealedNew.KeyID, Ciphertext: sealedNew.Ciphertext[:5]}, context: "instances/a/apiKey", wantErr: secret.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.ring.Open(tt.sealed, tt.context)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(got) != "s3cret" {
				t.Fatalf("Open = %q, want %q", got, "s3cret")
			}
		})
	}
	if sealedNew.KeyID != rotated.CurrentKeyID() || sealedNew.KeyID == sealedOld.KeyID {
		t.Fatalf("rotated keyring sealed with %q, want the new key %q", sealedNew.KeyID, rotated.CurrentKeyID())
	}
	if bytes.Contains(sealedNew.Ciphertext, []byte("s3cret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
}

func TestSealIsRandomized(t *testing.T) {
	t.Parallel()
	k := mustKeyring(t, secret.NewKey())
	a, b := k.Seal([]byte("x"), "c"), k.Seal([]byte("x"), "c")
	if bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("two seals of one value are equal: nonce reuse")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		valid bool
	}{
		{name: "generated", in: secret.NewKey(), valid: true},
		{name: "url-safe unpadded", in: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", valid: true},
		{name: "empty", in: ""},
		{name: "short", in: "c2hvcnQ="},
		{name: "not base64", in: "not base64 at all!!"},
		{name: "64 bytes", in: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := secret.ParseKey(tt.in)
			if (err == nil) != tt.valid {
				t.Fatalf("ParseKey(%q) error = %v, want valid=%v", tt.in, err, tt.valid)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	k := mustKeyring(f, secret.NewKey())
	good := k.Seal([]byte("value"), "ctx")
	f.Add(good.KeyID, good.Ciphertext, "ctx")
	f.Add("", []byte{}, "")
	f.Fuzz(func(t *testing.T, keyID string, ct []byte, context string) {
		// Must never panic, whatever the stored bytes are.
		_, _ = k.Open(secret.Sealed{KeyID: keyID, Ciphertext: ct}, context)
	})
}
