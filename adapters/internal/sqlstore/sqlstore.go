// Package sqlstore holds the SQL that the PostgreSQL and SQLite stores
// share: column lists, statements, row mappers, the list and audit query
// builders, and the repositories whose statements are the same in both
// dialects. Both stores write placeholders as $N (the SQLite driver takes
// them too), so a statement here is the statement each store runs.
//
// A store hands this package a DB: its pool or its transaction, with its
// own error translation and time codec, and Store builds its repositories
// and ports on it once for both stores. What differs per store stays in
// the store's package and reaches this one as a Dialect (locking, the
// outbox claim, the audit chain's lock, index hints) or as its Own
// statements (lists of ids, the audit walk, the sweep of pending
// registrations).
package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// DB is where a repository's statements run: a store's pool or one of its
// transactions. Every error it returns, from its own methods and from the
// Row and Rows it hands out, is translated into the domain's error model
// by the store; a read that finds no row gives ErrNoRows.
//
// Arguments and scan destinations are plain Go values: time.Time and
// *time.Time (nil for NULL) are encoded and decoded by the store's time
// codec, and times come back in UTC.
type DB interface {
	// Exec runs a statement and returns how many rows it touched.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// QueryRow runs a statement that returns at most one row.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Query runs a statement that returns rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// Tx runs fn with a DB inside one write transaction: this one when DB
	// is a transaction, or else a new one committed when fn returns nil.
	// fn's error is returned as is.
	Tx(ctx context.Context, fn func(tx DB) error) error
	// Pipeline runs writes one after another and then query, whose row
	// it scans into dest (ErrNoRows when there is none), in one write
	// transaction (this one, or a new one as Tx makes), and returns how
	// many rows each write touched. The first failure stops it: then the
	// counts are those of the writes that ran before it. The store sends
	// the statements together where it can, in one round trip, so no
	// statement's arguments may depend on an earlier one's result.
	Pipeline(ctx context.Context, writes []Stmt, query Stmt, dest ...any) ([]int64, error)
	// Scrub asks the store to erase soon the old copies of what a write
	// just cleared (a deleted account, a delivered mail's link); a no-op
	// where the store keeps none.
	Scrub()
}

// Stmt is a statement and its arguments.
type Stmt struct {
	SQL  string
	Args []any
}

// Row is one row of a result (Rows is one too, between Next calls).
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result being read.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// ErrNoRows is what a DB gives for a read that found no row; the
// repositories turn it into their port's not-found error.
var ErrNoRows = errors.New("sqlstore: no rows in result set")

// errNoRowsAffected reports an update that matched nothing where no
// not-found error was given.
var errNoRowsAffected = errors.New("sqlstore: no rows affected")

