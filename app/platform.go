package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"maps"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Clock tells the time. Use cases never call time.Now.
type Clock interface {
	Now() time.Time
}

// IDGenerator makes new UUIDs (v4 or v7).
type IDGenerator interface {
	NewID() uuid.UUID
}

// PasswordHasher hashes and checks passwords. Implementations bound how many
// hashes run at once: when no slot frees up within a short wait they return
// domain.ErrOverloaded (503 with Retry-After).
type PasswordHasher interface {
	// Hash returns an encoded hash (PHC string) with the configured cost.
	Hash(ctx context.Context, pw user.Password) (string, error)
	// Verify checks pw against encoded. needsRehash is true when encoded
	// was made with other parameters than the configured ones.
	Verify(ctx context.Context, pw user.Password, encoded string) (ok, needsRehash bool, err error)
	// DummyHash is a valid hash of a random password with the configured
	// parameters, verified against when no user exists so that an unknown
	// email costs the same as a wrong password.
	DummyHash() string
}

// AccessClaims are the claims of an access token.
type AccessClaims struct {
	ID            string // jti
	Subject       uuid.UUID
	SessionID     uuid.UUID
	Email         string
	EmailVerified bool
	// AMR are the authentication methods of the session's login (RFC
	// 8176): ["pwd"], or ["pwd", "otp"] after a second factor.
	AMR []string
	// AuthTime is when the session's holder last authenticated (OpenID
	// Connect auth_time); zero in tokens signed before it was carried.
	AuthTime time.Time
	// ClientID and Scope: the client a grant's token was issued to and
	// what it was granted (RFC 9068); empty for a token of the JSON API.
	ClientID  string
	Scope     []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// SigningKey is a private signing key as the token signer takes it: the
// RFC 7638 thumbprint, the algorithm, and the private key in the form it
// is sealed in (an Ed25519 seed; for RS256 the PKCS #8 DER).
type SigningKey struct {
	KID     string
	Alg     signingkey.Algorithm
	Private []byte
}

// KeySet is what the token signer uses: the keys of each algorithm, and
// verify-only Ed25519 keys (GATEHOUSE_JWT_PREVIOUS_KEY_FILES). Every key
// is in the JWKS.
type KeySet struct {
	Keys   map[signingkey.Algorithm]AlgKeys
	Public []ed25519.PublicKey
}

// AlgKeys are the keys of one algorithm: Current signs until NextAt,
// then Next (when set) signs; Retired keys only verify.
type AlgKeys struct {
	Current SigningKey
	Next    *SigningKey
	NextAt  time.Time
	Retired []SigningKey
}

// Sealer encrypts secrets that must be recoverable (generated signing
// keys, TOTP secrets) before they are stored, with an AEAD under the secret
// key. label binds a sealed value to its place (for example
// "signing-key:"+kid): a value sealed under one label does not open under
// another, so rows cannot be swapped.
type Sealer interface {
	Seal(plain []byte, label string) ([]byte, error)
	// Open returns ErrSealBroken when sealed was not made by Seal with this
	// secret key and label (a wrong key, a swapped or altered value).
	Open(sealed []byte, label string) ([]byte, error)
}

// ErrSealBroken: a sealed value does not open under the secret key.
var ErrSealBroken = errors.New("a sealed secret does not open with this secret key (is GATEHOUSE_SECRET_KEY_FILE the key the secrets were sealed with?)")

// RequestMeta is what use cases need of the request for sessions, audit and
// rate limits. IP is the client address after trusted-proxy resolution.
type RequestMeta struct {
	IP        string
	UserAgent string
}

// Event is the audit event of type t about userID, at now, of this request.
func (m RequestMeta) Event(t audit.Type, userID uuid.UUID, now time.Time, detail map[string]string) audit.Event {
	return audit.Event{Type: t, UserID: userID, IP: m.IP, UserAgent: m.UserAgent, At: now, Detail: detail}
}

// ActorEvent is the Event of an operator's change, actor named in the
// detail.
func (m RequestMeta) ActorEvent(t audit.Type, actor string, userID uuid.UUID, now time.Time, detail map[string]string) audit.Event {
	d := map[string]string{"actor": actor}
	maps.Copy(d, detail)
	return m.Event(t, userID, now, d)
}

// Observer hears of what operators watch but no caller is told, such as a
// mail a per-address limit dropped, and of the outcomes they count (logins,
// limit hits, deliveries). Implementations log what needs a line (never a
// link or a whole address) and count everything. Every value passed is
// from a small fixed set (the constants below, the limits' rule names,
// the mail kinds), never a user's input, so it can label a metric.
type Observer interface {
	// MailSkipped: a mail of kind to an address at addressDomain was not
	// sent because rule (a limit's fixed name, such as "mail_address") was
	// used up.
	MailSkipped(ctx context.Context, kind MailKind, addressDomain, rule string)
	// LoginResult: a password or passkey login ended with result (a
	// LoginOutcome constant).
	LoginResult(ctx context.Context, result LoginOutcome)
	// RateLimited: rule (a limit's fixed name, such as "login_ip") refused
	// a request or dropped a mail.
	RateLimited(ctx context.Context, rule string)
	// MailResult: the outbox worker tried to deliver a message of kind
	// (for the requests, ResetRequest and VerifyRequest: to resolve it).
	MailResult(ctx context.Context, kind MailKind, result MailOutcome)
	// RefreshReuseDetected: a rotated refresh token came back and its
	// session was revoked (counted once per session).
	RefreshReuseDetected(ctx context.Context)
}

// LoginOutcome is how a password login, or a passkey's, ended.
type LoginOutcome string

const (
	LoginSuccess LoginOutcome = "success"
	// An unknown address, a wrong password, or an address not verified yet
	// (when it must be) whatever the password: the API answers these
	// alike, so the metrics never tell them apart either. For a passkey:
	// an answer that does not verify or a counter that went backwards.
	LoginInvalidCredentials LoginOutcome = "invalid_credentials"
	LoginDisabled           LoginOutcome = "disabled"     // the right password (or passkey) of a disabled account
	LoginRateLimited        LoginOutcome = "rate_limited" // refused before the password check: the (account, IP) pair used up its attempts
	LoginLocked             LoginOutcome = "locked"       // refused before the password check: the account is locked
	// The second factor: a right password of an account with MFA on, or
	// a passkey that did not verify its user (the login goes on at
	// /v1/login/mfa, whose right code is a LoginSuccess), and a wrong code
	// there.
	LoginMFARequired LoginOutcome = "mfa_required"
	LoginInvalidCode LoginOutcome = "invalid_code"
)

// MailOutcome is how one delivery attempt of an outbox message ended.
type MailOutcome string

const (
	MailSent   MailOutcome = "sent"   // delivered (a request: resolved)
	MailRetry  MailOutcome = "retry"  // failed, tried again later
	MailFailed MailOutcome = "failed" // failed for good: given up
)

// ErrorReporter receives the failures of background work, which has no
// caller to return them to. Implementations log them (never with secrets).
type ErrorReporter interface {
	ReportError(ctx context.Context, what string, err error)
}

// ImportedHashChecker checks a password hash made by another system before
// it is stored as it is (an import), so that only hashes the
// PasswordHasher verifies, at a bounded cost, are ever stored.
type ImportedHashChecker interface {
	// CheckImported gives nil when PasswordHasher.Verify takes encoded,
	// else a validation error on the field password_hash that says why
	// (naming the accepted formats when encoded is of none of them).
	CheckImported(encoded string) error
}
