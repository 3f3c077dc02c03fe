// Package pgtest gives tests a fresh, migrated PostgreSQL database of their
// own, so that tests can run in parallel without truncating tables.
//
// One database per test package: the first call to New or URL creates
// gatehouse_test_<random> on the server named by GATEHOUSE_TEST_DATABASE_URL
// (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) and
// migrates it; the package's TestMain calls RunMain, which drops it after
// the tests:
//
//	func TestMain(m *testing.M) { pgtest.RunMain(m) }
//
// When the server cannot be reached the test fails (never skips) with a
// hint on how to start one.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the variable holding the URL of the server tests create
// their databases on. Its role must be allowed to create databases.
const EnvURL = "GATEHOUSE_TEST_DATABASE_URL"

// DefaultURL is used when EnvURL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

const hint = "PostgreSQL is needed for these tests. Start the local server with\n" +
	"\tpg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n" +
	"or point " + EnvURL + " at a server whose role may create databases."

var shared struct {
	once sync.Once
	name string // database name
	url  string
	pool *pgxpool.Pool
	err  error
}

// New returns a pool on the package's fresh, migrated database, creating
// the database on first use. The pool is shared by every test of the
// package and closed by RunMain; do not close it.
func New(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	setup(tb)
	return shared.pool
}

// URL returns the connection URL of the package's fresh, migrated
// database (for tests that build their own pool or the whole app).
func URL(tb testing.TB) string {
	tb.Helper()
	setup(tb)
	return shared.url
}

// NewEmptyDatabase creates another fresh database, not migrated, for a test
// that needs one to itself (migration tests, say), returns its URL and
// drops it when tb's test ends.
func NewEmptyDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, dbURL, err := createDatabase(ctx)
	if err != nil {
		tb.Fatalf("pgtest: %v\n%s", err, hint)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropDatabase(ctx, name); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return dbURL
}

// NewPrivate creates another fresh database, migrated, for a test that
// needs one to itself (tables of a size of its own, say), and returns a
// pool on it; the pool is closed and the database dropped when tb's test
// ends.
func NewPrivate(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	dbURL := NewEmptyDatabase(tb)
	if err := postgres.MigrateUp(context.Background(), dbURL); err != nil {
		tb.Fatal(err)
	}
	return Pool(tb, dbURL)
}

// Pool opens a pool on dbURL, closed when tb's test ends.
func Pool(tb testing.TB, dbURL string) *pgxpool.Pool {
	tb.Helper()
	pool, err := postgres.NewPool(context.Background(), dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// RunMain runs the package's tests, then closes the shared pool, drops the
// package's database (if one was made) and exits with the tests' code.
// Call it from TestMain.
func RunMain(m *testing.M) {
	code := m.Run()
	if shared.pool != nil {
		shared.pool.Close()
	}
	if shared.name != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := dropDatabase(ctx, shared.name); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		cancel()
	}
	os.Exit(code)
}

func setup(tb testing.TB) {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		name, dbURL, err := createDatabase(ctx)
		if err != nil {
			shared.err = err
			return
		}
		shared.name, shared.url = name, dbURL
		if err := postgres.MigrateUp(ctx, dbURL); err != nil {
			shared.err = fmt.Errorf("migrate %s: %w", name, err)
			return
		}
		pool, err := postgres.NewPool(ctx, dbURL)
		if err != nil {
			shared.err = err
			return
		}
		shared.pool = pool
	})
	if shared.err != nil {
		tb.Fatalf("pgtest: %v\n%s", shared.err, hint)
	}
}

// serverURL is the URL of the server (maintenance database) tests use.
func serverURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

func adminConn(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(serverURL())
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid database URL", EnvURL)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the test server %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	return conn, nil
}

// createDatabase creates gatehouse_test_<random> and returns its name and
// URL.
func createDatabase(ctx context.Context) (name, dbURL string, err error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	name = "gatehouse_test_" + hex.EncodeToString(b[:])
	conn, err := adminConn(ctx)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, withDatabase(serverURL(), name), nil
}

func dropDatabase(ctx context.Context, name string) error {
	conn, err := adminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// withDatabase returns base (a URL or a keyword/value string) pointing at
// database name.
func withDatabase(base, name string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		if u, err := url.Parse(base); err == nil {
			u.Path = "/" + name
			u.RawPath = ""
			return u.String()
		}
	}
	return base + " dbname=" + name
}
