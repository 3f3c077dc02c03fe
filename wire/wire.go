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
		PostgresSet, SystemSet, PasswordSet, MailerSet, HTTPSet,
		wire.Struct(new(Gatehouse), "*"),
	)
	return nil, nil, nil
}

// BuildSQLite assembles Gatehouse on the embedded store. The cleanup closes
// the database file.
func BuildSQLite(ctx context.Context, cfg Config, log *zap.Logger) (*Gatehouse, func(), error) {
	wire.Build(
		SQLiteSet, SystemSet, PasswordSet, MailerSet, HTTPSet,
		wire.Struct(new(Gatehouse), "*"),
	)
	return nil, nil, nil
}

// BuildPostgresOperator assembles the operators' use cases on PostgreSQL,
// for the command line. The cleanup closes the pool.
func BuildPostgresOperator(ctx context.Context, cfg Config, log *zap.Logger) (*Operator, func(), error) {
	wire.Build(
		PostgresSet, SystemSet, PasswordSet, OperatorSet,
		wire.Struct(new(Operator), "*"),
	)
	return nil, nil, nil
}

// BuildSQLiteOperator assembles the operators' use cases on the embedded
// store, for the command line. The cleanup closes the database file.
func BuildSQLiteOperator(ctx context.Context, cfg Config, log *zap.Logger) (*Operator, func(), error) {
	wire.Build(
		SQLiteSet, SystemSet, PasswordSet, OperatorSet,
		wire.Struct(new(Operator), "*"),
	)
	return nil, nil, nil
}
