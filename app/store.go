package app

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// The store: what adapters/storetest runs against every store.

// Repos are the repositories bound to one transaction, or to the store
// itself (each call then stands alone).
type Repos struct {
	Users     UserRepository
	Tokens    OneTimeTokenRepository
	Sessions  SessionRepository
	Outbox    Outbox
	Audit     AuditLog
	AdminKeys AdminKeyStore
	// MFA is the second factor: TOTP, recovery codes, login tokens.
	MFA MFARepository
	// SigningKeys is the key ring; promotions and retirements change it
	// together with their audit events.
	SigningKeys SigningKeyRing
	// Clients are the applications registered to sign users in.
	Clients ClientRepository
	// Grants are the authorization endpoint's pending requests, codes and
	// consents.
	Grants GrantRepository
	// Events are what webhook endpoints hear about users and sessions.
	Events EventLog
	// Webhooks are the endpoints that hear of them.
	Webhooks WebhookRepository
	// Passkeys are the users' WebAuthn credentials and the challenges of
	// their ceremonies.
	Passkeys PasskeyRepository
	// Upstream are the users' identities at upstream providers and the
	// round trips to those providers.
	Upstream UpstreamRepository
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
	// CreateMissing inserts each of us whose normalized email no stored
	// user holds (nor an earlier one of us), as Create would, in a few
	// statements of many rows each, and returns the ids of those it
	// inserted, in no particular order. An address already taken, or
	// taken meanwhile by a racing Create, is left out, never an error:
	// the unique index decides. Bound to a transaction, all of it commits
	// or none.
	CreateMissing(ctx context.Context, us []*user.User) ([]uuid.UUID, error)
	// ByEmail finds by normalized email, or user.ErrNotFound.
	ByEmail(ctx context.Context, email user.Email) (*user.User, error)
	// ForLogin is ByEmail with whether the user has a confirmed second
	// factor (what MFARepository.TOTP's Enabled reports), in one
	// statement: what a password login reads.
	ForLogin(ctx context.Context, email user.Email) (u *user.User, mfaEnabled bool, err error)
	// ByID finds by id, or user.ErrNotFound.
	ByID(ctx context.Context, id uuid.UUID) (*user.User, error)
	// ByIDForChange is ByID inside a transaction that will change the
	// user or what belongs to it (tokens, sessions). Transactions that read
	// one user for change run one after another: the later one sees what
	// the earlier one committed.
	ByIDForChange(ctx context.Context, id uuid.UUID) (*user.User, error)
	// Update saves the mutable fields of u (email, hash, active, verified,
	// times). A new email that another user holds gives
	// user.ErrEmailTaken (the unique index decides races).
	Update(ctx context.Context, u *user.User) error
	// List returns up to q.Limit users matching q, newest first (by
	// creation time, then id, both descending).
	List(ctx context.Context, q UserQuery) ([]*user.User, error)
	// Delete removes the user and everything stored for them (sessions
	// and their refresh tokens, one-time tokens, mail queued or sent to
	// them), or gives user.ErrNotFound. The audit trail is kept whole.
	Delete(ctx context.Context, id uuid.UUID) error
}

// UserQuery selects users for an operator's list.
type UserQuery struct {
	// EmailPrefix, when not empty, keeps users whose normalized address
	// starts with it (a literal prefix: no wildcards).
	EmailPrefix string
	// Before, when set, keeps users strictly after it in list order (the
	// last user of the previous page).
	Before *UserCursor
	// Limit is at least 1.
	Limit int
}

