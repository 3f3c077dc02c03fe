package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
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

var _ app.AuditLog = (*AuditLog)(nil)

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
	e = storableEvent(e)
	detail, err := marshalMap(e.Detail)
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

// storableEvent returns e as it will read back from storage.
func storableEvent(e audit.Event) audit.Event {
	e.Type = audit.Type(cleanText(string(e.Type), maxText))
	e.IP = cleanText(e.IP, maxText)
	e.UserAgent = cleanText(e.UserAgent, maxText)
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Detail = cleanMap(e.Detail)
	return e
}

// VerifyAuditChain reads the whole audit trail in seq order (one consistent
// snapshot) and checks every link: seq runs 1, 2, 3, ... without gaps, the
// first prev_hash is 32 zero bytes, each prev_hash is the previous row's
// hash, and each hash is audit.Chain recomputed from the stored row. It
// returns how many rows it checked and, on the first broken link, an error
// naming that row's seq.
func VerifyAuditChain(ctx context.Context, db DBTX) (rows int, err error) {
	rs, err := db.Query(ctx, `SELECT seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash
		FROM audit_events ORDER BY seq`)
	if err != nil {
		return 0, translate(err, nil)
	}
	defer rs.Close()
	var (
		lastSeq  int64
		lastHash = make([]byte, sha256.Size)
	)
	for rs.Next() {
		var (
			seq              int64
			typ              string
			userID           uuid.NullUUID
			e                audit.Event
			detail           []byte
			prevHash, stored []byte
		)
		if err := rs.Scan(&seq, &typ, &userID, &e.IP, &e.UserAgent, &e.At, &detail, &prevHash, &stored); err != nil {
			return rows, translate(err, nil)
		}
		e.Type = audit.Type(typ)
		e.UserID = userID.UUID
		e.At = e.At.UTC()
		if e.Detail, err = unmarshalMap(detail); err != nil {
			return rows, fmt.Errorf("audit chain broken at seq %d: %w", seq, err)
		}
		switch {
		case seq != lastSeq+1:
			return rows, fmt.Errorf("audit chain broken at seq %d: expected seq %d (rows missing)", seq, lastSeq+1)
		case !bytes.Equal(prevHash, lastHash):
			return rows, fmt.Errorf("audit chain broken at seq %d: prev_hash is not the hash of seq %d", seq, lastSeq)
		case !bytes.Equal(stored, audit.Chain(prevHash, seq, e)):
			return rows, fmt.Errorf("audit chain broken at seq %d: hash does not match the row (row altered)", seq)
		}
		rows++
		lastSeq, lastHash = seq, stored
	}
	if err := rs.Err(); err != nil {
		return rows, translate(err, nil)
	}
	return rows, nil
}
