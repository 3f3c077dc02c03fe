// Package session holds a login session: what a refresh token keeps alive.
package session

import (
	"errors"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

// ErrNotFound is returned by repositories when no session (or refresh
// token) matches.
var ErrNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "The session was not found."}

// Session is one login of one user on one client.
type Session struct {
	id         uuid.UUID
	userID     uuid.UUID
	createdAt  time.Time
	lastUsedAt time.Time
	expiresAt  time.Time
	revokedAt  *time.Time
	userAgent  string
	ip         string
	// amr are the authentication methods (RFC 8176) the session has
	// proved, in the order proved; authTime is when the last of them was
	// proved (OpenID Connect auth_time).
	amr      []string
	authTime time.Time
	// A grant (a client's tokens from the authorization endpoint) is a
	// session of its own: clientID is the client, scopes what it was
	// granted, parentID the browser session whose sign-in it came from
	// (the id_token's sid), which it does not outlive. All empty for a
	// session of the JSON API or of a browser.
	clientID string
	scopes   []string
	parentID uuid.UUID
}

// Authentication methods (RFC 8176 amr values) a session's login used.
const (
	MethodPassword = "pwd"
	MethodOTP      = "otp"
	// MethodHardwareKey is a passkey (proof of possession of a key).
	MethodHardwareKey = "hwk"
	// MethodUser is user verification (PIN or biometrics) on a passkey.
	MethodUser = "user"
)

// New starts a session that dies at now+ttl at the latest.
func New(id, userID uuid.UUID, now time.Time, ttl time.Duration, userAgent, ip string) (*Session, error) {
	if id == uuid.Nil || userID == uuid.Nil {
		return nil, errors.New("session: nil id")
	}
	if ttl <= 0 {
		return nil, errors.New("session: ttl must be positive")
	}
	return &Session{id: id, userID: userID, createdAt: now, lastUsedAt: now, expiresAt: now.Add(ttl), userAgent: userAgent, ip: ip,
		amr: []string{MethodPassword}, authTime: now}, nil
}

// NewSignedInBy is New for a sign-in that proved amr instead of a
// password (a passkey: ["hwk"], or ["hwk", "user"] when the authenticator
// verified its user).
func NewSignedInBy(id, userID uuid.UUID, now time.Time, ttl time.Duration, userAgent, ip string, amr []string) (*Session, error) {
	if len(amr) == 0 {
		return nil, errors.New("session: no authentication method")
	}
	s, err := New(id, userID, now, ttl, userAgent, ip)
	if err != nil {
		return nil, err
	}
	s.amr = slices.Clone(amr)
	return s, nil
}

// Rehydrate rebuilds a stored session, authenticated by password at its
// creation; RehydrateAuthentication sets what was stored. Storage
// adapters only.
func Rehydrate(id, userID uuid.UUID, createdAt, lastUsedAt, expiresAt time.Time, revokedAt *time.Time, userAgent, ip string) *Session {
	return &Session{id: id, userID: userID, createdAt: createdAt, lastUsedAt: lastUsedAt, expiresAt: expiresAt, revokedAt: revokedAt, userAgent: userAgent, ip: ip,
		amr: []string{MethodPassword}, authTime: createdAt}
}

// RehydrateAuthentication sets the stored methods and time of the
// session's authentication. Storage adapters only; empty methods keep
// ["pwd"].
func (s *Session) RehydrateAuthentication(amr []string, authTime time.Time) {
	if len(amr) > 0 {
		s.amr = slices.Clone(amr)
	}
	s.authTime = authTime
}

// GrantedTo makes s the grant of client clientID for scopes, from the
// sign-in of the browser session parent, authenticated as that sign-in
// was (its amr and auth_time).
func (s *Session) GrantedTo(clientID string, scopes []string, parent uuid.UUID, amr []string, authTime time.Time) {
	s.clientID, s.scopes, s.parentID = clientID, slices.Clone(scopes), parent
	s.RehydrateAuthentication(amr, authTime)
}

// RehydrateGrant sets what a stored grant was given (GrantedTo). Storage
// adapters only.
func (s *Session) RehydrateGrant(clientID string, scopes []string, parent uuid.UUID) {
	s.clientID, s.scopes, s.parentID = clientID, slices.Clone(scopes), parent
}

// ClientID is the client a grant belongs to; "" for any other session.
func (s *Session) ClientID() string { return s.clientID }

// Scopes are the scopes of a grant.
func (s *Session) Scopes() []string { return slices.Clone(s.scopes) }

// ParentID is the browser session a grant came from, or uuid.Nil.
func (s *Session) ParentID() uuid.UUID { return s.parentID }

func (s *Session) ID() uuid.UUID         { return s.id }
func (s *Session) UserID() uuid.UUID     { return s.userID }
func (s *Session) CreatedAt() time.Time  { return s.createdAt }
func (s *Session) LastUsedAt() time.Time { return s.lastUsedAt }
func (s *Session) ExpiresAt() time.Time  { return s.expiresAt }
func (s *Session) RevokedAt() *time.Time { return s.revokedAt }
func (s *Session) UserAgent() string     { return s.userAgent }
func (s *Session) IP() string            { return s.ip }

// Proved records that the session's holder proved method at now (a
// second factor after the password at login, or a code while signed in):
// method joins the session's methods and now becomes its auth_time.
func (s *Session) Proved(method string, now time.Time) {
	if !slices.Contains(s.amr, method) {
		s.amr = append(slices.Clone(s.amr), method)
	}
	s.authTime = now
}

// SecondFactor reports whether the session's methods hold a second
// factor: a one-time code, or a passkey whose authenticator verified its
// user (hwk with user). A passkey alone is one factor, as a password is.
func (s *Session) SecondFactor() bool {
	return slices.Contains(s.amr, MethodOTP) ||
		slices.Contains(s.amr, MethodHardwareKey) && slices.Contains(s.amr, MethodUser)
}

// SteppedUp reports whether the session may make a sensitive change of an
// account with MFA on without a code in the request: its methods hold a
// second factor and it authenticated no more than maxAge before now.
func (s *Session) SteppedUp(now time.Time, maxAge time.Duration) bool {
	return s.SecondFactor() && !now.After(s.authTime.Add(maxAge))
}

// AMR is how the session authenticated (the access token's amr claim):
// ["pwd"], or ["pwd", "otp"] after a second factor.
func (s *Session) AMR() []string { return slices.Clone(s.amr) }

// AuthTime is when the session's holder last authenticated (the access
// token's auth_time claim): the login, or the latest code proved in it.
func (s *Session) AuthTime() time.Time { return s.authTime }

// Live reports whether the session may still be used at now: not revoked,
// not past its absolute lifetime, and used within idle.
func (s *Session) Live(now time.Time, idle time.Duration) bool {
	return s.revokedAt == nil && now.Before(s.expiresAt) && now.Before(s.lastUsedAt.Add(idle))
}

// Touch records a use (a refresh).
func (s *Session) Touch(now time.Time) { s.lastUsedAt = now }

// Revoke ends the session. Revoking twice keeps the first time.
func (s *Session) Revoke(now time.Time) {
	if s.revokedAt == nil {
		s.revokedAt = &now
	}
}
