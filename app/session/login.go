package session

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// LoginInput is what a client sends.
type LoginInput struct {
	Email    string
	Password string
	Meta     app.RequestMeta
}

// Login checks a password and starts a session.
type Login struct {
	users           app.UserRepository
	factors         app.MFARepository
	tx              app.TxManager
	hasher          app.PasswordHasher
	tokens          app.TokenIssuer
	guard           *limits.Guard
	audit           app.AuditLog
	clock           app.Clock
	ids             app.IDGenerator
	rnd             io.Reader
	ttl             time.Duration
	requireVerified bool
	obs             app.Observer
}

// NewLogin builds the use case. users, factors and auditLog work outside
// any transaction.
func NewLogin(users app.UserRepository, factors app.MFARepository, tx app.TxManager, hasher app.PasswordHasher, tokens app.TokenIssuer, guard *limits.Guard, auditLog app.AuditLog, clock app.Clock, ids app.IDGenerator, rnd io.Reader, ttl RefreshTTL, requireVerified app.RequireVerifiedEmail, obs app.Observer) *Login {
	app.Require(map[string]any{"UserRepository": users, "MFARepository": factors, "TxManager": tx, "PasswordHasher": hasher, "AccessTokens": tokens, "Guard": guard, "AuditLog": auditLog, "Clock": clock, "IDGenerator": ids, "Random": rnd, "Observer": obs})
	return &Login{users: users, factors: factors, tx: tx, hasher: hasher, tokens: tokens, guard: guard, audit: auditLog, clock: clock, ids: ids, rnd: rnd, ttl: time.Duration(ttl), requireVerified: bool(requireVerified), obs: obs}
}

// Handle logs in. Unknown email, wrong password and (with verification
// required) an address not verified yet give the same error after the same
// work: one hash verification, against a dummy hash when no usable
// password exists. An unverified address has no usable password, so login
// tells nothing about who registered it. Whether the account is disabled,
// and whether it has MFA on, is told only to someone who knows the
// password: with MFA on, a right password starts no session and resets no
// failure counter; it answers the token of the second step (LoginMFA).
func (h *Login) Handle(ctx context.Context, in LoginInput) (*LoginResult, error) {
	email, err := user.ParseEmail(in.Email)
	if err != nil {
		h.obs.LoginResult(ctx, app.LoginInvalidCredentials)
		return nil, domain.ErrInvalidCredentials
	}
	pw := user.NormalizePassword(in.Password)
	if err := h.guard.BeginLogin(ctx, email, in.Meta.IP); err != nil {
		if errors.Is(err, domain.ErrRateLimited) {
			h.record(ctx, audit.LoginThrottled, nil, email, in.Meta)
			if errors.Is(err, limits.ErrLocked) {
				h.obs.LoginResult(ctx, app.LoginLocked)
			} else {
				h.obs.LoginResult(ctx, app.LoginRateLimited)
			}
		}
		return nil, err
	}
	u, err := h.users.ByEmail(ctx, email)
	if err != nil && !errors.Is(err, user.ErrNotFound) {
		return nil, err
	}
	if errors.Is(err, user.ErrNotFound) {
		u = nil
	}
	usable := u != nil && (u.Verified() || !h.requireVerified)
	encoded := h.hasher.DummyHash()
	if usable {
		encoded = u.PasswordHash()
	}
	ok, rehash, err := h.hasher.Verify(ctx, pw, encoded)
	if err != nil {
		return nil, err
	}
	if !usable || !ok {
		locked, err := h.guard.LoginFailed(ctx, email)
		if err != nil {
			return nil, err
		}
		h.record(ctx, audit.LoginFailed, u, email, in.Meta)
		if locked {
			h.record(ctx, audit.AccountLocked, u, email, in.Meta)
		}
		h.obs.LoginResult(ctx, app.LoginInvalidCredentials)
		return nil, domain.ErrInvalidCredentials
	}
	if !u.Active() {
		h.obs.LoginResult(ctx, app.LoginDisabled)
		return nil, domain.ErrAccountDisabled
	}
	if on, err := appmfa.Enabled(ctx, h.factors, u.ID()); err != nil {
		return nil, err
	} else if on {
		return h.challenge(ctx, u, pw, rehash, in.Meta)
	}
	if err := h.guard.LoginSucceeded(ctx, email, in.Meta.IP); err != nil {
		return nil, err
	}
	newHash := ""
	if rehash {
		if newHash, err = h.hasher.Hash(ctx, pw); err != nil {
			return nil, err
		}
	}
	var pair *TokenPair
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		// The password was checked against a hash read before this
		// transaction. Under the user's row lock, make sure it is still the
		// stored one: a reset or change that committed in between has
		// revoked every session, and a session made now with the old
		// password would survive it. Password resets and changes take the
		// same lock, so they and logins are serialized.
		fresh, err := r.Users.ByIDForChange(ctx, u.ID())
		if err != nil {
			return err
		}
		if fresh.PasswordHash() != u.PasswordHash() {
			return domain.ErrInvalidCredentials
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
		if err := r.Users.Update(ctx, fresh); err != nil {
			return err
		}
		s, err := session.New(h.ids.NewID(), u.ID(), now, h.ttl, in.Meta.UserAgent, in.Meta.IP)
		if err != nil {
			return err
		}
		if err := r.Sessions.Create(ctx, s); err != nil {
			return err
		}
		if pair, err = issuePair(ctx, r, h.tokens, h.rnd, s, u, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, audit.Event{Type: audit.LoginSucceeded, UserID: u.ID(), IP: in.Meta.IP, UserAgent: in.Meta.UserAgent, At: now, Detail: map[string]string{"session_id": s.ID().String()}})
	})
	switch {
	case errors.Is(err, domain.ErrInvalidCredentials): // the password changed meanwhile
		h.obs.LoginResult(ctx, app.LoginInvalidCredentials)
	case errors.Is(err, domain.ErrAccountDisabled):
		h.obs.LoginResult(ctx, app.LoginDisabled)
	case err == nil:
		h.obs.LoginResult(ctx, app.LoginSuccess)
	}
	if err != nil {
		return nil, err
	}
	return &LoginResult{TokenPair: pair}, nil
}

// record appends a login event outside any transaction. A failure to audit
// a refused login does not change the answer; the login is refused anyway.
func (h *Login) record(ctx context.Context, t audit.Type, u *user.User, email user.Email, meta app.RequestMeta) {
	e := audit.Event{Type: t, IP: meta.IP, UserAgent: meta.UserAgent, At: h.clock.Now(), Detail: map[string]string{"email": email.String()}}
	if u != nil {
		e.UserID = u.ID()
	}
	_ = h.audit.Append(ctx, e)
}
