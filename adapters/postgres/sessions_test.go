package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/google/uuid"
)

func TestSessionRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewSessionRepository(pgtest.New(t))
	u := createUser(t)
	s := createSession(t, u.ID(), now())

	got, err := repo.ByID(ctx, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	assertSession(t, got, s)

	s.Touch(s.CreatedAt().Add(time.Minute))
	s.Revoke(s.CreatedAt().Add(2 * time.Minute))
	if err := repo.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err = repo.ByIDForUpdate(ctx, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	assertSession(t, got, s)

	if _, err := repo.ByID(ctx, uuid.New()); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("ByID unknown: %v", err)
	}
	other, _ := session.New(uuid.New(), u.ID(), now(), time.Hour, "", "")
	if err := repo.Update(ctx, other); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Update unknown: %v", err)
	}
}

func assertSession(t *testing.T, got, want *session.Session) {
	t.Helper()
	if got.ID() != want.ID() || got.UserID() != want.UserID() || !got.CreatedAt().Equal(want.CreatedAt()) ||
		!got.LastUsedAt().Equal(want.LastUsedAt()) || !got.ExpiresAt().Equal(want.ExpiresAt()) ||
		got.UserAgent() != want.UserAgent() || got.IP() != want.IP() ||
		(got.RevokedAt() == nil) != (want.RevokedAt() == nil) ||
		(got.RevokedAt() != nil && !got.RevokedAt().Equal(*want.RevokedAt())) {
		t.Fatalf("session differs:\n got %+v\nwant %+v", got, want)
	}
}

func TestSessionListActiveAndRevokeAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewSessionRepository(pgtest.New(t))
	u := createUser(t)
	other := createUser(t)
	t0 := now()
	s1 := createSession(t, u.ID(), t0)
	s2 := createSession(t, u.ID(), t0.Add(time.Second))
	s3 := createSession(t, u.ID(), t0.Add(2*time.Second))
	revoked := createSession(t, u.ID(), t0.Add(3*time.Second))
	revoked.Revoke(t0.Add(4 * time.Second))
	if err := repo.Update(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	expired, _ := session.New(uuid.New(), u.ID(), t0.Add(-48*time.Hour), time.Hour, "", "")
	if err := repo.Create(ctx, expired); err != nil {
		t.Fatal(err)
	}
	otherSession := createSession(t, other.ID(), t0)

	list, err := repo.ListActive(ctx, u.ID(), t0.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ids := sessionIDs(list); !equalIDs(ids, []uuid.UUID{s3.ID(), s2.ID(), s1.ID()}) {
		t.Fatalf("ListActive = %v, want s3, s2, s1", ids)
	}

	n, err := repo.RevokeAll(ctx, u.ID(), s2.ID(), t0.Add(6*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("RevokeAll revoked %d, want 2", n)
	}
	list, err = repo.ListActive(ctx, u.ID(), t0.Add(7*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ids := sessionIDs(list); !equalIDs(ids, []uuid.UUID{s2.ID()}) {
		t.Fatalf("after RevokeAll: %v, want only s2", ids)
	}
	got, _ := repo.ByID(ctx, revoked.ID())
	if !got.RevokedAt().Equal(*revoked.RevokedAt()) {
		t.Fatal("RevokeAll changed the time of an already revoked session")
	}

	n, err = repo.RevokeAll(ctx, u.ID(), uuid.Nil, t0.Add(8*time.Second))
	if err != nil || n != 1 {
		t.Fatalf("RevokeAll(keep=Nil) = %d, %v; want 1", n, err)
	}
	if list, _ := repo.ListActive(ctx, u.ID(), t0.Add(9*time.Second)); len(list) != 0 {
		t.Fatalf("sessions left: %v", sessionIDs(list))
	}
	if list, _ := repo.ListActive(ctx, other.ID(), t0.Add(9*time.Second)); !equalIDs(sessionIDs(list), []uuid.UUID{otherSession.ID()}) {
		t.Fatal("another user's session was revoked")
	}
}

func sessionIDs(l []*session.Session) []uuid.UUID {
	ids := make([]uuid.UUID, len(l))
	for i, s := range l {
		ids[i] = s.ID()
	}
	return ids
}

func equalIDs(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRefreshTokenRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewSessionRepository(pgtest.New(t))
	s := createSession(t, createUser(t).ID(), now())
	rt := app.RefreshToken{Hash: randomHash(t), SessionID: s.ID(), CreatedAt: now()}
	if err := repo.AddRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	got, err := repo.RefreshTokenForUpdate(ctx, rt.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != rt.Hash || got.SessionID != rt.SessionID || !got.CreatedAt.Equal(rt.CreatedAt) || got.UsedAt != nil {
		t.Fatalf("got %+v, want %+v", got, rt)
	}
	at := now()
	if err := repo.MarkRefreshTokenUsed(ctx, rt.Hash, at); err != nil {
		t.Fatal(err)
	}
	got, _ = repo.RefreshTokenForUpdate(ctx, rt.Hash)
	if got.UsedAt == nil || !got.UsedAt.Equal(at) {
		t.Fatalf("UsedAt = %v, want %v", got.UsedAt, at)
	}
	if _, err := repo.RefreshTokenForUpdate(ctx, randomHash(t)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if err := repo.MarkRefreshTokenUsed(ctx, randomHash(t), at); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("mark unknown: %v", err)
	}
}

func TestRefreshTokenConcurrentUseExactlyOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := createSession(t, createUser(t).ID(), now())
	rt := app.RefreshToken{Hash: randomHash(t), SessionID: s.ID(), CreatedAt: now()}
	if err := postgres.NewSessionRepository(pgtest.New(t)).AddRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	tm := postgres.NewTxManager(pgtest.New(t))
	var unused atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			err := tm.Within(ctx, func(ctx context.Context, r app.Repos) error {
				got, err := r.Sessions.RefreshTokenForUpdate(ctx, rt.Hash)
				if err != nil {
					return err
				}
				if got.UsedAt != nil {
					return nil
				}
				unused.Add(1)
				return r.Sessions.MarkRefreshTokenUsed(ctx, rt.Hash, now())
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := unused.Load(); n != 1 {
		t.Fatalf("%d transactions saw the token unused, want exactly 1", n)
	}
}
