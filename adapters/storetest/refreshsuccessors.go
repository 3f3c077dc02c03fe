package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
)

func init() {
	register("RefreshTokens/SealedSuccessorRoundTrip", testRefreshSuccessorRoundTrip)
	register("Retention/ForgetsRefreshSuccessorsPastTheirGrace", testForgetRefreshSuccessors)
}

// sealedLike is random bytes of the size of a sealed refresh token (a
// version byte, a 24-byte nonce, 43 bytes of ciphertext and a 16-byte
// tag): the store keeps them as they are.
func sealedLike(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 1+24+43+16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// A rotation keeps the sealed successor beside the used time; marking the
// token again without one erases it and keeps the time. A token added with
// one keeps it.
func testRefreshSuccessorRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	rt := addRefreshToken(t, s)
	at, sealed := now().Add(time.Second), sealedLike(t)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		return r.Sessions.MarkRefreshTokenUsed(ctx, rt.Hash, at, sealed)
	})
	got, err := readRefreshToken(t, s, rt)
	must(t, err)
	if got.UsedAt == nil || !got.UsedAt.Equal(at) || !bytes.Equal(got.SealedSuccessor, sealed) {
		t.Fatalf("after rotation: used %s, successor %x; want %v, %x", fmtTimePtr(got.UsedAt), got.SealedSuccessor, at, sealed)
	}
	must(t, repo.MarkRefreshTokenUsed(ctx, rt.Hash, at, nil))
	if got, err = readRefreshToken(t, s, rt); err != nil || got.SealedSuccessor != nil || !equalTimePtr(got.UsedAt, &at) {
		t.Fatalf("after erasing: %+v, %v; want used at %v and no successor", got, err, at)
	}

	added := app.RefreshToken{Hash: randomHash(t), SessionID: rt.SessionID, CreatedAt: at.Add(-time.Minute), UsedAt: &at, SealedSuccessor: sealedLike(t)}
	must(t, repo.AddRefreshToken(ctx, added))
	if got, err = readRefreshToken(t, s, added); err != nil || !bytes.Equal(got.SealedSuccessor, added.SealedSuccessor) {
		t.Fatalf("added with a successor: %+v, %v", got, err)
	}
	// A value as short as a plain token is not a sealed one.
	if err := repo.MarkRefreshTokenUsed(ctx, rt.Hash, at, make([]byte, 43)); err == nil {
		t.Fatal("a 43-byte successor (the size of a plain token) was stored")
	}
}

// ForgetRefreshSuccessors erases the successors of tokens rotated before
// the cutoff, and only those. The cutoff is in 2003, where only this case
// dates rotations, so parallel cases are out of its reach.
func testForgetRefreshSuccessors(t *testing.T, s Store) {
	ctx := testCtx(t)
	cutoff := time.Date(2003, 6, 1, 0, 0, 0, 0, time.UTC)
	sess := createSession(t, s, createUser(t, s).ID(), now())
	before, after := cutoff.Add(-time.Second), cutoff.Add(time.Second)
	past := app.RefreshToken{Hash: randomHash(t), SessionID: sess.ID(), CreatedAt: before.Add(-time.Hour), UsedAt: &before, SealedSuccessor: sealedLike(t)}
	inGrace := app.RefreshToken{Hash: randomHash(t), SessionID: sess.ID(), CreatedAt: before, UsedAt: &after, SealedSuccessor: sealedLike(t)}
	unused := app.RefreshToken{Hash: randomHash(t), SessionID: sess.ID(), CreatedAt: before}
	for _, rt := range []app.RefreshToken{past, inGrace, unused} {
		must(t, s.Repos.Sessions.AddRefreshToken(ctx, rt))
	}
	n, err := s.Retention.ForgetRefreshSuccessors(ctx, cutoff)
	if err != nil || n != 1 {
		t.Fatalf("ForgetRefreshSuccessors = %d, %v; want 1", n, err)
	}
	for _, c := range []struct {
		rt   app.RefreshToken
		want []byte
	}{{past, nil}, {inGrace, inGrace.SealedSuccessor}, {unused, nil}} {
		got, err := readRefreshToken(t, s, c.rt)
		must(t, err)
		if !bytes.Equal(got.SealedSuccessor, c.want) || !equalTimePtr(got.UsedAt, c.rt.UsedAt) {
			t.Errorf("token used %s: successor %x, used %s; want %x", fmtTimePtr(c.rt.UsedAt), got.SealedSuccessor, fmtTimePtr(got.UsedAt), c.want)
		}
	}
	if n, err := s.Retention.ForgetRefreshSuccessors(ctx, cutoff); err != nil || n != 0 {
		t.Fatalf("again: %d, %v; want 0", n, err)
	}
}
