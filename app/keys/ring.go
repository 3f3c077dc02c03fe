// Package keys keeps the signing keys of access tokens: the ring every
// instance follows (promoting a due next key, dropping keys no longer
// published, handing the published ones to the signer), the operators'
// list, rotate and retire, and the secret key that seals private keys at
// rest.
package keys

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/google/uuid"
)

// KeyInstaller makes signing keys and installs the set that signs and
// verifies access tokens.
type KeyInstaller interface {
	// UseKeys replaces the keys that sign and verify, effective for the
	// next Issue and Verify.
	UseKeys(ks app.KeySet) error
	// GenerateKey makes a new random signing key.
	GenerateKey() (app.SigningKey, error)
	// KeyOf is the signing key of an Ed25519 seed.
	KeyOf(seed []byte) (app.SigningKey, error)
}

// Config is how the ring behaves.
type Config struct {
	// PublishDelay is how long a rotated key is published before it signs
	// (GATEHOUSE_KEY_PUBLISH_DELAY).
	PublishDelay time.Duration
	// TokenLife is the longest a signed token verifies: the access-token
	// TTL plus the verifier's leeway.
	TokenLife time.Duration
	// Lag is how late an instance may hear of a change: the interval at
	// which every instance refreshes the ring.
	Lag time.Duration
	// Files, when set, are the keys of GATEHOUSE_JWT_PRIVATE_KEY_FILE and
	// GATEHOUSE_JWT_PREVIOUS_KEY_FILES: they are used as they are, and
	// rotation is the operator's.
	Files *FileKeys
}

// FileKeys are keys an operator keeps in files.
type FileKeys struct {
	Current  app.SigningKey
	Previous []PublicKey
}

// PublicKey is a verify-only key with its thumbprint.
type PublicKey struct {
	KID string
	Key ed25519.PublicKey
}

// ErrKeysFromFiles: the keys come from files, so the ring is not used.
var ErrKeysFromFiles = &domain.Error{Kind: domain.KindConflict, Code: "keys_from_files",
	Message: "Signing keys come from GATEHOUSE_JWT_PRIVATE_KEY_FILE, so rotation is the operator's: put the new key in a new file, list the old file in GATEHOUSE_JWT_PREVIOUS_KEY_FILES (it stays published), point GATEHOUSE_JWT_PRIVATE_KEY_FILE at the new one and restart."}

// errChanged: another instance or operator changed the ring meanwhile.
var errChanged = &domain.Error{Kind: domain.KindConflict, Code: "keys_changed", Message: "The signing keys were changed meanwhile; list them and try again."}

// system is the actor of the service's own key changes (promotions).
const system = "gatehouse"

// Ring keeps the signer's keys in step with the stored ring. It is safe
// for concurrent use.
type Ring struct {
	d RingDeps

	mu   sync.Mutex // one refresh at a time
	used string     // fingerprint of the key set last handed to the signer
}

// RingDeps are what Ring needs.
type RingDeps struct {
	Tx       app.TxManager
	Store    app.SigningKeyRing
	Sealer   app.Sealer
	Tokens   KeyInstaller
	Clock    app.Clock
	Reporter app.ErrorReporter
	Config   Config
}

// NewRing builds the ring.
func NewRing(d RingDeps) *Ring {
	return &Ring{d: d}
}

// label binds a sealed seed to its key.
func label(kid string) string { return "signing-key:" + kid }

// Refresh brings the signer up to date: it makes the first key when there
// is none (sealing the plain key of an older version, if one is kept),
// promotes a due next key, deletes keys no longer published, and hands
// the published keys to the signer.
func (r *Ring) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d.Config.Files != nil {
		return r.use(r.fileSet())
	}
	ring, err := r.d.Store.Keys(ctx)
	if err != nil {
		return err
	}
	now := r.d.Clock.Now()
	cur, hasCur := ring.Current()
	next, hasNext := ring.Next()
	changed := false
	switch {
	case !hasCur:
		if err := r.first(ctx, now); err != nil {
			return err
		}
		changed = true
	case hasNext && next.Due(now):
		if err := r.promote(ctx, next, cur, now); err != nil {
			return err
		}
		changed = true
	}
	for _, k := range ring {
		if k.Gone(now) {
			if _, err := r.d.Store.DeleteGone(ctx, now); err != nil {
				return err
			}
			break
		}
	}
	if changed {
		if ring, err = r.d.Store.Keys(ctx); err != nil {
			return err
		}
	}
	ks, err := r.keySet(ring, now)
	if err != nil {
		return err
	}
	return r.use(ks)
}

