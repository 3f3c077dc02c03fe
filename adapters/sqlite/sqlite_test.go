package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/migrations"
	"github.com/google/uuid"
)

// Every connection of both pools runs with the settings the package
// promises, the readers read-only.
func TestPragmasOnEveryConnection(t *testing.T) {
	t.Parallel()
	db, _ := openFresh(t)
	writer, readers := sqlite.Pools(db)
	ctx := context.Background()
	check := func(name string, c *sql.Conn, queryOnly int) {
		t.Helper()
		want := map[string]any{"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 1, "query_only": queryOnly, "secure_delete": 1}
		for pragma, w := range want {
			var got any
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", name, pragma, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("%s: %s = %v, want %v", name, pragma, got, w)
			}
		}
	}
	// Hold every reader at once, so that each one is a connection of its
	// own.
	var conns []*sql.Conn
	for i := range sqlite.Readers {
		c, err := readers.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		check(fmt.Sprintf("reader %d", i), c, 1)
	}
	if got := readers.Stats().OpenConnections; got != sqlite.Readers {
		t.Errorf("%d reader connections open, want %d", got, sqlite.Readers)
	}
	for _, c := range conns {
		_ = c.Close()
	}
	c, err := writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("writer", c, 0)
	_ = c.Close()
	if got := writer.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
	// A reader refuses writes.
	if _, err := readers.ExecContext(ctx, `DELETE FROM rate_limits`); err == nil {
		t.Error("a reader accepted a write")
	}
}

// The database file is private, its directory too.
func TestFileModes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new", "dir", "gatehouse.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	for _, bad := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := sqlite.Open(context.Background(), bad); err == nil {
			t.Errorf("Open(%q) accepted", bad)
		}
	}
}

