package sqlite_test

import (
	"context"
	"database/sql"
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

// Migration 7 (the key ring and settings) rolls back exactly, and goes up
// again.
func TestMigration7RoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := schemaBefore(t, "00007")
	path, db := migratedTo(t, 7)
	downMatches(t, path, db, ref)
	if err := sqlite.MigrateUpTo(ctx, path, 7); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// migratedTo is a database file of the test's own migrated up to version,
// and a raw connection to it.
func migratedTo(t *testing.T, version int64) (string, *sql.DB) {
	t.Helper()
	path := freshPath(t)
	if err := sqlite.MigrateUpTo(context.Background(), path, version); err != nil {
		t.Fatal(err)
	}
	return path, openRaw(t, path)
}

// downMatches migrates path one version down and fails unless db (a raw
// connection to it) then has exactly the schema of ref.
func downMatches(t *testing.T, path string, db, ref *sql.DB) {
	t.Helper()
	if err := sqlite.MigrateDown(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if got, want := schema(t, db), schema(t, ref); got != want {
		t.Fatalf("schema after down differs from the versions before:\n--- got\n%s\n--- want\n%s", got, want)
	}
}
