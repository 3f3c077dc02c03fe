// Package upstream holds the identities users have at other identity
// providers (upstream sign-in) and the round trips that prove them.
package upstream

import (
	"errors"
	"regexp"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// FlowTTL is how long a round trip to a provider may take.
const FlowTTL = 10 * time.Minute

// Method is the amr value (RFC 8176) of a session begun by an upstream
// sign-in. The registry has no value for "another provider vouched for
// the user"; "ext" and "fed" seen elsewhere are not registered. The
// provider's own methods are unknown here, so the session claims none of
// them: only that a key (the client's, at the provider) was used to obtain
// a signed statement about the user, which "swk" (software-secured key)
// names most closely without claiming a password or a second factor.
const Method = "swk"

var idPattern = regexp.MustCompile(`^[a-z0-9-]+$`)

// ValidProviderID reports whether id may name a provider ([a-z0-9-]+, at
// most 64 characters).
func ValidProviderID(id string) bool { return len(id) <= 64 && idPattern.MatchString(id) }

var (
	// ErrNotFound: no such identity (or not the caller's).
	ErrNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "The linked identity was not found."}
	// ErrIdentityTaken: the identity is linked to a user already (the
	// unique index on provider and subject decided).
	ErrIdentityTaken = &domain.Error{Kind: domain.KindConflict, Code: "identity_taken", Message: "This identity is linked to another account."}
	// ErrLastWayToSignIn: removing the identity would leave the account
	// with no way to sign in.
	ErrLastWayToSignIn = &domain.Error{Kind: domain.KindConflict, Code: "last_sign_in_method",
		Message: "This is the account's last way to sign in. Set a password (through a reset) or add a passkey first."}
	// ErrFlowInvalid: the callback matches no live round trip started in
	// this browser (unknown, used, expired, another browser's, another
	// provider's).
	ErrFlowInvalid = &domain.Error{Kind: domain.KindBadRequest, Code: "invalid_state", Message: "The sign-in expired or was started elsewhere."}
	// ErrUnknownProvider: no provider has that id.
	ErrUnknownProvider = &domain.Error{Kind: domain.KindNotFound, Code: "unknown_provider", Message: "No such sign-in provider."}
	// ErrNotVerified: the provider's answer did not verify (a code it
	// refused, an id_token with a wrong issuer, audience, expiry, nonce or
	// signature).
	ErrNotVerified = &domain.Error{Kind: domain.KindUnauthorized, Code: "upstream_not_verified", Message: "The answer of the sign-in provider could not be verified."}
	// ErrNoEmail: the provider told no email address.
	ErrNoEmail = &domain.Error{Kind: domain.KindBadRequest, Code: "upstream_no_email", Message: "The sign-in provider told no email address."}
	// ErrLinkFirst: an account with the address exists and the provider's
	// word on the address is not enough to link to it.
	ErrLinkFirst = &domain.Error{Kind: domain.KindConflict, Code: "link_requires_sign_in",
		Message: "An account with this address exists. Sign in to it first, then link this identity."}
	// ErrVerifyFirst: the account's address waits for verification.
	ErrVerifyFirst = &domain.Error{Kind: domain.KindForbidden, Code: "email_not_verified", Message: "The account's address is not verified yet."}
)

// Identity is a user's identity at a provider: (Provider, Subject) belongs
// to one user.
type Identity struct {
	id         uuid.UUID
	userID     uuid.UUID
	provider   string
	subject    string
	email      string
	createdAt  time.Time
	lastUsedAt *time.Time
}

// NewIdentity links (provider, subject) to userID; email is what the
// provider said the address is (shown to the user).
func NewIdentity(id, userID uuid.UUID, provider, subject, email string, now time.Time) (*Identity, error) {
	if id == uuid.Nil || userID == uuid.Nil {
		return nil, errors.New("upstream: nil id")
	}
	if !ValidProviderID(provider) || subject == "" {
		return nil, errors.New("upstream: provider and subject required")
	}
	return &Identity{id: id, userID: userID, provider: provider, subject: subject, email: email, createdAt: now, lastUsedAt: &now}, nil
}

