package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// MigrateUp applies every pending migration. Instances migrating at once
// are serialized by a session-level advisory lock; the ones that wait find
// nothing left to do. Nothing is logged.
func MigrateUp(ctx context.Context, url string) error {
	return withProvider(ctx, url, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("postgres: migrate up: %w", err)
		}
		return nil
	})
}

// MigrateDown rolls back the most recent migration (one step).
func MigrateDown(ctx context.Context, url string) error {
	return withProvider(ctx, url, func(p *goose.Provider) error {
		if _, err := p.Down(ctx); err != nil {
			return fmt.Errorf("postgres: migrate down: %w", err)
		}
		return nil
	})
}

// MigrateStatus writes one line per known migration to w: version, state
// (applied or pending), when it was applied, and its file.
func MigrateStatus(ctx context.Context, url string, w io.Writer) error {
	return withProvider(ctx, url, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("postgres: migrate status: %w", err)
		}
		return sqlstore.WriteMigrationStatus(w, st)
	})
}

// withProvider opens a database/sql handle on url, builds a quiet goose
// provider over the embedded migrations with a Postgres session lock
// (retried every second for up to five minutes), and runs fn.
func withProvider(ctx context.Context, url string, fn func(p *goose.Provider) error) (err error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return errBadURL
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.Tracer = nil
	db := stdlib.OpenDB(*cfg)
	defer func() { err = errors.Join(err, closeDB(db)) }()

	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Postgres,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithVerbose(false),
	)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	return fn(p)
}

func closeDB(db *sql.DB) error {
	if err := db.Close(); err != nil {
		return fmt.Errorf("postgres: close migration connection: %w", err)
	}
	return nil
}
