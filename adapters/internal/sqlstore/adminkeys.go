package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

const adminKeyColumns = `name, key_hash, created_at, revoked_at`

// AdminKeys keeps admin keys in admin_keys, by name (never reused) and by
// the SHA-256 of the key.
type AdminKeys struct {
	DB DB
}

// Create stores k. A name used before (revoked keys included), or a hash
// another key has, gives app.ErrAdminKeyExists. ON CONFLICT DO NOTHING
// lets the unique indexes decide races without aborting the caller's
// transaction.
func (s AdminKeys) Create(ctx context.Context, k app.AdminKey) error {
	return execOne(ctx, s.DB, app.ErrAdminKeyExists, `INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		k.Name, k.Hash[:], k.CreatedAt, k.RevokedAt)
}

// List returns every key, revoked ones included, by name in byte order
// (the primary key; its collation is byte order in both stores).
func (s AdminKeys) List(ctx context.Context) ([]app.AdminKey, error) {
	return All(ctx, s.DB, scanAdminKey, `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY name`)
}

// ByHash finds a key by the hash of its secret, revoked or not (RevokedAt
// tells), or gives app.ErrAdminKeyNotFound.
func (s AdminKeys) ByHash(ctx context.Context, hash token.Hash) (app.AdminKey, error) {
	return scanAdminKey(s.DB.QueryRow(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE key_hash = $1`, hash[:]))
}

// Revoke sets the revoked time of the unrevoked key called name, or gives
// app.ErrAdminKeyNotFound (also for a key revoked before).
func (s AdminKeys) Revoke(ctx context.Context, name string, at time.Time) error {
	return execOne(ctx, s.DB, app.ErrAdminKeyNotFound, `UPDATE admin_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL`, name, at)
}

func scanAdminKey(row Row) (app.AdminKey, error) {
	var (
		k   app.AdminKey
		raw []byte
	)
	if err := row.Scan(&k.Name, &raw, &k.CreatedAt, &k.RevokedAt); err != nil {
		return app.AdminKey{}, notFound(err, app.ErrAdminKeyNotFound)
	}
	copy(k.Hash[:], raw)
	return k, nil
}
