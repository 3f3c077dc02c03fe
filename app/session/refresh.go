package session

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

// Refresh rotates a refresh token. The presented token is locked, so of
// concurrent refreshes with one token exactly one finds it unused; a token
// that was already rotated revokes its whole session (reuse detection).
type Refresh struct {
	tx     app.TxManager
	tokens app.AccessTokens
	clock  app.Clock
	rnd    io.Reader
	idle   time.Duration
	obs    app.Observer
}

// NewRefresh builds the use case.
func NewRefresh(tx app.TxManager, tokens app.AccessTokens, clock app.Clock, rnd io.Reader, idle IdleTimeout, obs app.Observer) *Refresh {
	app.Require(map[string]any{"TxManager": tx, "AccessTokens": tokens, "Clock": clock, "Random": rnd, "Observer": obs})
	return &Refresh{tx: tx, tokens: tokens, clock: clock, rnd: rnd, idle: time.Duration(idle), obs: obs}
}

// Handle returns a new pair for a valid refresh token.
func (h *Refresh) Handle(ctx context.Context, raw string, meta app.RequestMeta) (*TokenPair, error) {
	hash, err := token.Parse(raw)
	if err != nil {
		return nil, domain.ErrRefreshInvalid
	}
	var pair *TokenPair
	reused, revoked := false, false
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		rt, err := r.Sessions.RefreshTokenForChange(ctx, hash)
		if errors.Is(err, session.ErrNotFound) {
			return domain.ErrRefreshInvalid
		} else if err != nil {
			return err
		}
		s, err := r.Sessions.ByIDForChange(ctx, rt.SessionID)
		if errors.Is(err, session.ErrNotFound) {
			return domain.ErrRefreshInvalid
		} else if err != nil {
			return err
		}
		if rt.UsedAt != nil {
			// Reuse: commit the revocation, then refuse.
			reused, revoked = true, false
			if s.RevokedAt() != nil {
				return nil
			}
			revoked = true
			s.Revoke(now)
			if err := r.Sessions.Update(ctx, s); err != nil {
				return err
			}
			return r.Audit.Append(ctx, audit.Event{Type: audit.RefreshReuseDetected, UserID: s.UserID(), IP: meta.IP, UserAgent: meta.UserAgent, At: now, Detail: map[string]string{"session_id": s.ID().String()}})
		}
		if !s.Live(now, h.idle) {
			return domain.ErrRefreshInvalid
		}
		u, err := r.Users.ByID(ctx, s.UserID())
		if err != nil {
			return err
		}
		if !u.Active() {
			return domain.ErrRefreshInvalid
		}
		if err := r.Sessions.MarkRefreshTokenUsed(ctx, hash, now); err != nil {
			return err
		}
		s.Touch(now)
		if err := r.Sessions.Update(ctx, s); err != nil {
			return err
		}
		pair, err = issuePair(ctx, r, h.tokens, h.rnd, s, u, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if reused {
		if revoked {
			h.obs.RefreshReuseDetected(ctx)
		}
		return nil, domain.ErrRefreshInvalid
	}
	return pair, nil
}
