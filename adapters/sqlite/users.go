package sqlite

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/google/uuid"
)

// UserRepository stores users in the users table (sqlstore.Users), email
// in normalized form. ByIDForChange is ByID: bound to a transaction it
// reads inside it, and the transaction holds the only writer until it
// ends, which serializes the transactions that change the user as a row
// lock would. A list by email prefix is a range in byte order on
// users_email_key (BINARY collation), read through INDEXED BY.
type UserRepository struct {
	sqlstore.Users
	db DBTX
}

var _ app.UserRepository = (*UserRepository)(nil)

// NewUserRepository returns a UserRepository on db.
func NewUserRepository(db DBTX) *UserRepository {
	return &UserRepository{Users: sqlstore.Users{DB: conn{db}, Dialect: dialect}, db: db}
}

// Delete is sqlstore.Users.Delete in one write transaction; the WAL's copy
// of what went (the password hash, a sealed TOTP secret) is scrubbed soon
// after.
func (r *UserRepository) Delete(ctx context.Context, id uuid.UUID) error {
	err := r.Users.Delete(ctx, id)
	if err == nil {
		r.db.scrubSoon()
	}
	return err
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
