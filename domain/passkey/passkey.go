// Package passkey holds a user's WebAuthn credentials (passkeys) and the
// challenges of the ceremonies that register and use them. The rules are
// here: names, the signature counter, a challenge's single use and
// lifetime, and when a passkey may be removed; the WebAuthn protocol
// itself is an adapter's.
package passkey

import (
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

// MaxNameLength bounds a passkey's name, in characters.
const MaxNameLength = 64

// ChallengeTTL is how long a ceremony's challenge may be answered.
const ChallengeTTL = 5 * time.Minute

// Errors of passkeys. Codes are part of the API.
var (
	// ErrNotFound: no passkey of the user has that id (or, for a
	// repository, that credential id).
	ErrNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "The passkey was not found."}
	// ErrExists: the credential is registered already.
	ErrExists = &domain.Error{Kind: domain.KindConflict, Code: "passkey_exists", Message: "This passkey is registered already."}
	// ErrLastWayToSignIn: removing the passkey would leave the account
	// with no way to sign in (no password and no other passkey).
	ErrLastWayToSignIn = &domain.Error{Kind: domain.KindConflict, Code: "last_sign_in_method", Message: "This passkey is the account's last way to sign in; set a password or add another passkey first."}
	// ErrChallengeInvalid: the challenge is unknown, used, expired, or of
	// another ceremony or user: begin again.
	ErrChallengeInvalid = &domain.Error{Kind: domain.KindBadRequest, Code: "invalid_challenge", Message: "The challenge is invalid, expired or used; begin again."}
	// ErrInvalidCredential: the authenticator's answer does not verify
	// (malformed, wrong signature, origin or relying party, unknown
	// credential).
	ErrInvalidCredential = &domain.Error{Kind: domain.KindUnauthorized, Code: "invalid_credential", Message: "The passkey could not be verified."}
	// ErrUnavailable: the service has no domain name for passkeys to be
	// bound to (its public URL's host is an IP address). A 404: the
	// ceremonies are not offered here, which no retry changes, and no
	// request a client can send gets a 5xx.
	ErrUnavailable = &domain.Error{Kind: domain.KindNotFound, Code: "passkeys_unavailable",
		Message: "Passkeys need a domain name: this service's public URL has an IP address."}
	// ErrCloned: the signature counter went backwards, the sign of a
	// cloned authenticator; the sign-in is refused.
	ErrCloned = &domain.Error{Kind: domain.KindUnauthorized, Code: "invalid_credential", Message: "The passkey could not be verified."}
)

// errName is the validation error of a name that breaks the rules.
var errName = domain.Validation(domain.FieldError{Field: "name", Code: "invalid_name",
	Message: "The name must be 1 to 64 characters, with no control characters."})

// ParseName checks a passkey's name as given: surrounding space is
// trimmed, and what is left is 1 to MaxNameLength characters of valid
// UTF-8 without control characters.
func ParseName(raw string) (string, error) {
	n := strings.TrimSpace(raw)
	if n == "" || !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNameLength {
		return "", errName
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", errName
		}
	}
	return n, nil
}

// DefaultName is the name of a passkey registered without one: "Passkey"
// and the day it was added.
func DefaultName(now time.Time) string { return "Passkey " + now.UTC().Format("2006-01-02") }

// Credential is one passkey of a user: the public key of a credential an
// authenticator keeps, and what the relying party records of it.
type Credential struct {
	id           uuid.UUID
	userID       uuid.UUID
	credentialID []byte
	name         string
	publicKey    []byte
	signCount    uint32
	aaguid       []byte
	transports   []string
	flags        Flags
	createdAt    time.Time
	lastUsedAt   *time.Time
}

// Flags are the authenticator data flags the credential was registered
// (and last used) with, as the protocol gives them.
type Flags struct {
	// UserVerified: the authenticator verified its user at registration.
	UserVerified bool
	// BackupEligible: the credential may be synced to other devices (it
	// never changes for a credential).
	BackupEligible bool
	// BackupState: the credential is backed up (synced) now.
	BackupState bool
}

