package postgres_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
)

// A statement stuck behind a lock gives up instead of holding one of the
// pool's few connections for as long as the lock is held.
func TestPoolBoundsLockWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := postgres.NewPool(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for param, want := range map[string]string{"lock_timeout": "5s", "statement_timeout": "15s", "idle_in_transaction_session_timeout": "30s"} {
		var got string
		if err := pool.QueryRow(ctx, "SHOW "+param).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", param, got, want)
		}
	}
}
