package sqlite

import (
	"context"
	"database/sql"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/pressly/goose/v3"
)

// ExecRaw runs one raw statement on d's writer (taking the gate), for
// tests that tamper with rows.
func ExecRaw(ctx context.Context, d *DB, query string, args ...any) error {
	_, err := exec(ctx, d, query, args...)
	return err
}

// CountRaw runs one raw count query on a reader of d.
func CountRaw(ctx context.Context, d *DB, query string, args ...any) (int, error) {
	var n int
	err := d.readers.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// PreparedReads is how many reads d keeps prepared.
func PreparedReads(d *DB) int { return d.reads.len() }

// Pools exposes d's writer and reader pools to tests.
func Pools(d *DB) (writer, readers *sql.DB) { return d.writer, d.readers }

// OpenStore is the store on an open database, for the contract suite and
// the tests of single ports.
var OpenStore = open

// Statements of the repositories, for the query-plan tests.
var (
	ListUsersSQL     = func(q app.UserQuery) (string, []any, bool) { return encoded(sqlstore.ListUsersSQL(dialect, q)) }
	AuditQuerySQL    = func(q admin.AuditQuery) (string, []any, bool) { return encoded(sqlstore.AuditQuerySQL(q)) }
	DeleteExpiredSQL = deleteExpiredSQL
	ResetPrefixSQL   = func(p string) (string, []any) { q, a, _ := sqlstore.ResetPrefixSQL(dialect, p); return q, a }
	CountActiveSQL   = countActiveSQL
	OutboxStatsSQL   = sqlstore.OutboxStatsSQL(dialect)
	EnabledAmongSQL  = enabledAmongSQL
	// SweepRegistrationsSQL is the janitor's sweep of pending
	// registrations.
	SweepRegistrationsSQL = sweepRegistrationsSQL
)

// encoded is a built statement with its arguments as stored.
func encoded(query string, args []any, ok bool) (string, []any, bool) { return query, encode(args), ok }

// MigrateUpTo applies the migrations up to and including version, for the
// tests of one migration's round trip.
func MigrateUpTo(ctx context.Context, path string, version int64) error {
	abs, err := prepareFile(path)
	if err != nil {
		return err
	}
	return withProvider(ctx, abs, func(p *goose.Provider) error {
		_, err := p.UpTo(ctx, version)
		return err
	})
}
