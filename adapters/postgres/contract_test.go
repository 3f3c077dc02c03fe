package postgres_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/adapters/storetest"
)

// TestContract runs the storage contract suite on the package's database.
// It must not run in parallel with the other tests (see storetest).
func TestContract(t *testing.T) {
	pool := pgtest.New(t)
	storetest.Run(t, storetest.Store{
		Name:  "postgres",
		Store: postgres.OpenStore(pool),
		Exec: func(ctx context.Context, sql string, args ...any) error {
			_, err := pool.Exec(ctx, sql, args...)
			return err
		},
		Count: func(ctx context.Context, sql string, args ...any) (int, error) {
			var n int
			err := pool.QueryRow(ctx, sql, args...).Scan(&n)
			return n, err
		},
	})
}
