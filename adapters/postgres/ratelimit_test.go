package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/google/uuid"
)

func rateKey() string { return "test:" + uuid.NewString() }

func TestRateLimiterHitLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rl := postgres.NewRateLimiter(pgtest.New(t))
	key := rateKey()
	for i := 1; i <= 3; i++ {
		allowed, retry, err := rl.Hit(ctx, key, 3, time.Minute)
		if err != nil || !allowed || retry != 0 {
			t.Fatalf("hit %d: allowed=%v retry=%v err=%v", i, allowed, retry, err)
		}
	}
	allowed, retry, err := rl.Hit(ctx, key, 3, time.Minute)
	if err != nil || allowed {
		t.Fatalf("hit 4: allowed=%v err=%v", allowed, err)
	}
	if retry < time.Second || retry > time.Minute || retry%time.Second != 0 {
		t.Fatalf("retryAfter = %v, want whole seconds in (0, 1m]", retry)
	}
	// Other keys are independent.
	if allowed, _, _ := rl.Hit(ctx, rateKey(), 3, time.Minute); !allowed {
		t.Fatal("fresh key refused")
	}
}

func TestRateLimiterWindowExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	rl := postgres.NewRateLimiter(pool)
	key := rateKey()
	for range 4 {
		if _, _, err := rl.Hit(ctx, key, 3, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// End the window without sleeping.
	if _, err := pool.Exec(ctx, `UPDATE rate_limits SET reset_at = now() - interval '1 second' WHERE key = $1`, key); err != nil {
		t.Fatal(err)
	}
	if blocked, _, err := rl.Blocked(ctx, key, 3); err != nil || blocked {
		t.Fatalf("Blocked after the window = %v, %v", blocked, err)
	}
	for i := 1; i <= 3; i++ {
		if allowed, _, err := rl.Hit(ctx, key, 3, time.Minute); err != nil || !allowed {
			t.Fatalf("hit %d of the new window: allowed=%v err=%v", i, allowed, err)
		}
	}
	if allowed, _, _ := rl.Hit(ctx, key, 3, time.Minute); allowed {
		t.Fatal("hit 4 of the new window allowed")
	}
	var count int
	var resetIn time.Duration
	if err := pool.QueryRow(ctx, `SELECT count, reset_at - now() FROM rate_limits WHERE key = $1`, key).Scan(&count, &resetIn); err != nil {
		t.Fatal(err)
	}
	if count != 4 || resetIn < 50*time.Second {
		t.Fatalf("count=%d, window left %v; want 4 and a fresh minute", count, resetIn)
	}
}

func TestRateLimiterBlockedAndReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rl := postgres.NewRateLimiter(pgtest.New(t))
	key := rateKey()
	if blocked, _, err := rl.Blocked(ctx, key, 3); err != nil || blocked {
		t.Fatalf("unknown key blocked=%v err=%v", blocked, err)
	}
	for range 2 {
		if _, _, err := rl.Hit(ctx, key, 3, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if blocked, _, _ := rl.Blocked(ctx, key, 3); blocked {
		t.Fatal("blocked below the limit")
	}
	if _, _, err := rl.Hit(ctx, key, 3, time.Minute); err != nil {
		t.Fatal(err)
	}
	blocked, retry, err := rl.Blocked(ctx, key, 3)
	if err != nil || !blocked || retry < time.Second || retry > time.Minute {
		t.Fatalf("at the limit: blocked=%v retry=%v err=%v", blocked, retry, err)
	}
	if blocked, _, _ := rl.Blocked(ctx, key, 4); blocked {
		t.Fatal("blocked under a higher limit")
	}
	// Blocked does not count: the next hit is the 4th.
	if allowed, _, _ := rl.Hit(ctx, key, 4, time.Minute); !allowed {
		t.Fatal("Blocked counted a hit")
	}
	if err := rl.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	if blocked, _, _ := rl.Blocked(ctx, key, 1); blocked {
		t.Fatal("blocked after Reset")
	}
	if allowed, _, _ := rl.Hit(ctx, key, 1, time.Minute); !allowed {
		t.Fatal("refused after Reset")
	}
}

func TestRateLimiterConcurrentHits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	rl := postgres.NewRateLimiter(pool)
	key := rateKey()
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ok, _, err := rl.Hit(ctx, key, 5, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	var count int
	if err := pool.QueryRow(ctx, `SELECT count FROM rate_limits WHERE key = $1`, key).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 20 || allowed.Load() != 5 {
		t.Fatalf("count=%d allowed=%d, want 20 and 5", count, allowed.Load())
	}
}

func TestRateLimiterDeleteExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	rl := postgres.NewRateLimiter(pool)
	expired, live := rateKey(), rateKey()
	for _, k := range []string{expired, live} {
		if _, _, err := rl.Hit(ctx, k, 3, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE rate_limits SET reset_at = now() - interval '1 second' WHERE key = $1`, expired); err != nil {
		t.Fatal(err)
	}
	n, err := rl.DeleteExpired(ctx)
	if err != nil || n < 1 {
		t.Fatalf("DeleteExpired = %d, %v", n, err)
	}
	var keys []string
	rows, _ := pool.Query(ctx, `SELECT key FROM rate_limits WHERE key = ANY($1)`, []string{expired, live})
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		keys = append(keys, k)
	}
	if rows.Err() != nil || len(keys) != 1 || keys[0] != live {
		t.Fatalf("left %v (err %v), want only the live key", keys, rows.Err())
	}
}

func TestRateLimiterRejectsBadWindow(t *testing.T) {
	t.Parallel()
	if _, _, err := postgres.NewRateLimiter(pgtest.New(t)).Hit(context.Background(), rateKey(), 1, 0); err == nil {
		t.Fatal("zero window accepted")
	}
}
