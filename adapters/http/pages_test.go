package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
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
	// A page whose form answers a pending authorization request may add
	// the client's origin to form-action (hostedPageHeadersTo), nothing
	// else.
	page := string(body)
	csp := res.Header.Get("Content-Security-Policy")
	head, tail, _ := strings.Cut(hostedPageCSP, "form-action 'self'")
	if csp != hostedPageCSP && !(strings.HasPrefix(csp, head+"form-action 'self' ") && strings.HasSuffix(csp, tail)) {
		t.Errorf("CSP = %q, want the hosted pages' policy", csp)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
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
	// A browser gets a page saying what was wrong and the way back.
	req := postForm("/resend-verification", url.Values{"email": {"a@example.com", "b@example.com"}})
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	res, body = do(t, a, req)
	page = checkPage(t, res, body, 400)
	wantIn(t, "a browser's malformed form", page, `The form field &#34;email&#34; appears more than once.`, "Go back, correct the form", `href="./sign-in"`)
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

type (
	stubLogin struct {
		HandleFn func(ctx context.Context, in session.LoginInput) (*session.LoginResult, error)
	}
	stubLogout struct {
		HandleFn func(ctx context.Context, p session.Principal, meta app.RequestMeta) error
	}
	stubBrowser struct {
		BrowserFn func(ctx context.Context, secret string) (session.Principal, error)
	}
	stubRegister struct {
		HandleFn func(ctx context.Context, in account.RegisterInput) error
	}
)

func (s *stubLogin) Handle(ctx context.Context, in session.LoginInput) (*session.LoginResult, error) {
	return s.HandleFn(ctx, in)
}
func (s *stubLogout) Handle(ctx context.Context, p session.Principal, meta app.RequestMeta) error {
	return s.HandleFn(ctx, p, meta)
}
func (s *stubBrowser) Browser(ctx context.Context, secret string) (session.Principal, error) {
	return s.BrowserFn(ctx, secret)
}
func (s *stubRegister) Handle(ctx context.Context, in account.RegisterInput) error {
	return s.HandleFn(ctx, in)
}

const (
	testCSRF   = "ccccccccccccccccccccccccccccccccccccccccccc" // 43 characters, as a token is
	liveSecret = "browser-secret"
)

type signInFixture struct {
	login    *stubLogin
	loginMFA *stubLoginMFA
	logout   *stubLogout
	browser  *stubBrowser
	register *stubRegister
	guard    *stubIPLimiter
	verify   *stubVerifyEmail
	authz    *stubAuthorizer
	app      *fiber.App
}

// newSignIn is the public app over stubs of the sign-in use cases; the
// browser session whose cookie holds liveSecret is the owner's.
func newSignIn(t *testing.T, publicURL string) *signInFixture {
	t.Helper()
	f := &signInFixture{login: &stubLogin{}, loginMFA: &stubLoginMFA{}, logout: &stubLogout{}, browser: &stubBrowser{}, register: &stubRegister{}, guard: &stubIPLimiter{},
		verify: &stubVerifyEmail{}, authz: &stubAuthorizer{}}
	f.browser.BrowserFn = func(_ context.Context, secret string) (session.Principal, error) {
		if secret != liveSecret {
			return session.Principal{}, domain.ErrUnauthorized
		}
		return session.Principal{UserID: userID, SessionID: sessionID, User: owner(t, "owner@example.com", true), Session: liveSession}, nil
	}
	f.app = NewServer(Config{PublicURL: publicURL, Pages: PageConfig{AppName: "Acme"}}, nil, UseCases{
		Login: f.login, LoginMFA: f.loginMFA, Logout: f.logout, Browser: f.browser, Register: f.register,
		VerifyEmail: f.verify, Authorize: f.authz, Guard: f.guard, Ready: func(context.Context) error { return nil },
	})
	return f
}

// post sends a form with the browser's CSRF cookie (and the field, unless
// csrf is "").
func formPost(path, csrf string, fields url.Values, cookies ...*nethttp.Cookie) *nethttp.Request {
	if csrf != "" {
		fields.Set("csrf", csrf)
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req
}

func cookieOf(res *nethttp.Response, name string) *nethttp.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignInPageSetsACSRFCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, cookie string }{{"http://localhost:8080", "gatehouse_csrf"}, {"https://id.example.com", "__Host-gatehouse_csrf"}} {
		f := newSignIn(t, tc.url)
		res, body := do(t, f.app, request("GET", "/sign-in", ""))
		ck := cookieOf(res, tc.cookie)
		if res.StatusCode != 200 || ck == nil || len(ck.Value) != 43 || !ck.HttpOnly || ck.SameSite != nethttp.SameSiteStrictMode || ck.Path != "/" ||
			ck.Secure != strings.HasPrefix(tc.url, "https") {
			t.Fatalf("%s: status %d, cookie %+v", tc.url, res.StatusCode, ck)
		}
		page := string(body)
		for _, want := range []string{`name="csrf" value="` + ck.Value + `"`, `name="email"`, `name="password"`, `href="./sign-up"`, `href="./forgot-password"`, "Acme"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: page lacks %s", tc.url, want)
			}
		}
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("headers %v", res.Header)
		}
	}
}