// Run refreshes every interval until ctx ends; failures go to the
// reporter and the signer keeps the keys it has.
func (r *Ring) Run(ctx context.Context, interval time.Duration) {
	app.Every(ctx, interval, r.d.Reporter, "signing-key refresh", r.Refresh)
}

// first makes the first current key: the plain key an older version kept,
// now sealed, or a new one. Another instance may make it first; then this
// one's is dropped.
func (r *Ring) first(ctx context.Context, now time.Time) error {
	err := r.d.Tx.Within(ctx, func(ctx context.Context, repos app.Repos) error {
		seed, err := repos.SigningKeys.TakeUnsealed(ctx)
		if err != nil {
			return err
		}
		var k app.SigningKey
		if seed != nil {
			if k, err = r.d.Tokens.KeyOf(seed); err != nil {
				return fmt.Errorf("the signing key kept by an earlier version: %w", err)
			}
		} else if k, err = r.d.Tokens.GenerateKey(); err != nil {
			return err
		}
		sealed, err := r.d.Sealer.Seal(k.Seed, label(k.KID))
		if err != nil {
			return err
		}
		return repos.SigningKeys.Add(ctx, signingkey.NewCurrent(k.KID, sealed, now))
	})
	if errors.Is(err, app.ErrKeyRingChanged) {
		return nil
	}
	return err
}

// promote makes next current and retires cur, with its audit event, in one
// transaction. Of instances racing to promote, one does; the others find
// the states changed and leave it.
func (r *Ring) promote(ctx context.Context, next, cur signingkey.Key, now time.Time) error {
	promoted, retired := signingkey.Promote(next, cur, now, r.d.Config.TokenLife, r.d.Config.Lag)
	err := r.d.Tx.Within(ctx, func(ctx context.Context, repos app.Repos) error {
		if err := save(ctx, repos, retired, signingkey.Current); err != nil {
			return err
		}
		if err := save(ctx, repos, promoted, signingkey.Next); err != nil {
			return err
		}
		return repos.Audit.Append(ctx, app.RequestMeta{}.ActorEvent(audit.KeyPromoted, system, uuid.Nil, now, map[string]string{"kid": promoted.KID, "retired_kid": retired.KID}))
	})
	if errors.Is(err, errChanged) {
		return nil
	}
	return err
}

// save writes k if it is still in state from, else errChanged.
func save(ctx context.Context, repos app.Repos, k signingkey.Key, from signingkey.State) error {
	ok, err := repos.SigningKeys.Save(ctx, k, from)
	if err != nil {
		return err
	}
	if !ok {
		return errChanged
	}
	return nil
}

// keySet opens the published keys of ring for the signer.
func (r *Ring) keySet(ring signingkey.Ring, now time.Time) (app.KeySet, error) {
	var ks app.KeySet
	for _, k := range ring.Published(now) {
		seed, err := r.d.Sealer.Open(k.Sealed, label(k.KID))
		if err != nil {
			return app.KeySet{}, fmt.Errorf("signing key %s: %w", k.KID, err)
		}
		sk := app.SigningKey{KID: k.KID, Seed: seed}
		switch k.State {
		case signingkey.Current:
			ks.Current = sk
		case signingkey.Next:
			ks.Next, ks.NextAt = &sk, k.ActivateAt
		default:
			ks.Retired = append(ks.Retired, sk)
		}
	}
	if ks.Current.KID == "" {
		return app.KeySet{}, errors.New("the signing-key ring has no current key")
	}
	return ks, nil
}

func (r *Ring) fileSet() app.KeySet {
	ks := app.KeySet{Current: r.d.Config.Files.Current}
	for _, p := range r.d.Config.Files.Previous {
		ks.Public = append(ks.Public, p.Key)
	}
	return ks
}

// use hands ks to the signer unless it is the set the signer has.
func (r *Ring) use(ks app.KeySet) error {
	fp := fingerprint(ks)
	if fp == r.used {
		return nil
	}
	if err := r.d.Tokens.UseKeys(ks); err != nil {
		return err
	}
	r.used = fp
	return nil
}

func fingerprint(ks app.KeySet) string {
	s := ks.Current.KID + "|"
	if ks.Next != nil {
		s += ks.Next.KID + "@" + ks.NextAt.UTC().Format(time.RFC3339Nano)
	}
	for _, k := range ks.Retired {
		s += "|" + k.KID
	}
	for _, p := range ks.Public {
		s += "|" + string(p)
	}
	return s
}
