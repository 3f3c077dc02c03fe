package main

import (
	"net/http"
	"strings"
	"testing"
)

// guessablePasswords are long enough for the default minimum of 15 and on
// no common list as they are, yet an attacker guesses each in fewer than
// 10^8 tries.
var guessablePasswords = []string{"aaaaaaaaaaaaaaaa", "1234567890123456", "passwordpassword", "qwertyuiopasdfghjkl", "password1234567890"}

// wantTooGuessable checks a 422 whose field error is
// password_too_guessable with a reason in words.
func wantTooGuessable(t *testing.T, what, field string, r response) {
	t.Helper()
	if r.Status != http.StatusUnprocessableEntity || r.Code(t) != "validation_failed" {
		t.Fatalf("%s: %d %s, want 422 validation_failed", what, r.Status, r.Body)
	}
	errs, _ := r.JSON(t)["errors"].([]any)
	if len(errs) != 1 {
		t.Fatalf("%s: errors %v", what, errs)
	}
	fe := errs[0].(map[string]any)
	msg, _ := fe["message"].(string)
	if fe["field"] != field || fe["code"] != "password_too_guessable" || !strings.HasPrefix(msg, "The password is too easy to guess: it ") {
		t.Fatalf("%s: field error %v", what, fe)
	}
}

// Every path that sets a password refuses the guessable ones with the same
// field error: registration, reset (API and hosted page), change, and an
// administrator's create.
func TestGuessablePasswordsAreRefusedEverywhere(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		addr, access, _ := f.signedIn(t)
		if r := f.c.post("/v1/password/forgot", map[string]string{"email": addr}); r.Status != http.StatusAccepted {
			t.Fatalf("forgot: %d %s", r.Status, r.Body)
		}
		tok := tokenFrom(t, mailTo(t, f.smtp, addr, 2), "/reset-password")
		reg, pages := newClient(t, f.inst), newClient(t, f.inst)

		for _, pw := range guessablePasswords {
			wantTooGuessable(t, "register "+pw, "password", reg.post("/v1/register", map[string]string{"email": randomEmail(), "password": pw}))
			wantTooGuessable(t, "reset "+pw, "password", f.c.post("/v1/password/reset", map[string]string{"token": tok, "password": pw}))
			wantTooGuessable(t, "change "+pw, "new_password", f.c.bearer(http.MethodPost, "/v1/me/password", access, map[string]string{"current_password": strongPassword, "new_password": pw}))
			wantTooGuessable(t, "admin create "+pw, "password", f.admin.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": randomEmail(), "password": pw}))
			page := pages.form("/reset-password", map[string]string{"token": tok, "password": pw})
			if page.Status != http.StatusUnprocessableEntity || !strings.Contains(string(page.Body), "This password is too easy to guess: it ") {
				t.Fatalf("hosted reset %s: %d %s", pw, page.Status, page.Body)
			}
		}
		// Every refusal left the token and the password as they were.
		if r := f.c.post("/v1/password/reset", map[string]string{"token": tok, "password": "a brand new passphrase for testing"}); r.Status != http.StatusNoContent {
			t.Fatalf("reset with a strong password: %d %s", r.Status, r.Body)
		}
	})
}
