package sqlstore

import (
	"context"
	"errors"
	"time"
)

// Settings keeps named values in settings.
type Settings struct {
	DB DB
}

// Get returns the value of name, or nil.
func (s Settings) Get(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.DB.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// PutIfAbsent inserts value unless name has one, then reads the stored
// value, in one write transaction: the read comes after a racing insert
// has committed (the insert waits for it, or the single writer orders
// them), so every caller reads the winner's value.
func (s Settings) PutIfAbsent(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error) {
	var v []byte
	err := s.DB.Tx(ctx, func(tx DB) error {
		if _, err := tx.Exec(ctx, `INSERT INTO settings (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, name, value, now); err != nil {
			return err
		}
		var err error
		v, err = Settings{tx}.Get(ctx, name)
		if err == nil && v == nil {
			err = errors.New("sqlstore: the setting " + name + " vanished after it was stored")
		}
		return err
	})
	return v, err
}

// StoreInfo describes a store: its kind and its schema version.
type StoreInfo struct {
	DB   DB
	Name string
}

// Kind is the store's name ("postgres", "sqlite").
func (s StoreInfo) Kind() string { return s.Name }

// SchemaVersion reads the migrations' bookkeeping table.
func (s StoreInfo) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.DB.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}