// UserCursor is a position in the user list.
type UserCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// OneTimeTokenRepository stores verification and reset tokens, by hash only.
// Which older tokens a new one replaces is the use case's decision
// (InvalidateUnused), not the store's.
type OneTimeTokenRepository interface {
	// Add stores t as it is.
	Add(ctx context.Context, t *token.OneTimeToken) error
	// ByHashForChange finds a token inside a transaction that may consume
	// it: of concurrent transactions reading one token for change, the
	// later ones see what the first committed. An unknown hash gives
	// domain.ErrInvalidToken.
	ByHashForChange(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error)
	// ByHash finds a token to look at, not to consume: it holds nothing
	// until any transaction ends and works outside one. An unknown hash
	// gives domain.ErrInvalidToken.
	ByHash(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error)
	// MarkUsed saves the used time of t, or gives domain.ErrInvalidToken.
	MarkUsed(ctx context.Context, t *token.OneTimeToken) error
	// InvalidateUnused marks every unused token of the user whose purpose
	// is one of purposes as used at at, and returns how many it marked.
	InvalidateUnused(ctx context.Context, userID uuid.UUID, at time.Time, purposes ...token.Purpose) (int, error)
}

// RefreshToken is one refresh token of a session, by hash. Rotation marks
// the presented one used and issues a new one.
type RefreshToken struct {
	Hash      token.Hash
	SessionID uuid.UUID
	CreatedAt time.Time
	UsedAt    *time.Time
	// SealedSuccessor is the secret of the token that replaced this one,
	// sealed (Sealer) under a label bound to Hash; kept only for the reuse
	// grace after UsedAt, nil otherwise.
	SealedSuccessor []byte
}

// CodeRedemption is what GrantRepository.Redeem stores: the code (by
// hash) redeemed at At, the grant (a session) it made and that grant's
// first refresh token (nil when the client has no refresh grant).
type CodeRedemption struct {
	Code         token.Hash
	At           time.Time
	Grant        *session.Session
	RefreshToken *RefreshToken
}

// RefreshReuseGrace is how long after its rotation a refresh token
// presented again still gets its successor (several tabs refreshing at
// once); later it is reuse. 0 turns the grace off.
type RefreshReuseGrace time.Duration

// BearerSession is what one bearer request checks and shows: a session,
// its user, and whether that user has a confirmed second factor.
type BearerSession struct {
	Session *session.Session
	User    *user.User
	// MFAEnabled: the user has a confirmed TOTP factor (what
	// MFARepository.TOTP's Enabled reports).
	MFAEnabled bool
}

// SessionStart is what a sign-in stores (SessionRepository.Start).
type SessionStart struct {
	// User is the signed-in user, changed by the sign-in (its login time,
	// a new password hash).
	User    *user.User
	Session *session.Session
	// RefreshToken is the session's first refresh token (a client that
	// gets tokens); when nil, BrowserSecret is the hash of the secret of
	// the browser that holds the session (SetBrowserSecret).
	RefreshToken  *RefreshToken
	BrowserSecret token.Hash
	// Events are the sign-in's webhook events (CreatedSessionEvents),
	// recorded as EventLog.Publish records them.
	Events []webhook.Event
	// Event is the sign-in's audit event.
	Event audit.Event
}

