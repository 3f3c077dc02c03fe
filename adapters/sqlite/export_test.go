package sqlite

import (
	"context"
	"database/sql"
)

// ExecRaw runs one raw statement on d's writer (taking the gate), for
// tests that tamper with rows.
func ExecRaw(ctx context.Context, d *DB, query string, args ...any) error {
	_, err := exec(ctx, d, query, args...)
	return err
}

// Pools exposes d's writer and reader pools to tests.
func Pools(d *DB) (writer, readers *sql.DB) { return d.writer, d.readers }
