package main

// Looking into the store of a test, whichever it is: database/sql on
// PostgreSQL (pgx's stdlib driver) or on the embedded store's file
// (modernc.org/sqlite, beside the serving process: WAL lets other
// connections read and write), with SQL both accept ($1 placeholders,
// CAST, ||, ->>). What the two spell differently is in storeDB's methods
// below, and nowhere else.

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"reflect"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"go.uber.org/zap"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// storeDB is the store of an environment opened with database/sql.
type storeDB struct {
	*sql.DB
	kind storeKind
}

// storeOf is where an environment keeps its data, as serve resolves it.
func storeOf(t *testing.T, env map[string]string) store {
	t.Helper()
	cfg, err := LoadConfig(env)
	if err != nil {
		t.Fatalf("configuration of the test instance: %v", err)
	}
	return cfg.store
}

// sqliteDSN is the driver's name for the database file at path, waiting
// up to 5 s for a lock the serving process holds.
func sqliteDSN(path string) string {
	return (&url.URL{Scheme: "file", Path: path, RawQuery: "_pragma=busy_timeout(5000)"}).String()
}

// openStore opens the store env points at, for tests that check what was
// stored; it is closed when the test ends.
func openStore(t *testing.T, env map[string]string) storeDB {
	t.Helper()
	s := storeOf(t, env)
	var (
		db  *sql.DB
		err error
	)
	switch s.Kind {
	case storePostgres:
		db, err = sql.Open("pgx", s.URL)
	case storeSQLite:
		db, err = sql.Open("sqlite", sqliteDSN(s.Path))
	default:
		t.Fatalf("unknown store kind %q", s.Kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return storeDB{DB: db, kind: s.Kind}
}

// openSQLiteFile opens a database file (a backup, say) with database/sql.
func openSQLiteFile(t *testing.T, path string) storeDB {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return storeDB{DB: db, kind: storeSQLite}
}

// bytesAsText is SQL for the bytes of a binary column (PostgreSQL bytea,
// SQLite BLOB) as text, for searching them with LIKE.
func (d storeDB) bytesAsText(col string) string {
	if d.kind == storeSQLite {
		return "CAST(" + col + " AS TEXT)"
	}
	return "encode(" + col + ", 'escape')"
}

// jsonAsText is SQL for a JSON column (PostgreSQL jsonb, SQLite TEXT) as
// its text.
func (d storeDB) jsonAsText(col string) string { return "CAST(" + col + " AS TEXT)" }

func (d storeDB) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// row scans the one row of query into dest.
func (d storeDB) row(t *testing.T, query string, args []any, dest ...any) {
	t.Helper()
	if err := d.QueryRowContext(d.ctx(t), query, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// count is the integer the query selects.
func (d storeDB) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	d.row(t, query, args, &n)
	return n
}

// text is the string the query selects.
func (d storeDB) text(t *testing.T, query string, args ...any) string {
	t.Helper()
	var s string
	d.row(t, query, args, &s)
	return s
}

// texts are the strings the query selects, one a row.
func (d storeDB) texts(t *testing.T, query string, args ...any) []string {
	t.Helper()
	rows, err := d.QueryContext(d.ctx(t), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// exec runs a statement.
func (d storeDB) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := d.ExecContext(d.ctx(t), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// dump is every value of every row of table, each followed by a zero byte
// (bytes as they are, anything else as fmt prints it), and the number of
// rows: for searching a table for what it must not hold.
func (d storeDB) dump(t *testing.T, table string) ([]byte, int) {
	t.Helper()
	rows, err := d.QueryContext(d.ctx(t), `SELECT * FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				out.Write(b)
			} else {
				fmt.Fprint(&out, v)
			}
			out.WriteByte(0)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), n
}

// TestEachStoreOpensWhole: the adapter the one switch picks for each store
// fills every field of storage.Store (a field left nil would fail only
// when the service first used it), and the store it opens is that store
// and answers.
func TestEachStoreOpensWhole(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		cfg, err := LoadConfig(baseEnv(t, st, nil))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a := cfg.storage(0, zap.NewNop())
		if err := a.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		s, err := a.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, v := range []reflect.Value{reflect.ValueOf(*s), reflect.ValueOf(s.Repos)} {
			for i := range v.NumField() {
				name := v.Type().Field(i).Name
				if name == "SecretKeyFile" { // "": the store keeps the key in its settings
					continue
				}
				if v.Field(i).IsZero() {
					t.Errorf("%s: %s.%s is not set", st, v.Type().Name(), name)
				}
			}
		}
		if s.Info.Kind() != string(st) {
			t.Errorf("the store opened for %s says it is %s", st, s.Info.Kind())
		}
		if (s.SecretKeyFile != "") != (st == onSQLite) {
			t.Errorf("%s keeps a generated secret key in %q", st, s.SecretKeyFile)
		}
		if err := s.Ready(ctx); err != nil {
			t.Errorf("%s: not ready: %v", st, err)
		}
		if v, err := s.Info.SchemaVersion(ctx); err != nil || v == 0 {
			t.Errorf("%s: schema version %d, %v after MigrateUp", st, v, err)
		}
		for _, c := range s.Conns {
			if c.Name == "" || c.Stats().Max == 0 {
				t.Errorf("%s: connection group %+v", st, c)
			}
		}
	})
}
