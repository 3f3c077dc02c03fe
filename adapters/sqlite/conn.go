package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/google/uuid"
)

// dialect is what SQLite puts into the shared statements: no row locks
// (the single writer serializes the transactions that change a row), and
// email prefixes compared in byte order on users_email_key, whose BINARY
// collation is byte order; INDEXED BY makes SQLite use that index or fail,
// never scan the table. JSON is stored as text; an outbox claim is a plain
// UPDATE, since one writer serializes claims.
var dialect = sqlstore.Dialect{
	UsersByEmail: `users INDEXED BY users_email_key`,
	EmailBytes:   `email`,
	PrefixEnd: func(p string) (string, bool, bool) {
		end, ok := prefixEnd(p)
		return end, ok, true
	},
	ClaimSQL: `
		UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $3
		WHERE id IN (
			SELECT id FROM mail_outbox
			WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at
			LIMIT $2)
		RETURNING ` + sqlstore.ClaimedColumns,
	NotAmong: func(column string, ids []uuid.UUID, args *[]any) string {
		return column + " NOT IN (" + inList(args, ids) + ")"
	},
	Param: func(int, string) string { return "?" },
	// OR, not UNION as in package postgres: SQLite answers it with both
	// indexes (multi-index OR) where its UNION scans the whole table.
	EndedSessionsSQL: `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1
			LIMIT $2)`,
}

// conn is a DBTX as the shared repositories see it: reads on a reader (or
// in the bound transaction), writes through the writer, errors translated,
// times as INTEGER microseconds (encode, decode).
type conn struct{ db DBTX }

var _ sqlstore.DB = conn{}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	n, err := affected(exec(ctx, c.db, query, encode(args)...))
	return int64(n), err
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return txConn{c.db.reader(), c.db}.QueryRow(ctx, query, args...)
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return txConn{c.db.reader(), c.db}.Query(ctx, query, args...)
}

func (c conn) Tx(ctx context.Context, fn func(tx sqlstore.DB) error) error {
	return c.db.writeTx(ctx, func(q querier) error { return fn(txConn{q, c.db}) })
}

func (c conn) Pipeline(ctx context.Context, writes []sqlstore.Stmt, query sqlstore.Stmt, dest ...any) ([]int64, error) {
	var touched []int64
	err := c.Tx(ctx, func(tx sqlstore.DB) error {
		var err error
		touched, err = tx.Pipeline(ctx, writes, query, dest...)
		return err
	})
	return touched, err
}

// Scrub asks for the WAL to be emptied soon (see Residue in the package
// documentation).
func (c conn) Scrub() { c.db.scrubSoon() }

// txConn runs everything on q, a write transaction of db or (for conn's
// reads) a reader.
type txConn struct {
	q  querier
	db DBTX
}

func (t txConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.q.ExecContext(ctx, query, encode(args)...)
	n, err := affected(res, translate(err, nil))
	return int64(n), err
}

func (t txConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return row{t.q.QueryRowContext(ctx, query, encode(args)...)}
}

func (t txConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rs, err := t.q.QueryContext(ctx, query, encode(args)...)
	if err != nil {
		return nil, translate(err, nil)
	}
	return rows{rs}, nil
}

func (t txConn) Tx(_ context.Context, fn func(tx sqlstore.DB) error) error { return fn(t) }

// Pipeline runs the statements one after another: calls into the
// library, no round trips to save.
func (t txConn) Pipeline(ctx context.Context, writes []sqlstore.Stmt, query sqlstore.Stmt, dest ...any) ([]int64, error) {
	touched := make([]int64, 0, len(writes))
	for _, w := range writes {
		n, err := t.Exec(ctx, w.SQL, w.Args...)
		if err != nil {
			return touched, err
		}
		touched = append(touched, n)
	}
	return touched, t.QueryRow(ctx, query.SQL, query.Args...).Scan(dest...)
}
func (t txConn) Scrub() { t.db.scrubSoon() }

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error { return translate(r.r.Scan(decode(dest)...), sqlstore.ErrNoRows) }

type rows struct{ r *sql.Rows }

func (r rows) Scan(dest ...any) error { return translate(r.r.Scan(decode(dest)...), nil) }
func (r rows) Next() bool             { return r.r.Next() }
func (r rows) Err() error             { return translate(r.r.Err(), nil) }
func (r rows) Close()                 { _ = r.r.Close() }

// encode puts the times among args as stored (INTEGER microseconds, NULL
// for a nil *time.Time), in place.
func encode(args []any) []any {
	for i, a := range args {
		switch t := a.(type) {
		case time.Time:
			args[i] = micros(t)
		case *time.Time:
			args[i] = microsPtr(t)
		}
	}
	return args
}

// decode makes the time destinations among dest read INTEGER microseconds
// (in UTC), in place.
func decode(dest []any) []any {
	for i, d := range dest {
		switch t := d.(type) {
		case *time.Time:
			dest[i] = microsDest{t}
		case **time.Time:
			dest[i] = nullMicrosDest{t}
		}
	}
	return dest
}

// microsDest scans INTEGER microseconds into a time.
type microsDest struct{ t *time.Time }

func (d microsDest) Scan(src any) error {
	us, ok := src.(int64)
	if !ok {
		return fmt.Errorf("sqlite: a time column holds %T, not INTEGER microseconds", src)
	}
	*d.t = fromMicros(us)
	return nil
}

// nullMicrosDest scans nullable INTEGER microseconds into a *time.Time.
type nullMicrosDest struct{ t **time.Time }

func (d nullMicrosDest) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	var t time.Time
	if err := (microsDest{&t}).Scan(src); err != nil {
		return err
	}
	*d.t = &t
	return nil
}

// inList appends values to *args and returns their placeholders for an
// IN (...) list.
func inList[T any](args *[]any, values []T) string {
	marks := make([]string, len(values))
	for i, v := range values {
		*args = append(*args, v)
		marks[i] = "$" + strconv.Itoa(len(*args))
	}
	return strings.Join(marks, ", ")
}

// idBatch bounds the ids of one IN (...) list (SQLite limits the number of
// parameters); the admin list asks for at most 200.
const idBatch = 500

// idBatches is ids without repeats, in sorted batches of at most idBatch.
func idBatches(ids []uuid.UUID) [][]uuid.UUID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return slices.Collect(slices.Chunk(slices.Compact(ids), idBatch))
}

// prefixEnd is the least string above every string that starts with p in
// byte order (BINARY collation, memcmp): p without its trailing 0xFF
// bytes, with its last byte incremented. So s >= p AND s < end holds
// exactly when s starts with p, whatever the bytes (the end need not be
// valid UTF-8; BINARY compares bytes). ok is false when there is no such
// string (p is empty or all 0xFF): then s >= p alone is the prefix test.
func prefixEnd(p string) (end string, ok bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
