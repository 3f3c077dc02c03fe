//go:build wireinject

package wire

import (
	"context"

	"github.com/google/wire"
	"go.uber.org/zap"
)

// BuildPostgres assembles Gatehouse on PostgreSQL. The cleanup closes the
// pool.
func BuildPostgres(ctx context.Context, cfg Config, log *zap.Logger) (*Gatehouse, func(), error) {
	wire.Build(
		PostgresSet, SystemSet, PasswordSet, TokenSet, MailerSet, AppSet, HTTPSet,
		wire.Struct(new(Gatehouse), "*"),
	)
	return nil, nil, nil
}

// BuildSQLite assembles Gatehouse on the embedded store. The cleanup closes
// the database file.
func BuildSQLite(ctx context.Context, cfg Config, log *zap.Logger) (*Gatehouse, func(), error) {
	wire.Build(
		SQLiteSet, SystemSet, PasswordSet, TokenSet, MailerSet, AppSet, HTTPSet,
		wire.Struct(new(Gatehouse), "*"),
	)
	return nil, nil, nil
}
