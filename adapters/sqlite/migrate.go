package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/migrations"
	"github.com/pressly/goose/v3"
)

const (
	// migrateLockWait bounds the wait for another migrating process.
	migrateLockWait = 5 * time.Minute
	// migrateLockPoll is how often the lock is tried meanwhile.
	migrateLockPoll = 100 * time.Millisecond
)

// MigrateUp applies every pending migration to the database file at path,
// creating the file (0600) and its directory (0700) when missing.
// Processes migrating one file at once are serialized by a lock on
// <path>.migrate.lock; the ones that wait find nothing left to do. It works
// while a server runs on the file. Nothing is logged.
func MigrateUp(ctx context.Context, path string) error {
	abs, err := prepareFile(path)
	if err != nil {
		return err
	}
	return withProvider(ctx, abs, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("sqlite: migrate up: %w", err)
		}
		return nil
	})
}

// MigrateDown rolls back the most recent migration (one step). The file
// must exist.
func MigrateDown(ctx context.Context, path string) error {
	abs, err := existing(path)
	if err != nil {
		return fmt.Errorf("sqlite: migrate down: %w", err)
	}
	return withProvider(ctx, abs, func(p *goose.Provider) error {
		if _, err := p.Down(ctx); err != nil {
			return fmt.Errorf("sqlite: migrate down: %w", err)
		}
		return nil
	})
}

// MigrateStatus writes one line per known migration to w: version, state
// (applied or pending), when it was applied, and its file. A missing file
// is reported with every migration pending, and is not created.
func MigrateStatus(ctx context.Context, path string, w io.Writer) error {
	abs, err := absPath(path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		p, err := newProvider(nil, abs)
		if err != nil {
			return err
		}
		var st []*goose.MigrationStatus
		for _, s := range p.ListSources() {
			st = append(st, &goose.MigrationStatus{Source: s, State: goose.StatePending})
		}
		return sqlstore.WriteMigrationStatus(w, st)
	}
	return withProvider(ctx, abs, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("sqlite: migrate status: %w", err)
		}
		return sqlstore.WriteMigrationStatus(w, st)
	})
}

// existing is absPath for a file that must exist.
func existing(path string) (string, error) {
	abs, err := absPath(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", err
	}
	return abs, nil
}

// withProvider opens a one-connection database/sql handle on the file at
// abs (the same settings as the DB's writer), builds a quiet goose provider
// over the embedded SQLite migrations with the migration file lock, and
// runs fn.
func withProvider(ctx context.Context, abs string, fn func(p *goose.Provider) error) (err error) {
	db, err := sql.Open("sqlite", dsn(abs, url.Values{"_txlock": {"immediate"}, "_journal_mode": {"WAL"}}))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("sqlite: close migration connection: %w", cerr))
		}
	}()
	db.SetMaxOpenConns(1)
	p, err := newProvider(db, abs)
	if err != nil {
		return err
	}
	return fn(p)
}

func newProvider(db *sql.DB, abs string) (*goose.Provider, error) {
	if db == nil {
		// ListSources needs no connection; sql.Open does not connect.
		var err error
		if db, err = sql.Open("sqlite", dsn(abs, nil)); err != nil {
			return nil, fmt.Errorf("sqlite: migrations: %w", err)
		}
		defer db.Close()
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.SQLite,
		goose.WithLocker(&fileLocker{path: abs + ".migrate.lock"}),
		goose.WithDisableGlobalRegistry(true),
		goose.WithVerbose(false),
	)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return p, nil
}

// fileLocker is a goose lock.Locker on a lock file: it serializes
// processes migrating one database file.
type fileLocker struct {
	path string
	f    *os.File
}

// Lock takes the lock, trying every migrateLockPoll for up to
// migrateLockWait. Where file locks are not supported it does nothing.
func (l *fileLocker) Lock(ctx context.Context, _ *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, migrateLockWait)
	defer cancel()
	for {
		f, err := tryLock(l.path)
		switch {
		case err == nil:
			l.f = f
			return nil
		case errors.Is(err, errLockUnsupported):
			return nil
		case !errors.Is(err, errLocked):
			return fmt.Errorf("sqlite: migration lock %s: %w", l.path, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlite: migration lock %s held by another process: %w", l.path, ctx.Err())
		case <-time.After(migrateLockPoll):
		}
	}
}

// Unlock gives the lock up.
func (l *fileLocker) Unlock(context.Context, *sql.DB) error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
