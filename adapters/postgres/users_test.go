package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

func TestUserRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewUserRepository(pgtest.New(t))
	u := newUser(t)
	if err := repo.Create(ctx, u); err != nil {
		t.Fatal(err)
	}

	byEmail, err := repo.ByEmail(ctx, u.Email())
	if err != nil {
		t.Fatal(err)
	}
	assertUser(t, byEmail, u)
	byID, err := repo.ByID(ctx, u.ID())
	if err != nil {
		t.Fatal(err)
	}
	assertUser(t, byID, u)

	later := u.CreatedAt().Add(time.Minute)
	u.VerifyEmail(later)
	if err := u.SetPasswordHash("$argon2id$new", later); err != nil {
		t.Fatal(err)
	}
	u.Deactivate(later)
	if err := repo.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := repo.ByID(ctx, u.ID())
	if err != nil {
		t.Fatal(err)
	}
	assertUser(t, got, u)
	if !got.Verified() || got.Active() || got.PasswordHash() != "$argon2id$new" {
		t.Fatalf("update not saved: %+v", got)
	}
}

func assertUser(t *testing.T, got, want *user.User) {
	t.Helper()
	if got.ID() != want.ID() || got.Email() != want.Email() || got.PasswordHash() != want.PasswordHash() ||
		got.Active() != want.Active() || got.Verified() != want.Verified() ||
		!got.CreatedAt().Equal(want.CreatedAt()) || !got.UpdatedAt().Equal(want.UpdatedAt()) ||
		(got.VerifiedAt() == nil) != (want.VerifiedAt() == nil) ||
		(got.VerifiedAt() != nil && !got.VerifiedAt().Equal(*want.VerifiedAt())) {
		t.Fatalf("user differs:\n got %+v\nwant %+v", got, want)
	}
}

func TestUserForUpdateInTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := createUser(t)
	err := postgres.NewTxManager(pgtest.New(t)).Within(ctx, func(ctx context.Context, r app.Repos) error {
		got, err := r.Users.ByIDForUpdate(ctx, u.ID())
		if err != nil {
			return err
		}
		got.VerifyEmail(now())
		return r.Users.Update(ctx, got)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := postgres.NewUserRepository(pgtest.New(t)).ByID(ctx, u.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Verified() {
		t.Fatal("not verified after committed update")
	}
}

func TestUserDuplicateEmail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewUserRepository(pgtest.New(t))
	u := createUser(t)
	dup, err := user.New(uuid.New(), u.Email(), "hash", now())
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Create(ctx, dup); !errors.Is(err, user.ErrEmailTaken) {
		t.Fatalf("err = %v, want ErrEmailTaken", err)
	}
}

func TestUserConcurrentCreateSameEmail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewUserRepository(pgtest.New(t))
	email := randomEmail(t)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			u, err := user.New(uuid.New(), email, "hash", now())
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = repo.Create(ctx, u)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, user.ErrEmailTaken):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", won)
	}
}

func TestUserNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := postgres.NewUserRepository(pgtest.New(t))
	if _, err := repo.ByID(ctx, uuid.New()); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("ByID: %v", err)
	}
	if _, err := repo.ByEmail(ctx, randomEmail(t)); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("ByEmail: %v", err)
	}
	if err := repo.Update(ctx, newUser(t)); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("Update: %v", err)
	}
}

// A constraint violation is a bug, not an outage: it must not map to 503.
func TestUserConstraintViolationIsNotUnavailable(t *testing.T) {
	t.Parallel()
	u, err := user.New(uuid.New(), user.RehydrateEmail(" Not-Normalized@Example.com"), "hash", now())
	if err != nil {
		t.Fatal(err)
	}
	err = postgres.NewUserRepository(pgtest.New(t)).Create(context.Background(), u)
	if err == nil || errors.Is(err, domain.ErrUnavailable) || errors.Is(err, user.ErrEmailTaken) {
		t.Fatalf("err = %v, want an internal error", err)
	}
}
