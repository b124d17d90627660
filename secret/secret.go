// Package secret seals small secrets (API keys, OAuth2 client secrets) for storage with
// AES-256-GCM under a keyring, so that a copy of the database alone reveals none of them.
//
// Every sealed value carries the id of the key that sealed it. New values are always sealed
// with the current key; values sealed with older keys stay readable as long as those keys are
// in the keyring, which is what makes key rotation possible without downtime.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length in bytes of an encryption key (AES-256).
const KeySize = 32

// ErrUnknownKey means a value was sealed with a key that is not in the keyring.
var ErrUnknownKey = errors.New("secret: sealed with a key not in the keyring")

// ErrCorrupt means a sealed value failed authentication: it was altered, truncated, or moved
// to another record than the one it was sealed for.
var ErrCorrupt = errors.New("secret: sealed value failed authentication")

// Sealed is an encrypted value and the id of the key that encrypted it.
type Sealed struct {
	KeyID      string
	Ciphertext []byte // nonce followed by the GCM ciphertext and tag
}

// Keyring holds the current key, used for sealing, and any number of older keys that are
// only used for opening.
type Keyring struct {
	currentID string
	aeads     map[string]cipher.AEAD
}

// ParseKey decodes a key given as standard or URL-safe base64 of exactly KeySize bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("must be base64 of %d bytes, got %d bytes", KeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("must be base64 of %d random bytes", KeySize)
}

// NewKey returns a fresh random key, base64 encoded as ParseKey expects it.
func NewKey() string {
	return base64.StdEncoding.EncodeToString(randomBytes(KeySize))
}

// KeyID derives a short, stable, non-secret id from a key. Deriving it (rather than asking
// operators to name keys) means the configuration stays a plain list of keys.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("zenvia-7targets key id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// NewKeyring returns a keyring that seals with current and opens with current or any of old.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: make(map[string]cipher.AEAD, 1+len(old))}
	for i, key := range append([][]byte{current}, old...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("secret.NewKeyring: key %d is %d bytes, want %d", i, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("secret.NewKeyring: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret.NewKeyring: %w", err)
		}
		id := KeyID(key)
		if i == 0 {
			k.currentID = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// CurrentKeyID returns the id of the key new values are sealed with.
func (k *Keyring) CurrentKeyID() string { return k.currentID }

// Seal encrypts plaintext with the current key. context binds the value to where it is stored
// (for example "instances/<id>/apiKey"): a ciphertext copied to another record or field does not
// open there.
func (k *Keyring) Seal(plaintext []byte, context string) Sealed {
	aead := k.aeads[k.currentID]
	nonce := randomBytes(aead.NonceSize())
	return Sealed{
		KeyID:      k.currentID,
		Ciphertext: aead.Seal(nonce, nonce, plaintext, []byte(context)),
	}
}

// Open decrypts s, sealed with any key of the keyring under the same context.
// It returns ErrUnknownKey or ErrCorrupt.
func (k *Keyring) Open(s Sealed, context string) ([]byte, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w (key id %q)", ErrUnknownKey, s.KeyID)
	}
	n := aead.NonceSize()
	if len(s.Ciphertext) < n+aead.Overhead() {
		return nil, ErrCorrupt
	}
	plain, err := aead.Open(nil, s.Ciphertext[:n], s.Ciphertext[n:], []byte(context))
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// RandomHex returns n random bytes as hex: ids, tokens and nonces that must not be guessed.
func RandomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+): it crashes the
	// program irrecoverably instead, which is the right outcome when there is no entropy.
	_, _ = rand.Read(b)
	return b
}
