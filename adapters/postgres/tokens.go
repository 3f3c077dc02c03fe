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

// Add inserts t; an empty password hash or new email is stored as NULL.
func (r *OneTimeTokenRepository) Add(ctx context.Context, t *token.OneTimeToken) error {
	h := t.Hash()
	_, err := r.db.Exec(ctx, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		h[:], t.UserID(), string(t.Purpose()), t.CreatedAt(), t.ExpiresAt(), t.UsedAt(), nullText(t.PasswordHash()), nullText(t.NewEmail()))
	return translate(err, nil)
}

// ByHashForChange finds a token and locks its row (FOR UPDATE) until the
// transaction ends; an unknown hash gives domain.ErrInvalidToken.
func (r *OneTimeTokenRepository) ByHashForChange(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error) {
	return r.byHash(ctx, hash, " FOR UPDATE")
}

// ByHash finds a token without locking it; an unknown hash gives
// domain.ErrInvalidToken.
func (r *OneTimeTokenRepository) ByHash(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error) {
	return r.byHash(ctx, hash, "")
}

func (r *OneTimeTokenRepository) byHash(ctx context.Context, hash token.Hash, lock string) (*token.OneTimeToken, error) {
	var (
		raw              []byte
		userID           uuid.UUID
		purpose          string
		created, expires time.Time
		used             *time.Time
		pwHash, newEmail *string
	)
	err := r.db.QueryRow(ctx, `SELECT token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email
		FROM one_time_tokens WHERE token_hash = $1`+lock, hash[:]).
		Scan(&raw, &userID, &purpose, &created, &expires, &used, &pwHash, &newEmail)
	if err != nil {
		return nil, translate(err, domain.ErrInvalidToken)
	}
	var h token.Hash
	copy(h[:], raw)
	return token.Rehydrate(h, userID, token.Purpose(purpose), created.UTC(), expires.UTC(), utcPtr(used), textOrEmpty(pwHash), textOrEmpty(newEmail)), nil
}

// MarkUsed saves the used time of t and drops the registration's password
// hash, which a used token no longer needs (a change-email token keeps its
// new address, which is no secret); an unknown token gives
// domain.ErrInvalidToken.
func (r *OneTimeTokenRepository) MarkUsed(ctx context.Context, t *token.OneTimeToken) error {
	h := t.Hash()
	tag, err := r.db.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL WHERE token_hash = $1`, h[:], t.UsedAt())
	return affectedOne(tag, err, domain.ErrInvalidToken)
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
	tag, err := r.db.Exec(ctx, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL
		WHERE user_id = $1 AND purpose = ANY($3) AND used_at IS NULL`, userID, at, names)
	if err != nil {
		return 0, translate(err, nil)
	}
	return int(tag.RowsAffected()), nil
}

// nullText maps "" to SQL NULL.
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// textOrEmpty maps SQL NULL to "".
func textOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
