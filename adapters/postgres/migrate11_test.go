package postgres_test

import (
	"testing"

	"github.com/google/uuid"
)

// Migration 11 allows invitation tokens and marks the pending
// registrations. Up marks exactly the accounts only a registration can
// have made; down from 11 gives exactly the schema of every migration
// before it (whatever they are), turns invitations back into the reset
// tokens they were and keeps every row; up again works.
func TestMigration11RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 11, 10)
	pending, invited, verified, usedLink, loggedIn := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	for _, id := range []uuid.UUID{pending, invited, verified, usedLink, loggedIn} {
		m.exec(`INSERT INTO users (id, email, hashed_password, is_verified, last_login_at)
			VALUES ($1, $2, 'h', $3, CASE WHEN $4 THEN now() END)`, id, uuid.NewString()+"@example.com", id == verified, id == loggedIn)
	}
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash) VALUES
		(sha256(gen_random_uuid()::text::bytea), $1, 'verify_email', now(), now(), NULL, '$argon2id$reg'),
		(sha256(gen_random_uuid()::text::bytea), $1, 'verify_email', now(), now(), NULL, NULL),
		(sha256(gen_random_uuid()::text::bytea), $2, 'reset_password', now(), now(), NULL, NULL),
		(sha256(gen_random_uuid()::text::bytea), $2, 'verify_email', now(), now(), NULL, '$argon2id$reg'),
		(sha256(gen_random_uuid()::text::bytea), $3, 'verify_email', now(), now(), now(), '$argon2id$reg'),
		(sha256(gen_random_uuid()::text::bytea), $4, 'verify_email', now(), now(), now(), '$argon2id$reg'),
		(sha256(gen_random_uuid()::text::bytea), $5, 'verify_email', now(), now(), NULL, '$argon2id$reg')`, pending, invited, verified, usedLink, loggedIn)

	m.up()
	if n := m.count(`SELECT count(*) FROM users WHERE registration_pending`); n != 1 {
		t.Fatalf("after up: %d pending registrations, want 1", n)
	}
	if n := m.count(`SELECT count(*) FROM users WHERE registration_pending AND id = $1`, pending); n != 1 {
		t.Fatal("after up: the registration nobody verified is not pending")
	}
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (sha256('invite'), $1, 'invite', now(), now())`, invited)
	m.refused("version 11 accepted an unknown purpose",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (sha256('other'), $1, 'other', now(), now())`, invited)

	m.down()
	if n := m.count(`SELECT count(*) FROM one_time_tokens`); n != 8 {
		t.Fatalf("after down: %d tokens, want all 8", n)
	}
	if n := m.count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND purpose = 'reset_password'`, invited); n != 2 {
		t.Fatalf("after down: the invitation is not a reset token (%d resets)", n)
	}
	m.up()
}
