package postgres

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what both *pgxpool.Pool and pgx.Tx (and *pgx.Conn) offer.
// Repositories built on a pool run each call on its own; built on a
// transaction, they run inside it. Begin on a transaction opens a savepoint.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

var (
	_ DBTX = (*pgxpool.Pool)(nil)
	_ DBTX = (pgx.Tx)(nil)
)

// NewPoolRepos returns repositories bound to the pool: each call is its own
// statement (or, for AuditLog.Append, its own short transaction).
func NewPoolRepos(pool *pgxpool.Pool) app.Repos { return NewRepos(pool) }

// TxManager runs use cases in database transactions. It is safe for
// concurrent use. Nested Within calls are not supported: the inner call
// would run in a separate transaction on another connection.
type TxManager struct {
	pool *pgxpool.Pool
}

var _ app.TxManager = (*TxManager)(nil)

// NewTxManager returns a TxManager on pool.
func NewTxManager(pool *pgxpool.Pool) *TxManager { return &TxManager{pool: pool} }

// Within runs fn in one READ COMMITTED transaction with repositories bound
// to it; it commits when fn returns nil and rolls back otherwise (also when
// fn panics). fn's error is returned as is; a failure to begin or commit is
// wrapped with domain.Unavailable.
func (m *TxManager) Within(ctx context.Context, fn func(ctx context.Context, r app.Repos) error) error {
	return inTx(ctx, m.pool, func(tx pgx.Tx) error { return fn(ctx, NewRepos(tx)) })
}

// inTx runs fn in a new transaction (a savepoint when db is itself a
// transaction), returning fn's error untouched and translating begin and
// commit failures.
func inTx(ctx context.Context, db DBTX, fn func(tx pgx.Tx) error) error {
	var fnErr error
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	return translate(err, nil)
}

// ensureTx runs fn directly when db already is a transaction, or else in a
// transaction of its own.
func ensureTx(ctx context.Context, db DBTX, fn func(tx DBTX) error) error {
	if tx, ok := db.(pgx.Tx); ok {
		return fn(tx)
	}
	return inTx(ctx, db, func(tx pgx.Tx) error { return fn(tx) })
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}
