package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/google/uuid"
)

func TestUnavailableWhenDatabaseDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := postgres.NewPool(ctx, "postgres://postgres@127.0.0.1:1/gatehouse?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatalf("NewPool must not need the database: %v", err)
	}
	defer pool.Close()

	checks := map[string]error{
		"Ping": postgres.Ping(ctx, pool),
		"Within": postgres.NewTxManager(pool).Within(ctx, func(context.Context, app.Repos) error {
			t.Error("fn called without a transaction")
			return nil
		}),
		"RateLimiter.Hit": func() error { _, _, err := postgres.NewRateLimiter(pool).Hit(ctx, "k", 1, 1e9); return err }(),
		"MigrateUp":       postgres.MigrateUp(ctx, "postgres://postgres@127.0.0.1:1/gatehouse?sslmode=disable&connect_timeout=2"),
	}
	_, checks["Users.ByID"] = postgres.NewRepos(pool).Users.ByID(ctx, uuid.New())
	_, checks["VerifyAuditChain"] = admin.VerifyAuditChain(ctx, postgres.OpenStore(pool).AuditTrail)
	checks["Audit.Append"] = postgres.NewRepos(pool).Audit.Append(ctx, audit.Event{Type: audit.LoginFailed, At: time.Now()})
	_, checks["Retention.Sweep"] = postgres.OpenStore(pool).Retention.Sweep(ctx, time.Now())
	_, checks["SigningKeys.Keys"] = postgres.NewRepos(pool).SigningKeys.Keys(ctx)
	_, checks["Settings.Get"] = postgres.OpenStore(pool).Settings.Get(ctx, "x")
	for name, err := range checks {
		if name == "MigrateUp" {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
			continue
		}
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
	}
}

func TestUnavailableWhenContextCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := postgres.NewRepos(pgtest.New(t)).Users.ByID(ctx, uuid.New())
	if !errors.Is(err, domain.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
}

func TestNewPoolBadURL(t *testing.T) {
	t.Parallel()
	_, err := postgres.NewPool(context.Background(), "postgres://user:s3cret@host:notaport/db")
	if err == nil {
		t.Fatal("bad URL accepted")
	}
	if contains := "s3cret"; errors.Is(err, domain.ErrUnavailable) || strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v", err)
	}
}

func TestPingAndPoolDefaults(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	if err := postgres.Ping(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	if got := pool.Config().MaxConns; got != postgres.DefaultMaxConns {
		t.Fatalf("MaxConns = %d", got)
	}
	if pool.Config().ConnConfig.Tracer != nil {
		t.Fatal("a query tracer is installed")
	}
	custom := pgtest.Pool(t, pgtest.URL(t)+"&pool_max_conns=3")
	if got := custom.Config().MaxConns; got != 3 {
		t.Fatalf("pool_max_conns ignored: MaxConns = %d", got)
	}
}

// A statement stuck behind a lock gives up instead of holding one of the
// pool's few connections for as long as the lock is held.
func TestPoolBoundsLockWaits(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	for param, want := range map[string]string{"lock_timeout": "5s", "statement_timeout": "15s", "idle_in_transaction_session_timeout": "30s"} {
		var got string
		if err := pool.QueryRow(context.Background(), "SHOW "+param).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", param, got, want)
		}
	}
}
