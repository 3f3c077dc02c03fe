package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// The page tests drive the hosted pages through the Fiber app over the
// fixture's stubs: what a page asks its use case, and what it shows of
// the answer.

// postForm posts the form fields to path, as a browser does from the
// page: with its CSRF cookie and field.
func postForm(path string, fields url.Values) *nethttp.Request {
	return formPost(path, testCSRF, fields)
}

// checkPage checks that res is a hosted page with status and returns its
// body.
func checkPage(t *testing.T, res *nethttp.Response, body []byte, status int) string {
	t.Helper()
	if res.StatusCode != status || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s, want %d text/html:\n%s", res.StatusCode, res.Header.Get("Content-Type"), status, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); csp != hostedPageCSP {
		t.Errorf("CSP = %q, want the hosted pages' policy", csp)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
	page := string(body)
	if strings.Contains(page, "<script") {
		t.Errorf("the page has a <script>:\n%s", page)
	}
	return page
}

// wantIn fails the test unless page holds every string of want.
func wantIn(t *testing.T, what, page string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, page)
		}
	}
}

// notIn fails the test when page holds a string of bad.
func notIn(t *testing.T, what, page string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(page, b) {
			t.Errorf("%s holds %q:\n%s", what, b, page)
		}
	}
}

// TestPagesWithoutATokenSayWhatToDo: a mail's page opened without its
// token shows no form that can only fail, but says where the link comes
// from and links to the page that mails a new one. Nothing is called (the
// stubs are unset).
func TestPagesWithoutATokenSayWhatToDo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.linkState.LiveFn = nil
	for _, tc := range []struct{ path, link, says string }{
		{"/verify-email", `href="./resend-verification"`, "link from the verification mail"},
		{"/verify-email?token=", `href="./resend-verification"`, "link from the verification mail"},
		{"/reset-password", `href="./forgot-password"`, "link from a password-reset mail"},
		{"/reset-password?token=", `href="./forgot-password"`, "link from a password-reset mail"},
	} {
		res, body := do(t, f.public, request("GET", tc.path, ""))
		page := checkPage(t, res, body, 200)
		wantIn(t, tc.path, page, tc.link, tc.says, `class="info"`)
		notIn(t, tc.path, page, "<form", `class="err"`)
	}
}

// TestPasswordFormsStateTheRule: the reset and verify forms state the
// configured minimum and the domain's maximum, and carry them as minlength
// and maxlength, so a browser checks them before the post.
func TestPasswordFormsStateTheRule(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.pagesApp(PageConfig{PasswordMinLength: 21})
	for _, path := range []string{"/reset-password?token=" + liveLink(token.PurposeResetPassword), "/verify-email?token=" + liveLink(token.PurposeVerifyEmail)} {
		res, body := do(t, a, request("GET", path, ""))
		page := checkPage(t, res, body, 200)
		wantIn(t, path, page, `<form method="post">`, `minlength="21"`, `maxlength="128"`, `aria-describedby="password-rule"`,
			`id="password-rule"`, "at least 21 and at most 128 characters")
	}
	res, body := do(t, a, request("GET", "/reset-password?token="+liveLink(token.PurposeResetPassword), ""))
	wantIn(t, "reset form", checkPage(t, res, body, 200), "before the @", "must not be easy to guess", "sequences such as 1234", "keyboard patterns such as qwerty")

	// Without a configured minimum the pages state the floor, never 0.
	res, body = do(t, f.public, request("GET", "/reset-password?token="+liveLink(token.PurposeResetPassword), ""))
	wantIn(t, "default reset form", checkPage(t, res, body, 200), `minlength="8"`)
}

