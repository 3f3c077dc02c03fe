package postgres

import (
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	uniqueViolation = "23505"
	usersEmailKey   = "users_email_key" // unique index on users(email)
)

// translate maps a driver error to the domain's error model:
//
//   - pgx.ErrNoRows becomes notFound (the port's not-found error);
//   - a unique violation on users_email_key becomes user.ErrEmailTaken;
//   - errors the data or the SQL caused (SQLSTATE classes 22 data
//     exception, 23 integrity violation, 42 syntax or access rule) are bugs,
//     returned unwrapped from domain errors so that they map to 500;
//   - everything else (connection refused or lost, timeouts, context
//     cancellation, server shutdown, serialization failures, ...) is
//     wrapped with domain.Unavailable so that it maps to 503.
func translate(err error, notFound error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		if notFound != nil {
			return notFound
		}
		return fmt.Errorf("postgres: unexpected: %w", err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == uniqueViolation && pgErr.ConstraintName == usersEmailKey {
			return user.ErrEmailTaken
		}
		if len(pgErr.Code) == 5 {
			switch pgErr.Code[:2] {
			case "22", "23", "42":
				return fmt.Errorf("postgres: %w", err)
			}
		}
	}
	return domain.Unavailable(err)
}
