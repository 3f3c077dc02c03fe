package http

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"strings"

	appupstream "github.com/gatehouse-auth/gatehouse/app/upstream"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// The hosted pages are the links in the mails. A GET only shows a form: mail
// scanners prefetch links, so nothing is consumed until the user posts it.
// The pages work without JavaScript, and their CSP allows none, except on
// a page that names scripts (pageData.Scripts) for a ceremony that cannot
// be done without it (a passkey's): that page allows this site's own
// scripts from /assets and nothing else. Every page that cannot do what
// it is for (no token, a refused link) says what to do instead and links
// to the page that does it.

//go:embed pages/*.html pages/assets/*.js
var pageFS embed.FS

var pageTmpl = template.Must(template.ParseFS(pageFS, "pages/*.html"))

// DefaultAppName names the product on the pages when PageConfig.AppName is
// empty.
const DefaultAppName = "Gatehouse"

// PageConfig is what the hosted pages say beyond the use cases' answers.
type PageConfig struct {
	// AppName names the product (GATEHOUSE_APP_NAME); "" is DefaultAppName.
	AppName string
	// AppURL (GATEHOUSE_APP_URL, an absolute http(s) URL checked at
	// startup), when set, is linked from the pages of a successful
	// verification, reset or email change: "Continue to <AppName>".
	AppURL string
	// PasswordMinLength is GATEHOUSE_PASSWORD_MIN_LENGTH, stated on the
	// password forms; 0 is user.MinPasswordFloor.
	PasswordMinLength int
	// SecureCookies marks the cookies Secure, with the __Host- prefix;
	// NewServer sets it when PUBLIC_URL is https.
	SecureCookies bool
	// Issuer is the OpenID Connect issuer (PUBLIC_URL without a trailing
	// slash); NewServer sets it.
	Issuer string
	// Passkeys says that this service is a WebAuthn relying party (its
	// public URL's host, or GATEHOUSE_WEBAUTHN_RP_ID, is a domain name):
	// the sign-in page then offers passkeys. Off, the passkey routes of
	// the pages answer 404 passkeys_unavailable and no page mentions them.
	Passkeys bool
}

// Paths of the pages, relative to the page that links to them: every page
// is one segment below the root, so "./x" works at the root and under a
// path prefix that a proxy strips (GATEHOUSE_PUBLIC_URL carries it).
const (
	linkForgot = "./forgot-password"
	linkResend = "./resend-verification"
)

// pageLink is a link a page offers to go on.
type pageLink struct {
	Href string
	Text string
}

var (
	toForgot = pageLink{Href: linkForgot, Text: "Ask for a new password-reset link"}
	toResend = pageLink{Href: linkResend, Text: "Ask for a new verification link"}
)

type pageData struct {
	Title   string
	Token   string
	Message string
	Errors  []string
	OK      bool
	Info    bool       // Message is neither a success nor an error: what to do instead
	Links   []pageLink // where to go on from here
	// Continue shows the "Continue to <AppName>" link, when AppURL is set.
	Continue bool

	// Of the email forms (forgot password, resend verification) and the
	// password-link pages (reset, invitation).
	Intro  string
	Button string
	// Label names the password field of a password-link page.
	Label string

	// Of the sign-in and sign-up forms: the browser's CSRF token, and the
	// address to show (typed before, or of the signed-in user).
	CSRF  string
	Email string
	// Pending is the authorization request a sign-in (or consent) answers.
	Pending string
	// FormTo is the form-action source of Pending's redirect URI (see
	// hostedPageHeadersTo); render finds it when it is "".
	FormTo string
	// Of the consent page: the client's name and what it asks for.
	Client string
	Scopes []string
	// Of the end-session page: the logout request to post back.
	EndSession *oidc.EndSessionRequest
	// Providers are the sign-in page's "Continue with NAME" links (and
	// the signed-in page's "Link NAME" links); render fills them in.
	Providers []pageLink
	// NoPassword: the verification form of an account without a
	// password, which the link alone verifies.
	NoPassword bool
	// Root leads from the page back to the root, where the pages its
	// forms post to are: "" is "./" (a page one segment below the root).
	Root string
	// Scripts are the names of files under /assets the page loads (see
	// passkeyPages); none keeps the page's CSP free of scripts.
	Scripts []string
	// DataImages lets the page show images of data: URIs (the QR code of
	// a TOTP setup); every other page's CSP allows no image.
	DataImages bool
	// Of the account page.
	Account *accountView
	// Passkeys: the page offers its passkey ceremony (see passkeyPages).
	Passkeys bool

	// Filled in by render from the PageConfig.
	AppName   string
	AppURL    string
	MinLength int
	MaxLength int
}

// formLeadsOn are the pages whose form, for a pending authorization
// request, is answered by redirects back into the request and on to the
// client's redirect URI (see hostedPageHeadersTo).
var formLeadsOn = map[string]bool{"signin.html": true, "signin-code.html": true, "consent.html": true, "verify.html": true}

