//go:build wireinject

package wire

import (
	"context"

	"github.com/google/wire"
	"go.uber.org/zap"
)

// Build assembles Gatehouse. The cleanup closes the pool.
func Build(ctx context.Context, cfg Config, log *zap.Logger) (*Gatehouse, func(), error) {
	wire.Build(
		PostgresSet, SystemSet, PasswordSet, TokenSet, MailerSet, AppSet, HTTPSet,
		wire.Struct(new(Gatehouse), "*"),
	)
	return nil, nil, nil
}
