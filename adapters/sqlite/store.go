package sqlite

import (
	"context"
	"database/sql"
	"io"

	"github.com/gatehouse-auth/gatehouse/app/storage"
)

// Config is an embedded store: the storage.Adapter cmd picks when
// GATEHOUSE_DATABASE_URL is unset or sqlite:PATH.
type Config struct {
	// Path is the database file.
	Path string
	// SecretKeyFile is where a generated secret key is kept (the store
	// holds no copy of it).
	SecretKeyFile string
}

var _ storage.Adapter = Config{}

// Open opens the database file and returns the store on it; Close closes
// the file.
func (c Config) Open(ctx context.Context) (*storage.Store, error) {
	db, err := Open(ctx, c.Path)
	if err != nil {
		return nil, err
	}
	st := open(db)
	st.SecretKeyFile = c.SecretKeyFile
	return st, nil
}

// open is the store on db.
func open(db *DB) *storage.Store {
	return store(db).Storage(storage.Store{
		Tx:      NewTxManager(db),
		Limiter: NewRateLimiter(db),
		Ready:   db.Ping,
		Conns: []storage.ConnGroup{
			{Name: "sqlite_writer", Stats: func() storage.ConnStats { w, _ := db.PoolStats(); return connStats(w) }},
			{Name: "sqlite_readers", Stats: func() storage.ConnStats { _, r := db.PoolStats(); return connStats(r) }},
		},
		Close: func() { _ = db.Close() },
	})
}

func connStats(s sql.DBStats) storage.ConnStats {
	return storage.ConnStats{
		Acquired: s.InUse, Idle: s.Idle, Total: s.OpenConnections, Max: s.MaxOpenConnections,
		Acquires: -1, Waits: s.WaitCount, WaitTime: s.WaitDuration,
	}
}

// Own makes this process the file's one server (see LockForServe): a
// second serve on the same file stops here.
func (c Config) Own() (func(), error) {
	lock, err := LockForServe(c.Path)
	if err != nil {
		return nil, err
	}
	return func() { _ = lock.Release() }, nil
}

// MigrateUp applies every pending migration (a file: nothing to wait for).
func (c Config) MigrateUp(ctx context.Context) error { return MigrateUp(ctx, c.Path) }

// MigrateDown rolls back the most recent migration.
func (c Config) MigrateDown(ctx context.Context) error { return MigrateDown(ctx, c.Path) }

// MigrateStatus lists the migrations on w.
func (c Config) MigrateStatus(ctx context.Context, w io.Writer) error {
	return MigrateStatus(ctx, c.Path, w)
}

// Backup writes a consistent copy of the file to dest, also while serve
// runs.
func (c Config) Backup(ctx context.Context, dest string) error { return Backup(ctx, c.Path, dest) }

// Explain returns err as it is: a file does not refuse.
func (Config) Explain(err error) error { return err }
