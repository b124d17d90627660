package extensions_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/7targets/zenvia-sales-app/extensions"
)

const base = "https://app.example.com"

var key = []byte("zenvia-signing-key")

// signed appends Sales' signature of the URL (full public URL or path only) as its last param.
func signed(pathAndQuery string, full bool) string {
	msg := pathAndQuery
	if full {
		msg = base + pathAndQuery
	}
	sep := "&"
	if !strings.Contains(pathAndQuery, "?") {
		sep = "?"
	}
	return pathAndQuery + sep + "signature=" + extensions.Sign(key, msg)
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	const page = "/extensions/reports/r?range=custom&start=2020-12-01&end=2020-12-31&group=507f191e810c19729de860ee&parentGroup=507f191e810c19729de860ef"
	good := signed(page, true)
	sig := good[strings.LastIndex(good, "=")+1:]
	tests := []struct {
		name string
		uri  string
		key  []byte
		ok   bool
	}{
		{name: "full public URL", uri: good, ok: true},
		{name: "path and query only", uri: signed(page, false), ok: true},
		{name: "signature first", uri: "/extensions/reports/r?signature=" + extensions.Sign(key, base+"/extensions/reports/r?a=1&b=2") + "&a=1&b=2", ok: true},
		{name: "signature in the middle", uri: "/extensions/reports/r?a=1&signature=" + extensions.Sign(key, "/extensions/reports/r?a=1&b=2") + "&b=2", ok: true},
		{name: "only the signature", uri: "/x?signature=" + extensions.Sign(key, "/x"), ok: true},
		{name: "percent-encoding kept byte for byte", uri: signed("/x?name=Jos%C3%A9+Mar%C3%ADa&e=a%40b.com", true), ok: true},
		{name: "re-encoded parameter", uri: strings.Replace(signed("/x?name=Jos%C3%A9", true), "%C3%A9", "%c3%a9", 1)},
		{name: "tampered parameter", uri: strings.Replace(good, "group=507f191e810c19729de860ee", "group=507f191e810c19729de860ff", 1)},
		{name: "added parameter", uri: good + "&admin=1"},
		{name: "reordered parameters", uri: strings.Replace(good, "range=custom&start=2020-12-01", "start=2020-12-01&range=custom", 1)},
		{name: "other path", uri: strings.Replace(good, "/reports/r", "/reports/s", 1)},
		{name: "missing signature", uri: page},
		{name: "empty signature", uri: page + "&signature="},
		{name: "two signatures", uri: good + "&signature=" + sig},
		{name: "not hex", uri: page + "&signature=zz" + sig[2:]},
		{name: "short", uri: page + "&signature=" + sig[:32]},
		{name: "wrong key", uri: good, key: []byte("other key")},
		{name: "no key configured", uri: good, key: []byte{}},
		{name: "no query", uri: "/extensions/reports/r"},
		// Sales signs what the prospect's name brings in: a second group must not verify.
		{name: "repeated parameter", uri: signed("/extensions/buttons/b?firstName=Eve&group=B&user=attacker&group=A", true)},
		{name: "repeated parameter, encoded", uri: signed("/extensions/buttons/b?group=A&gr%6Fup=B", false)},
		{name: "repeated empty parameter", uri: signed("/x?a=&a=", true)},
		{name: "empty pairs are no parameter", uri: signed("/x?a=1&&b=2&", true), ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := key
			if tt.key != nil {
				k = tt.key
			}
			err := extensions.VerifySignature(k, base, tt.uri)
			if tt.ok && err != nil {
				t.Fatalf("VerifySignature(%q) = %v, want ok", tt.uri, err)
			}
			if !tt.ok && !errors.Is(err, extensions.ErrBadSignature) {
				t.Fatalf("VerifySignature(%q) = %v, want ErrBadSignature", tt.uri, err)
			}
		})
	}
}

func TestVerifySignatureBaseURLTrailingSlash(t *testing.T) {
	t.Parallel()
	uri := signed("/x?a=1", true)
	if err := extensions.VerifySignature(key, base+"/", uri); err != nil {
		t.Fatalf("trailing slash on PUBLIC_BASE_URL broke verification: %v", err)
	}
}

