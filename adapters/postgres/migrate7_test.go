package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/migrations"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migration is one migration's round trip: a fresh database of the
// test's own, a pool on it, and the schema before the migration.
type migration struct {
	t       *testing.T
	version int64
	url     string
	db, ref *pgxpool.Pool
}

// migratedTo is a fresh database migrated up to from, for the round trip
// of migration version; its ref holds the Up sections of the migrations
// before version, run by hand.
func migratedTo(t *testing.T, version, from int64) *migration {
	t.Helper()
	m := &migration{t: t, version: version, url: pgtest.NewEmptyDatabase(t), ref: schemaBefore(t, fmt.Sprintf("%05d", version))}
	if err := postgres.MigrateUpTo(context.Background(), m.url, from); err != nil {
		t.Fatal(err)
	}
	m.db = openPool(t, m.url)
	return m
}

// exec runs one statement and fails the test on an error.
func (m *migration) exec(sql string, args ...any) {
	m.t.Helper()
	if _, err := m.db.Exec(context.Background(), sql, args...); err != nil {
		m.t.Fatalf("%s: %v", sql, err)
	}
}

// refused fails the test with why when the schema accepts the statement.
func (m *migration) refused(why, sql string, args ...any) {
	m.t.Helper()
	if _, err := m.db.Exec(context.Background(), sql, args...); err == nil {
		m.t.Fatal(why)
	}
}

// count runs one SELECT count(*) ... query.
func (m *migration) count(sql string, args ...any) int {
	m.t.Helper()
	var n int
	if err := m.db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		m.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// up migrates up to the version under test.
func (m *migration) up() {
	m.t.Helper()
	if err := postgres.MigrateUpTo(context.Background(), m.url, m.version); err != nil {
		m.t.Fatal(err)
	}
}

// down migrates one version down and fails unless the database then has
// exactly the schema of ref.
func (m *migration) down() {
	m.t.Helper()
	if err := postgres.MigrateDown(context.Background(), m.url); err != nil {
		m.t.Fatal(err)
	}
	if got, want := pgSchema(m.t, m.db), pgSchema(m.t, m.ref); got != want {
		m.t.Fatalf("schema after down differs from the versions before:\n--- got\n%s\n--- want\n%s", got, want)
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
	m := migratedTo(t, 7, 7)
	m.down()
	m.up()
}
