// Package postgres implements Gatehouse's storage ports on PostgreSQL with
// pgx v5: repositories, the transaction manager, the mail outbox, the
// hash-chained audit log, the shared rate-limit store, the signing-key store
// and the migrations runner. Config (store.go) is the store's
// storage.Adapter: it opens all of it as one storage.Store.
//
// Driver errors are translated at this boundary: pgx.ErrNoRows becomes the
// port's not-found error, a duplicate email becomes user.ErrEmailTaken, and
// connection failures (and anything else not caused by the data or the SQL)
// are wrapped with domain.Unavailable so that they map to 503. Nothing in this
// package logs SQL or its arguments.
package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// DefaultMaxConns is the pool size used when the URL does not set
	// pool_max_conns.
	DefaultMaxConns = 10
	// DefaultConnectTimeout bounds one connection attempt when the URL does
	// not set connect_timeout.
	DefaultConnectTimeout = 5 * time.Second
	// pingTimeout bounds a readiness probe.
	pingTimeout = 2 * time.Second
)

// errBadURL is returned for an unparsable database URL. The parser's message
// is dropped on purpose: it may quote parts of the URL, password included.
var errBadURL = errors.New("postgres: invalid database URL (expected postgres://user:pass@host:port/db?sslmode=...)")

// NewPool builds a connection pool for url. It fails only when url cannot be
// parsed: connections are opened lazily, so the database need not be up yet
// (see Ping for readiness).
//
// Defaults, each overridable in the URL: at most DefaultMaxConns connections
// (pool_max_conns), DefaultConnectTimeout per connection attempt
// (connect_timeout), application_name "gatehouse". No query tracer is
// installed, so neither SQL nor its arguments are ever logged.
func NewPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errBadURL
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "gatehouse"
	}
	// No statement waits for a lock, or runs, without bound: a request
	// stuck behind a lock would otherwise hold one of the few connections
	// for as long as the lock is held. The URL may set other values.
	for param, value := range map[string]string{"lock_timeout": "5s", "statement_timeout": "15s", "idle_in_transaction_session_timeout": "30s"} {
		if _, ok := cfg.ConnConfig.RuntimeParams[param]; !ok {
			cfg.ConnConfig.RuntimeParams[param] = value
		}
	}
	cfg.ConnConfig.Tracer = nil // never log queries or their arguments
	return pgxpool.NewWithConfig(ctx, cfg)
}

// Ping checks that the database answers, within a short timeout. Its error
// matches domain.ErrUnavailable. Used by /readyz.
func Ping(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return translate(pool.Ping(ctx), nil)
}
