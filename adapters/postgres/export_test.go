package postgres

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/pressly/goose/v3"
)

// OpenStore is the store on an open database, for the contract suite and
// the tests of single ports.
var OpenStore = open

// Statements of the repositories, for the query-plan tests.
var (
	ListUsersSQL    = func(q app.UserQuery) (string, []any, bool) { return sqlstore.ListUsersSQL(dialect, q) }
	ResetPrefixSQL  = func(p string) (string, []any, bool) { return sqlstore.ResetPrefixSQL(dialect, p) }
	CountActiveSQL  = countActiveSQL
	OutboxStatsSQL  = sqlstore.OutboxStatsSQL(dialect)
	EnabledAmongSQL = enabledAmongSQL
	// SweepRegistrationsSQL is the janitor's sweep of pending
	// registrations.
	SweepRegistrationsSQL = sweepRegistrationsSQL
	WalkSQL               = walkSQL
)

// WalkPage is how many audit records one statement of Walk reads.
const WalkPage = walkPage

// MigrateUpTo applies the migrations up to and including version, for the
// tests of one migration's round trip.
func MigrateUpTo(ctx context.Context, url string, version int64) error {
	return withProvider(ctx, url, func(p *goose.Provider) error {
		_, err := p.UpTo(ctx, version)
		return err
	})
}
