package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

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
	m.down()
	userID := uuid.NewString()
	m.exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm6@example.com', 'h', 1, 1)`, userID)
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash)
		VALUES (randomblob(32), $1, 'verify_email', 1, 2, NULL, '$argon2id$reg'), (randomblob(32), $1, 'reset_password', 1, 2, 3, NULL)`, userID)
	m.up()
	if n := m.count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND new_email IS NULL`, userID); n != 2 {
		t.Fatalf("after up: %d of the 2 tokens", n)
	}
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, new_email)
		VALUES (randomblob(32), $1, 'change_email', 1, 2, 'new@example.com')`, userID)
	m.refused("version 6 accepted an unknown purpose",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'other', 1, 2)`, userID)
	// The foreign key survived the rebuild: deleting the user takes its
	// tokens.
	other := uuid.NewString()
	m.exec(`INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm6-other@example.com', 'h', 1, 1)`, other)
	m.exec(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'change_email', 1, 2)`, other)
	m.exec(`DELETE FROM users WHERE id = $1`, other)
	if n := m.count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1`, other); n != 0 {
		t.Fatalf("%d tokens of a deleted user left: the foreign key was lost", n)
	}
	m.refused("a token of no user was accepted: the foreign key was lost",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'verify_email', 1, 2)`, uuid.NewString())

	m.down()
	if n := m.count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1`, userID); n != 2 {
		t.Fatalf("after down: %d tokens, want the 2 version 5 holds", n)
	}
	if n := m.count(`SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND password_hash = '$argon2id$reg' AND used_at IS NULL`, userID); n != 1 {
		t.Fatal("after down: the registration token lost its password hash")
	}
	m.refused("version 5 accepted a change-email token",
		`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'change_email', 1, 2)`, userID)
	if n := m.count(`SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'`); n != 1 || m.count(`SELECT count(*) FROM pragma_integrity_check`) != 1 {
		t.Fatal("integrity_check: not ok")
	}
	if n := m.count(`SELECT count(*) FROM pragma_foreign_key_check`); n != 0 {
		t.Fatalf("foreign_key_check: %d rows", n)
	}
	m.up()
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

// upSection is the Up part of an embedded migration file.
func upSection(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(migrations.SQLite, name)
	if err != nil {
		t.Fatal(err)
	}
	up, _, ok := strings.Cut(string(b), "-- +goose Down")
	if !ok || !strings.Contains(up, "-- +goose Up") {
		t.Fatalf("%s: no Up and Down sections", name)
	}
	return up
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
