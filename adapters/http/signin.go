package http

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// BrowserSessions finds the signed-in user of a browser by the secret its
// session cookie holds, or refuses it (domain.ErrUnauthorized).
type BrowserSessions interface {
	Browser(ctx context.Context, secret string) (session.Principal, error)
}

// The hosted sign-in: a browser signs in with the same use cases, limits
// and answers as /v1/login and /v1/login/mfa, and holds its session by a
// cookie. The cookie carries only the random secret that finds the
// server-side session (listed with the user's sessions, ended by sign-out,
// revocation, a password change or reset, or disabling); it is HttpOnly,
// SameSite=Lax, and Secure with the __Host- prefix when PUBLIC_URL is
// https. It is a session cookie: closing the browser forgets it.
//
// Every hosted form (these and the pages of the mailed links) carries a
// CSRF token: a random value the browser holds in a cookie of its own
// (HttpOnly, SameSite=Strict), set by any page that lacks it, and that the
// form repeats in its field "csrf"; a POST whose field is missing or
// differs is refused with 403 before its use case runs. Another site can neither read the
// cookie nor set it (the __Host- prefix on https), so it cannot forge the
// pair.
//
// A sign-up begun from a pending authorization request leads back into
// it: the sign-up form carries the request's id, and its POST keeps the id
// for this browser in a cookie of its own (pendingCookie: HttpOnly,
// SameSite=Lax, __Host- on https, living as long as a pending request,
// holding the UUID and nothing else), set whatever the address, so the
// answer still tells nobody whether it has an account. The verification
// posted in this browser spends it (see verifiedInto).
const (
	sessionCookie = "gatehouse_session"
	csrfCookie    = "gatehouse_csrf"
	pendingCookie = "gatehouse_pending"
	csrfField     = "csrf"
	csrfBytes     = 32
)

// Titles of the sign-in pages.
const (
	titleSignIn   = "Sign in"
	titleCode     = "Enter your code"
	titleSignedIn = "Signed in"
	titleSignOut  = "Signed out"
	titleSignUp   = "Create an account"
)

// What the sign-in pages say when a step is refused.
const (
	signInRefused = "The email or password is incorrect. If you registered recently, open the link in the verification mail first; if you forgot the password, reset it."
	codeRefused   = "This code is not right. Enter the code your authenticator app shows now, or an unused recovery code."
	signInExpired = "Your sign-in expired or was interrupted. Sign in again."
	csrfRefused   = "This form expired or was sent from another site, so nothing was done. Go back, reload the page and try again."
)

func (p *pageHandlers) registerSignInRoutes(a *fiber.App) {
	a.Get("/sign-in", p.handleSignInPage)
	a.Post("/sign-in", p.handleSignInPost)
	a.Post("/sign-in/passkey/begin", p.handlePasskeySignInBegin)
	a.Post("/sign-out", p.handleSignOut)
	a.Get("/sign-up", p.handleSignUpPage)
	a.Post("/sign-up", p.limit(limits.Register), p.handleSignUpPost)
}

// cookieName is name as this site sets it: with the __Host- prefix on
// https (the cookie is then bound to this host, Secure, path /).
func (p *pageSite) cookieName(name string) string {
	if p.secure {
		return "__Host-" + name
	}
	return name
}

// setCookie sets one of the site's cookies. life 0 makes a session cookie
// (closing the browser forgets it); below 0 the browser drops the cookie
// at once; above 0 it keeps it that long.
func (p *pageSite) setCookie(c *fiber.Ctx, name, value, sameSite string, life time.Duration) {
	ck := &fiber.Cookie{Name: p.cookieName(name), Value: value, Path: "/", HTTPOnly: true, Secure: p.secure, SameSite: sameSite}
	switch {
	case life < 0:
		ck.Expires = time.Unix(1, 0) // in the past: the browser drops it
	case life > 0:
		ck.MaxAge = int(life / time.Second)
	}
	c.Cookie(ck)
}

