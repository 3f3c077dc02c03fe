package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Login signs in with a discoverable passkey and no email: Begin answers
// the request options, Finish verifies the answer and starts a session as
// a password login does. The session's amr is ["hwk", "user"] when the
// authenticator verified its user (a second factor in itself, so it
// satisfies MFA and step-up), ["hwk"] otherwise; a user with TOTP on
// whose authenticator did not verify them gets the mfa_token of the
// second step instead, as after a password, and the code then completes
// the sign-in with amr ["hwk", "otp"].
type Login struct {
	d               LoginDeps
	ttl             time.Duration
	requireVerified bool
}

// LoginDeps are what Login needs; Factors and Audit work outside any
// transaction too. Observer counts the sign-ins' outcomes with the
// password logins'.
type LoginDeps struct {
	Deps
	Factors         app.MFARepository
	Tokens          appsession.TokenIssuer
	Audit           app.AuditLog
	Observer        app.Observer
	Random          io.Reader
	TTL             appsession.RefreshTTL
	RequireVerified app.RequireVerifiedEmail
}

// NewLogin builds the use case.
func NewLogin(d LoginDeps) *Login {
	return &Login{d: d, ttl: time.Duration(d.TTL), requireVerified: bool(d.RequireVerified)}
}

// Begin starts a sign-in.
func (h *Login) Begin(ctx context.Context) (Begun, error) {
	options, state, err := h.d.Ceremonies.BeginLogin()
	if err != nil {
		return Begun{}, err
	}
	return begin(ctx, h.d.Passkeys, h.d.IDs, h.d.Clock, uuid.Nil, passkey.PurposeLogin, options, state)
}

// LoginInput is the end of a sign-in.
type LoginInput struct {
	ChallengeID string
	// Credential is the authenticator's answer (PublicKeyCredential JSON).
	Credential json.RawMessage
	Meta       app.RequestMeta
	// Browser: the hosted pages, which get a browser session instead of
	// tokens.
	Browser bool
}

// Finish verifies the answer to a sign-in's challenge and reports how it
// ended to the Observer as a password login's (a challenge that is no
// longer answerable, or an outage, is no sign-in attempt and is not
// reported). The challenge is used up whatever the outcome. An answer that does not verify, or a
// passkey of an account whose address must be verified first, is
// passkey.ErrInvalidCredential; a disabled account is
// domain.ErrAccountDisabled. The signature counter is checked under the
// user's row lock, so that of two answers with one counter value only the
// first is taken: one that went backwards refuses the sign-in
// (passkey.ErrCloned) and is audited as passkey_clone_detected.
func (h *Login) Finish(ctx context.Context, in LoginInput) (*appsession.LoginResult, error) {
	res, err := h.finish(ctx, in)
	switch {
	case err == nil && res.MFARequired():
		h.d.Observer.LoginResult(ctx, app.LoginMFARequired)
	case err == nil:
		h.d.Observer.LoginResult(ctx, app.LoginSuccess)
	case errors.Is(err, passkey.ErrInvalidCredential), errors.Is(err, passkey.ErrCloned):
		h.d.Observer.LoginResult(ctx, app.LoginInvalidCredentials)
	case errors.Is(err, domain.ErrAccountDisabled):
		h.d.Observer.LoginResult(ctx, app.LoginDisabled)
	}
	return res, err
}