// RehydrateIdentity rebuilds a stored identity. Storage adapters only.
func RehydrateIdentity(id, userID uuid.UUID, provider, subject, email string, createdAt time.Time, lastUsedAt *time.Time) *Identity {
	return &Identity{id: id, userID: userID, provider: provider, subject: subject, email: email, createdAt: createdAt, lastUsedAt: lastUsedAt}
}

func (i *Identity) ID() uuid.UUID          { return i.id }
func (i *Identity) UserID() uuid.UUID      { return i.userID }
func (i *Identity) Provider() string       { return i.provider }
func (i *Identity) Subject() string        { return i.subject }
func (i *Identity) Email() string          { return i.email }
func (i *Identity) CreatedAt() time.Time   { return i.createdAt }
func (i *Identity) LastUsedAt() *time.Time { return i.lastUsedAt }

// Used records a sign-in with the identity and the address the provider
// tells now.
func (i *Identity) Used(email string, now time.Time) {
	i.email = email
	i.lastUsedAt = &now
}

// Removable tells whether one of a user's identities may be removed:
// refused with ErrLastWayToSignIn when nothing else signs in (no
// password, no passkey, no other identity).
func Removable(hasPassword bool, passkeys, otherIdentities int) error {
	if !hasPassword && passkeys == 0 && otherIdentities == 0 {
		return ErrLastWayToSignIn
	}
	return nil
}

// Flow is the server's half of one round trip to a provider: found by the
// hash of its state, single-use, living FlowTTL. Nonce and Verifier (the
// PKCE code verifier) go with the code exchange; Pending is the
// authorization request the sign-in answers (uuid.Nil: none); LinkTo is
// the user signed in when it began, to whom the identity is linked
// (uuid.Nil: a sign-in).
type Flow struct {
	stateHash token.Hash
	provider  string
	nonce     string
	verifier  string
	pending   uuid.UUID
	linkTo    uuid.UUID
	createdAt time.Time
	expiresAt time.Time
}

// NewFlow begins a round trip.
func NewFlow(stateHash token.Hash, provider, nonce, verifier string, pending, linkTo uuid.UUID, now time.Time) (*Flow, error) {
	if !ValidProviderID(provider) || nonce == "" || verifier == "" {
		return nil, errors.New("upstream: incomplete flow")
	}
	return &Flow{stateHash: stateHash, provider: provider, nonce: nonce, verifier: verifier, pending: pending, linkTo: linkTo,
		createdAt: now, expiresAt: now.Add(FlowTTL)}, nil
}

// RehydrateFlow rebuilds a stored flow. Storage adapters only.
func RehydrateFlow(stateHash token.Hash, provider, nonce, verifier string, pending, linkTo uuid.UUID, createdAt, expiresAt time.Time) *Flow {
	return &Flow{stateHash: stateHash, provider: provider, nonce: nonce, verifier: verifier, pending: pending, linkTo: linkTo, createdAt: createdAt, expiresAt: expiresAt}
}

func (f *Flow) StateHash() token.Hash { return f.stateHash }
func (f *Flow) Provider() string      { return f.provider }
func (f *Flow) Nonce() string         { return f.nonce }
func (f *Flow) Verifier() string      { return f.verifier }
func (f *Flow) Pending() uuid.UUID    { return f.pending }
func (f *Flow) LinkTo() uuid.UUID     { return f.linkTo }
func (f *Flow) CreatedAt() time.Time  { return f.createdAt }
func (f *Flow) ExpiresAt() time.Time  { return f.expiresAt }

// Answerable reports whether the callback of provider may end the flow at
// now: one callback per provider (a code meant for another provider's
// callback is refused: mix-up), before it expires.
func (f *Flow) Answerable(provider string, now time.Time) error {
	if f.provider != provider || !now.Before(f.expiresAt) {
		return ErrFlowInvalid
	}
	return nil
}

// Verified is what a provider vouched for after a verified exchange.
type Verified struct {
	Subject       string
	Email         string
	EmailVerified bool
}

// Address is the verified identity's address, parsed, or ErrNoEmail.
func (v Verified) Address() (user.Email, error) {
	if v.Email == "" {
		return user.Email{}, ErrNoEmail
	}
	e, err := user.ParseEmail(v.Email)
	if err != nil {
		return user.Email{}, ErrNoEmail
	}
	return e, nil
}
