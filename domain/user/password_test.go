package user_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

func mustEmail(t *testing.T, s string) user.Email {
	t.Helper()
	e, err := user.ParseEmail(s)
	if err != nil {
		t.Fatalf("ParseEmail(%q): %v", s, err)
	}
	return e
}

func TestPasswordPolicyCheck(t *testing.T) {
	common := map[string]bool{"correcthorsebatterystaple": true, "passwordpassword1": true}
	var seen []string
	p := user.PasswordPolicy{MinLength: 15, IsCommon: func(lower string) bool {
		seen = append(seen, lower)
		return common[lower]
	}}
	alice := mustEmail(t, "Alice.Smith@example.com")

	for _, c := range []struct {
		name  string
		raw   string
		email user.Email
		rule  string // "" = accepted
		want  string // normalized password when accepted
	}{
		{"15 ascii", "abcdefghijklmno", alice, "", "abcdefghijklmno"},
		{"14 ascii", "abcdefghijklmn", alice, user.RulePasswordTooShort, ""},
		{"15 fullwidth normalize to ascii", strings.Repeat("\uff41", 15), alice, "", strings.Repeat("a", 15)},
		{"14 fullwidth", strings.Repeat("\uff41", 14), alice, user.RulePasswordTooShort, ""},
		{"15 code points, 45 bytes", strings.Repeat("\u732b", 15), alice, "", strings.Repeat("\u732b", 15)},
		{"14 code points, 42 bytes", strings.Repeat("\u732b", 14), alice, user.RulePasswordTooShort, ""},
		{"ligature expands under NFKC", strings.Repeat("\ufb01", 8), alice, "", strings.Repeat("fi", 8)},
		{"combining sequence composes", strings.Repeat("e\u0301", 14), alice, user.RulePasswordTooShort, ""},
		{"exactly 128", strings.Repeat("x", 128), alice, "", strings.Repeat("x", 128)},
		{"129", strings.Repeat("x", 129), alice, user.RulePasswordTooLong, ""},
		{"128 fullwidth", strings.Repeat("\uff58", 128), alice, "", strings.Repeat("x", 128)},
		{"spaces kept, not trimmed", "  correct horse battery  ", alice, "", "  correct horse battery  "},
		{"tab allowed", "correct\thorse battery", alice, "", "correct\thorse battery"},
		{"common", "correcthorsebatterystaple", alice, user.RulePasswordCommon, ""},
		{"common, case-insensitive", "CorrectHorseBatteryStaple", alice, user.RulePasswordCommon, ""},
		{"common, after NFKC", "\uff43orrecthorsebatterystaple", alice, user.RulePasswordCommon, ""},
		{"contains local part", "my name is alice.smith ok", alice, user.RulePasswordContainsEmail, ""},
		{"contains local part, other case", "xxALICE.SMITHxxxxxxx", alice, user.RulePasswordContainsEmail, ""},
		{"contains local part, fullwidth", "xx\uff21lice.smithxxxxxxx", alice, user.RulePasswordContainsEmail, ""},
		{"domain is fine", "example.com is my home", alice, "", "example.com is my home"},
		{"zero email skips local-part rule", "alice.smith-and-more", user.Email{}, "", "alice.smith-and-more"},
		{"NUL", "correct horse\x00battery", alice, user.RulePasswordInvalid, ""},
		{"LF", "correct horse\nbattery", alice, user.RulePasswordInvalid, ""},
		{"CR", "correct horse\rbattery", alice, user.RulePasswordInvalid, ""},
		{"ESC", "correct horse\x1bbattery", alice, user.RulePasswordInvalid, ""},
		{"C1 control", "correct horse\u0085battery", alice, user.RulePasswordInvalid, ""},
		{"invalid UTF-8", "correct horse\xffbattery", alice, user.RulePasswordInvalid, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			pw, err := p.Check("new_password", c.raw, c.email)
			if c.rule == "" {
				if err != nil {
					t.Fatalf("Check(%q): %v", c.raw, err)
				}
				if pw.Reveal() != c.want {
					t.Fatalf("Check(%q) = %q, want %q", c.raw, pw.Reveal(), c.want)
				}
				return
			}
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("Check(%q) = %v, want a *domain.Error with rule %s", c.raw, err, c.rule)
			}
			if de.Kind != domain.KindValidation || de.Code != "validation_failed" {
				t.Fatalf("kind %v code %q", de.Kind, de.Code)
			}
			if len(de.Fields) != 1 || de.Fields[0].Field != "new_password" || de.Fields[0].Code != c.rule {
				t.Fatalf("fields %+v, want new_password/%s", de.Fields, c.rule)
			}
			if de.Fields[0].Message == "" {
				t.Fatal("no message")
			}
			// The message names the rule that fired: the part before the
			// @, not "the email address" (the domain is allowed).
			if c.rule == user.RulePasswordContainsEmail && !strings.Contains(de.Fields[0].Message, "part of your email address before the @") {
				t.Errorf("message %q does not say it is the email's local part", de.Fields[0].Message)
			}
			if pw.Reveal() != "" {
				t.Fatal("a refused password was returned")
			}
		})
	}
	// The blocklist is asked with the lower-cased NFKC form.
	for _, s := range seen {
		if s != strings.ToLower(s) {
			t.Errorf("IsCommon called with %q, not lower-cased", s)
		}
	}
}

func TestPasswordPolicyFieldName(t *testing.T) {
	p := user.PasswordPolicy{MinLength: 15}
	_, err := p.Check("password", "short", mustEmail(t, "a@x.io"))
	var de *domain.Error
	if !errors.As(err, &de) || de.Fields[0].Field != "password" {
		t.Fatalf("field = %+v", err)
	}
}

