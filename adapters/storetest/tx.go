package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

func init() {
	register("Tx/CommitAndRollback", testTxCommitAndRollback)
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
