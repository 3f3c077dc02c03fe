package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/google/uuid"
)

// The rate limiter's windows are timed by the database's clock (now()), so
// that instances with skewed clocks agree. These tests move a window's end
// on that clock, which the storage contract suite cannot express; the rest
// of the limiter's behaviour is in adapters/storetest.

func rateKey() string { return "test:" + uuid.NewString() }

// endWindow moves key's window end one second before the database's now.
func endWindow(t *testing.T, key string) {
	t.Helper()
	if _, err := pgtest.New(t).Exec(context.Background(), `UPDATE rate_limits SET reset_at = now() - interval '1 second' WHERE key = $1`, key); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimiterWindowEndsByDatabaseClock(t *testing.T) {
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
	endWindow(t, key)
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

// retryAfter is rounded up to whole seconds (at least one), as the
// database's clock says.
func TestRateLimiterRetryAfterWholeSeconds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rl := postgres.NewRateLimiter(pgtest.New(t))
	key := rateKey()
	for range 3 {
		if _, _, err := rl.Hit(ctx, key, 3, 90*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	allowed, retry, err := rl.Hit(ctx, key, 3, 90*time.Second)
	if err != nil || allowed {
		t.Fatalf("hit 4: allowed=%v err=%v", allowed, err)
	}
	if retry < time.Second || retry > 90*time.Second || retry%time.Second != 0 {
		t.Fatalf("Hit: retryAfter = %v, want whole seconds in [1s, 90s]", retry)
	}
	blocked, retry, err := rl.Blocked(ctx, key, 3)
	if err != nil || !blocked || retry < time.Second || retry > 90*time.Second || retry%time.Second != 0 {
		t.Fatalf("Blocked: blocked=%v retryAfter=%v err=%v, want whole seconds in [1s, 90s]", blocked, retry, err)
	}
}

// DeleteExpired deletes exactly the rows whose window ended by the
// database's clock.
func TestRateLimiterDeleteExpiredByDatabaseClock(t *testing.T) {
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
	endWindow(t, expired)
	n, err := rl.DeleteExpired(ctx)
	if err != nil || n < 1 {
		t.Fatalf("DeleteExpired = %d, %v", n, err)
	}
	rows, err := pool.Query(ctx, `SELECT key FROM rate_limits WHERE key = ANY($1)`, []string{expired, live})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if rows.Err() != nil || len(keys) != 1 || keys[0] != live {
		t.Fatalf("left %v (err %v), want only the live key", keys, rows.Err())
	}
}
