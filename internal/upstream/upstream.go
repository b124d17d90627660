// Package upstream holds the conventions shared by the clients of outside APIs: sales,
// seventargets, and the coming chattonic client. What a server says ends up in logs, in a
// delivery's reason and on the report page, so every client keeps server text the same way
// (CleanMessage), keeps its secret out of it the same way (Redact, SafeMessage, RedactError),
// and refuses redirects the same way (RefuseRedirect). One home keeps them from drifting.
package upstream

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ellipsis marks text CleanMessage cut.
const ellipsis = "…"

// CleanMessage makes server text safe to keep and show: one line, printable, valid UTF-8, at
// most limit bytes. Invalid bytes become U+FFFD, every kind of space or line break one space,
// other unprintable runes (controls, bidi overrides) are dropped, and text longer than limit is
// cut on a rune boundary and ends with "…". A limit below 1 yields "".
func CleanMessage(s string, limit int) string {
	return truncate(normalize(s), limit)
}

// normalize is CleanMessage without the cut.
func normalize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			// A space, not nothing, so that words a line break or a no-break space kept apart
			// stay apart.
			return ' '
		case !unicode.IsPrint(r):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// truncate cuts valid UTF-8 s to at most limit bytes on a rune boundary, marking the cut with
// the ellipsis when there is room for it.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	if limit <= 0 {
		return ""
	}
	mark := ellipsis
	if limit < len(mark)+1 {
		mark = "" // no room for text and mark: the text is worth more
	}
	cut := limit - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// MinSecretLen is the shortest secret Redact removes: shorter strings are no real secret (test
// keys such as "k1", a test server's token "t") and replacing them would turn every such
// letter of a message into [redacted].
const MinSecretLen = 8

// redactedMark replaces a secret.
const redactedMark = "[redacted]"

// Redact removes secret from s in every form an HTTP stack may print it: as it is, query
// escaped (how it travels in a URL's query, "+" for a space) and path escaped ("%20"), in case a
// server, a proxy or an error echoes the request. A secret shorter than MinSecretLen is left
// alone.
func Redact(s, secret string) string {
	if len(secret) < MinSecretLen {
		return s
	}
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	// Longest first, so that no form is spoiled by replacing a shorter one inside it first.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, form := range slices.Compact(forms) {
		s = strings.ReplaceAll(s, form, redactedMark)
	}
	return s
}

// SafeMessage is CleanMessage of s with secret redacted. It redacts before cleaning, since
// cleaning could cut a secret and leave a piece of it that no longer matches, and again after,
// since dropping unprintable runes could join the pieces of one; only then it cuts.
func SafeMessage(s, secret string, limit int) string {
	return truncate(Redact(normalize(Redact(s, secret)), secret), limit)
}

// RedactError returns err with secret redacted from its text, as Redact does. The result still
// unwraps to err, so errors.Is and errors.As reach the cause (context.DeadlineExceeded, a
// *net.OpError); but printing it, as a log line or an error chain does, shows only the
// redacted text. When the text holds no secret, err itself is returned.
func RedactError(err error, secret string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if r := Redact(msg, secret); r != msg {
		return &redactedError{msg: r, err: err}
	}
	return err
}

// redactedError keeps an underlying error reachable while its text, computed once, is free of
// the secret. It holds no copy of the secret.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// RefuseRedirect is the CheckRedirect of every client's default http.Client: it makes the client
// return a 3xx as the response instead of following it. An API does not redirect its calls;
// following one would turn a POST into a GET for 301, 302 and 303, silently dropping its body,
// and would send the call, its credentials with it on the same domain, where the configuration
// never said. The client then classifies the 3xx like any other status it did not expect.
func RefuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
