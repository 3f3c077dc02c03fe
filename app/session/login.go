package session

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// LoginInput is what a client sends.
type LoginInput struct {
	Email    string
	Password string
	Meta     app.RequestMeta
	// Browser: the hosted sign-in page, which gets a browser session
	// instead of tokens (the limits and checks are the same).
	Browser bool
}

// Login checks a password and starts a session.
type Login struct {
	d               LoginDeps
	ttl             time.Duration
	requireVerified bool
}

// LoginDeps are what Login needs. Users, Factors and Audit work outside
// any transaction.
type LoginDeps struct {
	Users           app.UserRepository
	Factors         app.MFARepository
	Tx              app.TxManager
	Hasher          app.PasswordHasher
	Tokens          TokenIssuer
	Guard           *limits.Guard
	Audit           app.AuditLog
	Clock           app.Clock
	IDs             app.IDGenerator
	Random          io.Reader
	TTL             RefreshTTL
	RequireVerified app.RequireVerifiedEmail
	Observer        app.Observer
}

// NewLogin builds the use case.
func NewLogin(d LoginDeps) *Login {
	return &Login{d: d, ttl: time.Duration(d.TTL), requireVerified: bool(d.RequireVerified)}
}

// Handle logs in. Unknown email, wrong password and (with verification
// required) an address not verified yet give the same error after the same
// work: one hash verification, against a dummy hash when no usable
// password exists. An unverified address has no usable password, so login
// tells nothing about who registered it; nor has an account without one
// (made by an upstream sign-in, until a reset sets one). Whether the account is disabled,
// and whether it has MFA on, is told only to someone who knows the
// password: with MFA on, a right password starts no session and resets no
// failure counter; it answers the token of the second step (LoginMFA).
func (h *Login) Handle(ctx context.Context, in LoginInput) (*LoginResult, error) {
	email, err := user.ParseEmail(in.Email)
	if err != nil {
		h.d.Observer.LoginResult(ctx, app.LoginInvalidCredentials)
		return nil, domain.ErrInvalidCredentials
	}
	pw := user.NormalizePassword(in.Password)
	if err := h.d.Guard.BeginLogin(ctx, email, in.Meta.IP); err != nil {
		if errors.Is(err, domain.ErrRateLimited) {
			h.record(ctx, audit.LoginThrottled, nil, email, in.Meta)
			if errors.Is(err, limits.ErrLocked) {
				h.d.Observer.LoginResult(ctx, app.LoginLocked)
			} else {
				h.d.Observer.LoginResult(ctx, app.LoginRateLimited)
			}
		}
		return nil, err
	}
	u, mfaOn, err := h.d.Users.ForLogin(ctx, email)
	if err != nil && !errors.Is(err, user.ErrNotFound) {
		return nil, err
	}
	if errors.Is(err, user.ErrNotFound) {
		u = nil
	}
	usable := u != nil && u.HasPassword() && (u.Verified() || !h.requireVerified)
	encoded := h.d.Hasher.DummyHash()
	if usable {
		encoded = u.PasswordHash()
	}
	ok, rehash, err := h.d.Hasher.Verify(ctx, pw, encoded)
	if err != nil {
		return nil, err
	}
	if !usable || !ok {
		locked, err := h.d.Guard.LoginFailed(ctx, email)
		if err != nil {
			return nil, err
		}
		h.record(ctx, audit.LoginFailed, u, email, in.Meta)
		if locked {
			h.record(ctx, audit.AccountLocked, u, email, in.Meta)
		}
		h.d.Observer.LoginResult(ctx, app.LoginInvalidCredentials)
		return nil, domain.ErrInvalidCredentials
	}
	if !u.Active() {
		h.d.Observer.LoginResult(ctx, app.LoginDisabled)
		return nil, domain.ErrAccountDisabled
	}
	if mfaOn {
		return h.challenge(ctx, u, pw, rehash, in.Meta)
	}
	if err := h.d.Guard.LoginSucceeded(ctx, email, in.Meta.IP); err != nil {
		return nil, err
	}
	newHash := ""
	if rehash {
		if newHash, err = h.d.Hasher.Hash(ctx, pw); err != nil {
			return nil, err
		}
	}
	var pair *TokenPair
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		// The password was checked against a hash read before this
		// transaction. Under the user's row lock, make sure it is still the
		// stored one: a reset or change that committed in between has
		// revoked every session, and a session made now with the old
		// password would survive it. Password resets and changes take the
		// same lock, so they and logins are serialized.
		fresh, err := app.LockUnchanged(ctx, r, u, nil, domain.ErrInvalidCredentials)
		if err != nil {
			return err
		}
		if !fresh.Active() {
			return domain.ErrAccountDisabled
		}
		if newHash != "" {
			if err := fresh.SetPasswordHash(newHash, now); err != nil {
				return err
			}
		}
		fresh.LoggedIn(now)
		s, err := session.New(h.d.IDs.NewID(), u.ID(), now, h.ttl, in.Meta.UserAgent, in.Meta.IP)
		if err != nil {
			return err
		}
		pair, err = StartSession(ctx, r, h.d.Tokens, h.d.Random, app.SessionStart{User: fresh, Session: s,
			Events: app.CreatedSessionEvents(h.d.IDs, now, fresh, false, s),
			Event:  audit.Event{Type: audit.LoginSucceeded, UserID: u.ID(), IP: in.Meta.IP, UserAgent: in.Meta.UserAgent, At: now, Detail: map[string]string{"session_id": s.ID().String()}},
		}, u, now, in.Browser)
		return err
	})
	switch {
	case errors.Is(err, domain.ErrInvalidCredentials): // the password changed meanwhile
		h.d.Observer.LoginResult(ctx, app.LoginInvalidCredentials)
	case errors.Is(err, domain.ErrAccountDisabled):
		h.d.Observer.LoginResult(ctx, app.LoginDisabled)
	case err == nil:
		h.d.Observer.LoginResult(ctx, app.LoginSuccess)
	}
	if err != nil {
		return nil, err
	}
	return &LoginResult{TokenPair: pair}, nil
}

// record appends a login event outside any transaction. A failure to audit
// a refused login does not change the answer; the login is refused anyway.
func (h *Login) record(ctx context.Context, t audit.Type, u *user.User, email user.Email, meta app.RequestMeta) {
	e := meta.Event(t, uuid.Nil, h.d.Clock.Now(), map[string]string{"email": email.String()})
	if u != nil {
		e.UserID = u.ID()
	}
	_ = h.d.Audit.Append(ctx, e)
}
