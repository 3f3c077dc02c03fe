package account

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// LinkState says, without using it, whether a mailed link can still do
// what it is for, so that a page opened from a dead link says so at once
// instead of asking for a password first. It only reads, outside any
// transaction and holding nothing: opening a link (a mail scanner's
// prefetch too) changes no state and waits for no writer. It tells only
// the link's holder what the link itself would answer when used, so it
// reveals nothing a use of the link would not.
type LinkState struct {
	tokens app.OneTimeTokenRepository
	users  app.UserRepository
	clock  app.Clock
}

// NewLinkState builds the use case. tokens and users work outside any
// transaction.
func NewLinkState(tokens app.OneTimeTokenRepository, users app.UserRepository, clock app.Clock) *LinkState {
	return &LinkState{tokens: tokens, users: users, clock: clock}
}

// Live reports whether raw is a link of purpose (for a password link:
// either kind) that can still be used: known, of that purpose, unused,
// unexpired and not replaced, of an active account, and for a
// verification link an account not verified yet. An unknown, malformed,
// expired or used link is false with a nil error; only a store failure is
// an error.
func (h *LinkState) Live(ctx context.Context, raw string, purpose token.Purpose) (bool, error) {
	hash, err := token.Parse(raw)
	if err != nil {
		return false, nil
	}
	t, err := h.tokens.ByHash(ctx, hash)
	if errors.Is(err, domain.ErrInvalidToken) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	// A password link of either kind (reset, invitation) sets a password
	// on either page, as Reset takes both.
	if purpose.SetsPassword() && t.Purpose().SetsPassword() {
		purpose = t.Purpose()
	}
	if t.Usable(purpose, h.clock.Now()) != nil {
		return false, nil
	}
	u, err := h.users.ByID(ctx, t.UserID())
	if errors.Is(err, user.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return u.Active() && !(purpose == token.PurposeVerifyEmail && u.Verified()), nil
}

// VerifyNeedsPassword reports whether the verification link raw asks for
// a password: it does unless both the link and its account have none (an
// account made by an upstream sign-in, which the link alone verifies).
// Anything it cannot read asks for one, the usual form.
func (h *LinkState) VerifyNeedsPassword(ctx context.Context, raw string) bool {
	hash, err := token.Parse(raw)
	if err != nil {
		return true
	}
	t, err := h.tokens.ByHash(ctx, hash)
	if err != nil || t.PasswordHash() != "" {
		return true
	}
	u, err := h.users.ByID(ctx, t.UserID())
	return err != nil || u.HasPassword()
}
