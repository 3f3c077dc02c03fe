package storetest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/google/uuid"
)

func init() {
	register("RateLimiter/HitLimit", testRateLimiterHitLimit)
	register("RateLimiter/BlockedAndReset", testRateLimiterBlockedAndReset)
	register("RateLimiter/ConcurrentHits", testRateLimiterConcurrentHits)
	register("RateLimiter/WindowExpiry", testRateLimiterWindowExpiry)
	register("RateLimiter/DeleteExpired", testRateLimiterDeleteExpired)
	register("RateLimiter/RejectsBadWindow", testRateLimiterRejectsBadWindow)
	register("RateLimiter/ResetPrefixIsLiteral", testRateLimiterResetPrefix)
}

func rateKey() string { return "test:" + uuid.NewString() }

// shortWindow ends long before windowEnded has passed, however loaded the
// machine: the cases below only ever wait for a window to end, never
// assert that one is still open.
const (
	shortWindow = time.Millisecond
	windowEnded = 50 * time.Millisecond
)

// assertCount checks a key's count in its current window without counting:
// it is the largest limit that Blocked reports reached (0 when none).
func assertCount(t *testing.T, s Store, key string, want int) {
	t.Helper()
	ctx := testCtx(t)
	if want > 0 {
		if blocked, _, err := s.Limiter.Blocked(ctx, key, want); err != nil || !blocked {
			t.Fatalf("Blocked(%d) = %v, %v: count below %d", want, blocked, err, want)
		}
	}
	if blocked, _, err := s.Limiter.Blocked(ctx, key, want+1); err != nil || blocked {
		t.Fatalf("Blocked(%d) = %v, %v: count above %d", want+1, blocked, err, want)
	}
}

func testRateLimiterHitLimit(t *testing.T, s Store) {
	ctx := testCtx(t)
	rl := s.Limiter
	key := rateKey()
	for i := 1; i <= 3; i++ {
		allowed, retry, err := rl.Hit(ctx, key, 3, time.Minute)
		if err != nil || !allowed || retry != 0 {
			t.Fatalf("hit %d: allowed=%v retry=%v err=%v", i, allowed, retry, err)
		}
	}
	hitRefused(t, rl, key, 3, "hit 4")
	assertCount(t, s, key, 4)
	// Other keys are independent.
	if allowed, _, err := rl.Hit(ctx, rateKey(), 3, time.Minute); err != nil || !allowed {
		t.Fatalf("fresh key: allowed=%v err=%v", allowed, err)
	}
}

