package password

import (
	"context"
	"maps"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// Reset sets a new password with a reset token, or the first password of
// an invited account with its invitation token.
type Reset struct {
	tx     app.TxManager
	hasher app.PasswordHasher
	policy user.PasswordPolicy
	guard  *limits.Guard
	clock  app.Clock
	ids    app.IDGenerator
}

// NewReset builds the use case.
func NewReset(tx app.TxManager, hasher app.PasswordHasher, policy user.PasswordPolicy, guard *limits.Guard, clock app.Clock, ids app.IDGenerator) *Reset {
	return &Reset{tx: tx, hasher: hasher, policy: policy, guard: guard, clock: clock, ids: ids}
}

// Handle checks the token and the policy, then in one transaction sets the
// hash, consumes the token, marks the email verified (the mail proved
// ownership), revokes every session, kills every other link of the
// account and, after a reset, enqueues a notice (an invitation is the
// first password: there is nothing to warn of). Either kind of link works
// on either page: the page only chooses the words. The hash is
// computed between a read-only look at the token and that transaction, so
// no row stays locked while it runs; the transaction checks the token
// again under lock.
func (h *Reset) Handle(ctx context.Context, raw, newPassword string, meta app.RequestMeta) error {
	hash, err := token.Parse(raw)
	if err != nil {
		return err
	}
	var u *user.User
	var purpose token.Purpose
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		t, err := r.Tokens.ByHashForChange(ctx, hash)
		if err != nil {
			return err
		}
		if purpose = t.Purpose(); !purpose.SetsPassword() {
			return domain.ErrInvalidToken
		}
		if err := t.Usable(purpose, h.clock.Now()); err != nil {
			return err
		}
		if u, err = r.Users.ByID(ctx, t.UserID()); err != nil {
			return err
		}
		if !u.Active() {
			// A disabled account's links set nothing.
			return domain.ErrInvalidToken
		}
		return nil
	})
	if err != nil {
		return err
	}
	pw, err := h.policy.Check("password", newPassword, u.Email())
	if err != nil {
		return err
	}
	encoded, err := h.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	verified := false
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.clock.Now()
		if _, u, err = app.UseToken(ctx, r, hash, purpose, now); err != nil {
			return err
		}
		if err := u.SetPasswordHash(encoded, now); err != nil {
			return err
		}
		verified = !u.Verified()
		u.VerifyEmail(now)
		if err := r.Users.Update(ctx, u); err != nil {
			return err
		}
		// An invitation's first password publishes user.password_changed
		// as a reset does: the account's password is set, and the event
		// tells applications the invitation was accepted. Only the notice
		// is left out, there being nothing to warn of.
		set := passwordSet{event: audit.PasswordReset, notify: purpose == token.PurposeResetPassword, verified: verified}
		if purpose == token.PurposeInvite {
			set.detail = map[string]string{"via": "invitation"}
		}
		return recordPasswordSet(ctx, r, h.ids, u, uuid.Nil, set, meta, now)
	})
	if err != nil {
		return err
	}
	// The password is set by now; a failure to lift the lock is not the
	// client's to see. The counter is also reset by the next good login.
	// An address verified just now also drops the failures counted under
	// it before its owner proved it.
	if verified {
		_ = h.guard.AddressVerified(ctx, u.Email())
	} else {
		_ = h.guard.ClearLockout(ctx, u.Email())
	}
	return nil
}

// passwordSet says how recordPasswordSet records a new password: the audit
// event and its extra detail, whether the owner gets the notice, and
// whether setting it verified the address too.
type passwordSet struct {
	event    audit.Type
	detail   map[string]string
	notify   bool
	verified bool
}

// afterPasswordSet is recordPasswordSet of event with the notice.
func afterPasswordSet(ctx context.Context, r app.Repos, ids app.IDGenerator, u *user.User, keep uuid.UUID, event audit.Type, meta app.RequestMeta, now time.Time) error {
	return recordPasswordSet(ctx, r, ids, u, keep, passwordSet{event: event, notify: true}, meta, now)
}

// recordPasswordSet publishes user.password_changed (and user.verified
// when set.verified), revokes the user's sessions but keep, invalidates
// every outstanding reset, invitation, verification and email-change link
// of the user (a link mailed before must not set or verify a password, or
// move the account, after this one: a change asked for from a stolen
// session dies with the owner's reset), audits the event and, when
// set.notify, enqueues the "password changed" notice to the stored
// address.
func recordPasswordSet(ctx context.Context, r app.Repos, ids app.IDGenerator, u *user.User, keep uuid.UUID, set passwordSet, meta app.RequestMeta, now time.Time) error {
	events := []webhook.Type{webhook.UserPasswordChanged}
	if set.verified {
		events = append(events, webhook.UserVerified)
	}
	if err := app.Publish(ctx, r, ids, now, u, events...); err != nil {
		return err
	}
	n, err := app.RevokeAccess(ctx, r, ids, u, keep, now)
	if err != nil {
		return err
	}
	if set.notify {
		if err := r.Outbox.Enqueue(ctx, app.OutboundMail{ID: ids.NewID(), Kind: app.MailPasswordChanged, To: u.Email().String(), UserID: u.ID(), Data: map[string]string{}}, now); err != nil {
			return err
		}
	}
	detail := map[string]string{"sessions_revoked": strconv.Itoa(n)}
	maps.Copy(detail, set.detail)
	return r.Audit.Append(ctx, meta.Event(set.event, u.ID(), now, detail))
}