// Many requests writing at once, in transactions and on the pool, never
// fail (no SQLITE_BUSY), and the audit chain they append to stays one.
func TestConcurrentWritersNeverBusy(t *testing.T) {
	t.Parallel()
	db, _ := openFresh(t)
	tx, pool, rl := sqlite.NewTxManager(db), sqlite.NewPoolRepos(db), sqlite.NewRateLimiter(db)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, 10*n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			u := newUser(t)
			err := tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return register(ctx, r, u) })
			if err != nil {
				errs <- fmt.Errorf("Within %d: %w", i, err)
			}
			if err := pool.Users.Create(ctx, newUser(t)); err != nil {
				errs <- fmt.Errorf("pool create %d: %w", i, err)
			}
			if err := pool.Audit.Append(ctx, audit.Event{Type: audit.LoginFailed, At: now()}); err != nil {
				errs <- fmt.Errorf("pool append %d: %w", i, err)
			}
			if _, _, err := rl.Hit(ctx, "k", 1000, time.Minute); err != nil {
				errs <- fmt.Errorf("hit %d: %w", i, err)
			}
			if _, err := pool.Users.ByID(ctx, u.ID()); err != nil {
				errs <- fmt.Errorf("read %d: %w", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checked, err := admin.VerifyAuditChain(ctx, sqlite.OpenStore(db).AuditTrail)
	if err != nil || checked != 2*n {
		t.Fatalf("audit chain: %d records, %v; want %d records", checked, err, 2*n)
	}
	if blocked, _, err := rl.Blocked(ctx, "k", n); err != nil || !blocked {
		t.Fatalf("counter lost hits: blocked=%v err=%v", blocked, err)
	}
}

// Inside Within the writer is taken: a pool-bound write, or a nested
// Within, with fn's context fails at once with ErrWriteInTransaction, and
// pool-bound reads still work.
func TestPoolWriteInsideWithinIsRefused(t *testing.T) {
	t.Parallel()
	db, _ := openFresh(t)
	tx, pool, rl := sqlite.NewTxManager(db), sqlite.NewPoolRepos(db), sqlite.NewRateLimiter(db)
	existing := newUser(t)
	if err := pool.Users.Create(context.Background(), existing); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- tx.Within(context.Background(), func(ctx context.Context, r app.Repos) error {
			inner := newUser(t)
			if err := r.Users.Create(ctx, inner); err != nil {
				return err
			}
			checks := map[string]error{
				"Users.Create": pool.Users.Create(ctx, newUser(t)),
				"Audit.Append": pool.Audit.Append(ctx, audit.Event{Type: audit.Logout, At: now()}),
				"nested Within": tx.Within(ctx, func(context.Context, app.Repos) error {
					return errors.New("nested fn ran")
				}),
			}
			_, _, checks["RateLimiter.Hit"] = rl.Hit(ctx, "nested", 1, time.Minute)
			for name, err := range checks {
				if !errors.Is(err, sqlite.ErrWriteInTransaction) {
					return fmt.Errorf("%s: err = %v, want ErrWriteInTransaction", name, err)
				}
				if errors.Is(err, domain.ErrUnavailable) {
					return fmt.Errorf("%s: a programming error must not look like an outage", name)
				}
			}
			// Reads on the pool work, and see the last commit only.
			if _, err := pool.Users.ByID(ctx, existing.ID()); err != nil {
				return fmt.Errorf("pool read inside Within: %w", err)
			}
			if _, err := pool.Users.ByID(ctx, inner.ID()); !errors.Is(err, user.ErrNotFound) {
				return fmt.Errorf("pool read saw the uncommitted user: %v", err)
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a pool-bound write inside Within hangs")
	}
	// The writer is free again.
	if err := pool.Users.Create(context.Background(), newUser(t)); err != nil {
		t.Fatal(err)
	}
}

// A write waits for the writer at most WriterWait, then fails as
// unavailable; the holder is not disturbed.
func TestWriterWaitIsBounded(t *testing.T) {
	t.Parallel()
	db, _ := openFresh(t)
	tx, pool := sqlite.NewTxManager(db), sqlite.NewPoolRepos(db)
	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- tx.Within(context.Background(), func(ctx context.Context, r app.Repos) error {
			close(held)
			<-release
			return r.Users.Create(ctx, newUser(t))
		})
	}()
	<-held
	begin := time.Now()
	err := pool.Users.Create(context.Background(), newUser(t))
	waited := time.Since(begin)
	close(release)
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if waited < sqlite.WriterWait-100*time.Millisecond || waited > sqlite.WriterWait+10*time.Second {
		t.Errorf("waited %v, want about %v", waited, sqlite.WriterWait)
	}
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	// A canceled wait ends at once with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pool.Users.Create(ctx, newUser(t)); !errors.Is(err, domain.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: err = %v", err)
	}
}

// Errors are translated as in package postgres.
func TestErrorTranslation(t *testing.T) {
	t.Parallel()
	db, path := openFresh(t)
	ctx := context.Background()
	pool := sqlite.NewPoolRepos(db)
	u := newUser(t)
	if err := pool.Users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	sameID, _ := user.New(u.ID(), newUser(t).Email(), u.PasswordHash(), now())
	if err := pool.Users.Create(ctx, sameID); errors.Is(err, user.ErrEmailTaken) || err == nil || errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("duplicate id: err = %v, want a plain error", err)
	}
	twin, _ := user.New(uuid.New(), u.Email(), u.PasswordHash(), now())
	if err := pool.Users.Create(ctx, twin); !errors.Is(err, user.ErrEmailTaken) {
		t.Errorf("duplicate email: err = %v", err)
	}
	s, _ := session.New(uuid.New(), uuid.New(), now(), time.Hour, "", "")
	if err := pool.Sessions.Create(ctx, s); err == nil || errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("foreign key violation: err = %v, want a plain error", err)
	}

	// Not migrated: a missing table is a bug, not an outage.
	empty, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if _, err := sqlite.NewRepos(empty).Users.ByID(ctx, uuid.New()); err == nil || errors.Is(err, domain.ErrUnavailable) || errors.Is(err, user.ErrNotFound) {
		t.Errorf("missing table: err = %v", err)
	}

	// A closed DB is unavailable.
	closed, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Ping":   closed.Ping(ctx),
		"Create": sqlite.NewRepos(closed).Users.Create(ctx, newUser(t)),
		"Within": sqlite.NewTxManager(closed).Within(ctx, func(context.Context, app.Repos) error { return nil }),
		"Append": sqlite.NewRepos(closed).Audit.Append(ctx, audit.Event{Type: audit.Logout, At: now()}),
	}
	_, checks["ByID"] = sqlite.NewRepos(closed).Users.ByID(ctx, u.ID())
	for name, err := range checks {
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("closed %s: err = %v, want ErrUnavailable", name, err)
		}
	}
	if err := closed.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// What is committed survives Close and Open.
func TestDataSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := migratedPath(t)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u := newUser(t)
	if err := sqlite.NewTxManager(db).Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Users.Create(ctx, u); err != nil {
			return err
		}
		return r.Audit.Append(ctx, audit.Event{Type: audit.Registered, UserID: u.ID(), At: now()})
	}); err != nil {
		t.Fatal(err)
	}
	key, err := sqlite.OpenStore(db).Settings.PutIfAbsent(ctx, "reopen", []byte("value-1"), now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WAL left after the last connection closed: %v", err)
	}
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := sqlite.NewRepos(db).Users.ByEmail(ctx, u.Email())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != u.ID() || !got.CreatedAt().Equal(u.CreatedAt()) || got.CreatedAt().Location() != time.UTC {
		t.Errorf("read back %v %v, want %v %v", got.ID(), got.CreatedAt(), u.ID(), u.CreatedAt())
	}
	key2, err := sqlite.OpenStore(db).Settings.PutIfAbsent(ctx, "reopen", []byte("value-2"), now())
	if err != nil || !bytes.Equal(key, key2) {
		t.Errorf("setting after reopen: %q, %v; want %q", key2, err, key)
	}
	if n, err := admin.VerifyAuditChain(ctx, sqlite.OpenStore(db).AuditTrail); err != nil || n != 1 {
		t.Errorf("audit after reopen: %d, %v", n, err)
	}
}

