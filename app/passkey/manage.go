package passkey

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/google/uuid"
)

// List shows the signed-in user's passkeys, oldest first.
type List struct {
	d Deps
}

// NewList builds the use case.
func NewList(d Deps) *List { return &List{d: d} }

// Handle lists userID's passkeys.
func (h *List) Handle(ctx context.Context, userID uuid.UUID) ([]*passkey.Credential, error) {
	u, err := app.SignedIn(ctx, h.d.Users, userID)
	if err != nil {
		return nil, err
	}
	return h.d.Passkeys.List(ctx, u.ID())
}

// Rename names one of the signed-in user's passkeys; another user's is
// passkey.ErrNotFound.
type Rename struct {
	d Deps
}

// NewRename builds the use case.
func NewRename(d Deps) *Rename { return &Rename{d: d} }

// Handle renames userID's passkey id to name (passkey.ParseName).
func (h *Rename) Handle(ctx context.Context, userID, id uuid.UUID, name string) (*passkey.Credential, error) {
	n, err := passkey.ParseName(name)
	if err != nil {
		return nil, err
	}
	var c *passkey.Credential
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if _, err := lockUser(ctx, r, userID); err != nil {
			return err
		}
		if c, err = r.Passkeys.ByID(ctx, userID, id); err != nil {
			return err
		}
		c.Rename(n)
		return r.Passkeys.Update(ctx, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Delete removes one of the signed-in user's passkeys, audited as
// passkey_deleted, unless it is their last way to sign in (no password,
// no upstream identity and no other passkey: passkey.ErrLastWayToSignIn).
// On an account with MFA on it needs the step-up of mfa.StepUp first, as
// adding one does (a passkey may be the account's second factor). The
// user's row is read for change first, so that two deletions of a user's
// last two passkeys run one after the other and the second is refused.
type Delete struct {
	d Deps
}

// NewDelete builds the use case.
func NewDelete(d Deps) *Delete { return &Delete{d: d} }

// Handle deletes userID's passkey id, with the proof p of the step-up.
func (h *Delete) Handle(ctx context.Context, userID, id uuid.UUID, p appmfa.Proof, meta app.RequestMeta) error {
	u, err := app.SignedIn(ctx, h.d.Users, userID)
	if err != nil {
		return err
	}
	if _, err := h.d.StepUp.Require(ctx, u, p, true, "passkey_delete", meta); err != nil {
		return err
	}
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		u, err := lockUser(ctx, r, userID)
		if err != nil {
			return err
		}
		all, err := r.Passkeys.List(ctx, u.ID())
		if err != nil {
			return err
		}
		found := false
		for _, c := range all {
			found = found || c.ID() == id
		}
		if !found {
			return passkey.ErrNotFound
		}
		identities, err := r.Upstream.Identities(ctx, u.ID())
		if err != nil {
			return err
		}
		if err := passkey.Removable(u.HasPassword() || len(identities) > 0, len(all)-1); err != nil {
			return err
		}
		if err := r.Passkeys.Delete(ctx, u.ID(), id); err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.PasskeyDeleted, u.ID(), h.d.Clock.Now(), map[string]string{"passkey_id": id.String()}))
	})
}
