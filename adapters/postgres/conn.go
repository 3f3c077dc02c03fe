package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/jackc/pgx/v5"
)

// dialect is what PostgreSQL puts into the shared statements: row locks,
// and email prefixes compared under COLLATE "C" (byte order) on index
// users_email_prefix.
var dialect = sqlstore.Dialect{
	ForUpdate:    " FOR UPDATE",
	UsersByEmail: "users",
	EmailBytes:   `email COLLATE "C"`,
	PrefixEnd: func(p string) (string, bool, bool) {
		if !storableText(p) {
			return "", false, false // no stored address starts with it
		}
		end, ok := prefixEnd(p)
		return end, ok, true
	},
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

func (c conn) Tx(ctx context.Context, fn func(tx sqlstore.DB) error) error {
	return ensureTx(ctx, c.db, func(tx DBTX) error { return fn(conn{tx}) })
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
