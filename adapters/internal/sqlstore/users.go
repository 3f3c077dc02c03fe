package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// UserColumns are the columns of a user, in UserRow's order.
const UserColumns = `id, email, hashed_password, is_active, is_verified, created_at, updated_at, verified_at, last_login_at, registration_pending`

// DeleteUserMailSQL deletes the outbox messages of user $1 (index
// mail_outbox_user).
const DeleteUserMailSQL = `DELETE FROM mail_outbox WHERE user_id = $1`

// Users stores users in the users table, email in normalized form.
type Users struct {
	DB      DB
	Dialect Dialect
}

// Create inserts u; a duplicate email gives user.ErrEmailTaken.
func (r Users) Create(ctx context.Context, u *user.User) error {
	_, err := r.DB.Exec(ctx, `INSERT INTO users (`+UserColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, userArgs(u)...)
	return err
}

// userArgs are the values of UserColumns for u, in order.
func userArgs(u *user.User) []any {
	return []any{u.ID(), u.Email().String(), u.PasswordHash(), u.Active(), u.Verified(), u.CreatedAt(), u.UpdatedAt(), u.VerifiedAt(), u.LastLoginAt(), u.PendingRegistration()}
}

// createManyRows is how many users one statement of CreateMissing
// inserts: ten arguments each, 5,000 a statement, under either store's
// limit on the arguments of one statement (SQLite 32766, PostgreSQL
// 65535). Its parameters are Dialect.Param's, which SQLite binds without
// looking names up, so a statement costs in proportion to its rows; 500
// a statement imported faster than 100 (docs/performance.md).
const createManyRows = 500

