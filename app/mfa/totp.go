package mfa

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// Issuer is the issuer named in otpauth:// URIs (its issuer parameter and
// its label), so an authenticator app lists the code under the service's
// name: GATEHOUSE_APP_NAME when it is set, else the host of
// GATEHOUSE_PUBLIC_URL without its port. It never holds a colon, the
// label's separator.
type Issuer string

// IssuerOf is the issuer for appName (the configured product name; "" when
// none is configured) and the public URL the links are built from. The
// name's colons become spaces; a name with nothing else left is ignored.
func IssuerOf(appName string, links app.Links) Issuer {
	if name := strings.Join(strings.Fields(strings.ReplaceAll(appName, ":", " ")), " "); name != "" {
		return Issuer(name)
	}
	u, err := url.Parse(links.Base())
	if err != nil || u.Hostname() == "" || strings.Contains(u.Hostname(), ":") {
		return "Gatehouse" // an IPv6 literal has colons too
	}
	return Issuer(u.Hostname())
}

// Enrollment is what starting an enrollment shows once: the secret, for
// typing in, the otpauth:// URI, and that URI as a QR code for an
// authenticator app's camera. It redacts itself when printed.
type Enrollment struct {
	Secret string // base32, no padding
	URI    string
	QRPNG  []byte // a PNG image of the URI's QR code
}

func (Enrollment) String() string   { return "[redacted]" }
func (Enrollment) GoString() string { return "[redacted]" }

// StartInput is a signed-in user starting an enrollment.
type StartInput struct {
	UserID   uuid.UUID
	Password string
	Meta     app.RequestMeta
}

// Start begins a TOTP enrollment after the (throttled) password check: a
// fresh 20-byte secret, sealed under the secret key, stored as the user's
// pending factor (replacing a pending one). A confirmed factor is
// mfa.ErrAlreadyEnabled: turn it off first.
type Start struct {
	d      StartDeps
	issuer string
}

// StartDeps are what Start needs. Users and Factors work outside any
// transaction.
type StartDeps struct {
	Users   app.UserRepository
	Factors app.MFARepository
	Tx      app.TxManager
	Check   *limits.PasswordCheck
	TOTP    TOTP
	Sealer  app.Sealer
	Clock   app.Clock
	Random  io.Reader
	Issuer  Issuer
}

// NewStart builds the use case.
func NewStart(d StartDeps) *Start {
	return &Start{d: d, issuer: string(d.Issuer)}
}

// Handle starts the enrollment and returns what to show.
func (h *Start) Handle(ctx context.Context, in StartInput) (Enrollment, error) {
	u, err := app.SignedIn(ctx, h.d.Users, in.UserID)
	if err != nil {
		return Enrollment{}, err
	}
	if f, err := h.d.Factors.TOTP(ctx, u.ID()); err == nil && f.Enabled() {
		return Enrollment{}, mfa.ErrAlreadyEnabled
	} else if err != nil && !errors.Is(err, mfa.ErrNotFound) {
		return Enrollment{}, err
	}
	if err := h.d.Check.Check(ctx, u, in.Password, "mfa_enrollment", in.Meta); err != nil {
		return Enrollment{}, err
	}
	secret, err := mfa.NewSecret(h.d.Random)
	if err != nil {
		return Enrollment{}, err
	}
	sealed, err := h.d.Sealer.Seal(secret, mfa.SealLabel(u.ID()))
	if err != nil {
		return Enrollment{}, err
	}
	uri, err := h.d.TOTP.KeyURI(h.issuer, u.Email().String(), secret)
	if err != nil {
		return Enrollment{}, err
	}
	qr, err := h.d.TOTP.KeyQR(uri)
	if err != nil {
		return Enrollment{}, err
	}
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		fresh, err := app.LockUnchanged(ctx, r, u, domain.ErrUnauthorized, domain.ErrWrongPassword)
		if err != nil {
			return err
		}
		f, err := mfa.NewPending(fresh.ID(), sealed, h.d.Clock.Now())
		if err != nil {
			return err
		}
		return r.MFA.PutPendingTOTP(ctx, f)
	})
	if err != nil {
		return Enrollment{}, err
	}
	return Enrollment{Secret: mfa.EncodeSecret(secret), URI: uri, QRPNG: qr}, nil
}

// Confirm enables the pending factor with a current code of it, and
// returns the first set of recovery codes, shown once. The code's step
// counts as used. A notice goes to the address. Every other session of
// the user is revoked: one started before MFA, with the password alone,
// must not outlive the second factor. The confirming session has just
// proved a code of the factor, so it is upgraded to amr ["pwd", "otp"]
// with auth_time now (its access tokens show it from the next refresh; the
// step-up rule reads the session itself at once).
type Confirm struct {
	d ConfirmDeps
}

// ConfirmDeps are what Confirm needs. Users and Factors work outside any
// transaction.
type ConfirmDeps struct {
	Users    app.UserRepository
	Factors  app.MFARepository
	Tx       app.TxManager
	Verifier *Verifier
	Attempts *Attempts
	Clock    app.Clock
	IDs      app.IDGenerator
	Random   io.Reader
}

