// Package token holds the one-time tokens mailed to users (email
// verification, password reset) and the opaque secrets behind them and
// behind refresh tokens. Only a SHA-256 of a secret is ever stored.
package token

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

// SecretBytes is the entropy of every secret: 32 random bytes.
const SecretBytes = 32

// EncodedLen is the length of a secret in unpadded base64url.
var EncodedLen = base64.RawURLEncoding.EncodedLen(SecretBytes)

// Secret is a token as the user sees it. It redacts itself when printed.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// Reveal returns the secret for the one place that must show it: the mail.
func (s Secret) Reveal() string { return string(s) }

// Hash is the SHA-256 of a secret, the only form stored.
type Hash [sha256.Size]byte

// NewSecret reads 32 bytes from r and returns the secret and its hash.
func NewSecret(r io.Reader) (Secret, Hash, error) {
	var b [SecretBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", Hash{}, fmt.Errorf("token: read random: %w", err)
	}
	s := Secret(base64.RawURLEncoding.EncodeToString(b[:]))
	return s, HashOf(s), nil
}

// HashOf hashes a secret.
func HashOf(s Secret) Hash { return sha256.Sum256([]byte(s)) }

// Parse checks that raw has the shape of a secret (43 base64url
// characters) before any lookup, and hashes it. Anything else is
// ErrInvalidToken, the same answer as an unknown token.
func Parse(raw string) (Hash, error) {
	if len(raw) != EncodedLen {
		return Hash{}, domain.ErrInvalidToken
	}
	// Check each byte: the base64 decoder skips CR and LF, so decoding
	// alone would let a 42-character token with a newline through.
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return Hash{}, domain.ErrInvalidToken
		}
	}
	return HashOf(Secret(raw)), nil
}

// Purpose says what a one-time token may be used for.
type Purpose string

const (
	PurposeVerifyEmail   Purpose = "verify_email"
	PurposeResetPassword Purpose = "reset_password"
	// PurposeChangeEmail confirms a new address for an account: the link
	// goes to the new address, and the token carries it.
	PurposeChangeEmail Purpose = "change_email"
	// PurposeInvite sets the first password of an account an operator
	// made (and verifies its address). It is a link of its own: a reset
	// requested for the address neither replaces nor kills it.
	PurposeInvite Purpose = "invite"
)

// SetsPassword reports whether a token of purpose p sets a new password:
// a reset or an invitation.
func (p Purpose) SetsPassword() bool { return p == PurposeResetPassword || p == PurposeInvite }

// OneTimeToken is a single-use, expiring token tied to one user and purpose.
type OneTimeToken struct {
	hash      Hash
	userID    uuid.UUID
	purpose   Purpose
	createdAt time.Time
	expiresAt time.Time
	usedAt    *time.Time
	// passwordHash is the password chosen at the registration that
	// issued a verification token; empty for every other token.
	passwordHash string
	// newEmail is the normalized address a change-email token moves the
	// account to; empty for every other token.
	newEmail string
}

// Issue makes a token for userID that expires ttl after now.
func Issue(hash Hash, userID uuid.UUID, purpose Purpose, now time.Time, ttl time.Duration) (*OneTimeToken, error) {
	if userID == uuid.Nil {
		return nil, fmt.Errorf("token: nil user id")
	}
	if purpose != PurposeVerifyEmail && !purpose.SetsPassword() && purpose != PurposeChangeEmail {
		return nil, fmt.Errorf("token: unknown purpose %q", purpose)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("token: ttl must be positive")
	}
	return &OneTimeToken{hash: hash, userID: userID, purpose: purpose, createdAt: now, expiresAt: now.Add(ttl)}, nil
}

// IssueForRegistration makes the verification token of one registration:
// it carries the password hash chosen at that registration, which the
// verifier must know, so that a link mailed for a stranger's registration
// does not give the stranger the account.
func IssueForRegistration(hash Hash, userID uuid.UUID, passwordHash string, now time.Time, ttl time.Duration) (*OneTimeToken, error) {
	return issueCarrying(hash, userID, PurposeVerifyEmail, now, ttl, "password hash", passwordHash, func(t *OneTimeToken) { t.passwordHash = passwordHash })
}

// IssueForEmailChange makes the token that confirms newEmail (normalized)
// as the address of userID.
func IssueForEmailChange(hash Hash, userID uuid.UUID, newEmail string, now time.Time, ttl time.Duration) (*OneTimeToken, error) {
	return issueCarrying(hash, userID, PurposeChangeEmail, now, ttl, "new email", newEmail, func(t *OneTimeToken) { t.newEmail = newEmail })
}

// issueCarrying is Issue of a token that must carry a value (what names
// it); set stores it in the token.
func issueCarrying(hash Hash, userID uuid.UUID, purpose Purpose, now time.Time, ttl time.Duration, what, value string, set func(*OneTimeToken)) (*OneTimeToken, error) {
	if value == "" {
		return nil, fmt.Errorf("token: empty %s", what)
	}
	t, err := Issue(hash, userID, purpose, now, ttl)
	if err != nil {
		return nil, err
	}
	set(t)
	return t, nil
}

// Rehydrate rebuilds a stored token. Storage adapters only.
func Rehydrate(hash Hash, userID uuid.UUID, purpose Purpose, createdAt, expiresAt time.Time, usedAt *time.Time, passwordHash, newEmail string) *OneTimeToken {
	return &OneTimeToken{hash: hash, userID: userID, purpose: purpose, createdAt: createdAt, expiresAt: expiresAt, usedAt: usedAt, passwordHash: passwordHash, newEmail: newEmail}
}

func (t *OneTimeToken) Hash() Hash           { return t.hash }
func (t *OneTimeToken) UserID() uuid.UUID    { return t.userID }
func (t *OneTimeToken) Purpose() Purpose     { return t.purpose }
func (t *OneTimeToken) CreatedAt() time.Time { return t.createdAt }
func (t *OneTimeToken) ExpiresAt() time.Time { return t.expiresAt }
func (t *OneTimeToken) UsedAt() *time.Time   { return t.usedAt }

// PasswordHash is the hash of the password chosen at the registration
// that issued this verification token, or "" when none was (a resend).
func (t *OneTimeToken) PasswordHash() string { return t.passwordHash }

// NewEmail is the address a change-email token confirms, or "".
func (t *OneTimeToken) NewEmail() string { return t.newEmail }

// Usable reports whether the token could be used for purpose at now,
// without using it. A used, expired or wrong-purpose token gives
// ErrInvalidToken, the same answer as an unknown one.
func (t *OneTimeToken) Usable(purpose Purpose, now time.Time) error {
	if t.purpose != purpose || t.usedAt != nil || !now.Before(t.expiresAt) {
		return domain.ErrInvalidToken
	}
	return nil
}

// Use consumes the token for purpose (see Usable).
func (t *OneTimeToken) Use(purpose Purpose, now time.Time) error {
	if err := t.Usable(purpose, now); err != nil {
		return err
	}
	t.usedAt = &now
	return nil
}
