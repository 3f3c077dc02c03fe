package postgres

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/jackc/pgx/v5"
)

// auditLockKey is the transaction-level advisory lock that serializes
// appends to the audit chain ("gh-audit" in ASCII); an append bound to a
// transaction holds it until the caller's transaction ends.
const auditLockKey int64 = 0x67682d6175646974

// walkPage is how many records one statement of Walk reads.
const walkPage = 10000

// walkSQL reads the page of records after seq $1 (primary key).
const walkSQL = `SELECT ` + sqlstore.RecordColumns + ` FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`

// Walk calls fn with every stored record in seq order, until fn returns an
// error. It reads pages of walkPage records (one statement each, on the
// primary key) in one read-only REPEATABLE READ transaction, so that every
// page comes from one consistent snapshot and no statement runs long: one
// statement over ten million records outlived the pool's statement
// timeout and `gatehouse audit verify` could not finish. Bound to a
// transaction, Walk reads inside it.
func (o own) Walk(ctx context.Context, fn func(audit.Record) error) error {
	walk := func(q DBTX) error {
		after := int64(0)
		for {
			n := 0
			err := sqlstore.Each(ctx, conn{q}, sqlstore.EachRecord(func(r audit.Record) error {
				n++
				after = r.Seq
				return fn(r)
			}), walkSQL, after, walkPage)
			if err != nil || n < walkPage {
				return err
			}
		}
	}
	if tx, ok := o.db.(pgx.Tx); ok {
		return walk(tx)
	}
	b, ok := o.db.(interface {
		BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	})
	if !ok {
		return errors.New("postgres: audit walk needs a pool or a transaction")
	}
	var fnErr error
	err := pgx.BeginTxFunc(ctx, b, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		fnErr = walk(tx)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	return translate(err, nil)
}
