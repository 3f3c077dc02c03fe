package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

// OneTimeTokens stores verification and reset tokens by hash.
// InvalidateUnused, which takes a list of purposes, is each store's own.
type OneTimeTokens struct {
	DB      DB
	Dialect Dialect
	Own
}

// Add inserts t; an empty password hash or new email is stored as NULL.
func (r OneTimeTokens) Add(ctx context.Context, t *token.OneTimeToken) error {
	h := t.Hash()
	_, err := r.DB.Exec(ctx, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		h[:], t.UserID(), string(t.Purpose()), t.CreatedAt(), t.ExpiresAt(), t.UsedAt(), nullText(t.PasswordHash()), nullText(t.NewEmail()))
	return err
}

// ByHashForChange finds a token for a change; an unknown hash gives
// domain.ErrInvalidToken. Bound to a transaction, of transactions
// consuming one token the later ones see what the first committed (a row
// lock, or the single writer).
func (r OneTimeTokens) ByHashForChange(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error) {
	return r.byHash(ctx, hash, r.Dialect.ForUpdate)
}

// ByHash finds a token without locking it; an unknown hash gives
// domain.ErrInvalidToken.
func (r OneTimeTokens) ByHash(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error) {
	return r.byHash(ctx, hash, "")
}

func (r OneTimeTokens) byHash(ctx context.Context, hash token.Hash, lock string) (*token.OneTimeToken, error) {
	var (
		raw              []byte
		userID           uuid.UUID
		purpose          string
		created, expires time.Time
		used             *time.Time
		pwHash, newEmail *string
	)
	err := r.DB.QueryRow(ctx, `SELECT token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email
		FROM one_time_tokens WHERE token_hash = $1`+lock, hash[:]).
		Scan(&raw, &userID, &purpose, &created, &expires, &used, &pwHash, &newEmail)
	if err != nil {
		return nil, notFound(err, domain.ErrInvalidToken)
	}
	var h token.Hash
	copy(h[:], raw)
	return token.Rehydrate(h, userID, token.Purpose(purpose), created, expires, used, textOrEmpty(pwHash), textOrEmpty(newEmail)), nil
}

// MarkUsed saves the used time of t and drops the registration's password
// hash, which a used token no longer needs (a change-email token keeps its
// new address, which is no secret); an unknown token gives
// domain.ErrInvalidToken.
func (r OneTimeTokens) MarkUsed(ctx context.Context, t *token.OneTimeToken) error {
	h := t.Hash()
	return execOne(ctx, r.DB, domain.ErrInvalidToken, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL WHERE token_hash = $1`, h[:], t.UsedAt())
}
