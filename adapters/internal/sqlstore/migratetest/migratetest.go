// Package migratetest is the round trip of one migration, for the
// migration tests of both stores: a database of the test's own migrated up
// to the version under test and back down, whose schema after going down
// must be exactly that of the migrations before it applied by hand.
package migratetest

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// DB runs statements on a database of the test's own.
type DB struct {
	exec  func(query string, args ...any) error
	count func(query string, args ...any) (int, error)
}

// On is the database whose exec and queryRow run statements: a pgx pool's
// Exec and QueryRow, or a database/sql DB's ExecContext and
// QueryRowContext.
func On[R any, Row interface{ Scan(dest ...any) error }](exec func(context.Context, string, ...any) (R, error), queryRow func(context.Context, string, ...any) Row) DB {
	ctx := context.Background()
	return DB{
		exec: func(query string, args ...any) error {
			_, err := exec(ctx, query, args...)
			return err
		},
		count: func(query string, args ...any) (int, error) {
			var n int
			err := queryRow(ctx, query, args...).Scan(&n)
			return n, err
		},
	}
}

// Store is a store's side of a round trip.
type Store struct {
	// DB is the database under test.
	DB DB
	// Schema describes the application tables of the database under test,
	// and Ref those of the reference: the migrations before the version
	// under test, applied by hand (see ApplyBefore).
	Schema, Ref func() string
	// UpTo migrates the database under test up to a version, and Down one
	// version down.
	UpTo func(version int64) error
	Down func() error
}

// Migration is the round trip of one migration.
type Migration struct {
	t       *testing.T
	version int64
	s       Store
}

// New is the round trip of migration version on s, whose database it
// migrates up to from.
func New(t *testing.T, version, from int64, s Store) *Migration {
	t.Helper()
	if err := s.UpTo(from); err != nil {
		t.Fatal(err)
	}
	return &Migration{t: t, version: version, s: s}
}

// Exec runs one statement and fails the test on an error.
func (m *Migration) Exec(query string, args ...any) {
	m.t.Helper()
	if err := m.s.DB.exec(query, args...); err != nil {
		m.t.Fatalf("%s: %v", query, err)
	}
}

// Refused fails the test with why when the schema accepts the statement.
func (m *Migration) Refused(why, query string, args ...any) {
	m.t.Helper()
	if err := m.s.DB.exec(query, args...); err == nil {
		m.t.Fatal(why)
	}
}

// Count runs one SELECT count(*) ... query.
func (m *Migration) Count(query string, args ...any) int {
	m.t.Helper()
	n, err := m.s.DB.count(query, args...)
	if err != nil {
		m.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Up migrates up to the version under test.
func (m *Migration) Up() {
	m.t.Helper()
	if err := m.s.UpTo(m.version); err != nil {
		m.t.Fatal(err)
	}
}

// Down migrates one version down and fails unless the database then has
// exactly the schema of the reference.
func (m *Migration) Down() {
	m.t.Helper()
	if err := m.s.Down(); err != nil {
		m.t.Fatal(err)
	}
	if got, want := m.s.Schema(), m.s.Ref(); got != want {
		m.t.Fatalf("schema after down differs from the versions before:\n--- got\n%s\n--- want\n%s", got, want)
	}
}

// ApplyBefore runs on ref the Up sections of the migrations in fsys whose
// files sort before version's, in order: the schema a Down section must
// give back.
func ApplyBefore(t *testing.T, fsys fs.FS, version int64, ref DB) {
	t.Helper()
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	prefix := fmt.Sprintf("%05d", version)
	for _, f := range files {
		if f >= prefix {
			break
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		up, _, ok := strings.Cut(string(b), "-- +goose Down")
		if !ok || !strings.Contains(up, "-- +goose Up") {
			t.Fatalf("%s: no Up and Down sections", f)
		}
		if err := ref.exec(up); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}