// A form without the browser's CSRF token, or with another, is refused
// before any use case runs (the stubs' nil funcs would panic).
func TestSignInFormsRefuseAMissingOrWrongCSRFToken(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	fields := url.Values{"email": {"owner@example.com"}, "password": {"pw"}}
	for _, path := range []string{"/sign-in", "/sign-out", "/sign-up"} {
		for name, req := range map[string]*nethttp.Request{
			"missing": formPost(path, "", fields),
			"wrong":   formPost(path, strings.Repeat("d", 43), fields),
		} {
			res, body := do(t, f.app, req)
			if res.StatusCode != 403 || !strings.Contains(string(body), "reload the page") {
				t.Errorf("%s %s: %d %s", path, name, res.StatusCode, body)
			}
		}
	}
}

func TestSignInWithPassword(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "https://id.example.com")
	f.login.HandleFn = func(_ context.Context, in session.LoginInput) (*session.LoginResult, error) {
		if !in.Browser || in.Email != "owner@example.com" || in.Password != "correct horse" || in.Meta.IP == "" {
			t.Errorf("login input %+v", in)
		}
		return &session.LoginResult{TokenPair: &session.TokenPair{BrowserSecret: token.Secret(liveSecret)}}, nil
	}
	req := formPost("/sign-in", testCSRF, url.Values{"email": {"owner@example.com"}, "password": {"correct horse"}})
	req.Header.Set("Cookie", "__Host-gatehouse_csrf="+testCSRF)
	res, body := do(t, f.app, req)
	ck := cookieOf(res, "__Host-gatehouse_session")
	if res.StatusCode != 303 || res.Header.Get("Location") != "./sign-in" || ck == nil || ck.Value != liveSecret ||
		!ck.HttpOnly || !ck.Secure || ck.SameSite != nethttp.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge != 0 || !ck.Expires.IsZero() {
		t.Fatalf("status %d, cookie %+v, body %s", res.StatusCode, ck, body)
	}

	// Signed in: the page says who, and offers to sign out.
	get := request("GET", "/sign-in", "")
	get.AddCookie(&nethttp.Cookie{Name: "__Host-gatehouse_session", Value: liveSecret})
	res, body = do(t, f.app, get)
	if res.StatusCode != 200 || !strings.Contains(string(body), "owner@example.com") || !strings.Contains(string(body), `action="./sign-out"`) {
		t.Fatalf("signed-in page: %d %s", res.StatusCode, body)
	}
}

func TestSignInRefusals(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	f.login.HandleFn = func(_ context.Context, in session.LoginInput) (*session.LoginResult, error) {
		if in.Email == "slow@example.com" {
			return nil, domain.RateLimited(90)
		}
		return nil, domain.ErrInvalidCredentials
	}
	res, body := do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"email": {"who@example.com"}, "password": {"x"}}))
	if res.StatusCode != 401 || !strings.Contains(string(body), "The email or password is incorrect") || !strings.Contains(string(body), `value="who@example.com"`) ||
		cookieOf(res, "gatehouse_session") != nil {
		t.Fatalf("wrong password: %d %s", res.StatusCode, body)
	}
	res, body = do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"email": {"slow@example.com"}, "password": {"x"}}))
	if res.StatusCode != 429 || !strings.Contains(string(body), "too many attempts") {
		t.Fatalf("throttled: %d %s", res.StatusCode, body)
	}
}