// Registration is what a verified registration ceremony gives.
type Registration struct {
	CredentialID []byte
	PublicKey    []byte
	SignCount    uint32
	AAGUID       []byte
	Transports   []string
	Flags        Flags
}

// New makes the passkey of userID from a verified registration, named
// name (already parsed by ParseName).
func New(id, userID uuid.UUID, name string, r Registration, now time.Time) (*Credential, error) {
	if id == uuid.Nil || userID == uuid.Nil {
		return nil, errors.New("passkey: nil id")
	}
	if len(r.CredentialID) == 0 || len(r.PublicKey) == 0 {
		return nil, errors.New("passkey: empty credential id or public key")
	}
	if name == "" {
		return nil, errors.New("passkey: empty name")
	}
	return &Credential{id: id, userID: userID, credentialID: slices.Clone(r.CredentialID), name: name, publicKey: slices.Clone(r.PublicKey),
		signCount: r.SignCount, aaguid: slices.Clone(r.AAGUID), transports: slices.Clone(r.Transports), flags: r.Flags, createdAt: now}, nil
}

// Rehydrate rebuilds a stored passkey. Storage adapters only.
func Rehydrate(id, userID uuid.UUID, name string, r Registration, createdAt time.Time, lastUsedAt *time.Time) *Credential {
	return &Credential{id: id, userID: userID, credentialID: r.CredentialID, name: name, publicKey: r.PublicKey, signCount: r.SignCount,
		aaguid: r.AAGUID, transports: r.Transports, flags: r.Flags, createdAt: createdAt, lastUsedAt: lastUsedAt}
}

func (c *Credential) ID() uuid.UUID          { return c.id }
func (c *Credential) UserID() uuid.UUID      { return c.userID }
func (c *Credential) CredentialID() []byte   { return slices.Clone(c.credentialID) }
func (c *Credential) Name() string           { return c.name }
func (c *Credential) PublicKey() []byte      { return slices.Clone(c.publicKey) }
func (c *Credential) SignCount() uint32      { return c.signCount }
func (c *Credential) AAGUID() []byte         { return slices.Clone(c.aaguid) }
func (c *Credential) Transports() []string   { return slices.Clone(c.transports) }
func (c *Credential) Flags() Flags           { return c.flags }
func (c *Credential) CreatedAt() time.Time   { return c.createdAt }
func (c *Credential) LastUsedAt() *time.Time { return c.lastUsedAt }

// Rename gives the passkey name (already parsed by ParseName).
func (c *Credential) Rename(name string) { c.name = name }

// Assertion is what a verified sign-in ceremony says of the
// authenticator's answer.
type Assertion struct {
	// SignCount is the signature counter the authenticator sent.
	SignCount uint32
	// UserVerified: the authenticator verified its user (PIN,
	// biometrics).
	UserVerified bool
	// BackupState: the credential is backed up now.
	BackupState bool
}

// Used records a sign-in with the passkey at now, or gives ErrCloned when
// the counter went backwards: both counters are not zero (an
// authenticator without a counter always sends zero) and the new one is
// not above the stored one, so that two copies of the key are in use.
// The passkey is unchanged then.
func (c *Credential) Used(a Assertion, now time.Time) error {
	if (a.SignCount != 0 || c.signCount != 0) && a.SignCount <= c.signCount {
		return ErrCloned
	}
	c.signCount = a.SignCount
	c.flags.BackupState = a.BackupState
	c.lastUsedAt = &now
	return nil
}

// Removable tells whether one of a user's passkeys may be removed:
// refused with ErrLastWayToSignIn when the user has no password and it is
// their only passkey (others counts the rest).
func Removable(hasPassword bool, others int) error {
	if !hasPassword && others == 0 {
		return ErrLastWayToSignIn
	}
	return nil
}
