// Package account holds the use cases of the account module: registration,
// email verification and reading the account.
package account

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// VerificationTTL is how long a verification link works.
type VerificationTTL time.Duration

// RegisterInput is what a client sends.
type RegisterInput struct {
	Email    string
	Password string
	Meta     app.RequestMeta
}

// Register creates an account or, for a known address, mails its owner.
// A known unverified address takes the new password (see register).
// The answer is the same in every branch, and every branch hashes the
// password once, so neither the answer nor its time tells whether the
// address is registered.
type Register struct {
	tx     app.TxManager
	hasher app.PasswordHasher
	policy user.PasswordPolicy
	guard  *limits.Guard
	clock  app.Clock
	ids    app.IDGenerator
	rnd    io.Reader
	links  app.Links
	ttl    time.Duration
}

// NewRegister builds the use case.
func NewRegister(tx app.TxManager, hasher app.PasswordHasher, policy user.PasswordPolicy, guard *limits.Guard, clock app.Clock, ids app.IDGenerator, rnd io.Reader, links app.Links, ttl VerificationTTL) *Register {
	app.Require(map[string]any{"TxManager": tx, "PasswordHasher": hasher, "Guard": guard, "Clock": clock, "IDGenerator": ids, "Random": rnd})
	return &Register{tx: tx, hasher: hasher, policy: policy, guard: guard, clock: clock, ids: ids, rnd: rnd, links: links, ttl: time.Duration(ttl)}
}

// errRaced says a concurrent registration of the same address won the
// unique index; the transaction is run again and finds that user.
var errRaced = errors.New("account: registration raced")

// Handle validates the input and runs the branch the address calls for.
func (h *Register) Handle(ctx context.Context, in RegisterInput) error {
	email, err := user.ParseEmail(in.Email)
	if err != nil {
		return err
	}
	pw, err := h.policy.Check("password", in.Password, email)
	if err != nil {
		return err
	}
	hash, err := h.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	// The per-address mail limit is counted before the transaction: the
	// counters live on other connections, and a transaction must never
	// wait for a second connection of the pool it holds one of. Whichever
	// mail registration sends (verification or "already registered"), it
	// shares one counter with the resend endpoint's verification mails.
	mayMail, err := h.guard.AllowMail(ctx, app.MailVerifyEmail, email)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			return h.register(ctx, r, email, hash, mayMail, in.Meta)
		})
		if !errors.Is(err, errRaced) || attempt == 1 {
			return err
		}
	}
}

func (h *Register) register(ctx context.Context, r app.Repos, email user.Email, hash string, mayMail bool, meta app.RequestMeta) error {
	now := h.clock.Now()
	existing, err := r.Users.ByEmail(ctx, email)
	switch {
	case errors.Is(err, user.ErrNotFound):
		u, err := user.New(h.ids.NewID(), email, hash, now)
		if err != nil {
			return err
		}
		if err := r.Users.Create(ctx, u); errors.Is(err, user.ErrEmailTaken) {
			return errRaced
		} else if err != nil {
			return err
		}
		if mayMail {
			if err := SendVerification(ctx, r, h.ids, h.rnd, h.links, u, now, h.ttl); err != nil {
				return err
			}
		}
		// Audit last: its chain lock is held until commit.
		return r.Audit.Append(ctx, audit.Event{Type: audit.Registered, UserID: u.ID(), IP: meta.IP, UserAgent: meta.UserAgent, At: now})
	case err != nil:
		return err
	case !existing.Active():
		return nil
	case !existing.Verified():
		// Nobody has proven this address yet, so the newest registration
		// wins: its password replaces the old one and sessions opened
		// before are ended. Otherwise whoever registered someone else's
		// address first would own the account once its owner registers
		// and verifies it (pre-account hijacking). The row lock also
		// serializes concurrent token issues for the user.
		u, err := r.Users.ByIDForUpdate(ctx, existing.ID())
		if err != nil {
			return err
		}
		if err := u.SetPasswordHash(hash, now); err != nil {
			return err
		}
		if err := r.Users.Update(ctx, u); err != nil {
			return err
		}
		if _, err := r.Sessions.RevokeAll(ctx, u.ID(), uuid.Nil, now); err != nil {
			return err
		}
		if !mayMail {
			// Over the mail limit the takeover still happens and older links
			// still die (a fresh token is issued), only no mail is sent:
			// otherwise an attacker could use up the limit first and keep
			// the account pre-claimed. The owner can come back later or use
			// a password reset, which proves the address and verifies it.
			_, err := app.IssueOneTimeToken(ctx, r, h.rnd, u.ID(), token.PurposeVerifyEmail, now, h.ttl)
			return err
		}
		return SendVerification(ctx, r, h.ids, h.rnd, h.links, u, now, h.ttl)
	case !mayMail:
		return nil
	default:
		return r.Outbox.Enqueue(ctx, app.OutboundMail{
			ID: h.ids.NewID(), Kind: app.MailAlreadyRegistered, To: existing.Email().String(), UserID: existing.ID(),
			Data: map[string]string{"login_link": h.links.Base(), "reset_link": h.links.ForgotPassword()},
		})
	}
}

// SendVerification issues a verification token for u and enqueues the mail
// to u's stored address. Callers apply the per-address mail limit.
func SendVerification(ctx context.Context, r app.Repos, ids app.IDGenerator, rnd io.Reader, links app.Links, u *user.User, now time.Time, ttl time.Duration) error {
	secret, err := app.IssueOneTimeToken(ctx, r, rnd, u.ID(), token.PurposeVerifyEmail, now, ttl)
	if err != nil {
		return err
	}
	return r.Outbox.Enqueue(ctx, app.OutboundMail{
		ID: ids.NewID(), Kind: app.MailVerifyEmail, To: u.Email().String(), UserID: u.ID(),
		Data: map[string]string{"link": links.VerifyEmail(secret)},
	})
}
