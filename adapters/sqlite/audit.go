package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// AuditLog appends events to the hash-chained audit_events table and reads
// them back.
type AuditLog struct {
	db DBTX
}

var (
	_ app.AuditLog     = (*AuditLog)(nil)
	_ admin.AuditTrail = (*AuditLog)(nil)
)

// NewAuditLog returns an AuditLog on db.
func NewAuditLog(db DBTX) *AuditLog { return &AuditLog{db: db} }

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
func (a *AuditLog) Append(ctx context.Context, e audit.Event) error {
	e = storable.Event(e)
	detail, err := storable.MapJSON(e.Detail)
	if err != nil {
		return err
	}
	return a.db.writeTx(ctx, func(q querier) error {
		var (
			seq  int64
			prev []byte
		)
		err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			seq, prev = 0, make([]byte, sha256.Size)
		case err != nil:
			return translate(err, nil)
		}
		seq++
		hash := audit.Chain(prev, seq, e)
		_, err = q.ExecContext(ctx, `INSERT INTO audit_events (seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			seq, string(e.Type), nullUUID(e.UserID), e.IP, e.UserAgent, micros(e.At), detail, prev, hash)
		return translate(err, nil)
	})
}

// recordColumns are the columns scanRecord reads, in its order.
const recordColumns = `seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash`

// Walk calls fn with every stored record in seq order, read in one read
// transaction (one consistent snapshot: appends committed meanwhile are not
// seen), until fn returns an error, which Walk returns as is.
func (a *AuditLog) Walk(ctx context.Context, fn func(audit.Record) error) error {
	return a.db.readTx(ctx, func(q querier) error {
		rs, err := q.QueryContext(ctx, `SELECT `+recordColumns+` FROM audit_events ORDER BY seq`)
		if err != nil {
			return translate(err, nil)
		}
		defer rs.Close()
		for rs.Next() {
			r, err := scanRecord(rs)
			if err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return translate(rs.Err(), nil)
	})
}

// Query returns up to q.Limit records matching q, newest first, in one
// statement on a reader: by user on index audit_events_user_seq, by type on
// audit_events_type_seq, otherwise backwards on the primary key, each from
// q.BeforeSeq down. A limit below 1 gives nothing.
func (a *AuditLog) Query(ctx context.Context, q admin.AuditQuery) ([]audit.Record, error) {
	query, args, ok := auditQuerySQL(q)
	if !ok {
		return nil, nil
	}
	rs, err := a.db.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err, nil)
	}
	defer rs.Close()
	var out []audit.Record
	for rs.Next() {
		r, err := scanRecord(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, translate(err, nil)
	}
	return out, nil
}

// auditQuerySQL is Query's statement for q, or ok false for a limit below
// 1.
func auditQuerySQL(q admin.AuditQuery) (query string, args []any, ok bool) {
	if q.Limit < 1 {
		return "", nil, false
	}
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.UserID != uuid.Nil {
		where = append(where, `user_id = `+arg(q.UserID.String()))
	}
	if q.Type != "" {
		where = append(where, `event_type = `+arg(string(q.Type)))
	}
	if q.BeforeSeq > 0 {
		where = append(where, `seq < `+arg(q.BeforeSeq))
	}
	query = `SELECT ` + recordColumns + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY seq DESC LIMIT ` + arg(q.Limit)
	return query, args, true
}

// scanRecord decodes one row of recordColumns: what Walk and Query give.
func scanRecord(row scanner) (audit.Record, error) {
	var (
		r      audit.Record
		typ    string
		userID uuid.NullUUID
		at     int64
		detail string
	)
	if err := row.Scan(&r.Seq, &typ, &userID, &r.Event.IP, &r.Event.UserAgent, &at, &detail, &r.PrevHash, &r.Hash); err != nil {
		return audit.Record{}, translate(err, nil)
	}
	r.Event.Type = audit.Type(typ)
	r.Event.UserID = userID.UUID
	r.Event.At = fromMicros(at)
	var err error
	if r.Event.Detail, err = storable.ParseMapJSON([]byte(detail)); err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: %w", r.Seq, err)
	}
	return r, nil
}
