package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

// The sweep runs at a moment long past, so that it can only reach the rows
// this test backdated and never those of parallel tests.
func TestRetentionSweepsOnlyWhatEndedLongAgo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	past := time.Date(2001, 3, 1, 0, 0, 0, 0, time.UTC)
	u := createUser(t)

	oldSession := createSession(t, u.ID(), past)                  // expired 2001-03-02
	recent := createSession(t, u.ID(), past.Add(60*24*time.Hour)) // expires after the cutoff
	sessions := postgres.NewSessionRepository(pool)
	if err := sessions.AddRefreshToken(ctx, app.RefreshToken{Hash: randomHash(t), SessionID: oldSession.ID(), CreatedAt: past}); err != nil {
		t.Fatal(err)
	}
	oldTok, err := token.Issue(randomHash(t), u.ID(), token.PurposeResetPassword, past, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.NewTxManager(pool).Within(ctx, func(ctx context.Context, r app.Repos) error { return r.Tokens.Issue(ctx, oldTok) }); err != nil {
		t.Fatal(err)
	}
	sent, pending := newMail(u.ID()), newMail(u.ID())
	enqueue(t, sent)
	enqueue(t, pending)
	if err := postgres.NewOutbox(pool).MarkSent(ctx, sent.ID, past); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE mail_outbox SET created_at = $2 WHERE id = ANY($1)`, []any{sent.ID, pending.ID}, past); err != nil {
		t.Fatal(err)
	}

	swept, err := postgres.NewRetention(pool).Sweep(ctx, past.Add(40*24*time.Hour), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if swept.Sessions < 1 || swept.Tokens < 1 || swept.Mail < 1 {
		t.Fatalf("swept %+v", swept)
	}
	count := func(q string, args ...any) int {
		var n int
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM sessions WHERE id = $1`, oldSession.ID()); n != 0 {
		t.Error("an expired session outlived the retention period")
	}
	if n := count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, oldSession.ID()); n != 0 {
		t.Error("the refresh tokens of a swept session remain")
	}
	if n := count(`SELECT count(*) FROM sessions WHERE id = $1`, recent.ID()); n != 1 {
		t.Error("a session that ended within the retention period was swept")
	}
	h := oldTok.Hash()
	if n := count(`SELECT count(*) FROM one_time_tokens WHERE token_hash = $1`, h[:]); n != 0 {
		t.Error("an expired one-time token outlived the retention period")
	}
	if n := count(`SELECT count(*) FROM mail_outbox WHERE id = $1`, sent.ID); n != 0 {
		t.Error("a sent mail outlived the retention period")
	}
	if n := count(`SELECT count(*) FROM mail_outbox WHERE id = $1`, pending.ID); n != 1 {
		t.Error("a pending mail was swept")
	}
	if n := count(`SELECT count(*) FROM users WHERE id = $1`, u.ID()); n != 1 {
		t.Error("the user was swept")
	}
}

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
	for param, want := range map[string]string{"lock_timeout": "5s", "statement_timeout": "15s"} {
		var got string
		if err := pool.QueryRow(ctx, "SHOW "+param).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", param, got, want)
		}
	}
}
