package zen7

import (
	"net/mail"
	"strings"
	"unicode"
)

// MaxEmailLen is the longest address SMTP allows (RFC 5321 with RFC 3696 erratum).
const MaxEmailLen = 254

// BareEmail lowercases and trims s and reports whether it is a bare address: one that net/mail
// parses back to itself, without a display name, angle brackets or comments. Unlike net/mail
// it also refuses white space and invisible characters anywhere (net/mail takes a no-break
// space inside the local part), since 7Targets would write to a different address. It is the
// App's one rule for an email address, wherever one comes from.
func BareEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > MaxEmailLen || strings.IndexFunc(s, invisible) >= 0 {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	return s, true
}

func invisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}
