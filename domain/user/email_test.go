package user_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"golang.org/x/text/unicode/norm"
)

// addrOfLen builds a valid-looking address of n bytes (n between 200 and
// 256) whose local part and labels are all within their own limits.
func addrOfLen(n int) string {
	head := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "."
	return head + strings.Repeat("d", n-len(head)-3) + ".io"
}

func TestParseEmailAccepts(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "alice@example.com", "alice@example.com"},
		{"trimmed", " \t alice@example.com \r\n", "alice@example.com"},
		{"lower-cased", "Alice.Smith@Example.COM", "alice.smith@example.com"},
		{"plus and subdomain", "a+tag@mail.example.co.uk", "a+tag@mail.example.co.uk"},
		{"NFC composed", "jose\u0301@example.com", "jos\u00e9@example.com"},
		{"NFC then lower", "JOSE\u0301@EXAMPLE.COM", "jos\u00e9@example.com"},
		{"unicode domain", "u@b\u00fccher.de", "u@b\u00fccher.de"},
		{"hyphen and digits in labels", "x@a-1.b2c.io", "x@a-1.b2c.io"},
		{"digits in tld with letter", "x@example.c0m", "x@example.c0m"},
		{"local part 64", strings.Repeat("a", 64) + "@x.io", strings.Repeat("a", 64) + "@x.io"},
		{"254 bytes", addrOfLen(254), addrOfLen(254)},
		{"255 bytes before NFC, 254 after", "e\u0301" + addrOfLen(254)[2:], "\u00e9" + addrOfLen(254)[2:]},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := user.ParseEmail(c.in)
			if err != nil {
				t.Fatalf("ParseEmail(%q): %v", c.in, err)
			}
			if e.String() != c.want {
				t.Fatalf("ParseEmail(%q) = %q, want %q", c.in, e.String(), c.want)
			}
			if e.IsZero() {
				t.Fatal("IsZero on a parsed address")
			}
			// Normalizing is idempotent.
			again, err := user.ParseEmail(e.String())
			if err != nil || again != e {
				t.Fatalf("re-parse of %q = %q, %v", e, again, err)
			}
		})
	}
	for _, n := range []int{254, 255} {
		if got := len(addrOfLen(n)); got != n {
			t.Fatalf("fixture is %d bytes, want %d", got, n)
		}
	}
}

func TestParseEmailRefuses(t *testing.T) {
	for _, c := range []struct{ name, in string }{
		{"empty", ""},
		{"blank", "   "},
		{"no at", "alice.example.com"},
		{"two ats", "a@b@example.com"},
		{"empty local", "@example.com"},
		{"empty domain", "alice@"},
		{"255 bytes", addrOfLen(255)},
		{"255 bytes after trimming and NFC", " " + addrOfLen(255) + " "},
		{"local part 65", strings.Repeat("a", 65) + "@x.io"},
		{"label 64", "a@" + strings.Repeat("b", 64) + ".io"},
		{"CR", "alice@example.com\rBcc: x@evil.io"},
		{"LF", "alice@example.com\nBcc: x@evil.io"},
		{"LF in local", "ali\nce@example.com"},
		{"CR in local", "ali\rce@example.com"},
		{"NUL", "alice\x00@example.com"},
		{"NUL in domain", "alice@exam\x00ple.com"},
		{"tab inside", "ali\tce@example.com"},
		{"space inside", "ali ce@example.com"},
		{"space in domain", "alice@exa mple.com"},
		{"display name", "Alice <alice@example.com>"},
		{"angle brackets", "<alice@example.com>"},
		{"quoted local", `"alice"@example.com`},
		{"quoted with at", `"a@b"@example.com`},
		{"comment", "alice(comment)@example.com"},
		{"comma list", "a@x.io,b@x.io"},
		{"semicolon", "a;b@x.io"},
		{"colon", "a:b@x.io"},
		{"backslash", `a\b@x.io`},
		{"bracketed IP", "alice@[127.0.0.1]"},
		{"IP literal", "alice@127.0.0.1"},
		{"numeric tld", "alice@example.123"},
		{"missing tld", "alice@localhost"},
		{"trailing dot domain", "alice@example.com."},
		{"leading dot domain", "alice@.example.com"},
		{"consecutive dots in domain", "alice@example..com"},
		{"consecutive dots in local", "al..ice@example.com"},
		{"leading dot local", ".alice@example.com"},
		{"trailing dot local", "alice.@example.com"},
		{"label starts with hyphen", "alice@-example.com"},
		{"label ends with hyphen", "alice@example-.com"},
		{"underscore in domain", "alice@ex_ample.com"},
		{"invalid UTF-8", "ali\xffce@example.com"},
		{"DEL", "ali\x7fce@example.com"},
		{"zero width space", "ali\u200bce@example.com"},
		{"unicode line separator", "alice@example.com\u2028x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := user.ParseEmail(c.in)
			if err == nil {
				t.Fatalf("ParseEmail(%q) = %q, want an error", c.in, e)
			}
			if !errors.Is(err, user.ErrInvalidEmail) {
				t.Fatalf("error %v is not ErrInvalidEmail", err)
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Field != "email" || de.Fields[0].Code != "invalid_email" {
				t.Fatalf("error %#v is not a 422 on field email", err)
			}
			if !e.IsZero() {
				t.Fatalf("a refused address returned %q", e)
			}
		})
	}
}

func TestLocalPart(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Alice@example.com", "alice"},
		{"a.b+c@x.io", "a.b+c"},
		{"x@y.io", "x"},
	} {
		e, err := user.ParseEmail(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.LocalPart(); got != c.want {
			t.Errorf("LocalPart(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if lp := (user.Email{}).LocalPart(); lp != "" {
		t.Errorf("zero LocalPart = %q", lp)
	}
	if !(user.Email{}).IsZero() {
		t.Error("zero Email not IsZero")
	}
	if r := user.RehydrateEmail("bob@x.io"); r.String() != "bob@x.io" || r.LocalPart() != "bob" {
		t.Errorf("RehydrateEmail = %q", r)
	}
}

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
