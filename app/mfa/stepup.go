package mfa

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// StepUpMaxAge is how long after proving a second factor a session may
// make a sensitive change without a code (GATEHOUSE_STEP_UP_MAX_AGE).
type StepUpMaxAge time.Duration

// Proof is what a request brings for a sensitive change: the caller's
// session as the bearer check read it, and a code typed into the request.
type Proof struct {
	// Session is the caller's session (nil: none, which never suffices).
	Session *session.Session
	// Code is a TOTP or recovery code sent with the request, or "".
	Code string
}

// ProvedBySession is the method StepUp.Require reports when the session,
// not a code, allowed the change.
const ProvedBySession mfa.Method = "session"

// StepUp is the rule of sensitive changes of an account with MFA on
// (changing the email or the password, deleting the account, turning MFA
// off, new recovery codes, adding or deleting a passkey): the caller's
// session proved a second factor (amr holds otp, or hwk with user) no
// longer than the max age ago, or the request carries a code, which is
// checked like every code: counted first against the account's second-
// factor limits, consumed when right. Otherwise the change is
// mfa.ErrStepUpRequired. A password, however right, never suffices: a
// session from before MFA was turned on, or a stolen password-only one,
// must not rule the account. Accounts without MFA pass as before, whatever
// the request holds.
type StepUp struct {
	factors  app.MFARepository
	tx       app.TxManager
	verifier *Verifier
	attempts *Attempts
	clock    app.Clock
	maxAge   time.Duration
}

// NewStepUp builds the rule. factors works outside any transaction.
func NewStepUp(factors app.MFARepository, tx app.TxManager, verifier *Verifier, attempts *Attempts, clock app.Clock, maxAge StepUpMaxAge) *StepUp {
	return &StepUp{factors: factors, tx: tx, verifier: verifier, attempts: attempts, clock: clock, maxAge: time.Duration(maxAge)}
}

// Require lets u make the change during names (for the audit trail), or
// gives mfa.ErrStepUpRequired, mfa.ErrWrongCode for a wrong code, or a
// rate_limited error when the account's codes are used up. recovery says
// whether a recovery code may serve. It reports what allowed the change:
// ProvedBySession, the method of the code, or "" for an account without
// MFA.
func (s *StepUp) Require(ctx context.Context, u *user.User, p Proof, recovery bool, during string, meta app.RequestMeta) (mfa.Method, error) {
	if on, err := app.MFAEnabled(ctx, s.factors, u.ID()); err != nil || !on {
		return "", err
	}
	if p.Code == "" {
		if p.Session != nil && p.Session.UserID() == u.ID() && p.Session.SteppedUp(s.clock.Now(), s.maxAge) {
			return ProvedBySession, nil
		}
		return "", mfa.ErrStepUpRequired
	}
	if err := s.attempts.Begin(ctx, u, p.Code, during, meta); err != nil {
		return "", err
	}
	var (
		method mfa.Method
		ok     bool
	)
	err := s.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := s.clock.Now()
		fresh, err := lockSignedIn(ctx, r, u.ID())
		if err != nil {
			return err
		}
		method, ok, err = s.verifier.Use(ctx, r, fresh.ID(), p.Code, now, recovery)
		if errors.Is(err, mfa.ErrNotEnabled) {
			// Turned off meanwhile: nothing left to step up to.
			method, ok = "", true
			return nil
		}
		if err != nil || !ok || method != mfa.MethodRecoveryCode {
			return err
		}
		left, err := r.MFA.UnusedRecoveryCodes(ctx, fresh.ID())
		if err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.MFARecoveryCodeUsed, fresh.ID(), now, map[string]string{"remaining": strconv.Itoa(left), "during": during}))
	})
	if err != nil {
		return "", err
	}
	if !ok {
		if err := s.attempts.Failed(ctx, u, during, meta); err != nil {
			return "", err
		}
		return "", mfa.ErrWrongCode
	}
	if err := s.attempts.Succeeded(ctx, u); err != nil {
		return "", err
	}
	return method, nil
}