func (h *Login) finish(ctx context.Context, in LoginInput) (*appsession.LoginResult, error) {
	ch, err := take(ctx, h.d.Passkeys, h.d.Clock, in.ChallengeID, passkey.PurposeLogin, uuid.Nil)
	if err != nil {
		return nil, err
	}
	var known *passkey.Credential
	c, a, err := h.d.Ceremonies.FinishLogin(ch.State(), in.Credential, func(credentialID, _ []byte) (*passkey.Credential, error) {
		c, err := h.d.Passkeys.ByCredentialID(ctx, credentialID)
		known = c
		return c, err
	})
	if errors.Is(err, passkey.ErrInvalidCredential) && known != nil {
		h.failed(ctx, known, in.Meta)
	}
	if err != nil {
		return nil, err
	}
	u, err := h.d.Users.ByID(ctx, c.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return nil, passkey.ErrInvalidCredential
	} else if err != nil {
		return nil, err
	}
	if !u.Active() {
		return nil, domain.ErrAccountDisabled
	}
	if h.requireVerified && !u.Verified() {
		return nil, passkey.ErrInvalidCredential
	}
	amr := []string{session.MethodHardwareKey}
	if a.UserVerified {
		amr = append(amr, session.MethodUser)
	}
	mfaOn, err := app.MFAEnabled(ctx, h.d.Factors, u.ID())
	if err != nil {
		return nil, err
	}
	// Without user verification a passkey is one factor: a TOTP user then
	// proves the code as after a password.
	needCode := mfaOn && !a.UserVerified
	var (
		res    *appsession.LoginResult
		cloned bool
	)
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		fresh, err := r.Users.ByIDForChange(ctx, u.ID())
		if errors.Is(err, user.ErrNotFound) {
			return passkey.ErrInvalidCredential
		} else if err != nil {
			return err
		}
		if !fresh.Active() {
			return domain.ErrAccountDisabled
		}
		// Read again under the lock: a sign-in that committed meanwhile
		// moved the counter, or a deletion removed the passkey.
		stored, err := r.Passkeys.ByCredentialID(ctx, c.CredentialID())
		if errors.Is(err, passkey.ErrNotFound) {
			return passkey.ErrInvalidCredential
		} else if err != nil {
			return err
		}
		if err := stored.Used(a, now); errors.Is(err, passkey.ErrCloned) {
			cloned = true
			return r.Audit.Append(ctx, in.Meta.Event(audit.PasskeyCloneDetected, fresh.ID(), now, map[string]string{
				"passkey_id": stored.ID().String(), "stored_count": uintText(stored.SignCount()), "sent_count": uintText(a.SignCount)}))
		} else if err != nil {
			return err
		}
		if err := r.Passkeys.Update(ctx, stored); err != nil {
			return err
		}
		if needCode {
			secret, hash, err := token.NewSecret(h.d.Random)
			if err != nil {
				return err
			}
			lt, err := mfa.IssueLoginTokenAfter(hash, fresh.ID(), mfa.BindingOf(fresh.ID(), fresh.PasswordHash(), in.Meta.IP, in.Meta.UserAgent), amr, now)
			if err != nil {
				return err
			}
			if err := r.MFA.AddLoginToken(ctx, lt); err != nil {
				return err
			}
			res = &appsession.LoginResult{MFAToken: secret}
			return nil
		}
		fresh.LoggedIn(now)
		s, err := session.NewSignedInBy(h.d.IDs.NewID(), fresh.ID(), now, h.ttl, in.Meta.UserAgent, in.Meta.IP, amr)
		if err != nil {
			return err
		}
		pair, err := appsession.StartSession(ctx, r, h.d.Tokens, h.d.Random, app.SessionStart{User: fresh, Session: s,
			Events: app.CreatedSessionEvents(h.d.IDs, now, fresh, mfaOn, s),
			Event: in.Meta.Event(audit.LoginSucceeded, fresh.ID(), now, map[string]string{
				"session_id": s.ID().String(), "passkey_id": stored.ID().String()}),
		}, fresh, now, in.Browser)
		if err != nil {
			return err
		}
		res = &appsession.LoginResult{TokenPair: pair}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cloned {
		return nil, passkey.ErrCloned
	}
	return res, nil
}

// failed audits an answer for the known passkey c that did not verify,
// outside any transaction. A failure to audit a refused sign-in does not
// change the answer.
func (h *Login) failed(ctx context.Context, c *passkey.Credential, meta app.RequestMeta) {
	_ = h.d.Audit.Append(ctx, meta.Event(audit.LoginFailed, c.UserID(), h.d.Clock.Now(), map[string]string{"passkey_id": c.ID().String()}))
}

// uintText is a counter as audit detail.
func uintText(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
