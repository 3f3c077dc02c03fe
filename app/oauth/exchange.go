package oauth

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// Grant is what a code exchange gives: the token pair of a new grant
// (its Session names the client, scopes and browser session) and the
// nonce the id_token repeats.
type Grant struct {
	*appsession.TokenPair
	Nonce string
}

// ExchangeInput is a token request with grant_type authorization_code
// from an authenticated (or public) client.
type ExchangeInput struct {
	Client      *client.Client
	Code        string
	RedirectURI string
	Verifier    string
	Meta        app.RequestMeta
}

// Exchange redeems an authorization code. Of concurrent exchanges of one
// code exactly one succeeds; a code presented again after it was redeemed
// revokes the grant it made (RFC 6749 4.1.2: the code was stolen, or the
// client is broken).
type Exchange struct {
	d ExchangeDeps
}

// ExchangeDeps are what Exchange needs.
type ExchangeDeps struct {
	Tx     app.TxManager
	Tokens appsession.TokenIssuer
	Clock  app.Clock
	IDs    app.IDGenerator
	Random io.Reader
	TTL    appsession.RefreshTTL
	Idle   appsession.IdleTimeout
}

// NewExchange builds the use case.
func NewExchange(d ExchangeDeps) *Exchange { return &Exchange{d: d} }

// Handle redeems in.Code, or gives grant.ErrInvalidGrant. The grant is a
// session of the code's user that lives no longer than the browser
// session it came from; it has a refresh token when the client is
// registered for the refresh_token grant.
func (h *Exchange) Handle(ctx context.Context, in ExchangeInput) (*Grant, error) {
	hash, err := token.Parse(in.Code)
	if err != nil {
		return nil, grant.ErrInvalidGrant
	}
	var out *Grant
	replayed := false
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		code, err := r.Grants.CodeForChange(ctx, hash)
		if errors.Is(err, grant.ErrNotFound) {
			return grant.ErrInvalidGrant
		} else if err != nil {
			return err
		}
		if code.UsedAt != nil {
			replayed = true
			return h.revokeReplayed(ctx, r, code, in.Meta, now)
		}
		if !code.Redeemable(in.Client.ID, in.RedirectURI, in.Verifier, now) {
			return grant.ErrInvalidGrant
		}
		parent, u, err := r.Sessions.ByIDWithUserHeld(ctx, code.SessionID)
		if errors.Is(err, session.ErrNotFound) {
			return grant.ErrInvalidGrant
		} else if err != nil {
			return err
		}
		if parent.UserID() != code.UserID || !parent.Live(now, time.Duration(h.d.Idle)) || !u.Active() {
			return grant.ErrInvalidGrant
		}
		if in.Client.Consent {
			// A consent revoked since the code was issued takes the code
			// with it; one revoked while this exchange runs waits for it
			// and then ends the grant it made.
			c, err := r.Grants.ConsentForChange(ctx, code.UserID, in.Client.ID)
			if errors.Is(err, grant.ErrNotFound) {
				return grant.ErrInvalidGrant
			} else if err != nil {
				return err
			}
			if !c.Covers(code.Scopes) {
				return grant.ErrInvalidGrant
			}
		}
		ttl := min(time.Duration(h.d.TTL), parent.ExpiresAt().Sub(now))
		s, err := session.New(h.d.IDs.NewID(), u.ID(), now, ttl, in.Meta.UserAgent, in.Meta.IP)
		if err != nil {
			return err
		}
		s.GrantedTo(in.Client.ID, code.Scopes, parent.ID(), code.AMR, code.AuthTime)
		rd := app.CodeRedemption{Code: hash, At: now, Grant: s}
		var secret token.Secret
		if slices.Contains(in.Client.GrantTypes, client.RefreshToken) {
			var rt app.RefreshToken
			if secret, rt, err = appsession.NewRefreshToken(h.d.Random, s, now); err != nil {
				return err
			}
			rd.RefreshToken = &rt
		}
		if err := r.Grants.Redeem(ctx, rd); err != nil {
			return err
		}
		pair, err := appsession.SignPair(ctx, h.d.Tokens, s, u, secret)
		if err != nil {
			return err
		}
		out = &Grant{TokenPair: pair, Nonce: code.Nonce}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if replayed {
		return nil, grant.ErrInvalidGrant
	}
	return out, nil
}

// revokeReplayed revokes the grant a redeemed code made, in the replay's
// transaction, which then commits.
func (h *Exchange) revokeReplayed(ctx context.Context, r app.Repos, code *grant.Code, meta app.RequestMeta, now time.Time) error {
	detail := map[string]string{"client_id": code.ClientID}
	if code.GrantID != uuid.Nil {
		s, err := r.Sessions.ByIDForChange(ctx, code.GrantID)
		if err != nil && !errors.Is(err, session.ErrNotFound) {
			return err
		}
		if err == nil {
			if _, err := app.RevokeSession(ctx, r, h.d.IDs, s, now); err != nil {
				return err
			}
		}
		detail["session_id"] = code.GrantID.String()
	}
	return r.Audit.Append(ctx, meta.Event(audit.CodeReplayDetected, code.UserID, now, detail))
}

// UserInfo is what the userinfo endpoint shows of the bearer's user:
// always the subject, and the address with the email scope (a token of
// the JSON API, which has no scopes, shows it too).
type UserInfo struct {
	Subject       uuid.UUID
	Email         string
	EmailVerified bool
	HasEmail      bool
}

// Claims of a principal of a bearer token.
func Claims(p appsession.Principal) UserInfo {
	info := UserInfo{Subject: p.UserID}
	if p.Session == nil || p.Session.ClientID() == "" || slices.Contains(p.Session.Scopes(), client.ScopeEmail) {
		info.Email, info.EmailVerified, info.HasEmail = p.User.Email().String(), p.User.Verified(), true
	}
	return info
}
