// Package signingkey holds the lifecycle of the keys that sign tokens: a
// key is published as next, signs as current from its activation time,
// stays published as retired until every token it signed has expired, and
// is then gone. Retiring a key by hand (a compromised key) stops
// publishing it at once. Each algorithm has its own keys and lifecycle:
// one current key, at most one next key, per algorithm.
package signingkey

import (
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
)

// Algorithm is the JWS algorithm a key signs with (its "alg"). The values
// are stored.
type Algorithm string

// The algorithms.
const (
	EdDSA Algorithm = "EdDSA" // Ed25519: access tokens
	RS256 Algorithm = "RS256" // RSA 2048, PKCS #1 v1.5 with SHA-256: OpenID Connect id_tokens
)

// Algorithms are every algorithm the ring keeps keys of, in the order
// they are listed and published.
func Algorithms() []Algorithm { return []Algorithm{EdDSA, RS256} }

// Valid reports whether a is one of Algorithms.
func (a Algorithm) Valid() bool { return a == EdDSA || a == RS256 }

// State is where a key is in its lifecycle. The values are stored.
type State string

// The states.
const (
	Next    State = "next"    // published, signs from ActivateAt on
	Current State = "current" // signs; exactly one per algorithm
	Retired State = "retired" // published until PublishUntil, then gone
)

// Key is one signing key. Sealed is its private half, sealed under the
// secret key; the ring opens it only to hand it to the signer.
type Key struct {
	KID          string // RFC 7638 thumbprint of the public key
	Alg          Algorithm
	Sealed       []byte
	State        State
	CreatedAt    time.Time
	ActivateAt   time.Time // when it signs (Next) or began to sign
	ActivatedAt  *time.Time
	RetiredAt    *time.Time
	PublishUntil *time.Time
}

// Errors of the lifecycle.
var (
	ErrRotationPending = &domain.Error{Kind: domain.KindConflict, Code: "rotation_pending", Message: "A key is already waiting to become current; it must be promoted (or retired) before another rotation."}
	ErrNotFound        = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "No published signing key has this id."}
)

// NewNext is a key of alg published now that signs from now+delay on.
func NewNext(alg Algorithm, kid string, sealed []byte, now time.Time, delay time.Duration) Key {
	return Key{KID: kid, Alg: alg, Sealed: sealed, State: Next, CreatedAt: now, ActivateAt: now.Add(delay)}
}

// NewCurrent is a key of alg that signs from now on (the first key of
// alg, or the replacement of a current key retired by hand).
func NewCurrent(alg Algorithm, kid string, sealed []byte, now time.Time) Key {
	return Key{KID: kid, Alg: alg, Sealed: sealed, State: Current, CreatedAt: now, ActivateAt: now, ActivatedAt: &now}
}

// Published reports whether k is in the JWKS (and verifies tokens) at now.
func (k Key) Published(now time.Time) bool {
	return k.State != Retired || (k.PublishUntil != nil && now.Before(*k.PublishUntil))
}

// Due reports whether k is a next key whose activation time has come.
func (k Key) Due(now time.Time) bool { return k.State == Next && !now.Before(k.ActivateAt) }

// Gone reports whether k may be deleted: retired and no longer published.
func (k Key) Gone(now time.Time) bool { return k.State == Retired && !k.Published(now) }

// Promote makes next current as of now and retires cur, the current key
// of next's algorithm (the key it replaces). Instances may have signed with cur until next's activation
// time, or up to lag later if they had not yet heard of next, so cur stays
// published until then plus tokenLife (the longest a token it signed can
// live, leeway included).
func Promote(next, cur Key, now time.Time, tokenLife, lag time.Duration) (promoted, retired Key) {
	promoted = next
	promoted.State = Current
	promoted.ActivatedAt = &now
	retired = cur
	retired.State = Retired
	retired.RetiredAt = &now
	until := next.ActivateAt
	if now.Before(until) {
		until = now
	}
	until = until.Add(lag + tokenLife)
	retired.PublishUntil = &until
	return promoted, retired
}

// ActivateNow makes the next key k current at once (its predecessor was
// retired by hand).
func (k Key) ActivateNow(now time.Time) Key {
	k.State = Current
	k.ActivateAt = now
	k.ActivatedAt = &now
	return k
}

// RetireNow retires k as of now and stops publishing it at once: tokens it
// signed are refused from then on.
func (k Key) RetireNow(now time.Time) Key {
	k.State = Retired
	k.RetiredAt = &now
	k.PublishUntil = &now
	return k
}

// Ring is the set of stored keys, as the signer sees it at one moment.
type Ring []Key

// Current is the key of alg in state Current, if any.
func (r Ring) Current(alg Algorithm) (Key, bool) {
	return r.find(func(k Key) bool { return k.Alg == alg && k.State == Current })
}

// Next is the key of alg in state Next, if any.
func (r Ring) Next(alg Algorithm) (Key, bool) {
	return r.find(func(k Key) bool { return k.Alg == alg && k.State == Next })
}

// ByID is the key with kid, if any.
func (r Ring) ByID(kid string) (Key, bool) { return r.find(func(k Key) bool { return k.KID == kid }) }

// Published is every key in the JWKS at now, in the ring's order.
func (r Ring) Published(now time.Time) Ring {
	var out Ring
	for _, k := range r {
		if k.Published(now) {
			out = append(out, k)
		}
	}
	return out
}

func (r Ring) find(f func(Key) bool) (Key, bool) {
	for _, k := range r {
		if f(k) {
			return k, true
		}
	}
	return Key{}, false
}
