package sqlite

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
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
	_, err := exec(ctx, r.db, `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		h[:], t.UserID().String(), string(t.Purpose()), micros(t.CreatedAt()), micros(t.ExpiresAt()), microsPtr(t.UsedAt()),
		nullText(t.PasswordHash()), nullText(t.NewEmail()))
	return err
}

// ByHashForChange finds a token, or gives domain.ErrInvalidToken. Bound to
// a transaction it reads inside it, and the transaction holds the only
// writer until it ends: of transactions consuming one token, the later
// ones see what the first committed.
func (r *OneTimeTokenRepository) ByHashForChange(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error) {
	return r.ByHash(ctx, hash)
}

// ByHash finds a token, or gives domain.ErrInvalidToken. Outside a
// transaction it reads from the readers and takes no writer.
func (r *OneTimeTokenRepository) ByHash(ctx context.Context, hash token.Hash) (*token.OneTimeToken, error) {
	var (
		raw              []byte
		userID           uuid.UUID
		purpose          string
		created, expires int64
		used             sql.NullInt64
		pwHash, newEmail sql.NullString
	)
	err := r.db.reader().QueryRowContext(ctx, `SELECT token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email
		FROM one_time_tokens WHERE token_hash = $1`, hash[:]).
		Scan(&raw, &userID, &purpose, &created, &expires, &used, &pwHash, &newEmail)
	if err != nil {
		return nil, translate(err, domain.ErrInvalidToken)
	}
	var h token.Hash
	copy(h[:], raw)
	return token.Rehydrate(h, userID, token.Purpose(purpose), fromMicros(created), fromMicros(expires), fromNullMicros(used), pwHash.String, newEmail.String), nil
}

// MarkUsed saves the used time of t and drops the registration's password
// hash, which a used token no longer needs (a change-email token keeps its
// new address, which is no secret); an unknown token gives
// domain.ErrInvalidToken.
func (r *OneTimeTokenRepository) MarkUsed(ctx context.Context, t *token.OneTimeToken) error {
	h := t.Hash()
	res, err := exec(ctx, r.db, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL WHERE token_hash = $1`, h[:], microsPtr(t.UsedAt()))
	return affectedOne(res, err, domain.ErrInvalidToken)
}

// InvalidateUnused marks the user's unused tokens of the given purposes used
// at at, dropping their password hashes and keeping new addresses (index
// one_time_tokens_user_purpose_unused).
func (r *OneTimeTokenRepository) InvalidateUnused(ctx context.Context, userID uuid.UUID, at time.Time, purposes ...token.Purpose) (int, error) {
	if len(purposes) == 0 {
		return 0, nil
	}
	args := []any{userID.String(), micros(at)}
	marks := make([]string, len(purposes))
	for i, p := range purposes {
		args = append(args, string(p))
		marks[i] = "$" + strconv.Itoa(len(args))
	}
	return affected(exec(ctx, r.db, `UPDATE one_time_tokens SET used_at = $2, password_hash = NULL
		WHERE user_id = $1 AND purpose IN (`+strings.Join(marks, ", ")+`) AND used_at IS NULL`, args...))
}

// nullText maps "" to SQL NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}
