package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// dialect is what PostgreSQL puts into the shared statements: row locks,
// and email prefixes compared under COLLATE "C" (byte order) on index
// users_email_prefix.
var dialect = sqlstore.Dialect{
	ForUpdate:    " FOR UPDATE",
	ShareSession: " FOR SHARE OF s",
	JoinReads:    true,
	UsersByEmail: "users",
	EmailBytes:   `email COLLATE "C"`,
	PrefixEnd: func(p string) (string, bool, bool) {
		if !storableText(p) {
			return "", false, false // no stored address starts with it
		}
		end, ok := prefixEnd(p)
		return end, ok, true
	},
	SubqueryName: " p",
	JSON:         "::jsonb",
	SkipLocked:   " FOR UPDATE SKIP LOCKED",
	NotAmong: func(column string, ids []uuid.UUID, args *[]any) string {
		*args = append(*args, ids)
		return "NOT (" + column + " = ANY($" + strconv.Itoa(len(*args)) + "))"
	},
	Param: func(n int, t string) string {
		if t == "" {
			return "$" + strconv.Itoa(n)
		}
		return "$" + strconv.Itoa(n) + "::" + t
	},
	KeepEndpoints: " FOR KEY SHARE OF w",
	AuditLockSQL:  "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(auditLockKey, 10) + ")",
	ClaimSQL: `
		WITH due AS (
			SELECT id FROM mail_outbox
			WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE mail_outbox m SET attempts = m.attempts + 1, next_attempt_at = $3
		FROM due WHERE m.id = due.id
		RETURNING ` + sqlstore.Qualify("m.", sqlstore.ClaimedColumns),
	EndedSessionsSQL: `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < $1
			UNION SELECT id FROM sessions WHERE revoked_at < $1
			LIMIT $2)`,
}

// conn is a pool or a transaction as the shared repositories see it:
// errors translated, times read back in UTC (timestamptz is the codec:
// time.Time goes in and comes out as is).
type conn struct{ db DBTX }

var _ sqlstore.DB = conn{}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.db.Exec(ctx, query, args...)
	if err != nil {
		return 0, translate(err, nil)
	}
	return tag.RowsAffected(), nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return row{c.db.QueryRow(ctx, query, args...)}
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rs, err := c.db.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, nil)
	}
	return rows{rs}, nil
}

// Scrub does nothing: PostgreSQL keeps no copies this store could erase.
func (conn) Scrub() {}

func (c conn) Tx(ctx context.Context, fn func(tx sqlstore.DB) error) error {
	return ensureTx(ctx, c.db, func(tx DBTX) error { return fn(conn{tx}) })
}

// Pipeline sends writes and query as one batch, in one round trip
// (pgx's pipeline): PostgreSQL still runs them one after another, each
// with a snapshot of its own under READ COMMITTED, so a read after a
// lock sees what was committed before the lock was granted.
func (c conn) Pipeline(ctx context.Context, writes []sqlstore.Stmt, query sqlstore.Stmt, dest ...any) ([]int64, error) {
	touched := make([]int64, 0, len(writes))
	err := ensureTx(ctx, c.db, func(tx DBTX) error {
		b := &pgx.Batch{}
		for _, w := range writes {
			b.Queue(w.SQL, w.Args...)
		}
		b.Queue(query.SQL, query.Args...)
		br := tx.SendBatch(ctx, b)
		for range writes {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return translate(err, nil)
			}
			touched = append(touched, tag.RowsAffected())
		}
		scanErr := scanUTC(br.QueryRow(), dest)
		if err := br.Close(); err != nil && scanErr == nil {
			return translate(err, nil)
		}
		return scanErr
	})
	return touched, err
}

type row struct{ pgx.Row }

func (r row) Scan(dest ...any) error { return scanUTC(r.Row, dest) }

type rows struct{ pgx.Rows }

func (r rows) Scan(dest ...any) error { return scanUTC(r.Rows, dest) }
func (r rows) Err() error             { return translate(r.Rows.Err(), nil) }

// scanUTC scans a row into dest and turns the times in it to UTC (pgx
// gives them in the local zone).
func scanUTC(s scanner, dest []any) error {
	if err := s.Scan(dest...); err != nil {
		return translate(err, sqlstore.ErrNoRows)
	}
	for _, d := range dest {
		switch t := d.(type) {
		case *time.Time:
			*t = t.UTC()
		case **time.Time:
			*t = sqlstore.UTC(*t)
		}
	}
	return nil
}

// storableText reports whether PostgreSQL can hold s as text (valid UTF-8
// without NUL). A prefix it cannot hold starts no stored text.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// prefixEnd is the least string above every string that starts with p, in
// byte order (which for UTF-8 is code point order): p without its trailing
// U+10FFFF runes, with its last rune incremented. So under COLLATE "C",
// s >= p AND s < end holds exactly when s starts with p. ok is false when
// there is no such string (p is empty or all U+10FFFF): then s >= p alone
// is the prefix test. p must be valid UTF-8.
func prefixEnd(p string) (end string, ok bool) {
	rs := []rune(p)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] < utf8.MaxRune {
			next := rs[i] + 1
			if next >= 0xD800 && next <= 0xDFFF { // surrogates are not text
				next = 0xE000
			}
			return string(rs[:i]) + string(next), true
		}
	}
	return "", false
}
