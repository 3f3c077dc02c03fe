package postgres_test

import (
	"testing"

	"github.com/google/uuid"
)

// Down from 8 gives exactly the schema of versions 1-7 applied on their
// own, drops the second factors (MFA is off after going down) and keeps
// the sessions; up again works.
func TestMigration8RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 8, 8)
	userID, sessionID := uuid.New(), uuid.New()
	m.exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm8@example.com', 'h')`, userID)
	m.exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $2, now(), now(), now() + interval '1 day', true)`, sessionID, userID)
	m.exec(`INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_used_step) VALUES ($1, decode(repeat('ab', 64), 'hex'), now(), now(), 42)`, userID)
	m.exec(`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, sha256('r'), now())`, userID)
	m.exec(`INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at) VALUES (sha256('t'), $1, sha256('b'), now(), now())`, userID)
	m.refused("a factor of no user (and a secret too short to be sealed) was accepted",
		`INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, 'short', now())`, uuid.New())

	m.down()
	if n := m.count(`SELECT count(*) FROM sessions WHERE id = $1`, sessionID); n != 1 {
		t.Fatalf("after down: %d sessions, want the 1 stored", n)
	}
	m.up()
	if n := m.count(`SELECT count(*) FROM sessions WHERE id = $1 AND NOT mfa`, sessionID); n != 1 {
		t.Fatal("after up again: mfa is not false")
	}
}
