package upstream

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/google/uuid"
)

// IdentityView is one of a user's identities with its provider's name
// ("" when the provider is no longer configured).
type IdentityView struct {
	*upstream.Identity
	ProviderName string
}

// List answers the signed-in user's identities, oldest first.
type List struct{ d Deps }

// NewList builds the use case.
func NewList(d Deps) *List { return &List{d: d} }

// Handle lists userID's identities.
func (h *List) Handle(ctx context.Context, userID uuid.UUID) ([]IdentityView, error) {
	var ids []*upstream.Identity
	err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		var err error
		ids, err = r.Upstream.Identities(ctx, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]IdentityView, 0, len(ids))
	for _, i := range ids {
		p, _ := h.d.Providers.Provider(i.Provider())
		out = append(out, IdentityView{Identity: i, ProviderName: p.Name})
	}
	return out, nil
}

// Unlink removes one of the signed-in user's identities, audited as
// upstream_identity_unlinked, unless it is their last way to sign in (no
// password, no passkey, no other identity: upstream.ErrLastWayToSignIn).
// The user's row is read for change first, so that two removals of a
// user's last two ways to sign in run one after the other and the second
// is refused.
type Unlink struct{ d Deps }

// NewUnlink builds the use case.
func NewUnlink(d Deps) *Unlink { return &Unlink{d: d} }

// Handle removes userID's identity id.
func (h *Unlink) Handle(ctx context.Context, userID, id uuid.UUID, meta app.RequestMeta) error {
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		u, err := lockUser(ctx, r, userID)
		if err != nil {
			return err
		}
		all, err := r.Upstream.Identities(ctx, u.ID())
		if err != nil {
			return err
		}
		var found *upstream.Identity
		for _, i := range all {
			if i.ID() == id {
				found = i
			}
		}
		if found == nil {
			return upstream.ErrNotFound
		}
		passkeys, err := r.Passkeys.List(ctx, u.ID())
		if err != nil {
			return err
		}
		if err := upstream.Removable(u.HasPassword(), len(passkeys), len(all)-1); err != nil {
			return err
		}
		if err := r.Upstream.DeleteIdentity(ctx, u.ID(), id); err != nil {
			return err
		}
		return r.Audit.Append(ctx, meta.Event(audit.UpstreamIdentityUnlinked, u.ID(), h.d.Clock.Now(), map[string]string{
			"provider": found.Provider(), "identity_id": id.String()}))
	})
}
