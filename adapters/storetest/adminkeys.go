package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/google/uuid"
)

func init() {
	register("AdminKeys/CreateListByHashRevoke", testAdminKeys)
	register("AdminKeys/NamesAreNeverReused", testAdminKeyNamesNeverReused)
	register("AdminKeys/ConcurrentCreateOneName", testAdminKeyConcurrentCreate)
}

// keyPrefix starts the names of one case's keys, so that it can pick its
// own out of List.
func keyPrefix() string { return "k-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12] + "-" }

func newAdminKey(t *testing.T, name string, at time.Time) app.AdminKey {
	t.Helper()
	return app.AdminKey{Name: name, Hash: randomHash(t), CreatedAt: at}
}

func diffAdminKey(got, want app.AdminKey) error {
	if got.Name != want.Name || got.Hash != want.Hash || !got.CreatedAt.Equal(want.CreatedAt) || !equalTimePtr(got.RevokedAt, want.RevokedAt) {
		return fmt.Errorf("admin key differs:\n got %s %x created=%v revoked=%s\nwant %s %x created=%v revoked=%s",
			got.Name, got.Hash, got.CreatedAt, fmtTimePtr(got.RevokedAt), want.Name, want.Hash, want.CreatedAt, fmtTimePtr(want.RevokedAt))
	}
	return nil
}

// ownKeys lists the keys whose names start with prefix, in List's order.
func ownKeys(t *testing.T, s Store, prefix string) []app.AdminKey {
	t.Helper()
	all := mustGet(s.Repos.AdminKeys.List(testCtx(t)))(t)
	var own []app.AdminKey
	for _, k := range all {
		if strings.HasPrefix(k.Name, prefix) {
			own = append(own, k)
		}
	}
	return own
}

func testAdminKeys(t *testing.T, s Store) {
	ctx := testCtx(t)
	store := s.Repos.AdminKeys
	p := keyPrefix()
	t0 := now()
	// Byte order: upper case before lower case, '-' before digits.
	ops := newAdminKey(t, p+"ops", t0)
	upper := newAdminKey(t, p+"Ops", t0.Add(time.Second))
	ci := newAdminKey(t, p+"ci-1", t0.Add(2*time.Second))
	must(t, store.Create(ctx, ops))
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.AdminKeys.Create(ctx, upper) })
	must(t, store.Create(ctx, ci))
	// Rolled back: not stored.
	rolledBack := newAdminKey(t, p+"rolled-back", t0)
	boom := errors.New("boom")
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.AdminKeys.Create(ctx, rolledBack); err != nil {
			return err
		}
		if _, err := r.AdminKeys.ByHash(ctx, rolledBack.Hash); err != nil {
			return fmt.Errorf("own create not visible in its transaction: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Within = %v, want fn's error", err)
	}
	wantErr(t, errOf(store.ByHash(ctx, rolledBack.Hash)), app.ErrAdminKeyNotFound, "ByHash of a rolled-back key")

	for _, k := range []app.AdminKey{ops, upper, ci} {
		got := mustGet(store.ByHash(ctx, k.Hash))(t)
		must(t, diffAdminKey(got, k))
	}
	wantErr(t, errOf(store.ByHash(ctx, randomHash(t))), app.ErrAdminKeyNotFound, "ByHash(unknown)")

	want := []app.AdminKey{upper, ci, ops} // "Ops" < "ci-1" < "ops" in byte order
	if !slices.IsSortedFunc(want, func(a, b app.AdminKey) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatal("test bug: want is not in byte order")
	}
	checkList := func(want []app.AdminKey) {
		t.Helper()
		got := ownKeys(t, s, p)
		if len(got) != len(want) {
			t.Fatalf("List: %d of this case's keys, want %d", len(got), len(want))
		}
		for i := range got {
			mustf(t, diffAdminKey(got[i], want[i]), "List[%d]", i)
		}
	}
	checkList(want)

	// A duplicate hash is refused too.
	dupHash := app.AdminKey{Name: p + "other", Hash: ops.Hash, CreatedAt: t0}
	wantErr(t, store.Create(ctx, dupHash), app.ErrAdminKeyExists, "Create with a taken hash")

	// Revoke: the key stays, listed and found by hash, with its time.
	at := t0.Add(time.Minute)
	must(t, store.Revoke(ctx, ops.Name, at))
	ops.RevokedAt = &at
	if got, err := store.ByHash(ctx, ops.Hash); err != nil {
		t.Fatal(err)
	} else if err := diffAdminKey(got, ops); err != nil {
		t.Fatal(err)
	}
	wantErr(t, store.Revoke(ctx, ops.Name, at.Add(time.Minute)), app.ErrAdminKeyNotFound, "second Revoke")
	if got, err := store.ByHash(ctx, ops.Hash); err != nil || !equalTimePtr(got.RevokedAt, &at) {
		t.Fatalf("second Revoke moved the revoked time to %s (%v)", fmtTimePtr(got.RevokedAt), err)
	}
	wantErr(t, store.Revoke(ctx, p+"never-made", at), app.ErrAdminKeyNotFound, "Revoke(unknown)")
	// In a transaction.
	atCI := at.Add(time.Second)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.AdminKeys.Revoke(ctx, ci.Name, atCI) })
	ci.RevokedAt = &atCI
	err = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return r.AdminKeys.Revoke(ctx, ci.Name, atCI) })
	wantErr(t, err, app.ErrAdminKeyNotFound, "second Revoke in a transaction")
	checkList([]app.AdminKey{upper, ci, ops})
}