// CreateMissing inserts us createManyRows at a time, each statement one
// INSERT ... ON CONFLICT (email) DO NOTHING RETURNING id on the unique
// index users_email_key, in one transaction (the bound one, or one of its
// own).
func (r Users) CreateMissing(ctx context.Context, us []*user.User) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := r.DB.Tx(ctx, func(tx DB) error {
		ids = ids[:0]
		for start := 0; start < len(us); start += createManyRows {
			chunk := us[start:min(start+createManyRows, len(us))]
			var q strings.Builder
			q.WriteString(`INSERT INTO users (` + UserColumns + `) VALUES `)
			var args []any
			for i, u := range chunk {
				if i > 0 {
					q.WriteString(`, `)
				}
				q.WriteString(`(`)
				for c, v := range userArgs(u) {
					if c > 0 {
						q.WriteString(`, `)
					}
					args = append(args, v)
					q.WriteString(r.Dialect.Param(len(args), ""))
				}
				q.WriteString(`)`)
			}
			q.WriteString(` ON CONFLICT (email) DO NOTHING RETURNING id`)
			got, err := All(ctx, tx, func(row Row) (uuid.UUID, error) {
				var id uuid.UUID
				err := row.Scan(&id)
				return id, err
			}, q.String(), args...)
			if err != nil {
				return err
			}
			ids = append(ids, got...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ByEmail finds a user by normalized email, or user.ErrNotFound.
func (r Users) ByEmail(ctx context.Context, email user.Email) (*user.User, error) {
	return ScanUser(r.DB.QueryRow(ctx, `SELECT `+UserColumns+` FROM users WHERE email = $1`, email.String()))
}

// forLoginSQL reads user $1 by email (index users_email_key) with whether
// it has a confirmed factor (primary key of mfa_totp).
var forLoginSQL = `SELECT ` + Qualify("u.", UserColumns) + `, t.confirmed_at IS NOT NULL
	FROM users u LEFT JOIN mfa_totp t ON t.user_id = u.id
	WHERE u.email = $1`

// ForLogin finds a user by normalized email with whether it has a
// confirmed second factor, in one statement, or gives user.ErrNotFound.
func (r Users) ForLogin(ctx context.Context, email user.Email) (*user.User, bool, error) {
	var (
		u   UserRow
		mfa bool
	)
	if err := r.DB.QueryRow(ctx, forLoginSQL, email.String()).Scan(append(u.Dest(), &mfa)...); err != nil {
		return nil, false, notFound(err, user.ErrNotFound)
	}
	return u.User(), mfa, nil
}

// ByID finds a user by id, or user.ErrNotFound.
func (r Users) ByID(ctx context.Context, id uuid.UUID) (*user.User, error) {
	return ScanUser(r.DB.QueryRow(ctx, `SELECT `+UserColumns+` FROM users WHERE id = $1`, id))
}

// ByIDForChange is ByID for a change: bound to a transaction, no other
// transaction changes the user until it ends (a row lock, or the single
// writer).
func (r Users) ByIDForChange(ctx context.Context, id uuid.UUID) (*user.User, error) {
	return ScanUser(r.DB.QueryRow(ctx, `SELECT `+UserColumns+` FROM users WHERE id = $1`+r.Dialect.ForUpdate, id))
}

// Update saves the email, password hash, flags and times of u, or gives
// user.ErrNotFound when no such user exists. An email another user holds
// gives user.ErrEmailTaken (unique index users_email_key); bound to a
// transaction, that error aborts it, as any failed statement does.
func (r Users) Update(ctx context.Context, u *user.User) error {
	s := updateUser(u)
	return execOne(ctx, r.DB, user.ErrNotFound, s.SQL, s.Args...)
}

// updateUser is Update's statement for u.
func updateUser(u *user.User) Stmt {
	return Stmt{`UPDATE users SET email = $2, hashed_password = $3, is_active = $4, is_verified = $5,
			updated_at = $6, verified_at = $7, last_login_at = $8, registration_pending = $9
		WHERE id = $1`,
		[]any{u.ID(), u.Email().String(), u.PasswordHash(), u.Active(), u.Verified(), u.UpdatedAt(), u.VerifiedAt(), u.LastLoginAt(), u.PendingRegistration()}}
}

// List returns up to q.Limit users, newest first by (created_at, id), after
// q.Before, in one statement. Without a prefix the index users_created is
// walked from the cursor on (row-value comparison); with one, the prefix
// is the range [prefix, successor) in byte order on the email index, so it
// is literal (no LIKE, no wildcards) and indexed whatever the collation. A
// limit below 1 gives nothing.
func (r Users) List(ctx context.Context, q app.UserQuery) ([]*user.User, error) {
	query, args, ok := ListUsersSQL(r.Dialect, q)
	if !ok {
		return nil, nil
	}
	return All(ctx, r.DB, ScanUser, query, args...)
}

// ListUsersSQL is List's statement for q, or ok false when nothing can
// match (a limit below 1, a prefix no stored address can start with).
func ListUsersSQL(d Dialect, q app.UserQuery) (query string, args []any, ok bool) {
	if q.Limit < 1 {
		return "", nil, false
	}
	var b builder
	from := `users`
	if q.EmailPrefix != "" {
		end, bounded, matchable := d.PrefixEnd(q.EmailPrefix)
		if !matchable {
			return "", nil, false
		}
		from = d.UsersByEmail
		b.where(d.EmailBytes+` >= `, q.EmailPrefix)
		if bounded {
			b.where(d.EmailBytes+` < `, end)
		}
	}
	if q.Before != nil {
		b.where(`(created_at, id) < (`, q.Before.CreatedAt, `, `, q.Before.ID, `)`)
	}
	return b.sql(`SELECT `+UserColumns+` FROM `+from, ` ORDER BY created_at DESC, id DESC`, q.Limit), b.args, true
}

// Delete removes the user, with (by cascade) their sessions, refresh
// tokens and one-time tokens, and every outbox message to them, in one
// transaction (the bound one, or one of its own); an unknown id gives
// user.ErrNotFound. audit_events has no foreign key to users and is not
// touched. The store is asked to scrub the old copies of what went.
func (r Users) Delete(ctx context.Context, id uuid.UUID) error {
	err := r.DB.Tx(ctx, func(tx DB) error {
		if err := execOne(ctx, tx, user.ErrNotFound, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, DeleteUserMailSQL, id)
		return err
	})
	if err == nil {
		r.DB.Scrub() // the password hash, a sealed TOTP secret
	}
	return err
}

// ScanUser decodes one row of UserColumns, or gives user.ErrNotFound.
func ScanUser(row Row) (*user.User, error) {
	var u UserRow
	if err := row.Scan(u.Dest()...); err != nil {
		return nil, notFound(err, user.ErrNotFound)
	}
	return u.User(), nil
}

// UserRow is one row of UserColumns.
type UserRow struct {
	id                      uuid.UUID
	email, hash             string
	active, verified        bool
	pending                 bool
	created, updated        time.Time
	verifiedAt, lastLoginAt *time.Time
}

// Dest are the scan destinations of UserColumns, in order.
func (r *UserRow) Dest() []any {
	return []any{&r.id, &r.email, &r.hash, &r.active, &r.verified, &r.created, &r.updated, &r.verifiedAt, &r.lastLoginAt, &r.pending}
}

// User is the user the row holds.
func (r *UserRow) User() *user.User {
	return user.Rehydrate(r.id, user.RehydrateEmail(r.email), r.hash, r.active, r.verified, r.created, r.updated, r.verifiedAt, r.lastLoginAt).RestorePending(r.pending)
}

// builder puts together a SELECT with optional conditions and a limit.
type builder struct {
	conds []string
	args  []any
}

// arg adds v as the next argument and returns its placeholder.
func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// where adds a condition: text and arguments alternate, each argument
// standing where its placeholder goes (a trailing text closes it).
func (b *builder) where(parts ...any) {
	var s strings.Builder
	for i, p := range parts {
		if i%2 == 0 {
			s.WriteString(p.(string))
		} else {
			s.WriteString(b.arg(p))
		}
	}
	b.conds = append(b.conds, s.String())
}

// sql is head, the conditions joined with AND, order and the limit.
func (b *builder) sql(head, order string, limit int) string {
	if len(b.conds) > 0 {
		head += ` WHERE ` + strings.Join(b.conds, ` AND `)
	}
	return head + order + ` LIMIT ` + b.arg(limit)
}
