package account

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
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// ChangeEmailInput is what a signed-in client sends.
type ChangeEmailInput struct {
	UserID   uuid.UUID
	NewEmail string
	Password string
	// Proof is the caller's session and the code of the request: on an
	// account with MFA on, the change needs the step-up of mfa.StepUp.
	Proof appmfa.Proof
	Meta  app.RequestMeta
}

// ChangeEmail starts moving a signed-in user's account to a new address:
// with the right password, a confirmation link goes to the new address
// when no account holds it but a pending registration (which does not own
// the address: see user.PendingRegistration), and a notice to the current
// one either way.
// The answer is the same whether the new address is free or not. Nothing
// changes until the link is used (ConfirmEmailChange); a newer request
// replaces an older one, and a password reset or change cancels it. On an
// account with MFA on the password is not enough: the request needs the
// step-up of mfa.StepUp (a code, or a session that proved one recently),
// so a password-only session cannot move the account away from its owner.
type ChangeEmail struct {
	d ChangeEmailDeps
}

// ChangeEmailDeps are what ChangeEmail needs. Users works outside any
// transaction.
type ChangeEmailDeps struct {
	Users  app.UserRepository
	Tx     app.TxManager
	Check  *limits.PasswordCheck
	StepUp *appmfa.StepUp
	Guard  *limits.Guard
	Clock  app.Clock
	IDs    app.IDGenerator
	Random io.Reader
	Links  app.Links
	TTL    VerificationTTL
}

// NewChangeEmail builds the use case.
func NewChangeEmail(d ChangeEmailDeps) *ChangeEmail {
	return &ChangeEmail{d: d}
}

// Handle records the request.
func (h *ChangeEmail) Handle(ctx context.Context, in ChangeEmailInput) error {
	newEmail, err := user.ParseEmail(in.NewEmail)
	if err != nil {
		return domain.Validation(domain.FieldError{Field: "new_email", Code: "invalid_email", Message: "The email address is not valid."})
	}
	u, err := h.d.Check.SignedIn(ctx, h.d.Users, in.UserID, in.Password, "email_change", in.Meta)
	if err != nil {
		return err
	}
	if _, err := h.d.StepUp.Require(ctx, u, in.Proof, true, "email_change", in.Meta); err != nil {
		return err
	}
	if newEmail == u.Email() {
		return nil // nothing to change
	}
	free := false
	if holder, err := h.d.Users.ByEmail(ctx, newEmail); errors.Is(err, user.ErrNotFound) {
		free = true
	} else if err != nil {
		return err
	} else {
		free = holder.PendingRegistration()
	}
	// Links to an address the caller does not own are bounded per address
	// like every other mail; over the limit the answer stays the same.
	send := false
	if free {
		if send, err = h.d.Guard.AllowMail(ctx, app.MailConfirmEmailChange, newEmail); err != nil {
			return err
		}
	}
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
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
			secret, hash, err := token.NewSecret(h.d.Random)
			if err != nil {
				return err
			}
			t, err := token.IssueForEmailChange(hash, fresh.ID(), newEmail.String(), now, time.Duration(h.d.TTL))
			if err != nil {
				return err
			}
			if err := r.Tokens.Add(ctx, t); err != nil {
				return err
			}
			err = r.Outbox.Enqueue(ctx, app.OutboundMail{
				ID: h.d.IDs.NewID(), Kind: app.MailConfirmEmailChange, To: newEmail.String(), UserID: fresh.ID(),
				Data: app.LinkMailData(h.d.Links.ConfirmEmail(secret), time.Duration(h.d.TTL)),
			}, now)
			if err != nil {
				return err
			}
		}
		err = r.Outbox.Enqueue(ctx, app.OutboundMail{
			ID: h.d.IDs.NewID(), Kind: app.MailEmailChangeRequested, To: fresh.Email().String(), UserID: fresh.ID(),
			Data: map[string]string{"reset_link": h.d.Links.ForgotPassword()},
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
// (mailed to the old address) dies. A pending registration of the new
// address is deleted in the same transaction (its links die with it), and
// the login failures counted under the new address are forgotten. An
// address that an account owns since the request gives user.ErrEmailTaken
// (the unique index decides a race); unknown, used and expired links, and
// links of a disabled account, invalid_token.
type ConfirmEmailChange struct {
	tx    app.TxManager
	guard *limits.Guard
	clock app.Clock
	ids   app.IDGenerator
}

// NewConfirmEmailChange builds the use case.
func NewConfirmEmailChange(tx app.TxManager, guard *limits.Guard, clock app.Clock, ids app.IDGenerator) *ConfirmEmailChange {
	return &ConfirmEmailChange{tx: tx, guard: guard, clock: clock, ids: ids}
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
		detail := map[string]string{"old_email": old.String(), "new_email": newEmail.String()}
		pending, err := takeOverPending(ctx, r, h.ids, u, newEmail, now)
		if err != nil {
			return err
		}
		if pending != uuid.Nil {
			detail["pending_registration_deleted"] = pending.String()
		}
		events := []webhook.Type{webhook.UserEmailChanged}
		if !u.Verified() {
			// The link reached the new address: it is verified by that.
			events = append(events, webhook.UserVerified)
		}
		if err := u.ChangeEmail(newEmail, now); err != nil {
			return err
		}
		if err := r.Users.Update(ctx, u); err != nil {
			return err
		}
		if err := app.Publish(ctx, r, h.ids, now, u, events...); err != nil {
			return err
		}
		n, err := app.RevokeAccess(ctx, r, h.ids, u, keep, now)
		if err != nil {
			return err
		}
		detail["sessions_revoked"] = strconv.Itoa(n)
		return r.Audit.Append(ctx, meta.Event(audit.EmailChanged, u.ID(), now, detail))
	})
	if err != nil {
		return nil, err
	}
	// The move is committed; failing to clear the counters is not the
	// client's to see.
	_ = h.guard.AddressVerified(ctx, u.Email())
	return u, nil
}

// takeOverPending deletes the pending registration that holds email, if
// one does, so that u can move there, and returns its id (uuid.Nil when
// none was deleted). The deletion publishes user.deleted: applications
// heard of the registration's user.created. Its links die first, then the
// holder is read for change: a verification of it takes its link, then
// the account, and taking them in the same order lets the two run one
// after the other. A verification committed meanwhile makes the holder an
// owner, which stays; the move then fails on the unique address
// (user.ErrEmailTaken) and rolls this back.
func takeOverPending(ctx context.Context, r app.Repos, ids app.IDGenerator, u *user.User, email user.Email, now time.Time) (uuid.UUID, error) {
	holder, err := r.Users.ByEmail(ctx, email)
	if errors.Is(err, user.ErrNotFound) {
		return uuid.Nil, nil
	} else if err != nil {
		return uuid.Nil, err
	}
	if holder.ID() == u.ID() || !holder.PendingRegistration() {
		return uuid.Nil, nil
	}
	if _, err := r.Tokens.InvalidateUnused(ctx, holder.ID(), now, app.AccountLinks...); err != nil {
		return uuid.Nil, err
	}
	if holder, err = r.Users.ByIDForChange(ctx, holder.ID()); errors.Is(err, user.ErrNotFound) {
		return uuid.Nil, nil
	} else if err != nil {
		return uuid.Nil, err
	}
	if !holder.PendingRegistration() || holder.Email() != email {
		return uuid.Nil, nil
	}
	if err := app.DeleteUser(ctx, r, ids, holder, now); err != nil {
		return uuid.Nil, err
	}
	return holder.ID(), nil
}
