package http

import (
	"encoding/base64"
	"errors"
	"html/template"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The account page (/account): a browser signed in on the hosted pages
// manages its sessions, password, second factor and passkeys there, with
// the use cases, limits and answers of the JSON API, the principal being
// the browser session's. Every form posts to /account itself, naming its
// operation in the field "op", so that the page that answers it is at the
// same address and its relative links hold. Only adding a passkey needs
// JavaScript (the browser's WebAuthn API): its script calls the two
// endpoints under /account/passkeys/register, which take the CSRF token
// in the X-CSRF-Token header and answer problem+json.
//
// A browser without a live session is sent to sign in, and back here
// after the sign-in: /account sets returnCookie, which holds only the
// fixed word "account", and startBrowserSession follows it once. No
// address from a request ever becomes a redirect.
//
// After the script added a passkey it opens the page again; the page says
// so only when addedCookie, set by the finish and read once, comes with
// the request: a link cannot make the page claim an addition.
const (
	returnCookie = "gatehouse_return"
	returnTTL    = 15 * time.Minute
	addedCookie  = "gatehouse_added"
	addedTTL     = time.Minute
	titleAccount = "Your account"
	linkAccount  = "./account"
)

// accountView is what the account page shows of the signed-in user.
type accountView struct {
	Email    string
	Sessions []sessionRow
	// MFAEnabled: TOTP is on; the sensitive forms then take a code (a
	// session that proved a second factor recently may leave it empty).
	MFAEnabled bool
	// Enrollment is a TOTP setup begun by this post: shown once.
	Enrollment *enrollmentView
	// RecoveryCodes are shown once, after a confirmation or a renewal.
	RecoveryCodes []string
	Passkeys      []passkeyRow
	// Linked: the section of upstream sign-ins is shown (providers are
	// configured, or the user has identities).
	Linked     bool
	Identities []identityRow
	// LinkTo are the "Link NAME" links of the providers not linked yet.
	LinkTo []pageLink
}

type identityRow struct {
	ID, Provider, Email, Created, LastUsed string
}

type sessionRow struct {
	ID, UserAgent, IP, Client string
	Created, LastUsed         string
	Current                   bool
}

type passkeyRow struct {
	ID, Name, Created, LastUsed string
}

type enrollmentView struct {
	Secret, URI string
	// QR is the data: URI of a PNG of URI's QR code, made here from the
	// use case's bytes (so the template may take it for a safe URL).
	QR template.URL
}

// accountOps are the forms of the account page, by their "op" field.
var accountOps = map[string]func(p *pageHandlers, c *fiber.Ctx, pr session.Principal, f map[string]string) error{
	"revoke-session": (*pageHandlers).accountRevokeSession,
	"password":       (*pageHandlers).accountPassword,
	"totp-start":     (*pageHandlers).accountTOTPStart,
	"totp-confirm":   (*pageHandlers).accountTOTPConfirm,
	"totp-disable":   (*pageHandlers).accountTOTPDisable,
	"recovery-codes": (*pageHandlers).accountRecoveryCodes,
	"passkey-rename": (*pageHandlers).accountPasskeyRename,
	"passkey-delete": (*pageHandlers).accountPasskeyDelete,
	"unlink":         (*pageHandlers).accountUnlink,
}

// accountFields are the fields any of the account page's forms posts.
var accountFields = []string{"op", "id", "name", "current_password", "new_password", "password", "code"}

func (p *pageHandlers) registerAccountRoutes(a *fiber.App) {
	a.Get("/account", p.handleAccountPage)
	a.Post("/account", p.handleAccountPost)
	// The JSON API's handlers, over the browser session's principal.
	h := &handlers{uc: p.uc}
	a.Post("/account/passkeys/register/begin", p.accountJSON, h.limit(limits.Password), h.handlePasskeyRegisterBegin)
	a.Post("/account/passkeys/register/finish", p.accountJSON, h.limit(limits.Password), p.markAdded, withJSON(h.handlePasskeyRegisterFinish))
}

// markAdded sets addedCookie once the finish has stored the passkey.
func (p *pageHandlers) markAdded(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		return err
	}
	if c.Response().StatusCode() == fiber.StatusCreated {
		p.setCookie(c, addedCookie, "passkey", fiber.CookieSameSiteStrictMode, addedTTL)
	}
	return nil
}

