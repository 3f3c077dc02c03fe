package http

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// LinkState says whether a mailed link can still be used; it consumes
// nothing.
type LinkState interface {
	Live(ctx context.Context, raw string, purpose token.Purpose) (bool, error)
	// VerifyNeedsPassword: the verification form asks for a password
	// (false for an account without one, made by an upstream sign-in).
	VerifyNeedsPassword(ctx context.Context, raw string) bool
}

// pageHandlers are the hosted pages' routes: the site that renders them
// and the use cases their forms call.
type pageHandlers struct {
	*pageSite
	uc UseCases
}

// registerPageRoutes registers the hosted pages, as pc configures them.
func registerPageRoutes(a *fiber.App, uc UseCases, pc PageConfig) {
	p := &pageHandlers{pageSite: newPageSite(pc), uc: uc}
	p.formTarget = p.pendingFormTarget
	if uc.Upstream != nil {
		p.providers = uc.Upstream.Providers()
	}
	p.registerSignInRoutes(a)
	p.registerUpstreamRoutes(a)
	p.registerAuthorizeRoutes(a)
	p.registerEndSessionRoutes(a)
	p.registerAccountRoutes(a)

	a.Get("/verify-email", p.handleVerifyPage)
	a.Post("/verify-email", p.limit(limits.VerifyEmail), p.handleVerifyPost)

	p.registerPasswordLink(a, passwordLinkPage{
		path: "/reset-password", title: titleReset, label: "New password", button: "Set new password",
		noToken: resetNoToken, refused: resetRefused,
		done: "Your password was changed and every session was signed out. You can sign in with the new password.",
	})
	p.registerPasswordLink(a, passwordLinkPage{
		path: "/accept-invite", title: titleInvite, intro: "Welcome to " + p.appName + ". An account was made for you: choose its password to start using it.",
		label: "Password", button: "Set password",
		noToken: inviteNoToken, refused: inviteRefused,
		done: "Your password is set; you can sign in.",
	})

	a.Get("/confirm-email", p.handleConfirmPage)
	a.Post("/confirm-email", p.limit(limits.VerifyEmail), p.handleConfirmPost)

	p.registerEmailForm(a, emailForm{
		path: "/forgot-password", endpoint: limits.Forgot, mail: uc.Forgot,
		page: pageData{Title: titleForgot, Button: "Send reset link",
			Intro: "Enter the address of your account. We send a link to it that lets you choose a new password."},
		sent: "If an account exists for that address, we sent a link to reset its password. Open the newest mail; the link works once and for a short time.",
	})
	p.registerEmailForm(a, emailForm{
		path: "/resend-verification", endpoint: limits.Resend, mail: uc.Resend,
		page: pageData{Title: titleResend, Button: "Send verification link",
			Intro: "Enter the address you registered with. If it still waits for verification, we send a new link to it."},
		sent: "If an account for that address waits for verification, we sent a new link to verify it. Open the newest mail; the link asks for the password you chose when you registered.",
	})
}

// checkIP counts a page's step against the per-IP limit of e, the API
// endpoint that makes the same change.
func (p *pageHandlers) checkIP(c *fiber.Ctx, e limits.Endpoint) error {
	return p.uc.Guard.CheckIP(c.UserContext(), e, ClientIP(c))
}

// limit is limitIP for the hosted pages: a browser over the limit gets a
// page it can read, with Retry-After.
func (p *pageHandlers) limit(e limits.Endpoint) fiber.Handler {
	return limitIP(p.uc.Guard, e, func(c *fiber.Ctx, err error) error {
		return p.pageError(c, err, "result.html", pageData{Title: "Too many attempts"})
	})
}

// liveLinkPage shows a link's form when the link can still be used, and at
// once the page of a dead link (with the way on) when it cannot, instead of
// asking for a password first. Looking consumes nothing: mail scanners
// prefetch links.
func (p *pageHandlers) liveLinkPage(c *fiber.Ctx, purpose token.Purpose, form string, d pageData, dead string, on ...pageLink) error {
	live, err := p.uc.LinkState.Live(c.UserContext(), d.Token, purpose)
	if err != nil {
		return err
	}
	if !live {
		d.Token, d.Message, d.Links = "", dead, on
		return p.render(c, fiber.StatusGone, "result.html", d)
	}
	return p.render(c, fiber.StatusOK, form, d)
}

// pendingCookieID is the pending authorization request this browser
// signed up for (see pendingCookie), or "".
func (p *pageHandlers) pendingCookieID(c *fiber.Ctx) string {
	return pendingID(c.Cookies(p.cookieName(pendingCookie)))
}