// TestPagesNameTheApp: GATEHOUSE_APP_NAME is in the title and on the page
// instead of "Gatehouse"; unset, the pages say Gatehouse.
func TestPagesNameTheApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	named := f.pagesApp(PageConfig{AppName: `Acme <Mail> & Co`})
	for _, path := range []string{"/forgot-password", "/resend-verification", "/reset-password?token=" + liveLink(token.PurposeResetPassword),
		"/verify-email?token=" + liveLink(token.PurposeVerifyEmail), "/verify-email", "/confirm-email?token=" + liveLink(token.PurposeChangeEmail)} {
		res, body := do(t, named, request("GET", path, ""))
		page := checkPage(t, res, body, 200)
		wantIn(t, path, page, "· Acme &lt;Mail&gt; &amp; Co</title>", `<p class="app">Acme &lt;Mail&gt; &amp; Co</p>`)
		notIn(t, path, page, "Gatehouse", "<Mail>")
	}
	res, body := do(t, f.public, request("GET", "/forgot-password", ""))
	wantIn(t, "default page", checkPage(t, res, body, 200), "· Gatehouse</title>")
}

// refuseBadAddress is a mailing use case that refuses what is not an
// address, as the use cases do, and records the rest.
func refuseBadAddress(got *[]string) func(context.Context, string) error {
	return func(_ context.Context, raw string) error {
		if _, err := user.ParseEmail(raw); err != nil {
			return err
		}
		*got = append(*got, raw)
		return nil
	}
}

// TestResendVerificationPage: the page asks for an address; its post calls
// the resend use case and answers 202 with one neutral page whatever the
// address; a malformed address shows the form again in plain words.
func TestResendVerificationPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.public

	res, body := do(t, a, request("GET", "/resend-verification", ""))
	page := checkPage(t, res, body, 200)
	wantIn(t, "resend form", page, `<form method="post">`, `type="email" name="email"`, `<label for="email">`, "Send verification link")
	notIn(t, "resend form", page, "action=")

	var asked []string
	f.resend.HandleFn = refuseBadAddress(&asked)
	var pages []string
	for _, addr := range []string{"Known@Example.com", "nobody@example.com"} {
		res, body := do(t, a, postForm("/resend-verification", url.Values{"email": {addr}}))
		page := checkPage(t, res, body, 202)
		wantIn(t, "resend answer", page, `class="ok"`, "If an account for that address waits for verification, we sent a new link")
		notIn(t, "resend answer", page, "<form", "xample.com")
		pages = append(pages, page)
	}
	if pages[0] != pages[1] {
		t.Errorf("the answers differ by address:\n%s\n---\n%s", pages[0], pages[1])
	}
	if strings.Join(asked, " ") != "Known@Example.com nobody@example.com" {
		t.Errorf("asked to mail %q, want each address as typed", asked)
	}

	res, body = do(t, a, postForm("/resend-verification", url.Values{"email": {"not an address"}}))
	page = checkPage(t, res, body, 422)
	wantIn(t, "refused address", page, `<form method="post">`, `class="err"`, "This is not an email address we can send mail to")
	notIn(t, "refused address", page, "The email address is not valid", "invalid fields")

	// A body that is not a form is the one error handler's, like the
	// forgot page's.
	res, body = do(t, a, request("POST", "/resend-verification", `{"email":"a@example.com"}`))
	decodeProblem(t, res, body, 415, "unsupported_media_type")
	res, body = do(t, a, postForm("/resend-verification", url.Values{"email": {"a@example.com", "b@example.com"}}))
	decodeProblem(t, res, body, 400, "invalid_request")
	if len(asked) != 2 {
		t.Errorf("asked to mail %q after refused bodies", asked)
	}
}

// TestForgotPasswordPage: the forgot page is the resend page's twin: one
// neutral 202 page whatever the address, and the form again for what is
// not an address.
func TestForgotPasswordPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var asked []string
	f.forgot.HandleFn = refuseBadAddress(&asked)
	res, body := do(t, f.public, request("GET", "/forgot-password", ""))
	wantIn(t, "forgot form", checkPage(t, res, body, 200), `<form method="post">`, `type="email" name="email"`, "Send reset link")
	res, body = do(t, f.public, postForm("/forgot-password", url.Values{"email": {"someone@example.com"}}))
	wantIn(t, "forgot answer", checkPage(t, res, body, 202), `class="ok"`, "If an account exists for that address, we sent a link to reset its password")
	res, body = do(t, f.public, postForm("/forgot-password", url.Values{"email": {"nope"}}))
	wantIn(t, "refused address", checkPage(t, res, body, 422), `<form method="post">`, "This is not an email address we can send mail to")
	if strings.Join(asked, " ") != "someone@example.com" {
		t.Errorf("asked to mail %q", asked)
	}
}

