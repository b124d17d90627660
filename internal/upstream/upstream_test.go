package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/7targets/zenvia-sales-app/internal/upstream"
)

func TestCleanMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{name: "plain", in: "name mandatory", limit: 100, want: "name mandatory"},
		{name: "lines and tabs", in: "bad\r\nthing\there", limit: 100, want: "bad thing here"},
		{name: "unicode spaces", in: "a\u00a0b\u2028c\u0085d\u3000e", limit: 100, want: "a b c d e"},
		{name: "runs of space collapse", in: "  a \n\n  b  ", limit: 100, want: "a b"},
		{name: "controls dropped", in: "bad\x00\x07thing\x1b[31m", limit: 100, want: "badthing[31m"},
		{name: "bidi override dropped", in: "abc\u202edef", limit: 100, want: "abcdef"},
		{name: "invalid UTF-8", in: "a\xffb\xc3", limit: 100, want: "a\uFFFDb\uFFFD"},
		{name: "at the limit", in: "abcdef", limit: 6, want: "abcdef"},
		{name: "cut with ellipsis", in: "abcdefgh", limit: 6, want: "abc…"},
		// "é" is two bytes: 7-3 = 4 bytes of text fit, two whole runes.
		{name: "cut on a rune boundary", in: "ééééé", limit: 7, want: "éé…"},
		// 8-3 = 5 bytes would split the third "é": it is left out whole.
		{name: "never splits a rune", in: "ééééé", limit: 8, want: "éé…"},
		{name: "four-byte runes", in: "😀😀😀", limit: 9, want: "😀…"},
		{name: "no room for the ellipsis", in: "abcdef", limit: 3, want: "abc"},
		{name: "no room for one rune", in: "😀😀", limit: 3, want: ""},
		{name: "zero limit", in: "abc", limit: 0, want: ""},
		{name: "negative limit", in: "abc", limit: -1, want: ""},
		{name: "empty", in: "", limit: 10, want: ""},
		{name: "only controls", in: "\x00\x01\n", limit: 10, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := upstream.CleanMessage(tt.in, tt.limit); got != tt.want {
				t.Errorf("CleanMessage(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
		})
	}
}

// FuzzCleanMessage checks the promises every caller relies on, whatever a server sends: valid
// UTF-8, one line of printable runes, within the limit, and a prefix of the whole cleaned text.
func FuzzCleanMessage(f *testing.F) {
	for _, s := range []string{
		"", "plain", "bad\nthing\x00", "a\xffb", "\xc3", "\xe2\x82", strings.Repeat("é", 400),
		strings.Repeat("😀", 200), strings.Repeat("\u202e", 50) + "x", "a\u00a0b\u2028c",
		strings.Repeat("ab\xf0\x9f", 100), "\r\n\t\v\f",
	} {
		f.Add(s, 300)
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit %= 2048 // any bound a client would pick; keeps the full text comparable below
		got := upstream.CleanMessage(s, limit)
		if !utf8.ValidString(got) {
			t.Fatalf("CleanMessage(%q, %d) = %q: not valid UTF-8", s, limit, got)
		}
		if len(got) > max(limit, 0) {
			t.Fatalf("CleanMessage(%q, %d) = %q: %d bytes, over the limit", s, limit, got, len(got))
		}
		for _, r := range got {
			if r != ' ' && (unicode.IsSpace(r) || !unicode.IsPrint(r)) {
				t.Fatalf("CleanMessage(%q, %d) = %q: holds %U", s, limit, got, r)
			}
		}
		full := upstream.CleanMessage(s, len(s)*3+3) // U+FFFD is 3 bytes: room for any s
		if got != full && !strings.HasPrefix(full, strings.TrimSuffix(got, "…")) {
			t.Fatalf("CleanMessage(%q, %d) = %q: not a prefix of %q", s, limit, got, full)
		}
	})
}

func TestRedact(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t+Value/with=odd chars"
	tests := []struct {
		name, in, secret, want string
	}{
		{name: "raw", in: "key " + secret + " refused", secret: secret, want: "key [redacted] refused"},
		{name: "query escaped", in: "GET /x?k=" + url.QueryEscape(secret), secret: secret, want: "GET /x?k=[redacted]"},
		{name: "path escaped", in: "GET /k/" + url.PathEscape(secret), secret: secret, want: "GET /k/[redacted]"},
		{name: "every occurrence", in: "abcdefgh abcdefgh", secret: "abcdefgh", want: "[redacted] [redacted]"},
		{name: "too short to be a secret", in: "t is a token", secret: "t", want: "t is a token"},
		{name: "one under the minimum", in: "abcdefg", secret: "abcdefg", want: "abcdefg"},
		{name: "empty secret", in: "text", secret: "", want: "text"},
		{name: "absent", in: "nothing here", secret: secret, want: "nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := upstream.Redact(tt.in, tt.secret); got != tt.want {
				t.Errorf("Redact(%q, %q) = %q, want %q", tt.in, tt.secret, got, tt.want)
			}
		})
	}
}

func TestSafeMessage(t *testing.T) {
	t.Parallel()
	const secret = "eyJhbGciOiJIUzI1NiJ9.payload"
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{name: "redacted and cleaned", in: "bad\ntoken " + secret, limit: 100, want: "bad token [redacted]"},
		// Cut first, a prefix of the secret would survive the redaction.
		{name: "not cut inside the secret", in: strings.Repeat("y", 20) + " " + secret, limit: 30, want: strings.Repeat("y", 20) + " [redac…"},
		{name: "joined by a dropped control", in: "token eyJhbGciOi\x00JIUzI1NiJ9.payload", limit: 100, want: "token [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := upstream.SafeMessage(tt.in, secret, tt.limit)
			if got != tt.want {
				t.Errorf("SafeMessage(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, secret[:10]) {
				t.Errorf("SafeMessage(%q) = %q holds a piece of the secret", tt.in, got)
			}
		})
	}
}

func TestRedactError(t *testing.T) {
	t.Parallel()
	const secret = "sk_live_0123456789"
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	cause := fmt.Errorf("calling https://api.example/x?api-key=%s: %w", secret, opErr)
	err := upstream.RedactError(cause, secret)
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("Error() = %q, want the secret redacted", err)
	}
	if s := fmt.Sprintf("%+v %#v", err, err); strings.Contains(s, secret) {
		t.Errorf("formatted error holds the secret: %s", s)
	}
	var got *net.OpError
	if !errors.As(err, &got) || got != opErr {
		t.Errorf("errors.As does not reach the *net.OpError through %v", err)
	}
	if !errors.Is(upstream.RedactError(fmt.Errorf("%s: %w", secret, context.DeadlineExceeded), secret), context.DeadlineExceeded) {
		t.Error("errors.Is does not reach context.DeadlineExceeded")
	}
	if plain := errors.New("no secret here"); upstream.RedactError(plain, secret) != plain {
		t.Error("an error without the secret is not returned as it is")
	}
	if upstream.RedactError(nil, secret) != nil {
		t.Error("RedactError(nil) is not nil")
	}
}

func TestRefuseRedirect(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer srv.Close()
	hc := &http.Client{CheckRedirect: upstream.RefuseRedirect}
	resp, err := hc.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target.URL {
		t.Errorf("got %d to %q, want the 302 itself", resp.StatusCode, resp.Header.Get("Location"))
	}
	if followed.Load() {
		t.Error("the redirect was followed")
	}
}
