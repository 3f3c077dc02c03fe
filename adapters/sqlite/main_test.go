package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// shared is the package's one fresh, migrated database, in a temporary
// directory removed after the tests.
var shared struct {
	dir string
	db  *sqlite.DB
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gatehouse-sqlite-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shared.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(dir, "shared", "gatehouse.db")
	if err := sqlite.MigrateUp(ctx, path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if shared.db, err = sqlite.Open(ctx, path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := shared.db.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// sharedDB is the package's database; do not close it.
func sharedDB(t testing.TB) *sqlite.DB {
	t.Helper()
	return shared.db
}

// freshPath is the path of a database file of the test's own (not created).
func freshPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "gatehouse.db")
}

// migratedPath is the path of a migrated database file of the test's own.
func migratedPath(t testing.TB) string {
	t.Helper()
	path := freshPath(t)
	if err := sqlite.MigrateUp(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	return path
}

// openFresh migrates and opens a database of the test's own, closed when
// the test ends.
func openFresh(t testing.TB) (*sqlite.DB, string) {
	t.Helper()
	path := migratedPath(t)
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db, path
}

// now is a fixed-precision current time, as the store keeps it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newUser(t testing.TB) *user.User {
	t.Helper()
	e, err := user.ParseEmail("u-" + uuid.NewString() + "@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.New(uuid.New(), e, "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", now())
	if err != nil {
		t.Fatal(err)
	}
	return u
}
