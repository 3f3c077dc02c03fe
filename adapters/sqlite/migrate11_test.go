package sqlite_test

import (
	"testing"

	"github.com/google/uuid"
)

// Migration 11 rebuilds one_time_tokens to allow invitations and marks
// the pending registrations. Up keeps every token and marks exactly the
// accounts only a registration can have made; down from 11 gives exactly
// the schema of every migration before it (whatever they are), turns
// invitations back into the reset tokens they were, and keeps every row;
// up again works.
func TestMigration11RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 11, 10)
	pending, invited, verified, usedLink, loggedIn, noLink := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, id := range []string{pending, invited, verified, usedLink, loggedIn, noLink} {
		var lastLogin any
		if id == loggedIn {
			lastLogin = 5
		}
		m.exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at, is_verified, last_login_at)
			VALUES ($1, $2, 'h', 1, 1, $3, $4)`, id, uuid.NewString()+"@example.com", id == verified, lastLogin)
	}
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash) VALUES
		(randomblob(32), $1, 'verify_email', 1, 2, NULL, '$argon2id$reg'),
		(randomblob(32), $1, 'verify_email', 1, 2, NULL, NULL),
		(randomblob(32), $2, 'reset_password', 1, 2, NULL, NULL),
		(randomblob(32), $2, 'verify_email', 1, 2, NULL, '$argon2id$reg'),
		(randomblob(32), $3, 'verify_email', 1, 2, 2, '$argon2id$reg'),
		(randomblob(32), $4, 'verify_email', 1, 2, 2, '$argon2id$reg'),
		(randomblob(32), $5, 'verify_email', 1, 2, NULL, '$argon2id$reg')`, pending, invited, verified, usedLink, loggedIn)
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, new_email) VALUES (randomblob(32), $1, 'change_email', 1, 2, 'n@example.com')`, verified)

	m.up()
	if n := m.count(`SELECT count(*) FROM one_time_tokens`); n != 8 {
		t.Fatalf("after up: %d tokens, want the 8 stored", n)
	}
	if n := m.count(`SELECT count(*) FROM one_time_tokens WHERE new_email = 'n@example.com'`); n != 1 {
		t.Fatal("after up: the change-email token lost its address")
	}
	if n := m.count(`SELECT count(*) FROM users WHERE registration_pending = 1`); n != 1 {
		t.Fatalf("after up: %d pending registrations, want 1", n)
	}
	if n := m.count(`SELECT count(*) FROM users WHERE registration_pending = 1 AND id = $1`, pending); n != 1 {
		t.Fatal("after up: the registration nobody verified is not pending")
	}
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'invite', 1, 2)`, invited)
	m.refused("version 11 accepted an unknown purpose",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'other', 1, 2)`, invited)
	m.refused("version 11 accepted a pending mark of 2",
		`UPDATE users SET registration_pending = 2 WHERE id = $1`, invited)
	// The foreign key survived the rebuild.
	m.exec(`DELETE FROM users WHERE id = $1`, noLink)
	m.refused("a token of no user was accepted: the foreign key was lost",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'invite', 1, 2)`, uuid.NewString())

	m.down()
	if n := m.count(`SELECT count(*) FROM one_time_tokens`); n != 9 {
		t.Fatalf("after down: %d tokens, want all 9", n)
	}
	if n := m.count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND purpose = 'reset_password'`, invited); n != 2 {
		t.Fatalf("after down: the invitation is not a reset token (%d resets)", n)
	}
	if n := m.count(`SELECT count(*) FROM one_time_tokens WHERE password_hash = '$argon2id$reg'`); n != 5 {
		t.Fatalf("after down: %d registration tokens kept their password, want 5", n)
	}
	m.up()
}
