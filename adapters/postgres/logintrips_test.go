package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/adapters/storetest"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestLoginTrips counts the round trips of a password login on this store
// (docs/performance.md lists them): each statement, BEGIN and COMMIT
// included, and each pipeline of statements sent at once, as pgx traces
// them. Preparing a statement on a connection that has not run it yet
// would add one; the counted logins follow uncounted ones, which prepared
// them.
func TestLoginTrips(t *testing.T) {
	st, trips := countedStore(t)
	got := storetest.CountLoginTrips(t, st, trips)
	t.Logf("round trips: success %d, wrong password %d", got.Success, got.Failure)
	if want := (storetest.LoginTrips{Success: 10, Failure: 8}); got != want {
		t.Errorf("round trips %+v, want %+v", got, want)
	}
}

// countedStore opens a store on a fresh database whose round trips trips
// counts: each statement, BEGIN and COMMIT included, and each pipeline of
// statements sent at once, as pgx traces them.
func countedStore(t *testing.T) (st *storage.Store, trips func() int) {
	t.Helper()
	dbURL := pgtest.NewEmptyDatabase(t)
	if err := postgres.MigrateUp(context.Background(), dbURL); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	tracer := &tripCounter{}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return postgres.OpenStore(pool), func() int { return int(tracer.n.Load()) }
}

// tripCounter counts the statements and pipelines pgx sends.
type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (*tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (*tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (*tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
