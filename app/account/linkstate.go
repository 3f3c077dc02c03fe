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
// instead of asking for a password first. It reads and consumes nothing:
// opening a link (a mail scanner's prefetch too) changes no state. It tells
// only the link's holder what the link itself would answer when used, so
// it reveals nothing a use of the link would not.
type LinkState struct {
	tx    app.TxManager
	clock app.Clock
}

// NewLinkState builds the use case.
func NewLinkState(tx app.TxManager, clock app.Clock) *LinkState {
	app.Require(map[string]any{"TxManager": tx, "Clock": clock})
	return &LinkState{tx: tx, clock: clock}
}

// Live reports whether raw is a link of purpose (for a password link:
// either kind) that can still be used:
// known, of that purpose, unused, unexpired and not replaced, of an active
// account, and for a verification link an account not verified yet. An
// unknown, malformed, expired or used link is false with a nil error;
// only a store failure is an error.
func (h *LinkState) Live(ctx context.Context, raw string, purpose token.Purpose) (bool, error) {
	hash, err := token.Parse(raw)
	if err != nil {
		return false, nil
	}
	live := false
	err = h.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		t, err := r.Tokens.ByHashForChange(ctx, hash)
		if errors.Is(err, domain.ErrInvalidToken) {
			return nil
		}
		if err != nil {
			return err
		}
		// A password link of either kind (reset, invitation) sets a
		// password on either page, as Reset takes both.
		if purpose.SetsPassword() && t.Purpose().SetsPassword() {
			purpose = t.Purpose()
		}
		if t.Usable(purpose, h.clock.Now()) != nil {
			return nil
		}
		u, err := r.Users.ByID(ctx, t.UserID())
		if errors.Is(err, user.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		live = u.Active() && !(purpose == token.PurposeVerifyEmail && u.Verified())
		return nil
	})
	if err != nil {
		return false, err
	}
	return live, nil
}
