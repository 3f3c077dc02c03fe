package session

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/google/uuid"
)

// Principal is the authenticated caller of a bearer endpoint.
type Principal struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	Claims    app.AccessClaims
}

// Authenticate checks a bearer token: the JWT first, then that its session
// is still live (one primary-key lookup), so logout, revocation and
// password changes take effect at once on Gatehouse's own endpoints.
type Authenticate struct {
	tokens   app.AccessTokens
	sessions app.SessionRepository
	clock    app.Clock
	idle     time.Duration
}

// NewAuthenticate builds the use case. sessions works outside any transaction.
func NewAuthenticate(tokens app.AccessTokens, sessions app.SessionRepository, clock app.Clock, idle IdleTimeout) *Authenticate {
	app.Require(map[string]any{"AccessTokens": tokens, "SessionRepository": sessions, "Clock": clock})
	return &Authenticate{tokens: tokens, sessions: sessions, clock: clock, idle: time.Duration(idle)}
}

// Handle returns the principal or domain.ErrUnauthorized.
func (h *Authenticate) Handle(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" {
		return Principal{}, domain.ErrUnauthorized
	}
	claims, err := h.tokens.Verify(ctx, bearer)
	if err != nil {
		return Principal{}, err
	}
	s, err := h.sessions.ByID(ctx, claims.SessionID)
	if errors.Is(err, session.ErrNotFound) {
		return Principal{}, domain.ErrUnauthorized
	} else if err != nil {
		return Principal{}, err
	}
	if s.UserID() != claims.Subject || !s.Live(h.clock.Now(), h.idle) {
		return Principal{}, domain.ErrUnauthorized
	}
	return Principal{UserID: claims.Subject, SessionID: claims.SessionID, Claims: claims}, nil
}
