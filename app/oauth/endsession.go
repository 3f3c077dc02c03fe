package oauth

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse/app"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/session"
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
// a CSRF-checked form. A request with no browser session but an unexpired
// id_token_hint (a relying party's server signing its user out, as
// oauth2-proxy's backend logout does) ends the session the hint names.
type EndSession struct {
	clients  app.ClientRepository
	sessions app.SessionRepository
	browser  BrowserAuth
	ender    SessionEnder
}

// EndSessionInput is a logout request the adapter parsed.
type EndSessionInput struct {
	// Browser is the secret of the browser's session cookie, "" without.
	Browser string
	// HintSession is the sid of a valid id_token_hint (uuid.Nil without
	// one); HintLive says the hint has not expired.
	HintSession uuid.UUID
	HintLive    bool
	// Confirmed: the user answered the question with the CSRF-checked form.
	Confirmed bool
	Meta      app.RequestMeta
}

// NewEndSession builds the use case. clients and sessions work outside any
// transaction.
func NewEndSession(clients app.ClientRepository, sessions app.SessionRepository, browser BrowserAuth, ender SessionEnder) *EndSession {
	return &EndSession{clients: clients, sessions: sessions, browser: browser, ender: ender}
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

// Handle ends a session (see EndSession) and reports whether the user
// must be asked first.
func (h *EndSession) Handle(ctx context.Context, in EndSessionInput) (ask bool, err error) {
	var p *appsession.Principal
	if in.Browser != "" {
		got, err := h.browser.Browser(ctx, in.Browser)
		if err != nil && !errors.Is(err, domain.ErrUnauthorized) {
			return false, err
		}
		if err == nil {
			p = &got
		}
	}
	switch {
	case p != nil && !in.Confirmed && in.HintSession != p.SessionID:
		return true, nil
	case p == nil && in.HintSession != uuid.Nil && in.HintLive:
		b, err := h.sessions.ForBearer(ctx, in.HintSession)
		if errors.Is(err, session.ErrNotFound) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		p = &appsession.Principal{UserID: b.Session.UserID(), SessionID: b.Session.ID(), User: b.User, Session: b.Session}
	case p == nil:
		return false, nil // a browser not signed in has nothing to end
	}
	if err := h.ender.End(ctx, *p, in.Meta); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return false, err
	}
	return false, nil
}
