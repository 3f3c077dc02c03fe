package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/google/uuid"
)

// Up to 9 carries each session's mfa flag into amr and its creation time
// into auth_time; down from 9 gives exactly the schema of versions 1-8
// applied on their own, with the flag set again from amr; up again works.
func TestMigration9RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	ref := schemaBefore(t, "00009")

	url, db, exec := migratedTo(t, 8)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	userID, strong, plain := uuid.New(), uuid.New(), uuid.New()
	exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm9@example.com', 'h')`, userID)
	exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $3, $4, now(), now() + interval '1 day', true),
		($2, $3, $4, now(), now() + interval '1 day', false)`, strong, plain, userID, created)

	if err := postgres.MigrateUpTo(ctx, url, 9); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[uuid.UUID]string{strong: "pwd otp", plain: "pwd"} {
		var (
			amr      string
			authTime time.Time
		)
		if err := db.QueryRow(ctx, `SELECT amr, auth_time FROM sessions WHERE id = $1`, id).Scan(&amr, &authTime); err != nil {
			t.Fatal(err)
		}
		if amr != want || !authTime.Equal(created) {
			t.Fatalf("after up: amr %q auth_time %v; want %q %v", amr, authTime, want, created)
		}
	}
	if _, err := db.Exec(ctx, `UPDATE sessions SET amr = '' WHERE id = $1`, plain); err == nil {
		t.Fatal("an empty amr was accepted")
	}
	exec(`UPDATE sessions SET amr = 'hwk user' WHERE id = $1`, plain)

	downMatches(t, url, db, ref)
	for id, want := range map[uuid.UUID]bool{strong: true, plain: true} {
		var mfa bool
		if err := db.QueryRow(ctx, `SELECT mfa FROM sessions WHERE id = $1`, id).Scan(&mfa); err != nil || mfa != want {
			t.Fatalf("after down: mfa = %v, %v; want %v", mfa, err, want)
		}
	}
	if err := postgres.MigrateUpTo(ctx, url, 9); err != nil {
		t.Fatal(err)
	}
}
