package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

func init() {
	// Alone: its 520 users hold the embedded store's single writer
	// longer than another case waits for it under the race detector.
	registerSerial("Users/CreateMissing", testUserCreateMissing)
	register("Users/CreateMissingRollsBack", testUserCreateMissingRollsBack)
	register("Users/CreateMissingRacesCreate", testUserCreateMissingRacesCreate)
}

// importedUsers are n new users made at created, every other one verified.
func importedUsers(t *testing.T, n int, created time.Time) []*user.User {
	t.Helper()
	us := make([]*user.User, n)
	for i := range us {
		us[i] = mustGet(user.New(uuid.New(), randomEmail(t), "$2b$10$imported"+uuid.NewString(), created))(t)
		if i%2 == 0 {
			us[i].VerifyEmail(created)
		}
	}
	return us
}

func sortedIDs(ids []uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}

// More users than one statement takes (createManyRows is 100), with some addresses taken: before
// the call, and twice within it. Every other one is stored as it was
// given; the ids returned are exactly the inserted ones.
func testUserCreateMissing(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Users
	created := now().Add(-400 * 24 * time.Hour)
	us := importedUsers(t, 520, created)
	taken := []*user.User{us[0], us[300], us[519]}
	var stored []*user.User // what the taken addresses hold before
	for _, u := range taken {
		prior := mustGet(user.New(uuid.New(), u.Email(), passwordHash, now()))(t)
		must(t, repo.Create(ctx, prior))
		stored = append(stored, prior)
	}
	// The same address twice in one call: the first one wins.
	twin := mustGet(user.New(uuid.New(), us[5].Email(), passwordHash, created))(t)
	us = append(us, twin)

	ids := mustGet(repo.CreateMissing(ctx, us))(t)
	var want []uuid.UUID
	for i, u := range us {
		if i != 0 && i != 300 && i != 519 && u != twin {
			want = append(want, u.ID())
		}
	}
	if got := sortedIDs(ids); !slices.Equal(got, sortedIDs(want)) {
		t.Fatalf("CreateMissing returned %d ids, want the %d inserted", len(got), len(want))
	}
	for i, u := range us {
		got, err := repo.ByID(ctx, u.ID())
		switch {
		case i == 0 || i == 300 || i == 519 || u == twin:
			wantErr(t, err, user.ErrNotFound, "ByID of a user left out")
		default:
			must(t, err)
			assertUser(t, got, u)
		}
	}
	for _, prior := range stored {
		assertUser(t, mustGet(repo.ByEmail(ctx, prior.Email()))(t), prior)
	}
	// Again: everything is there now.
	if ids := mustGet(repo.CreateMissing(ctx, us))(t); len(ids) != 0 {
		t.Fatalf("a second CreateMissing inserted %d users", len(ids))
	}
	if ids := mustGet(repo.CreateMissing(ctx, nil))(t); len(ids) != 0 {
		t.Fatalf("CreateMissing(nil) inserted %d users", len(ids))
	}
}

// Bound to a transaction that fails, none of it stays.
func testUserCreateMissingRollsBack(t *testing.T, s Store) {
	us := importedUsers(t, 3, now())
	boom := errors.New("boom")
	err := s.Tx.Within(testCtx(t), func(ctx context.Context, r app.Repos) error {
		ids, err := r.Users.CreateMissing(ctx, us)
		if err != nil {
			return err
		}
		if len(ids) != len(us) {
			t.Errorf("CreateMissing in a transaction inserted %d of %d", len(ids), len(us))
		}
		return boom
	})
	wantErr(t, err, boom, "Within")
	for _, u := range us {
		wantErr(t, errOf(s.Repos.Users.ByID(testCtx(t), u.ID())), user.ErrNotFound, "ByID after rollback")
	}
}

// Imports racing plain creates of the same addresses: each address ends
// with exactly one user, and every call either inserted it or says it did
// not.
func testUserCreateMissingRacesCreate(t *testing.T, s Store) {
	ctx := testCtx(t)
	us := importedUsers(t, 20, now())
	const n = 8
	inserted := make([][]uuid.UUID, n)
	errs := make([]error, n)
	created := make([]error, n)
	race(n, func(i int) {
		if i%2 == 0 {
			batch := make([]*user.User, len(us))
			for j, u := range us {
				batch[j] = mustGet(user.New(uuid.New(), u.Email(), passwordHash, now()))(t)
			}
			inserted[i], errs[i] = s.Repos.Users.CreateMissing(ctx, batch)
			return
		}
		created[i] = s.Repos.Users.Create(ctx, mustGet(user.New(uuid.New(), us[i].Email(), passwordHash, now()))(t))
	})
	total := 0
	for i := range n {
		mustf(t, errs[i], "CreateMissing %d", i)
		total += len(inserted[i])
		if created[i] == nil && i%2 == 1 {
			total++
		} else if i%2 == 1 {
			wantErr(t, created[i], user.ErrEmailTaken, "Create racing an import")
		}
	}
	if total != len(us) {
		t.Fatalf("%d users inserted for %d addresses", total, len(us))
	}
	for _, u := range us {
		must(t, errOf(s.Repos.Users.ByEmail(ctx, u.Email())))
	}
}
