package keys

import (
	"context"
	"slices"
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
	KID          string               `json:"id"`
	Alg          signingkey.Algorithm `json:"alg"`
	State        signingkey.State     `json:"state"`
	Source       string               `json:"source"`
	Published    bool                 `json:"published"`
	CreatedAt    *time.Time           `json:"created_at,omitempty"`
	ActivateAt   *time.Time           `json:"activate_at,omitempty"`
	ActivatedAt  *time.Time           `json:"activated_at,omitempty"`
	RetiredAt    *time.Time           `json:"retired_at,omitempty"`
	PublishUntil *time.Time           `json:"publish_until,omitempty"`
}

// view is k as operators see it at now.
func view(k signingkey.Key, now time.Time) KeyView {
	created, activate := k.CreatedAt, k.ActivateAt
	return KeyView{KID: k.KID, Alg: k.Alg, State: k.State, Source: SourceDatabase, Published: k.Published(now),
		CreatedAt: &created, ActivateAt: &activate, ActivatedAt: k.ActivatedAt, RetiredAt: k.RetiredAt, PublishUntil: k.PublishUntil}
}

// List returns the keys: with key files their EdDSA keys first (state
// current, or retired for GATEHOUSE_JWT_PREVIOUS_KEY_FILES, and no
// times), then the stored ones, oldest first.
func (r *Ring) List(ctx context.Context) ([]KeyView, error) {
	var out []KeyView
	if f := r.d.Config.Files; f != nil {
		out = append(out, KeyView{KID: f.Current.KID, Alg: signingkey.EdDSA, State: signingkey.Current, Source: SourceFile, Published: true})
		for _, p := range f.Previous {
			out = append(out, KeyView{KID: p.KID, Alg: signingkey.EdDSA, State: signingkey.Retired, Source: SourceFile, Published: true})
		}
	}
	ring, err := r.d.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	now := r.d.Clock.Now()
	for _, k := range ring {
		if !r.fromFiles(k.Alg) {
			out = append(out, view(k, now))
		}
	}
	return out, nil
}

// Rotate publishes a new key of each algorithm the ring keeps (every one
// but EdDSA with key files) at once; each signs from PublishDelay on (the
// next refresh of each instance after that time promotes it). A pending
// rotation of any algorithm gives signingkey.ErrRotationPending and
// publishes none.
func (r *Ring) Rotate(ctx context.Context, actor string, meta app.RequestMeta) ([]KeyView, error) {
	now := r.d.Clock.Now()
	var next []signingkey.Key
	for _, alg := range r.algorithms() {
		kid, sealed, err := r.generate(alg)
		if err != nil {
			return nil, err
		}
		next = append(next, signingkey.NewNext(alg, kid, sealed, now, r.d.Config.PublishDelay))
	}
	err := r.d.Tx.Within(ctx, func(ctx context.Context, repos app.Repos) error {
		for _, k := range next {
			if err := repos.SigningKeys.Add(ctx, k); err != nil {
				return err
			}
			if err := repos.Audit.Append(ctx, meta.ActorEvent(audit.KeyRotated, actor, uuid.Nil, now, map[string]string{
				"kid": k.KID, "alg": string(k.Alg), "activate_at": k.ActivateAt.UTC().Format(time.RFC3339)})); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]KeyView, 0, len(next))
	for _, k := range next {
		out = append(out, view(k, now))
	}
	return out, nil
}

// Retire stops publishing the key kid at once (a compromised key): tokens
// it signed fail from each instance's next refresh on. Retiring the
// current key of an algorithm makes a replacement of that algorithm
// current at once: its next key if one is published, else a new key
// (whose tokens outside verifiers accept once their JWKS cache expires).
// Keys from files are the operator's: ErrKeysFromFiles.
func (r *Ring) Retire(ctx context.Context, actor string, meta app.RequestMeta, kid string) error {
	if f := r.d.Config.Files; f != nil {
		if kid == f.Current.KID || slices.ContainsFunc(f.Previous, func(p PublicKey) bool { return p.KID == kid }) {
			return ErrKeysFromFiles
		}
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
		if r.fromFiles(k.Alg) {
			return ErrKeysFromFiles
		}
		if err := save(ctx, repos, k.RetireNow(now), k.State); err != nil {
			return err
		}
		detail := map[string]string{"kid": k.KID, "alg": string(k.Alg), "was": string(k.State)}
		if k.State == signingkey.Current {
			repl, err := r.replacement(ring, k.Alg, now)
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

// replacement is the key of alg that signs once the current one is
// retired by hand: the next key of alg, or a new one.
func (r *Ring) replacement(ring signingkey.Ring, alg signingkey.Algorithm, now time.Time) (signingkey.Key, error) {
	if next, ok := ring.Next(alg); ok {
		return next, nil
	}
	kid, sealed, err := r.generate(alg)
	if err != nil {
		return signingkey.Key{}, err
	}
	return signingkey.NewCurrent(alg, kid, sealed, now), nil
}
