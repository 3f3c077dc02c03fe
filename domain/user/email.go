package user

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxEmailBytes is the longest address accepted (RFC 5321 path limit).
const MaxEmailBytes = 254

// Email is a normalized address: trimmed, NFC, lower-cased. Uniqueness of
// users is on this form.
type Email struct{ v string }

// NormalizeEmailPrefix brings the start of an address to the stored form
// (trimmed, NFC, lower-cased), for prefix search.
func NormalizeEmailPrefix(raw string) string {
	return norm.NFC.String(strings.ToLower(norm.NFC.String(strings.TrimSpace(raw))))
}

// ParseEmail normalizes raw and checks that it is a plausible address. It
// refuses control characters (CR/LF header injection), whitespace inside,
// quoted or bracketed forms and display names.
func ParseEmail(raw string) (Email, error) {
	if !utf8.ValidString(raw) {
		return Email{}, ErrInvalidEmail
	}
	// NFC again after lower-casing: case mapping can produce sequences that
	// compose ("aH\u0331" lowers to h + U+0331, which NFC makes U+1E96).
	s := NormalizeEmailPrefix(raw)
	if len(s) == 0 || len(s) > MaxEmailBytes {
		return Email{}, ErrInvalidEmail
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.IndexByte(s, '@') != at {
		return Email{}, ErrInvalidEmail
	}
	local, domainPart := s[:at], s[at+1:]
	if !validLocal(local) || !validDomain(domainPart) {
		return Email{}, ErrInvalidEmail
	}
	return Email{v: s}, nil
}

func validLocal(l string) bool {
	if len(l) > 64 || l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return false
	}
	for _, r := range l {
		if unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return false
		}
	}
	return true
}

func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	// The top-level label is never all digits (that would be an IP literal).
	tld := labels[len(labels)-1]
	return strings.TrimFunc(tld, unicode.IsDigit) != ""
}

// String returns the normalized address.
func (e Email) String() string { return e.v }

// IsZero reports whether e is the zero value.
func (e Email) IsZero() bool { return e.v == "" }

// LocalPart is the part before the @.
func (e Email) LocalPart() string {
	if i := strings.LastIndexByte(e.v, '@'); i >= 0 {
		return e.v[:i]
	}
	return e.v
}

// Domain is the part after the @.
func (e Email) Domain() string {
	return e.v[strings.LastIndexByte(e.v, '@')+1:]
}

// RehydrateEmail rebuilds a stored, already normalized address. Storage
// adapters only.
func RehydrateEmail(normalized string) Email { return Email{v: normalized} }