// SessionRepository stores sessions and their refresh tokens.
type SessionRepository interface {
	Create(ctx context.Context, s *session.Session) error
	// ByID finds a session, or session.ErrNotFound. One primary-key lookup.
	ByID(ctx context.Context, id uuid.UUID) (*session.Session, error)
	// ForBearer finds a session with its user and the user's second-factor
	// state, in one statement (three primary-key lookups): the check of
	// every bearer request, so it reads the store as it is now, never a
	// cache. Unknown session: session.ErrNotFound.
	ForBearer(ctx context.Context, id uuid.UUID) (BearerSession, error)
	// ForBrowser is ForBearer for the session whose browser secret hashes
	// to hash (one lookup by a unique index). Unknown: session.ErrNotFound.
	ForBrowser(ctx context.Context, hash token.Hash) (BearerSession, error)
	// SetBrowserSecret records the hash of the secret of the browser that
	// holds session id (a sign-in on the hosted pages), or gives
	// session.ErrNotFound.
	SetBrowserSecret(ctx context.Context, id uuid.UUID, hash token.Hash) error
	// ByIDForChange is ByID inside a transaction that will change the
	// session; such transactions on one session run one after another.
	ByIDForChange(ctx context.Context, id uuid.UUID) (*session.Session, error)
	// ByIDWithUserHeld finds a session with its user, read together,
	// inside a transaction that relies on the session staying as read
	// until it ends (a code's redemption makes a grant of it): a change of
	// the session (ByIDForChange, Update) waits for that transaction, but
	// such reads of one session do not wait for each other. Unknown
	// session: session.ErrNotFound.
	ByIDWithUserHeld(ctx context.Context, id uuid.UUID) (*session.Session, *user.User, error)
	// Update saves last-used and revoked times, and how the session
	// authenticated (its amr and auth_time, which a code proved in it moves).
	Update(ctx context.Context, s *session.Session) error
	// ListActive returns the user's sessions that are neither revoked nor
	// past their absolute expiry at now, newest first.
	ListActive(ctx context.Context, userID uuid.UUID, now time.Time) ([]*session.Session, error)
	// RevokeAll revokes every live session of the user except keep (which
	// may be uuid.Nil) and returns how many it revoked.
	RevokeAll(ctx context.Context, userID, keep uuid.UUID, now time.Time) (int, error)
	// CountActive counts, per user, the sessions ListActive would return;
	// users without one are absent from the map.
	CountActive(ctx context.Context, userIDs []uuid.UUID, now time.Time) (map[uuid.UUID]int, error)
	// AddRefreshToken stores a new refresh token for a session.
	AddRefreshToken(ctx context.Context, rt RefreshToken) error
	// Start stores what a sign-in makes, together: the user as Update
	// saves it (a missing user gives user.ErrNotFound), the new session
	// as Create stores it with its first credential, its webhook events as
	// EventLog.Publish records them, and then the audit event,
	// appended as AuditLog.Append appends it (so, bound to a transaction,
	// Start comes last and holds the audit chain until the transaction
	// ends). Bound to the store it stands alone, all of it or none.
	Start(ctx context.Context, st SessionStart) error
	// RefreshTokenForChange finds a refresh token by hash inside a
	// transaction that may mark it used: of concurrent transactions
	// presenting one token, exactly one sees it unused and the others see
	// its used time. Unknown: session.ErrNotFound.
	RefreshTokenForChange(ctx context.Context, hash token.Hash) (RefreshToken, error)
	// RefreshToken finds a refresh token by hash to look at, not to mark
	// used: it holds nothing until any transaction ends and works outside
	// one. Unknown: session.ErrNotFound.
	RefreshToken(ctx context.Context, hash token.Hash) (RefreshToken, error)
	// MarkRefreshTokenUsed sets the used time of a refresh token and its
	// sealed successor (nil: none, which also erases one kept before).
	MarkRefreshTokenUsed(ctx context.Context, hash token.Hash, at time.Time, sealedSuccessor []byte) error
	// RevokeGrants revokes every live grant whose parent is the browser
	// session parent and returns how many it revoked.
	RevokeGrants(ctx context.Context, parent uuid.UUID, now time.Time) (int, error)
	// RevokeClientGrants revokes every live grant of client clientID and
	// returns how many it revoked.
	RevokeClientGrants(ctx context.Context, clientID string, now time.Time) (int, error)
	// RevokeUserClientGrants revokes every live grant of client clientID
	// held by user userID and returns how many it revoked.
	RevokeUserClientGrants(ctx context.Context, userID uuid.UUID, clientID string, now time.Time) (int, error)
}

// OutboxMessage is a claimed outbox row.
type OutboxMessage struct {
	OutboundMail
	Attempts  int // including the current one
	CreatedAt time.Time
}

