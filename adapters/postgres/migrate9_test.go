package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Up to 9 carries each session's mfa flag into amr and its creation time
// into auth_time; down from 9 gives exactly the schema of versions 1-8
// applied on their own, with the flag set again from amr; up again works.
func TestMigration9RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := migratedTo(t, 9, 8)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	userID, strong, plain := uuid.New(), uuid.New(), uuid.New()
	m.exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm9@example.com', 'h')`, userID)
	m.exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $3, $4, now(), now() + interval '1 day', true),
		($2, $3, $4, now(), now() + interval '1 day', false)`, strong, plain, userID, created)

	m.up()
	for id, want := range map[uuid.UUID]string{strong: "pwd otp", plain: "pwd"} {
		var (
			amr      string
			authTime time.Time
		)
		if err := m.db.QueryRow(ctx, `SELECT amr, auth_time FROM sessions WHERE id = $1`, id).Scan(&amr, &authTime); err != nil {
			t.Fatal(err)
		}
		if amr != want || !authTime.Equal(created) {
			t.Fatalf("after up: amr %q auth_time %v; want %q %v", amr, authTime, want, created)
		}
	}
	m.refused("an empty amr was accepted", `UPDATE sessions SET amr = '' WHERE id = $1`, plain)
	m.exec(`UPDATE sessions SET amr = 'hwk user' WHERE id = $1`, plain)

	m.down()
	for _, id := range []uuid.UUID{strong, plain} {
		if n := m.count(`SELECT count(*) FROM sessions WHERE id = $1 AND mfa`, id); n != 1 {
			t.Fatalf("after down: session %s has lost its second factor", id)
		}
	}
	m.up()
}
