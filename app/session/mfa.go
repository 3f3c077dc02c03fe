package session

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// LoginResult is what a right password gets: a started session (the
// token pair), or, for an account with MFA on, only the token of the
// second step, which LoginMFA takes with a code.
type LoginResult struct {
	*TokenPair              // nil when MFA is required
	MFAToken   token.Secret // set when MFA is required
}

// MFARequired reports whether the login goes on with a code.
func (r *LoginResult) MFARequired() bool { return r.MFAToken != "" }

// challenge answers a right password of an account with MFA on: a login
// token (random, stored by hash, living mfa.LoginTokenTTL) bound to the
// user, the password hash just checked and the client. The right password
// gives back its attempt on the password counters, as any right password
// does; the second-factor counters are others, which only a right code
// resets. A hash with old parameters is upgraded here, as a plain login
// would, before the token is bound to it.
func (h *Login) challenge(ctx context.Context, u *user.User, pw user.Password, rehash bool, meta app.RequestMeta) (*LoginResult, error) {
	if err := h.d.Guard.LoginSucceeded(ctx, u.Email(), meta.IP); err != nil {
		return nil, err
	}
	if rehash {
		newHash, err := h.d.Hasher.Hash(ctx, pw)
		if err != nil {
			return nil, err
		}
		err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			fresh, err := app.LockUnchanged(ctx, r, u, nil, domain.ErrInvalidCredentials)
			if err != nil {
				return err
			}
			if err := fresh.SetPasswordHash(newHash, h.d.Clock.Now()); err != nil {
				return err
			}
			if err := r.Users.Update(ctx, fresh); err != nil {
				return err
			}
			u = fresh
			return nil
		})
		if errors.Is(err, domain.ErrInvalidCredentials) {
			h.d.Observer.LoginResult(ctx, app.LoginInvalidCredentials)
		}
		if err != nil {
			return nil, err
		}
	}
	secret, hash, err := token.NewSecret(h.d.Random)
	if err != nil {
		return nil, err
	}
	lt, err := mfa.IssueLoginToken(hash, u.ID(), mfa.BindingOf(u.ID(), u.PasswordHash(), meta.IP, meta.UserAgent), h.d.Clock.Now())
	if err != nil {
		return nil, err
	}
	if err := h.d.Factors.AddLoginToken(ctx, lt); err != nil {
		return nil, err
	}
	h.d.Observer.LoginResult(ctx, app.LoginMFARequired)
	return &LoginResult{MFAToken: secret}, nil
}

// LoginMFAInput is the second step of a login.
type LoginMFAInput struct {
	// Token is the mfa_token the password step answered.
	Token string
	// Code is a TOTP code or an unused recovery code.
	Code string
	Meta app.RequestMeta
	// Browser: the hosted sign-in page (see LoginInput).
	Browser bool
}

// LoginMFA completes a login with a code and starts a session whose
// access tokens carry amr ["pwd", "otp"] (["hwk", "otp"] after a passkey
// without user verification) and auth_time now. The login
// token must be unused, unexpired, not burned, and presented by the client
// it was issued to for the password that is still the user's; anything
// else is mfa.ErrLoginTokenInvalid. Each code is counted before it is
// checked, each count its own committed statement: against the token
// (mfa.MaxCodeAttempts codes per token, so a burst of any size gets at
// most that many checks, and the token burns at its MaxCodeAttempts-th
// wrong code) and against the account's second-factor limits. A wrong
// code (or a replayed one, or one that lost a race) is mfa.ErrInvalidCode.
// A right code resets the account's second-factor counters.
type LoginMFA struct {
	d   LoginMFADeps
	ttl time.Duration
}

// LoginMFADeps are what LoginMFA needs. Users and Factors work outside any
// transaction.
type LoginMFADeps struct {
	Users    app.UserRepository
	Factors  app.MFARepository
	Tx       app.TxManager
	Tokens   TokenIssuer
	Verifier *appmfa.Verifier
	Attempts *appmfa.Attempts
	Clock    app.Clock
	IDs      app.IDGenerator
	Random   io.Reader
	TTL      RefreshTTL
	Observer app.Observer
}

// NewLoginMFA builds the use case.
func NewLoginMFA(d LoginMFADeps) *LoginMFA {
	return &LoginMFA{d: d, ttl: time.Duration(d.TTL)}
}

