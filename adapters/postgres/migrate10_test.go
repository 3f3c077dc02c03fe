package postgres_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/google/uuid"
)

// Down from 10 gives exactly the schema before it, keeps the refresh
// tokens (their sealed successors go: a repeat is then reuse, as before
// the grace); up again works, with no successor kept.
func TestMigration10RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	ref := schemaBefore(t, "00010")

	// The session is stored at version 2, where sessions began, so that
	// later migrations fill in their own columns of it.
	url, db, exec := migratedTo(t, 2)
	userID, sessionID := uuid.New(), uuid.New()
	exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm10@example.com', 'h')`, userID)
	exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, now(), now(), now() + interval '1 day')`, sessionID, userID)
	if err := postgres.MigrateUpTo(ctx, url, 10); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (sha256('r'), $1, now(), now(), decode(repeat('ab', 84), 'hex'))`, sessionID)
	if _, err := db.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (sha256('p'), $1, now(), now(), decode(repeat('ab', 43), 'hex'))`, sessionID); err == nil {
		t.Fatal("a successor of the size of a plain token was accepted")
	}

	downMatches(t, url, db, ref)
	var tokens int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL`, sessionID).Scan(&tokens); err != nil || tokens != 1 {
		t.Fatalf("after down: %d refresh tokens, %v; want the 1 stored", tokens, err)
	}
	if err := postgres.MigrateUpTo(ctx, url, 10); err != nil {
		t.Fatal(err)
	}
	var kept int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM refresh_tokens WHERE successor_sealed IS NOT NULL`).Scan(&kept); err != nil || kept != 0 {
		t.Fatalf("after up again: %d successors, %v; want none", kept, err)
	}
}
