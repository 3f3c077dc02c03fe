package postgres

import (
	"context"

	"github.com/pressly/goose/v3"
)

// Statements of the repositories, for the query-plan tests.
var (
	ListUsersSQL           = listUsersSQL
	AuditQuerySQL          = auditQuerySQL
	ResetPrefixSQL         = resetPrefixSQL
	CountActiveSQL         = countActiveSQL
	DeleteUserMailSQL      = deleteUserMailSQL
	OutboxStatsSQL         = outboxStatsSQL
	UseTOTPStepSQL         = useTOTPStepSQL
	EnabledAmongSQL        = enabledAmongSQL
	UseRecoveryCodeSQL     = useRecoveryCodeSQL
	UnusedRecoveryCodesSQL = unusedRecoveryCodesSQL
	BearerSQL              = bearerSQL
	WalkSQL                = walkSQL
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
