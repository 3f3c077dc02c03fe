package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// OneTimeTokenRepository stores verification and reset tokens by hash.
type OneTimeTokenRepository struct {
	db DBTX
}

var _ app.OneTimeTokenRepository = (*OneTimeTokenRepository)(nil)

// NewOneTimeTokenRepository returns a OneTimeTokenRepository on db.
func NewOneTimeTokenRepository(db DBTX) *OneTimeTokenRepository {
	return &OneTimeTokenRepository{db: db}
}

// Issue marks every unused token of t's user and purpose used at t's
// creation time and inserts t. It first locks the user's row (held until
// the transaction ends), so that concurrent issues for one user are
// serialized and only the newest token stays usable.
func (r *OneTimeTokenRepository) Issue(ctx context.Context, t *token.OneTimeToken) error {
	h := t.Hash()
	if _, err := r.db.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, t.UserID()); err != nil {
		return translate(err, nil)
	}
	_, err := r.db.Exec(ctx, `
		WITH invalidated AS (
			UPDATE one_time_tokens SET used_at = $4
			WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL
		)
		INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		h[:], t.UserID(), string(t.Purpose()), t.CreatedAt(), t.ExpiresAt(), t.UsedAt())
	return translate(err, nil)
}

// ByHashForUpdate finds a token and locks it until the transaction ends;
// an unknown hash gives domain.ErrInvalidToken.
func (r *OneTimeTokenRepository) ByHashForUpdate(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error) {
	var (
		raw              []byte
		userID           uuid.UUID
		purpose          string
		created, expires time.Time
		used             *time.Time
	)
	err := r.db.QueryRow(ctx, `SELECT token_hash, user_id, purpose, created_at, expires_at, used_at FROM one_time_tokens WHERE token_hash = $1 FOR UPDATE`, hash[:]).
		Scan(&raw, &userID, &purpose, &created, &expires, &used)
	if err != nil {
		return nil, translate(err, domain.ErrInvalidToken)
	}
	var h token.Hash
	copy(h[:], raw)
	return token.Rehydrate(h, userID, token.Purpose(purpose), created.UTC(), expires.UTC(), utcPtr(used)), nil
}

// MarkUsed saves the used time of t; an unknown token gives
// domain.ErrInvalidToken.
func (r *OneTimeTokenRepository) MarkUsed(ctx context.Context, t *token.OneTimeToken) error {
	h := t.Hash()
	tag, err := r.db.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2 WHERE token_hash = $1`, h[:], t.UsedAt())
	return affectedOne(tag, err, domain.ErrInvalidToken)
}
