package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The account page on each store, driven as a browser without JavaScript
// drives it: a signed-out visit goes through the sign-in and back, the page
// lists the user's sessions, ends another one (whose token then stops
// working) and changes the password, keeping this browser signed in.
func TestAccountPage(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixture(t, st)
		addr, access, _ := f.signedIn(t)
		b := newBrowser(t, f.inst.URL)

		if status, body := b.get("/account"); status != http.StatusSeeOther || b.lastLocation != "./sign-in" {
			t.Fatalf("signed out: %d %q %s", status, b.lastLocation, body)
		}
		if status, body := b.post("/sign-in", url.Values{"email": {addr}, "password": {strongPassword}}, true); status != http.StatusSeeOther || b.lastLocation != "./account" {
			t.Fatalf("sign-in: %d %q %s", status, b.lastLocation, body)
		}
		status, page := b.get("/account")
		if status != http.StatusOK || !strings.Contains(page, addr) || !strings.Contains(page, "(this browser)") || !strings.Contains(page, `id="passkeys"`) {
			t.Fatalf("the account page: %d %s", status, page)
		}
		// The API's session is listed too; the page names it by its id.
		var apiSession string
		for _, s := range f.c.getOK(t, "/v1/me/sessions", access)["sessions"].([]any) {
			if s := s.(map[string]any); s["current"] == true {
				apiSession = s["id"].(string)
			}
		}
		if apiSession == "" || strings.Count(page, `value="revoke-session"`) != 2 || !strings.Contains(page, `name="id" value="`+apiSession+`"`) {
			t.Fatalf("the page does not list both sessions (API session %q): %s", apiSession, page)
		}

		// Without the CSRF token nothing is done.
		if status, body := b.post("/account", url.Values{"op": {"revoke-session"}, "id": {apiSession}}, false); status != http.StatusForbidden {
			t.Fatalf("revoke without CSRF: %d %s", status, body)
		}
		status, page = b.post("/account", url.Values{"op": {"revoke-session"}, "id": {apiSession}}, true)
		if status != http.StatusOK || !strings.Contains(page, "that device is signed out") || strings.Count(page, `value="revoke-session"`) != 1 {
			t.Fatalf("revoke: %d %s", status, page)
		}
		if r := f.c.bearer(http.MethodGet, "/v1/me", access, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("the revoked session's token still works: %d %s", r.Status, r.Body)
		}

		// The password: a wrong current one changes nothing; the right one
		// changes it and keeps this browser signed in.
		const next = "a new passphrase from the account page"
		status, page = b.post("/account", url.Values{"op": {"password"}, "current_password": {"not the password at all"}, "new_password": {next}}, true)
		if status != http.StatusForbidden || !strings.Contains(page, "current password is not right") {
			t.Fatalf("wrong current password: %d %s", status, page)
		}
		status, page = b.post("/account", url.Values{"op": {"password"}, "current_password": {strongPassword}, "new_password": {next}}, true)
		if status != http.StatusOK || !strings.Contains(page, "Your password was changed") {
			t.Fatalf("password change: %d %s", status, page)
		}
		if status, page := b.get("/account"); status != http.StatusOK || !strings.Contains(page, addr) {
			t.Fatalf("after the change the browser is signed out: %d %s", status, page)
		}
		login(t, f.c, addr, next)
	})
}
