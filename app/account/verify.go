package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// VerifyEmail consumes a verification token and marks its user verified.
// Verifying needs the token (the mailbox) and the password chosen at the
// registration that sent it (or, for a resent link, the account's current
// password; an account without a password, made by an upstream sign-in,
// needs the link alone). The first registration to verify wins: its password becomes
// the account's, and every other pending registration's token dies with
// it. Unknown, expired, used tokens, a wrong password and an address
// verified already all get one answer, invalid_token; a wrong password for
// a live link is ErrNotThisRegistration, which is that answer too, so that
// a hosted page (seen only by the link's holder) can say which it was. A
// verified address drops the login failures counted under it.
type VerifyEmail struct {
	tx     app.TxManager
	hasher app.PasswordHasher
	guard  *limits.Guard
	clock  app.Clock
	ids    app.IDGenerator
}

// ErrNotThisRegistration is the answer to a live verification link with a
// password other than the one chosen at the registration that sent it (for
// a resent link, the account's). It is domain.ErrInvalidToken to
// errors.As and errors.Is, so the API answers invalid_token as for a dead
// link; the link's holder learns nothing from it but that the link works.
var ErrNotThisRegistration = fmt.Errorf("%w (%w)", domain.ErrInvalidToken, errNotThisPassword)

var errNotThisPassword = errors.New("not the password of the registration that sent the link")

// NewVerifyEmail builds the use case.
func NewVerifyEmail(tx app.TxManager, hasher app.PasswordHasher, guard *limits.Guard, clock app.Clock, ids app.IDGenerator) *VerifyEmail {
	return &VerifyEmail{tx: tx, hasher: hasher, guard: guard, clock: clock, ids: ids}
}

// Handle verifies and returns the verified user. The password is checked
// between a first look at the token and the transaction that consumes it,
// so nothing is held while it hashes; that transaction checks everything
// again.
func (h *VerifyEmail) Handle(ctx context.Context, raw, password string, meta app.RequestMeta) (*user.User, error) {
	hash, err := token.Parse(raw)
	if err != nil {
		return nil, err
	}
	var expected string
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		t, u, err := h.usable(ctx, r, hash, false)
		if err != nil {
			return err
		}
		expected = passwordFor(t, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// An account made by an upstream sign-in has no password, and its
	// link carries none: the link alone verifies it.
	if expected != "" {
		ok, _, err := h.hasher.Verify(ctx, user.NormalizePassword(password), expected)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrNotThisRegistration
		}
	}
	var u *user.User
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		var t *token.OneTimeToken
		t, u, err = h.usable(ctx, r, hash, true)
		if err != nil {
			return err
		}
		// A reset or change since the check above replaced the password
		// a resent link is verified with.
		if passwordFor(t, u) != expected {
			return domain.ErrInvalidToken
		}
		now := h.clock.Now()
		if err := t.Use(token.PurposeVerifyEmail, now); err != nil {
			return err
		}
		if err := r.Tokens.MarkUsed(ctx, t); err != nil {
			return err
		}
		events := []webhook.Type{webhook.UserVerified}
		replaced := expected != u.PasswordHash()
		if replaced {
			// This registration's password becomes the account's.
			if err := u.SetPasswordHash(expected, now); err != nil {
				return err
			}
			events = append(events, webhook.UserPasswordChanged)
		}
		u.VerifyEmail(now)
		if err := r.Users.Update(ctx, u); err != nil {
			return err
		}
		// Every other pending registration dies.
		if _, err := r.Tokens.InvalidateUnused(ctx, u.ID(), now, token.PurposeVerifyEmail); err != nil {
			return err
		}
		if err := app.Publish(ctx, r, h.ids, now, u, events...); err != nil {
			return err
		}
		if replaced {
			// An unverified account has no sessions to keep, but any it
			// has belong to the old password.
			if _, err := app.RevokeSessions(ctx, r, h.ids, u, uuid.Nil, now); err != nil {
				return err
			}
		}
		return r.Audit.Append(ctx, meta.Event(audit.EmailVerified, u.ID(), now, nil))
	})
	if err != nil {
		return nil, err
	}
	// The address is verified by now; failing to clear its counters is not
	// the client's to see (they end with their windows, or a good login).
	_ = h.guard.AddressVerified(ctx, u.Email())
	return u, nil
}

// usable finds the token and its user and checks that the token can still
// verify: a verification token, unused, unexpired, of an active user not
// verified yet. forChange reads both for change.
func (h *VerifyEmail) usable(ctx context.Context, r app.Repos, hash token.Hash, forChange bool) (*token.OneTimeToken, *user.User, error) {
	t, err := r.Tokens.ByHashForChange(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	if err := t.Usable(token.PurposeVerifyEmail, h.clock.Now()); err != nil {
		return nil, nil, err
	}
	read := r.Users.ByID
	if forChange {
		read = r.Users.ByIDForChange
	}
	u, err := read(ctx, t.UserID())
	if err != nil {
		return nil, nil, err
	}
	if u.Verified() || !u.Active() {
		return nil, nil, domain.ErrInvalidToken
	}
	return t, u, nil
}

// passwordFor is the hash a verifier's password is checked against: the
// registration's own, or for a resent link the account's.
func passwordFor(t *token.OneTimeToken, u *user.User) string {
	if t.PasswordHash() != "" {
		return t.PasswordHash()
	}
	return u.PasswordHash()
}
