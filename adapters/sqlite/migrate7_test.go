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
	path := freshPath(t)
	if err := sqlite.MigrateUpTo(ctx, path, 7); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.MigrateDown(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got, want := schema(t, openRaw(t, path)), schema(t, ref); got != want {
		t.Fatalf("schema after down from 7 differs from versions 1-6:\n--- got\n%s\n--- want\n%s", got, want)
	}
	if err := sqlite.MigrateUpTo(ctx, path, 7); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
