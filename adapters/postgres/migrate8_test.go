package postgres_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/google/uuid"
)

// Down from 8 gives exactly the schema of versions 1-7 applied on their
// own, drops the second factors (MFA is off after going down) and keeps
// the sessions; up again works.
func TestMigration8RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	ref := schemaBefore(t, "00008")

	url, db, exec := migratedTo(t, 8)
	userID, sessionID := uuid.New(), uuid.New()
	exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm8@example.com', 'h')`, userID)
	exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $2, now(), now(), now() + interval '1 day', true)`, sessionID, userID)
	exec(`INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_used_step) VALUES ($1, decode(repeat('ab', 64), 'hex'), now(), now(), 42)`, userID)
	exec(`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, sha256('r'), now())`, userID)
	exec(`INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at) VALUES (sha256('t'), $1, sha256('b'), now(), now())`, userID)
	if _, err := db.Exec(ctx, `INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, 'short', now())`, uuid.New()); err == nil {
		t.Fatal("a factor of no user (and a secret too short to be sealed) was accepted")
	}

	downMatches(t, url, db, ref)
	var sessions int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE id = $1`, sessionID).Scan(&sessions); err != nil {
		t.Fatal(err)
	}
	if sessions != 1 {
		t.Fatalf("after down: %d sessions, want the 1 stored", sessions)
	}
	if err := postgres.MigrateUpTo(ctx, url, 8); err != nil {
		t.Fatal(err)
	}
	var mfa bool
	if err := db.QueryRow(ctx, `SELECT mfa FROM sessions WHERE id = $1`, sessionID).Scan(&mfa); err != nil || mfa {
		t.Fatalf("after up again: mfa = %v, %v; want false", mfa, err)
	}
}
