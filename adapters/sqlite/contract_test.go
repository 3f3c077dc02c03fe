package sqlite_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/adapters/storetest"
)

// TestContract runs the storage contract suite on the package's database.
// Not parallel: the suite runs some cases alone (see storetest).
func TestContract(t *testing.T) {
	db := sharedDB(t)
	storetest.Run(t, storetest.Store{
		Name:  "sqlite",
		Store: sqlite.OpenStore(db),
		Exec: func(ctx context.Context, sql string, args ...any) error {
			return sqlite.ExecRaw(ctx, db, sql, args...)
		},
		Count: func(ctx context.Context, sql string, args ...any) (int, error) {
			return sqlite.CountRaw(ctx, db, sql, args...)
		},
	})
}
