package password

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// ChangeInput is what a signed-in client sends.
type ChangeInput struct {
	UserID          uuid.UUID
	SessionID       uuid.UUID // kept alive; every other session is revoked
	CurrentPassword string
	NewPassword     string
	// Proof is the caller's session and the code of the request: on an
	// account with MFA on, the change needs the step-up of mfa.StepUp.
	Proof appmfa.Proof
	Meta  app.RequestMeta
}

// Change sets a new password for a signed-in user who knows the current
// one. A wrong current password counts as a failed login for throttling.
// On an account with MFA on it also needs the step-up of mfa.StepUp.
type Change struct {
	d ChangeDeps
}

// ChangeDeps are what Change needs. Users works outside any transaction.
type ChangeDeps struct {
	Users  app.UserRepository
	Tx     app.TxManager
	Hasher app.PasswordHasher
	Policy user.PasswordPolicy
	Check  *limits.PasswordCheck
	StepUp *appmfa.StepUp
	Clock  app.Clock
	IDs    app.IDGenerator
}

// NewChange builds the use case.
func NewChange(d ChangeDeps) *Change {
	return &Change{d: d}
}

// Handle changes the password.
func (h *Change) Handle(ctx context.Context, in ChangeInput) error {
	u, err := h.d.Check.SignedIn(ctx, h.d.Users, in.UserID, in.CurrentPassword, "password_change", in.Meta)
	if err != nil {
		return err
	}
	pw, err := h.d.Policy.Check("new_password", in.NewPassword, u.Email())
	if err != nil {
		return err
	}
	// After the policy, so that a code is not spent on a password that
	// would be refused.
	if _, err := h.d.StepUp.Require(ctx, u, in.Proof, true, "password_change", in.Meta); err != nil {
		return err
	}
	encoded, err := h.d.Hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		// The current password was checked against a hash read before
		// this transaction; a reset or change that committed since wins.
		fresh, err := app.LockUnchanged(ctx, r, u, nil, domain.ErrWrongPassword)
		if err != nil {
			return err
		}
		// The caller's session must still be live: a reset in between
		// revoked it, and its holder must not set the password after it.
		s, err := r.Sessions.ByIDForChange(ctx, in.SessionID)
		if errors.Is(err, session.ErrNotFound) {
			return domain.ErrUnauthorized
		} else if err != nil {
			return err
		}
		if s.RevokedAt() != nil || s.UserID() != u.ID() {
			return domain.ErrUnauthorized
		}
		if err := fresh.SetPasswordHash(encoded, now); err != nil {
			return err
		}
		if err := r.Users.Update(ctx, fresh); err != nil {
			return err
		}
		return afterPasswordSet(ctx, r, h.d.IDs, fresh, in.SessionID, audit.PasswordChanged, in.Meta, now)
	})
}
