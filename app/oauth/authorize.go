// Package oauth holds the use cases of the OpenID Connect provider: the
// authorization endpoint's decisions (sign in first, consent, or a code at
// once), the code exchange, and what the userinfo endpoint shows. The
// protocol's parsing and its answers are the OpenID Connect adapter's; the
// product's rules (who is signed in, how freshly, what a client may have)
// are here and in domain/grant.
package oauth

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// BrowserAuth finds the signed-in browser by its session cookie's secret.
type BrowserAuth interface {
	Browser(ctx context.Context, secret string) (appsession.Principal, error)
}

// AuthorizeInput is an authorization request the adapter parsed and
// checked against the protocol (response type code, known prompt values).
type AuthorizeInput struct {
	RedirectURI     string
	Scopes          []string
	State           string
	Nonce           string
	CodeChallenge   string
	ChallengeMethod string
	// PromptNone: answer at once, with an error rather than a page.
	// ForceLogin (prompt=login) and ForceConsent (prompt=consent) ask for
	// a new sign-in and a new consent.
	PromptNone   bool
	ForceLogin   bool
	ForceConsent bool
	// MaxAge is max_age when the request set it.
	MaxAge *time.Duration
	// Browser is the secret of the browser's session cookie, "" without one.
	Browser string
	Meta    app.RequestMeta
}

// Outcome is what the authorization endpoint answers: the client is sent
// Code, or Refused (an OAuth error), at Request.RedirectURI with
// Request.State; or the browser is shown the sign-in (SignIn) or the
// consent page (Consent) for the kept request Request.ID.
type Outcome struct {
	Request *grant.Request
	Client  *client.Client
	Code    token.Secret
	Refused error
	SignIn  bool
	Consent bool
}

// Authorize decides what an authorization request gets.
type Authorize struct {
	d AuthorizeDeps
}

// AuthorizeDeps are what Authorize needs. Clients, Grants and Browser work
// outside any transaction.
type AuthorizeDeps struct {
	Clients app.ClientRepository
	Grants  app.GrantRepository
	Browser BrowserAuth
	Tx      app.TxManager
	Clock   app.Clock
	IDs     app.IDGenerator
	Random  io.Reader
}

// NewAuthorize builds the use case.
func NewAuthorize(d AuthorizeDeps) *Authorize { return &Authorize{d: d} }

// Client finds the client of a request and checks that it registered
// redirectURI (grant.RedirectAllowed's rule). Its errors, grant.ErrUnknownClient
// and grant.ErrRedirectURI, are shown to the user and never redirect.
func (h *Authorize) Client(ctx context.Context, clientID, redirectURI string) (*client.Client, error) {
	c, err := h.d.Clients.ByID(ctx, clientID)
	if errors.Is(err, client.ErrNotFound) {
		return nil, grant.ErrUnknownClient
	} else if err != nil {
		return nil, err
	}
	if !client.RedirectAllowed(c.RedirectURIs, redirectURI) {
		return nil, grant.ErrRedirectURI
	}
	return c, nil
}

// Begin answers a new request of client c (found by Client): PKCE with
// S256 is required of every client, the client must have the
// authorization_code grant, and the scopes are those requested that the
// client is registered for.
func (h *Authorize) Begin(ctx context.Context, c *client.Client, in AuthorizeInput) (*Outcome, error) {
	now := h.d.Clock.Now()
	r := &grant.Request{
		ID: h.d.IDs.NewID(), ClientID: c.ID, RedirectURI: in.RedirectURI, State: in.State, Nonce: in.Nonce,
		CodeChallenge: in.CodeChallenge, ForceLogin: in.ForceLogin, ForceConsent: in.ForceConsent, CreatedAt: now, ExpiresAt: now.Add(grant.RequestTTL),
	}
	if in.MaxAge != nil {
		r.HasMaxAge, r.MaxAge = true, *in.MaxAge
	}
	out := &Outcome{Request: r, Client: c}
	switch {
	case !slices.Contains(c.GrantTypes, client.AuthorizationCode):
		out.Refused = grant.ErrUnauthorizedClient
		return out, nil
	case in.ChallengeMethod != "S256" || !grant.ValidChallenge(in.CodeChallenge):
		out.Refused = grant.ErrPKCERequired
		return out, nil
	}
	for _, s := range in.Scopes {
		if slices.Contains(c.Scopes, s) && !slices.Contains(r.Scopes, s) {
			r.Scopes = append(r.Scopes, s)
		}
	}
	if len(r.Scopes) == 0 {
		out.Refused = grant.ErrInvalidScope
		return out, nil
	}
	return h.decide(ctx, out, in.Browser, in.PromptNone, false, in.Meta)
}

// Continue takes up a kept request once the browser has signed in.
func (h *Authorize) Continue(ctx context.Context, requestID uuid.UUID, browser string, meta app.RequestMeta) (*Outcome, error) {
	out, err := h.kept(ctx, requestID)
	if err != nil {
		return nil, err
	}
	return h.decide(ctx, out, browser, false, true, meta)
}

