package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/migrations"
)

// schemaBefore is a fresh file holding the Up sections of the migrations
// whose files sort before prefix, run by hand: the schema a Down section
// must give back.
func schemaBefore(t *testing.T, prefix string) *sql.DB {
	t.Helper()
	ref := openRaw(t, freshPath(t))
	files, err := fs.Glob(migrations.SQLite, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	for _, f := range files {
		if f >= prefix {
			break
		}
		if _, err := ref.ExecContext(context.Background(), upSection(t, f)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return ref
}

// migration is one migration's round trip: a database file of the
// test's own, a raw connection to it, and the schema before the migration.
type migration struct {
	t       *testing.T
	version int64
	path    string
	db, ref *sql.DB
}

// migratedTo is a fresh file migrated up to from, for the round trip of
// migration version; its ref holds the Up sections of the migrations
// before version, run by hand.
func migratedTo(t *testing.T, version, from int64) *migration {
	t.Helper()
	m := &migration{t: t, version: version, path: freshPath(t), ref: schemaBefore(t, fmt.Sprintf("%05d", version))}
	if err := sqlite.MigrateUpTo(context.Background(), m.path, from); err != nil {
		t.Fatal(err)
	}
	m.db = openRaw(t, m.path)
	return m
}

// exec runs one statement and fails the test on an error.
func (m *migration) exec(q string, args ...any) {
	m.t.Helper()
	if _, err := m.db.ExecContext(context.Background(), q, args...); err != nil {
		m.t.Fatalf("%s: %v", q, err)
	}
}

// refused fails the test with why when the schema accepts the statement.
func (m *migration) refused(why, q string, args ...any) {
	m.t.Helper()
	if _, err := m.db.ExecContext(context.Background(), q, args...); err == nil {
		m.t.Fatal(why)
	}
}

// count runs one SELECT count(*) ... query.
func (m *migration) count(q string, args ...any) int {
	m.t.Helper()
	var n int
	if err := m.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		m.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// up migrates up to the version under test.
func (m *migration) up() {
	m.t.Helper()
	if err := sqlite.MigrateUpTo(context.Background(), m.path, m.version); err != nil {
		m.t.Fatal(err)
	}
}

// down migrates one version down and fails unless the file then has
// exactly the schema of ref.
func (m *migration) down() {
	m.t.Helper()
	if err := sqlite.MigrateDown(context.Background(), m.path); err != nil {
		m.t.Fatal(err)
	}
	if got, want := schema(m.t, m.db), schema(m.t, m.ref); got != want {
		m.t.Fatalf("schema after down differs from the versions before:\n--- got\n%s\n--- want\n%s", got, want)
	}
}

// Migration 7 (the key ring and settings) rolls back exactly, and goes up
// again.
func TestMigration7RoundTrip(t *testing.T) {
	t.Parallel()
	m := migratedTo(t, 7, 7)
	m.down()
	m.up()
}
