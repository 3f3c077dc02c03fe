package postgres

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/storage"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// Config is a PostgreSQL store: the storage.Adapter cmd picks for a
// postgres:// GATEHOUSE_DATABASE_URL.
type Config struct {
	URL string
	// MigrateWait is how long MigrateUp waits for a server that is still
	// starting (or not listening yet); 0 tries once. Log hears of each
	// retry.
	MigrateWait time.Duration
	Log         *zap.Logger
}

var _ storage.Adapter = Config{}

// Open opens the pool (lazily: the server need not be up yet) and returns
// the store on it; Close closes the pool.
func (c Config) Open(ctx context.Context) (*storage.Store, error) {
	pool, err := NewPool(ctx, c.URL)
	if err != nil {
		return nil, err
	}
	return open(pool), nil
}

// open is the store on pool.
func open(pool *pgxpool.Pool) *storage.Store {
	return store(pool).Storage(storage.Store{
		Tx:      NewTxManager(pool),
		Limiter: NewRateLimiter(pool),
		Ready:   func(ctx context.Context) error { return Ping(ctx, pool) },
		Conns:   []storage.ConnGroup{{Name: "postgres", Stats: func() storage.ConnStats { return connStats(pool) }}},
		Close:   pool.Close,
	})
}

func connStats(pool *pgxpool.Pool) storage.ConnStats {
	s := pool.Stat()
	return storage.ConnStats{
		Acquired: int(s.AcquiredConns()), Idle: int(s.IdleConns()), Total: int(s.TotalConns()), Max: int(s.MaxConns()),
		Acquires: s.AcquireCount(), Waits: s.EmptyAcquireCount(), WaitTime: s.EmptyAcquireWaitTime(),
	}
}

// Own does nothing: any number of instances share a PostgreSQL store.
func (Config) Own() (func(), error) { return func() {}, nil }

// MigrateUp applies every pending migration, waiting up to MigrateWait for
// a server that is still starting (compose's healthcheck covers most of
// that). The advisory lock makes concurrent starts safe. A refusal that
// waiting cannot cure (no such database or role, a wrong password) fails
// at once, with a hint.
func (c Config) MigrateUp(ctx context.Context) error {
	deadline := time.Now().Add(c.MigrateWait)
	for {
		err := MigrateUp(ctx, c.URL)
		if refusal := dbRefusal(c.URL, err); refusal != nil {
			return refusal
		}
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		if c.Log != nil {
			c.Log.Warn("database not ready for migrations, retrying", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// MigrateDown rolls back the most recent migration.
func (c Config) MigrateDown(ctx context.Context) error {
	return c.Explain(MigrateDown(ctx, c.URL))
}

// MigrateStatus lists the migrations on w.
func (c Config) MigrateStatus(ctx context.Context, w io.Writer) error {
	return c.Explain(MigrateStatus(ctx, c.URL, w))
}

// Backup is pg_dump's job.
func (Config) Backup(context.Context, string) error {
	return errors.New("backup copies the embedded store; on PostgreSQL use pg_dump (for example: pg_dump --format=custom --file=gatehouse.dump \"$GATEHOUSE_DATABASE_URL\")")
}

// Explain is the hint for a server refusing the connection for good, or
// err as it is.
func (c Config) Explain(err error) error { return orRefusal(c.URL, err) }
