package user

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/domain"
	"golang.org/x/text/unicode/norm"
)

// Password length bounds, in code points after NFKC.
const (
	MinPasswordFloor  = 8   // a configured minimum below this is refused at startup
	MaxPasswordLength = 128 // longer passwords are refused, never truncated
)

// Password is a plaintext password after NFKC normalization. It redacts
// itself when printed so that a careless log call cannot leak it.
type Password struct{ s string }

func (Password) String() string   { return "[redacted]" }
func (Password) GoString() string { return "[redacted]" }

// Reveal gives the normalized password to the hasher.
func (p Password) Reveal() string { return p.s }

// NormalizePassword applies NFKC and nothing else: no trimming, no
// truncation. Used when checking a password at login.
func NormalizePassword(raw string) Password { return Password{s: norm.NFKC.String(raw)} }

// minLocalPartRule is the shortest email local part that the
// "contains the email" rule looks for in a password.
const minLocalPartRule = 3

// Rule codes returned in field errors.
const (
	RulePasswordTooShort      = "password_too_short"
	RulePasswordTooLong       = "password_too_long"
	RulePasswordCommon        = "password_common"
	RulePasswordContainsEmail = "password_contains_email"
	RulePasswordInvalid       = "password_invalid_characters"
)

// PasswordPolicy is the NIST SP 800-63B-4 rule set: length only, no
// composition rules, a blocklist of common passwords, and no password that
// contains the account's own email local part.
type PasswordPolicy struct {
	MinLength int
	// IsCommon reports whether a lower-cased password is on the common list.
	IsCommon func(lower string) bool
}

// Check normalizes raw and applies the policy. field names the request field
// in the returned validation error.
func (p PasswordPolicy) Check(field, raw string, email Email) (Password, error) {
	if !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r == 0 || (unicode.IsControl(r) && r != '\t') }) {
		return Password{}, domain.Validation(domain.FieldError{Field: field, Code: RulePasswordInvalid, Message: "The password contains characters that are not allowed."})
	}
	pw := NormalizePassword(raw)
	n := utf8.RuneCountInString(pw.s)
	switch {
	case n < p.MinLength:
		return Password{}, domain.Validation(domain.FieldError{Field: field, Code: RulePasswordTooShort, Message: "The password is too short."})
	case n > MaxPasswordLength:
		return Password{}, domain.Validation(domain.FieldError{Field: field, Code: RulePasswordTooLong, Message: "The password is longer than 128 characters."})
	}
	lower := strings.ToLower(pw.s)
	if p.IsCommon != nil && p.IsCommon(lower) {
		return Password{}, domain.Validation(domain.FieldError{Field: field, Code: RulePasswordCommon, Message: "The password is too common."})
	}
	// A local part shorter than minLocalPartRule is not checked: "a@x.io"
	// would otherwise forbid every password with the letter a in it.
	if lp := email.LocalPart(); utf8.RuneCountInString(lp) >= minLocalPartRule && strings.Contains(lower, strings.ToLower(norm.NFKC.String(lp))) {
		return Password{}, domain.Validation(domain.FieldError{Field: field, Code: RulePasswordContainsEmail, Message: "The password must not contain the part of your email address before the @."})
	}
	return pw, nil
}