// Outbox is the transactional mail queue.
type Outbox interface {
	// Enqueue stores m, created and due at now, in the caller's
	// transaction.
	Enqueue(ctx context.Context, m OutboundMail, now time.Time) error
	// Claim takes up to limit messages due at now, oldest first, bumps
	// their attempt count, moves their due time to now+lease and commits
	// that at once, so that no other claim (in this process or another)
	// takes them while they are sent. Two claims never return one message.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]OutboxMessage, error)
	// MarkSent records delivery and clears the payload (links carry tokens).
	MarkSent(ctx context.Context, id uuid.UUID, at time.Time) error
	// MarkFailed records the error and the next due time; with giveUp the
	// message is never tried again and its payload is cleared.
	MarkFailed(ctx context.Context, id uuid.UUID, lastErr string, next time.Time, giveUp bool) error
	// CountPending counts messages not yet sent nor given up (for tests and
	// readiness diagnostics).
	CountPending(ctx context.Context) (int, error)
	// Stats summarizes the pending messages cheaply, for metrics and the
	// operators' status: it reads the pending-mail index and looks at no
	// more than OutboxStatsCap messages.
	Stats(ctx context.Context) (OutboxStats, error)
}

// OutboxStatsCap bounds how many pending messages Outbox.Stats looks at.
const OutboxStatsCap = 100000

// OutboxStats summarizes the pending messages (neither sent nor given up,
// claimed ones included).
type OutboxStats struct {
	// Pending counts them, up to OutboxStatsCap (a backlog of more reads
	// as OutboxStatsCap).
	Pending int
	// OldestPending is the creation time of the oldest of them (of the
	// OutboxStatsCap due first, when there are more); zero when none is
	// pending.
	OldestPending time.Time
}

// EventLog records the events that webhook endpoints hear of.
type EventLog interface {
	// Publish records each event for delivery to every webhook endpoint
	// subscribed to its type at the time. Bound to a transaction, the
	// events commit with the change that caused them, or not at all.
	Publish(ctx context.Context, events ...webhook.Event) error
}

// WebhookRepository stores the webhook endpoints, their subscriptions
// and their sealed signing secrets.
type WebhookRepository interface {
	// Create stores e, subscribed to e.Events, with secrets s.
	Create(ctx context.Context, e webhook.Endpoint, s webhook.Secrets) error
	// List returns every endpoint, oldest first.
	List(ctx context.Context) ([]webhook.Endpoint, error)
	// SecretsForChange reads the secrets of endpoint id, or
	// webhook.ErrNotFound, in a transaction that will change them:
	// transactions that read one endpoint's secrets for change run one
	// after another.
	SecretsForChange(ctx context.Context, id uuid.UUID) (webhook.Secrets, error)
	// SetSecrets replaces the secrets of endpoint id, or gives
	// webhook.ErrNotFound.
	SetSecrets(ctx context.Context, id uuid.UUID, s webhook.Secrets) error
	// Delete removes endpoint id with its pending and past deliveries, or
	// gives webhook.ErrNotFound.
	Delete(ctx context.Context, id uuid.UUID) error
	// RecentFailures returns up to limit deliveries to endpoint id whose
	// last attempt failed (still retried, or given up), latest first.
	RecentFailures(ctx context.Context, id uuid.UUID, limit int) ([]webhook.Failure, error)
}

// AuditLog appends security events to the hash-chained audit trail.
type AuditLog interface {
	// Append adds e at the end of the chain (see audit.Chain): appends,
	// in one process or many, form one chain that never forks. Bound to a
	// transaction, the event commits with it.
	Append(ctx context.Context, e audit.Event) error
}

// AdminKey is an operator's credential for the admin API. Only the SHA-256
// of the key is stored.
type AdminKey struct {
	Name      string
	Hash      token.Hash
	CreatedAt time.Time
	RevokedAt *time.Time
}

// AdminKeyStore keeps admin keys. Names are unique among all keys ever
// made, revoked ones included, so the actor named in the audit trail is
// never ambiguous.
type AdminKeyStore interface {
	// Create stores k; a name already used gives ErrAdminKeyExists.
	Create(ctx context.Context, k AdminKey) error
	// List returns every key, revoked ones included, by name.
	List(ctx context.Context) ([]AdminKey, error)
	// ByHash finds a key by the hash of its secret, or gives
	// ErrAdminKeyNotFound.
	ByHash(ctx context.Context, hash token.Hash) (AdminKey, error)
	// Revoke sets the revoked time of the unrevoked key called name, or
	// gives ErrAdminKeyNotFound.
	Revoke(ctx context.Context, name string, at time.Time) error
}

