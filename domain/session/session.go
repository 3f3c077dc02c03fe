// Package session holds a login session: what a refresh token keeps alive.
package session

import (
	"errors"
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
	// secondFactor: the login that started the session proved a second
	// factor after the password.
	secondFactor bool
}

// Authentication methods (RFC 8176 amr values) a session's login used.
const (
	MethodPassword = "pwd"
	MethodOTP      = "otp"
)

// New starts a session that dies at now+ttl at the latest.
func New(id, userID uuid.UUID, now time.Time, ttl time.Duration, userAgent, ip string) (*Session, error) {
	if id == uuid.Nil || userID == uuid.Nil {
		return nil, errors.New("session: nil id")
	}
	if ttl <= 0 {
		return nil, errors.New("session: ttl must be positive")
	}
	return &Session{id: id, userID: userID, createdAt: now, lastUsedAt: now, expiresAt: now.Add(ttl), userAgent: userAgent, ip: ip}, nil
}

// Rehydrate rebuilds a stored session. Storage adapters only.
func Rehydrate(id, userID uuid.UUID, createdAt, lastUsedAt, expiresAt time.Time, revokedAt *time.Time, userAgent, ip string) *Session {
	return &Session{id: id, userID: userID, createdAt: createdAt, lastUsedAt: lastUsedAt, expiresAt: expiresAt, revokedAt: revokedAt, userAgent: userAgent, ip: ip}
}

func (s *Session) ID() uuid.UUID         { return s.id }
func (s *Session) UserID() uuid.UUID     { return s.userID }
func (s *Session) CreatedAt() time.Time  { return s.createdAt }
func (s *Session) LastUsedAt() time.Time { return s.lastUsedAt }
func (s *Session) ExpiresAt() time.Time  { return s.expiresAt }
func (s *Session) RevokedAt() *time.Time { return s.revokedAt }
func (s *Session) UserAgent() string     { return s.userAgent }
func (s *Session) IP() string            { return s.ip }

// ProvedSecondFactor records that the login starting the session proved
// a second factor; storage adapters call it when rehydrating such a
// session.
func (s *Session) ProvedSecondFactor() { s.secondFactor = true }

// SecondFactor reports whether the session's login proved a second factor.
func (s *Session) SecondFactor() bool { return s.secondFactor }

// AMR is how the session's login authenticated (the access token's amr
// claim): ["pwd"], or ["pwd", "otp"] after a second factor.
func (s *Session) AMR() []string {
	if s.secondFactor {
		return []string{MethodPassword, MethodOTP}
	}
	return []string{MethodPassword}
}

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