// Migrations go up, down one step and up again; status tells which are
// applied, and a missing file is not created by status.
func TestMigrateRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := freshPath(t)
	status := func() string {
		t.Helper()
		var b strings.Builder
		if err := sqlite.MigrateStatus(ctx, path, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	count := func(out, state string) int { return strings.Count(out, " "+state+" ") }
	files, err := fs.Glob(migrations.SQLite, "*.sql")
	if err != nil || len(files) < 6 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	n, last := len(files), files[len(files)-1]
	// The last version, from its file name: versions may have gaps.
	lastVersion, err := strconv.Atoi(strings.SplitN(last, "_", 2)[0])
	if err != nil {
		t.Fatalf("migration %s: %v", last, err)
	}

	out := status()
	if !strings.HasPrefix(out, "VERSION  STATE    APPLIED AT  MIGRATION\n") || count(out, "pending") != n {
		t.Fatalf("status of a missing file:\n%s", out)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("status created the file: %v", err)
	}
	if err := sqlite.MigrateDown(ctx, path); err == nil {
		t.Fatal("down on a missing file succeeded")
	}
	if err := sqlite.MigrateUp(ctx, path); err != nil {
		t.Fatal(err)
	}
	out = status()
	if count(out, "applied") != n || !strings.Contains(out, last) {
		t.Fatalf("after up:\n%s", out)
	}
	if err := sqlite.MigrateUp(ctx, path); err != nil {
		t.Fatalf("second up: %v", err)
	}
	if err := sqlite.MigrateDown(ctx, path); err != nil {
		t.Fatal(err)
	}
	out = status()
	if count(out, "applied") != n-1 || !strings.Contains(out, fmt.Sprintf("%-8d pending  -", lastVersion)) {
		t.Fatalf("after down:\n%s", out)
	}
	for range n - 1 {
		if err := sqlite.MigrateDown(ctx, path); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'goose%' AND name NOT LIKE 'sqlite%'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("after every down: %d tables left (%v)", tables, err)
	}
	if err := sqlite.MigrateUp(ctx, path); err != nil {
		t.Fatal(err)
	}
	if out := status(); count(out, "applied") != n {
		t.Fatalf("after up again:\n%s", out)
	}
}

// Migrating processes at once are serialized; every one succeeds.
func TestConcurrentMigrateUp(t *testing.T) {
	t.Parallel()
	path := freshPath(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = sqlite.MigrateUp(context.Background(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate %d: %v", i, err)
		}
	}
}

// A backup taken while writes go on is a sound database holding every row
// committed before it began; it is private and never overwrites a file.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	db, path := openFresh(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := sqlite.NewPoolRepos(db)
	for range 100 {
		if err := pool.Users.Create(ctx, newUser(t)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var written atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				err := sqlite.NewTxManager(db).Within(ctx, func(ctx context.Context, r app.Repos) error {
					if err := r.Users.Create(ctx, newUser(t)); err != nil {
						return err
					}
					return r.Audit.Append(ctx, audit.Event{Type: audit.Registered, At: now()})
				})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
				written.Add(1)
			}
		})
	}
	for written.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	dest := filepath.Join(t.TempDir(), "backups", "copy.db")
	if err := db.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	for written.Load() < 40 { // writes went on during the backup
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()

	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	copyDB, err := sqlite.Open(context.Background(), dest)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	w, _ := sqlite.Pools(copyDB)
	var check string
	if err := w.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	var users, events int
	if err := w.QueryRow(`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM audit_events)`).Scan(&users, &events); err != nil {
		t.Fatal(err)
	}
	if users < 120 || users-100 != events {
		t.Errorf("backup holds %d users and %d events: want at least 120 users, one event per registration of the loop (a snapshot of one commit)", users, events)
	}
	if n, err := admin.VerifyAuditChain(context.Background(), sqlite.OpenStore(copyDB).AuditTrail); err != nil || n != events {
		t.Errorf("audit chain of the backup: %d, %v", n, err)
	}

	// Never overwrite: not a backup, not the database itself.
	for _, target := range []string{dest, path} {
		before, _ := os.ReadFile(target)
		err := sqlite.Backup(context.Background(), path, target)
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("backup onto %s: err = %v", target, err)
		}
		after, _ := os.ReadFile(target)
		if !bytes.Equal(before, after) {
			t.Errorf("refused backup changed %s", target)
		}
	}
	if err := sqlite.Backup(context.Background(), filepath.Join(t.TempDir(), "missing.db"), filepath.Join(t.TempDir(), "x.db")); err == nil {
		t.Error("backup of a missing file succeeded")
	}
}

const lockHelperEnv = "GATEHOUSE_SQLITE_LOCK_HELPER"

// TestLockHelper is not a test: TestServeLock runs the test binary with it
// in another process, which tries the serve lock on the file named by
// lockHelperEnv and prints the outcome.
func TestLockHelper(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		t.Skip("helper process only")
	}
	l, err := sqlite.LockForServe(path)
	if err != nil {
		fmt.Println("REFUSED:", err)
		return
	}
	fmt.Println("LOCKED")
	_ = l.Release()
}