// Handle checks the code and starts the session.
func (h *LoginMFA) Handle(ctx context.Context, in LoginMFAInput) (*TokenPair, error) {
	hash, err := token.Parse(in.Token)
	if err != nil {
		return nil, mfa.ErrLoginTokenInvalid
	}
	lt, err := h.d.Factors.LoginToken(ctx, hash)
	if err != nil {
		return nil, err // mfa.ErrLoginTokenInvalid when unknown
	}
	u, err := h.d.Users.ByID(ctx, lt.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return nil, mfa.ErrLoginTokenInvalid
	} else if err != nil {
		return nil, err
	}
	if err := lt.Usable(h.d.Clock.Now(), mfa.BindingOf(u.ID(), u.PasswordHash(), in.Meta.IP, in.Meta.UserAgent)); err != nil {
		return nil, err
	}
	// Counted against the token before the check: of concurrent codes on
	// one token, at most MaxCodeAttempts get here.
	if counted, err := h.d.Factors.FailLoginToken(ctx, hash, mfa.MaxCodeAttempts); err != nil {
		return nil, err
	} else if !counted {
		return nil, mfa.ErrLoginTokenInvalid
	}
	if err := h.d.Attempts.Begin(ctx, u, in.Code, "login", in.Meta); err != nil {
		if errors.Is(err, limits.ErrLocked) {
			h.d.Observer.LoginResult(ctx, app.LoginLocked)
		} else if errors.Is(err, domain.ErrRateLimited) {
			h.d.Observer.LoginResult(ctx, app.LoginRateLimited)
		}
		return nil, err
	}
	var (
		pair  *TokenPair
		wrong bool
	)
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		// Under the user's row lock (which password resets and changes,
		// and every change of a factor, take too): the password is still
		// the one the token was issued for, the account still enabled.
		fresh, err := app.LockUnchanged(ctx, r, u, mfa.ErrLoginTokenInvalid, mfa.ErrLoginTokenInvalid)
		if err != nil {
			return err
		}
		if !fresh.Active() {
			return domain.ErrAccountDisabled
		}
		method, ok, err := h.d.Verifier.Use(ctx, r, fresh.ID(), in.Code, now, true)
		if errors.Is(err, mfa.ErrNotEnabled) {
			return mfa.ErrLoginTokenInvalid // turned off meanwhile: log in again
		} else if err != nil {
			return err
		}
		if !ok {
			wrong = true // already counted against the token
			return nil
		}
		// This code is among the attempts counted, so a token whose
		// count is at MaxCodeAttempts (this one the last) is still usable.
		used, err := r.MFA.UseLoginToken(ctx, hash, now, mfa.MaxCodeAttempts+1)
		if err != nil {
			return err
		}
		if !used {
			// Used, burned or expired meanwhile: rolled back, the code
			// stays unused.
			return mfa.ErrLoginTokenInvalid
		}
		if method == mfa.MethodRecoveryCode {
			left, err := r.MFA.UnusedRecoveryCodes(ctx, fresh.ID())
			if err != nil {
				return err
			}
			remaining := strconv.Itoa(left)
			if err := r.Outbox.Enqueue(ctx, app.OutboundMail{ID: h.d.IDs.NewID(), Kind: app.MailRecoveryCodeUsed, To: fresh.Email().String(), UserID: fresh.ID(), Data: map[string]string{"remaining": remaining}}, now); err != nil {
				return err
			}
			if err := r.Audit.Append(ctx, audit.Event{Type: audit.MFARecoveryCodeUsed, UserID: fresh.ID(), IP: in.Meta.IP, UserAgent: in.Meta.UserAgent, At: now, Detail: map[string]string{"remaining": remaining}}); err != nil {
				return err
			}
		}
		fresh.LoggedIn(now)
		// The methods of the first step (a password, or a passkey
		// without user verification), then the code.
		s, err := session.NewSignedInBy(h.d.IDs.NewID(), fresh.ID(), now, h.ttl, in.Meta.UserAgent, in.Meta.IP, lt.FirstFactor())
		if err != nil {
			return err
		}
		s.Proved(session.MethodOTP, now)
		pair, err = StartSession(ctx, r, h.d.Tokens, h.d.Random, app.SessionStart{User: fresh, Session: s,
			Events: app.CreatedSessionEvents(h.d.IDs, now, fresh, true, s),
			Event: audit.Event{Type: audit.LoginSucceeded, UserID: fresh.ID(), IP: in.Meta.IP, UserAgent: in.Meta.UserAgent, At: now,
				Detail: map[string]string{"session_id": s.ID().String(), "mfa": string(method)}},
		}, fresh, now, in.Browser)
		return err
	})
	if errors.Is(err, domain.ErrAccountDisabled) {
		h.d.Observer.LoginResult(ctx, app.LoginDisabled)
	}
	if err != nil {
		return nil, err
	}
	if wrong {
		if err := h.d.Attempts.Failed(ctx, u, "login", in.Meta); err != nil {
			return nil, err
		}
		h.d.Observer.LoginResult(ctx, app.LoginInvalidCode)
		return nil, mfa.ErrInvalidCode
	}
	if err := h.d.Attempts.Succeeded(ctx, u); err != nil {
		return nil, err
	}
	h.d.Observer.LoginResult(ctx, app.LoginSuccess)
	return pair, nil
}