// Each step counts against the per-IP limit of its API endpoint, before
// its use case runs (the stubs' nil funcs would panic).
func TestSignInStepsCountAgainstTheirIPLimits(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	var counted []limits.Endpoint
	f.guard.CheckIPFn = func(_ context.Context, e limits.Endpoint, _ string) error {
		counted = append(counted, e)
		return domain.RateLimited(60)
	}
	for _, fields := range []url.Values{{"email": {"a@example.com"}, "password": {"x"}}, {"mfa_token": {"t"}, "code": {"123456"}}} {
		if res, body := do(t, f.app, formPost("/sign-in", testCSRF, fields)); res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
			t.Fatalf("%v: %d %s", fields, res.StatusCode, body)
		}
	}
	if !slices.Equal(counted, []limits.Endpoint{limits.Login, limits.LoginMFA}) {
		t.Fatalf("counted %v", counted)
	}
}

func TestSignInWithCode(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	f.login.HandleFn = func(context.Context, session.LoginInput) (*session.LoginResult, error) {
		return &session.LoginResult{MFAToken: "step-token"}, nil
	}
	res, body := do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"email": {"owner@example.com"}, "password": {"pw"}}))
	if res.StatusCode != 200 || !strings.Contains(string(body), `name="mfa_token" value="step-token"`) || !strings.Contains(string(body), `name="code"`) {
		t.Fatalf("code page: %d %s", res.StatusCode, body)
	}
	f.loginMFA.HandleFn = func(_ context.Context, in session.LoginMFAInput) (*session.TokenPair, error) {
		switch {
		case !in.Browser || in.Token != "step-token":
			t.Errorf("input %+v", in)
		case in.Code == "000000":
			return nil, mfa.ErrInvalidCode
		case in.Code == "late":
			return nil, mfa.ErrLoginTokenInvalid
		}
		return &session.TokenPair{BrowserSecret: token.Secret(liveSecret)}, nil
	}
	step := func(code string) (*nethttp.Response, string) {
		res, body := do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"mfa_token": {"step-token"}, "code": {code}}))
		return res, string(body)
	}
	if res, body := step("000000"); res.StatusCode != 401 || !strings.Contains(body, "This code is not right") || !strings.Contains(body, `value="step-token"`) {
		t.Fatalf("wrong code: %d %s", res.StatusCode, body)
	}
	if res, body := step("late"); res.StatusCode != 401 || !strings.Contains(body, "Sign in again") || !strings.Contains(body, `name="password"`) {
		t.Fatalf("expired step: %d %s", res.StatusCode, body)
	}
	if res, _ := step("123456"); res.StatusCode != 303 || cookieOf(res, "gatehouse_session").Value != liveSecret {
		t.Fatalf("right code: %d", res.StatusCode)
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	var ended []session.Principal
	f.logout.HandleFn = func(_ context.Context, p session.Principal, _ app.RequestMeta) error {
		ended = append(ended, p)
		return nil
	}
	res, body := do(t, f.app, formPost("/sign-out", testCSRF, url.Values{}, &nethttp.Cookie{Name: "gatehouse_session", Value: liveSecret}))
	ck := cookieOf(res, "gatehouse_session")
	if res.StatusCode != 200 || !strings.Contains(string(body), "You are signed out of Acme") || ck == nil || ck.Value != "" || !ck.Expires.Before(time.Now()) || ck.Path != "/" || !ck.HttpOnly {
		t.Fatalf("sign-out: %d cookie %+v %s", res.StatusCode, ck, body)
	}
	if len(ended) != 1 || ended[0].SessionID != sessionID {
		t.Fatalf("ended %+v", ended)
	}
	// A browser without a live session is signed out all the same.
	res, _ = do(t, f.app, formPost("/sign-out", testCSRF, url.Values{}, &nethttp.Cookie{Name: "gatehouse_session", Value: "stale"}))
	if res.StatusCode != 200 || len(ended) != 1 {
		t.Fatalf("stale sign-out: %d, ended %d", res.StatusCode, len(ended))
	}
}

func TestSignUp(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	f.register.HandleFn = func(_ context.Context, in account.RegisterInput) error {
		if in.Email != "new@example.com" || in.Password != "long enough password" {
			t.Errorf("register %+v", in)
		}
		return nil
	}
	res, body := do(t, f.app, formPost("/sign-up", testCSRF, url.Values{"email": {"new@example.com"}, "password": {"long enough password"}}))
	if res.StatusCode != 202 || !strings.Contains(string(body), "We sent a mail to new@example.com") {
		t.Fatalf("sign-up: %d %s", res.StatusCode, body)
	}
}
