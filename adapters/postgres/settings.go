package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
)

// Settings keeps named values in settings.
type Settings struct {
	db DBTX
}

var _ app.Settings = (*Settings)(nil)

// NewSettings returns Settings on db.
func NewSettings(db DBTX) *Settings { return &Settings{db: db} }

// Get returns the value of name, or nil.
func (s *Settings) Get(ctx context.Context, name string) ([]byte, error) {
	return sqlstore.GetSetting(ctx, conn{s.db}, name)
}

// PutIfAbsent inserts value unless name has one, then reads the stored
// value. Two statements: the read takes a snapshot after a racing
// insert has committed, so every caller reads the winner's value.
func (s *Settings) PutIfAbsent(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error) {
	if _, err := s.db.Exec(ctx, sqlstore.PutSettingSQL, name, value, now); err != nil {
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

var _ app.StoreInfo = (*StoreInfo)(nil)

// NewStoreInfo returns the StoreInfo of db.
func NewStoreInfo(db DBTX) *StoreInfo { return &StoreInfo{db: db} }

// Kind is "postgres".
func (*StoreInfo) Kind() string { return "postgres" }

// SchemaVersion reads the migrations' bookkeeping table.
func (s *StoreInfo) SchemaVersion(ctx context.Context) (int64, error) {
	return sqlstore.SchemaVersion(ctx, conn{s.db})
}
