// Package mfa holds the second factor: a TOTP authenticator (RFC 6238),
// its single-use recovery codes, and the short-lived login token that
// carries a login from its first step (a correct password, or a passkey
// without user verification) to the code. The rules (which
// steps a code may be for, how many codes, how long a login token lives,
// how many wrong codes burn it) are here; storage only does the
// conditional writes that make them hold under races.
package mfa

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// The TOTP parameters (RFC 6238 with the defaults every authenticator
// app understands).
const (
	// SecretBytes is the size of a TOTP secret: 160 bits, the HMAC-SHA-1
	// output size RFC 4226 recommends.
	SecretBytes = 20
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// StepSkew is how many steps either side of the current one a code
	// may be for (clock drift and typing time).
	StepSkew = 1
)

// The recovery codes.
const (
	// RecoveryCodeCount is how many codes one set holds.
	RecoveryCodeCount = 10
	// RecoveryCodeBytes is the entropy of one code: 80 bits.
	RecoveryCodeBytes = 10
	// recoveryCodeChars is the length of a code without separators.
	recoveryCodeChars = RecoveryCodeBytes * 8 / 5
)

// The login token between the password and the code.
const (
	// LoginTokenTTL is how long a login token lives.
	LoginTokenTTL = 5 * time.Minute
	// MaxCodeAttempts wrong codes burn a login token.
	MaxCodeAttempts = 5
)

// Method names the second factor a code proved.
type Method string

const (
	// MethodTOTP is a code of the authenticator app.
	MethodTOTP Method = "totp"
	// MethodRecoveryCode is one of the recovery codes.
	MethodRecoveryCode Method = "recovery_code"
)

// Errors of the second factor. Codes are part of the API.
var (
	// ErrAlreadyEnabled: enrollment starts or confirms while a confirmed
	// factor exists.
	ErrAlreadyEnabled = &domain.Error{Kind: domain.KindConflict, Code: "mfa_already_enabled", Message: "Two-factor authentication is already on; turn it off first."}
	// ErrNotEnabled: disabling or regenerating without a confirmed factor.
	ErrNotEnabled = &domain.Error{Kind: domain.KindConflict, Code: "mfa_not_enabled", Message: "Two-factor authentication is not on."}
	// ErrNotStarted: confirming without a pending enrollment.
	ErrNotStarted = &domain.Error{Kind: domain.KindConflict, Code: "mfa_not_started", Message: "No enrollment is pending; start one first."}
	// ErrWrongCode: a signed-in user's code is not valid (wrong, replayed,
	// or for another time step). 403: the bearer token itself is fine.
	ErrWrongCode = &domain.Error{Kind: domain.KindForbidden, Code: "invalid_code", Message: "The code is not valid."}
	// ErrInvalidCode: the code of the second login step is not valid.
	ErrInvalidCode = &domain.Error{Kind: domain.KindUnauthorized, Code: "invalid_code", Message: "The code is not valid."}
	// ErrLoginTokenInvalid: the mfa_token is unknown, expired, used,
	// burned by wrong codes, or from another client: log in again.
	ErrLoginTokenInvalid = &domain.Error{Kind: domain.KindUnauthorized, Code: "invalid_token", Message: "The MFA token is invalid, expired or used up; log in again."}
	// ErrStepUpRequired: a sensitive change of an account with MFA on
	// (email, password, deletion, turning MFA off, new recovery codes,
	// adding or deleting a passkey) from a session that has not proved a
	// second factor recently, and without a code in the request.
	ErrStepUpRequired = &domain.Error{Kind: domain.KindForbidden, Code: "step_up_required",
		Message: "This change needs your second factor: send a current code in the `code` field, or sign in again with your second factor and retry."}
	// ErrNotFound is returned by repositories when a user has no factor.
	ErrNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "No second factor was found."}
)

// Step is the RFC 6238 time step of t: Unix seconds over the period.
func Step(t time.Time) int64 {
	s := t.Unix()
	p := int64(Period / time.Second)
	if s < 0 {
		return (s - p + 1) / p
	}
	return s / p
}

// AcceptedSteps are the steps a code given at now may be for, the
// current one first.
func AcceptedSteps(now time.Time) []int64 {
	s := Step(now)
	out := []int64{s}
	for d := int64(1); d <= StepSkew; d++ {
		out = append(out, s-d, s+d)
	}
	return out
}

// NormalizeTOTPCode returns the six digits of a code as typed (spaces
// allowed between them), or false when it is not six ASCII digits.
func NormalizeTOTPCode(raw string) (string, bool) {
	c := strings.ReplaceAll(strings.TrimSpace(raw), " ", "")
	if len(c) != Digits {
		return "", false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return "", false
		}
	}
	return c, true
}