// passkeyPages are the pages that offer a passkey ceremony when this
// service has passkeys (PageConfig.Passkeys), with the scripts that run
// it. Without passkeys, or without JavaScript, they work as forms alone.
var passkeyPages = map[string][]string{"signin.html": {"webauthn.js", "signin.js"}, "account.html": {"webauthn.js", "account.js"}}

// pageSite renders the hosted pages of one configuration.
type pageSite struct {
	appName   string
	appURL    string
	minLength int
	secure    bool
	issuer    string
	passkeys  bool
	// providers are the upstream providers the sign-in page offers.
	providers []appupstream.Provider
	// formTarget is the form-action source of the redirect URI of a
	// pending authorization request, "" when there is none (nil: never).
	formTarget func(c *fiber.Ctx, pending string) string
}

func newPageSite(pc PageConfig) *pageSite {
	s := &pageSite{appName: pc.AppName, appURL: pc.AppURL, minLength: pc.PasswordMinLength, secure: pc.SecureCookies, issuer: pc.Issuer, passkeys: pc.Passkeys}
	if s.appName == "" {
		s.appName = DefaultAppName
	}
	if s.minLength <= 0 {
		s.minLength = user.MinPasswordFloor
	}
	return s
}

func (s *pageSite) render(c *fiber.Ctx, status int, name string, d pageData) error {
	tok, err := s.csrfToken(c)
	if err != nil {
		return err
	}
	d.CSRF, d.AppName, d.MinLength, d.MaxLength = tok, s.appName, s.minLength, user.MaxPasswordLength
	if d.Continue {
		d.AppURL = s.appURL
	}
	if scripts, ok := passkeyPages[name]; ok && s.passkeys {
		d.Passkeys, d.Scripts = true, scripts
	}
	switch name {
	case "signin.html":
		d.Providers = s.providerLinks(d.Pending, "Continue with")
	case "signedin.html":
		d.Providers = s.providerLinks("", "Link your account at")
	}
	if d.Pending != "" && d.FormTo == "" && formLeadsOn[name] && s.formTarget != nil {
		d.FormTo = s.formTarget(c, d.Pending)
	}
	var buf bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&buf, name, d); err != nil {
		return err
	}
	hostedPageHeadersTo(c, d.FormTo)
	if len(d.Scripts) > 0 {
		c.Set(fiber.HeaderContentSecurityPolicy, withScripts(string(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy))))
	}
	if d.DataImages {
		c.Set(fiber.HeaderContentSecurityPolicy, withDataImages(string(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy))))
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// pageError renders a refusal the user can read, in plain words. Errors
// that are not the user's (a bug, the database down) go to the one error
// handler.
func (s *pageSite) pageError(c *fiber.Ctx, err error, name string, d pageData) error {
	if unlessRefusal(err) != nil {
		return err
	}
	var de *domain.Error
	errors.As(err, &de)
	status, p := ProblemFor(err)
	d.OK, d.Info = false, false
	switch de.Kind {
	case domain.KindValidation:
		d.Message = "" // the field errors say it
	case domain.KindRateLimited:
		d.Message = "There were too many attempts from your network. " + waitHint(p.RetryAfter)
	default:
		d.Message = de.Message
	}
	for _, f := range de.Fields {
		d.Errors = append(d.Errors, s.fieldMessage(f))
	}
	if d.Message == "" && len(d.Errors) == 0 {
		d.Message = de.Message
	}
	if p.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(p.RetryAfter))
	}
	return s.render(c, status, name, d)
}

// unlessRefusal is err unless it refuses what the user asked for (a
// domain error that is neither internal nor an outage), nil then: a page
// can answer a refusal; anything else goes to the one error handler.
func unlessRefusal(err error) error {
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind == domain.KindInternal || de.Kind == domain.KindUnavailable {
		return err
	}
	return nil
}

// fieldMessage is a field error in the words of a page: the API's messages
// are written for developers, these for the person at the form.
func (s *pageSite) fieldMessage(f domain.FieldError) string {
	switch f.Code {
	case user.RulePasswordTooShort:
		return fmt.Sprintf("This password is too short: use at least %d characters. A few words in a row make a long password that is easy to remember.", s.minLength)
	case user.RulePasswordTooLong:
		return fmt.Sprintf("This password is too long: use at most %d characters.", user.MaxPasswordLength)
	case user.RulePasswordCommon:
		return "This password is one of the most common ones, which attackers try first. Choose another one."
	case user.RulePasswordContainsEmail:
		return "This password contains the part of your email address before the @. Choose one without it."
	case user.RulePasswordTooGuessable:
		// The policy's message says why in plain words already.
		if why, ok := strings.CutPrefix(f.Message, "The password "); ok {
			return "This password " + why
		}
		return "This password is too easy to guess. A few unrelated words make a strong password that is easy to remember."
	case user.RulePasswordInvalid:
		return "This password contains characters that cannot be used, such as control characters. Choose another one."
	case "invalid_email":
		return "This is not an email address we can send mail to. Check it for typos; it looks like name@example.com."
	}
	return f.Message
}

