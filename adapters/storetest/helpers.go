package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// testTimeout bounds each case: generous, for a loaded two-core machine
// running the race detector. Nothing asserts on how long anything takes.
const testTimeout = 3 * time.Minute

// testCtx is the context of one case, canceled when it ends.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// readWhileHeld reads with read while another transaction holds what
// hold takes for change, then lets that transaction end: the read must
// not wait for the holder (it has two seconds), and neither may fail.
func readWhileHeld(t *testing.T, ctx context.Context, s Store, what string, hold func(context.Context, app.Repos) error, read func(context.Context) error) {
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			if err := hold(ctx, r); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("transaction: %v", err)
	}
	look, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := read(look)
	cancel()
	close(release)
	mustf(t, err, what)
	must(t, <-done)
}

// now is the current time at the precision every store keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// passwordHash is a syntactically plausible stored hash.
const passwordHash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"

func randomEmail(t testing.TB) user.Email {
	t.Helper()
	return mustGet(user.ParseEmail("u-" + uuid.NewString() + "@example.com"))(t)
}

func newUser(t testing.TB) *user.User {
	t.Helper()
	return mustGet(user.New(uuid.New(), randomEmail(t), passwordHash, now()))(t)
}

// createUser stores a new user through the store-bound repository.
func createUser(t *testing.T, s Store) *user.User {
	t.Helper()
	u := newUser(t)
	must(t, s.Repos.Users.Create(testCtx(t), u))
	return u
}

// createSession stores a session of userID created at created, living a
// day.
func createSession(t *testing.T, s Store, userID uuid.UUID, created time.Time) *session.Session {
	t.Helper()
	return createSessionTTL(t, s, userID, created, 24*time.Hour)
}

func createSessionTTL(t *testing.T, s Store, userID uuid.UUID, created time.Time, ttl time.Duration) *session.Session {
	t.Helper()
	sess := mustGet(session.New(uuid.New(), userID, created, ttl, "test-agent", "192.0.2.1"))(t)
	must(t, s.Repos.Sessions.Create(testCtx(t), sess))
	return sess
}

func randomHash(t testing.TB) token.Hash {
	t.Helper()
	_, h, err := token.NewSecret(rand.Reader)
	must(t, err)
	return h
}

// must fails the test at once on a setup or read error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mustf fails the test on err, saying what was tried (a format and its
// arguments).
func mustf(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf(format+": %v", append(args, err)...)
	}
}

// within runs fn in a transaction and fails the test on error.
func within(t *testing.T, s Store, fn func(ctx context.Context, r app.Repos) error) {
	t.Helper()
	mustf(t, s.Tx.Within(testCtx(t), fn), "Within")
}

// race runs fn(i) for i in [0, n) in n goroutines released together, and
// waits for all of them.
func race(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// equalTimePtr reports whether two optional times are both nil or equal.
func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func fmtTimePtr(p *time.Time) string {
	if p == nil {
		return "<nil>"
	}
	return p.Format(time.RFC3339Nano)
}

// wantErr fails the test, saying what was tried, unless err is target.
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: %v, want %v", what, err, target)
	}
}

// errOf is the error of a call that returns a value too.
func errOf[T any](_ T, err error) error { return err }

// mustGet is a call's value, failing the test on its error:
// mustGet(f(...))(t).
func mustGet[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		must(t, err)
		return v
	}
}