func FuzzVerifySignature(f *testing.F) {
	f.Add(signed("/extensions/reports/r?range=last7&group=g", true))
	f.Add("/x?signature=")
	f.Add("/x?signature=00&signature=11")
	f.Add("?&&=&signature=" + strings.Repeat("a", 64))
	f.Add("")
	f.Add(signed("/extensions/buttons/b?firstName=Eve&group=B&user=attacker&group=A", true))
	f.Fuzz(func(t *testing.T, uri string) {
		err := extensions.VerifySignature(key, base, uri)
		if err != nil && !errors.Is(err, extensions.ErrBadSignature) {
			t.Fatalf("unexpected error kind %v", err)
		}
		// Whatever verifies gives the handlers one value per name.
		if _, query, _ := strings.Cut(uri, "?"); err == nil && repeatsName(query) {
			t.Fatalf("%q verifies but names a parameter twice", uri)
		}
		// Whatever verifies must stop verifying once any byte before the signature changes.
		if err == nil {
			i := strings.Index(uri, "?")
			if i > 0 {
				mutated := uri[:i-1] + string(rune(uri[i-1]^1)) + uri[i:]
				if extensions.VerifySignature(key, base, mutated) == nil {
					t.Fatalf("%q and %q both verify", uri, mutated)
				}
			}
		}
	})
}

// FuzzSignedURLRoundTrip signs an arbitrary path and query the way Sales does: the signed URL
// must verify, in either form, unless it names a parameter twice, and stop verifying once any
// byte of it changes.
func FuzzSignedURLRoundTrip(f *testing.F) {
	f.Add("/extensions/reports/r", "range=last7&group=g", true, uint(3))
	f.Add("/extensions/buttons/b", "prospectId=p%20q&lang=pt-BR", false, uint(40))
	f.Add("/x", "", true, uint(0))
	f.Add("/x", "a&&b=&=c", false, uint(5))
	f.Add("/extensions/buttons/b", "firstName=Eve&group=B&user=attacker&group=A", true, uint(9))
	f.Fuzz(func(t *testing.T, path, query string, full bool, at uint) {
		if strings.Contains(path, "?") || namesSignature(query) {
			t.Skip("the input already has a query or a signature parameter")
		}
		unsigned := path
		if query != "" {
			unsigned += "?" + query
		}
		msg := unsigned
		if full {
			msg = base + unsigned
		}
		sep := "?"
		if query != "" {
			sep = "&"
		}
		uri := unsigned + sep + extensions.SignatureParam + "=" + extensions.Sign(key, msg)
		err := extensions.VerifySignature(key, base, uri)
		switch {
		case repeatsName(query) && !errors.Is(err, extensions.ErrBadSignature):
			t.Fatalf("VerifySignature(%q) = %v: it names a parameter twice, want ErrBadSignature", uri, err)
		case !repeatsName(query) && err != nil:
			t.Fatalf("VerifySignature(%q) = %v for a URL signed over %q", uri, err, msg)
		}
		if len(unsigned) == 0 {
			return
		}
		i := int(at % uint(len(unsigned)))
		mutated := unsigned[:i] + string([]byte{unsigned[i] ^ 0x01}) + uri[i+1:]
		if err := extensions.VerifySignature(key, base, mutated); !errors.Is(err, extensions.ErrBadSignature) {
			t.Fatalf("byte %d of %q changed (%q) and it still verifies (err %v)", i, uri, mutated, err)
		}
	})
}

// repeatsName reports whether query gives a name more than one value, as the handlers read it.
func repeatsName(query string) bool {
	values, _ := url.ParseQuery(query)
	for _, vs := range values {
		if len(vs) > 1 {
			return true
		}
	}
	return false
}

func namesSignature(query string) bool {
	for p := range strings.SplitSeq(query, "&") {
		if name, _, _ := strings.Cut(p, "="); name == extensions.SignatureParam {
			return true
		}
	}
	return false
}
