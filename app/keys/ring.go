// Package keys keeps the signing keys of every algorithm (EdDSA for access
// tokens, RS256 for id_tokens): the ring every instance follows (making
// the first key of each algorithm, promoting a due next key, dropping keys
// no longer published, handing the published ones to the signer), the
// operators' list, rotate and retire, and the secret key that seals
// private keys at rest.
package keys

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/google/uuid"
)

// KeyInstaller makes signing keys and installs the set that signs and
// verifies tokens.
type KeyInstaller interface {
	// UseKeys replaces the keys that sign and verify, effective for the
	// next signature and verification.
	UseKeys(ks app.KeySet) error
	// GenerateKey makes a new random signing key of alg.
	GenerateKey(alg signingkey.Algorithm) (app.SigningKey, error)
	// KeyOf is the EdDSA signing key of an Ed25519 seed.
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
	// Files, when set, are the EdDSA keys of GATEHOUSE_JWT_PRIVATE_KEY_FILE
	// and GATEHOUSE_JWT_PREVIOUS_KEY_FILES: they are used as they are and
	// their rotation is the operator's; the keys of the other algorithms
	// stay in the stored ring, which rotates them.
	Files *FileKeys
}

// FileKeys are the EdDSA keys an operator keeps in files.
type FileKeys struct {
	Current  app.SigningKey
	Previous []PublicKey
}

// PublicKey is a verify-only key with its thumbprint.
type PublicKey struct {
	KID string
	Key ed25519.PublicKey
}

// ErrKeysFromFiles: the EdDSA keys come from files, so the ring does not
// change them.
var ErrKeysFromFiles = &domain.Error{Kind: domain.KindConflict, Code: "keys_from_files",
	Message: "The EdDSA signing keys come from GATEHOUSE_JWT_PRIVATE_KEY_FILE, so their rotation is the operator's: put the new key in a new file, list the old file in GATEHOUSE_JWT_PREVIOUS_KEY_FILES (it stays published), point GATEHOUSE_JWT_PRIVATE_KEY_FILE at the new one and restart."}

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

// label binds a sealed private key to its key.
func label(kid string) string { return "signing-key:" + kid }

// fromFiles reports whether the keys of alg come from files rather than
// from the stored ring.
func (r *Ring) fromFiles(alg signingkey.Algorithm) bool {
	return r.d.Config.Files != nil && alg == signingkey.EdDSA
}

// algorithms are the algorithms whose keys the stored ring keeps.
func (r *Ring) algorithms() []signingkey.Algorithm {
	var out []signingkey.Algorithm
	for _, alg := range signingkey.Algorithms() {
		if !r.fromFiles(alg) {
			out = append(out, alg)
		}
	}
	return out
}

// Refresh brings the signer up to date: for each algorithm it makes the
// first key when there is none (for EdDSA, sealing the plain key of an
// older version, if one is kept) or promotes a due next key; it deletes
// keys no longer published, and hands the published keys to the signer.
func (r *Ring) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ring, err := r.d.Store.Keys(ctx)
	if err != nil {
		return err
	}
	now := r.d.Clock.Now()
	changed := false
	for _, alg := range r.algorithms() {
		cur, hasCur := ring.Current(alg)
		next, hasNext := ring.Next(alg)
		switch {
		case !hasCur:
			if err := r.first(ctx, alg, now); err != nil {
				return err
			}
			changed = true
		case hasNext && next.Due(now):
			if err := r.promote(ctx, next, cur, now); err != nil {
				return err
			}
			changed = true
		}
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

// first makes the first current key of alg: for EdDSA the plain key an
// older version kept, now sealed, else a new one. Another instance may
// make it first; then this one's is dropped.
func (r *Ring) first(ctx context.Context, alg signingkey.Algorithm, now time.Time) error {
	err := r.d.Tx.Within(ctx, func(ctx context.Context, repos app.Repos) error {
		var seed []byte
		if alg == signingkey.EdDSA {
			var err error
			if seed, err = repos.SigningKeys.TakeUnsealed(ctx); err != nil {
				return err
			}
		}
		var k app.SigningKey
		var err error
		if seed != nil {
			if k, err = r.d.Tokens.KeyOf(seed); err != nil {
				return fmt.Errorf("the signing key kept by an earlier version: %w", err)
			}
		} else if k, err = r.d.Tokens.GenerateKey(alg); err != nil {
			return err
		}
		sealed, err := r.seal(k)
		if err != nil {
			return err
		}
		return repos.SigningKeys.Add(ctx, signingkey.NewCurrent(alg, k.KID, sealed, now))
	})
	if errors.Is(err, app.ErrKeyRingChanged) {
		return nil
	}
	return err
}

// generate makes a new key of alg and returns its kid and its sealed
// private half.
func (r *Ring) generate(alg signingkey.Algorithm) (string, []byte, error) {
	k, err := r.d.Tokens.GenerateKey(alg)
	if err != nil {
		return "", nil, err
	}
	sealed, err := r.seal(k)
	return k.KID, sealed, err
}

// seal seals the private half of k, bound to its kid.
func (r *Ring) seal(k app.SigningKey) ([]byte, error) {
	return r.d.Sealer.Seal(k.Private, label(k.KID))
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
		return repos.Audit.Append(ctx, app.RequestMeta{}.ActorEvent(audit.KeyPromoted, system, uuid.Nil, now, map[string]string{"kid": promoted.KID, "alg": string(promoted.Alg), "retired_kid": retired.KID}))
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

// keySet opens the published keys of ring for the signer; with key files
// their EdDSA keys stand in for the ring's.
func (r *Ring) keySet(ring signingkey.Ring, now time.Time) (app.KeySet, error) {
	ks := app.KeySet{Keys: map[signingkey.Algorithm]app.AlgKeys{}}
	if f := r.d.Config.Files; f != nil {
		ks.Keys[signingkey.EdDSA] = app.AlgKeys{Current: f.Current}
		for _, p := range f.Previous {
			ks.Public = append(ks.Public, p.Key)
		}
	}
	for _, k := range ring.Published(now) {
		if r.fromFiles(k.Alg) {
			continue
		}
		priv, err := r.d.Sealer.Open(k.Sealed, label(k.KID))
		if err != nil {
			return app.KeySet{}, fmt.Errorf("signing key %s: %w", k.KID, err)
		}
		sk := app.SigningKey{KID: k.KID, Alg: k.Alg, Private: priv}
		ak := ks.Keys[k.Alg]
		switch k.State {
		case signingkey.Current:
			ak.Current = sk
		case signingkey.Next:
			ak.Next, ak.NextAt = &sk, k.ActivateAt
		default:
			ak.Retired = append(ak.Retired, sk)
		}
		ks.Keys[k.Alg] = ak
	}
	for _, alg := range signingkey.Algorithms() {
		if ks.Keys[alg].Current.KID == "" {
			return app.KeySet{}, fmt.Errorf("the signing-key ring has no current %s key", alg)
		}
	}
	return ks, nil
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
	var b strings.Builder
	for _, alg := range signingkey.Algorithms() {
		k := ks.Keys[alg]
		b.WriteString(string(alg) + ":" + k.Current.KID)
		if k.Next != nil {
			b.WriteString("|" + k.Next.KID + "@" + k.NextAt.UTC().Format(time.RFC3339Nano))
		}
		for _, rk := range k.Retired {
			b.WriteString("|" + rk.KID)
		}
		b.WriteString(";")
	}
	for _, p := range ks.Public {
		b.WriteString("|" + string(p))
	}
	return b.String()
}
