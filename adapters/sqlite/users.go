package sqlite

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

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

const userColumns = `id, email, hashed_password, is_active, is_verified, created_at, updated_at, verified_at, last_login_at, registration_pending`

// Create inserts u; a duplicate email gives user.ErrEmailTaken.
func (r *UserRepository) Create(ctx context.Context, u *user.User) error {
	_, err := exec(ctx, r.db, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID().String(), u.Email().String(), u.PasswordHash(), u.Active(), u.Verified(),
		micros(u.CreatedAt()), micros(u.UpdatedAt()), microsPtr(u.VerifiedAt()), microsPtr(u.LastLoginAt()), u.PendingRegistration())
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

// Update saves the email, password hash, flags and times of u, or gives
// user.ErrNotFound when no such user exists. An email another user holds
// gives user.ErrEmailTaken (unique index users_email_key).
func (r *UserRepository) Update(ctx context.Context, u *user.User) error {
	res, err := exec(ctx, r.db, `UPDATE users SET email = $2, hashed_password = $3, is_active = $4, is_verified = $5,
			updated_at = $6, verified_at = $7, last_login_at = $8, registration_pending = $9
		WHERE id = $1`,
		u.ID().String(), u.Email().String(), u.PasswordHash(), u.Active(), u.Verified(),
		micros(u.UpdatedAt()), microsPtr(u.VerifiedAt()), microsPtr(u.LastLoginAt()), u.PendingRegistration())
	return affectedOne(res, err, user.ErrNotFound)
}

// List returns up to q.Limit users, newest first by (created_at, id), after
// q.Before, in one statement on a reader. Without a prefix the index
// users_created is walked from the cursor on (row-value comparison). With
// one, the prefix is the range [prefix, successor) in byte order on
// users_email_key, whose BINARY collation is byte order, so it is literal
// (no LIKE, no wildcards); INDEXED BY makes SQLite use that index or fail,
// never scan the table. A limit below 1 gives nothing.
func (r *UserRepository) List(ctx context.Context, q app.UserQuery) ([]*user.User, error) {
	query, args, ok := listUsersSQL(q)
	if !ok {
		return nil, nil
	}
	rows, err := r.db.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err, nil)
	}
	defer rows.Close()
	var out []*user.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, nil)
	}
	return out, nil
}

// listUsersSQL is List's statement for q, or ok false for a limit below 1.
func listUsersSQL(q app.UserQuery) (query string, args []any, ok bool) {
	if q.Limit < 1 {
		return "", nil, false
	}
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	from := `users`
	if q.EmailPrefix != "" {
		from = `users INDEXED BY users_email_key`
		where = append(where, `email >= `+arg(q.EmailPrefix))
		if end, ok := prefixEnd(q.EmailPrefix); ok {
			where = append(where, `email < `+arg(end))
		}
	}
	if q.Before != nil {
		where = append(where, `(created_at, id) < (`+arg(micros(q.Before.CreatedAt))+`, `+arg(q.Before.ID.String())+`)`)
	}
	query = `SELECT ` + userColumns + ` FROM ` + from
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(q.Limit)
	return query, args, true
}

// deleteUserMailSQL deletes the outbox messages of user $1 (index
// mail_outbox_user).
const deleteUserMailSQL = `DELETE FROM mail_outbox WHERE user_id = $1`

// Delete removes the user, with (by cascade) their sessions, refresh
// tokens and one-time tokens, and every outbox message to them, in one
// write transaction (the bound one, or one of its own); an unknown id
// gives user.ErrNotFound. audit_events has no foreign key to users and is
// not touched. The WAL's copy of what went (the password hash, a sealed
// TOTP secret) is scrubbed soon after.
func (r *UserRepository) Delete(ctx context.Context, id uuid.UUID) error {
	err := r.db.writeTx(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id.String())
		if err := affectedOne(res, translate(err, nil), user.ErrNotFound); err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, deleteUserMailSQL, id.String())
		return translate(err, nil)
	})
	if err == nil {
		r.db.scrubSoon()
	}
	return err
}

func scanUser(row scanner) (*user.User, error) {
	var u userRow
	if err := row.Scan(u.dest()...); err != nil {
		return nil, translate(err, user.ErrNotFound)
	}
	return u.user(), nil
}

// userRow is one row of userColumns.
type userRow struct {
	id                      uuid.UUID
	email, hash             string
	active, verified        bool
	pending                 bool
	created, updated        int64
	verifiedAt, lastLoginAt sql.NullInt64
}

// dest are the scan destinations of userColumns, in order.
func (r *userRow) dest() []any {
	return []any{&r.id, &r.email, &r.hash, &r.active, &r.verified, &r.created, &r.updated, &r.verifiedAt, &r.lastLoginAt, &r.pending}
}

func (r *userRow) user() *user.User {
	return user.Rehydrate(r.id, user.RehydrateEmail(r.email), r.hash, r.active, r.verified, fromMicros(r.created), fromMicros(r.updated),
		fromNullMicros(r.verifiedAt), fromNullMicros(r.lastLoginAt)).RestorePending(r.pending)
}

// prefixEnd is the least string above every string that starts with p in
// byte order (BINARY collation, memcmp): p without its trailing 0xFF
// bytes, with its last byte incremented. So s >= p AND s < end holds
// exactly when s starts with p, whatever the bytes (the end need not be
// valid UTF-8; BINARY compares bytes). ok is false when there is no such
// string (p is empty or all 0xFF): then s >= p alone is the prefix test.
func prefixEnd(p string) (end string, ok bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
