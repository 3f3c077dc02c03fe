package limits

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// PasswordCheck is the throttled check of a signed-in user's password
// before a sensitive change (password change, account deletion, email
// change): the attempt counts against the same per-(account, IP) limit and
// lockout as a login, a wrong password is audited as a failed login, and a
// right one ends the run of failures.
type PasswordCheck struct {
	guard  *Guard
	hasher app.PasswordHasher
	audit  app.AuditLog
	clock  app.Clock
}

// NewPasswordCheck builds the check. auditLog works outside any transaction.
func NewPasswordCheck(guard *Guard, hasher app.PasswordHasher, auditLog app.AuditLog, clock app.Clock) *PasswordCheck {
	return &PasswordCheck{guard: guard, hasher: hasher, audit: auditLog, clock: clock}
}

// Check verifies password against u's stored hash. during names the
// operation in the audit detail. A wrong password gives
// domain.ErrWrongPassword; used-up attempts give a rate_limited error.
// An account without a password (made by an upstream sign-in, until a
// reset sets one) has no right password: the dummy hash is verified, so
// the answer and its time are a wrong password's.
func (p *PasswordCheck) Check(ctx context.Context, u *user.User, password, during string, meta app.RequestMeta) error {
	if err := p.guard.BeginLogin(ctx, u.Email(), meta.IP); err != nil {
		return err
	}
	encoded := u.PasswordHash()
	if !u.HasPassword() {
		encoded = p.hasher.DummyHash()
	}
	ok, _, err := p.hasher.Verify(ctx, user.NormalizePassword(password), encoded)
	if err != nil {
		return err
	}
	if !ok || !u.HasPassword() {
		locked, err := p.guard.LoginFailed(ctx, u.Email())
		if err != nil {
			return err
		}
		now := p.clock.Now()
		// A failure to audit a refused check does not change the answer.
		_ = p.audit.Append(ctx, meta.Event(audit.LoginFailed, u.ID(), now, map[string]string{"during": during}))
		if locked {
			_ = p.audit.Append(ctx, meta.Event(audit.AccountLocked, u.ID(), now, nil))
		}
		return domain.ErrWrongPassword
	}
	return p.guard.LoginSucceeded(ctx, u.Email(), meta.IP)
}

// SignedIn reads the caller of a bearer endpoint (app.SignedIn) and checks
// their password (Check).
func (p *PasswordCheck) SignedIn(ctx context.Context, users app.UserRepository, id uuid.UUID, password, during string, meta app.RequestMeta) (*user.User, error) {
	u, err := app.SignedIn(ctx, users, id)
	if err != nil {
		return nil, err
	}
	return u, p.Check(ctx, u, password, during, meta)
}
