package sqlite_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
)

// Up to 9 carries each session's mfa flag into amr and its creation time
// into auth_time; down from 9 gives exactly the schema of versions 1-8
// applied on their own, with the flag set again from amr; up again works.
func TestMigration9RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := migratedTo(t, 9, 8)
	userID, strong, plain := uuid.NewString(), uuid.NewString(), uuid.NewString()
	m.exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm9@example.com', 'h', 1, 1)`, userID)
	m.exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $3, 1234, 1234, 9999, 1), ($2, $3, 1234, 1234, 9999, 0)`, strong, plain, userID)

	m.up()
	for id, want := range map[string]string{strong: "pwd otp", plain: "pwd"} {
		var (
			amr      string
			authTime int64
		)
		if err := m.db.QueryRowContext(ctx, `SELECT amr, auth_time FROM sessions WHERE id = $1`, id).Scan(&amr, &authTime); err != nil {
			t.Fatal(err)
		}
		if amr != want || authTime != 1234 {
			t.Fatalf("after up: amr %q auth_time %d; want %q 1234", amr, authTime, want)
		}
	}
	m.refused("an empty amr was accepted",
		`UPDATE sessions SET amr = '' WHERE id = $1`, plain)
	m.exec(`UPDATE sessions SET amr = 'hwk user' WHERE id = $1`, plain)

	m.down()
	for _, id := range []string{strong, plain} {
		if n := m.count(`SELECT count(*) FROM sessions WHERE id = $1 AND mfa = 1`, id); n != 1 {
			t.Fatalf("after down: session %s has lost its second factor", id)
		}
	}
	m.up()
}
