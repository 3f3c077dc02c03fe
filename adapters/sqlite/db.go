// Package sqlite implements Gatehouse's storage ports on an embedded SQLite
// database file, with the pure-Go driver modernc.org/sqlite (no cgo):
// repositories, the transaction manager, the mail outbox, the hash-chained
// audit log, the rate-limit store, the signing-key store, the retention
// sweep, the migrations runner and online backups; Config (store.go) opens
// all of it as one storage.Store. It is the single-instance
// alternative to package postgres, with the same semantics and the same error
// translation, so that one process can run without a database server.
//
// # Write serialization
//
// A DB is two database/sql pools on one file in WAL mode. The writer is one
// connection, and every write takes it through a FIFO gate: for one
// statement (repositories bound to the pool) or for a whole transaction
// (TxManager.Within, whose transactions begin with BEGIN IMMEDIATE). Writes
// never contend inside SQLite, so requests never see SQLITE_BUSY, and what
// PostgreSQL gets from row locks, SKIP LOCKED and advisory locks holds here
// because there is one writer at a time: a transaction that has read a row
// "for change" is the only writer until it ends, two outbox claims run one
// after the other, and audit appends form one chain. The readers are a few
// query_only connections for pool-bound reads; WAL gives each read the last
// committed state, and readers never wait for the writer.
//
// No write waits without bound: the gate is given up after WriterWait (the
// write fails with domain.ErrUnavailable, like a lock_timeout in
// PostgreSQL), and a transaction that runs longer than MaxTxDuration is
// rolled back. Inside Within the calling goroutine holds the writer, so a
// pool-bound write (or a nested Within) on the same DB would wait for its
// own transaction: it is refused at once with ErrWriteInTransaction,
// detected through the context Within hands to fn. Use the repositories
// handed to fn. Pool-bound reads inside Within are fine; like a read on
// another PostgreSQL connection, they see the last commit, not the
// transaction's own changes.
//
// # One process
//
// The file belongs to one serving process. Open does not lock it, so that
// commands such as migrate and backup work while a server runs; serve calls
// LockForServe, which takes an exclusive lock on <path>.lock and makes a
// second serve on the same file fail at once (embedded mode is one process;
// several instances need PostgreSQL).
//
// # Storage
//
// Times are INTEGER microseconds since the Unix epoch and read back in UTC,
// cut to microseconds, as PostgreSQL returns them; ids are canonical UUID
// text, booleans 0 or 1, maps JSON text. Connections run with
// foreign_keys=ON, busy_timeout=5000, journal_mode=WAL and
// synchronous=NORMAL: a commit survives a crash of the process, and at
// worst the last commits before a power loss are lost, never consistency.
// The database file and its directory are created private (0600, 0700).
//
// # Residue
//
// Connections also run with secure_delete=ON: what a delete or an update
// frees (a deleted account's hash and sealed TOTP secret, an outbox
// payload) is overwritten with zeros in the database file rather than left
// in free pages. The WAL still holds the pages as they were until a
// checkpoint, so a write that clears a secret (a delivered mail's link, a
// deleted account) asks for a scrub: within ScrubDelay a
// wal_checkpoint(TRUNCATE) copies the cleared pages into the file and
// empties the WAL, and the secret is gone from every file of the data
// directory.
//
// Driver errors are translated at this boundary: sql.ErrNoRows becomes the
// port's not-found error, a duplicate email becomes user.ErrEmailTaken,
// errors the SQL or the data caused (constraint violations, SQL errors,
// type mismatches) are returned unwrapped from domain errors so that they
// map to 500, and everything else (a locked or unreadable file, I/O errors,
// a closed DB, context cancellation) is wrapped with domain.Unavailable so
// that it maps to 503. Nothing in this package logs SQL or its arguments.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const (
	// WriterWait bounds how long a write waits for the writer.
	WriterWait = 5 * time.Second
	// MaxTxDuration bounds a transaction of TxManager.Within: one that runs
	// longer is rolled back, so that no transaction holds the only writer
	// for long.
	MaxTxDuration = 30 * time.Second
	// Readers is the size of the pool for pool-bound reads.
	Readers = 4
	// busyTimeout is how long SQLite itself waits for a lock another
	// process holds (a migrate or backup command beside the server).
	busyTimeout = 5000 // ms
	// pingTimeout bounds a readiness probe.
	pingTimeout = 2 * time.Second
	// ScrubDelay is how long after a write that cleared a secret the WAL
	// is checkpointed and truncated (the writes of that moment batch into
	// one checkpoint). A checkpoint that cannot run (a long reader) is
	// tried again after the same delay.
	ScrubDelay = 2 * time.Second
	// scrubBusyWait is how long a scrub's checkpoint waits for readers
	// while it holds the writer.
	scrubBusyWait = 250 * time.Millisecond
)

