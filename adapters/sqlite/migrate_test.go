package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore/migratetest"
	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/migrations"
	"github.com/google/uuid"
)

// Migration 6 rebuilds one_time_tokens (a CHECK cannot change in place).
// Up keeps every row; down from 6 gives exactly the schema of versions
// 1-5 applied on their own (columns, checks, foreign keys, indexes), keeps
// every row version 5 can hold and drops the change-email tokens; up again
// works.
func TestMigration6RoundTrip(t *testing.T) {
	t.Parallel()
	// The database under test: at version 5 with data, then up to 6.
	m := migratedTo(t, 6, 6)
	m.Down()
	userID := uuid.NewString()
	m.Exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm6@example.com', 'h', 1, 1)`, userID)
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash)
		VALUES (randomblob(32), $1, 'verify_email', 1, 2, NULL, '$argon2id$reg'), (randomblob(32), $1, 'reset_password', 1, 2, 3, NULL)`, userID)
	m.Up()
	if n := m.Count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND new_email IS NULL`, userID); n != 2 {
		t.Fatalf("after up: %d of the 2 tokens", n)
	}
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, new_email)
		VALUES (randomblob(32), $1, 'change_email', 1, 2, 'new@example.com')`, userID)
	m.Refused("version 6 accepted an unknown purpose",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'other', 1, 2)`, userID)
	// The foreign key survived the rebuild: deleting the user takes its
	// tokens.
	other := uuid.NewString()
	m.Exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm6-other@example.com', 'h', 1, 1)`, other)
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'change_email', 1, 2)`, other)
	m.Exec(`DELETE FROM users WHERE id = $1`, other)
	if n := m.Count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1`, other); n != 0 {
		t.Fatalf("%d tokens of a deleted user left: the foreign key was lost", n)
	}
	m.Refused("a token of no user was accepted: the foreign key was lost",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'verify_email', 1, 2)`, uuid.NewString())

	m.Down()
	if n := m.Count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1`, userID); n != 2 {
		t.Fatalf("after down: %d tokens, want the 2 version 5 holds", n)
	}
	if n := m.Count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND password_hash = '$argon2id$reg' AND used_at IS NULL`, userID); n != 1 {
		t.Fatal("after down: the registration token lost its password hash")
	}
	m.Refused("version 5 accepted a change-email token",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'change_email', 1, 2)`, userID)
	if n := m.Count(`SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'`); n != 1 || m.Count(`SELECT count(*) FROM pragma_integrity_check`) != 1 {
		t.Fatal("integrity_check: not ok")
	}
	if n := m.Count(`SELECT count(*) FROM pragma_foreign_key_check`); n != 0 {
		t.Fatalf("foreign_key_check: %d rows", n)
	}
	m.Up()
}

// openRaw opens the file at path with foreign keys on, one connection.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// schema describes every application table of db: columns (type, not
// null, default, primary key), foreign keys, indexes (columns, unique,
// partial, their SQL) and the constraints of the table (the CHECK
// clauses, read from its SQL with the column layout ignored).
func schema(t *testing.T, db *sql.DB) string {
	t.Helper()
	ctx := context.Background()
	var tables []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'goose%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	dump := func(q string) {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  %s %v\n", q, vals)
		}
	}
	for _, tbl := range tables {
		fmt.Fprintf(&b, "table %s\n", tbl)
		dump(fmt.Sprintf(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('%s') ORDER BY cid`, tbl))
		dump(fmt.Sprintf(`SELECT "table", "from", "to", on_update, on_delete FROM pragma_foreign_key_list('%s') ORDER BY id, seq`, tbl))
		dump(fmt.Sprintf(`SELECT name, "unique", origin, partial FROM pragma_index_list('%s') ORDER BY name`, tbl))
		dump(fmt.Sprintf(`SELECT il.name, ii.name, ii.seqno FROM pragma_index_list('%s') il, pragma_index_info(il.name) ii ORDER BY il.name, ii.seqno`, tbl))
		dump(fmt.Sprintf(`SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = '%s' AND sql IS NOT NULL ORDER BY name`, tbl))
		var ddl string
		if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = $1`, tbl).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  checks %v strict=%v\n", checks(ddl), strings.HasSuffix(strings.TrimSpace(ddl), "STRICT"))
	}
	return b.String()
}

