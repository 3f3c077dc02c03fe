package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/keys"
)

// Settings keeps named values in settings.
type Settings struct {
	db DBTX
}

var _ keys.Settings = (*Settings)(nil)

// NewSettings returns Settings on db.
func NewSettings(db DBTX) *Settings { return &Settings{db: db} }

// Get returns the value of name, or nil.
func (s *Settings) Get(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.reader().QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err, nil)
	}
	return v, nil
}

// PutIfAbsent inserts value unless name has one, then reads the stored
// value, both on the writer so that the read sees the winner's insert.
func (s *Settings) PutIfAbsent(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error) {
	var v []byte
	err := s.db.write(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO settings (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, name, value, micros(now)); err != nil {
			return translate(err, nil)
		}
		return translate(q.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v), nil)
	})
	return v, err
}

// StoreInfo describes the embedded store.
type StoreInfo struct {
	db DBTX
}

var _ admin.StoreInfo = (*StoreInfo)(nil)

// NewStoreInfo returns the StoreInfo of db.
func NewStoreInfo(db DBTX) *StoreInfo { return &StoreInfo{db: db} }

// Kind is "sqlite".
func (*StoreInfo) Kind() string { return "sqlite" }

// SchemaVersion reads the migrations' bookkeeping table.
func (s *StoreInfo) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.reader().QueryRowContext(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, translate(err, nil)
}