// A second serve on one file is refused at once, in this process or
// another, with the message that points to PostgreSQL; after release it
// works again. Other commands work beside a server.
func TestServeLock(t *testing.T) {
	t.Parallel()
	db, path := openFresh(t)
	ctx := context.Background()
	l, err := sqlite.LockForServe(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != path+".lock" {
		t.Errorf("lock file %s", l.Path())
	}
	begin := time.Now()
	_, err = sqlite.LockForServe(path)
	if err == nil {
		t.Fatal("second serve lock granted")
	}
	if time.Since(begin) > time.Second {
		t.Errorf("refusal took %v, want at once", time.Since(begin))
	}
	for _, want := range []string{"embedded mode is one process", "GATEHOUSE_DATABASE_URL=postgres://", fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if !errors.Is(err, sqlite.ErrInUse) {
		t.Errorf("error does not match ErrInUse: %v", err)
	}
	// Another spelling of the same file (a symbolic link to its
	// directory) shares the lock.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Dir(path), link); err == nil {
		if _, err := sqlite.LockForServe(filepath.Join(link, filepath.Base(path))); !errors.Is(err, sqlite.ErrInUse) {
			t.Errorf("lock through a symlink: err = %v", err)
		}
	}
	// Another process is refused too.
	if out := lockHelper(t, path); !strings.HasPrefix(out, "REFUSED:") || !strings.Contains(out, "embedded mode is one process") {
		t.Errorf("other process: %q", out)
	}

	// Commands that do not serve work meanwhile.
	var status strings.Builder
	if err := sqlite.MigrateStatus(ctx, path, &status); err != nil || !strings.Contains(status.String(), "applied") {
		t.Errorf("migrate status beside serve: %v\n%s", err, status.String())
	}
	if err := sqlite.MigrateUp(ctx, path); err != nil {
		t.Errorf("migrate up beside serve: %v", err)
	}
	if err := sqlite.Backup(ctx, path, filepath.Join(t.TempDir(), "b.db")); err != nil {
		t.Errorf("backup beside serve: %v", err)
	}
	if err := sqlite.NewRepos(db).Users.Create(ctx, newUser(t)); err != nil {
		t.Errorf("write beside serve: %v", err)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if out := lockHelper(t, path); out != "LOCKED" {
		t.Errorf("other process after release: %q", out)
	}
	l2, err := sqlite.LockForServe(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	_ = l2.Release()
}

// lockHelper runs TestLockHelper in a child process on path and returns
// its verdict line.
func lockHelper(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "LOCKED") || strings.HasPrefix(line, "REFUSED:") {
			return line
		}
	}
	t.Fatalf("helper said nothing:\n%s", out)
	return ""
}

// A sweep deletes a bounded batch of each kind; the next one goes on.
func TestSweepIsBatched(t *testing.T) {
	t.Parallel()
	db, _ := openFresh(t)
	ctx := context.Background()
	u := newUser(t)
	if err := sqlite.NewRepos(db).Users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	// 6000 sessions that ended long ago, every other one revoked too, each
	// with a refresh token.
	if err := sqlite.ExecRaw(ctx, db, `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at)
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
		SELECT 's-' || i, $1, 1, 1, 2, CASE WHEN i % 2 = 0 THEN 2 END FROM n`, u.ID().String()); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.ExecRaw(ctx, db, `INSERT INTO refresh_tokens (token_hash, session_id, created_at)
		SELECT randomblob(32), id, 1 FROM sessions`); err != nil {
		t.Fatal(err)
	}
	keep := createLiveSession(t, db, u.ID())
	r := sqlite.OpenStore(db).Retention
	for i, want := range []int{5000, 1000, 0} {
		s, err := r.Sweep(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if s.Sessions != want {
			t.Errorf("sweep %d deleted %d sessions, want %d", i, s.Sessions, want)
		}
	}
	_, readers := sqlite.Pools(db)
	var sessions, tokens int
	if err := readers.QueryRow(`SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM refresh_tokens)`).Scan(&sessions, &tokens); err != nil {
		t.Fatal(err)
	}
	if sessions != 1 || tokens != 0 {
		t.Errorf("left %d sessions and %d refresh tokens, want the live session only (refresh tokens go by cascade)", sessions, tokens)
	}
	if _, err := sqlite.NewRepos(db).Sessions.ByID(ctx, keep); err != nil {
		t.Errorf("live session swept: %v", err)
	}
}

func createLiveSession(t *testing.T, db *sqlite.DB, userID uuid.UUID) uuid.UUID {
	t.Helper()
	s, err := session.New(uuid.New(), userID, now(), time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.NewRepos(db).Sessions.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID()
}
