package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// OneTimeTokenRepository stores verification and reset tokens by hash
// (sqlstore.OneTimeTokens); ByHashForChange locks the row (FOR UPDATE)
// until the transaction ends.
type OneTimeTokenRepository struct {
	sqlstore.OneTimeTokens
}

var _ app.OneTimeTokenRepository = (*OneTimeTokenRepository)(nil)

// NewOneTimeTokenRepository returns a OneTimeTokenRepository on db.
func NewOneTimeTokenRepository(db DBTX) *OneTimeTokenRepository {
	return &OneTimeTokenRepository{sqlstore.OneTimeTokens{DB: conn{db}, Dialect: dialect}}
}

// InvalidateUnused marks the user's unused tokens of the given purposes used
// at at, dropping their password hashes and keeping new addresses (index
// one_time_tokens_user_purpose_unused).
func (r *OneTimeTokenRepository) InvalidateUnused(ctx context.Context, userID uuid.UUID, at time.Time, purposes ...token.Purpose) (int, error) {
	if len(purposes) == 0 {
		return 0, nil
	}
	names := make([]string, len(purposes))
	for i, p := range purposes {
		names[i] = string(p)
	}
	n, err := r.DB.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL
		WHERE user_id = $1 AND purpose = ANY($3) AND used_at IS NULL`, userID, at, names)
	return int(n), err
}
