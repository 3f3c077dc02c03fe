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
	"github.com/gatehouse-auth/gatehouse/domain/user"
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
// A registration never changes an existing account. With verification
// required, a registration of an address that is not verified yet is a
// pending registration of its own: its password hash travels with its own
// verification token, and verifying needs both (see VerifyEmail). The
// answer is the same in every branch, and every branch hashes the
// password once, so neither the answer nor its time tells whether the
// address is registered.
type Register struct {
	d               RegisterDeps
	ttl             time.Duration
	requireVerified bool
}

// RegisterDeps are what Register needs.
type RegisterDeps struct {
	Tx              app.TxManager
	Hasher          app.PasswordHasher
	Policy          user.PasswordPolicy
	Guard           *limits.Guard
	Clock           app.Clock
	IDs             app.IDGenerator
	Random          io.Reader
	Links           app.Links
	TTL             VerificationTTL
	RequireVerified app.RequireVerifiedEmail
}

// NewRegister builds the use case.
func NewRegister(d RegisterDeps) *Register {
	return &Register{d: d, ttl: time.Duration(d.TTL), requireVerified: bool(d.RequireVerified)}
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
	pw, err := h.d.Policy.Check("password", in.Password, email)
	if err != nil {
		return err
	}
	hash, err := h.d.Hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	// Whichever mail registration sends (verification or "already
	// registered"), it shares one per-address counter with the resend
	// endpoint's verification mails. It is counted before the
	// transaction, so the transaction does only the registration's work.
	mayMail, err := h.d.Guard.AllowMail(ctx, app.MailVerifyEmail, email)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			return h.register(ctx, r, email, hash, mayMail, in.Meta)
		})
		if !errors.Is(err, errRaced) || attempt == 1 {
			return err
		}
	}
}

func (h *Register) register(ctx context.Context, r app.Repos, email user.Email, hash string, mayMail bool, meta app.RequestMeta) error {
	now := h.d.Clock.Now()
	existing, err := r.Users.ByEmail(ctx, email)
	switch {
	case errors.Is(err, user.ErrNotFound):
		u, err := user.NewRegistration(h.d.IDs.NewID(), email, hash, now)
		if err != nil {
			return err
		}
		if err := r.Users.Create(ctx, u); errors.Is(err, user.ErrEmailTaken) {
			return errRaced
		} else if err != nil {
			return err
		}
		if mayMail {
			if err := app.AddVerificationToken(ctx, r, h.d.IDs, h.d.Random, h.d.Links, u, hash, now, h.ttl); err != nil {
				return err
			}
		}
		if err := app.PublishCreated(ctx, r, h.d.IDs, now, u); err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.Registered, u.ID(), now, nil))
	case err != nil:
		return err
	case !existing.Active() || !mayMail:
		// Nothing to send; the account is left as it is.
		return nil
	}
	if h.requireVerified && !existing.Verified() {
		// Read the user for change so that a verification committing
		// meanwhile is seen: a verified account gets the notice below,
		// never a pending registration.
		u, err := r.Users.ByIDForChange(ctx, existing.ID())
		if err != nil {
			return err
		}
		if !u.Active() {
			return nil
		}
		if !u.Verified() {
			// A pending registration of its own: the account, its
			// password and its sessions stay as they are; this
			// registration's password travels with its own token.
			return app.AddVerificationToken(ctx, r, h.d.IDs, h.d.Random, h.d.Links, u, hash, now, h.ttl)
		}
		existing = u
	}
	// A verified address (or, without required verification, any known
	// one: its first registration's password is the account's).
	return r.Outbox.Enqueue(ctx, app.OutboundMail{
		ID: h.d.IDs.NewID(), Kind: app.MailAlreadyRegistered, To: existing.Email().String(), UserID: existing.ID(),
		Data: map[string]string{"login_link": h.d.Links.Base(), "reset_link": h.d.Links.ForgotPassword()},
	}, now)
}
