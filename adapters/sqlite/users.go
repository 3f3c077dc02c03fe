package sqlite

import (
	"context"
	"database/sql"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// UserRepository stores users in the users table, email in normalized form.
type UserRepository struct {
	db DBTX
}

var _ app.UserRepository = (*UserRepository)(nil)

// NewUserRepository returns a UserRepository on db.
func NewUserRepository(db DBTX) *UserRepository { return &UserRepository{db: db} }

const userColumns = `id, email, hashed_password, is_active, is_verified, created_at, updated_at, verified_at`

// Create inserts u; a duplicate email gives user.ErrEmailTaken.
func (r *UserRepository) Create(ctx context.Context, u *user.User) error {
	_, err := exec(ctx, r.db, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID().String(), u.Email().String(), u.PasswordHash(), u.Active(), u.Verified(),
		micros(u.CreatedAt()), micros(u.UpdatedAt()), microsPtr(u.VerifiedAt()))
	return err
}

// ByEmail finds a user by normalized email, or user.ErrNotFound.
func (r *UserRepository) ByEmail(ctx context.Context, email user.Email) (*user.User, error) {
	return scanUser(r.db.reader().QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email.String()))
}

// ByID finds a user by id, or user.ErrNotFound.
func (r *UserRepository) ByID(ctx context.Context, id uuid.UUID) (*user.User, error) {
	return scanUser(r.db.reader().QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id.String()))
}

// ByIDForChange is ByID. Bound to a transaction it reads inside it, and the
// transaction holds the only writer until it ends, which serializes the
// transactions that change the user as a row lock would.
func (r *UserRepository) ByIDForChange(ctx context.Context, id uuid.UUID) (*user.User, error) {
	return r.ByID(ctx, id)
}

// Update saves the password hash, flags and times of u, or gives
// user.ErrNotFound when no such user exists.
func (r *UserRepository) Update(ctx context.Context, u *user.User) error {
	res, err := exec(ctx, r.db, `UPDATE users SET hashed_password = $2, is_active = $3, is_verified = $4, updated_at = $5, verified_at = $6 WHERE id = $1`,
		u.ID().String(), u.PasswordHash(), u.Active(), u.Verified(), micros(u.UpdatedAt()), microsPtr(u.VerifiedAt()))
	return affectedOne(res, err, user.ErrNotFound)
}

func scanUser(row scanner) (*user.User, error) {
	var (
		id               uuid.UUID
		email, hash      string
		active, verified bool
		created, updated int64
		verifiedAt       sql.NullInt64
	)
	if err := row.Scan(&id, &email, &hash, &active, &verified, &created, &updated, &verifiedAt); err != nil {
		return nil, translate(err, user.ErrNotFound)
	}
	return user.Rehydrate(id, user.RehydrateEmail(email), hash, active, verified, fromMicros(created), fromMicros(updated), fromNullMicros(verifiedAt)), nil
}
