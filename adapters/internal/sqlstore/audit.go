package sqlstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// RecordColumns are the columns ScanRecord reads, in its order.
const RecordColumns = `seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash`

// insertRecordSQL appends one record; $7 is the detail as JSON text and
// detailType what the store casts it to ("::jsonb", or "" for text).
func insertRecordSQL(detailType string) string {
	return `INSERT INTO audit_events (` + RecordColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7` + detailType + `, $8, $9)`
}

// lastRecordSQL reads the seq and hash the next record chains to.
const lastRecordSQL = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`

// Audit appends events to the hash-chained audit_events table and reads
// them back. Walk, which holds a snapshot, is each store's own.
type Audit struct {
	DB      DB
	Dialect Dialect
	Own
}

// Append adds e at the end of the chain: seq is the last seq plus one (1
// for the first row, whose prev_hash is 32 zero bytes) and hash is
// audit.Chain(prev_hash, seq, e). Reading the last row and inserting the
// next happen in one write transaction that holds the chain's lock
// (Dialect.AuditLockSQL, or the single writer), so the chain never forks:
// bound to a transaction, Append runs in it and holds the lock until the
// caller's transaction ends, so use cases should append last; bound to
// the store, it runs in a short transaction of its own.
//
// Before hashing, e's time is cut to microseconds in UTC and its text is
// made storable (storable.Event: valid UTF-8, no NUL, user agent and
// detail values at most 1024 bytes), so that what is stored is exactly
// what was hashed and a trail verifies the same on either store.
func (a Audit) Append(ctx context.Context, e audit.Event) error {
	return a.appendAfter(ctx, nil, e)
}

// write is a statement of a change; when missing is set the statement
// must touch a row, and touching none gives missing.
type write struct {
	Stmt
	missing error
}

// appendAfter runs writes and then appends e as Append does, in one
// transaction (the bound one, or one of its own). The writes, the chain's
// lock and the read of its last record go to the store as one Pipeline;
// the lock is taken after the writes, so the chain is held no sooner than
// an Append after them would hold it, and the read, a statement after the
// lock, sees every append committed before it.
func (a Audit) appendAfter(ctx context.Context, writes []write, e audit.Event) error {
	e = storable.Event(e)
	detail, err := storable.MapJSON(e.Detail)
	if err != nil {
		return err
	}
	stmts := make([]Stmt, 0, len(writes)+1)
	for _, w := range writes {
		stmts = append(stmts, w.Stmt)
	}
	if a.Dialect.AuditLockSQL != "" {
		stmts = append(stmts, Stmt{SQL: a.Dialect.AuditLockSQL})
	}
	return a.DB.Tx(ctx, func(tx DB) error {
		var (
			seq  int64
			prev []byte
		)
		touched, err := tx.Pipeline(ctx, stmts, Stmt{SQL: lastRecordSQL}, &seq, &prev)
		// A row found missing explains what failed after it (an insert
		// that refers to it).
		for i, n := range touched[:min(len(touched), len(writes))] {
			if n == 0 && writes[i].missing != nil {
				return writes[i].missing
			}
		}
		switch {
		case errors.Is(err, ErrNoRows):
			seq, prev = 0, make([]byte, sha256.Size)
		case err != nil:
			return err
		}
		seq++
		hash := audit.Chain(prev, seq, e)
		_, err = tx.Exec(ctx, insertRecordSQL(a.Dialect.JSON), seq, string(e.Type), NullUUID(e.UserID), e.IP, e.UserAgent, e.At, detail, prev, hash)
		return err
	})
}

// Query returns up to q.Limit records matching q, newest first, in one
// statement: by user on index audit_events_user_seq, by type on
// audit_events_type_seq, otherwise backwards on the primary key, each from
// q.BeforeSeq down. A limit below 1 gives nothing.
func (a Audit) Query(ctx context.Context, q admin.AuditQuery) ([]audit.Record, error) {
	query, args, ok := AuditQuerySQL(q)
	if !ok {
		return nil, nil
	}
	return All(ctx, a.DB, ScanRecord, query, args...)
}

// AuditQuerySQL is Query's statement for q, or ok false for a limit below
// 1.
func AuditQuerySQL(q admin.AuditQuery) (query string, args []any, ok bool) {
	if q.Limit < 1 {
		return "", nil, false
	}
	var b builder
	if q.UserID != uuid.Nil {
		b.where(`user_id = `, q.UserID)
	}
	if q.Type != "" {
		b.where(`event_type = `, string(q.Type))
	}
	if q.BeforeSeq > 0 {
		b.where(`seq < `, q.BeforeSeq)
	}
	return b.sql(`SELECT `+RecordColumns+` FROM audit_events`, ` ORDER BY seq DESC`, q.Limit), b.args, true
}

// EachRecord is an Each callback that hands fn the record each row of
// RecordColumns holds.
func EachRecord(fn func(audit.Record) error) func(Row) error {
	return func(row Row) error {
		r, err := ScanRecord(row)
		if err != nil {
			return err
		}
		return fn(r)
	}
}

// ScanRecord decodes one row of RecordColumns.
func ScanRecord(row Row) (audit.Record, error) {
	var (
		r      audit.Record
		typ    string
		userID uuid.NullUUID
		detail []byte
	)
	if err := row.Scan(&r.Seq, &typ, &userID, &r.Event.IP, &r.Event.UserAgent, &r.Event.At, &detail, &r.PrevHash, &r.Hash); err != nil {
		return audit.Record{}, err
	}
	r.Event.Type = audit.Type(typ)
	r.Event.UserID = userID.UUID
	var err error
	if r.Event.Detail, err = storable.ParseMapJSON(detail); err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: %w", r.Seq, err)
	}
	return r, nil
}
