package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATEs of a server that refuses a connection for a reason that
// waiting will not change.
const (
	invalidCatalogName       = "3D000" // the database does not exist
	invalidPassword          = "28P01" // password authentication failed
	invalidAuthorizationSpec = "28000" // no such role, or pg_hba.conf allows no such connection
)

// ConnectRefusal reports whether err is the server refusing a connection
// for good: the database does not exist (SQLSTATE 3D000), the password is
// wrong (28P01), or the role does not exist or may not connect (28000). It
// returns that SQLSTATE and the server's message (which names the database
// or the role, never a password). A server that is still starting (57P03
// cannot_connect_now), one that refuses TCP connections or does not
// answer, and every other error are not refusals: a retry may succeed.
func ConnectRefusal(err error) (sqlstate, message string, ok bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return "", "", false
	}
	switch pgErr.Code {
	case invalidCatalogName, invalidPassword, invalidAuthorizationSpec:
		return pgErr.Code, pgErr.Message, true
	}
	return "", "", false
}