var (
	// ErrAdminKeyExists: an admin key with that name was made before.
	ErrAdminKeyExists = &domain.Error{Kind: domain.KindConflict, Code: "admin_key_exists", Message: "An admin key with this name exists (names are never reused)."}
	// ErrAdminKeyNotFound: no (unrevoked) admin key matches.
	ErrAdminKeyNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "No such admin key."}
)

// ClientRepository stores the registered clients. Every read goes to the
// store: a deleted client or a rotated secret takes effect on the next
// request of every instance.
type ClientRepository interface {
	// Create stores c; an id another client has gives client.ErrExists.
	Create(ctx context.Context, c *client.Client) error
	// ByID finds a client, or gives client.ErrNotFound.
	ByID(ctx context.Context, id string) (*client.Client, error)
	// List returns every client, oldest first (creation time, then id).
	List(ctx context.Context) ([]*client.Client, error)
	// Update saves c's settings and UpdatedAt (not its secret: SetSecret
	// does, so that a change racing a rotation cannot bring an old secret
	// back), or gives client.ErrNotFound.
	Update(ctx context.Context, c *client.Client) error
	// SetSecret saves the hash of the client's new secret, or gives
	// client.ErrNotFound.
	SetSecret(ctx context.Context, id string, hash token.Hash, at time.Time) error
	// Delete removes the client, or gives client.ErrNotFound.
	Delete(ctx context.Context, id string) error
}

// GrantRepository stores what the authorization endpoint hands out:
// pending requests, codes (by the hash of their secret) and consents.
type GrantRepository interface {
	// CreateRequest stores a pending request.
	CreateRequest(ctx context.Context, r *grant.Request) error
	// Request finds a pending request, or gives grant.ErrNotFound.
	Request(ctx context.Context, id uuid.UUID) (*grant.Request, error)
	// DeleteRequest removes a pending request; an unknown one is no error.
	DeleteRequest(ctx context.Context, id uuid.UUID) error
	// CreateCode stores a new, unused code.
	CreateCode(ctx context.Context, c *grant.Code) error
	// CodeForChange finds a code by hash inside a transaction that may
	// mark it used: of concurrent transactions presenting one code,
	// exactly one sees it unused and the others see its used time and
	// grant. Unknown: grant.ErrNotFound.
	CodeForChange(ctx context.Context, hash token.Hash) (*grant.Code, error)
	// MarkCodeUsed records the redemption of a code: when, and the grant
	// (session) it made, uuid.Nil when it made none.
	MarkCodeUsed(ctx context.Context, hash token.Hash, at time.Time, grantID uuid.UUID) error
	// Redeem stores what a code's redemption makes, together: the grant
	// as SessionRepository.Create stores it, its first refresh token when
	// it has one (AddRefreshToken), and the code marked used by that grant
	// (MarkCodeUsed: an unknown code gives grant.ErrNotFound). Bound to a
	// transaction it runs in it; bound to the store, all of it or none.
	Redeem(ctx context.Context, rd CodeRedemption) error
	// Consent finds what userID allowed clientID, or gives grant.ErrNotFound.
	Consent(ctx context.Context, userID uuid.UUID, clientID string) (*grant.Consent, error)
	// ConsentForChange is Consent inside a transaction that makes a grant
	// on the strength of the consent: a DeleteConsent of it waits for that
	// transaction to end, so that a revocation that deletes the consent
	// and then revokes the user's grants of the client sees the grant it
	// made (or, deleted first, the consent is not found here).
	ConsentForChange(ctx context.Context, userID uuid.UUID, clientID string) (*grant.Consent, error)
	// Consents returns every consent userID gave, newest first (by the
	// time given, then client id).
	Consents(ctx context.Context, userID uuid.UUID) ([]*grant.Consent, error)
	// SaveConsent stores c, replacing the user's consent to that client.
	SaveConsent(ctx context.Context, c *grant.Consent) error
	// DeleteConsent removes the user's consent to a client and reports
	// whether there was one.
	DeleteConsent(ctx context.Context, userID uuid.UUID, clientID string) (bool, error)
	// Sweep deletes requests and codes that expired before before, and
	// returns how many it deleted. It deletes a bounded batch of each per
	// call; the next call goes on.
	Sweep(ctx context.Context, before time.Time) (int, error)
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
	// ResetPrefix forgets every key that starts with prefix.
	ResetPrefix(ctx context.Context, prefix string) error
	// DeleteExpired removes the counters whose window has ended and
	// returns how many it removed.
	DeleteExpired(ctx context.Context) (int, error)
}

