package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore/migratetest"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/migrations"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMigrateUpTwiceIsNoop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t) // already migrated by pgtest
	if err := postgres.MigrateUp(ctx, url); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := postgres.MigrateStatus(ctx, url, &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "pending") || strings.Count(buf.String(), "applied") != migrationCount(t) {
		t.Fatalf("status:\n%s", buf.String())
	}
}

func TestMigrateConcurrentOnFreshDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewEmptyDatabase(t)

	var buf bytes.Buffer
	if err := postgres.MigrateStatus(ctx, url, &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "pending") != migrationCount(t) {
		t.Fatalf("fresh status:\n%s", buf.String())
	}

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := postgres.MigrateUp(ctx, url); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	status := func() string {
		t.Helper()
		var buf bytes.Buffer
		if err := postgres.MigrateStatus(ctx, url, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	n := migrationCount(t)
	if s := status(); strings.Count(s, "applied") != n {
		t.Fatalf("after concurrent up:\n%s", s)
	}

	if err := postgres.MigrateDown(ctx, url); err != nil {
		t.Fatal(err)
	}
	s := status()
	if strings.Count(s, "applied") != n-1 || strings.Count(s, "pending") != 1 {
		t.Fatalf("after one down:\n%s", s)
	}
	if err := postgres.MigrateUp(ctx, url); err != nil {
		t.Fatal(err)
	}
	if s := status(); strings.Count(s, "applied") != n {
		t.Fatalf("after up again:\n%s", s)
	}
}

// migrationCount is the number of embedded migrations.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(migrations.Postgres, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v", err)
	}
	return len(files)
}

// Down from 6 gives exactly the schema of versions 1-5 applied on their
// own (columns, collations, constraints, indexes), keeps every row version
// 5 can hold and drops the change-email tokens; up again works.
func TestMigration6RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 6, 6)
	m.Down()
	userID := uuid.New()
	m.Exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm6@example.com', 'h')`, userID)
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, password_hash)
		VALUES (sha256('a'), $1, 'verify_email', now(), now(), '$argon2id$reg'), (sha256('b'), $1, 'reset_password', now(), now(), NULL)`, userID)
	m.Exec(`INSERT INTO rate_limits (key, count, reset_at) VALUES ('login:pair:m6@example.com:ip:1', 1, now())`)
	m.Up()
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, new_email)
		VALUES (sha256('c'), $1, 'change_email', now(), now(), 'new@example.com')`, userID)
	m.Exec(`INSERT INTO admin_keys (name, key_hash, created_at) VALUES ('ops', sha256('k'), now())`)
	m.Down()
	tokens := m.Count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1`, userID)
	withHash := m.Count(`SELECT count(password_hash) FROM one_time_tokens WHERE user_id = $1`, userID)
	if limits := m.Count(`SELECT count(*) FROM rate_limits`); tokens != 2 || withHash != 1 || limits != 1 {
		t.Fatalf("after down: %d tokens (%d with a password hash), %d rate limits; want 2 (1), 1", tokens, withHash, limits)
	}
	m.Refused("version 5 accepted a change-email token",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (sha256('d'), $1, 'change_email', now(), now())`, userID)
	m.Up()
}

