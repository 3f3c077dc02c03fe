package sqlite

import (
	"context"
	"database/sql"

	"github.com/gatehouse-auth/gatehouse/app"
)

// NewPoolRepos returns repositories bound to the DB itself: each read is
// one statement on a reader, each write one statement (or, for
// AuditLog.Append and Outbox.Claim, one short transaction) on the writer.
func NewPoolRepos(db *DB) app.Repos { return NewRepos(db) }

// TxManager runs use cases in write transactions on the single writer. It
// is safe for concurrent use: transactions run one after another, in the
// order they asked for the writer.
type TxManager struct {
	db *DB
}

var _ app.TxManager = (*TxManager)(nil)

// NewTxManager returns a TxManager on db.
func NewTxManager(db *DB) *TxManager { return &TxManager{db: db} }

// Within takes the writer (waiting at most WriterWait), begins a
// transaction with BEGIN IMMEDIATE and runs fn with repositories bound to
// it; it commits when fn returns nil and rolls back otherwise (also when fn
// panics, or runs longer than MaxTxDuration). While fn runs no other write
// happens, so everything fn reads "for change" stays as read until the
// transaction ends.
//
// fn's context carries a mark of this DB: a pool-bound write or a nested
// Within made with it returns ErrWriteInTransaction at once instead of
// waiting forever for the writer fn's own transaction holds. fn's error is
// returned as is; failing to get the writer, begin or commit is wrapped
// with domain.Unavailable.
func (m *TxManager) Within(ctx context.Context, fn func(ctx context.Context, r app.Repos) error) error {
	unlock, err := m.db.lockWriter(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(ctx, MaxTxDuration)
	defer cancel()
	return inTx(ctx, m.db.writer, nil, func(tx *sql.Tx) error {
		return fn(context.WithValue(ctx, writerKey{}, m.db), NewRepos(txDB{tx: tx, db: m.db}))
	})
}
