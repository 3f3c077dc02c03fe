package sqlite_test

import (
	"testing"

	"github.com/google/uuid"
)

// Down from 10 gives exactly the schema before it (columns, checks,
// indexes), keeps the refresh tokens (their sealed successors go: a repeat
// is then reuse, as before the grace); up again works, with no successor
// kept.
func TestMigration10RoundTrip(t *testing.T) {
	t.Parallel()
	// The session is stored at version 2, where sessions began, so that
	// later migrations fill in their own columns of it.
	m := migratedTo(t, 10, 2)
	userID, sessionID := uuid.NewString(), uuid.NewString()
	m.exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm10@example.com', 'h', 1, 1)`, userID)
	m.exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, 1, 1, 2)`, sessionID, userID)
	m.up()
	m.exec(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (randomblob(32), $1, 1, 2, randomblob(84))`, sessionID)
	m.refused("a successor of the size of a plain token was accepted",
		`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (randomblob(32), $1, 1, 2, randomblob(43))`, sessionID)

	m.down()
	if n := m.count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL`, sessionID); n != 1 {
		t.Fatalf("after down: %d refresh tokens, want the 1 stored", n)
	}
	m.up()
	if n := m.count(`SELECT count(*) FROM refresh_tokens WHERE successor_sealed IS NOT NULL`); n != 0 {
		t.Fatalf("after up again: %d successors, want none", n)
	}
}