// pgSchema describes the application tables of db: columns in order
// (type, nullability, default, collation), constraints and indexes.
func pgSchema(t *testing.T, db *pgxpool.Pool) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, ''), coalesce(collation_name, '')
			FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'goose%'
			ORDER BY table_name, ordinal_position`,
		`SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'goose%'
			ORDER BY 1, 2`,
		`SELECT tablename, indexname, indexdef FROM pg_indexes
			WHERE schemaname = 'public' AND tablename NOT LIKE 'goose%' ORDER BY 1, 2`,
	} {
		rows, err := db.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// migration is one migration's round trip on a fresh database of the
// test's own, with a pool on it.
type migration struct {
	*migratetest.Migration
	db *pgxpool.Pool
}

// migratedTo is a fresh database migrated up to from, for the round trip
// of migration version, whose reference holds the Up sections of the
// migrations before version, run by hand (pgSchema describes both).
func migratedTo(t *testing.T, version, from int64) migration {
	t.Helper()
	ctx := context.Background()
	ref := pgtest.Pool(t, pgtest.NewEmptyDatabase(t))
	migratetest.ApplyBefore(t, migrations.Postgres, version, migratetest.On(ref.Exec, ref.QueryRow))
	url := pgtest.NewEmptyDatabase(t)
	db := pgtest.Pool(t, url)
	return migration{migratetest.New(t, version, from, migratetest.Store{
		DB:     migratetest.On(db.Exec, db.QueryRow),
		Schema: func() string { return pgSchema(t, db) },
		Ref:    func() string { return pgSchema(t, ref) },
		UpTo:   func(version int64) error { return postgres.MigrateUpTo(ctx, url, version) },
		Down:   func() error { return postgres.MigrateDown(ctx, url) },
	}), db}
}

// Migration 7 (the key ring and settings) rolls back exactly, and goes up
// again.
func TestMigration7RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 7, 7)
	m.Down()
	m.Up()
}

// Down from 8 gives exactly the schema of versions 1-7 applied on their
// own, drops the second factors (MFA is off after going down) and keeps
// the sessions; up again works.
func TestMigration8RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 8, 8)
	userID, sessionID := uuid.New(), uuid.New()
	m.Exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm8@example.com', 'h')`, userID)
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $2, now(), now(), now() + interval '1 day', true)`, sessionID, userID)
	m.Exec(`INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_used_step) VALUES ($1, decode(repeat('ab', 64), 'hex'), now(), now(), 42)`, userID)
	m.Exec(`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, sha256('r'), now())`, userID)
	m.Exec(`INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at) VALUES (sha256('t'), $1, sha256('b'), now(), now())`, userID)
	m.Refused("a factor of no user (and a secret too short to be sealed) was accepted",
		`INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, 'short', now())`, uuid.New())

	m.Down()
	if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1`, sessionID); n != 1 {
		t.Fatalf("after down: %d sessions, want the 1 stored", n)
	}
	m.Up()
	if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1 AND NOT mfa`, sessionID); n != 1 {
		t.Fatal("after up again: mfa is not false")
	}
}

// Up to 9 carries each session's mfa flag into amr and its creation time
// into auth_time; down from 9 gives exactly the schema of versions 1-8
// applied on their own, with the flag set again from amr; up again works.
func TestMigration9RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := migratedTo(t, 9, 8)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	userID, strong, plain := uuid.New(), uuid.New(), uuid.New()
	m.Exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm9@example.com', 'h')`, userID)
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $3, $4, now(), now() + interval '1 day', true),
		($2, $3, $4, now(), now() + interval '1 day', false)`, strong, plain, userID, created)

	m.Up()
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
	m.Refused("an empty amr was accepted", `UPDATE sessions SET amr = '' WHERE id = $1`, plain)
	m.Exec(`UPDATE sessions SET amr = 'hwk user' WHERE id = $1`, plain)

	m.Down()
	for _, id := range []uuid.UUID{strong, plain} {
		if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1 AND mfa`, id); n != 1 {
			t.Fatalf("after down: session %s has lost its second factor", id)
		}
	}
	m.Up()
}

