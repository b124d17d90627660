package extensions

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/secret"
)

// Errors of action tokens.
var (
	// ErrTokenInvalid means the token is malformed, forged, or bound to something else.
	ErrTokenInvalid = errors.New("invalid action token")
	// ErrTokenExpired means the token was valid but its time is up.
	ErrTokenExpired = errors.New("expired action token")
	// ErrTokenReplayed means the token was used already.
	ErrTokenReplayed = errors.New("action token already used")
)

// Action names what a page posts.
type Action string

// The actions.
const (
	ActionForward Action = "forward"
	ActionStop    Action = "stop"
	ActionRetry   Action = "retry"
)

// Claims is what an action token binds: who may do what to which prospect, until when.
type Claims struct {
	InstanceID string
	UserID     string
	ProspectID string // empty for a report's retry
	Action     Action
	DeliveryID string // for retry
	// Prospect is the digest of the prospect as the signed URL gave it (ProspectDigest), so a
	// page can post those values back without the browser being able to change them.
	Prospect string
	Expires  time.Time
	Nonce    string
}

// NonceStore remembers used token nonces until they expire, so each token works once.
type NonceStore interface {
	// UseNonce records nonce; it returns zen7.ErrConflict if it was recorded before.
	UseNonce(ctx context.Context, nonce string, expires time.Time) error
}

// Tokens issues and checks action tokens: HMAC-SHA256 over the claims, under a key derived
// from the signing key (so a token can never pass as an embed signature, or the reverse).
type Tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewTokens returns a token issuer valid for ttl (zero: 10 minutes).
func NewTokens(signingKey []byte, ttl time.Duration) *Tokens {
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	m := hmac.New(sha256.New, signingKey)
	m.Write([]byte("zenvia-7targets action tokens v1"))
	return &Tokens{key: m.Sum(nil), ttl: ttl, now: time.Now}
}

// fields separates claims in the signed payload; no claim may contain it.
const sep = "\x1f"

// payload is the signed form of the claims. A separator inside a claim is dropped, so no
// value can shift the fields; such a claim then never matches the request it is checked against.
func (c Claims) payload() string {
	fields := []string{tokenVersion, c.InstanceID, c.UserID, c.ProspectID, string(c.Action), c.DeliveryID,
		c.Prospect, strconv.FormatInt(c.Expires.Unix(), 10), c.Nonce}
	for i, f := range fields {
		fields[i] = strings.ReplaceAll(f, sep, "")
	}
	return strings.Join(fields, sep)
}

// tokenVersion starts every token's payload; v2 added the prospect's digest.
const tokenVersion = "v2"

// Issue returns a token for c, expiring after the issuer's ttl, or at c.Expires if that is set
// and sooner: a page drawn again after a refused action carries tokens that expire no later
// than the one posted, so no chain of refusals keeps a leaked page alive.
func (t *Tokens) Issue(c Claims) string {
	c.Nonce = secret.RandomHex(16)
	if limit := t.now().Add(t.ttl); c.Expires.IsZero() || c.Expires.After(limit) {
		c.Expires = limit
	}
	p := c.payload()
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(p))
	return base64.RawURLEncoding.EncodeToString([]byte(p)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// maxTokenLen bounds the work a posted token can cause.
const maxTokenLen = 2048

// Verify checks token and returns its claims. It returns ErrTokenInvalid for a malformed or
// forged token and ErrTokenExpired for one past its time; binding the claims to the request
// (action, prospect, delivery) is the caller's, as is using the nonce.
func (t *Tokens) Verify(token string) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, ErrTokenInvalid
	}
	p64, mac64, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, ErrTokenInvalid
	}
	p, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(mac64)
	if err1 != nil || err2 != nil {
		return Claims{}, ErrTokenInvalid
	}
	m := hmac.New(sha256.New, t.key)
	m.Write(p)
	if subtle.ConstantTimeCompare(mac, m.Sum(nil)) != 1 {
		return Claims{}, ErrTokenInvalid
	}
	f := strings.Split(string(p), sep)
	if len(f) != 9 || f[0] != tokenVersion {
		return Claims{}, ErrTokenInvalid
	}
	exp, err := strconv.ParseInt(f[7], 10, 64)
	if err != nil {
		return Claims{}, ErrTokenInvalid
	}
	c := Claims{InstanceID: f[1], UserID: f[2], ProspectID: f[3], Action: Action(f[4]), DeliveryID: f[5],
		Prospect: f[6], Expires: time.Unix(exp, 0), Nonce: f[8]}
	if !t.now().Before(c.Expires) {
		return Claims{}, ErrTokenExpired
	}
	return c, nil
}

// ProspectDigest is what a token binds of the prospect a signed URL named: its names, emails and
// phones as the page posts them back.
func ProspectDigest(pr view.ButtonProspect) string {
	h := sha256.New()
	for _, part := range [][]string{{pr.ID, pr.FirstName, pr.LastName}, pr.Emails, pr.Phones} {
		for _, v := range part {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
