package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// usersEmailKey is how SQLite names the unique index users_email_key in a
// violation of it.
const usersEmailKey = "UNIQUE constraint failed: users.email"

// translate maps a driver error to the domain's error model, as package
// postgres does:
//
//   - sql.ErrNoRows becomes notFound (the port's not-found error);
//   - a unique violation on users.email becomes user.ErrEmailTaken;
//   - errors the data or the SQL caused (constraint violations, SQL errors
//     such as a missing table, type mismatches, bad parameters, values too
//     big, misuse) are bugs, returned unwrapped from domain errors so that
//     they map to 500;
//   - everything else (the file locked by another process for longer than
//     busy_timeout, I/O errors, a full disk, an unreadable or corrupt file,
//     a closed DB, context cancellation, ...) is wrapped with
//     domain.Unavailable so that it maps to 503.
func translate(err error, notFound error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		if notFound != nil {
			return notFound
		}
		return fmt.Errorf("sqlite: unexpected: %w", err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && namesUsersEmail(se.Error()) {
			return user.ErrEmailTaken
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_ERROR, sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH,
			sqlite3.SQLITE_RANGE, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISUSE:
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	return domain.Unavailable(err)
}

// namesUsersEmail reports whether msg is a unique violation of exactly the
// users.email column (not users.email_x, not a multi-column index).
func namesUsersEmail(msg string) bool {
	i := strings.Index(msg, usersEmailKey)
	if i < 0 {
		return false
	}
	rest := msg[i+len(usersEmailKey):]
	return rest == "" || !(rest[0] == '_' || rest[0] == ',' || rest[0] >= '0' && rest[0] <= '9' ||
		rest[0] >= 'a' && rest[0] <= 'z' || rest[0] >= 'A' && rest[0] <= 'Z')
}
