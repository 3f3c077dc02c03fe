package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

func init() {
	register("Users/RoundTrip", testUserRoundTrip)
	register("Users/ForChangeInTx", testUserForChangeInTx)
	register("Users/DuplicateEmail", testUserDuplicateEmail)
	register("Users/ConcurrentCreateSameEmail", testUserConcurrentCreateSameEmail)
	register("Users/NotFound", testUserNotFound)
	register("Users/ForLoginReadsTheUserAndWhetherMFAIsOn", testUserForLogin)
	register("Users/ConstraintViolationIsNotUnavailable", testUserConstraintViolation)
	register("Users/ConcurrentChangesAreSerialized", testUserConcurrentChanges)
	register("Tx/CommitAndRollback", testTxCommitAndRollback)
}

func assertUser(t *testing.T, got, want *user.User) {
	t.Helper()
	must(t, diffUser(got, want))
}

// diffUser describes how got differs from want, or returns nil.
func diffUser(got, want *user.User) error {
	if got.ID() != want.ID() || got.Email() != want.Email() || got.PasswordHash() != want.PasswordHash() ||
		got.Active() != want.Active() || got.Verified() != want.Verified() ||
		!got.CreatedAt().Equal(want.CreatedAt()) || !got.UpdatedAt().Equal(want.UpdatedAt()) ||
		!equalTimePtr(got.VerifiedAt(), want.VerifiedAt()) || !equalTimePtr(got.LastLoginAt(), want.LastLoginAt()) {
		return fmt.Errorf("user differs:\n got %s %s %q active=%v verified=%v created=%v updated=%v verifiedAt=%s lastLoginAt=%s\nwant %s %s %q active=%v verified=%v created=%v updated=%v verifiedAt=%s lastLoginAt=%s",
			got.ID(), got.Email(), got.PasswordHash(), got.Active(), got.Verified(), got.CreatedAt(), got.UpdatedAt(), fmtTimePtr(got.VerifiedAt()), fmtTimePtr(got.LastLoginAt()),
			want.ID(), want.Email(), want.PasswordHash(), want.Active(), want.Verified(), want.CreatedAt(), want.UpdatedAt(), fmtTimePtr(want.VerifiedAt()), fmtTimePtr(want.LastLoginAt()))
	}
	return nil
}

func testUserRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Users
	u := newUser(t)
	must(t, repo.Create(ctx, u))

	byEmail := mustGet(repo.ByEmail(ctx, u.Email()))(t)
	assertUser(t, byEmail, u)
	byID := mustGet(repo.ByID(ctx, u.ID()))(t)
	assertUser(t, byID, u)
	if byID.VerifiedAt() != nil || !byID.Active() || byID.Verified() {
		t.Fatalf("new user stored as active=%v verified=%v verifiedAt=%s", byID.Active(), byID.Verified(), fmtTimePtr(byID.VerifiedAt()))
	}

	later := u.CreatedAt().Add(time.Minute)
	u.VerifyEmail(later)
	must(t, u.SetPasswordHash("$argon2id$new", later.Add(time.Second)))
	u.Deactivate(later.Add(2 * time.Second))
	must(t, repo.Update(ctx, u))
	got := mustGet(repo.ByID(ctx, u.ID()))(t)
	assertUser(t, got, u)
	if !got.Verified() || got.Active() || got.PasswordHash() != "$argon2id$new" || !got.VerifiedAt().Equal(later) {
		t.Fatal("update not saved")
	}
	if got, err := repo.ByEmail(ctx, u.Email()); err != nil {
		t.Fatal(err)
	} else {
		assertUser(t, got, u)
	}
}

func testUserForChangeInTx(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	at := now().Add(time.Second)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		got, err := r.Users.ByIDForChange(ctx, u.ID())
		if err != nil {
			return err
		}
		if err := diffUser(got, u); err != nil {
			return err
		}
		got.VerifyEmail(at)
		if err := r.Users.Update(ctx, got); err != nil {
			return err
		}
		// The transaction sees its own write.
		again, err := r.Users.ByID(ctx, u.ID())
		if err != nil {
			return err
		}
		if !again.Verified() {
			return errors.New("update not visible inside its own transaction")
		}
		return nil
	})
	got := mustGet(s.Repos.Users.ByID(ctx, u.ID()))(t)
	if !got.Verified() || !got.VerifiedAt().Equal(at) {
		t.Fatal("not verified after committed update")
	}
}

func testUserDuplicateEmail(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	dup, err := user.New(uuid.New(), u.Email(), "hash", now())
	must(t, err)
	if err := s.Repos.Users.Create(ctx, dup); !errors.Is(err, user.ErrEmailTaken) {
		t.Fatalf("pool-bound Create of a taken address: err = %v, want ErrEmailTaken", err)
	}
	err = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return r.Users.Create(ctx, dup) })
	if !errors.Is(err, user.ErrEmailTaken) {
		t.Fatalf("Create in a transaction of a taken address: err = %v, want ErrEmailTaken", err)
	}
	wantErr(t, errOf(s.Repos.Users.ByID(ctx, dup.ID())), user.ErrNotFound, "the duplicate was stored")
}

