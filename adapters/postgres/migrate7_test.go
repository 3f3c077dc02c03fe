package postgres_test

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/migrations"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migratedTo is a fresh database migrated up to version, a pool on it,
// and an exec that fails the test on an error.
func migratedTo(t *testing.T, version int64) (string, *pgxpool.Pool, func(sql string, args ...any)) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.NewEmptyDatabase(t)
	if err := postgres.MigrateUpTo(ctx, url, version); err != nil {
		t.Fatal(err)
	}
	db := openPool(t, url)
	return url, db, func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// schemaBefore is a fresh database holding the Up sections of the
// migrations whose files sort before prefix, run by hand: the schema a
// Down section must give back.
func schemaBefore(t *testing.T, prefix string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	ref := openPool(t, pgtest.NewEmptyDatabase(t))
	files, err := fs.Glob(migrations.Postgres, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	for _, f := range files {
		if f >= prefix {
			break
		}
		b, err := fs.ReadFile(migrations.Postgres, f)
		if err != nil {
			t.Fatal(err)
		}
		up, _, ok := strings.Cut(string(b), "-- +goose Down")
		if !ok {
			t.Fatalf("%s: no Down section", f)
		}
		if _, err := ref.Exec(ctx, up); err != nil {
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
	url, db, _ := migratedTo(t, 7)
	downMatches(t, url, db, ref)
	if err := postgres.MigrateUpTo(ctx, url, 7); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// downMatches migrates the database at url one version down and fails
// unless db (a pool on it) then has exactly the schema of ref.
func downMatches(t *testing.T, url string, db, ref *pgxpool.Pool) {
	t.Helper()
	if err := postgres.MigrateDown(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	if got, want := pgSchema(t, db), pgSchema(t, ref); got != want {
		t.Fatalf("schema after down differs from the versions before:\n--- got\n%s\n--- want\n%s", got, want)
	}
}
