package sqlite_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/google/uuid"
)

// Up to 9 carries each session's mfa flag into amr and its creation time
// into auth_time; down from 9 gives exactly the schema of versions 1-8
// applied on their own, with the flag set again from amr; up again works.
func TestMigration9RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	ref := schemaBefore(t, "00009")

	path, db := migratedTo(t, 8)
	userID, strong, plain := uuid.NewString(), uuid.NewString(), uuid.NewString()
	mustExec(t, db, `INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm9@example.com', 'h', 1, 1)`, userID)
	mustExec(t, db, `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $3, 1234, 1234, 9999, 1), ($2, $3, 1234, 1234, 9999, 0)`, strong, plain, userID)

	if err := sqlite.MigrateUpTo(ctx, path, 9); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{strong: "pwd otp", plain: "pwd"} {
		var (
			amr      string
			authTime int64
		)
		if err := db.QueryRowContext(ctx, `SELECT amr, auth_time FROM sessions WHERE id = $1`, id).Scan(&amr, &authTime); err != nil {
			t.Fatal(err)
		}
		if amr != want || authTime != 1234 {
			t.Fatalf("after up: amr %q auth_time %d; want %q 1234", amr, authTime, want)
		}
	}
	if _, err := db.ExecContext(ctx, `UPDATE sessions SET amr = '' WHERE id = $1`, plain); err == nil {
		t.Fatal("an empty amr was accepted")
	}
	mustExec(t, db, `UPDATE sessions SET amr = 'hwk user' WHERE id = $1`, plain)

	downMatches(t, path, db, ref)
	for _, id := range []string{strong, plain} {
		if n := countRows(t, db, `SELECT count(*) FROM sessions WHERE id = $1 AND mfa = 1`, id); n != 1 {
			t.Fatalf("after down: session %s has lost its second factor", id)
		}
	}
	if err := sqlite.MigrateUpTo(ctx, path, 9); err != nil {
		t.Fatal(err)
	}
}
