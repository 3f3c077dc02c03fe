package oauth

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse/app"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/google/uuid"
)

// SessionEnder ends a browser session with its grants (session.Logout).
type SessionEnder interface {
	End(ctx context.Context, p appsession.Principal, meta app.RequestMeta) error
}

// EndSession is OpenID Connect RP-Initiated Logout: a client sends the
// browser to end its session with Gatehouse. The session ends at once when
// the request carries a valid id_token_hint of that very session; anything
// else (no hint, an old one, another session's) could be a page of another
// site signing the user out, so the user is asked first and the answer is
// a CSRF-checked form.
type EndSession struct {
	clients app.ClientRepository
	browser BrowserAuth
	ender   SessionEnder
}

// NewEndSession builds the use case. clients works outside any transaction.
func NewEndSession(clients app.ClientRepository, browser BrowserAuth, ender SessionEnder) *EndSession {
	return &EndSession{clients: clients, browser: browser, ender: ender}
}

// Client finds the client a logout names (client_id, or the hint's
// audience) and checks that it registered postLogoutURI; with no URI the
// browser stays on Gatehouse's signed-out page and an unknown client is
// no error. Its errors are shown to the user and never redirect.
func (h *EndSession) Client(ctx context.Context, clientID, postLogoutURI string) (*client.Client, error) {
	if clientID == "" {
		if postLogoutURI != "" {
			return nil, grant.ErrRedirectURI
		}
		return nil, nil
	}
	c, err := h.clients.ByID(ctx, clientID)
	if errors.Is(err, client.ErrNotFound) {
		if postLogoutURI == "" {
			return nil, nil
		}
		return nil, grant.ErrUnknownClient
	} else if err != nil {
		return nil, err
	}
	if postLogoutURI != "" && !client.RedirectAllowed(c.PostLogoutRedirectURIs, postLogoutURI) {
		return nil, grant.ErrRedirectURI
	}
	return c, nil
}

// Handle ends the browser's session when hintSession (the sid of a valid
// id_token_hint, uuid.Nil without one) is that session or the user
// confirmed; ask reports that the user must be asked first. A browser not
// signed in has nothing to end.
func (h *EndSession) Handle(ctx context.Context, browser string, hintSession uuid.UUID, confirmed bool, meta app.RequestMeta) (ask bool, err error) {
	if browser == "" {
		return false, nil
	}
	p, err := h.browser.Browser(ctx, browser)
	if errors.Is(err, domain.ErrUnauthorized) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if !confirmed && (hintSession == uuid.Nil || hintSession != p.SessionID) {
		return true, nil
	}
	if err := h.ender.End(ctx, p, meta); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return false, err
	}
	return false, nil
}