// Down from 10 gives exactly the schema before it, keeps the refresh
// tokens (their sealed successors go: a repeat is then reuse, as before
// the grace); up again works, with no successor kept.
func TestMigration10RoundTrip(t *testing.T) {
	t.Parallel()
	// The session is stored at version 2, where sessions began, so that
	// later migrations fill in their own columns of it.
	m := migratedTo(t, 10, 2)
	userID, sessionID := uuid.New(), uuid.New()
	m.Exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm10@example.com', 'h')`, userID)
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, now(), now(), now() + interval '1 day')`, sessionID, userID)
	m.Up()
	m.Exec(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (sha256('r'), $1, now(), now(), decode(repeat('ab', 84), 'hex'))`, sessionID)
	m.Refused("a successor of the size of a plain token was accepted",
		`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (sha256('p'), $1, now(), now(), decode(repeat('ab', 43), 'hex'))`, sessionID)

	m.Down()
	if n := m.Count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL`, sessionID); n != 1 {
		t.Fatalf("after down: %d refresh tokens; want the 1 stored", n)
	}
	m.Up()
	if n := m.Count(`SELECT count(*) FROM refresh_tokens WHERE successor_sealed IS NOT NULL`); n != 0 {
		t.Fatalf("after up again: %d successors; want none", n)
	}
}

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
		m.Exec(`INSERT INTO users (id, email, hashed_password, is_verified, last_login_at)
			VALUES ($1, $2, 'h', $3, CASE WHEN $4 THEN now() END)`, id, uuid.NewString()+"@example.com", id == verified, id == loggedIn)
	}
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash) VALUES
		(sha256(gen_random_uuid()::text::bytea), $1, 'verify_email', now(), now(), NULL, '$argon2id$reg'),
		(sha256(gen_random_uuid()::text::bytea), $1, 'verify_email', now(), now(), NULL, NULL),
		(sha256(gen_random_uuid()::text::bytea), $2, 'reset_password', now(), now(), NULL, NULL),
		(sha256(gen_random_uuid()::text::bytea), $2, 'verify_email', now(), now(), NULL, '$argon2id$reg'),
		(sha256(gen_random_uuid()::text::bytea), $3, 'verify_email', now(), now(), now(), '$argon2id$reg'),
		(sha256(gen_random_uuid()::text::bytea), $4, 'verify_email', now(), now(), now(), '$argon2id$reg'),
		(sha256(gen_random_uuid()::text::bytea), $5, 'verify_email', now(), now(), NULL, '$argon2id$reg')`, pending, invited, verified, usedLink, loggedIn)

	m.Up()
	if n := m.Count(`SELECT count(*) FROM users WHERE registration_pending`); n != 1 {
		t.Fatalf("after up: %d pending registrations, want 1", n)
	}
	if n := m.Count(`SELECT count(*) FROM users WHERE registration_pending AND id = $1`, pending); n != 1 {
		t.Fatal("after up: the registration nobody verified is not pending")
	}
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (sha256('invite'), $1, 'invite', now(), now())`, invited)
	m.Refused("version 11 accepted an unknown purpose",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (sha256('other'), $1, 'other', now(), now())`, invited)

	m.Down()
	if n := m.Count(`SELECT count(*) FROM one_time_tokens`); n != 8 {
		t.Fatalf("after down: %d tokens, want all 8", n)
	}
	if n := m.Count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND purpose = 'reset_password'`, invited); n != 2 {
		t.Fatalf("after down: the invitation is not a reset token (%d resets)", n)
	}
	m.Up()
}

// Migration 12 keeps keys of two algorithms: the stored keys become
// EdDSA, and one current and one next key of each algorithm are allowed
// (a second of one algorithm is refused, as is a key of no or an unknown
// algorithm); down from 12 gives exactly the schema before it, keeps the
// EdDSA keys and drops the RS256 ones; up again works.
func TestMigration12RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 12, 11)
	m.Exec(`INSERT INTO signing_key_ring (kid, sealed_seed, state, created_at, activate_at, activated_at) VALUES ('e1', 'sealed-e1', 'current', now(), now(), now())`)
	m.Exec(`INSERT INTO signing_key_ring (kid, sealed_seed, state, created_at, activate_at) VALUES ('e2', 'sealed-e2', 'next', now(), now())`)

	m.Up()
	if n := m.Count(`SELECT count(*) FROM signing_key_ring WHERE alg = 'EdDSA' AND sealed_key IN ('sealed-e1', 'sealed-e2')`); n != 2 {
		t.Fatalf("after up: %d EdDSA keys, want the 2 stored", n)
	}
	insert := `INSERT INTO signing_key_ring (kid, alg, sealed_key, state, created_at, activate_at) VALUES ($1, $2, 'sealed', $3, now(), now())`
	m.Exec(insert, "r1", "RS256", "current")
	m.Exec(insert, "r2", "RS256", "next")
	m.Refused("a second current RS256 key was accepted", insert, "r3", "RS256", "current")
	m.Refused("a second next EdDSA key was accepted", insert, "e3", "EdDSA", "next")
	m.Refused("an unknown algorithm was accepted", insert, "h1", "HS256", "next")
	m.Refused("a key of no algorithm was accepted",
		`INSERT INTO signing_key_ring (kid, sealed_key, state, created_at, activate_at) VALUES ('x', 'sealed', 'next', now(), now())`)

	m.Down()
	if n := m.Count(`SELECT count(*) FROM signing_key_ring WHERE kid IN ('e1', 'e2')`); n != 2 {
		t.Fatalf("after down: %d keys, want the 2 EdDSA keys", n)
	}
	if n := m.Count(`SELECT count(*) FROM signing_key_ring`); n != 2 {
		t.Fatalf("after down: %d keys, want the RS256 keys gone", n)
	}
	m.Up()
}

// Migration 15 (grants): up leaves the sessions stored before it without
// client, scopes or parent, and keeps grants, requests, codes and consents
// under their checks; down from 15 gives exactly the schema before it,
// deletes the grants (their refresh tokens with them) and keeps every other
// session; up again works.
func TestMigration15RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 15, 14)
	userID, browser, grantID := uuid.New(), uuid.New(), uuid.New()
	m.Exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm15@example.com', 'h')`, userID)
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, auth_time) VALUES ($1, $2, now(), now(), now() + interval '1 day', now())`, browser, userID)

	m.Up()
	if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1 AND client_id IS NULL AND scopes IS NULL AND parent_id IS NULL`, browser); n != 1 {
		t.Fatal("after up: the stored session is not a plain one")
	}
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, auth_time, client_id, scopes, parent_id)
		VALUES ($1, $2, now(), now(), now() + interval '1 day', now(), 'app', '["openid"]', $3)`, grantID, userID, browser)
	m.Exec(`INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (sha256('g'), $1, now())`, grantID)
	m.Refused("a grant without scopes was accepted", `UPDATE sessions SET scopes = NULL WHERE id = $1`, grantID)
	m.Refused("scopes of no client were accepted", `UPDATE sessions SET scopes = '[]' WHERE id = $1`, browser)
	m.Refused("a parent of no client was accepted", `UPDATE sessions SET parent_id = $1 WHERE id = $1`, browser)

	request := `INSERT INTO authorization_requests (id, client_id, redirect_uri, scopes, state, nonce, code_challenge, force_login, force_consent, has_max_age, max_age, created_at, expires_at)
		VALUES ($1, 'app', 'https://app.example.com/cb', '["openid"]', 's', 'n', 'c', false, false, $2, $3, now(), now())`
	m.Exec(request, uuid.New(), true, 0)
	m.Exec(request, uuid.New(), false, 0)
	m.Refused("a max_age without has_max_age was accepted", request, uuid.New(), false, 60)
	m.Refused("a negative max_age was accepted", request, uuid.New(), true, -1)

	code := `INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, scopes, nonce, code_challenge, session_id, user_id, auth_time, amr, created_at, expires_at, used_at, grant_id)
		VALUES (sha256($1), 'app', 'https://app.example.com/cb', '["openid"]', '', 'c', $2, $3, now(), 'pwd', now(), now(), $4, $5)`
	used := time.Now()
	m.Exec(code, "c1", browser, userID, &used, grantID)
	m.Exec(code, "c2", browser, userID, nil, nil)
	m.Refused("a grant of an unused code was accepted", code, "c3", browser, userID, nil, grantID)
	m.Refused("a code of no user was accepted", code, "c4", browser, uuid.New(), nil, nil)

	consent := `INSERT INTO consents (user_id, client_id, scopes, given_at) VALUES ($1, 'app', '["openid"]', now())`
	m.Exec(consent, userID)
	m.Refused("a second consent of one user to one client was accepted", consent, userID)

	m.Down()
	if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1`, browser); n != 1 {
		t.Fatalf("after down: %d browser sessions, want the 1 stored", n)
	}
	if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1`, grantID); n != 0 {
		t.Fatal("after down: the grant lives on as a session of the user")
	}
	if n := m.Count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, grantID); n != 0 {
		t.Fatalf("after down: %d refresh tokens of the grant, want none", n)
	}
	m.Up()
}
