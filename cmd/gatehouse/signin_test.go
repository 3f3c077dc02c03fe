package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browser is a cookie-keeping client of the hosted pages that does not
// follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	// lastLocation is the Location of the last answer send read.
	lastLocation string
	// consents counts the consent pages authorize answered (allowing).
	consents int
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) send(req *http.Request) (int, string) {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	b.lastLocation = res.Header.Get("Location")
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.send(req)
}

// post sends a form; with csrf the browser's token is added, read from
// the page of path first.
func (b *browser) post(path string, form url.Values, csrf bool) (int, string) {
	b.t.Helper()
	if csrf {
		_, page := b.get("/sign-in")
		m := csrfField.FindStringSubmatch(page)
		if m == nil {
			b.t.Fatalf("no CSRF field on the sign-in page: %s", page)
		}
		form.Set("csrf", m[1])
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req)
}

// The hosted sign-in on each store: a browser session that the user's
// session list shows and that a password change ends; a form without its
// CSRF token does nothing.
func TestHostedSignInSession(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixture(t, st)
		addr, access, _ := f.signedIn(t)
		b := newBrowser(t, f.inst.URL)
		credentials := url.Values{"email": {addr}, "password": {strongPassword}}

		// No hosted form does anything without the browser's CSRF token.
		for _, path := range []string{"/sign-in", "/sign-up", "/sign-out", "/forgot-password", "/resend-verification", "/verify-email", "/reset-password", "/accept-invite", "/confirm-email"} {
			if status, body := b.post(path, url.Values{"email": {addr}, "password": {strongPassword}, "token": {"x"}}, false); status != http.StatusForbidden || !strings.Contains(body, "reload the page") {
				t.Errorf("POST %s without the CSRF token: %d %s", path, status, body)
			}
		}
		if status, body := b.post("/sign-in", url.Values{"email": {addr}, "password": {"not the password at all"}}, true); status != http.StatusUnauthorized {
			t.Fatalf("a wrong password: %d %s", status, body)
		}
		if status, body := b.post("/sign-in", credentials, true); status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d %s", status, body)
		}
		if status, body := b.get("/sign-in"); status != http.StatusOK || !strings.Contains(body, "You are signed in") || !strings.Contains(body, addr) {
			t.Fatalf("the signed-in page: %d %s", status, body)
		}
		if n := len(f.c.getOK(t, "/v1/me/sessions", access)["sessions"].([]any)); n != 2 {
			t.Fatalf("%d sessions, want the API's and the browser's", n)
		}

		// A password change ends every other session, the browser's too.
		if r := f.c.bearer(http.MethodPost, "/v1/me/password", access, map[string]string{"current_password": strongPassword, "new_password": "a new passphrase for the browser"}); r.Status != http.StatusNoContent {
			t.Fatalf("password change: %d %s", r.Status, r.Body)
		}
		if status, body := b.get("/sign-in"); status != http.StatusOK || strings.Contains(body, "You are signed in") || !strings.Contains(body, `name="password"`) {
			t.Fatalf("after a password change the browser is still signed in: %d %s", status, body)
		}
	})
}
