package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// registration is a use-case-sized transaction: a user, a session and an
// audit record.
func registration(b *testing.B, tx *sqlite.TxManager) {
	u := newUser(b)
	err := tx.Within(context.Background(), func(ctx context.Context, r app.Repos) error { return register(ctx, r, u) })
	if err != nil {
		b.Fatal(err)
	}
}

// register stores u, a session of u and the audit record of its
// registration.
func register(ctx context.Context, r app.Repos, u *user.User) error {
	if err := r.Users.Create(ctx, u); err != nil {
		return err
	}
	s, err := session.New(uuid.New(), u.ID(), now(), time.Hour, "ua", "192.0.2.1")
	if err != nil {
		return err
	}
	if err := r.Sessions.Create(ctx, s); err != nil {
		return err
	}
	return r.Audit.Append(ctx, audit.Event{Type: audit.Registered, UserID: u.ID(), At: now()})
}

// BenchmarkWithin is one transaction after another.
func BenchmarkWithin(b *testing.B) {
	db, _ := openFresh(b)
	tx := sqlite.NewTxManager(db)
	for b.Loop() {
		registration(b, tx)
	}
}

// BenchmarkWithinParallel is many requests writing at once, serialized by
// the writer.
func BenchmarkWithinParallel(b *testing.B) {
	db, _ := openFresh(b)
	tx := sqlite.NewTxManager(db)
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			registration(b, tx)
		}
	})
}

// BenchmarkRateLimitHit is the hottest pool-bound write.
func BenchmarkRateLimitHit(b *testing.B) {
	db, _ := openFresh(b)
	rl := sqlite.NewRateLimiter(db)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := rl.Hit(context.Background(), "bench", 1<<30, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPoolReadParallel is reads on the reader pool.
func BenchmarkPoolReadParallel(b *testing.B) {
	db, _ := openFresh(b)
	users := sqlite.NewRepos(db).Users
	u := newUser(b)
	if err := users.Create(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := users.ByID(context.Background(), u.ID()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A stream of pool-bound writes that return a row (every rate-limit Hit)
// lets SQLite's automatic checkpoint run, so the WAL stays near its
// checkpoint size (1000 pages) instead of growing with every write: a spray
// of distinct keys must not grow the file, and with it the cost of every
// read, without bound.
func TestHitsKeepTheWALBounded(t *testing.T) {
	t.Parallel()
	db, path := openFresh(t)
	rl := sqlite.NewRateLimiter(db)
	ctx := context.Background()
	for i := range 2000 {
		if _, _, err := rl.Hit(ctx, fmt.Sprintf("spray:%d", i), 10, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// 1000 pages of 4 KiB and a little; without the checkpoints 2000
	// hits leave about 26 MB
	if limit := int64(8 << 20); st.Size() > limit {
		t.Fatalf("the WAL is %d bytes after 2000 hits, more than %d: no automatic checkpoint ran", st.Size(), limit)
	}
}

// DeleteExpired deletes in batches, each a write of its own, and goes on
// until none is left: a backlog of many batches is all gone after one call,
// and the live counters stay.
func TestDeleteExpiredTakesEveryBatch(t *testing.T) {
	t.Parallel()
	db, _ := openFresh(t)
	ctx := context.Background()
	if err := sqlite.ExecRaw(ctx, db, `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 12345)
		INSERT INTO rate_limits (key, count, reset_at) SELECT 'old:' || n, 1, 1 FROM g`); err != nil {
		t.Fatal(err)
	}
	rl := sqlite.NewRateLimiter(db)
	for i := range 3 {
		if _, _, err := rl.Hit(ctx, fmt.Sprintf("live:%d", i), 10, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	n, err := rl.DeleteExpired(ctx)
	if err != nil || n != 12345 {
		t.Fatalf("DeleteExpired = %d, %v; want 12345", n, err)
	}
	if left, err := sqlite.CountRaw(ctx, db, `SELECT count(*) FROM rate_limits`); err != nil || left != 3 {
		t.Fatalf("%d counters left (%v), want the 3 live ones", left, err)
	}
	if n, err := rl.DeleteExpired(ctx); err != nil || n != 0 {
		t.Fatalf("again: %d, %v", n, err)
	}
}

// Reads are prepared once and then reused: the same read many times adds
// one prepared statement, and the answers stay right.
func TestReadsArePreparedOnce(t *testing.T) {
	t.Parallel()
	db, _ := openFresh(t)
	ctx := context.Background()
	repos := sqlite.NewPoolRepos(db)
	before := sqlite.PreparedReads(db)
	for range 20 {
		if _, err := repos.Sessions.ForBearer(ctx, uuid.New()); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("ForBearer of an unknown session: %v", err)
		}
	}
	if n := sqlite.PreparedReads(db) - before; n != 1 {
		t.Fatalf("20 reads of one statement prepared %d statements, want 1", n)
	}
}