// NewConfirm builds the use case.
func NewConfirm(d ConfirmDeps) *Confirm {
	return &Confirm{d: d}
}

// Handle confirms with code from the caller's session sessionID. Without
// a pending enrollment it is mfa.ErrNotStarted; with MFA on already,
// mfa.ErrAlreadyEnabled; a wrong code is mfa.ErrWrongCode (counted against
// the second-factor limits).
func (h *Confirm) Handle(ctx context.Context, userID, sessionID uuid.UUID, code string, meta app.RequestMeta) ([]mfa.RecoveryCode, error) {
	u, err := app.SignedIn(ctx, h.d.Users, userID)
	if err != nil {
		return nil, err
	}
	f, err := h.d.Factors.TOTP(ctx, u.ID())
	if errors.Is(err, mfa.ErrNotFound) {
		return nil, mfa.ErrNotStarted
	} else if err != nil {
		return nil, err
	}
	if f.Enabled() {
		return nil, mfa.ErrAlreadyEnabled
	}
	if err := h.d.Attempts.Begin(ctx, u, code, "mfa_confirm", meta); err != nil {
		return nil, err
	}
	secret, err := h.d.Verifier.Secret(f)
	if err != nil {
		return nil, err
	}
	now := h.d.Clock.Now()
	step, ok, err := h.d.Verifier.MatchTOTP(secret, code, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := h.d.Attempts.Failed(ctx, u, "mfa_confirm", meta); err != nil {
			return nil, err
		}
		return nil, mfa.ErrWrongCode
	}
	codes, hashes, err := mfa.NewRecoveryCodes(h.d.Random)
	if err != nil {
		return nil, err
	}
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		fresh, err := lockSignedIn(ctx, r, u.ID())
		if err != nil {
			return err
		}
		confirmed, err := r.MFA.ConfirmTOTP(ctx, fresh.ID(), f.SealedSecret(), now, step)
		if err != nil {
			return err
		}
		if !confirmed {
			// Confirmed meanwhile, or started again with a new secret
			// (which this code is not for).
			if cur, err := r.MFA.TOTP(ctx, fresh.ID()); err == nil && cur.Enabled() {
				return mfa.ErrAlreadyEnabled
			}
			return mfa.ErrNotStarted
		}
		if err := r.MFA.ReplaceRecoveryCodes(ctx, fresh.ID(), hashes, now); err != nil {
			return err
		}
		if err := upgradeSession(ctx, r, fresh.ID(), sessionID, now); err != nil {
			return err
		}
		if err := app.Publish(ctx, r, h.d.IDs, now, fresh, webhook.UserMFAEnabled); err != nil {
			return err
		}
		revoked, err := app.RevokeSessions(ctx, r, h.d.IDs, fresh, sessionID, now)
		if err != nil {
			return err
		}
		if err := r.Outbox.Enqueue(ctx, app.OutboundMail{ID: h.d.IDs.NewID(), Kind: app.MailMFAEnabled, To: fresh.Email().String(), UserID: fresh.ID(), Data: map[string]string{}}, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.MFAEnabled, fresh.ID(), now, map[string]string{"method": string(mfa.MethodTOTP), "sessions_revoked": strconv.Itoa(revoked)}))
	})
	if err != nil {
		return nil, err
	}
	if err := h.d.Attempts.Succeeded(ctx, u); err != nil {
		return nil, err
	}
	return codes, nil
}

// upgradeSession records, in the caller's transaction, that the session
// sessionID of the user proved a TOTP code at now. A session that is gone,
// revoked or another user's is domain.ErrUnauthorized: the confirmation
// rolls back.
func upgradeSession(ctx context.Context, r app.Repos, userID, sessionID uuid.UUID, now time.Time) error {
	s, err := r.Sessions.ByIDForChange(ctx, sessionID)
	if errors.Is(err, session.ErrNotFound) {
		return domain.ErrUnauthorized
	} else if err != nil {
		return err
	}
	if s.UserID() != userID || s.RevokedAt() != nil {
		return domain.ErrUnauthorized
	}
	s.Proved(session.MethodOTP, now)
	return r.Sessions.Update(ctx, s)
}

// DisableInput is a signed-in user turning MFA off.
type DisableInput struct {
	UserID   uuid.UUID
	Password string
	// Proof is the caller's session and the code of the request (a
	// current TOTP code or an unused recovery code; optional when the
	// session stepped up recently).
	Proof Proof
	Meta  app.RequestMeta
}

// Disable turns MFA off with the password and the step-up of StepUp (a
// code, or a session that proved one recently): the factor and the
// recovery codes are deleted, a notice goes to the address.
type Disable struct {
	d DisableDeps
}

// DisableDeps are what Disable needs. Users and Factors work outside any
// transaction.
type DisableDeps struct {
	Users   app.UserRepository
	Factors app.MFARepository
	Tx      app.TxManager
	Check   *limits.PasswordCheck
	StepUp  *StepUp
	Clock   app.Clock
	IDs     app.IDGenerator
}

