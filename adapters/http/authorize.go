package http

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"github.com/zitadel/schema"
)

// Authorizer decides what an authorization request gets (oauth.Authorize).
type Authorizer interface {
	Client(ctx context.Context, clientID, redirectURI string) (*client.Client, error)
	Begin(ctx context.Context, c *client.Client, in oauth.AuthorizeInput) (*oauth.Outcome, error)
	Continue(ctx context.Context, requestID uuid.UUID, browser string, meta app.RequestMeta) (*oauth.Outcome, error)
	Consent(ctx context.Context, requestID uuid.UUID, browser string, allow bool, meta app.RequestMeta) (*oauth.Outcome, error)
}

// The authorization endpoint (OpenID Connect Core 3.1.2). The library
// parses the request and checks prompt and the PKCE method; the use case
// decides. Until the client and its registered redirect URI are known,
// every refusal is a page for the user (never a redirect: the request
// names no place that may receive it); after, it goes to the redirect URI
// with error, error_description, state and iss (RFC 9207). A request the
// use case keeps (for the sign-in or the consent page) is resumed at
// /authorize?pending=ID.
const (
	titleAuthorize = "Cannot sign in"
	titleConsent   = "Allow access?"
	pendingParam   = "pending"

	authorizeUnreadable = "The application that sent you here made a request that cannot be read. Go back to the application and try again; if this keeps happening, tell its developers."
	authorizeRepeated   = "The application that sent you here repeated a parameter of its request. Go back to the application and try again; if this keeps happening, tell its developers."
	authorizeGone       = "This sign-in took too long or was already completed. Go back to the application and start again."
)

// maxAuthorizeParam bounds each parameter of an authorization request in
// bytes (a redirect URI is at most 2000 at registration).
const maxAuthorizeParam = 2048

