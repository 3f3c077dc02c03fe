package http

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// SessionEnder is OpenID Connect RP-Initiated Logout (oauth.EndSession).
type SessionEnder interface {
	Client(ctx context.Context, clientID, postLogoutURI string) (*client.Client, error)
	Handle(ctx context.Context, in oauth.EndSessionInput) (ask bool, err error)
}

// endSessionRequest is the logout request's parameters, as the library
// reads them, with the confirmation of the page that asks.
type endSessionRequest struct {
	oidc.EndSessionRequest
	Confirm string `schema:"confirm"`
	CSRF    string `schema:"csrf"`
}

const titleEndSession = "Sign out?"

// registerEndSessionRoutes serves GET|POST /end-session: with a valid
// id_token_hint of the browser's own session the session ends at once;
// otherwise the user is asked (a form with the CSRF token that posts the
// request back with confirm=yes). Then the browser goes to the client's
// registered post_logout_redirect_uri with state, or sees the signed-out
// page. An unregistered post_logout_redirect_uri is a page, never a
// redirect.
func (p *pageHandlers) registerEndSessionRoutes(a *fiber.App) {
	a.Get(pathEndSession, p.handleEndSession)
	a.Post(pathEndSession, p.handleEndSession)
}

func (p *pageHandlers) handleEndSession(c *fiber.Ctx) error {
	r, err := adaptor.ConvertRequest(c, false)
	if err != nil {
		return p.authorizeRefused(c, fiber.StatusBadRequest, authorizeUnreadable)
	}
	if err := r.ParseForm(); err != nil {
		return p.authorizeRefused(c, fiber.StatusBadRequest, authorizeUnreadable)
	}
	var req endSessionRequest
	if err := authorizeDecoder.Decode(&req, r.Form); err != nil {
		return p.authorizeRefused(c, fiber.StatusBadRequest, authorizeUnreadable)
	}
	for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "confirm"} {
		if len(r.Form[k]) > 1 {
			return p.authorizeRefused(c, fiber.StatusBadRequest, authorizeRepeated)
		}
	}
	confirmed := false
	if c.Method() == fiber.MethodPost && req.Confirm == "yes" {
		if _, ok, err := p.form(c); !ok {
			return err
		}
		confirmed = true
	}
	in := oauth.EndSessionInput{Browser: c.Cookies(p.cookieName(sessionCookie)), Confirmed: confirmed, Meta: meta(c)}
	clientID := req.ClientID
	if req.IdTokenHint != "" {
		claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](c.UserContext(), req.IdTokenHint, op.NewIDTokenHintVerifier(p.issuer, p.uc.IDTokenKeys,
			op.WithSupportedIDTokenHintSigningAlgorithms(string(signingkey.RS256), string(signingkey.EdDSA))))
		// An expired id_token is still a proof of the session it names
		// to the browser that holds that session.
		if err == nil || errors.As(err, &op.IDTokenHintExpiredError{}) {
			if id, perr := uuid.Parse(claims.SessionID); perr == nil {
				in.HintSession, in.HintLive = id, err == nil
			}
			if clientID == "" && len(claims.Audience) > 0 {
				clientID = claims.Audience[0]
			}
		}
	}
	cl, err := p.uc.EndSession.Client(c.UserContext(), clientID, req.PostLogoutRedirectURI)
	if err != nil {
		return p.pageError(c, err, "result.html", pageData{Title: titleSignOut})
	}
	ask, err := p.uc.EndSession.Handle(c.UserContext(), in)
	if err != nil {
		return err
	}
	if ask {
		d := pageData{Title: titleEndSession, EndSession: &req.EndSessionRequest}
		if cl != nil {
			d.Client = cl.Name
			// The confirmation's POST leads on to the client.
			d.FormTo = formSource(req.PostLogoutRedirectURI)
		}
		return p.render(c, fiber.StatusOK, "endsession.html", d)
	}
	p.setCookie(c, sessionCookie, "", fiber.CookieSameSiteLaxMode, -1)
	if cl != nil && req.PostLogoutRedirectURI != "" {
		to, err := op.AuthResponseURL(req.PostLogoutRedirectURI, oidc.ResponseTypeCode, oidc.ResponseModeQuery, &struct {
			State string `schema:"state,omitempty"`
		}{req.State}, oidc.NewEncoder())
		if err != nil {
			return err
		}
		HostedPageHeaders(c)
		return c.Redirect(to, fiber.StatusSeeOther)
	}
	return p.render(c, fiber.StatusOK, "result.html", pageData{Title: titleSignOut, OK: true, Message: "You are signed out of " + p.appName + ".",
		Links: []pageLink{{Href: "./sign-in", Text: "Sign in again"}}})
}
