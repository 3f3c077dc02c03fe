package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

func init() {
	register("Upstream/IdentityRoundTripListUseDelete", testIdentityRoundTrip)
	register("Upstream/ConcurrentFirstSignInsOneUserOneLink", testFirstSignInsRace)
	register("Upstream/IdentitiesDeletedWithTheirUser", testIdentitiesDeletedWithUser)
	register("Upstream/FlowRoundTrip", testFlowRoundTrip)
	register("Upstream/ConcurrentTakesOfAFlowOneWins", testFlowTakenOnce)
	register("Retention/SweepsExpiredUpstreamFlows", testFlowSweep)
}

// diffIdentity describes how got differs from want, or returns nil.
func diffIdentity(got, want *upstream.Identity) error {
	if got.ID() != want.ID() || got.UserID() != want.UserID() || got.Provider() != want.Provider() || got.Subject() != want.Subject() ||
		got.Email() != want.Email() || !got.CreatedAt().Equal(want.CreatedAt()) || !equalTimePtr(got.LastUsedAt(), want.LastUsedAt()) {
		return fmt.Errorf("identity %+v, want %+v", *got, *want)
	}
	return nil
}

func newIdentity(t *testing.T, userID uuid.UUID, provider string, at time.Time) *upstream.Identity {
	t.Helper()
	return mustGet(upstream.NewIdentity(uuid.New(), userID, provider, "sub-"+uuid.NewString(), "someone@example.com", at))(t)
}

func testIdentityRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Upstream
	u, other := createUser(t, s), createUser(t, s)
	at := now()
	first, second := newIdentity(t, u.ID(), "example", at), newIdentity(t, u.ID(), "git-hub", at.Add(time.Second))
	for _, i := range []*upstream.Identity{second, first, newIdentity(t, other.ID(), "example", at)} {
		must(t, repo.AddIdentity(ctx, i))
	}
	got := mustGet(repo.Identities(ctx, u.ID()))(t)
	if len(got) != 2 {
		t.Fatalf("%d identities, want 2", len(got))
	}
	for k, want := range []*upstream.Identity{first, second} {
		must(t, diffIdentity(got[k], want))
	}
	found := mustGet(repo.Identity(ctx, "example", first.Subject()))(t)
	must(t, diffIdentity(found, first))
	wantErr(t, errOf(repo.Identity(ctx, "git-hub", first.Subject())), upstream.ErrNotFound, "the subject at another provider")

	later := at.Add(time.Hour)
	found.Used("new@example.com", later)
	must(t, repo.UpdateIdentity(ctx, found))
	must(t, diffIdentity(mustGet(repo.Identity(ctx, "example", first.Subject()))(t), found))

	wantErr(t, repo.DeleteIdentity(ctx, other.ID(), first.ID()), upstream.ErrNotFound, "delete of another user's identity")
	must(t, repo.DeleteIdentity(ctx, u.ID(), first.ID()))
	wantErr(t, repo.DeleteIdentity(ctx, u.ID(), first.ID()), upstream.ErrNotFound, "second delete")
	wantErr(t, errOf(repo.Identity(ctx, "example", first.Subject())), upstream.ErrNotFound, "a deleted identity")
}

// Two first sign-ins of one identity at once, each making the account of
// the address and linking the identity to it in one transaction: the
// unique indexes leave one user and one link; the others are told the
// address or the identity is taken and change nothing.
func testFirstSignInsRace(t *testing.T, s Store) {
	ctx := testCtx(t)
	const n = 8
	email := randomEmail(t)
	subject := "sub-" + uuid.NewString()
	var won, lost atomic.Int32
	race(n, func(i int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			if _, err := r.Upstream.Identity(ctx, "example", subject); err == nil {
				return user.ErrEmailTaken // linked already: a sign-in, not a first one
			}
			u := mustGet(user.NewWithoutPassword(uuid.New(), email, true, now()))(t)
			if err := r.Users.Create(ctx, u); err != nil {
				return err
			}
			return r.Upstream.AddIdentity(ctx, mustGet(upstream.NewIdentity(uuid.New(), u.ID(), "example", subject, email.String(), now()))(t))
		})
		switch {
		case err == nil:
			won.Add(1)
		case errors.Is(err, user.ErrEmailTaken), errors.Is(err, upstream.ErrIdentityTaken):
			lost.Add(1)
		default:
			t.Errorf("first sign-in %d: %v", i, err)
		}
	})
	if won.Load() != 1 || lost.Load() != n-1 {
		t.Fatalf("%d first sign-ins made an account, %d were refused; want 1 and %d", won.Load(), lost.Load(), n-1)
	}
	u := mustGet(s.Repos.Users.ByEmail(ctx, email))(t)
	if u.HasPassword() || !u.Verified() {
		t.Errorf("account: password %v, verified %v; want none and verified", u.HasPassword(), u.Verified())
	}
	ids := mustGet(s.Repos.Upstream.Identities(ctx, u.ID()))(t)
	if len(ids) != 1 || ids[0].Subject() != subject {
		t.Fatalf("identities of the account: %d, want the one", len(ids))
	}
}