// ErrWriteInTransaction is returned by a pool-bound write, or a nested
// Within, made with the context of a TxManager.Within of the same DB: the
// writer is held by that transaction, and waiting for it would never end.
// Use the repositories Within hands to fn. It is a programming error (500).
var ErrWriteInTransaction = errors.New("sqlite: pool-bound write inside TxManager.Within would wait for the writer its own transaction holds; use the repositories handed to fn")

var (
	errWriterBusy = fmt.Errorf("sqlite: waited %v for the database writer", WriterWait)
	errClosed     = errors.New("sqlite: database is closed")
)

// DB is an open database file: one writer connection behind a FIFO gate and
// a pool of read-only connections. It is safe for concurrent use.
type DB struct {
	path    string
	writer  *sql.DB // one connection, BEGIN IMMEDIATE
	readers *sql.DB // Readers connections, query_only
	// reads is readers with each read prepared once.
	reads *stmtCache
	gate  chan struct{}
	done  chan struct{}
	// scrub wakes the scrubber (see Residue); scrubbed ends with it.
	scrub    chan struct{}
	scrubbed chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating when missing) the database file at path, a plain
// file path, not a URI. Its directory is created with mode 0700 and a new
// file with mode 0600. The schema is not migrated here: see MigrateUp.
// Open does not take the serve lock (see LockForServe).
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := prepareFile(path)
	if err != nil {
		return nil, err
	}
	writer, err := sql.Open("sqlite", dsn(abs, url.Values{"_txlock": {"immediate"}, "_journal_mode": {"WAL"}}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	readers, err := sql.Open("sqlite", dsn(abs, url.Values{"_query_only": {"1"}}))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", abs, err), writer.Close())
	}
	readers.SetMaxOpenConns(Readers)
	readers.SetMaxIdleConns(Readers)
	d := &DB{
		path: abs, writer: writer, readers: readers, reads: newStmtCache(readers), gate: make(chan struct{}, 1), done: make(chan struct{}),
		scrub: make(chan struct{}, 1), scrubbed: make(chan struct{}),
	}
	go d.scrubber()
	if err := d.check(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", abs, err), d.Close())
	}
	return d, nil
}

// scrubSoon asks for a checkpoint that empties the WAL within ScrubDelay:
// a write cleared a secret whose old page the WAL still holds.
func (d *DB) scrubSoon() {
	select {
	case d.scrub <- struct{}{}:
	default: // one is asked for already
	}
}

// scrubber runs the checkpoints scrubSoon asks for, until Close.
func (d *DB) scrubber() {
	defer close(d.scrubbed)
	for {
		select {
		case <-d.done:
			return
		case <-d.scrub:
		}
		t := time.NewTimer(ScrubDelay)
		select {
		case <-d.done:
			t.Stop()
			return
		case <-t.C:
		}
		if !d.checkpoint() {
			d.scrubSoon() // a reader held an old snapshot: try again
		}
	}
}