// Parameters of an authorization request that may appear once each
// (RFC 6749 3.1); the rest are ignored.
var authorizeParams = []string{"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "request", "request_uri", "login_hint", "id_token_hint", "ui_locales", "display", "claims", "acr_values"}

// authorizeDecoder decodes authorization requests as the library's own
// handlers do: unknown parameters are ignored.
var authorizeDecoder = func() *schema.Decoder {
	d := schema.NewDecoder()
	d.IgnoreUnknownKeys(true)
	return d
}()

// authResponse is the query of a redirect to the client: a code, or an
// error; always the state it sent and the issuer (RFC 9207).
type authResponse struct {
	Code        string `schema:"code,omitempty"`
	Error       string `schema:"error,omitempty"`
	Description string `schema:"error_description,omitempty"`
	State       string `schema:"state,omitempty"`
	Issuer      string `schema:"iss"`
}

func (p *pageHandlers) registerAuthorizeRoutes(a *fiber.App) {
	a.Get("/authorize", p.handleAuthorize)
	a.Post("/authorize", p.handleAuthorize)
	a.Get("/consent", p.handleConsentPage)
	a.Post("/consent", p.handleConsentPost)
}

// authorizeRefused is the page of a request that cannot be answered at
// its redirect URI.
func (p *pageHandlers) authorizeRefused(c *fiber.Ctx, status int, msg string) error {
	return p.render(c, status, "result.html", pageData{Title: titleAuthorize, Message: msg})
}

func (p *pageHandlers) handleAuthorize(c *fiber.Ctx) error {
	if id := c.Query(pendingParam); id != "" {
		return p.resume(c, id, func(ctx context.Context, id uuid.UUID, browser string) (*oauth.Outcome, error) {
			return p.uc.Authorize.Continue(ctx, id, browser, meta(c))
		})
	}
	r, err := adaptor.ConvertRequest(c, false)
	if err != nil {
		return p.authorizeRefused(c, fiber.StatusBadRequest, authorizeUnreadable)
	}
	req, err := op.ParseAuthorizeRequest(r, authorizeDecoder)
	if err != nil {
		return p.authorizeRefused(c, fiber.StatusBadRequest, authorizeUnreadable)
	}
	for _, k := range authorizeParams {
		if len(r.Form[k]) > 1 {
			return p.authorizeRefused(c, fiber.StatusBadRequest, authorizeRepeated)
		}
		// What is kept and sent back (state, nonce, the redirect URI)
		// must be text the store keeps byte for byte.
		if v := r.Form.Get(k); len(v) > maxAuthorizeParam || !utf8.ValidString(v) || hasControl(v) {
			return p.authorizeRefused(c, fiber.StatusBadRequest, authorizeUnreadable)
		}
	}
	cl, err := p.uc.Authorize.Client(c.UserContext(), req.ClientID, req.RedirectURI)
	if err != nil {
		return p.pageError(c, err, "result.html", pageData{Title: titleAuthorize})
	}
	fail := func(e *oidc.Error) error {
		return p.redirectClient(c, req.RedirectURI, authResponse{Error: string(e.ErrorType), Description: e.Description, State: req.State})
	}
	switch {
	case req.RequestParam != "":
		return fail(oidc.ErrRequestNotSupported().WithDescription("Request objects are not supported."))
	case r.Form.Get("request_uri") != "":
		return fail(&oidc.Error{ErrorType: "request_uri_not_supported", Description: "request_uri is not supported."})
	case req.ResponseType != oidc.ResponseTypeCode:
		return fail(&oidc.Error{ErrorType: "unsupported_response_type", Description: "Only the authorization code flow (response_type=code) is supported."})
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return fail(oidc.ErrInvalidRequest().WithDescription("Only response_mode=query is supported."))
	}
	if _, err := op.ValidateAuthReqPrompt(req.Prompt, req.MaxAge); err != nil {
		return fail(oidc.DefaultToServerError(err, err.Error()))
	}
	if err := op.ValidateAuthReqCodeChallengeMethod(req.CodeChallenge, req.CodeChallengeMethod); err != nil {
		return fail(oidc.DefaultToServerError(err, err.Error()))
	}
	in := oauth.AuthorizeInput{
		RedirectURI: req.RedirectURI, Scopes: req.Scopes, State: req.State, Nonce: req.Nonce,
		CodeChallenge: req.CodeChallenge, ChallengeMethod: string(req.CodeChallengeMethod),
		Browser: c.Cookies(p.cookieName(sessionCookie)), Meta: meta(c),
	}
	for _, pr := range req.Prompt {
		switch pr {
		case oidc.PromptNone:
			in.PromptNone = true
		case oidc.PromptLogin:
			in.ForceLogin = true
		case oidc.PromptConsent:
			in.ForceConsent = true
		}
	}
	if req.MaxAge != nil {
		d := time.Duration(*req.MaxAge) * time.Second
		in.MaxAge = &d
	}
	out, err := p.uc.Authorize.Begin(c.UserContext(), cl, in)
	if err != nil {
		return err
	}
	return p.answerAuthorize(c, out)
}

// resume continues the kept request named by id with step.
func (p *pageHandlers) resume(c *fiber.Ctx, raw string, step func(ctx context.Context, id uuid.UUID, browser string) (*oauth.Outcome, error)) error {
	id, err := uuid.Parse(raw)
	if err != nil {
		return p.authorizeRefused(c, fiber.StatusNotFound, authorizeGone)
	}
	out, err := step(c.UserContext(), id, c.Cookies(p.cookieName(sessionCookie)))
	if errors.Is(err, grant.ErrRequestGone) {
		return p.authorizeRefused(c, fiber.StatusNotFound, authorizeGone)
	}
	if err != nil {
		return p.pageError(c, err, "result.html", pageData{Title: titleAuthorize})
	}
	return p.answerAuthorize(c, out)
}

// answerAuthorize sends the browser where the use case decided: back to
// the client with a code or an error, or to the sign-in or consent page.
func (p *pageHandlers) answerAuthorize(c *fiber.Ctx, out *oauth.Outcome) error {
	r := out.Request
	switch {
	case out.Code != "":
		return p.redirectClient(c, r.RedirectURI, authResponse{Code: out.Code.Reveal(), State: r.State})
	case out.Refused != nil:
		resp := authResponse{Error: "server_error", State: r.State}
		var de *domain.Error
		if errors.As(out.Refused, &de) {
			resp.Error, resp.Description = de.Code, de.Message
		}
		return p.redirectClient(c, r.RedirectURI, resp)
	case out.Consent:
		HostedPageHeaders(c)
		return c.Redirect("./consent?"+pendingParam+"="+r.ID.String(), fiber.StatusSeeOther)
	default:
		HostedPageHeaders(c)
		return c.Redirect("./sign-in?"+pendingParam+"="+r.ID.String(), fiber.StatusSeeOther)
	}
}

// redirectClient sends the browser to a redirect URI the client
// registered (the use case checked it), with resp in its query.
func (p *pageHandlers) redirectClient(c *fiber.Ctx, redirectURI string, resp authResponse) error {
	resp.Issuer = p.issuer
	to, err := op.AuthResponseURL(redirectURI, oidc.ResponseTypeCode, oidc.ResponseModeQuery, &resp, oidc.NewEncoder())
	if err != nil {
		return err
	}
	HostedPageHeaders(c)
	return c.Redirect(to, fiber.StatusSeeOther)
}

// handleConsentPage shows what the client of a kept request asks for, when
// the signed-in user has not allowed it yet; otherwise it answers the
// request as /authorize would.
func (p *pageHandlers) handleConsentPage(c *fiber.Ctx) error {
	id, err := uuid.Parse(c.Query(pendingParam))
	if err != nil {
		return p.authorizeRefused(c, fiber.StatusNotFound, authorizeGone)
	}
	out, err := p.uc.Authorize.Continue(c.UserContext(), id, c.Cookies(p.cookieName(sessionCookie)), meta(c))
	if errors.Is(err, grant.ErrRequestGone) {
		return p.authorizeRefused(c, fiber.StatusNotFound, authorizeGone)
	}
	if err != nil {
		return p.pageError(c, err, "result.html", pageData{Title: titleAuthorize})
	}
	if !out.Consent {
		return p.answerAuthorize(c, out)
	}
	d := pageData{Title: titleConsent, Pending: id.String(), FormTo: formSource(out.Request.RedirectURI),
		Client: out.Client.Name, Scopes: scopeWords(out.Request.Scopes)}
	if pr, ok, err := p.signedIn(c); err != nil {
		return err
	} else if ok {
		d.Email = pr.User.Email().String()
	}
	// The page must not be framed (clickjacking): HostedPageHeaders sends
	// frame-ancestors 'none'.
	return p.render(c, fiber.StatusOK, "consent.html", d)
}

func (p *pageHandlers) handleConsentPost(c *fiber.Ctx) error {
	f, ok, err := p.form(c, pendingParam, "decision")
	if !ok {
		return err
	}
	allow := f["decision"] == "allow"
	return p.resume(c, f[pendingParam], func(ctx context.Context, id uuid.UUID, browser string) (*oauth.Outcome, error) {
		return p.uc.Authorize.Consent(ctx, id, browser, allow, meta(c))
	})
}

// pendingFormTarget is the form-action source of the redirect URI of the
// pending request pending (see hostedPageHeadersTo): a page that answers
// it has a form whose redirects end there. "" when the request is gone or
// cannot be read now: the page's forms then post back here only, and the
// post says what became of the request.
func (p *pageHandlers) pendingFormTarget(c *fiber.Ctx, pending string) string {
	id, err := uuid.Parse(pending)
	if err != nil {
		return ""
	}
	// Without the browser's session Continue only finds the request (it
	// asks for the sign-in) and changes nothing.
	out, err := p.uc.Authorize.Continue(c.UserContext(), id, "", meta(c))
	if err != nil {
		return ""
	}
	return formSource(out.Request.RedirectURI)
}

// scopeWords says what each scope lets a client have, in plain words.
func scopeWords(scopes []string) []string {
	words := make([]string, 0, len(scopes))
	for _, s := range scopes {
		switch s {
		case client.ScopeOpenID:
			words = append(words, "know who you are (your account id)")
		case client.ScopeEmail:
			words = append(words, "see your email address")
		case client.ScopeProfile:
			words = append(words, "see your profile")
		case client.ScopeOfflineAccess:
			words = append(words, "stay signed in when you are not using it")
		}
	}
	return words
}
