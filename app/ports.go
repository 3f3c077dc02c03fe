// Package app holds Gatehouse's use cases, grouped by module in
// sub-packages, and the ports (interfaces) they consume. Adapters implement
// the ports; nothing here knows HTTP, SQL, SMTP or Wire.
package app

//go:generate go tool mockgen -destination=mock/ports.go -package=mock github.com/gatehouse-auth/gatehouse/app Clock,IDGenerator,PasswordHasher,CommonPasswords,TxManager,UserRepository,OneTimeTokenRepository,SessionRepository,Outbox,AuditLog,RateLimiter,AccessTokens,Mailer,SigningKeyStore,ErrorReporter

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
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

// CommonPasswords is the blocklist of the password policy.
type CommonPasswords interface {
	// Contains reports whether the lower-cased password is on the list.
	Contains(lower string) bool
}

// Repos are the repositories bound to one transaction (or to the pool).
type Repos struct {
	Users    UserRepository
	Tokens   OneTimeTokenRepository
	Sessions SessionRepository
	Outbox   Outbox
	Audit    AuditLog
}

// TxManager runs fn in one database transaction: committed when fn returns
// nil, rolled back otherwise. Repositories handed to fn are bound to it.
type TxManager interface {
	Within(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// UserRepository stores users. Storage failures are wrapped with
// domain.Unavailable so that they map to 503.
type UserRepository interface {
	// Create inserts u. The unique index on the normalized email decides
	// races: a duplicate gives user.ErrEmailTaken.
	Create(ctx context.Context, u *user.User) error
	// ByEmail finds by normalized email, or user.ErrNotFound.
	ByEmail(ctx context.Context, email user.Email) (*user.User, error)
	// ByID finds by id, or user.ErrNotFound.
	ByID(ctx context.Context, id uuid.UUID) (*user.User, error)
	// ByIDForUpdate is ByID with a row lock held until the transaction ends.
	ByIDForUpdate(ctx context.Context, id uuid.UUID) (*user.User, error)
	// Update saves the mutable fields of u (hash, active, verified, times).
	Update(ctx context.Context, u *user.User) error
}

// OneTimeTokenRepository stores verification and reset tokens, by hash only.
type OneTimeTokenRepository interface {
	// Issue stores t after invalidating every unused token of the same user
	// and purpose, so that only the newest one works.
	Issue(ctx context.Context, t *token.OneTimeToken) error
	// ByHashForUpdate finds a token and locks it, or token-not-found as
	// domain.ErrInvalidToken.
	ByHashForUpdate(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error)
	// MarkUsed saves the used time of t.
	MarkUsed(ctx context.Context, t *token.OneTimeToken) error
}

// RefreshToken is one refresh token of a session, by hash. Rotation marks
// the presented one used and issues a new one.
type RefreshToken struct {
	Hash      token.Hash
	SessionID uuid.UUID
	CreatedAt time.Time
	UsedAt    *time.Time
}

// SessionRepository stores sessions and their refresh tokens.
type SessionRepository interface {
	Create(ctx context.Context, s *session.Session) error
	// ByID finds a session, or session.ErrNotFound. One primary-key lookup.
	ByID(ctx context.Context, id uuid.UUID) (*session.Session, error)
	// ByIDForUpdate is ByID with a row lock.
	ByIDForUpdate(ctx context.Context, id uuid.UUID) (*session.Session, error)
	// Update saves last-used and revoked times.
	Update(ctx context.Context, s *session.Session) error
	// ListActive returns the user's sessions that are neither revoked nor
	// past their absolute expiry at now, newest first.
	ListActive(ctx context.Context, userID uuid.UUID, now time.Time) ([]*session.Session, error)
	// RevokeAll revokes every live session of the user except keep (which
	// may be uuid.Nil) and returns how many it revoked.
	RevokeAll(ctx context.Context, userID, keep uuid.UUID, now time.Time) (int, error)
	// AddRefreshToken stores a new refresh token for a session.
	AddRefreshToken(ctx context.Context, rt RefreshToken) error
	// RefreshTokenForUpdate finds a refresh token by hash and locks it, so
	// that of concurrent refreshes with one token exactly one sees it
	// unused; or session.ErrNotFound.
	RefreshTokenForUpdate(ctx context.Context, hash token.Hash) (RefreshToken, error)
	// MarkRefreshTokenUsed sets the used time of a refresh token.
	MarkRefreshTokenUsed(ctx context.Context, hash token.Hash, at time.Time) error
}

// MailKind names an outbox message kind; the mailer has templates for each.
type MailKind string

const (
	// MailVerifyEmail: Data["link"] is the verification page link.
	MailVerifyEmail MailKind = "verify_email"
	// MailAlreadyRegistered: someone tried to register a verified address.
	// Data["login_link"], Data["reset_link"] point at the public site.
	MailAlreadyRegistered MailKind = "already_registered"
	// MailResetPassword: Data["link"] is the reset page link.
	MailResetPassword MailKind = "reset_password"
	// MailPasswordChanged: notice after a change or reset.
	MailPasswordChanged MailKind = "password_changed"
	// ResetRequest is not a mail: it records a password-forgot request for
	// the typed address; the outbox worker resolves it and, when a user
	// exists, enqueues a MailResetPassword to the stored address.
	ResetRequest MailKind = "reset_request"
	// VerifyRequest is not a mail either: a resend-verification request for
	// the typed address, resolved by the worker like ResetRequest.
	VerifyRequest MailKind = "verify_request"
)

// OutboundMail is what a use case enqueues. To is always an address read
// from the user row (for the requests: the normalized typed address).
type OutboundMail struct {
	ID     uuid.UUID
	Kind   MailKind
	To     string
	UserID uuid.UUID // uuid.Nil for ResetRequest and VerifyRequest
	Data   map[string]string
}

// OutboxMessage is a claimed outbox row.
type OutboxMessage struct {
	OutboundMail
	Attempts  int // including the current one
	CreatedAt time.Time
}

// Outbox is the transactional mail queue.
type Outbox interface {
	// Enqueue stores m, due now, in the caller's transaction.
	Enqueue(ctx context.Context, m OutboundMail) error
	// Claim takes up to limit due messages (FOR UPDATE SKIP LOCKED), bumps
	// their attempt count and pushes their due time lease into the future,
	// and commits, so no other worker takes them while they are sent.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]OutboxMessage, error)
	// MarkSent records delivery and clears the payload (links carry tokens).
	MarkSent(ctx context.Context, id uuid.UUID, at time.Time) error
	// MarkFailed records the error and the next due time; with giveUp the
	// message is never tried again and its payload is cleared.
	MarkFailed(ctx context.Context, id uuid.UUID, lastErr string, next time.Time, giveUp bool) error
	// CountPending counts messages not yet sent nor given up (for tests and
	// readiness diagnostics).
	CountPending(ctx context.Context) (int, error)
}

// AuditLog appends security events to the hash-chained audit trail.
type AuditLog interface {
	Append(ctx context.Context, e audit.Event) error
}

// RateLimiter is a fixed-window counter store shared by all instances.
type RateLimiter interface {
	// Hit counts one event under key in a window of length window and
	// reports whether the count is now within limit; when it is not,
	// retryAfter is the time left in the window.
	Hit(ctx context.Context, key string, limit int, window time.Duration) (allowed bool, retryAfter time.Duration, err error)
	// Blocked reports, without counting, whether key's count has reached
	// limit in its current window.
	Blocked(ctx context.Context, key string, limit int) (blocked bool, retryAfter time.Duration, err error)
	// Reset forgets key.
	Reset(ctx context.Context, key string) error
}

// AccessClaims are the claims of an access token.
type AccessClaims struct {
	ID            string // jti
	Subject       uuid.UUID
	SessionID     uuid.UUID
	Email         string
	EmailVerified bool
	IssuedAt      time.Time
	ExpiresAt     time.Time
}

// AccessTokens signs and verifies access tokens (EdDSA JWT) and publishes
// the public keys.
type AccessTokens interface {
	// Issue signs claims; ID, IssuedAt and ExpiresAt are filled in by the
	// implementation from its clock and TTL.
	Issue(ctx context.Context, c AccessClaims) (signed string, claims AccessClaims, err error)
	// Verify checks signature, algorithm, typ, kid, iss, aud and exp, and
	// returns domain.ErrUnauthorized for any token it does not accept.
	Verify(ctx context.Context, signed string) (AccessClaims, error)
	// JWKS is the JSON Web Key Set document of the public keys.
	JWKS() []byte
}

// SigningKeyStore keeps the generated signing key in the database so that
// every instance and every restart signs with the same key.
type SigningKeyStore interface {
	// GetOrCreate returns the stored key; when none exists it stores the
	// one made by generate. Of instances racing to create, one wins and all
	// return the winner's key.
	GetOrCreate(ctx context.Context, generate func() ([]byte, error)) ([]byte, error)
}

// ErrPermanent marks a delivery error that no retry can fix (a mail that
// cannot be rendered, an address the server refuses for good). The outbox
// worker gives such a message up at once.
var ErrPermanent = errors.New("permanent delivery failure")

// Mailer delivers one rendered mail of a kind. Implementations render the
// templates for m.Kind with m.Data, and wrap errors that retrying cannot
// fix with ErrPermanent.
type Mailer interface {
	Send(ctx context.Context, m OutboundMail) error
}

// RequestMeta is what use cases need of the request for sessions, audit and
// rate limits. IP is the client address after trusted-proxy resolution.
type RequestMeta struct {
	IP        string
	UserAgent string
}

// ErrorReporter receives the failures of background work, which has no
// caller to return them to. Implementations log them (never with secrets).
type ErrorReporter interface {
	ReportError(ctx context.Context, what string, err error)
}
