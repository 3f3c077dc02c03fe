package sqlite_test

import (
	"testing"

	"github.com/google/uuid"
)

// Down from 8 gives exactly the schema of versions 1-7 applied on their
// own (columns, checks, foreign keys, indexes), drops the second factors
// (MFA is off after going down) and keeps the sessions; up again works.
func TestMigration8RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 8, 8)
	userID, sessionID := uuid.NewString(), uuid.NewString()
	m.exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm8@example.com', 'h', 1, 1)`, userID)
	m.exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $2, 1, 1, 2, 1)`, sessionID, userID)
	m.exec(`INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_used_step) VALUES ($1, randomblob(64), 1, 2, 42)`, userID)
	m.exec(`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, randomblob(32), 1)`, userID)
	m.exec(`INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at) VALUES (randomblob(32), $1, randomblob(32), 1, 2)`, userID)
	m.refused("a factor of no user was accepted: the foreign key is missing",
		`INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, randomblob(64), 1)`, uuid.NewString())
	m.refused("a recovery code hash of 31 bytes was accepted",
		`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, randomblob(31), 1)`, userID)

	m.down()
	if n := m.count(`SELECT count(*) FROM sessions WHERE id = $1`, sessionID); n != 1 {
		t.Fatalf("after down: %d sessions, want the 1 stored", n)
	}
	if n := m.count(`SELECT count(*) FROM pragma_foreign_key_check`); n != 0 {
		t.Fatalf("foreign_key_check: %d rows", n)
	}
	m.up()
	if n := m.count(`SELECT count(*) FROM sessions WHERE id = $1 AND mfa = 0`, sessionID); n != 1 {
		t.Fatal("after up again: mfa is not 0")
	}
}
