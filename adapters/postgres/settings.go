package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/jackc/pgx/v5"
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
	err := s.db.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err, nil)
	}
	return v, nil
}

// PutIfAbsent inserts value unless name has one, then reads the stored
// value. Two statements: the read takes a snapshot after a racing
// insert has committed, so every caller reads the winner's value.
func (s *Settings) PutIfAbsent(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO settings (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, name, value, now); err != nil {
		return nil, translate(err, nil)
	}
	v, err := s.Get(ctx, name)
	if err == nil && v == nil {
		err = errors.New("postgres: the setting " + name + " vanished after it was stored")
	}
	return v, err
}

// StoreInfo describes the PostgreSQL store.
type StoreInfo struct {
	db DBTX
}

var _ admin.StoreInfo = (*StoreInfo)(nil)

// NewStoreInfo returns the StoreInfo of db.
func NewStoreInfo(db DBTX) *StoreInfo { return &StoreInfo{db: db} }

// Kind is "postgres".
func (*StoreInfo) Kind() string { return "postgres" }

// SchemaVersion reads the migrations' bookkeeping table.
func (s *StoreInfo) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, translate(err, nil)
}
