package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	_, err := r.db.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID(), u.Email().String(), u.PasswordHash(), u.Active(), u.Verified(), u.CreatedAt(), u.UpdatedAt(), u.VerifiedAt(), u.LastLoginAt(), u.PendingRegistration())
	return translate(err, nil)
}

// ByEmail finds a user by normalized email, or user.ErrNotFound.
func (r *UserRepository) ByEmail(ctx context.Context, email user.Email) (*user.User, error) {
	return scanUser(r.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email.String()))
}

// ByID finds a user by id, or user.ErrNotFound.
func (r *UserRepository) ByID(ctx context.Context, id uuid.UUID) (*user.User, error) {
	return scanUser(r.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// ByIDForChange is ByID with a row lock (FOR UPDATE) held until the
// transaction ends.
func (r *UserRepository) ByIDForChange(ctx context.Context, id uuid.UUID) (*user.User, error) {
	return scanUser(r.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
}

// Update saves the email, password hash, flags and times of u, or gives
// user.ErrNotFound when no such user exists. An email another user holds
// gives user.ErrEmailTaken (unique index users_email_key); bound to a
// transaction, that error aborts it, as any failed statement does.
func (r *UserRepository) Update(ctx context.Context, u *user.User) error {
	tag, err := r.db.Exec(ctx, `UPDATE users SET email = $2, hashed_password = $3, is_active = $4, is_verified = $5,
			updated_at = $6, verified_at = $7, last_login_at = $8, registration_pending = $9
		WHERE id = $1`,
		u.ID(), u.Email().String(), u.PasswordHash(), u.Active(), u.Verified(), u.UpdatedAt(), u.VerifiedAt(), u.LastLoginAt(), u.PendingRegistration())
	return affectedOne(tag, err, user.ErrNotFound)
}

// List returns up to q.Limit users, newest first by (created_at, id), after
// q.Before. Without a prefix the index users_created is walked from the
// cursor on; with one, the prefix is a range in byte order on
// users_email_prefix (email COLLATE "C"), so it is literal (no wildcards)
// and indexed whatever the database's collation. A limit below 1 gives
// nothing.
func (r *UserRepository) List(ctx context.Context, q app.UserQuery) ([]*user.User, error) {
	sql, args, ok := listUsersSQL(q)
	if !ok {
		return nil, nil
	}
	rows, err := r.db.Query(ctx, sql, args...)
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

// listUsersSQL is List's statement for q, or ok false when nothing can
// match (a limit below 1, a prefix no stored address can start with).
func listUsersSQL(q app.UserQuery) (sql string, args []any, ok bool) {
	if q.Limit < 1 {
		return "", nil, false
	}
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.EmailPrefix != "" {
		if !storableText(q.EmailPrefix) {
			return "", nil, false // no stored address starts with it
		}
		where = append(where, `email COLLATE "C" >= `+arg(q.EmailPrefix))
		if end, ok := prefixEnd(q.EmailPrefix); ok {
			where = append(where, `email COLLATE "C" < `+arg(end))
		}
	}
	if q.Before != nil {
		where = append(where, `(created_at, id) < (`+arg(q.Before.CreatedAt)+`, `+arg(q.Before.ID)+`)`)
	}
	sql = `SELECT ` + userColumns + ` FROM users`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sql += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(q.Limit)
	return sql, args, true
}

// deleteUserMailSQL deletes the outbox messages of user $1 (index
// mail_outbox_user).
const deleteUserMailSQL = `DELETE FROM mail_outbox WHERE user_id = $1`

// Delete removes the user, with (by cascade) their sessions, refresh
// tokens and one-time tokens, and every outbox message to them, in one
// transaction (the bound one, or one of its own); an unknown id gives
// user.ErrNotFound. audit_events has no foreign key to users and is not
// touched.
func (r *UserRepository) Delete(ctx context.Context, id uuid.UUID) error {
	return ensureTx(ctx, r.db, func(tx DBTX) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err := affectedOne(tag, err, user.ErrNotFound); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, deleteUserMailSQL, id)
		return translate(err, nil)
	})
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
	created, updated        time.Time
	verifiedAt, lastLoginAt *time.Time
}

// dest are the scan destinations of userColumns, in order.
func (r *userRow) dest() []any {
	return []any{&r.id, &r.email, &r.hash, &r.active, &r.verified, &r.created, &r.updated, &r.verifiedAt, &r.lastLoginAt, &r.pending}
}

func (r *userRow) user() *user.User {
	return user.Rehydrate(r.id, user.RehydrateEmail(r.email), r.hash, r.active, r.verified, r.created.UTC(), r.updated.UTC(), utcPtr(r.verifiedAt), utcPtr(r.lastLoginAt)).RestorePending(r.pending)
}

// utcPtr returns t in UTC, keeping nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// storableText reports whether PostgreSQL can hold s as text (valid UTF-8
// without NUL). A prefix it cannot hold starts no stored text.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// prefixEnd is the least string above every string that starts with p, in
// byte order (which for UTF-8 is code point order): p without its trailing
// U+10FFFF runes, with its last rune incremented. So under COLLATE "C",
// s >= p AND s < end holds exactly when s starts with p. ok is false when
// there is no such string (p is empty or all U+10FFFF): then s >= p alone
// is the prefix test. p must be valid UTF-8.
func prefixEnd(p string) (end string, ok bool) {
	rs := []rune(p)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] < utf8.MaxRune {
			next := rs[i] + 1
			if next >= 0xD800 && next <= 0xDFFF { // surrogates are not text
				next = 0xE000
			}
			return string(rs[:i]) + string(next), true
		}
	}
	return "", false
}