// CodesEqual compares two codes in constant time.
func CodesEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// EncodeSecret is a TOTP secret as authenticator apps take it typed in:
// base32 without padding.
func EncodeSecret(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

// NewSecret reads a fresh TOTP secret from r.
func NewSecret(r io.Reader) ([]byte, error) {
	b := make([]byte, SecretBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("mfa: read random: %w", err)
	}
	return b, nil
}

// SealLabel binds a sealed TOTP secret to its user, so that one user's
// sealed secret does not open as another's.
func SealLabel(userID uuid.UUID) string { return "totp:" + userID.String() }

// TOTP is a user's authenticator factor: pending until a first code
// confirms it, then enabled. The secret is stored sealed; this type only
// carries the sealed bytes.
type TOTP struct {
	userID       uuid.UUID
	sealedSecret []byte
	createdAt    time.Time
	confirmedAt  *time.Time
	lastUsedStep *int64
}

// NewPending starts an enrollment with a sealed secret.
func NewPending(userID uuid.UUID, sealedSecret []byte, now time.Time) (*TOTP, error) {
	if userID == uuid.Nil {
		return nil, errors.New("mfa: nil user id")
	}
	if len(sealedSecret) == 0 {
		return nil, errors.New("mfa: empty sealed secret")
	}
	return &TOTP{userID: userID, sealedSecret: sealedSecret, createdAt: now}, nil
}

// RehydrateTOTP rebuilds a stored factor. Storage adapters only.
func RehydrateTOTP(userID uuid.UUID, sealedSecret []byte, createdAt time.Time, confirmedAt *time.Time, lastUsedStep *int64) *TOTP {
	return &TOTP{userID: userID, sealedSecret: sealedSecret, createdAt: createdAt, confirmedAt: confirmedAt, lastUsedStep: lastUsedStep}
}

func (f *TOTP) UserID() uuid.UUID       { return f.userID }
func (f *TOTP) SealedSecret() []byte    { return f.sealedSecret }
func (f *TOTP) CreatedAt() time.Time    { return f.createdAt }
func (f *TOTP) ConfirmedAt() *time.Time { return f.confirmedAt }

// LastUsedStep is the highest step a code was accepted for, or nil.
func (f *TOTP) LastUsedStep() *int64 { return f.lastUsedStep }

// Enabled reports whether a code confirmed the factor: from then on
// login needs a second step.
func (f *TOTP) Enabled() bool { return f.confirmedAt != nil }

// RecoveryCode is one code of a fresh set, as shown once to its owner.
type RecoveryCode string

func (RecoveryCode) String() string   { return "[redacted]" }
func (RecoveryCode) GoString() string { return "[redacted]" }

// Reveal returns the code for the one answer that shows it.
func (c RecoveryCode) Reveal() string { return string(c) }

// recoveryEncoding is RFC 4648 base32 (A-Z, 2-7): no 0, 1, 8 or 9 to
// confuse with letters.
var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRecoveryCodes reads a fresh set from r and returns the codes, as
// shown (four groups of four characters, "ABCD-EFGH-JKLM-NPQR"), and their
// hashes, as stored.
func NewRecoveryCodes(r io.Reader) ([]RecoveryCode, []token.Hash, error) {
	codes := make([]RecoveryCode, 0, RecoveryCodeCount)
	hashes := make([]token.Hash, 0, RecoveryCodeCount)
	seen := map[token.Hash]bool{}
	for len(codes) < RecoveryCodeCount {
		b := make([]byte, RecoveryCodeBytes)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, nil, fmt.Errorf("mfa: read random: %w", err)
		}
		plain := recoveryEncoding.EncodeToString(b)
		h := hashRecoveryCode(plain)
		if seen[h] {
			continue // never with real randomness; keeps a set's hashes distinct
		}
		seen[h] = true
		codes = append(codes, RecoveryCode(plain[0:4]+"-"+plain[4:8]+"-"+plain[8:12]+"-"+plain[12:16]))
		hashes = append(hashes, h)
	}
	return codes, hashes, nil
}

// ParseRecoveryCode hashes a recovery code as typed: case, spaces and
// dashes do not matter. Anything that cannot be a recovery code gives
// false.
func ParseRecoveryCode(raw string) (token.Hash, bool) {
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r == '-' || r == ' ':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z' || r >= '2' && r <= '7':
			b.WriteRune(r)
		default:
			return token.Hash{}, false
		}
		if b.Len() > recoveryCodeChars {
			return token.Hash{}, false
		}
	}
	if b.Len() != recoveryCodeChars {
		return token.Hash{}, false
	}
	return hashRecoveryCode(b.String()), true
}