// TestEmailPagesAreRateLimitedPerIP: over its per-IP limit the resend page
// answers, like the forgot page, 429 with a page a browser shows and
// Retry-After; the use case is not called (its stub is unset).
func TestEmailPagesAreRateLimitedPerIP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var counted []limits.Endpoint
	f.guard.CheckIPFn = func(_ context.Context, e limits.Endpoint, ip string) error {
		if ip == "" {
			t.Error("no client IP")
		}
		counted = append(counted, e)
		return domain.RateLimited(90 * time.Second)
	}
	for _, path := range []string{"/resend-verification", "/forgot-password"} {
		res, body := do(t, f.public, postForm(path, url.Values{"email": {"a@example.com"}}))
		page := checkPage(t, res, body, 429)
		if res.Header.Get("Retry-After") != "90" {
			t.Errorf("%s: Retry-After = %q, want 90", path, res.Header.Get("Retry-After"))
		}
		wantIn(t, path, page, "too many attempts", "Wait about 2 minutes")
		notIn(t, path, page, "retry later")
	}
	if len(counted) != 2 || counted[0] != limits.Resend || counted[1] != limits.Forgot {
		t.Errorf("counted under %q, want the resend and forgot per-IP limits", counted)
	}
}

// TestVerifyRefusalsTellDeadLinksFromWrongPasswords: a dead link (here an
// unknown one) is a page without a form that says the link expired or was
// used and links to a new link; a live link with another password is the
// form again with the same token, saying the password is not that
// registration's, and linking to a reset.
func TestVerifyRefusalsTellDeadLinksFromWrongPasswords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.verifyEmail.HandleFn = func(_ context.Context, raw, pw string, m app.RequestMeta) (*user.User, error) {
		if pw != "some long password here" || m.IP == "" {
			t.Errorf("asked with %q, meta %+v", pw, m)
		}
		if raw == "the-token" {
			return nil, account.ErrNotThisRegistration
		}
		return nil, domain.ErrInvalidToken
	}
	res, body := do(t, f.public, postForm("/verify-email", url.Values{"token": {"abc"}, "password": {"some long password here"}}))
	page := checkPage(t, res, body, 400)
	wantIn(t, "dead link", page, `class="err"`, "This link has expired or was already used", `href="./resend-verification"`)
	notIn(t, "dead link", page, "<form", "The token is invalid", "some long password here", "not the one chosen")

	res, body = do(t, f.public, postForm("/verify-email", url.Values{"token": {"the-token"}, "password": {"some long password here"}}))
	page = checkPage(t, res, body, 400)
	wantIn(t, "wrong password", page, `<form method="post">`, `name="token" value="the-token"`, `type="password" name="password"`,
		`class="err"`, "This password is not the one chosen at the registration that sent this link", `href="./forgot-password"`)
	notIn(t, "wrong password", page, "expired", "some long password here")

	f.verifyEmail.HandleFn = func(context.Context, string, string, app.RequestMeta) (*user.User, error) {
		return owner(t, "owner@example.com", true), nil
	}
	res, body = do(t, f.public, postForm("/verify-email", url.Values{"token": {"the-token"}, "password": {"some long password here"}}))
	wantIn(t, "verified", checkPage(t, res, body, 200), `class="ok"`, "Your email address is verified.")
}