// afterSignIn is where a browser that just signed in goes: back to the
// account page when that sent it to sign in, else the signed-in page.
func (p *pageHandlers) afterSignIn(c *fiber.Ctx) string {
	if c.Cookies(p.cookieName(returnCookie)) == "account" {
		p.setCookie(c, returnCookie, "", fiber.CookieSameSiteLaxMode, -1)
		return "account"
	}
	return "sign-in"
}

func (p *pageHandlers) handleAccountPage(c *fiber.Ctx) error {
	pr, ok, err := p.signedIn(c)
	if err != nil {
		return err
	}
	if !ok {
		p.setCookie(c, returnCookie, "account", fiber.CookieSameSiteLaxMode, returnTTL)
		HostedPageHeaders(c)
		return c.Redirect("./sign-in", fiber.StatusSeeOther)
	}
	var d pageData
	if c.Cookies(p.cookieName(addedCookie)) == "passkey" {
		p.setCookie(c, addedCookie, "", fiber.CookieSameSiteStrictMode, -1)
		d.OK, d.Message = true, "Your passkey was added: you can now sign in with it, without your password."
	}
	return p.renderAccount(c, pr, fiber.StatusOK, d)
}

func (p *pageHandlers) handleAccountPost(c *fiber.Ctx) error {
	f, ok, err := p.form(c, accountFields...)
	if !ok {
		return err
	}
	pr, ok, err := p.signedIn(c)
	if err != nil {
		return err
	}
	if !ok {
		return p.render(c, fiber.StatusUnauthorized, "result.html", pageData{Title: titleAccount,
			Message: "You are signed out, so nothing was changed. Sign in, then open your account again.",
			Links:   []pageLink{{Href: linkAccount, Text: "Sign in and open your account"}}})
	}
	op := accountOps[f["op"]]
	if op == nil {
		return p.renderAccount(c, pr, fiber.StatusBadRequest, pageData{Message: "This form is not one of this page's, so nothing was changed. Use the forms below."})
	}
	return op(p, c, pr, f)
}

// loadIdentities fills in v the user's linked sign-ins and the providers
// left to link; nothing on a service without upstream sign-in.
func (p *pageHandlers) loadIdentities(c *fiber.Ctx, pr session.Principal, v *accountView) error {
	if p.uc.Identities == nil {
		return nil
	}
	ids, err := p.uc.Identities.Handle(c.UserContext(), pr.UserID)
	if err != nil {
		return err
	}
	linked := map[string]bool{}
	for _, i := range ids {
		name := i.ProviderName
		if name == "" {
			name = i.Provider() + " (no longer offered)"
		}
		linked[i.Provider()] = true
		v.Identities = append(v.Identities, identityRow{ID: i.ID().String(), Provider: name, Email: i.Email(),
			Created: pageTime(i.CreatedAt()), LastUsed: lastUsed(i.LastUsedAt())})
	}
	for _, pv := range p.providers {
		if !linked[pv.ID] {
			v.LinkTo = append(v.LinkTo, pageLink{Href: "./sign-in/upstream/" + pv.ID, Text: "Link " + pv.Name})
		}
	}
	v.Linked = len(p.providers) > 0 || len(ids) > 0
	return nil
}

// lastUsed is when a way to sign in was last used, as the page says it.
func lastUsed(at *time.Time) string {
	if at == nil {
		return "never"
	}
	return pageTime(*at)
}

// renderAccount renders the account page of pr with d's message and
// one-time secrets.
func (p *pageHandlers) renderAccount(c *fiber.Ctx, pr session.Principal, status int, d pageData) error {
	if err := p.loadAccount(c, pr, &d); err != nil {
		return err
	}
	return p.render(c, status, "account.html", d)
}