func testIdentitiesDeletedWithUser(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	i := newIdentity(t, u.ID(), "example", now())
	must(t, s.Repos.Upstream.AddIdentity(ctx, i))
	must(t, s.Repos.Users.Delete(ctx, u.ID()))
	wantErr(t, errOf(s.Repos.Upstream.Identity(ctx, "example", i.Subject())), upstream.ErrNotFound, "an identity of a deleted user")
}

func newFlow(t *testing.T, linkTo uuid.UUID, at time.Time) *upstream.Flow {
	t.Helper()
	return mustGet(upstream.NewFlow(randomHash(t), "example", "nonce-"+uuid.NewString(), "verifier-"+uuid.NewString(), uuid.New(), linkTo, at))(t)
}

func testFlowRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	for _, want := range []*upstream.Flow{newFlow(t, u.ID(), now()), newFlow(t, uuid.Nil, now())} {
		must(t, s.Repos.Upstream.AddFlow(ctx, want))
		var got *upstream.Flow
		within(t, s, func(ctx context.Context, r app.Repos) error {
			var err error
			got, err = r.Upstream.TakeFlow(ctx, want.StateHash())
			return err
		})
		if got.Provider() != want.Provider() || got.Nonce() != want.Nonce() || got.Verifier() != want.Verifier() || got.Pending() != want.Pending() ||
			got.LinkTo() != want.LinkTo() || !got.CreatedAt().Equal(want.CreatedAt()) || !got.ExpiresAt().Equal(want.ExpiresAt()) {
			t.Fatalf("flow %+v, want %+v", *got, *want)
		}
		wantErr(t, errOf(s.Repos.Upstream.TakeFlow(ctx, want.StateHash())), upstream.ErrFlowInvalid, "a flow taken already")
	}
}

func testFlowTakenOnce(t *testing.T, s Store) {
	ctx := testCtx(t)
	const n = 8
	f := newFlow(t, uuid.Nil, now())
	must(t, s.Repos.Upstream.AddFlow(ctx, f))
	var took, refused atomic.Int32
	race(n, func(i int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			_, err := r.Upstream.TakeFlow(ctx, f.StateHash())
			return err
		})
		switch {
		case err == nil:
			took.Add(1)
		case errors.Is(err, upstream.ErrFlowInvalid):
			refused.Add(1)
		default:
			t.Errorf("take %d: %v", i, err)
		}
	})
	if took.Load() != 1 || refused.Load() != n-1 {
		t.Fatalf("%d takes got the flow, %d were refused; want 1 and %d", took.Load(), refused.Load(), n-1)
	}
}

func testFlowSweep(t *testing.T, s Store) {
	ctx := testCtx(t)
	past := time.Date(1999, 4, 1, 0, 0, 0, 0, time.UTC)
	old, live := newFlow(t, uuid.Nil, past), newFlow(t, uuid.Nil, now())
	for _, f := range []*upstream.Flow{old, live} {
		must(t, s.Repos.Upstream.AddFlow(ctx, f))
	}
	swept := mustGet(s.Retention.Sweep(ctx, past.Add(time.Hour)))(t)
	if swept.Tokens < 1 {
		t.Fatalf("swept %+v, want at least one token", swept)
	}
	wantErr(t, errOf(s.Repos.Upstream.TakeFlow(ctx, old.StateHash())), upstream.ErrFlowInvalid, "a flow expired before the cutoff")
	must(t, errOf(s.Repos.Upstream.TakeFlow(ctx, live.StateHash())))
}
