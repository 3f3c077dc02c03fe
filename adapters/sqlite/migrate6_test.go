package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

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
	ctx := context.Background()

	ref := schemaBefore(t, "00006")

	// The database under test: at version 5 with data, then up to 6.
	path, db := migratedTo(t, 6)
	downMatches(t, path, db, ref)
	userID := uuid.NewString()
	mustExec(t, db, `INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm6@example.com', 'h', 1, 1)`, userID)
	mustExec(t, db, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash)
		VALUES (randomblob(32), $1, 'verify_email', 1, 2, NULL, '$argon2id$reg'), (randomblob(32), $1, 'reset_password', 1, 2, 3, NULL)`, userID)
	if err := sqlite.MigrateUpTo(ctx, path, 6); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND new_email IS NULL`, userID); n != 2 {
		t.Fatalf("after up: %d of the 2 tokens", n)
	}
	mustExec(t, db, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, new_email)
		VALUES (randomblob(32), $1, 'change_email', 1, 2, 'new@example.com')`, userID)
	if _, err := db.ExecContext(ctx, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'other', 1, 2)`, userID); err == nil {
		t.Fatal("version 6 accepted an unknown purpose")
	}
	// The foreign key survived the rebuild: deleting the user takes its
	// tokens.
	other := uuid.NewString()
	mustExec(t, db, `INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES ($1, 'm6-other@example.com', 'h', 1, 1)`, other)
	mustExec(t, db, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'change_email', 1, 2)`, other)
	mustExec(t, db, `DELETE FROM users WHERE id = $1`, other)
	if n := countRows(t, db, `SELECT count(*) FROM one_time_tokens WHERE user_id = $1`, other); n != 0 {
		t.Fatalf("%d tokens of a deleted user left: the foreign key was lost", n)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'verify_email', 1, 2)`, uuid.NewString()); err == nil {
		t.Fatal("a token of no user was accepted: the foreign key was lost")
	}

	if err := sqlite.MigrateDown(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got, want := schema(t, db), schema(t, ref); got != want {
		t.Fatalf("schema after the second down differs from versions 1-5:\n--- got\n%s\n--- want\n%s", got, want)
	}
	if n := countRows(t, db, `SELECT count(*) FROM one_time_tokens WHERE user_id = $1`, userID); n != 2 {
		t.Fatalf("after down: %d tokens, want the 2 version 5 holds", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND password_hash = '$argon2id$reg' AND used_at IS NULL`, userID); n != 1 {
		t.Fatal("after down: the registration token lost its password hash")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (randomblob(32), $1, 'change_email', 1, 2)`, userID); err == nil {
		t.Fatal("version 5 accepted a change-email token")
	}
	for _, check := range []string{`PRAGMA integrity_check`, `PRAGMA foreign_key_check`} {
		rows, err := db.QueryContext(ctx, check)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var s sql.NullString
			if err := rows.Scan(&s); err != nil {
				t.Fatalf("%s: %v", check, err)
			}
			out = append(out, s.String)
		}
		rows.Close()
		if check == `PRAGMA integrity_check` && !slices.Equal(out, []string{"ok"}) || check == `PRAGMA foreign_key_check` && len(out) != 0 {
			t.Fatalf("%s: %v", check, out)
		}
	}
	if err := sqlite.MigrateUpTo(ctx, path, 6); err != nil {
		t.Fatal(err)
	}
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

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func countRows(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
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
