package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// RecordColumns are the columns ScanRecord reads, in its order.
const RecordColumns = `seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash`

// InsertRecordSQL appends one record; $7 is the detail as JSON text and
// detailType what the store casts it to ("::jsonb", or "" for text).
func InsertRecordSQL(detailType string) string {
	return `INSERT INTO audit_events (` + RecordColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7` + detailType + `, $8, $9)`
}

// LastRecordSQL reads the seq and hash the next record chains to.
const LastRecordSQL = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`

// Audit appends events to the hash-chained audit_events table and reads
// them back. Append and Walk, which hold the chain's lock or a snapshot,
// are each store's own.
type Audit struct {
	DB  DB
	Own Own
}

// Append adds e at the end of the chain, under the store's lock on it.
func (a Audit) Append(ctx context.Context, e audit.Event) error { return a.Own.Append(ctx, e) }

// Walk calls fn with every stored record in seq order, from one snapshot,
// until fn returns an error.
func (a Audit) Walk(ctx context.Context, fn func(audit.Record) error) error {
	return a.Own.Walk(ctx, fn)
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
