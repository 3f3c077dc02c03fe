package user

import (
	"slices"
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
	RulePasswordTooGuessable  = "password_too_guessable"
)

// MinPasswordGuesses is the fewest guesses a password may need: below 10^8
// (a zxcvbn score under 3) an unthrottled online attack, or a slow-hash
// offline attack on a stolen database, finds it quickly.
const MinPasswordGuesses = 1e8

// Weakness names a pattern that makes a password easy to guess.
type Weakness int

const (
	WeakRepeatedCharacter Weakness = iota + 1 // aaaaaaaaaaaaaaaa
	WeakRepeatedPattern                       // passwordpassword, abcabcabc
	WeakSequence                              // 1234567890123456, abcdefgh
	WeakKeyboardPattern                       // qwertyuiopasdfghjkl
	WeakCommonWord                            // common passwords, names and words
	WeakDate                                  // dates and years
	WeakPersonal                              // the account's own email address
)

// phrase says the weakness in plain words, after "it".
func (w Weakness) phrase() string {
	switch w {
	case WeakRepeatedCharacter:
		return "repeats one character"
	case WeakRepeatedPattern:
		return "repeats a word or a pattern"
	case WeakSequence:
		return "has a sequence such as 1234 or abcd"
	case WeakKeyboardPattern:
		return "has a keyboard pattern such as qwerty"
	case WeakCommonWord:
		return "is built from common passwords or words"
	case WeakDate:
		return "has a date or a year"
	case WeakPersonal:
		return "has your email address in it"
	}
	return ""
}

// GuessEstimate is how many guesses an attacker who knows the usual
// patterns needs for a password, and which patterns make it easy, the one
// covering most of the password first.
type GuessEstimate struct {
	Guesses    float64
	Weaknesses []Weakness
}

// tooGuessableMessage says why a password is too easy to guess.
func tooGuessableMessage(ws []Weakness) string {
	var parts []string
	for _, w := range ws {
		if ph := w.phrase(); ph != "" && !slices.Contains(parts, ph) {
			parts = append(parts, ph)
		}
	}
	const advice = " Use a few unrelated words, or a longer phrase."
	if len(parts) == 0 {
		return "The password is too easy to guess." + advice
	}
	return "The password is too easy to guess: it " + strings.Join(parts, " and ") + "." + advice
}

// EstimateInputs are the words of the account that a guesser would try
// first: the address, its local part and the local part's pieces.
func EstimateInputs(email Email) []string {
	if email.IsZero() {
		return nil
	}
	local := email.LocalPart()
	in := []string{email.String(), local}
	for _, piece := range strings.FieldsFunc(local, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if utf8.RuneCountInString(piece) >= minLocalPartRule && piece != local {
			in = append(in, piece)
		}
	}
	return in
}

// PasswordPolicy is the NIST SP 800-63B-4 rule set: length only, no
// composition rules, a blocklist of common passwords, no password that
// contains the account's own email local part, and none that an attacker
// guesses in fewer than MinPasswordGuesses tries.
type PasswordPolicy struct {
	MinLength int
	// IsCommon reports whether a lower-cased password is on the common list.
	IsCommon func(lower string) bool
	// Estimate rates a normalized password (at most MaxPasswordLength code
	// points) against the account's own words (EstimateInputs).
	Estimate func(password string, userInputs []string) GuessEstimate
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
	if p.Estimate != nil {
		if est := p.Estimate(pw.s, EstimateInputs(email)); est.Guesses < MinPasswordGuesses {
			return Password{}, domain.Validation(domain.FieldError{Field: field, Code: RulePasswordTooGuessable, Message: tooGuessableMessage(est.Weaknesses)})
		}
	}
	return pw, nil
}
