package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Down from 6 gives exactly the schema of versions 1-5 applied on their
// own (columns, collations, constraints, indexes), keeps every row version
// 5 can hold and drops the change-email tokens; up again works.
func TestMigration6RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 6, 6)
	m.down()
	userID := uuid.New()
	m.exec(`INSERT INTO users (id, email, hashed_password) VALUES ($1, 'm6@example.com', 'h')`, userID)
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, password_hash)
		VALUES (sha256('a'), $1, 'verify_email', now(), now(), '$argon2id$reg'), (sha256('b'), $1, 'reset_password', now(), now(), NULL)`, userID)
	m.exec(`INSERT INTO rate_limits (key, count, reset_at) VALUES ('login:pair:m6@example.com:ip:1', 1, now())`)
	m.up()
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, new_email)
		VALUES (sha256('c'), $1, 'change_email', now(), now(), 'new@example.com')`, userID)
	m.exec(`INSERT INTO admin_keys (name, key_hash, created_at) VALUES ('ops', sha256('k'), now())`)
	m.down()
	tokens := m.count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1`, userID)
	withHash := m.count(`SELECT count(password_hash) FROM one_time_tokens WHERE user_id = $1`, userID)
	if limits := m.count(`SELECT count(*) FROM rate_limits`); tokens != 2 || withHash != 1 || limits != 1 {
		t.Fatalf("after down: %d tokens (%d with a password hash), %d rate limits; want 2 (1), 1", tokens, withHash, limits)
	}
	m.refused("version 5 accepted a change-email token",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (sha256('d'), $1, 'change_email', now(), now())`, userID)
	m.up()
}

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.NewPool(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
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