func (p *pageHandlers) handleVerifyPage(c *fiber.Ctx) error {
	// Pending: the form may lead back into the request (handleVerifyPost).
	d := pageData{Title: titleVerify, Token: c.Query("token"), Pending: p.pendingCookieID(c)}
	if d.Token == "" {
		// No form that could only fail: say where the link is.
		d.Info, d.Message, d.Links = true, verifyNoToken, []pageLink{toResend}
		return p.render(c, fiber.StatusOK, "result.html", d)
	}
	d.NoPassword = !p.uc.LinkState.VerifyNeedsPassword(c.UserContext(), d.Token)
	return p.liveLinkPage(c, token.PurposeVerifyEmail, "verify.html", d, verifyDead, toResend, toForgot)
}

func (p *pageHandlers) handleVerifyPost(c *fiber.Ctx) error {
	form, ok, err := p.form(c, "token", "password")
	if !ok {
		return err
	}
	d := pageData{Title: titleVerify, Token: form["token"], Pending: p.pendingCookieID(c)}
	u, err := p.uc.VerifyEmail.Handle(c.UserContext(), form["token"], form["password"], meta(c))
	if err != nil {
		switch {
		case errors.Is(err, account.ErrNotThisRegistration):
			// The link works: the form again (the password may have
			// been mistyped) with what else to do.
			d.Message, d.Links = verifyWrongPassword, []pageLink{toForgot, toResend}
			return p.render(c, fiber.StatusBadRequest, "verify.html", d)
		case kindOf(err) == domain.KindBadRequest:
			// No password can help: no form, the way on.
			d.Token, d.Message, d.Links = "", verifyDead, []pageLink{toResend, toForgot}
			return p.render(c, fiber.StatusBadRequest, "result.html", d)
		}
		d.Token = ""
		return p.pageError(c, err, "result.html", d)
	}
	d.OK, d.Token, d.Continue = true, "", true
	d.Message = "Your email address is verified. You can sign in now, or close this page."
	if d.Pending != "" {
		p.setCookie(c, pendingCookie, "", fiber.CookieSameSiteLaxMode, -1) // it leads back once
		return p.verifiedInto(c, u, form["password"], uuid.MustParse(d.Pending), d)
	}
	return p.render(c, fiber.StatusOK, "result.html", d)
}

// verifiedInto leads a verification back into the pending authorization
// request whose sign-up this browser posted (see pendingCookie). The
// verification itself starts the browser session, and the browser goes on
// to /authorize as from the sign-in page: the form was just posted, with
// its CSRF token, by the browser that holds the pending cookie, with the
// registration's password, and the link proves the address; that is what
// a sign-in proves, and more. The sign-in runs the login use case with
// that password, so it counts against the same limits, is audited the
// same way, and the session carries the same amr and auth_time. When it
// cannot sign in (over a limit, a second factor to ask for), the page
// links to the sign-in page of the request instead ("Continue to
// <client>"); a request that is gone by now leaves the plain verified
// page.
func (p *pageHandlers) verifiedInto(c *fiber.Ctx, u *user.User, password string, pending uuid.UUID, d pageData) error {
	out, err := p.uc.Authorize.Continue(c.UserContext(), pending, "", meta(c))
	if errors.Is(err, grant.ErrRequestGone) || errors.Is(err, grant.ErrUnknownClient) {
		return p.render(c, fiber.StatusOK, "result.html", d)
	} else if err != nil {
		return err
	}
	pair, err := p.signInVerified(c, u, password)
	if err != nil {
		return err
	}
	if pair != nil {
		return p.startBrowserSession(c, pair, pending.String())
	}
	d.Continue = false
	d.Message = "Your email address is verified. Sign in to continue to " + out.Client.Name + "."
	d.Links = []pageLink{{Href: signInHref(pending.String()), Text: "Continue to " + out.Client.Name}}
	return p.render(c, fiber.StatusOK, "result.html", d)
}

// signInVerified signs the verified user in with password as the sign-in
// form would: the per-IP limit of /v1/login, then the login use case. Its
// pair is nil when that refuses (a limit, a second factor to ask for):
// the user then signs in on the page.
func (p *pageHandlers) signInVerified(c *fiber.Ctx, u *user.User, password string) (*session.TokenPair, error) {
	if err := p.checkIP(c, limits.Login); err != nil {
		return nil, unlessRefusal(err)
	}
	res, err := p.uc.Login.Handle(c.UserContext(), session.LoginInput{Email: u.Email().String(), Password: password, Meta: meta(c), Browser: true})
	if err != nil {
		return nil, unlessRefusal(err)
	}
	if res.MFARequired() {
		return nil, nil
	}
	return res.TokenPair, nil
}

func (p *pageHandlers) handleConfirmPage(c *fiber.Ctx) error {
	d := pageData{Title: titleConfirm, Token: c.Query("token")}
	if d.Token == "" {
		d.Info, d.Message = true, confirmNoToken
		return p.render(c, fiber.StatusOK, "result.html", d)
	}
	return p.liveLinkPage(c, token.PurposeChangeEmail, "confirm.html", d, confirmRefused)
}

