package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

// AdminKeyStore keeps admin keys in admin_keys, by name (never reused) and
// by the SHA-256 of the key.
type AdminKeyStore struct {
	db DBTX
}

var _ app.AdminKeyStore = (*AdminKeyStore)(nil)

// NewAdminKeyStore returns an AdminKeyStore on db.
func NewAdminKeyStore(db DBTX) *AdminKeyStore { return &AdminKeyStore{db: db} }

const adminKeyColumns = `name, key_hash, created_at, revoked_at`

// Create stores k. A name used before (revoked keys included), or a hash
// another key has, gives app.ErrAdminKeyExists (ON CONFLICT DO NOTHING on
// either unique index).
func (s *AdminKeyStore) Create(ctx context.Context, k app.AdminKey) error {
	res, err := exec(ctx, s.db, `INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		k.Name, k.Hash[:], micros(k.CreatedAt), microsPtr(k.RevokedAt))
	return affectedOne(res, err, app.ErrAdminKeyExists)
}

// List returns every key, revoked ones included, by name in byte order
// (the primary key, BINARY collation), read on a reader.
func (s *AdminKeyStore) List(ctx context.Context) ([]app.AdminKey, error) {
	rows, err := s.db.reader().QueryContext(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY name`)
	if err != nil {
		return nil, translate(err, nil)
	}
	defer rows.Close()
	var out []app.AdminKey
	for rows.Next() {
		k, err := scanAdminKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, nil)
	}
	return out, nil
}

// ByHash finds a key by the hash of its secret, revoked or not (RevokedAt
// tells), or gives app.ErrAdminKeyNotFound. It reads on a reader.
func (s *AdminKeyStore) ByHash(ctx context.Context, hash token.Hash) (app.AdminKey, error) {
	return scanAdminKey(s.db.reader().QueryRowContext(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE key_hash = $1`, hash[:]))
}

// Revoke sets the revoked time of the unrevoked key called name, or gives
// app.ErrAdminKeyNotFound (also for a key revoked before).
func (s *AdminKeyStore) Revoke(ctx context.Context, name string, at time.Time) error {
	res, err := exec(ctx, s.db, `UPDATE admin_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL`, name, micros(at))
	return affectedOne(res, err, app.ErrAdminKeyNotFound)
}

func scanAdminKey(row scanner) (app.AdminKey, error) {
	var (
		k       app.AdminKey
		raw     []byte
		created int64
		revoked sql.NullInt64
	)
	if err := row.Scan(&k.Name, &raw, &created, &revoked); err != nil {
		return app.AdminKey{}, translate(err, app.ErrAdminKeyNotFound)
	}
	copy(k.Hash[:], raw)
	k.CreatedAt = fromMicros(created)
	k.RevokedAt = fromNullMicros(revoked)
	return k, nil
}
