package account

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// VerifyEmail consumes a verification token and marks its user verified,
// in one transaction. Unknown, expired and used tokens get one answer.
type VerifyEmail struct {
	tx    app.TxManager
	clock app.Clock
}

// NewVerifyEmail builds the use case.
func NewVerifyEmail(tx app.TxManager, clock app.Clock) *VerifyEmail {
	app.Require(map[string]any{"TxManager": tx, "Clock": clock})
	return &VerifyEmail{tx: tx, clock: clock}
}

// Handle verifies and returns the verified user.
func (h *VerifyEmail) Handle(ctx context.Context, raw string, meta app.RequestMeta) (*user.User, error) {
	hash, err := token.Parse(raw)
	if err != nil {
		return nil, err
	}
	var u *user.User
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		t, err := r.Tokens.ByHashForUpdate(ctx, hash)
		if err != nil {
			return err
		}
		if err := t.Use(token.PurposeVerifyEmail, now); err != nil {
			return err
		}
		if err := r.Tokens.MarkUsed(ctx, t); err != nil {
			return err
		}
		if u, err = r.Users.ByIDForUpdate(ctx, t.UserID()); err != nil {
			return err
		}
		u.VerifyEmail(now)
		if err := r.Users.Update(ctx, u); err != nil {
			return err
		}
		return r.Audit.Append(ctx, audit.Event{Type: audit.EmailVerified, UserID: u.ID(), IP: meta.IP, UserAgent: meta.UserAgent, At: now})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
