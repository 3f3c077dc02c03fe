// Package session holds the use cases of the session module: login,
// refresh with rotation and reuse detection, logout, bearer
// authentication and the listing and revocation of sessions.
package session

//go:generate go tool mockgen -destination=../mock/session.go -package=mock github.com/gatehouse-auth/gatehouse/app/session TokenIssuer,TokenVerifier

import (
	"context"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// RefreshTTL is the absolute lifetime of a session.
type RefreshTTL time.Duration

// IdleTimeout ends a session not refreshed for this long.
type IdleTimeout time.Duration

// TokenIssuer signs access tokens (EdDSA JWT).
type TokenIssuer interface {
	// Issue signs claims; ID, IssuedAt and ExpiresAt are filled in by the
	// implementation from its clock and TTL.
	Issue(ctx context.Context, c app.AccessClaims) (signed string, claims app.AccessClaims, err error)
}

// TokenVerifier checks the access tokens a TokenIssuer signed.
type TokenVerifier interface {
	// Verify checks signature, algorithm, typ, kid, iss, aud and exp, and
	// returns domain.ErrUnauthorized for any token it does not accept.
	Verify(ctx context.Context, signed string) (app.AccessClaims, error)
}

// TokenPair is what login and refresh return: to an API client the
// tokens; to a browser signing in on the hosted pages only BrowserSecret,
// the secret its session cookie holds.
type TokenPair struct {
	AccessToken   string
	ExpiresIn     time.Duration
	RefreshToken  token.Secret
	BrowserSecret token.Secret
	SessionID     uuid.UUID
	User          *user.User
	// Session is the session the tokens are of (with SignPair): a grant
	// names its client, scopes and browser session.
	Session *session.Session
}

// StartSession hands the session st.Session to u, who signed in (a
// browser gets the secret that finds the session, its hash stored; an API
// client a token pair), and stores it with everything else in st at once
// (SessionRepository.Start); the access token is signed before anything
// is stored.
func StartSession(ctx context.Context, r app.Repos, tokens TokenIssuer, rnd io.Reader, st app.SessionStart, u *user.User, now time.Time, browser bool) (*TokenPair, error) {
	secret, hash, err := token.NewSecret(rnd)
	if err != nil {
		return nil, err
	}
	var pair *TokenPair
	if browser {
		st.BrowserSecret = hash
		pair = &TokenPair{BrowserSecret: secret, SessionID: st.Session.ID(), User: u}
	} else {
		st.RefreshToken = &app.RefreshToken{Hash: hash, SessionID: st.Session.ID(), CreatedAt: now}
		if pair, err = SignPair(ctx, tokens, st.Session, u, secret); err != nil {
			return nil, err
		}
	}
	if err := r.Sessions.Start(ctx, st); err != nil {
		return nil, err
	}
	return pair, nil
}

// IssuePair stores a new refresh token for s and signs an access token
// whose amr and auth_time are the session's (kept through refreshes), with
// SignPair.
func IssuePair(ctx context.Context, r app.Repos, tokens TokenIssuer, rnd io.Reader, s *session.Session, u *user.User, now time.Time) (*TokenPair, error) {
	secret, rt, err := NewRefreshToken(rnd, s, now)
	if err != nil {
		return nil, err
	}
	if err := r.Sessions.AddRefreshToken(ctx, rt); err != nil {
		return nil, err
	}
	return SignPair(ctx, tokens, s, u, secret)
}

// NewRefreshToken makes a new refresh token of s at now: its secret, for
// the client, and the token to store (by the secret's hash).
func NewRefreshToken(rnd io.Reader, s *session.Session, now time.Time) (token.Secret, app.RefreshToken, error) {
	secret, hash, err := token.NewSecret(rnd)
	if err != nil {
		return "", app.RefreshToken{}, err
	}
	return secret, app.RefreshToken{Hash: hash, SessionID: s.ID(), CreatedAt: now}, nil
}

// SignPair signs a fresh access token for s beside the refresh token
// secret (new, the successor a repeat within the reuse grace gets, or ""
// for a grant without refresh tokens).
func SignPair(ctx context.Context, tokens TokenIssuer, s *session.Session, u *user.User, secret token.Secret) (*TokenPair, error) {
	signed, claims, err := tokens.Issue(ctx, app.AccessClaims{
		Subject: u.ID(), SessionID: s.ID(), Email: u.Email().String(), EmailVerified: u.Verified(), AMR: s.AMR(), AuthTime: s.AuthTime(),
		ClientID: s.ClientID(), Scope: s.Scopes(),
	})
	if err != nil {
		return nil, err
	}
	return &TokenPair{
		AccessToken: signed, ExpiresIn: claims.ExpiresAt.Sub(claims.IssuedAt),
		RefreshToken: secret, SessionID: s.ID(), User: u, Session: s,
	}, nil
}
