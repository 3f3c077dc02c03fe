package sqlite

import (
	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
)

// AdminKeyStore keeps admin keys in admin_keys (sqlstore.AdminKeys); names
// sort in byte order (the primary key, BINARY collation), read on a reader.
type AdminKeyStore struct{ sqlstore.AdminKeys }

var _ app.AdminKeyStore = (*AdminKeyStore)(nil)

// NewAdminKeyStore returns an AdminKeyStore on db.
func NewAdminKeyStore(db DBTX) *AdminKeyStore {
	return &AdminKeyStore{sqlstore.AdminKeys{DB: conn{db}}}
}
