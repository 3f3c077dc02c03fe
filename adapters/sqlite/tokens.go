package sqlite

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// OneTimeTokenRepository stores verification and reset tokens by hash
// (sqlstore.OneTimeTokens). ByHashForChange is ByHash: bound to a
// transaction it reads inside it, and the transaction holds the only
// writer until it ends, so of transactions consuming one token the later
// ones see what the first committed.
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
	args := []any{userID, at}
	names := make([]any, len(purposes))
	for i, p := range purposes {
		names[i] = string(p)
	}
	n, err := r.DB.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL
		WHERE user_id = $1 AND purpose IN (`+inList(&args, names)+`) AND used_at IS NULL`, args...)
	return int(n), err
}