// Consent records the signed-in user's answer on the consent page of a
// kept request: allowed, the consent is remembered and the client gets its
// code; refused, the client gets access_denied.
func (h *Authorize) Consent(ctx context.Context, requestID uuid.UUID, browser string, allow bool, meta app.RequestMeta) (*Outcome, error) {
	out, err := h.kept(ctx, requestID)
	if err != nil {
		return nil, err
	}
	p, err := h.signedIn(ctx, browser)
	if err != nil {
		return nil, err
	}
	if p == nil {
		out.SignIn = true
		return out, nil
	}
	now := h.d.Clock.Now()
	if !allow {
		if err := h.d.Grants.DeleteRequest(ctx, requestID); err != nil {
			return nil, err
		}
		out.Refused = grant.ErrAccessDenied
		return out, nil
	}
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		c := &grant.Consent{UserID: p.UserID, ClientID: out.Client.ID, Scopes: out.Request.Scopes, GivenAt: now}
		if err := r.Grants.SaveConsent(ctx, c); err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.ConsentGiven, p.UserID, now, map[string]string{"client_id": out.Client.ID}))
	})
	if err != nil {
		return nil, err
	}
	return h.decide(ctx, out, browser, false, true, meta)
}

// kept finds a kept request that has not expired, and its client.
func (h *Authorize) kept(ctx context.Context, id uuid.UUID) (*Outcome, error) {
	r, err := h.d.Grants.Request(ctx, id)
	if errors.Is(err, grant.ErrNotFound) {
		return nil, grant.ErrRequestGone
	} else if err != nil {
		return nil, err
	}
	if r.Expired(h.d.Clock.Now()) {
		return nil, grant.ErrRequestGone
	}
	c, err := h.d.Clients.ByID(ctx, r.ClientID)
	if errors.Is(err, client.ErrNotFound) {
		return nil, grant.ErrUnknownClient
	} else if err != nil {
		return nil, err
	}
	return &Outcome{Request: r, Client: c}, nil
}

// signedIn is the browser's principal, nil when it is not signed in.
func (h *Authorize) signedIn(ctx context.Context, browser string) (*appsession.Principal, error) {
	if browser == "" {
		return nil, nil
	}
	p, err := h.d.Browser.Browser(ctx, browser)
	if errors.Is(err, domain.ErrUnauthorized) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &p, nil
}

// decide answers out.Request: a code when the browser is signed in
// freshly enough and the client needs no (new) consent; else the sign-in
// or consent page, or with prompt=none the error that says which was
// needed. kept says the request is stored already.
func (h *Authorize) decide(ctx context.Context, out *Outcome, browser string, promptNone, kept bool, meta app.RequestMeta) (*Outcome, error) {
	now := h.d.Clock.Now()
	r := out.Request
	p, err := h.signedIn(ctx, browser)
	if err != nil {
		return nil, err
	}
	if p == nil || !r.SignInFresh(p.Session.AuthTime(), now) {
		if promptNone {
			out.Refused = grant.ErrLoginRequired
			return out, nil
		}
		out.SignIn = true
		return out, h.keep(ctx, r, kept)
	}
	if out.Client.Consent {
		c, err := h.d.Grants.Consent(ctx, p.UserID, out.Client.ID)
		if err != nil && !errors.Is(err, grant.ErrNotFound) {
			return nil, err
		}
		if c == nil || !c.Covers(r.Scopes) || r.ForceConsent && c.GivenAt.Before(r.CreatedAt) {
			if promptNone {
				out.Refused = grant.ErrConsentRequired
				return out, nil
			}
			out.Consent = true
			return out, h.keep(ctx, r, kept)
		}
	}
	secret, hash, err := token.NewSecret(h.d.Random)
	if err != nil {
		return nil, err
	}
	s := p.Session
	code := grant.NewCode(hash, r, s.ID(), p.UserID, s.AuthTime(), s.AMR(), now)
	err = h.d.Tx.Within(ctx, func(ctx context.Context, repos app.Repos) error {
		if err := repos.Grants.CreateCode(ctx, code); err != nil {
			return err
		}
		if kept {
			if err := repos.Grants.DeleteRequest(ctx, r.ID); err != nil {
				return err
			}
		}
		return repos.Audit.Append(ctx, meta.Event(audit.AuthorizationGranted, p.UserID, now, map[string]string{"client_id": out.Client.ID, "session_id": s.ID().String()}))
	})
	if err != nil {
		return nil, err
	}
	out.Code = secret
	return out, nil
}

// keep stores r unless it is stored already.
func (h *Authorize) keep(ctx context.Context, r *grant.Request, kept bool) error {
	if kept {
		return nil
	}
	return h.d.Grants.CreateRequest(ctx, r)
}