// waitHint says how long to wait before trying again.
func waitHint(seconds int) string {
	switch {
	case seconds <= 0:
		return "Wait a few minutes, then try again."
	case seconds < 60:
		return "Wait a minute, then try again."
	case seconds < 2*60*60:
		return fmt.Sprintf("Wait about %d minutes, then try again.", (seconds+59)/60)
	default:
		return fmt.Sprintf("Wait about %d hours, then try again.", (seconds+3599)/3600)
	}
}

// The verification page's answers to a refused form. Only the link's
// holder sees them, and a live link's holder learns nothing from being told
// the link works: a dead link (unknown, expired, used or replaced, or an
// address verified already) and a wrong password get different words.
const (
	verifyDead = "This link has expired or was already used, so it cannot verify the address any more. " +
		"If the address is verified already, sign in. Otherwise ask for a new link below; it asks for the password you chose when you registered."
	verifyWrongPassword = "This password is not the one chosen at the registration that sent this link. " +
		"Enter the password you chose when you registered; if you registered more than once, use the link from the newest mail. " +
		"If you no longer know the password, reset it."
)

// Answers of the pages opened without the token of a mail's link.
const (
	verifyNoToken = "This page verifies an email address with the link from the verification mail. " +
		"Open the link in that mail; if you cannot find it or it has expired, ask for a new one."
	resetNoToken = "This page sets a new password with the link from a password-reset mail. " +
		"Open the link in that mail; if you cannot find it or it has expired, ask for a new one."
	resetRefused = "This link cannot reset a password: it is unknown, has expired or was already used, or a newer link replaced it. " +
		"Ask for a new one; a reset link works once and for a short time."
)

// Answers of the invitation page.
const (
	inviteNoToken = "This page sets the password of an account made for you, with the link from the invitation mail. " +
		"Open the link in that mail; if it has expired, ask whoever invited you for a new invitation, or ask for a password-reset link."
	inviteRefused = "This invitation link cannot set a password: it is unknown, has expired or was already used. " +
		"If you set your password already, sign in with it; otherwise ask whoever invited you for a new invitation, or ask for a password-reset link."
)

// notFoundMessage is the 404 page's answer.
const notFoundMessage = "There is no page at this address. If you came from a link in a mail, open it again from the mail, or copy the whole link into the address bar; " +
	"if the link no longer works, ask for a new one."

// notFound answers an unknown path with an HTML page when the client
// prefers HTML over JSON (a browser), and leaves everyone else the
// problem+json 404 (fiber.ErrNotFound).
func (s *pageSite) notFound(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead || !prefersHTML(c) {
		return fiber.ErrNotFound
	}
	// The links are relative, as on every page, but this page may be deeper
	// than one segment below the root: climb back first.
	up := strings.Repeat("../", strings.Count(strings.TrimPrefix(c.Path(), "/"), "/"))
	var links []pageLink
	for _, l := range []pageLink{toForgot, toResend} {
		if up != "" {
			l.Href = up + strings.TrimPrefix(l.Href, "./")
		}
		links = append(links, l)
	}
	d := pageData{Title: "Page not found", Message: notFoundMessage, Links: links}
	return s.render(c, fiber.StatusNotFound, "result.html", d)
}

// prefersHTML reports whether the client prefers an HTML page to JSON (a
// browser does).
func prefersHTML(c *fiber.Ctx) bool {
	return c.Accepts(fiber.MIMEApplicationJSON, "application/problem+json", fiber.MIMETextHTML) == fiber.MIMETextHTML
}

// Answers of the email-change confirmation page.
const (
	confirmNoToken = "This page confirms a new email address with the link mailed to that address. " +
		"Open the link from that mail; if you cannot find it or it has expired, ask for the change again from your account."
	confirmRefused = "This link cannot change the address: it is unknown, expired or already used, or a newer request replaced it. " +
		"Ask for the change again from your account; your current address stays in use until then."
	confirmTaken = "Another account uses this address now, so this account cannot move to it. Your current address stays in use."
)

// Titles of the pages.
const (
	titleVerify  = "Verify your email"
	titleReset   = "Choose a new password"
	titleInvite  = "Set your password"
	titleConfirm = "Confirm your new email address"
	titleForgot  = "Reset your password"
	titleResend  = "Get a new verification link"
)

// withScripts is a hosted page's CSP allowing the site's own scripts and
// their requests back to this origin, and nothing else that is not allowed
// already.
func withScripts(csp string) string {
	return strings.Replace(csp, "default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';", 1)
}

// withDataImages is a hosted page's CSP that also allows images of data:
// URIs.
func withDataImages(csp string) string {
	return strings.Replace(csp, "default-src 'none';", "default-src 'none'; img-src data:;", 1)
}

// registerAssets serves the pages' scripts (pages/assets): only the
// embedded files, as JavaScript, cacheable for five minutes.
func registerAssets(a *fiber.App) {
	a.Get("/assets/:name", func(c *fiber.Ctx) error {
		name := c.Params("name")
		if strings.ContainsAny(name, "/\\") || !strings.HasSuffix(name, ".js") {
			return fiber.ErrNotFound
		}
		b, err := pageFS.ReadFile("pages/assets/" + name)
		if err != nil {
			return fiber.ErrNotFound
		}
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		return c.Send(b)
	})
}
