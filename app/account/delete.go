package account

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
)

// DeleteAccount is a signed-in user deleting their own account, with
// their password: the account and everything stored for it go (see
// app.UserRepository.Delete), the audit trail stays whole, a notice goes
// to the address, and the address can register again. On an account with
// MFA on it also needs the step-up of mfa.StepUp.
type DeleteAccount struct {
	users  app.UserRepository
	tx     app.TxManager
	check  *limits.PasswordCheck
	stepUp *appmfa.StepUp
	clock  app.Clock
	ids    app.IDGenerator
}

// NewDeleteAccount builds the use case. users works outside any transaction.
func NewDeleteAccount(users app.UserRepository, tx app.TxManager, check *limits.PasswordCheck, stepUp *appmfa.StepUp, clock app.Clock, ids app.IDGenerator) *DeleteAccount {
	return &DeleteAccount{users: users, tx: tx, check: check, stepUp: stepUp, clock: clock, ids: ids}
}

// Handle deletes the account of userID if password is its password (and,
// with MFA on, p steps up).
func (h *DeleteAccount) Handle(ctx context.Context, userID uuid.UUID, password string, p appmfa.Proof, meta app.RequestMeta) error {
	u, err := h.check.SignedIn(ctx, h.users, userID, password, "account_deletion", meta)
	if err != nil {
		return err
	}
	if _, err := h.stepUp.Require(ctx, u, p, true, "account_deletion", meta); err != nil {
		return err
	}
	return h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		fresh, err := app.LockUnchanged(ctx, r, u, domain.ErrUnauthorized, domain.ErrWrongPassword)
		if err != nil {
			return err
		}
		if err := app.DeleteUser(ctx, r, h.ids, fresh, now); err != nil {
			return err
		}
		// Queued after the deletion, which takes the user's mail with it.
		err = r.Outbox.Enqueue(ctx, app.OutboundMail{ID: h.ids.NewID(), Kind: app.MailAccountDeleted, To: fresh.Email().String(), Data: map[string]string{}}, now)
		if err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.AccountDeleted, fresh.ID(), now, map[string]string{"email": fresh.Email().String()}))
	})
}