// Dialect is what differs between the stores inside statements this
// package builds.
type Dialect struct {
	// ForUpdate ends a read made for change: " FOR UPDATE" where row locks
	// serialize the changes, "" where the single writer does.
	ForUpdate string
	// ShareSession ends a read of a session (alias s), joined with other
	// tables, that holds the session as read until the transaction ends:
	// a lock of it (" FOR SHARE OF s") that a change waits for and other
	// such reads share, or "" where the single writer serializes changes.
	ShareSession string
	// JoinReads joins reads that could be two statements into one: where
	// each statement is a round trip to a server. Where it is a call into
	// an embedded library that parses each statement of a write
	// transaction anew, two narrow statements cost less than their join.
	JoinReads bool
	// UsersByEmail is the FROM target of a users list by email prefix (an
	// index hint where the planner needs one).
	UsersByEmail string
	// EmailBytes is the email column compared in byte order.
	EmailBytes string
	// PrefixEnd is the least string above every string that starts with p
	// in that order; bounded is false when there is none (then s >= p
	// alone is the prefix test), and matchable is false when no stored
	// text can start with p.
	PrefixEnd func(p string) (end string, bounded, matchable bool)
	// SubqueryName names a subquery in FROM: PostgreSQL wants a name
	// there; SQLite, which plans a named one as a scan of its own, does
	// not.
	SubqueryName string
	// JSON follows a JSON text literal or argument: a cast ("::jsonb"), or
	// "" where JSON is stored as text.
	JSON string
	// ClaimSQL takes the outbox messages due at $1, at most $2, bumps
	// their attempts and moves them due at $3, returning ClaimedColumns:
	// FOR UPDATE SKIP LOCKED, or a plain UPDATE where one writer
	// serializes claims.
	ClaimSQL string
	// SkipLocked ends the read of a claim: " FOR UPDATE SKIP LOCKED"
	// where concurrent claims pass over each other's rows, "" where one
	// writer serializes claims.
	SkipLocked string
	// NotAmong is the condition that column holds none of ids (at least
	// one), their arguments appended to args.
	NotAmong func(column string, ids []uuid.UUID, args *[]any) string
	// AuditLockSQL takes the lock that serializes appends to the audit
	// chain until the transaction ends, or is "" where the single writer
	// serializes them.
	AuditLockSQL string
	// EndedSessionsSQL deletes at most $2 sessions past their expiry or
	// revoked before $1, through both indexes.
	EndedSessionsSQL string
	// Param is parameter n of a statement that names each of its
	// parameters once, in order (a VALUES list of many rows), of type t
	// as PostgreSQL names it, or "" where the column it goes to tells
	// its type: "$n::t" or "$n" on PostgreSQL (a VALUES list in FROM
	// tells no types); "?" on SQLite, the next parameter, where "$n" is
	// a name that SQLite looks up in a list of the statement's names at
	// the parse and again at the bind, a cost that grows with the square
	// of the parameters.
	Param func(n int, t string) string
	// KeepEndpoints ends a read of endpoints (alias w) that a write
	// refers to: " FOR KEY SHARE OF w" where a concurrent delete of one
	// could commit between the read and the write (the write waits for
	// it and passes the endpoint over, rather than failing its foreign
	// key), "" where the single writer serializes them.
	KeepEndpoints string
}

// notFound maps ErrNoRows to nf.
func notFound(err, nf error) error {
	if errors.Is(err, ErrNoRows) && nf != nil {
		return nf
	}
	return err
}

// execOne runs a statement on db that must touch a row; one that touches
// none gives nf.
func execOne(ctx context.Context, db DB, nf error, query string, args ...any) error {
	n, err := db.Exec(ctx, query, args...)
	switch {
	case err != nil:
		return err
	case n > 0:
		return nil
	case nf != nil:
		return nf
	}
	return errNoRowsAffected
}

// changed reports whether a conditional statement touched a row.
func changed(n int64, err error) (bool, error) { return n > 0, err }

// count is an Exec's row count as an int.
func count(n int64, err error) (int, error) { return int(n), err }

// Each runs query and hands each row it returns to fn, until fn fails.
func Each(ctx context.Context, db DB, fn func(Row) error, query string, args ...any) error {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// All runs query and maps each row it returns with scan.
func All[T any](ctx context.Context, db DB, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := Each(ctx, db, func(row Row) error {
		v, err := scan(row)
		out = append(out, v)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ScanID reads a row that holds one id.
func ScanID(row Row) (id uuid.UUID, err error) { return id, row.Scan(&id) }

// MarkIDs is an Each callback that marks in set the id each row holds.
func MarkIDs(set map[uuid.UUID]bool) func(Row) error {
	return func(row Row) error {
		id, err := ScanID(row)
		if err == nil {
			set[id] = true
		}
		return err
	}
}

// CountIDs is an Each callback that records in counts the count each row
// holds after its id.
func CountIDs(counts map[uuid.UUID]int) func(Row) error {
	return func(row Row) error {
		var (
			id uuid.UUID
			n  int
		)
		if err := row.Scan(&id, &n); err != nil {
			return err
		}
		counts[id] = n
		return nil
	}
}

// NullUUID maps uuid.Nil to SQL NULL.
func NullUUID(id uuid.UUID) uuid.NullUUID {
	return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil}
}

// nullText maps "" to SQL NULL.
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// textOrEmpty maps SQL NULL to "".
func textOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nullBlob maps an empty b to SQL NULL.
func nullBlob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// UTC is *t in UTC, keeping nil.
func UTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
