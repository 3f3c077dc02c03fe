package user_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/domain/user"
	"golang.org/x/text/unicode/norm"
)

// FuzzParseEmail: ParseEmail never panics; an address it accepts is
// normalized for good (parsing its String again gives the same address),
// valid UTF-8, NFC, lower-case, at most 254 bytes, free of control
// characters and whitespace, with exactly one @.
func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{
		"a@example.com",
		"  Alice.Smith+tag@Example.COM ",
		"zoë@exämple.de",
		"zoe\u0308@example.com",     // decomposed: NFC composes it
		"ZOE\u0308@EXAMPLE.COM",     // upper-case and decomposed
		"\u0130stanbul@example.com", // İ: Go lower-cases it to a plain i
		"\u212a@example.com",        // Kelvin sign lower-cases to k
		"\u1e9e@example.com",        // capital sharp s
		"\u03a3\u03a3@example.gr",   // final sigma
		"aH\u0331@example.com",      // lower-casing makes h + U+0331, which composes
		"\u0130\u0300@example.com",  // İ + grave lowers to i + U+0300, which composes
		"a@xn--bcher-kva.example",
		"a@b.c",
		"a@b",
		"@example.com",
		"a@",
		"a@@example.com",
		"a@b@example.com",
		".a@example.com",
		"a.@example.com",
		"a..b@example.com",
		"a b@example.com",
		"a\r\nBcc: x@example.com",
		"a@example.com\r\n",
		"a\x00@example.com",
		"a\u0085@example.com",
		"a\u200b@example.com",
		"a\u00a0@example.com",
		"\u2028a@example.com",
		"\"quoted\"@example.com",
		"Name <a@example.com>",
		"a@[127.0.0.1]",
		"a@127.0.0.1",
		"a@-example.com",
		"a@example-.com",
		"a@example..com",
		"\xff@example.com",
		strings.Repeat("a", 64) + "@example.com",
		strings.Repeat("a", 65) + "@example.com",
		"a@" + strings.Repeat("b", 63) + ".com",
		"a@" + strings.Repeat("b", 64) + ".com",
		strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 60)+".", 3) + "com",
		strings.Repeat("\u00e9", 40) + "@example.com",
		"",
		" ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		e, err := user.ParseEmail(raw)
		if err != nil {
			if !e.IsZero() {
				t.Fatalf("error %v with a non-zero address %q", err, e)
			}
			return
		}
		s := e.String()
		if e.IsZero() || s == "" {
			t.Fatalf("ParseEmail(%q) accepted an empty address", raw)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("ParseEmail(%q) = %q: invalid UTF-8", raw, s)
		}
		if len(s) > user.MaxEmailBytes {
			t.Fatalf("ParseEmail(%q) = %q: %d bytes", raw, s, len(s))
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError {
				t.Fatalf("ParseEmail(%q) = %q: holds %U", raw, s, r)
			}
		}
		if strings.Count(s, "@") != 1 {
			t.Fatalf("ParseEmail(%q) = %q: not exactly one @", raw, s)
		}
		if local := e.LocalPart(); local == "" || strings.Contains(local, "@") {
			t.Fatalf("ParseEmail(%q): local part %q", raw, local)
		}
		again, err := user.ParseEmail(s)
		if err != nil {
			t.Fatalf("ParseEmail(%q) = %q, which does not parse again: %v", raw, s, err)
		}
		if again != e {
			t.Fatalf("not idempotent: ParseEmail(%q) = %q, ParseEmail(%q) = %q", raw, s, s, again.String())
		}
		if !norm.NFC.IsNormalString(s) {
			t.Fatalf("ParseEmail(%q) = %q is not NFC", raw, s)
		}
		if strings.ToLower(s) != s {
			t.Fatalf("ParseEmail(%q) = %q is not lower-case", raw, s)
		}
	})
}