// hashRecoveryCode is the SHA-256 of the normalized code. A fast hash is
// right: a code has 80 random bits, beyond any guessing from a stolen
// hash.
func hashRecoveryCode(normalized string) token.Hash {
	return sha256.Sum256([]byte("gatehouse-recovery-code:" + normalized))
}

// Binding ties a login token to the login it continues: the user, the
// password hash that was checked (a reset or change in between kills the
// token) and the client (IP and User-Agent), so that a token taken
// elsewhere does not work.
type Binding [sha256.Size]byte

// BindingOf computes the binding of a login.
func BindingOf(userID uuid.UUID, passwordHash, ip, userAgent string) Binding {
	h := sha256.New()
	domain.HashFields(h, userID[:], []byte(passwordHash), []byte(ip), []byte(userAgent))
	var b Binding
	copy(b[:], h.Sum(nil))
	return b
}

// Equal compares two bindings in constant time.
func (b Binding) Equal(o Binding) bool { return subtle.ConstantTimeCompare(b[:], o[:]) == 1 }

// LoginToken is the mfa_token of a login whose password was right: stored
// by hash, living LoginTokenTTL, single-use, dead after MaxCodeAttempts
// wrong codes.
type LoginToken struct {
	hash           token.Hash
	userID         uuid.UUID
	binding        Binding
	createdAt      time.Time
	expiresAt      time.Time
	failedAttempts int
	usedAt         *time.Time
	// firstFactor is what the login's first step proved (RFC 8176
	// methods); nil for a password.
	firstFactor []string
}

// IssueLoginToken makes the login token with hash for userID.
func IssueLoginToken(hash token.Hash, userID uuid.UUID, binding Binding, now time.Time) (*LoginToken, error) {
	if userID == uuid.Nil {
		return nil, errors.New("mfa: nil user id")
	}
	return &LoginToken{hash: hash, userID: userID, binding: binding, createdAt: now, expiresAt: now.Add(LoginTokenTTL)}, nil
}

// IssueLoginTokenAfter is IssueLoginToken for a first step that proved
// firstFactor instead of a password (a passkey without user
// verification: ["hwk"]); the session the code starts carries it.
func IssueLoginTokenAfter(hash token.Hash, userID uuid.UUID, binding Binding, firstFactor []string, now time.Time) (*LoginToken, error) {
	if len(firstFactor) == 0 {
		return nil, errors.New("mfa: no first factor")
	}
	t, err := IssueLoginToken(hash, userID, binding, now)
	if err != nil {
		return nil, err
	}
	t.firstFactor = slices.Clone(firstFactor)
	return t, nil
}

// RehydrateLoginToken rebuilds a stored login token. Storage adapters only.
func RehydrateLoginToken(hash token.Hash, userID uuid.UUID, binding Binding, createdAt, expiresAt time.Time, failedAttempts int, usedAt *time.Time) *LoginToken {
	return &LoginToken{hash: hash, userID: userID, binding: binding, createdAt: createdAt, expiresAt: expiresAt, failedAttempts: failedAttempts, usedAt: usedAt}
}

func (t *LoginToken) Hash() token.Hash     { return t.hash }
func (t *LoginToken) UserID() uuid.UUID    { return t.userID }
func (t *LoginToken) Binding() Binding     { return t.binding }
func (t *LoginToken) CreatedAt() time.Time { return t.createdAt }
func (t *LoginToken) ExpiresAt() time.Time { return t.expiresAt }
func (t *LoginToken) FailedAttempts() int  { return t.failedAttempts }
func (t *LoginToken) UsedAt() *time.Time   { return t.usedAt }

// FirstFactor is what the login's first step proved: ["pwd"] for a
// password, the methods IssueLoginTokenAfter was given otherwise.
func (t *LoginToken) FirstFactor() []string {
	if len(t.firstFactor) == 0 {
		return []string{session.MethodPassword}
	}
	return slices.Clone(t.firstFactor)
}

// RehydrateFirstFactor sets the stored first factor of a login token.
// Storage adapters only; empty keeps a password.
func (t *LoginToken) RehydrateFirstFactor(amr []string) { t.firstFactor = slices.Clone(amr) }

// Usable reports whether a code may still be tried with the token at now
// from a login with binding b: not used, not expired, not burned, same
// login. Anything else is ErrLoginTokenInvalid.
func (t *LoginToken) Usable(now time.Time, b Binding) error {
	if t.usedAt != nil || !now.Before(t.expiresAt) || t.failedAttempts >= MaxCodeAttempts || !t.binding.Equal(b) {
		return ErrLoginTokenInvalid
	}
	return nil
}
