package extensions

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
)

// ErrBadSignature means an embed URL's signature is missing or does not match, or that the URL
// names a parameter more than once.
var ErrBadSignature = errors.New("bad signature")

// SignatureParam is the query parameter Sales adds with its signature.
const SignatureParam = "signature"

// VerifySignature checks Sales' signature of an embedded page request. requestURI is the
// request target exactly as sent (path and raw query, as http.Request.RequestURI has it).
// Sales signs the URL without its signature parameter, other parameters left byte for byte,
// with hex HMAC-SHA256 under signingKey; the signed URL may be the full public URL
// (publicBaseURL + path + query) or the path and query alone, so both are accepted.
//
// A URL that names any parameter more than once is refused, signed or not: Sales puts
// prospect-controlled values in the URLs it signs, so a name such as "Eve&group=B" would add a
// second group that the signature covers, and which of the two a reader takes is its own choice.
func VerifySignature(signingKey []byte, publicBaseURL, requestURI string) error {
	unsigned, sig, ok := stripSignature(requestURI)
	if !ok || len(signingKey) == 0 || repeatsName(requestURI) {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	full := sign(signingKey, strings.TrimRight(publicBaseURL, "/")+unsigned)
	pathOnly := sign(signingKey, unsigned)
	// Both comparisons always run, each in constant time.
	if subtle.ConstantTimeCompare(got, full)|subtle.ConstantTimeCompare(got, pathOnly) != 1 {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the signature Sales would add to url (the full URL or path and query, without
// a signature parameter). The sandbox and tests use it to make signed URLs.
func Sign(signingKey []byte, url string) string {
	return hex.EncodeToString(sign(signingKey, url))
}

func sign(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// stripSignature splits requestURI into the URI without its one signature parameter and that
// parameter's value. It fails when there is no signature or more than one: with two, which
// one Sales meant is ambiguous, so neither is trusted.
func stripSignature(requestURI string) (unsigned, sig string, ok bool) {
	path, query, hasQuery := strings.Cut(requestURI, "?")
	if !hasQuery {
		return "", "", false
	}
	params := strings.Split(query, "&")
	kept := params[:0:0]
	found := 0
	for _, p := range params {
		name, value, _ := strings.Cut(p, "=")
		if name == SignatureParam {
			found++
			sig = value
			continue
		}
		kept = append(kept, p)
	}
	if found != 1 {
		return "", "", false
	}
	if len(kept) == 0 {
		return path, sig, true
	}
	return path + "?" + strings.Join(kept, "&"), sig, true
}

// repeatsName reports whether requestURI's query names a parameter twice, as the handlers will
// read it: url.ParseQuery, the parser behind Request.URL.Query, so "group" and "gr%6Fup" are
// one name.
func repeatsName(requestURI string) bool {
	_, query, _ := strings.Cut(requestURI, "?")
	values, _ := url.ParseQuery(query) // a pair it cannot parse is one no handler sees
	for _, vs := range values {
		if len(vs) > 1 {
			return true
		}
	}
	return false
}
