package account

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// ChangeEmailInput is what a signed-in client sends.
type ChangeEmailInput struct {
	UserID   uuid.UUID
	NewEmail string
	Password string
	Meta     app.RequestMeta
}

// ChangeEmail starts moving a signed-in user's account to a new address:
// with the right password, a confirmation link goes to the new address
// when no account holds it, and a notice to the current one either way.
// The answer is the same whether the new address is free or not. Nothing
// changes until the link is used (ConfirmEmailChange); a newer request
// replaces an older one, and a password reset or change cancels it.
type ChangeEmail struct {
	users app.UserRepository
	tx    app.TxManager
	check *limits.PasswordCheck
	guard *limits.Guard
	clock app.Clock
	ids   app.IDGenerator
	rnd   io.Reader
	links app.Links
	ttl   VerificationTTL
}

// NewChangeEmail builds the use case. users works outside any transaction.
func NewChangeEmail(users app.UserRepository, tx app.TxManager, check *limits.PasswordCheck, guard *limits.Guard, clock app.Clock, ids app.IDGenerator, rnd io.Reader, links app.Links, ttl VerificationTTL) *ChangeEmail {
	app.Require(map[string]any{"UserRepository": users, "TxManager": tx, "PasswordCheck": check, "Guard": guard, "Clock": clock, "IDGenerator": ids, "Random": rnd})
	return &ChangeEmail{users: users, tx: tx, check: check, guard: guard, clock: clock, ids: ids, rnd: rnd, links: links, ttl: ttl}
}

// Handle records the request.
func (h *ChangeEmail) Handle(ctx context.Context, in ChangeEmailInput) error {
	newEmail, err := user.ParseEmail(in.NewEmail)
	if err != nil {
		return domain.Validation(domain.FieldError{Field: "new_email", Code: "invalid_email", Message: "The email address is not valid."})
	}
	u, err := h.users.ByID(ctx, in.UserID)
	if errors.Is(err, user.ErrNotFound) {
		return domain.ErrUnauthorized
	} else if err != nil {
		return err
	}
	if err := h.check.Check(ctx, u, in.Password, "email_change", in.Meta); err != nil {
		return err
	}
	if newEmail == u.Email() {
		return nil // nothing to change
	}
	free := false
	if _, err := h.users.ByEmail(ctx, newEmail); errors.Is(err, user.ErrNotFound) {
		free = true
	} else if err != nil {
		return err
	}
	// Links to an address the caller does not own are bounded per address
	// like every other mail; over the limit the answer stays the same.
	send := false
	if free {
		if send, err = h.guard.AllowMail(ctx, app.MailConfirmEmailChange, newEmail); err != nil {
			return err
		}
	}
	return h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		fresh, err := r.Users.ByIDForChange(ctx, u.ID())
		if err != nil {
			return err
		}
		if !fresh.Active() {
			return domain.ErrUnauthorized
		}
		if _, err := r.Tokens.InvalidateUnused(ctx, fresh.ID(), now, token.PurposeChangeEmail); err != nil {
			return err
		}
		if send {
			secret, hash, err := token.NewSecret(h.rnd)
			if err != nil {
				return err
			}
			t, err := token.IssueForEmailChange(hash, fresh.ID(), newEmail.String(), now, time.Duration(h.ttl))
			if err != nil {
				return err
			}
			if err := r.Tokens.Add(ctx, t); err != nil {
				return err
			}
			err = r.Outbox.Enqueue(ctx, app.OutboundMail{
				ID: h.ids.NewID(), Kind: app.MailConfirmEmailChange, To: newEmail.String(), UserID: fresh.ID(),
				Data: app.LinkMailData(h.links.ConfirmEmail(secret), time.Duration(h.ttl)),
			}, now)
			if err != nil {
				return err
			}
		}
		err = r.Outbox.Enqueue(ctx, app.OutboundMail{
			ID: h.ids.NewID(), Kind: app.MailEmailChangeRequested, To: fresh.Email().String(), UserID: fresh.ID(),
			Data: map[string]string{"reset_link": h.links.ForgotPassword()},
		}, now)
		if err != nil {
			return err
		}
		return r.Audit.Append(ctx, audit.Event{Type: audit.EmailChangeRequested, UserID: fresh.ID(), IP: in.Meta.IP, UserAgent: in.Meta.UserAgent, At: now,
			Detail: map[string]string{"new_email": newEmail.String(), "link_sent": strconv.FormatBool(send)}})
	})
}

// ConfirmEmailChange uses a change-email link: the account moves to the
// address the link was sent to, which is verified by that, every session
// but keep is revoked, and every other outstanding link of the account
// (mailed to the old address) dies. An address taken since the request
// gives user.ErrEmailTaken (the unique index decides a race); unknown,
// used and expired links, and links of a disabled account, invalid_token.
type ConfirmEmailChange struct {
	tx    app.TxManager
	clock app.Clock
}

// NewConfirmEmailChange builds the use case.
func NewConfirmEmailChange(tx app.TxManager, clock app.Clock) *ConfirmEmailChange {
	app.Require(map[string]any{"TxManager": tx, "Clock": clock})
	return &ConfirmEmailChange{tx: tx, clock: clock}
}

// Handle switches the address. keep is the caller's session when the
// link is used from a signed-in client (uuid.Nil from a hosted page).
func (h *ConfirmEmailChange) Handle(ctx context.Context, raw string, keep uuid.UUID, meta app.RequestMeta) (*user.User, error) {
	hash, err := token.Parse(raw)
	if err != nil {
		return nil, err
	}
	var u *user.User
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		var t *token.OneTimeToken
		t, u, err = app.UseToken(ctx, r, hash, token.PurposeChangeEmail, now)
		if err != nil {
			return err
		}
		old := u.Email()
		newEmail, err := user.ParseEmail(t.NewEmail())
		if err != nil {
			return domain.ErrInvalidToken
		}
		if err := u.ChangeEmail(newEmail, now); err != nil {
			return err
		}
		if err := r.Users.Update(ctx, u); err != nil {
			return err
		}
		n, err := r.Sessions.RevokeAll(ctx, u.ID(), keep, now)
		if err != nil {
			return err
		}
		if _, err := r.Tokens.InvalidateUnused(ctx, u.ID(), now, token.PurposeResetPassword, token.PurposeVerifyEmail, token.PurposeChangeEmail); err != nil {
			return err
		}
		return r.Audit.Append(ctx, audit.Event{Type: audit.EmailChanged, UserID: u.ID(), IP: meta.IP, UserAgent: meta.UserAgent, At: now,
			Detail: map[string]string{"old_email": old.String(), "new_email": newEmail.String(), "sessions_revoked": strconv.Itoa(n)}})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