// Half the creates are pool-bound, half run in transactions; the unique
// index decides either way.
func testUserConcurrentCreateSameEmail(t *testing.T, s Store) {
	ctx := testCtx(t)
	email := randomEmail(t)
	const n = 20
	errs := make([]error, n)
	ids := make([]uuid.UUID, n)
	race(n, func(i int) {
		u, err := user.New(uuid.New(), email, "hash", now())
		if err != nil {
			errs[i] = err
			return
		}
		ids[i] = u.ID()
		if i%2 == 0 {
			errs[i] = s.Repos.Users.Create(ctx, u)
			return
		}
		errs[i] = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return r.Users.Create(ctx, u) })
	})
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Errorf("creates %d and %d both succeeded", won, i)
			}
			won = i
		case !errors.Is(err, user.ErrEmailTaken):
			t.Errorf("create %d: unexpected error: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no create succeeded")
	}
	got := mustGet(s.Repos.Users.ByEmail(ctx, email))(t)
	if got.ID() != ids[won] {
		t.Fatalf("stored user %s, the winner was %s", got.ID(), ids[won])
	}
}

func testUserNotFound(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Users
	wantErr(t, errOf(repo.ByID(ctx, uuid.New())), user.ErrNotFound, "ByID")
	wantErr(t, errOf(repo.ByEmail(ctx, randomEmail(t))), user.ErrNotFound, "ByEmail")
	wantErr(t, repo.Update(ctx, newUser(t)), user.ErrNotFound, "Update")
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		_, err := r.Users.ByIDForChange(ctx, uuid.New())
		return err
	})
	wantErr(t, err, user.ErrNotFound, "ByIDForChange")
}

// A constraint violation (here: an address that is not in normalized
// form) is a bug, not an outage: it must not map to 503, nor to a conflict.
func testUserConstraintViolation(t *testing.T, s Store) {
	ctx := testCtx(t)
	u, err := user.New(uuid.New(), user.RehydrateEmail(" Not-Normalized-"+uuid.NewString()+"@Example.com"), "hash", now())
	must(t, err)
	err = s.Repos.Users.Create(ctx, u)
	if err == nil || errors.Is(err, domain.ErrUnavailable) || errors.Is(err, user.ErrEmailTaken) {
		t.Fatalf("err = %v, want an internal error", err)
	}
	wantErr(t, errOf(s.Repos.Users.ByID(ctx, u.ID())), user.ErrNotFound, "the invalid user was stored")
}

// Transactions that read one user for change run one after another: each
// increments a counter kept in the password hash, read inside the
// transaction, and no increment is lost.
func testUserConcurrentChanges(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := mustGet(user.New(uuid.New(), randomEmail(t), "counter:0", now()))(t)
	must(t, s.Repos.Users.Create(ctx, u))
	const n = 10
	race(n, func(int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			got, err := r.Users.ByIDForChange(ctx, u.ID())
			if err != nil {
				return err
			}
			k, err := strconv.Atoi(strings.TrimPrefix(got.PasswordHash(), "counter:"))
			if err != nil {
				return fmt.Errorf("stored hash %q: %w", got.PasswordHash(), err)
			}
			time.Sleep(time.Millisecond) // widen the window a lost update needs
			if err := got.SetPasswordHash(fmt.Sprintf("counter:%d", k+1), now()); err != nil {
				return err
			}
			return r.Users.Update(ctx, got)
		})
		if err != nil {
			t.Error(err)
		}
	})
	got := mustGet(s.Repos.Users.ByID(ctx, u.ID()))(t)
	if want := fmt.Sprintf("counter:%d", n); got.PasswordHash() != want {
		t.Fatalf("after %d concurrent increments the hash is %q, want %q (an update was lost)", n, got.PasswordHash(), want)
	}
}

// Within commits when fn returns nil and rolls everything back otherwise,
// returning fn's error; inside, the repositories see the transaction's own
// writes.
func testTxCommitAndRollback(t *testing.T, s Store) {
	ctx := testCtx(t)
	committed := newUser(t)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		if err := r.Users.Create(ctx, committed); err != nil {
			return err
		}
		got, err := r.Users.ByEmail(ctx, committed.Email())
		if err != nil {
			return fmt.Errorf("own write not visible inside the transaction: %w", err)
		}
		return diffUser(got, committed)
	})
	if _, err := s.Repos.Users.ByID(ctx, committed.ID()); err != nil {
		t.Fatalf("committed user: %v", err)
	}

	rolledBack := newUser(t)
	second := newUser(t) // a second write in the same transaction
	boom := errors.New("boom")
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Users.Create(ctx, rolledBack); err != nil {
			return err
		}
		if err := r.Users.Create(ctx, second); err != nil {
			return err
		}
		return fmt.Errorf("use case failed: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Within = %v, want fn's error", err)
	}
	for _, u := range []*user.User{rolledBack, second} {
		wantErr(t, errOf(s.Repos.Users.ByID(ctx, u.ID())), user.ErrNotFound, "user of a rolled-back transaction")
	}
	mustf(t, s.Repos.Users.Create(ctx, rolledBack), "the address of a rolled-back create is still taken")
}

// ForLogin reads the user by email as ByEmail does, and says MFA is on
// only once a factor is confirmed.
func testUserForLogin(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	mfaOn := func(want bool) {
		t.Helper()
		got, on, err := s.Repos.Users.ForLogin(ctx, u.Email())
		must(t, err)
		assertUser(t, got, u)
		if on != want {
			t.Fatalf("ForLogin says MFA on %v, want %v", on, want)
		}
	}
	mfaOn(false)
	f := pendingTOTP(t, u.ID(), now())
	must(t, s.Repos.MFA.PutPendingTOTP(ctx, f))
	mfaOn(false)
	if ok, err := s.Repos.MFA.ConfirmTOTP(ctx, u.ID(), f.SealedSecret(), now(), 1); !ok || err != nil {
		t.Fatalf("ConfirmTOTP = %v, %v", ok, err)
	}
	mfaOn(true)
	_, _, err := s.Repos.Users.ForLogin(ctx, randomEmail(t))
	wantErr(t, err, user.ErrNotFound, "ForLogin of an unknown address")
}