// checkpoint copies every page of the WAL into the database file and
// truncates the WAL to zero bytes; false when it could not finish. It
// holds the writer, so it waits for readers (a backup's long read, say)
// only scrubBusyWait before it gives up, rather than stalling every
// write for the whole busy timeout.
func (d *DB) checkpoint() bool {
	ctx, cancel := context.WithTimeout(context.Background(), WriterWait)
	defer cancel()
	unlock, err := d.lockWriter(ctx)
	if err != nil {
		return false
	}
	defer unlock()
	conn, err := d.writer.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, scrubBusyWait.Milliseconds())); err != nil {
		return false
	}
	defer func() {
		_, _ = conn.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA busy_timeout = %d`, busyTimeout))
	}()
	var busy, logPages, moved int
	err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &moved)
	return err == nil && busy == 0
}

// check opens the writer first (which turns the file to WAL) and then a
// reader, and makes sure the file really is in WAL mode: SQLite falls back
// silently where WAL cannot work.
func (d *DB) check(ctx context.Context) error {
	var mode string
	if err := d.writer.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return translate(err, nil)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, not wal (is the file on a network file system?)", mode)
	}
	var n int
	if err := d.readers.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
		return translate(err, nil)
	}
	return nil
}

// Path is the absolute path of the database file.
func (d *DB) Path() string { return d.path }

// PoolStats returns the database/sql statistics of the writer pool and of
// the readers pool, for metrics. Writes queue at the writer's gate before
// they reach the writer pool, so the writer's own wait counts stay near
// zero; a busy writer shows as in-use time instead.
func (d *DB) PoolStats() (writer, readers sql.DBStats) {
	return d.writer.Stats(), d.readers.Stats()
}

// Ping checks, within a short timeout, that the database file can be read.
// Its error matches domain.ErrUnavailable. Used by /readyz.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	var n int
	return translate(d.readers.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n), nil)
}

// Close waits (briefly) for the writer, runs PRAGMA optimize, and closes
// every connection; the last one checkpoints the WAL into the file. Writes
// waiting for the writer fail with domain.ErrUnavailable. Close is
// idempotent.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Keep the writer for good when we get it: nothing writes after
		// Close.
		if _, err := d.lockWriter(ctx); err == nil {
			_, _ = d.writer.ExecContext(ctx, `PRAGMA optimize`)
		}
		close(d.done)
		<-d.scrubbed
		d.closeErr = errors.Join(d.reads.close(), d.readers.Close(), d.writer.Close())
	})
	return d.closeErr
}

// writerKey marks the context Within hands to fn with the DB whose writer
// the transaction holds.
type writerKey struct{}

// lockWriter takes the writer gate, waiting at most WriterWait, and returns
// the function that gives it back.
func (d *DB) lockWriter(ctx context.Context) (unlock func(), err error) {
	if owner, _ := ctx.Value(writerKey{}).(*DB); owner == d {
		return nil, ErrWriteInTransaction
	}
	if err := ctx.Err(); err != nil {
		return nil, domain.Unavailable(err)
	}
	select {
	case <-d.done:
		return nil, domain.Unavailable(errClosed)
	default:
	}
	select {
	case d.gate <- struct{}{}:
	default:
		t := time.NewTimer(WriterWait)
		defer t.Stop()
		select {
		case d.gate <- struct{}{}:
		case <-ctx.Done():
			return nil, domain.Unavailable(ctx.Err())
		case <-t.C:
			return nil, domain.Unavailable(errWriterBusy)
		case <-d.done:
			return nil, domain.Unavailable(errClosed)
		}
	}
	return func() { <-d.gate }, nil
}

// querier is what *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DBTX is what repositories run on: a *DB (each call on its own: reads on
// the readers, writes one statement or one short transaction on the writer)
// or the transaction TxManager.Within hands to fn (everything inside it).
// Only this package implements it.
type DBTX interface {
	// reader is where reads go.
	reader() querier
	// write runs fn with the writer: the transaction itself, or the
	// writer pool held for fn's duration (each statement commits alone).
	write(ctx context.Context, fn func(q querier) error) error
	// writeTx runs fn in one write transaction: the bound one, or a new
	// one committed when fn returns nil.
	writeTx(ctx context.Context, fn func(q querier) error) error
	// readTx runs fn in one read transaction (one snapshot): the bound
	// transaction, or a read-only one on a reader.
	readTx(ctx context.Context, fn func(q querier) error) error
	// scrubSoon asks that the WAL be emptied soon: a write cleared a
	// secret (see Residue in the package documentation).
	scrubSoon()
}

var _ DBTX = (*DB)(nil)

func (d *DB) reader() querier { return d.reads }

func (d *DB) write(ctx context.Context, fn func(q querier) error) error {
	unlock, err := d.lockWriter(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return fn(d.writer)
}

func (d *DB) writeTx(ctx context.Context, fn func(q querier) error) error {
	return d.write(ctx, func(querier) error { return inTx(ctx, d.writer, nil, func(tx *sql.Tx) error { return fn(tx) }) })
}

func (d *DB) readTx(ctx context.Context, fn func(q querier) error) error {
	return inTx(ctx, d.readers, &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error { return fn(tx) })
}

// inTx runs fn in a new transaction on db, committed when fn returns nil
// and rolled back otherwise (also when fn panics). fn's error is returned
// as is; begin and commit failures are translated.
func inTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return translate(err, nil)
	}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	done = true
	return translate(tx.Commit(), nil)
}

// txDB is a DBTX bound to one transaction.
type txDB struct {
	tx *sql.Tx
	db *DB
}

func (t txDB) reader() querier                                           { return t.tx }
func (t txDB) write(_ context.Context, fn func(q querier) error) error   { return fn(t.tx) }
func (t txDB) writeTx(_ context.Context, fn func(q querier) error) error { return fn(t.tx) }
func (t txDB) readTx(_ context.Context, fn func(q querier) error) error  { return fn(t.tx) }

// scrubSoon on a transaction: the scrub waits for the writer, so it runs
// after the commit (or the rollback, harmlessly).
func (t txDB) scrubSoon() { t.db.scrubSoon() }

// exec runs one write statement on db.
func exec(ctx context.Context, db DBTX, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.write(ctx, func(q querier) error {
		var err error
		res, err = q.ExecContext(ctx, query, args...)
		return translate(err, nil)
	})
	return res, err
}

// affected returns how many rows an exec result (err already translated)
// touched.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, translate(err, nil)
	}
	return int(n), nil
}

// micros is t as stored: microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// microsPtr is micros of *t, or SQL NULL for nil.
func microsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros is a stored time, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// prepareFile checks that path is a plain file path, creates its directory
// (0700) and, when missing, the file (0600, which SQLite's WAL and
// shared-memory files then take over), and returns it absolute.
func prepareFile(path string) (string, error) {
	abs, err := absPath(path)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", fmt.Errorf("sqlite: create directory of %s: %w", abs, err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	return abs, nil
}

// absPath checks that path names a file (not a URI, not :memory:) and makes
// it absolute.
func absPath(path string) (string, error) {
	switch {
	case path == "":
		return "", errors.New("sqlite: empty database path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return "", fmt.Errorf("sqlite: database path %q: want a file path (not a URI, not :memory:)", path)
	case strings.ContainsRune(path, 0):
		return "", errors.New("sqlite: database path contains NUL")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlite: database path %q: %w", path, err)
	}
	return abs, nil
}

// dsn is the driver's URI for the file at abs with the connection settings
// every connection has, plus extra.
func dsn(abs string, extra url.Values) string {
	q := url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeout)},
		"_foreign_keys": {"1"},
		"_synchronous":  {"NORMAL"},
		// Freed content is zeroed, not left in free pages (see Residue).
		"_pragma": {"secure_delete(ON)"},
	}
	for k, v := range extra {
		q[k] = v
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}