func testRateLimiterBlockedAndReset(t *testing.T, s Store) {
	ctx := testCtx(t)
	rl := s.Limiter
	key := rateKey()
	if blocked, retry, err := rl.Blocked(ctx, key, 3); err != nil || blocked || retry != 0 {
		t.Fatalf("unknown key blocked=%v retry=%v err=%v", blocked, retry, err)
	}
	for range 2 {
		if _, _, err := rl.Hit(ctx, key, 3, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if blocked, _, err := rl.Blocked(ctx, key, 3); err != nil || blocked {
		t.Fatalf("below the limit: blocked=%v err=%v", blocked, err)
	}
	if _, _, err := rl.Hit(ctx, key, 3, time.Minute); err != nil {
		t.Fatal(err)
	}
	blocked, retry, err := rl.Blocked(ctx, key, 3)
	if err != nil || !blocked || retry <= 0 || retry > time.Minute {
		t.Fatalf("at the limit: blocked=%v retry=%v err=%v", blocked, retry, err)
	}
	if blocked, _, err := rl.Blocked(ctx, key, 4); err != nil || blocked {
		t.Fatalf("under a higher limit: blocked=%v err=%v", blocked, err)
	}
	// Blocked does not count: the next hit is the 4th.
	if allowed, _, err := rl.Hit(ctx, key, 4, time.Minute); err != nil || !allowed {
		t.Fatalf("Blocked counted a hit: allowed=%v err=%v", allowed, err)
	}
	must(t, rl.Reset(ctx, key))
	if blocked, _, err := rl.Blocked(ctx, key, 1); err != nil || blocked {
		t.Fatalf("after Reset: blocked=%v err=%v", blocked, err)
	}
	if allowed, _, err := rl.Hit(ctx, key, 1, time.Minute); err != nil || !allowed {
		t.Fatalf("after Reset: allowed=%v err=%v", allowed, err)
	}
	mustf(t, rl.Reset(ctx, rateKey()), "Reset of an unknown key")
}

// Concurrent hits on one key are each counted once: with limit L exactly L
// are allowed, and the count is the number of hits.
func testRateLimiterConcurrentHits(t *testing.T, s Store) {
	ctx := testCtx(t)
	key := rateKey()
	const hits, limit = 20, 5
	var allowed atomic.Int32
	race(hits, func(int) {
		ok, _, err := s.Limiter.Hit(ctx, key, limit, time.Minute)
		if err != nil {
			t.Error(err)
		}
		if ok {
			allowed.Add(1)
		}
	})
	if n := allowed.Load(); n != limit {
		t.Fatalf("%d of %d concurrent hits allowed, want %d", n, hits, limit)
	}
	assertCount(t, s, key, hits)
}

// When the window has ended, Blocked forgets the count and the next hit
// starts a new window, of the length that hit asks for, counting from 1.
func testRateLimiterWindowExpiry(t *testing.T, s Store) {
	ctx := testCtx(t)
	rl := s.Limiter
	key := rateKey()
	if allowed, _, err := rl.Hit(ctx, key, 1, shortWindow); err != nil || !allowed {
		t.Fatalf("first hit: allowed=%v err=%v", allowed, err)
	}
	time.Sleep(windowEnded)
	if blocked, _, err := rl.Blocked(ctx, key, 1); err != nil || blocked {
		t.Fatalf("Blocked after the window = %v, %v", blocked, err)
	}
	if allowed, _, err := rl.Hit(ctx, key, 1, time.Minute); err != nil || !allowed {
		t.Fatalf("first hit of the new window: allowed=%v err=%v", allowed, err)
	}
	hitRefused(t, rl, key, 1, "second hit of the new (one-minute) window")
	assertCount(t, s, key, 2)
}

// DeleteExpired removes the counters whose window has ended, counts them,
// and keeps the others as they are.
func testRateLimiterDeleteExpired(t *testing.T, s Store) {
	ctx := testCtx(t)
	rl := s.Limiter
	expired := []string{rateKey(), rateKey(), rateKey()}
	for _, k := range expired {
		if _, _, err := rl.Hit(ctx, k, 3, shortWindow); err != nil {
			t.Fatal(err)
		}
	}
	live := rateKey()
	for range 2 {
		if _, _, err := rl.Hit(ctx, live, 3, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(windowEnded)
	n := mustGet(rl.DeleteExpired(ctx))(t)
	if n < len(expired) {
		t.Fatalf("DeleteExpired = %d, want at least %d", n, len(expired))
	}
	assertCount(t, s, live, 2)
	for _, k := range expired {
		assertCount(t, s, k, 0)
	}
}

func testRateLimiterRejectsBadWindow(t *testing.T, s Store) {
	if _, _, err := s.Limiter.Hit(testCtx(t), rateKey(), 1, 0); err == nil {
		t.Fatal("zero window accepted")
	}
}

// ResetPrefix forgets exactly the keys that start with the prefix: '%',
// '_' and '\' are characters (no wildcards, no escapes), a key that has
// the prefix later survives, and so do keys that follow it in byte order.
func testRateLimiterResetPrefix(t *testing.T, s Store) {
	ctx := testCtx(t)
	rl := s.Limiter
	base := rateKey() + ":"
	keys := map[string]bool{} // key: whether it survives the resets below
	for k, survives := range map[string]bool{
		base + "p%:1":        false,
		base + "p%:2":        false,
		base + "p%":          false, // the prefix itself
		base + "pX:1":        true,  // "p%" or "p_" as patterns would match
		base + "p_:1":        false, // reset by "p_"
		base + "pa:1":        true,
		"x" + base + "p%:1":  true,  // the prefix, later
		base + "p\\:1":       false, // reset by "p\\"
		base + "p":           true,
		base + "q":           true,
		base + "é1":          false, // reset by "é"
		base + "ê1":          true,
		base + "\U0010FFFF":  false, // reset by U+10FFFF
		base + "\U0010FFFFz": false,
		base + "z\U0010FFFF": true,
		base + "%":           true,
		base + "_":           true,
	} {
		keys[k] = survives
		if _, _, err := rl.Hit(ctx, k, 10, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"p%", "p_", "p\\", "é", "\U0010FFFF", "nothing-starts-so"} {
		mustf(t, rl.ResetPrefix(ctx, base+p), "ResetPrefix(%q)", base+p)
	}
	for k, survives := range keys {
		want := 0
		if survives {
			want = 1
		}
		assertCount(t, s, k, want)
	}
	// An empty prefix would forget every counter: refused, nothing lost.
	if err := rl.ResetPrefix(ctx, ""); err == nil {
		t.Fatal("ResetPrefix(\"\") accepted")
	}
	assertCount(t, s, base+"q", 1)
}

// hitRefused hits key in a one-minute window of limit hits and fails the
// test, saying which hit it is, unless the hit is refused with a retry
// within the window.
func hitRefused(t *testing.T, rl app.RateLimiter, key string, limit int, which string) {
	t.Helper()
	allowed, retry, err := rl.Hit(testCtx(t), key, limit, time.Minute)
	if err != nil || allowed {
		t.Fatalf("%s: allowed=%v err=%v", which, allowed, err)
	}
	if retry <= 0 || retry > time.Minute {
		t.Fatalf("retryAfter = %v, want within (0, 1m]", retry)
	}
}