// TestDeadLinksSayItOnOpening: a GET of a link its use case says is dead
// (unknown, expired or used) shows at once (410, no form, nothing
// consumed) that the link no longer works, with the way on; a live link
// shows its form. Each page asks about its own kind of link.
func TestDeadLinksSayItOnOpening(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		path    string
		purpose token.Purpose
		want    []string
	}{
		{"/verify-email", token.PurposeVerifyEmail, []string{"This link has expired or was already used", `href="./resend-verification"`}},
		{"/reset-password", token.PurposeResetPassword, []string{"This link cannot reset a password", `href="./forgot-password"`}},
		{"/accept-invite", token.PurposeResetPassword, []string{"This invitation link cannot set a password", `href="./forgot-password"`}},
		{"/confirm-email", token.PurposeChangeEmail, []string{"This link cannot change the address"}},
	} {
		f := newFixture(t)
		res, body := do(t, f.public, request("GET", c.path+"?token=dead-token", ""))
		page := checkPage(t, res, body, 410)
		wantIn(t, c.path+" dead", page, c.want...)
		notIn(t, c.path+" dead", page, "<form", "dead-token")
		res, body = do(t, f.public, request("GET", c.path+"?token="+liveLink(c.purpose), ""))
		wantIn(t, c.path+" live", checkPage(t, res, body, 200), `<form method="post">`)
		if len(f.asked) != 2 || f.asked[0] != c.purpose || f.asked[1] != c.purpose {
			t.Errorf("%s asked about %v, want %s links", c.path, f.asked, c.purpose)
		}
	}

	// A link that cannot be checked (the store down) is the error
	// handler's 503, not a dead link.
	f := newFixture(t)
	f.linkState.LiveFn = func(context.Context, string, token.Purpose) (bool, error) {
		return false, domain.Unavailable(context.DeadlineExceeded)
	}
	res, body := do(t, f.public, request("GET", "/verify-email?token=some-token", ""))
	decodeProblem(t, res, body, 503, "unavailable")
}

// TestResetPageRefusalsInPlainWords: a refused reset link is a page that
// links to a new reset link and to a new verification link; a refused
// password is the form again with the rule in plain words.
func TestResetPageRefusalsInPlainWords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.pagesApp(PageConfig{PasswordMinLength: 15})
	policy := user.PasswordPolicy{MinLength: 15}
	email, _ := user.ParseEmail("walter.white@example.com")
	f.reset.HandleFn = func(_ context.Context, raw, pw string, _ app.RequestMeta) error {
		if raw != "the-token" {
			return domain.ErrInvalidToken
		}
		_, err := policy.Check("password", pw, email)
		return err
	}

	res, body := do(t, a, postForm("/reset-password", url.Values{"token": {"abc"}, "password": {"a brand new passphrase"}}))
	page := checkPage(t, res, body, 400)
	wantIn(t, "refused link", page, `class="err"`, "This link cannot reset a password", `href="./forgot-password"`, `href="./resend-verification"`)
	notIn(t, "refused link", page, "<form", "The token is invalid")

	for _, tc := range []struct{ pw, says string }{
		{"tiny secret", "This password is too short: use at least 15 characters."},
		{"I am walter.white, truly", "This password contains the part of your email address before the @."},
		{strings.Repeat("long ", 26), "This password is too long: use at most 128 characters."},
	} {
		res, body := do(t, a, postForm("/reset-password", url.Values{"token": {"the-token"}, "password": {tc.pw}}))
		page := checkPage(t, res, body, 422)
		wantIn(t, tc.pw, page, `<form method="post">`, `name="token" value="the-token"`, `<ul class="err" role="alert"><li>`+tc.says)
		notIn(t, tc.pw, page, "The password is too short.", "must not contain the email address", "invalid fields", tc.pw)
	}
}