// loadAccount fills in d what the account page lists of pr.
func (p *pageHandlers) loadAccount(c *fiber.Ctx, pr session.Principal, d *pageData) error {
	if d.Account == nil {
		d.Account = &accountView{}
	}
	v := d.Account
	d.Title, v.Email, v.MFAEnabled = titleAccount, pr.User.Email().String(), pr.MFAEnabled
	views, err := p.uc.ListSessions.Handle(c.UserContext(), pr)
	if err != nil {
		return err
	}
	v.Sessions = make([]sessionRow, 0, len(views))
	for _, s := range views {
		v.Sessions = append(v.Sessions, sessionRow{ID: s.Session.ID().String(), UserAgent: s.Session.UserAgent(), IP: s.Session.IP(),
			Client: s.Session.ClientID(), Created: pageTime(s.Session.CreatedAt()), LastUsed: pageTime(s.Session.LastUsedAt()), Current: s.Current})
	}
	if err := p.loadIdentities(c, pr, v); err != nil {
		return err
	}
	if !p.passkeys {
		return nil
	}
	keys, err := p.uc.PasskeyList.Handle(c.UserContext(), pr.UserID)
	if err != nil {
		return err
	}
	v.Passkeys = make([]passkeyRow, 0, len(keys))
	for _, k := range keys {
		v.Passkeys = append(v.Passkeys, passkeyRow{ID: k.ID().String(), Name: k.Name(), Created: pageTime(k.CreatedAt()), LastUsed: lastUsed(k.LastUsedAt())})
	}
	return nil
}

// pageTime is t as the pages show it.
func pageTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// accountDone renders the account page with msg, a success.
func (p *pageHandlers) accountDone(c *fiber.Ctx, pr session.Principal, msg string, d pageData) error {
	d.OK, d.Message = true, msg
	return p.renderAccount(c, pr, fiber.StatusOK, d)
}

// accountRefused renders the account page with the refusal err in the
// page's words, or hands err to the one error handler when it is not a
// refusal.
func (p *pageHandlers) accountRefused(c *fiber.Ctx, pr session.Principal, err error) error {
	if unlessRefusal(err) != nil {
		return err
	}
	var d pageData
	if err := p.loadAccount(c, pr, &d); err != nil {
		return err
	}
	if msg := accountWords(err); msg != "" {
		status, _ := ProblemFor(err)
		d.Message = msg
		if errors.Is(err, passkey.ErrLastWayToSignIn) || errors.Is(err, upstream.ErrLastWayToSignIn) {
			d.Links = []pageLink{{Href: linkForgot, Text: "Set a password: get a password-reset link by email"}}
		}
		return p.render(c, status, "account.html", d)
	}
	return p.pageError(c, err, "account.html", d)
}

// setupCodeRefused is what the account page says of a wrong code that
// was to confirm an authenticator app's setup.
const setupCodeRefused = "The code is not right. Enter the code your authenticator app shows now."

// accountWords is what the account page says of a refusal whose API
// message is written for developers; "" leaves the API's message.
func accountWords(err error) string {
	switch {
	case errors.Is(err, domain.ErrWrongPassword):
		return "The current password is not right, so nothing was changed. Enter the password you sign in with; if you forgot it, sign out and reset it."
	case errors.Is(err, mfa.ErrStepUpRequired):
		return "This change needs your second factor: enter the code your authenticator app shows now (or an unused recovery code) in the Code field, and send the form again."
	case errors.Is(err, mfa.ErrWrongCode), errors.Is(err, mfa.ErrInvalidCode):
		return codeRefused
	case errors.Is(err, mfa.ErrNotStarted):
		return "No setup of an authenticator app is under way. Start it again: enter your password under Two-step sign-in."
	case errors.Is(err, passkey.ErrNotFound):
		return "This passkey is not on your account any more. The list below shows your passkeys now."
	case errors.Is(err, passkey.ErrLastWayToSignIn):
		return "This passkey is your last way to sign in, so it was not deleted. Add another passkey first, or set a password: ask for a password-reset link (below) and choose one from the email."
	case errors.Is(err, mfa.ErrNotEnabled):
		return "Two-step sign-in is off, so there is nothing to turn off and no recovery codes to renew. To turn it on, enter your password under Two-step sign-in."
	case errors.Is(err, mfa.ErrAlreadyEnabled):
		return "Two-step sign-in is on already. To set up another authenticator app, turn it off first, then set it up again."
	case errors.Is(err, upstream.ErrNotFound):
		return "This sign-in is not linked to your account any more. The list below shows your linked sign-ins now."
	case errors.Is(err, upstream.ErrLastWayToSignIn):
		return "This linked sign-in is your last way to sign in, so it was not removed. Add a passkey first, or set a password: ask for a password-reset link (below) and choose one from the email."
	case errors.Is(err, domain.ErrNotFound):
		return "This session has ended already. The list below shows your sessions now."
	case errors.Is(err, session.ErrNotFirstParty):
		return "This browser is signed in through an application, which cannot change how you sign in. Sign in on this site's sign-in page, then try again."
	}
	return ""
}

