// Package user holds the account entity and its value objects.
package user

import (
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

var (
	// ErrInvalidEmail is a validation failure on the email field.
	ErrInvalidEmail = domain.Validation(domain.FieldError{Field: "email", Code: "invalid_email", Message: "The email address is not valid."})
	// ErrNotFound is returned by repositories when no user matches.
	ErrNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "The user was not found."}
	// ErrEmailTaken is returned by repositories when the normalized email
	// already belongs to a user (the unique index decided).
	ErrEmailTaken = &domain.Error{Kind: domain.KindConflict, Code: "email_taken", Message: "The email address is already registered."}
)

// User is an account. Fields are unexported; change goes through methods
// that keep the invariants.
type User struct {
	id           uuid.UUID
	email        Email
	passwordHash string
	active       bool
	verified     bool
	createdAt    time.Time
	updatedAt    time.Time
	verifiedAt   *time.Time
	lastLoginAt  *time.Time
	// pending: see PendingRegistration.
	pending bool
}

// New makes an active, unverified user.
func New(id uuid.UUID, email Email, passwordHash string, now time.Time) (*User, error) {
	if id == uuid.Nil {
		return nil, errors.New("user: nil id")
	}
	if email.IsZero() {
		return nil, errors.New("user: empty email")
	}
	if passwordHash == "" {
		return nil, errors.New("user: empty password hash")
	}
	return &User{id: id, email: email, passwordHash: passwordHash, active: true, createdAt: now, updatedAt: now}, nil
}

// NewRegistration makes the user of a self-service registration: New, and
// a pending registration until the address is verified or the password
// logs in (see PendingRegistration).
func NewRegistration(id uuid.UUID, email Email, passwordHash string, now time.Time) (*User, error) {
	u, err := New(id, email, passwordHash, now)
	if err != nil {
		return nil, err
	}
	u.pending = true
	return u, nil
}

// NewWithoutPassword makes the active user of a first upstream sign-in:
// no password until a reset sets one. verified is whether the provider's
// word on the address is taken; an unverified one is a pending
// registration (see PendingRegistration) until its link verifies it.
func NewWithoutPassword(id uuid.UUID, email Email, verified bool, now time.Time) (*User, error) {
	if id == uuid.Nil {
		return nil, errors.New("user: nil id")
	}
	if email.IsZero() {
		return nil, errors.New("user: empty email")
	}
	u := &User{id: id, email: email, active: true, createdAt: now, updatedAt: now, pending: !verified}
	if verified {
		u.VerifyEmail(now)
	}
	return u, nil
}

// Rehydrate rebuilds a stored user. Storage adapters only.
func Rehydrate(id uuid.UUID, email Email, passwordHash string, active, verified bool, createdAt, updatedAt time.Time, verifiedAt, lastLoginAt *time.Time) *User {
	return &User{id: id, email: email, passwordHash: passwordHash, active: active, verified: verified, createdAt: createdAt, updatedAt: updatedAt, verifiedAt: verifiedAt, lastLoginAt: lastLoginAt}
}

func (u *User) ID() uuid.UUID          { return u.id }
func (u *User) Email() Email           { return u.email }
func (u *User) PasswordHash() string   { return u.passwordHash }
func (u *User) Active() bool           { return u.active }
func (u *User) Verified() bool         { return u.verified }
func (u *User) CreatedAt() time.Time   { return u.createdAt }
func (u *User) UpdatedAt() time.Time   { return u.updatedAt }
func (u *User) VerifiedAt() *time.Time { return u.verifiedAt }

// HasPassword reports whether the account has a password to sign in
// with. An account made by an upstream sign-in has none until a reset
// sets one (an invitation's is random until its link sets one).
func (u *User) HasPassword() bool { return u.passwordHash != "" }

// LastLoginAt is when a login last started a session, or nil.
func (u *User) LastLoginAt() *time.Time { return u.lastLoginAt }

// PendingRegistration reports whether the account is a pending
// registration: made by a self-service registration (NewRegistration),
// and since then neither verified (by its link, a reset, an invitation or
// an email change) nor logged in with its password. A pending
// registration does not own its address: an email change to the address
// may take it over, and it is deleted once it has no link left that
// works. Accounts made by an operator, and accounts verified once and
// unverified later, are never pending registrations.
func (u *User) PendingRegistration() bool { return u.pending }

// RestorePending sets the stored pending-registration mark of a
// rehydrated user. Storage adapters only.
func (u *User) RestorePending(pending bool) *User {
	u.pending = pending
	return u
}

// VerifyEmail marks the address proven. Verifying twice keeps the first time.
func (u *User) VerifyEmail(now time.Time) {
	if u.verified {
		return
	}
	u.verified = true
	u.verifiedAt = &now
	u.updatedAt = now
	u.pending = false
}

// SetPasswordHash replaces the stored hash (change, reset or rehash).
func (u *User) SetPasswordHash(hash string, now time.Time) error {
	if hash == "" {
		return errors.New("user: empty password hash")
	}
	u.passwordHash = hash
	u.updatedAt = now
	return nil
}

// Deactivate disables the account; login is refused afterwards.
func (u *User) Deactivate(now time.Time) {
	u.active = false
	u.updatedAt = now
}

// Activate enables a disabled account again.
func (u *User) Activate(now time.Time) {
	u.active = true
	u.updatedAt = now
}

// UnverifyEmail withdraws the proof of the address (an operator's
// decision); with verification required, the password stops logging in
// until the address is verified again.
func (u *User) UnverifyEmail(now time.Time) {
	if !u.verified {
		return
	}
	u.verified = false
	u.verifiedAt = nil
	u.updatedAt = now
}

// ChangeEmail moves the account to a new address that its owner has just
// proven (the change link reached it), so the new address is verified.
func (u *User) ChangeEmail(email Email, now time.Time) error {
	if email.IsZero() {
		return errors.New("user: empty email")
	}
	u.email = email
	u.verified = true
	u.verifiedAt = &now
	u.updatedAt = now
	u.pending = false
	return nil
}

// LoggedIn records a login (a password, or a passkey) that started a
// session.
func (u *User) LoggedIn(now time.Time) {
	u.lastLoginAt = &now
	u.pending = false
}
