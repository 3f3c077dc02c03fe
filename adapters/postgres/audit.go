package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// auditLockKey is the transaction-level advisory lock that serializes
// appends to the audit chain ("gh-audit" in ASCII).
const auditLockKey int64 = 0x67682d6175646974

// AuditLog appends events to the hash-chained audit_events table.
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
// audit.Chain(prev_hash, seq, e). Appends are serialized by a
// transaction-level advisory lock: bound to a transaction, Append holds
// that lock until the caller's transaction ends, so use cases should append
// last; bound to the pool, Append runs in a short transaction of its own.
//
// Before hashing, e's time is cut to microseconds in UTC and its text is
// made storable (valid UTF-8, no NUL, user agent and detail values at most
// 1024 bytes), so that what is stored is exactly what was hashed.
func (a *AuditLog) Append(ctx context.Context, e audit.Event) error {
	e = storable.Event(e)
	detail, err := storable.MapJSON(e.Detail)
	if err != nil {
		return err
	}
	return ensureTx(ctx, a.db, func(tx DBTX) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
			return translate(err, nil)
		}
		var (
			seq  int64
			prev []byte
		)
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			seq, prev = 0, make([]byte, sha256.Size)
		case err != nil:
			return translate(err, nil)
		}
		seq++
		hash := audit.Chain(prev, seq, e)
		_, err = tx.Exec(ctx, `INSERT INTO audit_events (seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)`,
			seq, string(e.Type), nullUUID(e.UserID), e.IP, e.UserAgent, e.At, detail, prev, hash)
		return translate(err, nil)
	})
}

// recordColumns are the columns scanRecord reads, in its order.
const recordColumns = `seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash`

// walkPage is how many records one statement of Walk reads.
const walkPage = 10000

// walkSQL reads the page of records after seq $1 (primary key).
const walkSQL = `SELECT ` + recordColumns + ` FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`

// Walk calls fn with every stored record in seq order, until fn returns an
// error. It reads pages of walkPage records (one statement each, on the
// primary key) in one read-only REPEATABLE READ transaction, so that every
// page comes from one consistent snapshot and no statement runs long: one
// statement over ten million records outlived the pool's statement
// timeout and `gatehouse audit verify` could not finish. Bound to a
// transaction, Walk reads inside it.
func (a *AuditLog) Walk(ctx context.Context, fn func(audit.Record) error) error {
	walk := func(q DBTX) error {
		after := int64(0)
		for {
			n, err := a.walkPage(ctx, q, after, fn)
			if err != nil || n.count < walkPage {
				return err
			}
			after = n.last
		}
	}
	if tx, ok := a.db.(pgx.Tx); ok {
		return walk(tx)
	}
	b, ok := a.db.(interface {
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

type walked struct {
	count int
	last  int64
}

// walkPage hands fn the records after seq after, up to walkPage of them.
func (a *AuditLog) walkPage(ctx context.Context, q DBTX, after int64, fn func(audit.Record) error) (walked, error) {
	rs, err := q.Query(ctx, walkSQL, after, walkPage)
	if err != nil {
		return walked{}, translate(err, nil)
	}
	defer rs.Close()
	var w walked
	for rs.Next() {
		r, err := scanRecord(rs)
		if err != nil {
			return w, err
		}
		w.count++
		w.last = r.Seq
		if err := fn(r); err != nil {
			return w, err
		}
	}
	return w, translate(rs.Err(), nil)
}

// Query returns up to q.Limit records matching q, newest first, in one
// statement: by user on index audit_events_user_seq, by type on
// audit_events_type_seq, otherwise backwards on the primary key, each from
// q.BeforeSeq down. A limit below 1 gives nothing.
func (a *AuditLog) Query(ctx context.Context, q admin.AuditQuery) ([]audit.Record, error) {
	sql, args, ok := auditQuerySQL(q)
	if !ok {
		return nil, nil
	}
	rs, err := a.db.Query(ctx, sql, args...)
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
func auditQuerySQL(q admin.AuditQuery) (sql string, args []any, ok bool) {
	if q.Limit < 1 {
		return "", nil, false
	}
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.UserID != uuid.Nil {
		where = append(where, `user_id = `+arg(q.UserID))
	}
	if q.Type != "" {
		where = append(where, `event_type = `+arg(string(q.Type)))
	}
	if q.BeforeSeq > 0 {
		where = append(where, `seq < `+arg(q.BeforeSeq))
	}
	sql = `SELECT ` + recordColumns + ` FROM audit_events`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sql += ` ORDER BY seq DESC LIMIT ` + arg(q.Limit)
	return sql, args, true
}

// scanRecord decodes one row of recordColumns: what Walk and Query give.
func scanRecord(row scanner) (audit.Record, error) {
	var (
		r      audit.Record
		typ    string
		userID uuid.NullUUID
		detail []byte
	)
	if err := row.Scan(&r.Seq, &typ, &userID, &r.Event.IP, &r.Event.UserAgent, &r.Event.At, &detail, &r.PrevHash, &r.Hash); err != nil {
		return audit.Record{}, translate(err, nil)
	}
	r.Event.Type = audit.Type(typ)
	r.Event.UserID = userID.UUID
	r.Event.At = r.Event.At.UTC()
	var err error
	if r.Event.Detail, err = storable.ParseMapJSON(detail); err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: %w", r.Seq, err)
	}
	return r, nil
}