// TestSuccessPagesContinueToTheApp: with GATEHOUSE_APP_URL set, a
// successful reset (and email change) links to it as "Continue to
// <AppName>"; unset, there is no such link.
func TestSuccessPagesContinueToTheApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.pagesApp(PageConfig{AppName: "Acme", AppURL: "https://app.example.com/welcome?from=auth&x=1"})
	f.reset.HandleFn = func(_ context.Context, raw, _ string, _ app.RequestMeta) error {
		if raw != "the-token" {
			return domain.ErrInvalidToken
		}
		return nil
	}
	res, body := do(t, a, postForm("/reset-password", url.Values{"token": {"the-token"}, "password": {"a brand new passphrase"}}))
	page := checkPage(t, res, body, 200)
	wantIn(t, "reset done", page, `class="ok"`, "Your password was changed",
		`<a class="continue" href="https://app.example.com/welcome?from=auth&amp;x=1">Continue to Acme</a>`)

	f.confirmTo(t, "the-token")
	res, body = do(t, a, postForm("/confirm-email", url.Values{"token": {"the-token"}}))
	wantIn(t, "email changed", checkPage(t, res, body, 200), "Continue to Acme")

	// Refusals and forms never offer it: nothing was done yet.
	res, body = do(t, a, postForm("/reset-password", url.Values{"token": {"abc"}, "password": {"x"}}))
	notIn(t, "refused link", checkPage(t, res, body, 400), "Continue to")
	res, body = do(t, a, request("GET", "/verify-email?token="+liveLink(token.PurposeVerifyEmail), ""))
	notIn(t, "verify form", checkPage(t, res, body, 200), "Continue to")

	// Without an app URL the success page has no such link.
	res, body = do(t, f.public, postForm("/confirm-email", url.Values{"token": {"the-token"}}))
	notIn(t, "email changed without an app URL", checkPage(t, res, body, 200), "Continue to", `class="continue"`)
}

// TestInvitationPageSpeaksOfAnInvitation: the invitation link's page says
// "Set your password" and welcomes the user to the app, never "new
// password"; its GET consumes nothing (the reset stub is unset then);
// after the post it says the password is set, never that it was changed or
// that sessions were signed out. Refusals and the page without a token say
// what to do.
func TestInvitationPageSpeaksOfAnInvitation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.pagesApp(PageConfig{AppName: "Acme", PasswordMinLength: 16})

	live := liveLink(token.PurposeInvite)
	res, body := do(t, a, request("GET", "/accept-invite?token="+live, ""))
	page := checkPage(t, res, body, 200)
	wantIn(t, "invitation form", page, "<title>Set your password · Acme</title>", "<h1>Set your password</h1>", "Welcome to Acme.",
		`<label for="password">Password</label>`, `<button type="submit">Set password</button>`, `minlength="16"`,
		`name="token" value="`+live+`"`)
	notIn(t, "invitation form", page, "new password", "New password", "Choose a new password")

	f.reset.HandleFn = func(_ context.Context, raw, pw string, m app.RequestMeta) error {
		if raw != "the-token" {
			return domain.ErrInvalidToken
		}
		if pw != "a brand new passphrase" || m.IP == "" {
			t.Errorf("asked with %q, meta %+v", pw, m)
		}
		return nil
	}
	res, body = do(t, a, postForm("/accept-invite", url.Values{"token": {"the-token"}, "password": {"a brand new passphrase"}}))
	page = checkPage(t, res, body, 200)
	wantIn(t, "invitation accepted", page, `class="ok"`, "Your password is set; you can sign in.", "<h1>Set your password</h1>")
	notIn(t, "invitation accepted", page, "changed", "signed out", "<form")

	res, body = do(t, a, postForm("/accept-invite", url.Values{"token": {"abc"}, "password": {"a brand new passphrase"}}))
	page = checkPage(t, res, body, 400)
	wantIn(t, "refused invitation", page, "This invitation link cannot set a password", "new invitation", `href="./forgot-password"`)
	notIn(t, "refused invitation", page, "<form")

	for _, path := range []string{"/accept-invite", "/accept-invite?token="} {
		res, body = do(t, a, request("GET", path, ""))
		page = checkPage(t, res, body, 200)
		wantIn(t, path, page, "link from the invitation mail", `href="./forgot-password"`, `class="info"`)
		notIn(t, path, page, "<form")
	}
}