func TestPasswordPolicyNilBlocklist(t *testing.T) {
	p := user.PasswordPolicy{MinLength: 8}
	if _, err := p.Check("password", "passwordpassword", mustEmail(t, "bob@x.io")); err != nil {
		t.Fatalf("nil IsCommon must not refuse: %v", err)
	}
}

func TestPasswordPolicyOrderShortBeforeCommon(t *testing.T) {
	called := false
	p := user.PasswordPolicy{MinLength: 15, IsCommon: func(string) bool { called = true; return true }}
	_, err := p.Check("password", "short", mustEmail(t, "bob@x.io"))
	var de *domain.Error
	if !errors.As(err, &de) || de.Fields[0].Code != user.RulePasswordTooShort {
		t.Fatalf("err %v", err)
	}
	if called {
		t.Fatal("blocklist consulted for a password refused on length")
	}
}

func TestPasswordRedacts(t *testing.T) {
	pw := user.NormalizePassword("hunter2-hunter2-hunter2")
	for _, f := range []string{"%v", "%s", "%#v", "%+v", "%q"} {
		if out := fmt.Sprintf(f, pw); strings.Contains(out, "hunter2") {
			t.Errorf("%s leaks: %s", f, out)
		}
	}
	type wrapper struct{ P user.Password }
	if out := fmt.Sprintf("%+v %#v", wrapper{pw}, &wrapper{pw}); strings.Contains(out, "hunter2") {
		t.Errorf("nested leaks: %s", out)
	}
	if pw.String() != "[redacted]" || pw.GoString() != "[redacted]" {
		t.Error("not [redacted]")
	}
	if pw.Reveal() != "hunter2-hunter2-hunter2" {
		t.Error("Reveal lost the value")
	}
}

func TestNormalizePasswordNFKCOnly(t *testing.T) {
	if got := user.NormalizePassword("  \uff21b\u00c5  ").Reveal(); got != "  Ab\u00c5  " {
		t.Fatalf("NormalizePassword = %q", got)
	}
	if got := user.NormalizePassword("A\u030a").Reveal(); got != "\u00c5" {
		t.Fatalf("NormalizePassword did not compose: %q", got)
	}
}

// fieldOf is the one field error of a validation error.
func fieldOf(t *testing.T, err error) domain.FieldError {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 {
		t.Fatalf("err = %v, want one field error", err)
	}
	return de.Fields[0]
}

func TestPasswordPolicyTooGuessable(t *testing.T) {
	var gotPassword string
	var gotInputs []string
	est := user.GuessEstimate{Guesses: user.MinPasswordGuesses - 1, Weaknesses: []user.Weakness{user.WeakRepeatedPattern, user.WeakSequence, user.WeakRepeatedPattern}}
	p := user.PasswordPolicy{MinLength: 15, Estimate: func(pw string, inputs []string) user.GuessEstimate {
		gotPassword, gotInputs = pw, inputs
		return est
	}}
	_, err := p.Check("new_password", "\uff41bcabcabcabcabc123", mustEmail(t, "Alice.Smith-x@example.com"))
	fe := fieldOf(t, err)
	if fe.Field != "new_password" || fe.Code != user.RulePasswordTooGuessable {
		t.Fatalf("field error %+v", fe)
	}
	if want := "The password is too easy to guess: it repeats a word or a pattern and has a sequence such as 1234 or abcd. Use a few unrelated words, or a longer phrase."; fe.Message != want {
		t.Errorf("message %q, want %q", fe.Message, want)
	}
	if gotPassword != "abcabcabcabcabc123" {
		t.Errorf("estimated %q, want the NFKC form", gotPassword)
	}
	if want := []string{"alice.smith-x@example.com", "alice.smith-x", "alice", "smith"}; !slices.Equal(gotInputs, want) {
		t.Errorf("inputs %q, want %q", gotInputs, want)
	}

	// Without a named pattern the reason is generic.
	est = user.GuessEstimate{Guesses: 10}
	if fe := fieldOf(t, second(p.Check("password", "abcdefghijklmnop", mustEmail(t, "bo@x.io")))); fe.Message != "The password is too easy to guess. Use a few unrelated words, or a longer phrase." {
		t.Errorf("generic message %q", fe.Message)
	}

	// At the bound the password passes.
	est = user.GuessEstimate{Guesses: user.MinPasswordGuesses}
	if _, err := p.Check("password", "abcdefghijklmnop", mustEmail(t, "bo@x.io")); err != nil {
		t.Fatalf("at %g guesses: %v", user.MinPasswordGuesses, err)
	}
}

func second[A, B any](_ A, b B) B { return b }

// The estimate runs last: a password the list or the length rule refuses
// never reaches it, and that rule's code is the answer.
func TestPasswordPolicyEstimateAfterOtherRules(t *testing.T) {
	called := false
	p := user.PasswordPolicy{MinLength: 15, IsCommon: func(l string) bool { return l == "passwordpassword" }, Estimate: func(string, []string) user.GuessEstimate {
		called = true
		return user.GuessEstimate{}
	}}
	for raw, code := range map[string]string{"short": user.RulePasswordTooShort, "passwordpassword": user.RulePasswordCommon, "xx-bobby-xx-yyyyy": user.RulePasswordContainsEmail} {
		if fe := fieldOf(t, second(p.Check("password", raw, mustEmail(t, "bobby@x.io")))); fe.Code != code {
			t.Errorf("%q: code %q, want %q", raw, fe.Code, code)
		}
	}
	if called {
		t.Fatal("estimate consulted for a password another rule refused")
	}
}