// checks are the CHECK clauses of a CREATE TABLE statement, whitespace
// squeezed, sorted.
func checks(ddl string) []string {
	var out []string
	for rest := ddl; ; {
		i := strings.Index(strings.ToUpper(rest), "CHECK (")
		if i < 0 {
			break
		}
		rest = rest[i+len("CHECK "):]
		depth, j := 0, 0
		for j = range rest {
			if rest[j] == '(' {
				depth++
			} else if rest[j] == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		out = append(out, strings.Join(strings.Fields(rest[:j+1]), " "))
		rest = rest[j+1:]
	}
	slices.Sort(out)
	return out
}

// migration is one migration's round trip on a database file of the
// test's own, with a raw connection to it.
type migration struct {
	*migratetest.Migration
	db *sql.DB
}

// migratedTo is a fresh file migrated up to from, for the round trip of
// migration version, whose reference holds the Up sections of the
// migrations before version, run by hand.
func migratedTo(t *testing.T, version, from int64) migration {
	t.Helper()
	ctx := context.Background()
	ref := openRaw(t, freshPath(t))
	migratetest.ApplyBefore(t, migrations.SQLite, version, migratetest.On(ref.ExecContext, ref.QueryRowContext))
	path := freshPath(t)
	db := openRaw(t, path)
	return migration{migratetest.New(t, version, from, migratetest.Store{
		DB:     migratetest.On(db.ExecContext, db.QueryRowContext),
		Schema: func() string { return schema(t, db) },
		Ref:    func() string { return schema(t, ref) },
		UpTo:   func(version int64) error { return sqlite.MigrateUpTo(ctx, path, version) },
		Down:   func() error { return sqlite.MigrateDown(ctx, path) },
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
// own (columns, checks, foreign keys, indexes), drops the second factors
// (MFA is off after going down) and keeps the sessions; up again works.
func TestMigration8RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 8, 8)
	userID, sessionID := uuid.NewString(), uuid.NewString()
	m.Exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm8@example.com', 'h', 1, 1)`, userID)
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $2, 1, 1, 2, 1)`, sessionID, userID)
	m.Exec(`INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_used_step) VALUES ($1, randomblob(64), 1, 2, 42)`, userID)
	m.Exec(`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, randomblob(32), 1)`, userID)
	m.Exec(`INSERT INTO mfa_login_tokens (token_hash, user_id, binding, created_at, expires_at) VALUES (randomblob(32), $1, randomblob(32), 1, 2)`, userID)
	m.Refused("a factor of no user was accepted: the foreign key is missing",
		`INSERT INTO mfa_totp (user_id, sealed_secret, created_at) VALUES ($1, randomblob(64), 1)`, uuid.NewString())
	m.Refused("a recovery code hash of 31 bytes was accepted",
		`INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, randomblob(31), 1)`, userID)

	m.Down()
	if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1`, sessionID); n != 1 {
		t.Fatalf("after down: %d sessions, want the 1 stored", n)
	}
	if n := m.Count(`SELECT count(*) FROM pragma_foreign_key_check`); n != 0 {
		t.Fatalf("foreign_key_check: %d rows", n)
	}
	m.Up()
	if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1 AND mfa = 0`, sessionID); n != 1 {
		t.Fatal("after up again: mfa is not 0")
	}
}

// Up to 9 carries each session's mfa flag into amr and its creation time
// into auth_time; down from 9 gives exactly the schema of versions 1-8
// applied on their own, with the flag set again from amr; up again works.
func TestMigration9RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := migratedTo(t, 9, 8)
	userID, strong, plain := uuid.NewString(), uuid.NewString(), uuid.NewString()
	m.Exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm9@example.com', 'h', 1, 1)`, userID)
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, mfa) VALUES ($1, $3, 1234, 1234, 9999, 1), ($2, $3, 1234, 1234, 9999, 0)`, strong, plain, userID)

	m.Up()
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
	m.Refused("an empty amr was accepted",
		`UPDATE sessions SET amr = '' WHERE id = $1`, plain)
	m.Exec(`UPDATE sessions SET amr = 'hwk user' WHERE id = $1`, plain)

	m.Down()
	for _, id := range []string{strong, plain} {
		if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1 AND mfa = 1`, id); n != 1 {
			t.Fatalf("after down: session %s has lost its second factor", id)
		}
	}
	m.Up()
}

