package http

import (
	"errors"

	"github.com/gatehouse-auth/gatehouse/app/limits"
	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gofiber/fiber/v2"
)

// The hosted sign-in with a passkey. The page's script begins the
// ceremony with a fetch (POST /sign-in/passkey/begin, the page's CSRF
// token in the X-CSRF-Token header, which the browser sends only from a
// page of this origin that could read the token), hands the options to
// the browser's WebAuthn API, and posts the authenticator's answer as a
// plain form to /sign-in (fields challenge_id and credential), so that
// what comes back is what the password form gets: 303 into the pending
// authorization request (or to the signed-in page) with the session
// cookie, the code page of an account with TOTP whose authenticator did
// not verify its user, or the sign-in form saying what went wrong. The
// answer is posted to /sign-in itself rather than to a path of its own:
// the pages link relatively, one segment below the root. The begin
// counts as /v1/login/passkey/begin does (limits.PasskeyBegin), the
// finish against the per-IP limit of /v1/login, as a password does.

// csrfHeader carries the page's CSRF token on the script's requests.
const csrfHeader = "X-CSRF-Token"

// What the sign-in page says when a passkey sign-in is refused.
const (
	passkeyRefused = "This passkey was not recognised. Sign in with your password, or try another passkey."
	passkeyExpired = "The passkey sign-in took too long or was interrupted. Try the passkey again, or sign in with your password."
)

// errCSRFHeader refuses a script's request whose X-CSRF-Token header is
// missing or is not the browser's CSRF token.
var errCSRFHeader = &domain.Error{Kind: domain.KindForbidden, Code: "csrf_refused",
	Message: "This page expired or the request came from another site, so nothing was done. Reload the page and try again."}

// handlePasskeySignInBegin answers a passkey sign-in's challenge id and
// request options, as /v1/login/passkey/begin does.
func (p *pageHandlers) handlePasskeySignInBegin(c *fiber.Ctx) error {
	if !p.passkeys {
		return passkey.ErrUnavailable
	}
	if !p.csrfMatches(c, c.Get(csrfHeader)) {
		return errCSRFHeader
	}
	if err := p.checkIP(c, limits.PasskeyBegin); err != nil {
		return err
	}
	return reply(c, renderBegun)(p.uc.PasskeyLogin.Begin(c.UserContext()))
}

// signInPasskey finishes a passkey sign-in: the form carries the
// challenge id of the begin and the authenticator's answer (the JSON of
// the PublicKeyCredential).
func (p *pageHandlers) signInPasskey(c *fiber.Ctx, challengeID, credential, pending string) error {
	d := pageData{Title: titleSignIn, Pending: pending}
	if !p.passkeys {
		return p.pageError(c, passkey.ErrUnavailable, "result.html", pageData{Title: titleSignIn,
			Links: []pageLink{{Href: signInHref(pending), Text: "Sign in with your password"}}})
	}
	if err := p.checkIP(c, limits.Login); err != nil {
		return p.pageError(c, err, "signin.html", d)
	}
	res, err := p.uc.PasskeyLogin.Finish(c.UserContext(), apppasskey.LoginInput{
		ChallengeID: challengeID, Credential: []byte(credential), Meta: meta(c), Browser: true,
	})
	switch {
	case errors.Is(err, passkey.ErrInvalidCredential), errors.Is(err, passkey.ErrCloned):
		d.Message = passkeyRefused
		return p.render(c, fiber.StatusUnauthorized, "signin.html", d)
	case errors.Is(err, passkey.ErrChallengeInvalid):
		d.Message = passkeyExpired
		return p.render(c, fiber.StatusBadRequest, "signin.html", d)
	case err != nil:
		return p.pageError(c, err, "signin.html", d)
	case res.MFARequired():
		return p.render(c, fiber.StatusOK, "signin-code.html", pageData{Title: titleCode, Token: res.MFAToken.Reveal(), Pending: pending})
	}
	return p.startBrowserSession(c, res.TokenPair, pending)
}
