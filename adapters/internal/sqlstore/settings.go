package sqlstore

import (
	"context"
	"errors"
)

// GetSettingSQL reads the value of setting $1.
const GetSettingSQL = `SELECT value FROM settings WHERE name = $1`

// PutSettingSQL stores value $2 of setting $1 at $3 unless it has one.
const PutSettingSQL = `INSERT INTO settings (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`

// GetSetting returns the value of setting name, or nil.
func GetSetting(ctx context.Context, db DB, name string) ([]byte, error) {
	var v []byte
	err := db.QueryRow(ctx, GetSettingSQL, name).Scan(&v)
	if errors.Is(err, ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// SchemaVersion is the highest migration applied, from the migrations'
// bookkeeping table.
func SchemaVersion(ctx context.Context, db DB) (int64, error) {
	var v int64
	err := db.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}
