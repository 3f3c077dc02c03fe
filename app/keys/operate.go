package keys

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/google/uuid"
)

// Source says where a key is kept.
const (
	SourceDatabase = "database"
	SourceFile     = "file"
)

// KeyView is a key as operators see it: never its private half.
type KeyView struct {
	KID          string           `json:"id"`
	State        signingkey.State `json:"state"`
	Source       string           `json:"source"`
	Published    bool             `json:"published"`
	CreatedAt    *time.Time       `json:"created_at,omitempty"`
	ActivateAt   *time.Time       `json:"activate_at,omitempty"`
	ActivatedAt  *time.Time       `json:"activated_at,omitempty"`
	RetiredAt    *time.Time       `json:"retired_at,omitempty"`
	PublishUntil *time.Time       `json:"publish_until,omitempty"`
}

// List returns the keys, oldest first. Keys from files have state
// current or retired (GATEHOUSE_JWT_PREVIOUS_KEY_FILES) and no times.
func (r *Ring) List(ctx context.Context) ([]KeyView, error) {
	if r.d.Config.Files != nil {
		out := []KeyView{{KID: r.d.Config.Files.Current.KID, State: signingkey.Current, Source: SourceFile, Published: true}}
		for _, p := range r.d.Config.Files.Previous {
			out = append(out, KeyView{KID: p.KID, State: signingkey.Retired, Source: SourceFile, Published: true})
		}
		return out, nil
	}
	ring, err := r.d.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	now := r.d.Clock.Now()
	out := make([]KeyView, 0, len(ring))
	for _, k := range ring {
		created, activate := k.CreatedAt, k.ActivateAt
		out = append(out, KeyView{KID: k.KID, State: k.State, Source: SourceDatabase, Published: k.Published(now),
			CreatedAt: &created, ActivateAt: &activate, ActivatedAt: k.ActivatedAt, RetiredAt: k.RetiredAt, PublishUntil: k.PublishUntil})
	}
	return out, nil
}

// Rotate publishes a new key at once; it signs from PublishDelay on (the
// next refresh of each instance after that time promotes it). A pending
// rotation gives signingkey.ErrRotationPending.
func (r *Ring) Rotate(ctx context.Context, actor string, meta app.RequestMeta) (KeyView, error) {
	if r.d.Config.Files != nil {
		return KeyView{}, ErrKeysFromFiles
	}
	k, err := r.d.Tokens.GenerateKey()
	if err != nil {
		return KeyView{}, err
	}
	sealed, err := r.d.Sealer.Seal(k.Seed, label(k.KID))
	if err != nil {
		return KeyView{}, err
	}
	now := r.d.Clock.Now()
	next := signingkey.NewNext(k.KID, sealed, now, r.d.Config.PublishDelay)
	err = r.d.Tx.Within(ctx, func(ctx context.Context, repos app.Repos) error {
		if err := repos.SigningKeys.Add(ctx, next); err != nil {
			return err
		}
		return repos.Audit.Append(ctx, meta.ActorEvent(audit.KeyRotated, actor, uuid.Nil, now, map[string]string{"kid": next.KID, "activate_at": next.ActivateAt.UTC().Format(time.RFC3339)}))
	})
	if err != nil {
		return KeyView{}, err
	}
	return KeyView{KID: next.KID, State: next.State, Source: SourceDatabase, Published: true, CreatedAt: &next.CreatedAt, ActivateAt: &next.ActivateAt}, nil
}

// Retire stops publishing the key kid at once (a compromised key): tokens
// it signed fail from each instance's next refresh on. Retiring the
// current key makes a replacement current at once: the next key if one
// is published, else a new key (whose tokens outside verifiers accept once
// their JWKS cache expires).
func (r *Ring) Retire(ctx context.Context, actor string, meta app.RequestMeta, kid string) error {
	if r.d.Config.Files != nil {
		return ErrKeysFromFiles
	}
	err := r.d.Tx.Within(ctx, func(ctx context.Context, repos app.Repos) error {
		ring, err := repos.SigningKeys.Keys(ctx)
		if err != nil {
			return err
		}
		now := r.d.Clock.Now()
		k, ok := ring.ByID(kid)
		if !ok || !k.Published(now) {
			return signingkey.ErrNotFound
		}
		if err := save(ctx, repos, k.RetireNow(now), k.State); err != nil {
			return err
		}
		detail := map[string]string{"kid": k.KID, "was": string(k.State)}
		if k.State == signingkey.Current {
			repl, err := r.replacement(ring, now)
			if err != nil {
				return err
			}
			detail["replaced_by"] = repl.KID
			if repl.State == signingkey.Next {
				if err := save(ctx, repos, repl.ActivateNow(now), signingkey.Next); err != nil {
					return err
				}
			} else if err := repos.SigningKeys.Add(ctx, repl); err != nil {
				return err
			}
		}
		return repos.Audit.Append(ctx, meta.ActorEvent(audit.KeyRetired, actor, uuid.Nil, now, detail))
	})
	return err
}

// replacement is the key that signs once the current one is retired by
// hand: the next key, or a new one.
func (r *Ring) replacement(ring signingkey.Ring, now time.Time) (signingkey.Key, error) {
	if next, ok := ring.Next(); ok {
		return next, nil
	}
	k, err := r.d.Tokens.GenerateKey()
	if err != nil {
		return signingkey.Key{}, err
	}
	sealed, err := r.d.Sealer.Seal(k.Seed, label(k.KID))
	if err != nil {
		return signingkey.Key{}, err
	}
	return signingkey.NewCurrent(k.KID, sealed, now), nil
}
