package sqlite_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/google/uuid"
)

// Down from 8 gives exactly the schema of versions 1-7 applied on their
// own (columns, checks, foreign keys, indexes), drops the second factors
// (MFA is off after going down) and keeps the sessions; up again works.
func TestMigration8RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	ref := schemaBefore(t, "00008")

	path, db := migratedTo(t, 8)
	userID, sessionID := uuid.NewString(), uuid.NewString()
	mustExec(t, db, `INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm8@example.com', 'h', 1, 1)`, userID)
	mustExec(t, db, `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $2, 1, 1, 2, 1)`, sessionID, userID)
	mustExec(t, db, `INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_used_step) VALUES ($1, randomblob(64), 1, 2, 42)`, userID)
	mustExec(t, db, `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, randomblob(32), 1)`, userID)
	mustExec(t, db, `INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at) VALUES (randomblob(32), $1, randomblob(32), 1, 2)`, userID)
	if _, err := db.ExecContext(ctx, `INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, randomblob(64), 1)`, uuid.NewString()); err == nil {
		t.Fatal("a factor of no user was accepted: the foreign key is missing")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, randomblob(31), 1)`, userID); err == nil {
		t.Fatal("a recovery code hash of 31 bytes was accepted")
	}

	downMatches(t, path, db, ref)
	if n := countRows(t, db, `SELECT count(*) FROM sessions WHERE id = $1`, sessionID); n != 1 {
		t.Fatalf("after down: %d sessions, want the 1 stored", n)
	}
	rows, err := db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	var broken int
	for rows.Next() {
		broken++
	}
	rows.Close()
	if broken != 0 {
		t.Fatalf("foreign_key_check: %d rows", broken)
	}
	if err := sqlite.MigrateUpTo(ctx, path, 8); err != nil {
		t.Fatal(err)
	}
	var mfa sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT mfa FROM sessions WHERE id = $1`, sessionID).Scan(&mfa); err != nil || mfa.Int64 != 0 {
		t.Fatalf("after up again: mfa = %v, %v; want 0", mfa, err)
	}
}
