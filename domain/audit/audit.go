// Package audit describes security events and the hash chain that makes
// the append-only audit trail tamper-evident.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

// Type names a security event. The values are stored: never rename one.
type Type string

const (
	Registered           Type = "registered"
	EmailVerified        Type = "email_verified"
	LoginSucceeded       Type = "login_succeeded"
	LoginFailed          Type = "login_failed"
	LoginThrottled       Type = "login_throttled"
	AccountLocked        Type = "account_locked"
	RefreshReuseDetected Type = "refresh_reuse_detected"
	Logout               Type = "logout"
	SessionRevoked       Type = "session_revoked"
	PasswordResetRequest Type = "password_reset_requested"
	PasswordReset        Type = "password_reset"
	PasswordChanged      Type = "password_changed"
	AccountDeleted       Type = "account_deleted"
	EmailChangeRequested Type = "email_change_requested"
	EmailChanged         Type = "email_changed"

	// Operators' changes; Detail["actor"] names the admin key (or "cli").
	AdminUserCreated     Type = "admin_user_created"
	AdminUserUpdated     Type = "admin_user_updated"
	AdminUserDeleted     Type = "admin_user_deleted"
	AdminSessionsRevoked Type = "admin_sessions_revoked"
	AdminUserUnlocked    Type = "admin_user_unlocked"
	// AdminUsersImported is one batch of an import (users with their
	// password hashes): Detail counts the users created, skipped (the
	// address was taken) and failed, and names the batch's lines.
	AdminUsersImported Type = "admin_users_imported"
	// AdminUsersExported: the users and their password hashes were read
	// out; Detail["users"] counts them.
	AdminUsersExported Type = "admin_users_exported"
	AdminKeyCreated    Type = "admin_key_created"
	AdminKeyRevoked    Type = "admin_key_revoked"
	// Clients (applications that sign users in); Detail["client_id"]
	// names the client, Detail["actor"] who acted.
	ClientCreated       Type = "client_created"
	ClientChanged       Type = "client_changed"
	ClientDeleted       Type = "client_deleted"
	ClientSecretRotated Type = "client_secret_rotated"
	// Webhook endpoints; Detail["webhook_id"] names the endpoint,
	// Detail["actor"] who acted.
	WebhookCreated       Type = "webhook_created"
	WebhookDeleted       Type = "webhook_deleted"
	WebhookSecretRotated Type = "webhook_secret_rotated"
	// Grants (the authorization endpoint); Detail["client_id"] names the
	// client.
	AuthorizationGranted Type = "authorization_granted"
	ConsentGiven         Type = "consent_given"
	ConsentRevoked       Type = "consent_revoked"
	CodeReplayDetected   Type = "code_replay_detected"
	EndSession           Type = "end_session"
	ClientAuthFailed     Type = "client_auth_failed"
	// Signing keys; Detail["kid"] names the key, Detail["actor"] who acted
	// (promotions are the service's own: actor "gatehouse").
	KeyRotated  Type = "key_rotated"
	KeyPromoted Type = "key_promoted"
	KeyRetired  Type = "key_retired"

	// The second factor (TOTP and its recovery codes).
	MFAEnabled                  Type = "mfa_enabled"
	MFADisabled                 Type = "mfa_disabled"
	MFACodeFailed               Type = "mfa_code_failed"
	MFARecoveryCodeUsed         Type = "mfa_recovery_code_used"
	MFARecoveryCodesRegenerated Type = "mfa_recovery_codes_regenerated"
	// MFALocked: consecutive wrong codes locked the account's TOTP codes
	// (a right recovery code or an operator's unlock lifts it).
	MFALocked Type = "mfa_locked"

	// Passkeys; Detail["passkey_id"] names the passkey.
	PasskeyAdded   Type = "passkey_added"
	PasskeyDeleted Type = "passkey_deleted"
	// PasskeyCloneDetected: a passkey's signature counter went backwards;
	// the sign-in was refused.
	PasskeyCloneDetected Type = "passkey_clone_detected"

	// Upstream identities; Detail["provider"] names the provider and
	// Detail["identity_id"] the identity. A sign-in with one is
	// LoginSucceeded with Detail["provider"].
	UpstreamIdentityLinked   Type = "upstream_identity_linked"
	UpstreamIdentityUnlinked Type = "upstream_identity_unlinked"
)

// types is every Type above.
var types = map[Type]bool{
	Registered: true, EmailVerified: true, LoginSucceeded: true, LoginFailed: true, LoginThrottled: true,
	AccountLocked: true, RefreshReuseDetected: true, Logout: true, SessionRevoked: true,
	PasswordResetRequest: true, PasswordReset: true, PasswordChanged: true, AccountDeleted: true,
	EmailChangeRequested: true, EmailChanged: true, AdminUserCreated: true, AdminUserUpdated: true,
	AdminUserDeleted: true, AdminSessionsRevoked: true, AdminUserUnlocked: true, AdminUsersImported: true, AdminUsersExported: true, AdminKeyCreated: true,
	AdminKeyRevoked: true, ClientCreated: true, ClientChanged: true, ClientDeleted: true, ClientSecretRotated: true,
	WebhookCreated: true, WebhookDeleted: true, WebhookSecretRotated: true,
	AuthorizationGranted: true, ConsentGiven: true, ConsentRevoked: true, CodeReplayDetected: true, EndSession: true, ClientAuthFailed: true,
	KeyRotated: true, KeyPromoted: true, KeyRetired: true,
	MFAEnabled: true, MFADisabled: true, MFACodeFailed: true, MFARecoveryCodeUsed: true, MFARecoveryCodesRegenerated: true,
	MFALocked: true, PasskeyAdded: true, PasskeyDeleted: true, PasskeyCloneDetected: true,
	UpstreamIdentityLinked: true, UpstreamIdentityUnlinked: true,
}

// Known reports whether t is a type Gatehouse records.
func Known(t Type) bool { return types[t] }

// Event is one row of the audit trail. UserID is uuid.Nil when no account
// is known (a failed login for an unknown address).
type Event struct {
	Type      Type
	UserID    uuid.UUID
	IP        string
	UserAgent string
	At        time.Time
	Detail    map[string]string
}

// Chain returns SHA-256(prev || seq || content of e): each row's hash covers
// the previous row's, so editing or deleting any row breaks every later
// link. Time is taken at microsecond precision in UTC (what PostgreSQL
// keeps) and detail keys are sorted, so the value survives a round trip
// through storage.
func Chain(prev []byte, seq int64, e Event) []byte {
	h := sha256.New()
	domain.HashFields(h, prev)
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], uint64(seq))
	h.Write(s[:])
	domain.HashFields(h, []byte(e.Type), e.UserID[:], []byte(e.IP), []byte(e.UserAgent),
		[]byte(e.At.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)))
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		domain.HashFields(h, []byte(k), []byte(e.Detail[k]))
	}
	return h.Sum(nil)
}
