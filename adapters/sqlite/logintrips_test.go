package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/storetest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/storage"
)

// TestLoginTrips counts the statements of a password login on this store
// (docs/performance.md lists them): every statement the repositories and
// the rate limiter run, and the BEGIN and COMMIT of each transaction.
func TestLoginTrips(t *testing.T) {
	st, statements := countedStore(t)
	got := storetest.CountLoginTrips(t, st, statements)
	t.Logf("statements: success %d, wrong password %d", got.Success, got.Failure)
	if want := (storetest.LoginTrips{Success: 14, Failure: 8}); got != want {
		t.Errorf("statements %+v, want %+v", got, want)
	}
}

// countedStore opens a store on a fresh file whose statements statements
// counts: every statement the repositories and the rate limiter run, and
// the BEGIN and COMMIT of each transaction.
func countedStore(t *testing.T) (st *storage.Store, statements func() int) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if err := MigrateUp(ctx, path); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	n := new(atomic.Int64)
	counted := countingDB{db, n}
	return store(counted).Storage(storage.Store{Tx: countingTx{db, n}, Limiter: NewRateLimiter(counted)}), func() int { return int(n.Load()) }
}

// countingDB is a DBTX that counts the statements run through it; a
// transaction of its own (a pool-bound write or read transaction) counts
// its BEGIN and COMMIT too.
type countingDB struct {
	DBTX
	n *atomic.Int64
}

func (c countingDB) reader() querier { return countingQuerier{c.DBTX.reader(), c.n} }

func (c countingDB) write(ctx context.Context, fn func(q querier) error) error {
	return c.DBTX.write(ctx, func(q querier) error { return fn(countingQuerier{q, c.n}) })
}

func (c countingDB) writeTx(ctx context.Context, fn func(q querier) error) error {
	c.ownTx()
	return c.DBTX.writeTx(ctx, func(q querier) error { return fn(countingQuerier{q, c.n}) })
}

func (c countingDB) readTx(ctx context.Context, fn func(q querier) error) error {
	c.ownTx()
	return c.DBTX.readTx(ctx, func(q querier) error { return fn(countingQuerier{q, c.n}) })
}

func (c countingDB) ownTx() {
	if _, own := c.DBTX.(*DB); own {
		c.n.Add(2)
	}
}

type countingQuerier struct {
	q querier
	n *atomic.Int64
}

func (c countingQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n.Add(1)
	return c.q.ExecContext(ctx, query, args...)
}

func (c countingQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.q.QueryContext(ctx, query, args...)
}

func (c countingQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.n.Add(1)
	return c.q.QueryRowContext(ctx, query, args...)
}

// countingTx is TxManager.Within on repositories that count, counting
// BEGIN IMMEDIATE and COMMIT (or ROLLBACK).
type countingTx struct {
	db *DB
	n  *atomic.Int64
}

func (m countingTx) Within(ctx context.Context, fn func(ctx context.Context, r app.Repos) error) error {
	unlock, err := m.db.lockWriter(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	m.n.Add(2)
	return inTx(ctx, m.db.writer, nil, func(tx *sql.Tx) error {
		return fn(context.WithValue(ctx, writerKey{}, m.db), NewRepos(countingDB{txDB{tx: tx, db: m.db}, m.n}))
	})
}
