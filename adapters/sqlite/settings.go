package sqlite

import (
	"context"
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
// value, both on the writer so that the read sees the winner's insert.
func (s *Settings) PutIfAbsent(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error) {
	var v []byte
	err := s.db.write(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, sqlstore.PutSettingSQL, name, value, micros(now)); err != nil {
			return translate(err, nil)
		}
		return translate(q.QueryRowContext(ctx, sqlstore.GetSettingSQL, name).Scan(&v), nil)
	})
	return v, err
}

// StoreInfo describes the embedded store.
type StoreInfo struct {
	db DBTX
}

var _ app.StoreInfo = (*StoreInfo)(nil)

// NewStoreInfo returns the StoreInfo of db.
func NewStoreInfo(db DBTX) *StoreInfo { return &StoreInfo{db: db} }

// Kind is "sqlite".
func (*StoreInfo) Kind() string { return "sqlite" }

// SchemaVersion reads the migrations' bookkeeping table.
func (s *StoreInfo) SchemaVersion(ctx context.Context) (int64, error) {
	return sqlstore.SchemaVersion(ctx, conn{s.db})
}