// TestPasswordLinkPagesTakeEitherLink: an invitation mailed before this
// version pointed at /reset-password and a reset link may be opened on the
// invitation page: both pages hand their link to the one reset use case
// (which takes either kind and refuses every other, see password.Reset),
// and both show its refusal.
func TestPasswordLinkPagesTakeEitherLink(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/reset-password", "/accept-invite"} {
		f := newFixture(t)
		var asked []string
		f.reset.HandleFn = func(_ context.Context, raw, _ string, _ app.RequestMeta) error {
			asked = append(asked, raw)
			if raw == "other-kind" {
				return domain.ErrInvalidToken
			}
			return nil
		}
		res, body := do(t, f.public, postForm(path, url.Values{"token": {"either-kind"}, "password": {"a brand new passphrase"}}))
		checkPage(t, res, body, 200)
		res, body = do(t, f.public, postForm(path, url.Values{"token": {"other-kind"}, "password": {"a brand new passphrase"}}))
		checkPage(t, res, body, 400)
		if len(asked) != 2 || asked[0] != "either-kind" || asked[1] != "other-kind" {
			t.Errorf("%s asked the reset with %q", path, asked)
		}
	}
}

// TestFieldMessagesArePlainWords: every field error code the hosted forms
// can meet has a sentence of its own, not the API's message.
func TestFieldMessagesArePlainWords(t *testing.T) {
	t.Parallel()
	s := newPageSite(PageConfig{PasswordMinLength: 12})
	policy := user.PasswordPolicy{MinLength: 12, IsCommon: func(s string) bool { return s == "password1234567" },
		Estimate: func(pw string, _ []string) user.GuessEstimate {
			if pw == "aaaaaaaaaaaaaaaa" {
				return user.GuessEstimate{Guesses: 193, Weaknesses: []user.Weakness{user.WeakRepeatedCharacter}}
			}
			return user.GuessEstimate{Guesses: 1e12}
		}}
	email, err := user.ParseEmail("alice.smith@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"short", strings.Repeat("x", user.MaxPasswordLength+1), "password1234567", "hi alice.smith here", "bad\x00password here", "aaaaaaaaaaaaaaaa"} {
		_, err := policy.Check("password", raw, email)
		assertPlain(t, s, err)
	}
	_, err = user.ParseEmail("nope")
	assertPlain(t, s, err)
}

func assertPlain(t *testing.T, s *pageSite, err error) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || len(de.Fields) != 1 {
		t.Fatalf("err = %v, want one field error", err)
	}
	fe := de.Fields[0]
	got := s.fieldMessage(fe)
	if got == fe.Message || !strings.HasPrefix(got, "This ") || !strings.HasSuffix(got, ".") {
		t.Errorf("%s: page message %q is the API's or not a sentence", fe.Code, got)
	}
}

// TestNotFoundIsAPageForBrowsers: an unknown path asked for by a browser
// (Accept preferring text/html) is an HTML page saying so, with links back
// to the pages that mail a new link, relative from wherever it is; an API
// client (JSON, no Accept, */*) keeps the problem+json 404, and so does
// every method but GET and HEAD.
func TestNotFoundIsAPageForBrowsers(t *testing.T) {
	t.Parallel()
	a := newFixture(t).public
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for path, up := range map[string]string{"/verify-emial": "./", "/a/b/c": "../../"} {
		res, body := do(t, a, request("GET", path+"?token=x", "", "Accept", browser))
		page := checkPage(t, res, body, 404)
		wantIn(t, path, page, "There is no page at this address", `href="`+up+`forgot-password"`, `href="`+up+`resend-verification"`)
	}
	for _, accept := range []string{"", "application/json", "*/*", "application/problem+json, text/html;q=0.5"} {
		res, body := do(t, a, request("GET", "/nothing-here", "", "Accept", accept))
		decodeProblem(t, res, body, 404, "not_found")
	}
	res, body := do(t, a, request("POST", "/nothing-here", "", "Accept", browser))
	decodeProblem(t, res, body, 404, "not_found")
}