// formProof is the step-up a form brings: the browser's session and the
// form's code field.
func formProof(pr session.Principal, f map[string]string) appmfa.Proof {
	return appmfa.Proof{Session: pr.Session, Code: f["code"]}
}

// accountID is the "id" field of f, a UUID, or uuid.Nil.
func accountID(f map[string]string) uuid.UUID {
	id, err := uuid.Parse(f["id"])
	if err != nil {
		return uuid.Nil
	}
	return id
}

func (p *pageHandlers) accountRevokeSession(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	id := accountID(f)
	if err := p.uc.RevokeSession.Handle(c.UserContext(), pr, id, meta(c)); err != nil {
		return p.accountRefused(c, pr, err)
	}
	if id == pr.SessionID {
		p.setCookie(c, sessionCookie, "", fiber.CookieSameSiteLaxMode, -1)
		return p.render(c, fiber.StatusOK, "result.html", pageData{Title: titleSignOut, OK: true,
			Message: "You ended the session of this browser, so you are signed out of " + p.appName + ".",
			Links:   []pageLink{{Href: linkAccount, Text: "Sign in again"}}})
	}
	return p.accountDone(c, pr, "The session was ended: that device is signed out.", pageData{})
}

func (p *pageHandlers) accountPassword(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	in := password.ChangeInput{UserID: pr.UserID, SessionID: pr.SessionID, CurrentPassword: f["current_password"], NewPassword: f["new_password"],
		Proof: formProof(pr, f), Meta: meta(c)}
	if err := p.uc.Change.Handle(c.UserContext(), in); err != nil {
		return p.accountRefused(c, pr, err)
	}
	return p.accountDone(c, pr, "Your password was changed. Every other session was signed out; this browser stays signed in.", pageData{})
}

func (p *pageHandlers) accountTOTPStart(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	e, err := p.uc.MFAStart.Handle(c.UserContext(), appmfa.StartInput{UserID: pr.UserID, Password: f["password"], Meta: meta(c)})
	if err != nil {
		return p.accountRefused(c, pr, err)
	}
	d := pageData{Info: true, DataImages: true, Message: "Scan the code with your authenticator app, then enter the code it shows to finish.",
		Account: &accountView{Enrollment: &enrollmentView{Secret: e.Secret, URI: e.URI, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG))}}}
	return p.renderAccount(c, pr, fiber.StatusOK, d)
}

func (p *pageHandlers) accountTOTPConfirm(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	codes, err := p.uc.MFAConfirm.Handle(c.UserContext(), pr.UserID, pr.SessionID, f["code"], meta(c))
	if errors.Is(err, mfa.ErrWrongCode) || errors.Is(err, mfa.ErrInvalidCode) {
		// The setup stays under way: the confirm form again, in setup
		// words (no recovery code can serve here).
		status, _ := ProblemFor(err)
		return p.renderAccount(c, pr, status, pageData{Message: setupCodeRefused, Account: &accountView{Enrollment: &enrollmentView{}}})
	}
	if err != nil {
		return p.accountRefused(c, pr, err)
	}
	pr.MFAEnabled = true
	return p.accountDone(c, pr, "Two-step sign-in is on: from now on, signing in asks for a code from your authenticator app.",
		pageData{Account: &accountView{RecoveryCodes: revealAll(codes)}})
}