func (p *pageHandlers) handleConfirmPost(c *fiber.Ctx) error {
	form, ok, err := p.form(c, "token")
	if !ok {
		return err
	}
	d := pageData{Title: titleConfirm}
	// A hosted page has no session of its own to keep: every session of
	// the account is signed out.
	u, err := p.uc.ConfirmEmail.Handle(c.UserContext(), form["token"], uuid.Nil, meta(c))
	if err != nil {
		switch kindOf(err) {
		case domain.KindBadRequest:
			d.Message = confirmRefused
			return p.render(c, fiber.StatusBadRequest, "result.html", d)
		case domain.KindConflict:
			d.Message = confirmTaken
			return p.render(c, fiber.StatusConflict, "result.html", d)
		}
		return p.pageError(c, err, "result.html", d)
	}
	d.OK, d.Continue = true, true
	d.Message = "Your email address is now " + u.Email().String() + ". Every session was signed out; sign in again with the new address."
	return p.render(c, fiber.StatusOK, "result.html", d)
}

// passwordLinkPage is a page that sets a password with the link of a
// mail: a reset or an invitation. Either link works on either page (see
// password.Reset); the page only chooses the words.
type passwordLinkPage struct {
	path          string
	title, intro  string // intro: "" for none
	label, button string // of the password field and the submit button
	noToken       string // the answer to a GET without a token
	refused       string // the answer to a refused link
	done          string // the answer to a password set
}

func (pl passwordLinkPage) form(token string) pageData {
	return pageData{Title: pl.title, Intro: pl.intro, Label: pl.label, Button: pl.button, Token: token}
}

func (p *pageHandlers) registerPasswordLink(a *fiber.App, pl passwordLinkPage) {
	a.Get(pl.path, func(c *fiber.Ctx) error { return p.handlePasswordLinkPage(c, pl) })
	a.Post(pl.path, p.limit(limits.Reset), func(c *fiber.Ctx) error { return p.handlePasswordLinkPost(c, pl) })
}

func (p *pageHandlers) handlePasswordLinkPage(c *fiber.Ctx, pl passwordLinkPage) error {
	d := pl.form(c.Query("token"))
	if d.Token == "" {
		d.Info, d.Message, d.Links = true, pl.noToken, []pageLink{toForgot}
		return p.render(c, fiber.StatusOK, "result.html", d)
	}
	// Either kind of password link works on either page (see Reset).
	return p.liveLinkPage(c, token.PurposeResetPassword, "reset.html", d, pl.refused, toForgot, toResend)
}

func (p *pageHandlers) handlePasswordLinkPost(c *fiber.Ctx, pl passwordLinkPage) error {
	in, ok, err := p.form(c, "token", "password")
	if !ok {
		return err
	}
	d := pl.form(in["token"])
	if err := p.uc.Reset.Handle(c.UserContext(), in["token"], in["password"], meta(c)); err != nil {
		switch kindOf(err) {
		case domain.KindValidation:
			// Policy errors: show the form again with what to fix.
			return p.pageError(c, err, "reset.html", d)
		case domain.KindBadRequest:
			d.Token, d.Message, d.Links = "", pl.refused, []pageLink{toForgot, toResend}
			return p.render(c, fiber.StatusBadRequest, "result.html", d)
		}
		d.Token = ""
		return p.pageError(c, err, "result.html", d)
	}
	d = pageData{Title: pl.title, OK: true, Continue: true, Message: pl.done}
	return p.render(c, fiber.StatusOK, "result.html", d)
}

// emailForm is a page that asks for an email address and has a use case
// mail it: the same answer whatever the address, so the page tells nobody
// which addresses have accounts.
type emailForm struct {
	path     string
	endpoint limits.Endpoint // its per-IP limit
	mail     mailByAddress
	page     pageData // title, intro and button of the form
	sent     string   // the one answer to every accepted address
}

// mailByAddress is a use case that mails a link to an address, if it
// should (Forgot, ResendVerification).
type mailByAddress interface {
	Handle(ctx context.Context, rawEmail string) error
}

func (p *pageHandlers) registerEmailForm(a *fiber.App, f emailForm) {
	a.Get(f.path, func(c *fiber.Ctx) error {
		return p.render(c, fiber.StatusOK, "email.html", f.page)
	})
	a.Post(f.path, p.limit(f.endpoint), func(c *fiber.Ctx) error { return p.handleEmailForm(c, f) })
}

func (p *pageHandlers) handleEmailForm(c *fiber.Ctx, f emailForm) error {
	form, ok, err := p.form(c, "email")
	if !ok {
		return err
	}
	if err := f.mail.Handle(c.UserContext(), form["email"]); err != nil {
		return p.pageError(c, err, "email.html", f.page)
	}
	d := pageData{Title: f.page.Title, OK: true, Message: f.sent}
	return p.render(c, fiber.StatusAccepted, "result.html", d)
}
