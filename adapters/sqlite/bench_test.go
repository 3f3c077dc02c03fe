package sqlite_test

import (
	"context"
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
