package sqlite

import (
	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
)

// SigningKeyRing keeps the signing keys in signing_key_ring
// (sqlstore.SigningKeys); the single writer orders racing saves.
type SigningKeyRing struct{ sqlstore.SigningKeys }

var _ app.SigningKeyRing = (*SigningKeyRing)(nil)

// NewSigningKeyRing returns a SigningKeyRing on db.
func NewSigningKeyRing(db DBTX) *SigningKeyRing {
	return &SigningKeyRing{sqlstore.SigningKeys{DB: conn{db}}}
}