// csrfToken is the browser's CSRF token, made (and its cookie set) when
// it has none.
func (p *pageSite) csrfToken(c *fiber.Ctx) (string, error) {
	if v := c.Cookies(p.cookieName(csrfCookie)); len(v) == base64.RawURLEncoding.EncodedLen(csrfBytes) {
		return v, nil
	}
	b := make([]byte, csrfBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	p.setCookie(c, csrfCookie, v, fiber.CookieSameSiteStrictMode, 0)
	return v, nil
}

// form decodes a hosted form's fields and checks its CSRF token: a
// missing or wrong one is a 403 page, and nothing of the form is used.
func (p *pageHandlers) form(c *fiber.Ctx, keys ...string) (map[string]string, bool, error) {
	f, err := DecodeForm(c, append(keys, csrfField)...)
	var de *domain.Error
	if errors.As(err, &de) && prefersHTML(c) {
		// A browser reads a page: what was wrong with the form, and the
		// way back to it.
		return nil, false, p.render(c, fiber.StatusBadRequest, "result.html", pageData{Title: "Form not accepted",
			Message: de.Message + " Go back, correct the form and send it again.",
			Links:   []pageLink{{Href: "./sign-in", Text: "Go to the sign-in page"}}})
	}
	if err != nil {
		return nil, false, err
	}
	if !p.csrfMatches(c, f[csrfField]) {
		return nil, false, p.render(c, fiber.StatusForbidden, "result.html", pageData{Title: "Form expired", Message: csrfRefused,
			Links: []pageLink{{Href: "./sign-in", Text: "Go to the sign-in page"}}})
	}
	return f, true, nil
}

// csrfMatches reports whether got is the browser's CSRF token (the value
// of its cookie); a browser without the cookie has none to match.
func (p *pageSite) csrfMatches(c *fiber.Ctx, got string) bool {
	want := c.Cookies(p.cookieName(csrfCookie))
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// signedIn is the principal of the browser's session, or false.
func (p *pageHandlers) signedIn(c *fiber.Ctx) (session.Principal, bool, error) {
	secret := c.Cookies(p.cookieName(sessionCookie))
	if secret == "" {
		return session.Principal{}, false, nil
	}
	pr, err := p.uc.Browser.Browser(c.UserContext(), secret)
	if errors.Is(err, domain.ErrUnauthorized) {
		return session.Principal{}, false, nil
	}
	return pr, err == nil, err
}

func (p *pageHandlers) handleSignInPage(c *fiber.Ctx) error {
	pr, ok, err := p.signedIn(c)
	if err != nil {
		return err
	}
	pending := pendingID(c.Query(pendingParam))
	// A pending authorization request comes here when it needs a sign-in
	// (none, or one older than it allows): the form, even when signed in.
	if ok && pending == "" {
		return p.render(c, fiber.StatusOK, "signedin.html", pageData{Title: titleSignedIn, Email: pr.User.Email().String(), Continue: true})
	}
	return p.render(c, fiber.StatusOK, "signin.html", pageData{Title: titleSignIn, Pending: pending})
}

// handleSignInPost is every step of a sign-in: the password or a
// passkey's answer (the form the sign-in page's script posts, see
// signinpasskey.go), then, for an account with a second factor, the code
// (the form of the second step carries the token the first step
// answered).
func (p *pageHandlers) handleSignInPost(c *fiber.Ctx) error {
	f, ok, err := p.form(c, "email", "password", "mfa_token", "code", "challenge_id", "credential", pendingParam)
	if !ok {
		return err
	}
	pending := pendingID(f[pendingParam])
	// The per-IP limit of the step's API endpoint: /v1/login or
	// /v1/login/mfa.
	switch {
	case f["mfa_token"] != "":
		if err := p.checkIP(c, limits.LoginMFA); err != nil {
			return p.pageError(c, err, "signin-code.html", pageData{Title: titleCode, Token: f["mfa_token"], Pending: pending})
		}
		return p.signInCode(c, f["mfa_token"], f["code"], pending)
	case f["credential"] != "":
		return p.signInPasskey(c, f["challenge_id"], f["credential"], pending)
	}
	d := pageData{Title: titleSignIn, Email: f["email"], Pending: pending}
	if err := p.checkIP(c, limits.Login); err != nil {
		return p.pageError(c, err, "signin.html", d)
	}
	res, err := p.uc.Login.Handle(c.UserContext(), session.LoginInput{Email: f["email"], Password: f["password"], Meta: meta(c), Browser: true})
	if err != nil {
		if errors.Is(err, domain.ErrInvalidCredentials) {
			d.Message = signInRefused
			return p.render(c, fiber.StatusUnauthorized, "signin.html", d)
		}
		return p.pageError(c, err, "signin.html", d)
	}
	if res.MFARequired() {
		return p.render(c, fiber.StatusOK, "signin-code.html", pageData{Title: titleCode, Token: res.MFAToken.Reveal(), Pending: pending})
	}
	return p.startBrowserSession(c, res.TokenPair, pending)
}

func (p *pageHandlers) signInCode(c *fiber.Ctx, tok, code, pending string) error {
	pair, err := p.uc.LoginMFA.Handle(c.UserContext(), session.LoginMFAInput{Token: tok, Code: code, Meta: meta(c), Browser: true})
	switch {
	case err == nil:
		return p.startBrowserSession(c, pair, pending)
	case errors.Is(err, mfa.ErrInvalidCode):
		return p.render(c, fiber.StatusUnauthorized, "signin-code.html", pageData{Title: titleCode, Token: tok, Message: codeRefused, Pending: pending})
	case errors.Is(err, mfa.ErrLoginTokenInvalid):
		return p.render(c, fiber.StatusUnauthorized, "signin.html", pageData{Title: titleSignIn, Message: signInExpired, Pending: pending})
	}
	return p.pageError(c, err, "signin-code.html", pageData{Title: titleCode, Token: tok, Pending: pending})
}

// startBrowserSession gives the browser its session cookie and sends it
// on (303: the next request is a GET): back into the pending
// authorization request it signed in for, or to the signed-in page.
func (p *pageHandlers) startBrowserSession(c *fiber.Ctx, pair *session.TokenPair, pending string) error {
	return p.startBrowserSessionAt(c, pair, pending, "./")
}

// startBrowserSessionAt is startBrowserSession from a page that root
// leads back to the root from.
func (p *pageHandlers) startBrowserSessionAt(c *fiber.Ctx, pair *session.TokenPair, pending, root string) error {
	p.setCookie(c, sessionCookie, pair.BrowserSecret.Reveal(), fiber.CookieSameSiteLaxMode, 0)
	HostedPageHeaders(c)
	if pending != "" {
		return c.Redirect(root+"authorize?"+pendingParam+"="+pending, fiber.StatusSeeOther)
	}
	return c.Redirect(root+p.afterSignIn(c), fiber.StatusSeeOther)
}

// pendingID is raw when it names a pending authorization request (a
// UUID), else "": nothing else reaches a page or a redirect.
func pendingID(raw string) string {
	id, err := uuid.Parse(raw)
	if err != nil {
		return ""
	}
	return id.String()
}

// handleSignOut ends the browser's session (if it has a live one) and
// forgets its cookie.
func (p *pageHandlers) handleSignOut(c *fiber.Ctx) error {
	if _, ok, err := p.form(c); !ok {
		return err
	}
	pr, ok, err := p.signedIn(c)
	if err != nil {
		return err
	}
	if ok {
		// Revoked meanwhile (another tab, an operator): signed out already.
		if err := p.uc.Logout.Handle(c.UserContext(), pr, meta(c)); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
	}
	p.setCookie(c, sessionCookie, "", fiber.CookieSameSiteLaxMode, -1)
	return p.render(c, fiber.StatusOK, "result.html", pageData{Title: titleSignOut, OK: true, Message: "You are signed out of " + p.appName + ".",
		Links: []pageLink{{Href: "./sign-in", Text: "Sign in again"}}})
}

func (p *pageHandlers) handleSignUpPage(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "signup.html", pageData{Title: titleSignUp, Pending: pendingID(c.Query(pendingParam))})
}

// handleSignUpPost registers as /v1/register does: the same answer whether
// or not the address has an account (its owner is mailed instead). A
// sign-up for a pending authorization request keeps the request's id in
// the browser's pending cookie for the verification page; any other
// sign-up forgets one kept before.
func (p *pageHandlers) handleSignUpPost(c *fiber.Ctx) error {
	f, ok, err := p.form(c, "email", "password", pendingParam)
	if !ok {
		return err
	}
	pending := pendingID(f[pendingParam])
	if err := p.uc.Register.Handle(c.UserContext(), account.RegisterInput{Email: f["email"], Password: f["password"], Meta: meta(c)}); err != nil {
		return p.pageError(c, err, "signup.html", pageData{Title: titleSignUp, Email: f["email"], Pending: pending})
	}
	switch {
	case pending != "":
		p.setCookie(c, pendingCookie, pending, fiber.CookieSameSiteLaxMode, grant.RequestTTL)
	case c.Cookies(p.cookieName(pendingCookie)) != "":
		p.setCookie(c, pendingCookie, "", fiber.CookieSameSiteLaxMode, -1)
	}
	msg := "We sent a mail to " + f["email"] + ". Open the link in it to verify the address; it asks for the password you just chose. Then sign in."
	if pending != "" {
		msg = "We sent a mail to " + f["email"] + ". Open the link in it in this browser to verify the address; it asks for the password you just chose, then signs you in and goes on where you came from."
	}
	return p.render(c, fiber.StatusAccepted, "result.html", pageData{Title: "Check your mail", OK: true, Message: msg,
		Links: []pageLink{{Href: signInHref(pending), Text: "Go to the sign-in page"}, toResend}})
}

// signInHref is the link to the sign-in page, for the pending
// authorization request pending when it is not "".
func signInHref(pending string) string {
	if pending == "" {
		return "./sign-in"
	}
	return "./sign-in?" + pendingParam + "=" + pending
}
