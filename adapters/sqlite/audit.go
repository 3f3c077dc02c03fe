package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
)

// Append adds e at the end of the chain: seq is the last seq plus one (1
// for the first row, whose prev_hash is 32 zero bytes) and hash is
// audit.Chain(prev_hash, seq, e). Reading the last row and inserting the
// next happen in one write transaction, and there is one writer, so the
// chain never forks: bound to a transaction, Append runs in it and commits
// with it; bound to the DB, it runs in a short transaction of its own.
//
// Before hashing, e is made storable exactly as package postgres does
// (storable.Event: time cut to microseconds in UTC, text valid UTF-8
// without NUL, bounded), so that what is stored is exactly what was hashed
// and a trail verifies the same on either store.
func (o own) Append(ctx context.Context, e audit.Event) error {
	e = storable.Event(e)
	detail, err := storable.MapJSON(e.Detail)
	if err != nil {
		return err
	}
	return o.db.writeTx(ctx, func(q querier) error {
		var (
			seq  int64
			prev []byte
		)
		err := q.QueryRowContext(ctx, sqlstore.LastRecordSQL).Scan(&seq, &prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			seq, prev = 0, make([]byte, sha256.Size)
		case err != nil:
			return translate(err, nil)
		}
		seq++
		hash := audit.Chain(prev, seq, e)
		_, err = q.ExecContext(ctx, insertRecordSQL, seq, string(e.Type), sqlstore.NullUUID(e.UserID), e.IP, e.UserAgent, micros(e.At), detail, prev, hash)
		return translate(err, nil)
	})
}

// insertRecordSQL appends one record, its detail as JSON text.
var insertRecordSQL = sqlstore.InsertRecordSQL("")

// Walk calls fn with every stored record in seq order, read in one read
// transaction (one consistent snapshot: appends committed meanwhile are not
// seen), until fn returns an error, which Walk returns as is.
func (o own) Walk(ctx context.Context, fn func(audit.Record) error) error {
	return o.db.readTx(ctx, func(q querier) error {
		rs, err := txConn{q, o.db}.Query(ctx, `SELECT `+sqlstore.RecordColumns+` FROM audit_events ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			r, err := sqlstore.ScanRecord(rs)
			if err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return rs.Err()
	})
}
