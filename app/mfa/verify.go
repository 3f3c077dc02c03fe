// Package mfa holds the use cases of the second factor: enrolling a TOTP
// authenticator (start, confirm), turning it off, replacing the recovery
// codes, and the code checks the second login step shares with them. The
// rules are domain/mfa's; the store's conditional writes make them hold
// under races.
package mfa

//go:generate go tool mockgen -destination=../mock/mfa.go -package=mock github.com/gatehouse-auth/gatehouse/app/mfa TOTP

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Verifier checks codes against a user's factor: it opens the sealed
// secret, finds the step a TOTP code is for, and consumes a step or a
// recovery code through the store's conditional writes.
type Verifier struct {
	totp   TOTP
	sealer app.Sealer
}

// NewVerifier builds the verifier.
func NewVerifier(totp TOTP, sealer app.Sealer) *Verifier {
	return &Verifier{totp: totp, sealer: sealer}
}

// Secret opens the factor's sealed secret. A seal that does not open (a
// wrong secret key, an altered or swapped row) is an error that maps to
// 500 and names no secret.
func (v *Verifier) Secret(f *mfa.TOTP) ([]byte, error) {
	s, err := v.sealer.Open(f.SealedSecret(), mfa.SealLabel(f.UserID()))
	if err != nil {
		return nil, fmt.Errorf("mfa: open the TOTP secret of user %s: %w", f.UserID(), err)
	}
	return s, nil
}

// MatchTOTP returns the step, among the steps accepted at now, that code
// is the TOTP code of; false when it is none of them (or not a TOTP code
// at all). Every accepted step is computed and compared in constant time;
// of steps whose codes collide, the highest is taken, so that a code
// cannot be accepted again for a later step it also matches.
func (v *Verifier) MatchTOTP(secret []byte, code string, now time.Time) (int64, bool, error) {
	c, ok := mfa.NormalizeTOTPCode(code)
	if !ok {
		return 0, false, nil
	}
	var (
		step  int64
		found bool
	)
	for _, s := range mfa.AcceptedSteps(now) {
		want, err := v.totp.Code(secret, s)
		if err != nil {
			return 0, false, err
		}
		if mfa.CodesEqual(c, want) && (!found || s > step) {
			step, found = s, true
		}
	}
	return step, found, nil
}

// Use consumes code for the user in the caller's transaction r, against
// the user's factor as r reads it: a TOTP code for an accepted step above
// the highest used one, or (when recovery is allowed) one of the user's
// unused recovery codes. It returns which method the code proved, or
// false when it proved none (wrong, replayed, used, or lost a race to a
// request with the same code). Without a confirmed factor it is
// mfa.ErrNotEnabled. Callers lock the user's row first, as every change
// of a factor does, so the factor stays as read until they commit.
func (v *Verifier) Use(ctx context.Context, r app.Repos, userID uuid.UUID, code string, now time.Time, allowRecovery bool) (mfa.Method, bool, error) {
	f, err := r.MFA.TOTP(ctx, userID)
	if errors.Is(err, mfa.ErrNotFound) {
		return "", false, mfa.ErrNotEnabled
	} else if err != nil {
		return "", false, err
	}
	if !f.Enabled() {
		return "", false, mfa.ErrNotEnabled
	}
	if _, isTOTP := mfa.NormalizeTOTPCode(code); isTOTP {
		secret, err := v.Secret(f)
		if err != nil {
			return "", false, err
		}
		step, ok, err := v.MatchTOTP(secret, code, now)
		if err != nil || !ok {
			return "", false, err
		}
		ok, err = r.MFA.UseTOTPStep(ctx, userID, step)
		if err != nil || !ok {
			return "", false, err
		}
		return mfa.MethodTOTP, true, nil
	}
	if !allowRecovery {
		return "", false, nil
	}
	h, ok := mfa.ParseRecoveryCode(code)
	if !ok {
		return "", false, nil
	}
	ok, err = r.MFA.UseRecoveryCode(ctx, userID, h, now)
	if err != nil || !ok {
		return "", false, err
	}
	return mfa.MethodRecoveryCode, true, nil
}

// Attempts throttles code checks with the second-factor limits of the
// account (limits.Guard's BeginCode): each code counts before it is
// checked, a wrong one is audited as mfa_code_failed (and mfa_locked when
// it locked the account's TOTP codes), and only a right one resets the
// counters. Password checks have counters of their own, which these never
// share: a right password cannot give back a wrong code's attempt.
type Attempts struct {
	guard *limits.Guard
	audit app.AuditLog
	clock app.Clock
}

// NewAttempts builds the throttle. auditLog works outside any transaction.
func NewAttempts(guard *limits.Guard, auditLog app.AuditLog, clock app.Clock) *Attempts {
	return &Attempts{guard: guard, audit: auditLog, clock: clock}
}

// Begin counts code, a code of u, before it is checked; used-up attempts
// give a rate_limited error (and a login_throttled event). A TOTP-shaped
// code of an account whose codes are locked is refused (wrapping
// limits.ErrLocked); a recovery code still gets checked.
func (a *Attempts) Begin(ctx context.Context, u *user.User, code, during string, meta app.RequestMeta) error {
	_, isTOTP := mfa.NormalizeTOTPCode(code)
	err := a.guard.BeginCode(ctx, u.ID(), !isTOTP)
	if errors.Is(err, domain.ErrRateLimited) {
		_ = a.audit.Append(ctx, meta.Event(audit.LoginThrottled, u.ID(), a.clock.Now(), map[string]string{"during": during, "factor": "code"}))
	}
	return err
}

// Failed records a wrong code of u: the audit event, and the lock when
// this failure used up the account's consecutive attempts. A failure to
// audit does not change the answer.
func (a *Attempts) Failed(ctx context.Context, u *user.User, during string, meta app.RequestMeta) error {
	locked, err := a.guard.CodeFailed(ctx, u.ID())
	if err != nil {
		return err
	}
	now := a.clock.Now()
	_ = a.audit.Append(ctx, meta.Event(audit.MFACodeFailed, u.ID(), now, map[string]string{"during": during}))
	if locked {
		_ = a.audit.Append(ctx, meta.Event(audit.MFALocked, u.ID(), now, map[string]string{"during": during}))
	}
	return nil
}

// Succeeded resets u's second-factor counters after a right code.
func (a *Attempts) Succeeded(ctx context.Context, u *user.User) error {
	return a.guard.CodeSucceeded(ctx, u.ID())
}

// TOTP computes RFC 6238 time-based one-time passwords with the
// parameters of domain/mfa (HMAC-SHA-1, 6 digits, 30-second steps), and
// the key URIs authenticator apps read.
type TOTP interface {
	// Code is the code of secret for the time step step.
	Code(secret []byte, step int64) (string, error)
	// KeyURI is the otpauth:// URI of secret for account at issuer.
	KeyURI(issuer, account string, secret []byte) (string, error)
	// KeyQR is a PNG image of a key URI's QR code.
	KeyQR(uri string) ([]byte, error)
}
