package oauth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// BearerAuth checks a user's access token as every bearer endpoint does.
type BearerAuth interface {
	Handle(ctx context.Context, bearer string) (appsession.Principal, error)
}

// ClientToken issues a client's own access token (the client_credentials
// grant): its subject is the client, it has no user and no session, so
// user endpoints refuse it; it lives as long as any access token.
type ClientToken struct {
	tokens appsession.TokenIssuer
}

// NewClientToken builds the use case.
func NewClientToken(tokens appsession.TokenIssuer) *ClientToken { return &ClientToken{tokens: tokens} }

// Handle signs a token for confidential client c with the scopes it asks
// for that it is registered for (openid and offline_access mean nothing
// without a user and are dropped). Asking only for scopes it may not have
// is invalid_scope.
func (h *ClientToken) Handle(ctx context.Context, c *client.Client, scopes []string) (string, app.AccessClaims, error) {
	if c.Type != client.Confidential || !slices.Contains(c.GrantTypes, client.ClientCredentials) {
		return "", app.AccessClaims{}, grant.ErrUnauthorizedClient
	}
	var granted []string
	for _, s := range scopes {
		if slices.Contains(c.Scopes, s) && s != client.ScopeOpenID && s != client.ScopeOfflineAccess && !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	if len(scopes) > 0 && len(granted) == 0 {
		return "", app.AccessClaims{}, grant.ErrInvalidScope
	}
	return h.tokens.Issue(ctx, app.AccessClaims{ClientID: c.ID, Scope: granted})
}

// RevokeToken is the revocation endpoint (RFC 7009): a client ends a
// grant of its own by presenting its refresh token or an access token of
// it. The grant (a session) is revoked, so its refresh tokens stop at once
// and its access tokens at Gatehouse's own endpoints. A token that is
// unknown, invalid, already revoked or another client's changes nothing
// and is no error (RFC 7009 2.2).
type RevokeToken struct {
	tx     app.TxManager
	tokens appsession.TokenVerifier
	clock  app.Clock
	ids    app.IDGenerator
}

// NewRevokeToken builds the use case.
func NewRevokeToken(tx app.TxManager, tokens appsession.TokenVerifier, clock app.Clock, ids app.IDGenerator) *RevokeToken {
	return &RevokeToken{tx: tx, tokens: tokens, clock: clock, ids: ids}
}

// Handle revokes the grant of raw when it is c's.
func (h *RevokeToken) Handle(ctx context.Context, c *client.Client, raw string, meta app.RequestMeta) error {
	var sessionID uuid.UUID
	var hash token.Hash
	refresh := false
	if looksLikeJWT(raw) {
		claims, err := h.tokens.Verify(ctx, raw)
		if err != nil || claims.SessionID == uuid.Nil || claims.ClientID != c.ID {
			return nil
		}
		sessionID = claims.SessionID
	} else {
		var err error
		if hash, err = token.Parse(raw); err != nil {
			return nil
		}
		refresh = true
	}
	return h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if refresh {
			rt, err := r.Sessions.RefreshTokenForChange(ctx, hash)
			if errors.Is(err, session.ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
			sessionID = rt.SessionID
		}
		s, err := r.Sessions.ByIDForChange(ctx, sessionID)
		if errors.Is(err, session.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if s.ClientID() != c.ID {
			return nil
		}
		now := h.clock.Now()
		if ended, err := app.RevokeSession(ctx, r, h.ids, s, now); err != nil || !ended {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.SessionRevoked, s.UserID(), now, map[string]string{"session_id": s.ID().String(), "client_id": c.ID}))
	})
}

// Introspection is what the introspection endpoint tells of a token (RFC
// 7662): Active, and for an active token whose it is and what it allows.
type Introspection struct {
	Active    bool
	Subject   string
	ClientID  string
	Scope     []string
	SessionID uuid.UUID
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Refresh: the token is a refresh token (else an access token).
	Refresh bool
}