// NewDisable builds the use case.
func NewDisable(d DisableDeps) *Disable {
	return &Disable{d: d}
}

// Handle turns MFA off. Without it on: mfa.ErrNotEnabled. A wrong
// password is domain.ErrWrongPassword (counted against the password
// limits); a wrong code mfa.ErrWrongCode and no code from a session that
// has not stepped up mfa.ErrStepUpRequired (see StepUp).
func (h *Disable) Handle(ctx context.Context, in DisableInput) error {
	u, err := enabledFactor(ctx, h.d.Users, h.d.Factors, in.UserID)
	if err != nil {
		return err
	}
	if err := h.d.Check.Check(ctx, u, in.Password, "mfa_disable", in.Meta); err != nil {
		return err
	}
	method, err := h.d.StepUp.Require(ctx, u, in.Proof, true, "mfa_disable", in.Meta)
	if err != nil {
		return err
	}
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		fresh, err := app.LockUnchanged(ctx, r, u, domain.ErrUnauthorized, domain.ErrWrongPassword)
		if err != nil {
			return err
		}
		if on, err := r.MFA.DeleteTOTP(ctx, fresh.ID()); err != nil {
			return err
		} else if !on {
			return mfa.ErrNotEnabled
		}
		if err := app.Publish(ctx, r, h.d.IDs, now, fresh, webhook.UserMFADisabled); err != nil {
			return err
		}
		if err := r.Outbox.Enqueue(ctx, app.OutboundMail{ID: h.d.IDs.NewID(), Kind: app.MailMFADisabled, To: fresh.Email().String(), UserID: fresh.ID(), Data: map[string]string{"by": "owner"}}, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, audit.Event{Type: audit.MFADisabled, UserID: fresh.ID(), IP: in.Meta.IP, UserAgent: in.Meta.UserAgent, At: now, Detail: map[string]string{"by": "owner", "method": string(method)}})
	})
}

// Regenerate replaces the recovery codes with a new set, shown once, after
// the step-up of StepUp: a current TOTP code (not a recovery code: the new
// set is minted with the authenticator itself), or a session that proved
// a second factor recently.
type Regenerate struct {
	users  app.UserRepository
	mfa    app.MFARepository
	tx     app.TxManager
	stepUp *StepUp
	clock  app.Clock
	rnd    io.Reader
}

// NewRegenerate builds the use case. users and factors work outside any
// transaction.
func NewRegenerate(users app.UserRepository, factors app.MFARepository, tx app.TxManager, stepUp *StepUp, clock app.Clock, rnd io.Reader) *Regenerate {
	return &Regenerate{users: users, mfa: factors, tx: tx, stepUp: stepUp, clock: clock, rnd: rnd}
}

// Handle replaces the set. Without MFA on: mfa.ErrNotEnabled; a wrong
// code: mfa.ErrWrongCode; neither a code nor a session that stepped up:
// mfa.ErrStepUpRequired.
func (h *Regenerate) Handle(ctx context.Context, userID uuid.UUID, p Proof, meta app.RequestMeta) ([]mfa.RecoveryCode, error) {
	u, err := enabledFactor(ctx, h.users, h.mfa, userID)
	if err != nil {
		return nil, err
	}
	if _, err := h.stepUp.Require(ctx, u, p, false, "mfa_recovery_codes", meta); err != nil {
		return nil, err
	}
	codes, hashes, err := mfa.NewRecoveryCodes(h.rnd)
	if err != nil {
		return nil, err
	}
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		fresh, err := lockSignedIn(ctx, r, u.ID())
		if err != nil {
			return err
		}
		if on, err := app.MFAEnabled(ctx, r.MFA, fresh.ID()); err != nil {
			return err
		} else if !on {
			return mfa.ErrNotEnabled
		}
		if err := r.MFA.ReplaceRecoveryCodes(ctx, fresh.ID(), hashes, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.MFARecoveryCodesRegenerated, fresh.ID(), now, map[string]string{"count": strconv.Itoa(len(hashes))}))
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// enabledFactor reads the caller, or gives mfa.ErrNotEnabled when they
// have no confirmed factor (checked again in the caller's transaction).
func enabledFactor(ctx context.Context, users app.UserRepository, factors app.MFARepository, id uuid.UUID) (*user.User, error) {
	u, err := app.SignedIn(ctx, users, id)
	if err != nil {
		return nil, err
	}
	if on, err := app.MFAEnabled(ctx, factors, u.ID()); err != nil {
		return nil, err
	} else if !on {
		return nil, mfa.ErrNotEnabled
	}
	return u, nil
}

// lockSignedIn reads the signed-in user for change in the transaction; an
// account deleted meanwhile is domain.ErrUnauthorized.
func lockSignedIn(ctx context.Context, r app.Repos, id uuid.UUID) (*user.User, error) {
	fresh, err := r.Users.ByIDForChange(ctx, id)
	if errors.Is(err, user.ErrNotFound) {
		return nil, domain.ErrUnauthorized
	}
	return fresh, err
}