// A name, once used, is never used again: not while the key lives, not
// after it was revoked (the audit trail names keys).
func testAdminKeyNamesNeverReused(t *testing.T, s Store) {
	ctx := testCtx(t)
	store := s.Repos.AdminKeys
	name := keyPrefix() + "deploy"
	first := newAdminKey(t, name, now())
	must(t, store.Create(ctx, first))
	wantErr(t, store.Create(ctx, newAdminKey(t, name, now())), app.ErrAdminKeyExists, "Create of a live key's name")
	must(t, store.Revoke(ctx, name, now()))
	again := newAdminKey(t, name, now())
	wantErr(t, store.Create(ctx, again), app.ErrAdminKeyExists, "Create of a revoked key's name")
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return r.AdminKeys.Create(ctx, again) })
	wantErr(t, err, app.ErrAdminKeyExists, "Create of a revoked key's name in a transaction")
	wantErr(t, errOf(store.ByHash(ctx, again.Hash)), app.ErrAdminKeyNotFound, "the refused key was stored")
	if got := ownKeys(t, s, name); len(got) != 1 || got[0].Hash != first.Hash || got[0].RevokedAt == nil {
		t.Fatalf("keys called %s: %+v, want only the first, revoked", name, got)
	}
}

// Of concurrent creates of one name (pool-bound and in transactions),
// exactly one succeeds and the others give ErrAdminKeyExists.
func testAdminKeyConcurrentCreate(t *testing.T, s Store) {
	ctx := testCtx(t)
	name := keyPrefix() + "race"
	const n = 10
	keys := make([]app.AdminKey, n)
	for i := range keys {
		keys[i] = newAdminKey(t, name, now())
	}
	var won, winnerIdx atomic.Int32
	race(n, func(i int) {
		var err error
		if i%2 == 0 {
			err = s.Repos.AdminKeys.Create(ctx, keys[i])
		} else {
			err = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return r.AdminKeys.Create(ctx, keys[i]) })
		}
		switch {
		case err == nil:
			won.Add(1)
			winnerIdx.Store(int32(i))
		case !errors.Is(err, app.ErrAdminKeyExists):
			t.Errorf("create %d: %v", i, err)
		}
	})
	if won.Load() != 1 {
		t.Fatalf("%d creates of one name succeeded, want 1", won.Load())
	}
	winner := int(winnerIdx.Load())
	got := mustGet(s.Repos.AdminKeys.ByHash(ctx, keys[winner].Hash))(t)
	must(t, diffAdminKey(got, keys[winner]))
}
