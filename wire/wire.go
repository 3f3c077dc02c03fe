//go:build wireinject

package wire

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app/outbox"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	"github.com/google/wire"
	"go.uber.org/zap"
)

// BuildServer assembles the service on an opened store. The caller keeps
// the store and the mailer and closes the store after the service stops.
func BuildServer(ctx context.Context, cfg Config, st *storage.Store, key SecretKey, mail outbox.Mailer, log *zap.Logger) (*Gatehouse, error) {
	wire.Build(
		StoreSet, SystemSet, PasswordSet, HTTPSet,
		wire.Struct(new(Gatehouse), "*"),
	)
	return nil, nil
}

// BuildOperator assembles the operators' use cases on an opened store, for
// the command line.
func BuildOperator(ctx context.Context, cfg Config, st *storage.Store, key SecretKey, log *zap.Logger) (*Operator, error) {
	wire.Build(
		StoreSet, SystemSet, PasswordSet, HTTPSet,
		wire.Struct(new(Operator), "*"),
	)
	return nil, nil
}
