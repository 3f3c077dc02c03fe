package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/google/uuid"
)

func init() {
	register("Passkeys/RoundTripListRenameUseDelete", testPasskeyRoundTrip)
	register("Passkeys/ConcurrentAddsOfOneCredentialOneWins", testPasskeyUniqueCredential)
	register("Passkeys/DeletedWithTheirUser", testPasskeysDeletedWithUser)
	register("Passkeys/ChallengeRoundTrip", testPasskeyChallengeRoundTrip)
	register("Passkeys/ConcurrentTakesOfAChallengeOneWins", testPasskeyChallengeTakenOnce)
	register("Retention/SweepsExpiredPasskeyChallenges", testPasskeyChallengeSweep)
	register("MFA/LoginTokenKeepsItsFirstFactor", testLoginTokenFirstFactor)
}

// randomBytes is n random bytes.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newPasskey is a passkey of userID created at at, every field set.
func newPasskey(t *testing.T, userID uuid.UUID, at time.Time) *passkey.Credential {
	t.Helper()
	return mustGet(passkey.New(uuid.New(), userID, "Laptop "+uuid.NewString()[:8], passkey.Registration{
		CredentialID: randomBytes(t, 32), PublicKey: randomBytes(t, 77), SignCount: 7, AAGUID: randomBytes(t, 16),
		Transports: []string{"internal", "hybrid"}, Flags: passkey.Flags{UserVerified: true, BackupEligible: true, BackupState: false},
	}, at))(t)
}

// diffPasskey describes how got differs from want, or returns nil.
func diffPasskey(got, want *passkey.Credential) error {
	switch {
	case got.ID() != want.ID() || got.UserID() != want.UserID() || got.Name() != want.Name():
		return fmt.Errorf("passkey %s/%s %q, want %s/%s %q", got.ID(), got.UserID(), got.Name(), want.ID(), want.UserID(), want.Name())
	case !bytes.Equal(got.CredentialID(), want.CredentialID()) || !bytes.Equal(got.PublicKey(), want.PublicKey()) || !bytes.Equal(got.AAGUID(), want.AAGUID()):
		return fmt.Errorf("passkey %s: credential id, public key or AAGUID differ", want.ID())
	case got.SignCount() != want.SignCount() || got.Flags() != want.Flags() || !slices.Equal(got.Transports(), want.Transports()):
		return fmt.Errorf("passkey %s: count %d, flags %+v, transports %v; want %d, %+v, %v", want.ID(), got.SignCount(), got.Flags(), got.Transports(),
			want.SignCount(), want.Flags(), want.Transports())
	case !got.CreatedAt().Equal(want.CreatedAt()) || !equalTimePtr(got.LastUsedAt(), want.LastUsedAt()):
		return fmt.Errorf("passkey %s: created %v, last used %s; want %v, %s", want.ID(), got.CreatedAt(), fmtTimePtr(got.LastUsedAt()),
			want.CreatedAt(), fmtTimePtr(want.LastUsedAt()))
	}
	return nil
}

func testPasskeyRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Passkeys
	u, other := createUser(t, s), createUser(t, s)
	at := now()
	first, second := newPasskey(t, u.ID(), at), newPasskey(t, u.ID(), at.Add(time.Second))
	noAAGUID := mustGet(passkey.New(uuid.New(), u.ID(), "Key", passkey.Registration{CredentialID: randomBytes(t, 16), PublicKey: randomBytes(t, 40)}, at.Add(2*time.Second)))(t)
	for _, c := range []*passkey.Credential{second, first, noAAGUID} {
		must(t, repo.Add(ctx, c))
	}
	must(t, repo.Add(ctx, newPasskey(t, other.ID(), at)))

	got := mustGet(repo.List(ctx, u.ID()))(t)
	if len(got) != 3 {
		t.Fatalf("List = %d passkeys, want 3", len(got))
	}
	for i, want := range []*passkey.Credential{first, second, noAAGUID} {
		mustf(t, diffPasskey(got[i], want), "List[%d]", i)
	}
	mustf(t, diffPasskey(mustGet(repo.ByCredentialID(ctx, first.CredentialID()))(t), first), "ByCredentialID")
	mustf(t, diffPasskey(mustGet(repo.ByID(ctx, u.ID(), second.ID()))(t), second), "ByID")
	wantErr(t, errOf(repo.ByID(ctx, other.ID(), second.ID())), passkey.ErrNotFound, "ByID of another user")
	wantErr(t, errOf(repo.ByCredentialID(ctx, randomBytes(t, 32))), passkey.ErrNotFound, "ByCredentialID of an unknown credential")

	first.Rename("Renamed")
	must(t, first.Used(passkey.Assertion{SignCount: 8, UserVerified: true, BackupState: true}, at.Add(time.Hour)))
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Passkeys.Update(ctx, first) })
	mustf(t, diffPasskey(mustGet(repo.ByID(ctx, u.ID(), first.ID()))(t), first), "after Update")

	wantErr(t, repo.Delete(ctx, other.ID(), first.ID()), passkey.ErrNotFound, "Delete of another user's passkey")
	must(t, repo.Delete(ctx, u.ID(), first.ID()))
	wantErr(t, repo.Delete(ctx, u.ID(), first.ID()), passkey.ErrNotFound, "Delete twice")
	wantErr(t, repo.Update(ctx, first), passkey.ErrNotFound, "Update of a deleted passkey")
	if n := len(mustGet(repo.List(ctx, u.ID()))(t)); n != 2 {
		t.Errorf("List after a delete = %d passkeys, want 2", n)
	}
}

// Of concurrent adds of one credential id (by two users, even), exactly
// one is stored; the others are told it exists, inside a transaction that
// still commits what else it did.
func testPasskeyUniqueCredential(t *testing.T, s Store) {
	ctx := testCtx(t)
	const n = 8
	credID := randomBytes(t, 32)
	var won, exists atomic.Int32
	race(n, func(i int) {
		u := createUser(t, s)
		c := mustGet(passkey.New(uuid.New(), u.ID(), "Key", passkey.Registration{CredentialID: credID, PublicKey: randomBytes(t, 40)}, now()))(t)
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			err := r.Passkeys.Add(ctx, c)
			if errors.Is(err, passkey.ErrExists) {
				exists.Add(1)
				return nil
			}
			return err
		})
		if err != nil {
			t.Errorf("add %d: %v", i, err)
			return
		}
		if _, err := s.Repos.Passkeys.ByID(ctx, u.ID(), c.ID()); err == nil {
			won.Add(1)
		}
	})
	if won.Load() != 1 || exists.Load() != n-1 {
		t.Fatalf("%d adds stored, %d told it exists; want 1 and %d", won.Load(), exists.Load(), n-1)
	}
}

func testPasskeysDeletedWithUser(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	c := newPasskey(t, u.ID(), now())
	must(t, s.Repos.Passkeys.Add(ctx, c))
	ch := mustGet(passkey.NewChallenge(uuid.New(), u.ID(), passkey.PurposeRegister, []byte(`{"challenge":"x"}`), now()))(t)
	must(t, s.Repos.Passkeys.AddChallenge(ctx, ch))
	must(t, s.Repos.Users.Delete(ctx, u.ID()))
	wantErr(t, errOf(s.Repos.Passkeys.ByCredentialID(ctx, c.CredentialID())), passkey.ErrNotFound, "a deleted user's passkey")
	wantErr(t, errOf(s.Repos.Passkeys.TakeChallenge(ctx, ch.ID())), passkey.ErrChallengeInvalid, "a deleted user's challenge")
}

func testPasskeyChallengeRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	at := now()
	state := []byte(`{"challenge":"c2VjcmV0","rpId":"example.com","user_id":"AAEC"}`)
	reg := mustGet(passkey.NewChallenge(uuid.New(), u.ID(), passkey.PurposeRegister, state, at))(t)
	login := mustGet(passkey.NewChallenge(uuid.New(), uuid.Nil, passkey.PurposeLogin, state, at))(t)
	for _, c := range []*passkey.Challenge{reg, login} {
		within(t, s, func(ctx context.Context, r app.Repos) error { return r.Passkeys.AddChallenge(ctx, c) })
	}
	for _, want := range []*passkey.Challenge{reg, login} {
		got := mustGet(s.Repos.Passkeys.TakeChallenge(ctx, want.ID()))(t)
		if got.ID() != want.ID() || got.UserID() != want.UserID() || got.Purpose() != want.Purpose() || !bytes.Equal(got.State(), want.State()) ||
			!got.CreatedAt().Equal(want.CreatedAt()) || !got.ExpiresAt().Equal(want.ExpiresAt()) {
			t.Errorf("TakeChallenge = %s %s %s %q %v %v, want %s %s %s %q %v %v", got.ID(), got.UserID(), got.Purpose(), got.State(), got.CreatedAt(), got.ExpiresAt(),
				want.ID(), want.UserID(), want.Purpose(), want.State(), want.CreatedAt(), want.ExpiresAt())
		}
		wantErr(t, errOf(s.Repos.Passkeys.TakeChallenge(ctx, want.ID())), passkey.ErrChallengeInvalid, "a challenge taken twice")
	}
	wantErr(t, errOf(s.Repos.Passkeys.TakeChallenge(ctx, uuid.New())), passkey.ErrChallengeInvalid, "an unknown challenge")
}

// Of n finishes racing to take one challenge, each in a transaction of
// its own, exactly one gets it.
func testPasskeyChallengeTakenOnce(t *testing.T, s Store) {
	ctx := testCtx(t)
	const n = 10
	ch := mustGet(passkey.NewChallenge(uuid.New(), uuid.Nil, passkey.PurposeLogin, []byte(`{"challenge":"x"}`), now()))(t)
	must(t, s.Repos.Passkeys.AddChallenge(ctx, ch))
	var won, refused atomic.Int32
	race(n, func(i int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			_, err := r.Passkeys.TakeChallenge(ctx, ch.ID())
			return err
		})
		switch {
		case err == nil:
			won.Add(1)
		case errors.Is(err, passkey.ErrChallengeInvalid):
			refused.Add(1)
		default:
			t.Errorf("take %d: %v", i, err)
		}
	})
	if won.Load() != 1 || refused.Load() != n-1 {
		t.Fatalf("%d takes got the challenge, %d were refused; want 1 and %d", won.Load(), refused.Load(), n-1)
	}
}

// The retention sweep deletes the challenges that expired before its
// cutoff, and keeps the others.
func testPasskeyChallengeSweep(t *testing.T, s Store) {
	ctx := testCtx(t)
	past := time.Date(1999, 4, 1, 0, 0, 0, 0, time.UTC)
	cutoff := past.Add(time.Hour)
	old := mustGet(passkey.NewChallenge(uuid.New(), uuid.Nil, passkey.PurposeLogin, []byte(`{}`), past))(t)
	live := mustGet(passkey.NewChallenge(uuid.New(), uuid.Nil, passkey.PurposeLogin, []byte(`{}`), now()))(t)
	for _, c := range []*passkey.Challenge{old, live} {
		must(t, s.Repos.Passkeys.AddChallenge(ctx, c))
	}
	swept := mustGet(s.Retention.Sweep(ctx, cutoff))(t)
	if swept.Tokens < 1 {
		t.Fatalf("swept %+v, want at least one token", swept)
	}
	wantErr(t, errOf(s.Repos.Passkeys.TakeChallenge(ctx, old.ID())), passkey.ErrChallengeInvalid, "a challenge expired before the cutoff")
	must(t, errOf(s.Repos.Passkeys.TakeChallenge(ctx, live.ID())))
}

func testLoginTokenFirstFactor(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	pwd := mustGet(mfa.IssueLoginToken(randomHash(t), u.ID(), mfa.Binding{1}, now()))(t)
	hwk := mustGet(mfa.IssueLoginTokenAfter(randomHash(t), u.ID(), mfa.Binding{2}, []string{session.MethodHardwareKey}, now()))(t)
	for _, lt := range []*mfa.LoginToken{pwd, hwk} {
		must(t, s.Repos.MFA.AddLoginToken(ctx, lt))
		got := mustGet(s.Repos.MFA.LoginToken(ctx, lt.Hash()))(t)
		if !slices.Equal(got.FirstFactor(), lt.FirstFactor()) {
			t.Errorf("first factor %v, want %v", got.FirstFactor(), lt.FirstFactor())
		}
	}
}
