package postgres_test

import (
	"testing"

	"github.com/google/uuid"
)

// Down from 10 gives exactly the schema before it, keeps the refresh
// tokens (their sealed successors go: a repeat is then reuse, as before
// the grace); up again works, with no successor kept.
func TestMigration10RoundTrip(t *testing.T) {
	t.Parallel()
	// The session is stored at version 2, where sessions began, so that
	// later migrations fill in their own columns of it.
	m := migratedTo(t, 10, 2)
	userID, sessionID := uuid.New(), uuid.New()
	m.exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm10@example.com', 'h')`, userID)
	m.exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, now(), now(), now() + interval '1 day')`, sessionID, userID)
	m.up()
	m.exec(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (sha256('r'), $1, now(), now(), decode(repeat('ab', 84), 'hex'))`, sessionID)
	m.refused("a successor of the size of a plain token was accepted",
		`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (sha256('p'), $1, now(), now(), decode(repeat('ab', 43), 'hex'))`, sessionID)

	m.down()
	if n := m.count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL`, sessionID); n != 1 {
		t.Fatalf("after down: %d refresh tokens; want the 1 stored", n)
	}
	m.up()
	if n := m.count(`SELECT count(*) FROM refresh_tokens WHERE successor_sealed IS NOT NULL`); n != 0 {
		t.Fatalf("after up again: %d successors; want none", n)
	}
}