// SigningKeyRing stores the signing keys and their lifecycle
// (signingkey.Key); private halves arrive and leave sealed.
type SigningKeyRing interface {
	// Keys returns every stored key, oldest first.
	Keys(ctx context.Context) (signingkey.Ring, error)
	// Add stores a new key: signingkey.ErrRotationPending when k is next
	// and a next key exists, ErrKeyRingChanged when k is current and a
	// current key exists.
	Add(ctx context.Context, k signingkey.Key) error
	// Save writes k's state and times if the stored key is still in state
	// from, and reports whether it was; of callers racing to move a key
	// out of a state, exactly one sees true.
	Save(ctx context.Context, k signingkey.Key, from signingkey.State) (bool, error)
	// DeleteGone deletes the retired keys no longer published at now.
	DeleteGone(ctx context.Context, now time.Time) (int, error)
	// TakeUnsealed removes and returns the plain seed kept by versions
	// before the ring, or nil when there is none.
	TakeUnsealed(ctx context.Context) ([]byte, error)
}

// ErrKeyRingChanged: another instance changed the ring first (for
// example, made the first key); reading it again shows what it did.
var ErrKeyRingChanged = errors.New("the signing keys were changed by another instance")

// MFARepository stores the second factor: each user's TOTP factor (its
// secret sealed), their recovery codes (by hash) and the login tokens
// between a correct password and the code (by hash). The rules are the
// use cases' (see domain/mfa); the store does the conditional writes that
// keep them under races, each one statement, so that of callers racing
// on one step, code or token exactly one sees true.
type MFARepository interface {
	// PutPendingTOTP stores f (not confirmed) as the user's factor,
	// replacing a pending one; a confirmed one gives mfa.ErrAlreadyEnabled
	// and stays.
	PutPendingTOTP(ctx context.Context, f *mfa.TOTP) error
	// TOTP returns the user's factor, pending or confirmed, or
	// mfa.ErrNotFound.
	TOTP(ctx context.Context, userID uuid.UUID) (*mfa.TOTP, error)
	// ConfirmTOTP confirms the user's pending factor at at, recording step
	// as its highest used step, if it is still pending and its sealed
	// secret is still sealed (the one the code was checked against); it
	// reports whether it did.
	ConfirmTOTP(ctx context.Context, userID uuid.UUID, sealed []byte, at time.Time, step int64) (bool, error)
	// UseTOTPStep records step as the highest used step of the user's
	// confirmed factor if no step at or above it was recorded, and reports
	// whether it did: false is a replay, or a race lost.
	UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64) (bool, error)
	// DeleteTOTP removes the user's factor and recovery codes, and reports
	// whether a confirmed factor was removed.
	DeleteTOTP(ctx context.Context, userID uuid.UUID) (bool, error)
	// EnabledAmong returns which of the users have a confirmed factor;
	// users without one are absent.
	EnabledAmong(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID]bool, error)

	// ReplaceRecoveryCodes deletes the user's recovery codes and stores
	// hashes as a new unused set made at at.
	ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes []token.Hash, at time.Time) error
	// UseRecoveryCode marks the user's unused code with hash used at at,
	// and reports whether it did: false for an unknown, used or another
	// user's code.
	UseRecoveryCode(ctx context.Context, userID uuid.UUID, hash token.Hash, at time.Time) (bool, error)
	// UnusedRecoveryCodes counts the user's unused recovery codes.
	UnusedRecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error)

	// AddLoginToken stores t as it is.
	AddLoginToken(ctx context.Context, t *mfa.LoginToken) error
	// LoginToken finds a login token by hash, or gives
	// mfa.ErrLoginTokenInvalid.
	LoginToken(ctx context.Context, hash token.Hash) (*mfa.LoginToken, error)
	// FailLoginToken counts one wrong code against the unused token with
	// hash if it has fewer than limit, and reports whether it did.
	FailLoginToken(ctx context.Context, hash token.Hash, limit int) (bool, error)
	// UseLoginToken marks the token with hash used at at if it is unused,
	// has fewer than limit wrong codes and expires after at, and reports
	// whether it did.
	UseLoginToken(ctx context.Context, hash token.Hash, at time.Time, limit int) (bool, error)
}