// Down from 10 gives exactly the schema before it (columns, checks,
// indexes), keeps the refresh tokens (their sealed successors go: a repeat
// is then reuse, as before the grace); up again works, with no successor
// kept.
func TestMigration10RoundTrip(t *testing.T) {
	t.Parallel()
	// The session is stored at version 2, where sessions began, so that
	// later migrations fill in their own columns of it.
	m := migratedTo(t, 10, 2)
	userID, sessionID := uuid.NewString(), uuid.NewString()
	m.Exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm10@example.com', 'h', 1, 1)`, userID)
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, 1, 1, 2)`, sessionID, userID)
	m.Up()
	m.Exec(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (randomblob(32), $1, 1, 2, randomblob(84))`, sessionID)
	m.Refused("a successor of the size of a plain token was accepted",
		`INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at, successor_sealed) VALUES (randomblob(32), $1, 1, 2, randomblob(43))`, sessionID)

	m.Down()
	if n := m.Count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL`, sessionID); n != 1 {
		t.Fatalf("after down: %d refresh tokens, want the 1 stored", n)
	}
	m.Up()
	if n := m.Count(`SELECT count(*) FROM refresh_tokens WHERE successor_sealed IS NOT NULL`); n != 0 {
		t.Fatalf("after up again: %d successors, want none", n)
	}
}

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
		m.Exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at, is_verified, last_login_at)
			VALUES ($1, $2, 'h', 1, 1, $3, $4)`, id, uuid.NewString()+"@example.com", id == verified, lastLogin)
	}
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash) VALUES
		(randomblob(32), $1, 'verify_email', 1, 2, NULL, '$argon2id$reg'),
		(randomblob(32), $1, 'verify_email', 1, 2, NULL, NULL),
		(randomblob(32), $2, 'reset_password', 1, 2, NULL, NULL),
		(randomblob(32), $2, 'verify_email', 1, 2, NULL, '$argon2id$reg'),
		(randomblob(32), $3, 'verify_email', 1, 2, 2, '$argon2id$reg'),
		(randomblob(32), $4, 'verify_email', 1, 2, 2, '$argon2id$reg'),
		(randomblob(32), $5, 'verify_email', 1, 2, NULL, '$argon2id$reg')`, pending, invited, verified, usedLink, loggedIn)
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, new_email) VALUES (randomblob(32), $1, 'change_email', 1, 2, 'n@example.com')`, verified)

	m.Up()
	if n := m.Count(`SELECT count(*) FROM one_time_tokens`); n != 8 {
		t.Fatalf("after up: %d tokens, want the 8 stored", n)
	}
	if n := m.Count(`SELECT count(*) FROM one_time_tokens WHERE new_email = 'n@example.com'`); n != 1 {
		t.Fatal("after up: the change-email token lost its address")
	}
	if n := m.Count(`SELECT count(*) FROM users WHERE registration_pending = 1`); n != 1 {
		t.Fatalf("after up: %d pending registrations, want 1", n)
	}
	if n := m.Count(`SELECT count(*) FROM users WHERE registration_pending = 1 AND id = $1`, pending); n != 1 {
		t.Fatal("after up: the registration nobody verified is not pending")
	}
	m.Exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'invite', 1, 2)`, invited)
	m.Refused("version 11 accepted an unknown purpose",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'other', 1, 2)`, invited)
	m.Refused("version 11 accepted a pending mark of 2",
		`UPDATE users SET registration_pending = 2 WHERE id = $1`, invited)
	// The foreign key survived the rebuild.
	m.Exec(`DELETE FROM users WHERE id = $1`, noLink)
	m.Refused("a token of no user was accepted: the foreign key was lost",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'invite', 1, 2)`, uuid.NewString())

	m.Down()
	if n := m.Count(`SELECT count(*) FROM one_time_tokens`); n != 9 {
		t.Fatalf("after down: %d tokens, want all 9", n)
	}
	if n := m.Count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND purpose = 'reset_password'`, invited); n != 2 {
		t.Fatalf("after down: the invitation is not a reset token (%d resets)", n)
	}
	if n := m.Count(`SELECT count(*) FROM one_time_tokens WHERE password_hash = '$argon2id$reg'`); n != 5 {
		t.Fatalf("after down: %d registration tokens kept their password, want 5", n)
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
	m.Exec(`INSERT INTO signing_key_ring (kid, sealed_seed, state, created_at, activate_at, activated_at) VALUES ('e1', X'e1', 'current', 1, 1, 1)`)
	m.Exec(`INSERT INTO signing_key_ring (kid, sealed_seed, state, created_at, activate_at) VALUES ('e2', X'e2', 'next', 1, 2)`)

	m.Up()
	if n := m.Count(`SELECT count(*) FROM signing_key_ring WHERE alg = 'EdDSA' AND sealed_key IN (X'e1', X'e2')`); n != 2 {
		t.Fatalf("after up: %d EdDSA keys, want the 2 stored", n)
	}
	if n := m.Count(`SELECT count(*) FROM signing_key_ring WHERE kid = 'e1' AND state = 'current' AND activated_at = 1`); n != 1 {
		t.Fatal("after up: the current key lost its state or times")
	}
	insert := `INSERT INTO signing_key_ring (kid, alg, sealed_key, state, created_at, activate_at) VALUES ($1, $2, X'00', $3, 1, 1)`
	m.Exec(insert, "r1", "RS256", "current")
	m.Exec(insert, "r2", "RS256", "next")
	m.Refused("a second current RS256 key was accepted", insert, "r3", "RS256", "current")
	m.Refused("a second next EdDSA key was accepted", insert, "e3", "EdDSA", "next")
	m.Refused("an unknown algorithm was accepted", insert, "h1", "HS256", "next")
	m.Refused("a key of no algorithm was accepted",
		`INSERT INTO signing_key_ring (kid, sealed_key, state, created_at, activate_at) VALUES ('x', X'00', 'next', 1, 1)`)

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
// under their checks and foreign keys; down from 15 gives exactly the
// schema before it, deletes the grants (their refresh tokens with them)
// and keeps every other session; up again works.
func TestMigration15RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 15, 14)
	userID, browser, grantID := uuid.NewString(), uuid.NewString(), uuid.NewString()
	m.Exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm15@example.com', 'h', 1, 1)`, userID)
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, auth_time) VALUES ($1, $2, 1, 1, 2, 1)`, browser, userID)

	m.Up()
	if n := m.Count(`SELECT count(*) FROM sessions WHERE id = $1 AND client_id IS NULL AND scopes IS NULL AND parent_id IS NULL`, browser); n != 1 {
		t.Fatal("after up: the stored session is not a plain one")
	}
	m.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, auth_time, client_id, scopes, parent_id)
		VALUES ($1, $2, 1, 1, 2, 1, 'app', '["openid"]', $3)`, grantID, userID, browser)
	m.Exec(`INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (randomblob(32), $1, 1)`, grantID)
	m.Refused("a grant without scopes was accepted", `UPDATE sessions SET scopes = NULL WHERE id = $1`, grantID)
	m.Refused("scopes of no client were accepted", `UPDATE sessions SET scopes = '[]' WHERE id = $1`, browser)
	m.Refused("a parent of no client was accepted", `UPDATE sessions SET parent_id = $1 WHERE id = $1`, browser)

	request := `INSERT INTO authorization_requests (id, client_id, redirect_uri, scopes, state, nonce, code_challenge, force_login, force_consent, has_max_age, max_age, created_at, expires_at)
		VALUES ($1, 'app', 'https://app.example.com/cb', '["openid"]', 's', 'n', 'c', 0, 0, $2, $3, 1, 2)`
	m.Exec(request, uuid.NewString(), 1, 0)
	m.Exec(request, uuid.NewString(), 0, 0)
	m.Refused("a max_age without has_max_age was accepted", request, uuid.NewString(), 0, 60)
	m.Refused("a negative max_age was accepted", request, uuid.NewString(), 1, -1)
	m.Refused("a has_max_age of 2 was accepted", request, uuid.NewString(), 2, 0)

	code := `INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, scopes, nonce, code_challenge, session_id, user_id, auth_time, amr, created_at, expires_at, used_at, grant_id)
		VALUES (randomblob(32), 'app', 'https://app.example.com/cb', '["openid"]', '', 'c', $1, $2, 1, 'pwd', 1, 2, $3, $4)`
	m.Exec(code, browser, userID, 2, grantID)
	m.Exec(code, browser, userID, nil, nil)
	m.Refused("a grant of an unused code was accepted", code, browser, userID, nil, grantID)
	m.Refused("a code of no user was accepted: the foreign key is missing", code, browser, uuid.NewString(), nil, nil)

	consent := `INSERT INTO consents (user_id, client_id, scopes, given_at) VALUES ($1, 'app', '["openid"]', 1)`
	m.Exec(consent, userID)
	m.Refused("a second consent of one user to one client was accepted", consent, userID)
	m.Refused("a consent of no user was accepted: the foreign key is missing", consent, uuid.NewString())

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
	if n := m.Count(`SELECT count(*) FROM pragma_foreign_key_check`); n != 0 {
		t.Fatalf("foreign_key_check: %d rows", n)
	}
	m.Up()
}
