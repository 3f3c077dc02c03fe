package postgres

import (
	"context"
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
// another key has, gives app.ErrAdminKeyExists. ON CONFLICT DO NOTHING
// lets the unique indexes decide races without aborting the caller's
// transaction.
func (s *AdminKeyStore) Create(ctx context.Context, k app.AdminKey) error {
	tag, err := s.db.Exec(ctx, `INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		k.Name, k.Hash[:], k.CreatedAt, k.RevokedAt)
	return affectedOne(tag, err, app.ErrAdminKeyExists)
}

// List returns every key, revoked ones included, by name in byte order
// (the primary key, COLLATE "C").
func (s *AdminKeyStore) List(ctx context.Context) ([]app.AdminKey, error) {
	rows, err := s.db.Query(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY name`)
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
// tells), or gives app.ErrAdminKeyNotFound.
func (s *AdminKeyStore) ByHash(ctx context.Context, hash token.Hash) (app.AdminKey, error) {
	return scanAdminKey(s.db.QueryRow(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE key_hash = $1`, hash[:]))
}

// Revoke sets the revoked time of the unrevoked key called name, or gives
// app.ErrAdminKeyNotFound (also for a key revoked before).
func (s *AdminKeyStore) Revoke(ctx context.Context, name string, at time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE admin_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL`, name, at)
	return affectedOne(tag, err, app.ErrAdminKeyNotFound)
}

func scanAdminKey(row scanner) (app.AdminKey, error) {
	var (
		k       app.AdminKey
		raw     []byte
		revoked *time.Time
	)
	if err := row.Scan(&k.Name, &raw, &k.CreatedAt, &revoked); err != nil {
		return app.AdminKey{}, translate(err, app.ErrAdminKeyNotFound)
	}
	copy(k.Hash[:], raw)
	k.CreatedAt = k.CreatedAt.UTC()
	k.RevokedAt = utcPtr(revoked)
	return k, nil
}
