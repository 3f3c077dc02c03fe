package session

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/google/uuid"
)

// Logout revokes the caller's current session.
type Logout struct {
	revoke *Revoke
}

// NewLogout builds the use case.
func NewLogout(revoke *Revoke) *Logout {
	return &Logout{revoke: revoke}
}

// Handle revokes p's session.
func (h *Logout) Handle(ctx context.Context, p Principal, meta app.RequestMeta) error {
	return h.revoke.revoke(ctx, p, p.SessionID, audit.Logout, meta)
}

// End ends p's browser session at a client's request (OpenID Connect
// RP-Initiated Logout), with its grants: as Handle, audited as an end
// session.
func (h *Logout) End(ctx context.Context, p Principal, meta app.RequestMeta) error {
	return h.revoke.revoke(ctx, p, p.SessionID, audit.EndSession, meta)
}

// Revoke ends one of the caller's sessions. Another user's session and an
// unknown or already ended one are all not_found.
type Revoke struct {
	tx    app.TxManager
	clock app.Clock
	idle  time.Duration
	ids   app.IDGenerator
}

// NewRevoke builds the use case.
func NewRevoke(tx app.TxManager, clock app.Clock, idle IdleTimeout, ids app.IDGenerator) *Revoke {
	return &Revoke{tx: tx, clock: clock, idle: time.Duration(idle), ids: ids}
}

// Handle revokes session id of p's user.
func (h *Revoke) Handle(ctx context.Context, p Principal, id uuid.UUID, meta app.RequestMeta) error {
	return h.revoke(ctx, p, id, audit.SessionRevoked, meta)
}

func (h *Revoke) revoke(ctx context.Context, p Principal, id uuid.UUID, event audit.Type, meta app.RequestMeta) error {
	return h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		s, err := r.Sessions.ByIDForChange(ctx, id)
		if errors.Is(err, session.ErrNotFound) {
			return domain.ErrNotFound
		} else if err != nil {
			return err
		}
		if s.UserID() != p.UserID || !s.Live(now, h.idle) {
			return domain.ErrNotFound
		}
		if _, err := app.RevokeSession(ctx, r, h.ids, s, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(event, p.UserID, now, map[string]string{"session_id": id.String()}))
	})
}

// View is one session as its owner sees it.
type View struct {
	Session *session.Session
	Current bool
}

// List returns the caller's live sessions, newest first.
type List struct {
	sessions app.SessionRepository
	clock    app.Clock
	idle     time.Duration
}

// NewList builds the use case. sessions works outside any transaction.
func NewList(sessions app.SessionRepository, clock app.Clock, idle IdleTimeout) *List {
	return &List{sessions: sessions, clock: clock, idle: time.Duration(idle)}
}

// Handle lists p's live sessions.
func (h *List) Handle(ctx context.Context, p Principal) ([]View, error) {
	now := h.clock.Now()
	all, err := h.sessions.ListActive(ctx, p.UserID, now)
	if err != nil {
		return nil, err
	}
	views := make([]View, 0, len(all))
	for _, s := range all {
		if s.Live(now, h.idle) {
			views = append(views, View{Session: s, Current: s.ID() == p.SessionID})
		}
	}
	return views, nil
}