func (p *pageHandlers) accountTOTPDisable(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	in := appmfa.DisableInput{UserID: pr.UserID, Password: f["password"], Proof: formProof(pr, f), Meta: meta(c)}
	if err := p.uc.MFADisable.Handle(c.UserContext(), in); err != nil {
		return p.accountRefused(c, pr, err)
	}
	pr.MFAEnabled = false
	return p.accountDone(c, pr, "Two-step sign-in is off: signing in asks only for your password. Your recovery codes no longer work.", pageData{})
}

func (p *pageHandlers) accountRecoveryCodes(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	codes, err := p.uc.MFARegenerate.Handle(c.UserContext(), pr.UserID, formProof(pr, f), meta(c))
	if err != nil {
		return p.accountRefused(c, pr, err)
	}
	return p.accountDone(c, pr, "You have new recovery codes; the old ones no longer work.", pageData{Account: &accountView{RecoveryCodes: revealAll(codes)}})
}

// revealAll is the recovery codes as the page shows them, once.
func revealAll(codes []mfa.RecoveryCode) []string {
	out := make([]string, len(codes))
	for i, code := range codes {
		out[i] = code.Reveal()
	}
	return out
}

func (p *pageHandlers) accountPasskeyRename(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := pr.FirstParty(); err != nil {
		return p.accountRefused(c, pr, err)
	}
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	k, err := p.uc.PasskeyRename.Handle(c.UserContext(), pr.UserID, accountID(f), f["name"])
	if err != nil {
		return p.accountRefused(c, pr, err)
	}
	return p.accountDone(c, pr, "The passkey is now named “"+k.Name()+"”.", pageData{})
}

func (p *pageHandlers) accountPasskeyDelete(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := pr.FirstParty(); err != nil {
		return p.accountRefused(c, pr, err)
	}
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	if err := p.uc.PasskeyDelete.Handle(c.UserContext(), pr.UserID, accountID(f), formProof(pr, f), meta(c)); err != nil {
		return p.accountRefused(c, pr, err)
	}
	return p.accountDone(c, pr, "The passkey was deleted: it no longer signs you in. You may also remove it from the device that holds it.", pageData{})
}

func (p *pageHandlers) accountUnlink(c *fiber.Ctx, pr session.Principal, f map[string]string) error {
	if err := pr.FirstParty(); err != nil {
		return p.accountRefused(c, pr, err)
	}
	if err := p.checkIP(c, limits.Password); err != nil {
		return p.accountRefused(c, pr, err)
	}
	if err := p.uc.Unlink.Handle(c.UserContext(), pr.UserID, accountID(f), meta(c)); err != nil {
		return p.accountRefused(c, pr, err)
	}
	return p.accountDone(c, pr, "The linked sign-in was removed: it no longer signs you in to this account.", pageData{})
}

// accountJSON guards the account page's script endpoints: the CSRF token
// in the X-CSRF-Token header (the page's, which another site cannot
// read), then a live browser session of the account itself, whose
// principal it keeps for the handler. Refusals are problem+json.
func (p *pageHandlers) accountJSON(c *fiber.Ctx) error {
	if !p.csrfMatches(c, c.Get(csrfHeader)) {
		return errCSRFHeader
	}
	pr, ok, err := p.signedIn(c)
	if err != nil {
		return err
	}
	if !ok {
		return errSignedOut
	}
	if err := pr.FirstParty(); err != nil {
		return err
	}
	c.Locals(principalKey, pr)
	return c.Next()
}

// errSignedOut refuses the account page's script endpoints to a browser
// signed out meanwhile, in words the page shows as they are.
var errSignedOut = &domain.Error{Kind: domain.KindUnauthorized, Code: "unauthorized",
	Message: "You are signed out, so nothing was done. Reload the page to sign in again."}