// Introspect is the introspection endpoint. Any confidential client (a
// resource server is registered as one) may ask about an access token; a
// refresh token is told only to the client it was issued to. An access
// token of a user is active while its session is live and its user
// active, as at every bearer endpoint; a client's own token while the
// client exists.
type Introspect struct {
	sessions app.SessionRepository
	users    app.UserRepository
	tokens   appsession.TokenVerifier
	bearer   BearerAuth
	clients  app.ClientRepository
	clock    app.Clock
	idle     time.Duration
}

// NewIntrospect builds the use case. sessions, users and clients work
// outside any transaction: introspection only reads.
func NewIntrospect(sessions app.SessionRepository, users app.UserRepository, tokens appsession.TokenVerifier, bearer BearerAuth, clients app.ClientRepository, clock app.Clock, idle appsession.IdleTimeout) *Introspect {
	return &Introspect{sessions: sessions, users: users, tokens: tokens, bearer: bearer, clients: clients, clock: clock, idle: time.Duration(idle)}
}

// Handle tells c about raw.
func (h *Introspect) Handle(ctx context.Context, c *client.Client, raw string) (Introspection, error) {
	if c.Type != client.Confidential {
		return Introspection{}, grant.ErrInvalidClient
	}
	if looksLikeJWT(raw) {
		claims, err := h.tokens.Verify(ctx, raw)
		if errors.Is(err, domain.ErrUnauthorized) {
			return Introspection{}, nil
		} else if err != nil {
			return Introspection{}, err
		}
		out := Introspection{Active: true, ClientID: claims.ClientID, Scope: claims.Scope, SessionID: claims.SessionID, IssuedAt: claims.IssuedAt, ExpiresAt: claims.ExpiresAt}
		if claims.SessionID == uuid.Nil {
			if _, err := h.clients.ByID(ctx, claims.ClientID); errors.Is(err, client.ErrNotFound) {
				return Introspection{}, nil
			} else if err != nil {
				return Introspection{}, err
			}
			out.Subject = claims.ClientID
			return out, nil
		}
		if _, err := h.bearer.Handle(ctx, raw); errors.Is(err, domain.ErrUnauthorized) {
			return Introspection{}, nil
		} else if err != nil {
			return Introspection{}, err
		}
		out.Subject = claims.Subject.String()
		return out, nil
	}
	hash, err := token.Parse(raw)
	if err != nil {
		return Introspection{}, nil
	}
	return h.refresh(ctx, c, hash)
}

// refresh tells c about the refresh token with hash: active while it is
// unused, c's, and its grant live and its user active.
func (h *Introspect) refresh(ctx context.Context, c *client.Client, hash token.Hash) (Introspection, error) {
	now := h.clock.Now()
	rt, err := h.sessions.RefreshToken(ctx, hash)
	if errors.Is(err, session.ErrNotFound) {
		return Introspection{}, nil
	} else if err != nil {
		return Introspection{}, err
	}
	s, err := h.sessions.ByID(ctx, rt.SessionID)
	if errors.Is(err, session.ErrNotFound) {
		return Introspection{}, nil
	} else if err != nil {
		return Introspection{}, err
	}
	if rt.UsedAt != nil || s.ClientID() != c.ID || !s.Live(now, h.idle) {
		return Introspection{}, nil
	}
	u, err := h.users.ByID(ctx, s.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return Introspection{}, nil
	} else if err != nil || !u.Active() {
		return Introspection{}, err
	}
	return Introspection{Active: true, Refresh: true, Subject: s.UserID().String(), ClientID: c.ID, Scope: s.Scopes(),
		SessionID: s.ID(), IssuedAt: rt.CreatedAt, ExpiresAt: s.ExpiresAt()}, nil
}

// looksLikeJWT tells an access token (a compact JWS) from a refresh
// token (43 base64url characters, no dots).
func looksLikeJWT(raw string) bool { return strings.Count(raw, ".") == 2 }