// PasskeyRepository stores the users' passkeys (WebAuthn credentials) and
// the challenges of the ceremonies between their begin and finish.
type PasskeyRepository interface {
	// Add stores c; a credential id stored already (for any user) gives
	// passkey.ErrExists: the unique index decides races.
	Add(ctx context.Context, c *passkey.Credential) error
	// ByID finds the user's passkey id, or gives passkey.ErrNotFound
	// (another user's passkey too).
	ByID(ctx context.Context, userID, id uuid.UUID) (*passkey.Credential, error)
	// ByCredentialID finds a passkey by the authenticator's credential id,
	// or gives passkey.ErrNotFound.
	ByCredentialID(ctx context.Context, credentialID []byte) (*passkey.Credential, error)
	// List returns the user's passkeys, oldest first (creation time, then
	// id).
	List(ctx context.Context, userID uuid.UUID) ([]*passkey.Credential, error)
	// Update saves c's name, signature counter, backup state and last use,
	// or gives passkey.ErrNotFound.
	Update(ctx context.Context, c *passkey.Credential) error
	// Delete removes the user's passkey id, or gives passkey.ErrNotFound.
	Delete(ctx context.Context, userID, id uuid.UUID) error

	// AddChallenge stores c as it is.
	AddChallenge(ctx context.Context, c *passkey.Challenge) error
	// TakeChallenge removes the challenge id and returns it: of callers
	// racing to take one challenge exactly one gets it, and the others
	// (and any later caller) passkey.ErrChallengeInvalid. Expired ones are
	// taken too; whether one may still be answered is the caller's
	// decision (passkey.Challenge.Answerable).
	TakeChallenge(ctx context.Context, id uuid.UUID) (*passkey.Challenge, error)
}

// UpstreamRepository stores the users' identities at upstream providers
// (an identity, provider and subject, belongs to one user: the unique
// index decides races) and the round trips to the providers between
// their start and their callback.
type UpstreamRepository interface {
	// AddFlow stores f as it is.
	AddFlow(ctx context.Context, f *upstream.Flow) error
	// TakeFlow removes the flow whose state hashes to stateHash and
	// returns it: of callers racing to take one flow exactly one gets it,
	// the others (and any later caller) upstream.ErrFlowInvalid. Expired
	// ones are taken too; whether one may still be answered is the
	// caller's decision (upstream.Flow.Answerable).
	TakeFlow(ctx context.Context, stateHash token.Hash) (*upstream.Flow, error)
	// Identity finds the identity (provider, subject), or gives
	// upstream.ErrNotFound.
	Identity(ctx context.Context, provider, subject string) (*upstream.Identity, error)
	// AddIdentity stores i; an identity (provider, subject) stored already
	// gives upstream.ErrIdentityTaken.
	AddIdentity(ctx context.Context, i *upstream.Identity) error
	// Identities returns the user's identities, oldest first (creation
	// time, then id).
	Identities(ctx context.Context, userID uuid.UUID) ([]*upstream.Identity, error)
	// UpdateIdentity saves i's email and last use, or gives
	// upstream.ErrNotFound.
	UpdateIdentity(ctx context.Context, i *upstream.Identity) error
	// DeleteIdentity removes the user's identity id, or gives
	// upstream.ErrNotFound (another user's identity too).
	DeleteIdentity(ctx context.Context, userID, id uuid.UUID) error
}
