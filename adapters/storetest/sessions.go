package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

func init() {
	register("Sessions/RoundTrip", testSessionRoundTrip)
	register("Sessions/ClientTextStoredStorable", testSessionClientText)
	register("Sessions/ListActiveAndRevokeAll", testSessionListActiveAndRevokeAll)
	register("Sessions/ConcurrentChangesAreSerialized", testSessionConcurrentChanges)
	register("Sessions/CountActive", testSessionCountActive)
	register("RefreshTokens/RoundTrip", testRefreshTokenRoundTrip)
	register("RefreshTokens/ConcurrentUseExactlyOneWins", testRefreshTokenConcurrentUse)
	register("RefreshTokens/LookWithoutWaiting", testRefreshTokenLook)
	register("Sessions/ForBearerReadsSessionUserAndFactorAsTheyAre", testSessionForBearer)
	register("Sessions/ForBrowserFindsTheSessionBySecret", testSessionForBrowser)
	register("RefreshTokens/SealedSuccessorRoundTrip", testRefreshSuccessorRoundTrip)
	register("Retention/ForgetsRefreshSuccessorsPastTheirGrace", testForgetRefreshSuccessors)
}

// diffSession describes how got differs from want, or returns nil.
func diffSession(got, want *session.Session) error {
	if got.ID() != want.ID() || got.UserID() != want.UserID() || !got.CreatedAt().Equal(want.CreatedAt()) ||
		!got.LastUsedAt().Equal(want.LastUsedAt()) || !got.ExpiresAt().Equal(want.ExpiresAt()) ||
		got.UserAgent() != want.UserAgent() || got.IP() != want.IP() || !equalTimePtr(got.RevokedAt(), want.RevokedAt()) {
		return fmt.Errorf("session differs:\n got %s user=%s created=%v last=%v expires=%v revoked=%s ua=%q ip=%q\nwant %s user=%s created=%v last=%v expires=%v revoked=%s ua=%q ip=%q",
			got.ID(), got.UserID(), got.CreatedAt(), got.LastUsedAt(), got.ExpiresAt(), fmtTimePtr(got.RevokedAt()), got.UserAgent(), got.IP(),
			want.ID(), want.UserID(), want.CreatedAt(), want.LastUsedAt(), want.ExpiresAt(), fmtTimePtr(want.RevokedAt()), want.UserAgent(), want.IP())
	}
	return nil
}

func testSessionRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	u := createUser(t, s)
	sess := createSession(t, s, u.ID(), now())

	got, err := repo.ByID(ctx, sess.ID())
	must(t, err)
	must(t, diffSession(got, sess))

	sess.Touch(sess.CreatedAt().Add(time.Minute))
	sess.Revoke(sess.CreatedAt().Add(2 * time.Minute))
	must(t, repo.Update(ctx, sess))
	within(t, s, func(ctx context.Context, r app.Repos) error {
		got, err := r.Sessions.ByIDForChange(ctx, sess.ID())
		if err != nil {
			return err
		}
		return diffSession(got, sess)
	})
	if got, err := repo.ByID(ctx, sess.ID()); err != nil {
		t.Fatal(err)
	} else if err := diffSession(got, sess); err != nil {
		t.Fatal(err)
	}

	wantErr(t, errOf(repo.ByID(ctx, uuid.New())), session.ErrNotFound, "ByID unknown")
	err = s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		_, err := r.Sessions.ByIDForChange(ctx, uuid.New())
		return err
	})
	wantErr(t, err, session.ErrNotFound, "ByIDForChange unknown")
	other := mustGet(session.New(uuid.New(), u.ID(), now(), time.Hour, "", ""))(t)
	wantErr(t, repo.Update(ctx, other), session.ErrNotFound, "Update unknown")
}

// User agent and IP come from the client: they are stored as valid UTF-8
// without NUL, cut to storable.MaxText bytes (see internal/storable).
func testSessionClientText(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	ua := "Mozilla/5.0 (\xff invalid UTF-8 \x00 NUL) " + strings.Repeat("é", storable.MaxText)
	ip := "203.0.113.9\x00"
	sess := mustGet(session.New(uuid.New(), u.ID(), now(), time.Hour, ua, ip))(t)
	must(t, s.Repos.Sessions.Create(ctx, sess))
	got := mustGet(s.Repos.Sessions.ByID(ctx, sess.ID()))(t)
	if want := storable.Text(ua, storable.MaxText); got.UserAgent() != want {
		t.Fatalf("user agent stored as %q (%d bytes), want %q (%d bytes)", got.UserAgent(), len(got.UserAgent()), want, len(want))
	}
	if want := storable.Text(ip, storable.MaxText); got.IP() != want {
		t.Fatalf("IP stored as %q, want %q", got.IP(), want)
	}
}

func testSessionListActiveAndRevokeAll(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	u := createUser(t, s)
	other := createUser(t, s)
	t0 := now()
	s1 := createSession(t, s, u.ID(), t0)
	s2 := createSession(t, s, u.ID(), t0.Add(time.Second))
	s3 := createSession(t, s, u.ID(), t0.Add(2*time.Second))
	revoked := createSession(t, s, u.ID(), t0.Add(3*time.Second))
	revoked.Revoke(t0.Add(4 * time.Second))
	must(t, repo.Update(ctx, revoked))
	createSessionTTL(t, s, u.ID(), t0.Add(-48*time.Hour), time.Hour) // expired
	otherSession := createSession(t, s, other.ID(), t0)

	list := mustGet(repo.ListActive(ctx, u.ID(), t0.Add(5*time.Second)))(t)
	if ids := sessionIDs(list); !slices.Equal(ids, []uuid.UUID{s3.ID(), s2.ID(), s1.ID()}) {
		t.Fatalf("ListActive = %v, want s3, s2, s1 (newest first)", ids)
	}
	must(t, diffSession(list[1], s2))

	n := mustGet(repo.RevokeAll(ctx, u.ID(), s2.ID(), t0.Add(6*time.Second)))(t)
	if n != 2 {
		t.Fatalf("RevokeAll revoked %d, want 2", n)
	}
	list = mustGet(repo.ListActive(ctx, u.ID(), t0.Add(7*time.Second)))(t)
	if ids := sessionIDs(list); !slices.Equal(ids, []uuid.UUID{s2.ID()}) {
		t.Fatalf("after RevokeAll: %v, want only s2", ids)
	}
	got := mustGet(repo.ByID(ctx, revoked.ID()))(t)
	if !equalTimePtr(got.RevokedAt(), revoked.RevokedAt()) {
		t.Fatal("RevokeAll changed the time of an already revoked session")
	}
	got = mustGet(repo.ByID(ctx, s1.ID()))(t)
	if want := t0.Add(6 * time.Second); got.RevokedAt() == nil || !got.RevokedAt().Equal(want) {
		t.Fatalf("RevokeAll revoked at %s, want %v", fmtTimePtr(got.RevokedAt()), want)
	}

	// In a transaction, keeping none.
	within(t, s, func(ctx context.Context, r app.Repos) error {
		n, err := r.Sessions.RevokeAll(ctx, u.ID(), uuid.Nil, t0.Add(8*time.Second))
		if err == nil && n != 1 {
			err = fmt.Errorf("RevokeAll(keep=Nil) = %d, want 1", n)
		}
		return err
	})
	if list, err := repo.ListActive(ctx, u.ID(), t0.Add(9*time.Second)); err != nil || len(list) != 0 {
		t.Fatalf("sessions left: %v (%v)", sessionIDs(list), err)
	}
	if list, err := repo.ListActive(ctx, other.ID(), t0.Add(9*time.Second)); err != nil || !slices.Equal(sessionIDs(list), []uuid.UUID{otherSession.ID()}) {
		t.Fatalf("another user's sessions: %v (%v)", sessionIDs(list), err)
	}
	if list, err := repo.ListActive(ctx, other.ID(), t0.Add(25*time.Hour)); err != nil || len(list) != 0 {
		t.Fatalf("sessions past their expiry listed: %v (%v)", sessionIDs(list), err)
	}
}

func sessionIDs(l []*session.Session) []uuid.UUID {
	ids := make([]uuid.UUID, len(l))
	for i, s := range l {
		ids[i] = s.ID()
	}
	return ids
}

// Transactions that read one session for change run one after another:
// each moves last-used one second on from what it read, and no move is
// lost.
func testSessionConcurrentChanges(t *testing.T, s Store) {
	ctx := testCtx(t)
	t0 := now()
	sess := createSession(t, s, createUser(t, s).ID(), t0)
	const n = 10
	race(n, func(int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			got, err := r.Sessions.ByIDForChange(ctx, sess.ID())
			if err != nil {
				return err
			}
			time.Sleep(time.Millisecond) // widen the window a lost update needs
			got.Touch(got.LastUsedAt().Add(time.Second))
			return r.Sessions.Update(ctx, got)
		})
		if err != nil {
			t.Error(err)
		}
	})
	got := mustGet(s.Repos.Sessions.ByID(ctx, sess.ID()))(t)
	if want := t0.Add(n * time.Second); !got.LastUsedAt().Equal(want) {
		t.Fatalf("last used %v after %d concurrent touches, want %v (an update was lost)", got.LastUsedAt(), n, want)
	}
}

// readRefreshToken reads a refresh token for change in a transaction of its
// own.
func readRefreshToken(t *testing.T, s Store, rt app.RefreshToken) (app.RefreshToken, error) {
	t.Helper()
	var got app.RefreshToken
	err := s.Tx.Within(testCtx(t), func(ctx context.Context, r app.Repos) error {
		var err error
		got, err = r.Sessions.RefreshTokenForChange(ctx, rt.Hash)
		return err
	})
	return got, err
}

// addRefreshToken stores an unused refresh token of a new session of a
// new user.
func addRefreshToken(t *testing.T, s Store) app.RefreshToken {
	t.Helper()
	sess := createSession(t, s, createUser(t, s).ID(), now())
	rt := app.RefreshToken{Hash: randomHash(t), SessionID: sess.ID(), CreatedAt: now()}
	must(t, s.Repos.Sessions.AddRefreshToken(testCtx(t), rt))
	return rt
}

func testRefreshTokenRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	rt := addRefreshToken(t, s)
	got := mustGet(readRefreshToken(t, s, rt))(t)
	if got.Hash != rt.Hash || got.SessionID != rt.SessionID || !got.CreatedAt.Equal(rt.CreatedAt) || got.UsedAt != nil {
		t.Fatalf("got %+v, want %+v", got, rt)
	}
	at := now().Add(time.Second)
	must(t, repo.MarkRefreshTokenUsed(ctx, rt.Hash, at, nil))
	got = mustGet(readRefreshToken(t, s, rt))(t)
	if got.UsedAt == nil || !got.UsedAt.Equal(at) || got.SealedSuccessor != nil {
		t.Fatalf("UsedAt = %s, successor %x; want %v and none", fmtTimePtr(got.UsedAt), got.SealedSuccessor, at)
	}

	// Added in a transaction, already used: stored as it is.
	usedAt := now()
	used := app.RefreshToken{Hash: randomHash(t), SessionID: rt.SessionID, CreatedAt: usedAt.Add(-time.Minute), UsedAt: &usedAt}
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Sessions.AddRefreshToken(ctx, used) })
	got = mustGet(readRefreshToken(t, s, used))(t)
	if got.Hash != used.Hash || got.SessionID != used.SessionID || !got.CreatedAt.Equal(used.CreatedAt) || !equalTimePtr(got.UsedAt, used.UsedAt) {
		t.Fatalf("got %+v, want %+v", got, used)
	}

	wantErr(t, errOf(readRefreshToken(t, s, app.RefreshToken{Hash: randomHash(t)})), session.ErrNotFound, "unknown")
	wantErr(t, errOf(repo.RefreshTokenForChange(ctx, randomHash(t))), session.ErrNotFound, "unknown, on the store")
	wantErr(t, repo.MarkRefreshTokenUsed(ctx, randomHash(t), at, sealedLike(t)), session.ErrNotFound, "mark unknown")
}

// RefreshToken reads a refresh token as stored, gives session.ErrNotFound
// for an unknown hash, and answers while a transaction holds the token for
// change (an introspection never waits for a rotation, nor takes a
// writer).
func testRefreshTokenLook(t *testing.T, s Store) {
	ctx := testCtx(t)
	rt := addRefreshToken(t, s)
	usedAt := now()
	sealed := sealedLike(t)
	must(t, s.Repos.Sessions.MarkRefreshTokenUsed(ctx, rt.Hash, usedAt, sealed))
	got := mustGet(s.Repos.Sessions.RefreshToken(ctx, rt.Hash))(t)
	if got.Hash != rt.Hash || got.SessionID != rt.SessionID || !got.CreatedAt.Equal(rt.CreatedAt) || !equalTimePtr(got.UsedAt, &usedAt) || !bytes.Equal(got.SealedSuccessor, sealed) {
		t.Fatalf("RefreshToken = %+v, want %+v used at %v with its successor", got, rt, usedAt)
	}
	wantErr(t, errOf(s.Repos.Sessions.RefreshToken(ctx, randomHash(t))), session.ErrNotFound, "RefreshToken of an unknown hash")

	readWhileHeld(t, ctx, s, "RefreshToken while a transaction holds the token",
		func(ctx context.Context, r app.Repos) error {
			return errOf(r.Sessions.RefreshTokenForChange(ctx, rt.Hash))
		},
		func(ctx context.Context) error { return errOf(s.Repos.Sessions.RefreshToken(ctx, rt.Hash)) })
}

// Of concurrent transactions presenting one refresh token, exactly one sees
// it unused (and rotates it, keeping a successor); the others see its used
// time and that successor.
func testRefreshTokenConcurrentUse(t *testing.T, s Store) {
	ctx := testCtx(t)
	rt := addRefreshToken(t, s)
	var unused, used atomic.Int32
	successors := make([][]byte, 12)
	for i := range successors {
		successors[i] = sealedLike(t)
	}
	race(12, func(i int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			got, err := r.Sessions.RefreshTokenForChange(ctx, rt.Hash)
			if err != nil {
				return err
			}
			if got.UsedAt != nil {
				used.Add(1)
				if !slices.ContainsFunc(successors, func(b []byte) bool { return bytes.Equal(b, got.SealedSuccessor) }) {
					t.Errorf("a used token without the successor of its rotation: %x", got.SealedSuccessor)
				}
				return nil
			}
			unused.Add(1)
			time.Sleep(time.Millisecond) // widen the window a double use needs
			return r.Sessions.MarkRefreshTokenUsed(ctx, rt.Hash, now(), successors[i])
		})
		if err != nil {
			t.Error(err)
		}
	})
	if n := unused.Load(); n != 1 {
		t.Fatalf("%d transactions saw the token unused, want exactly 1", n)
	}
	if n := used.Load(); n != 11 {
		t.Fatalf("%d transactions saw the token used, want 11", n)
	}
}

// CountActive counts, for a batch of users at once, what ListActive would
// list for each: revoked and expired sessions are not counted, users
// without any are absent, and no users give an empty map.
func testSessionCountActive(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	t0 := now()
	a, b, onlyEnded, none := createUser(t, s), createUser(t, s), createUser(t, s), createUser(t, s)
	createSession(t, s, a.ID(), t0)
	createSession(t, s, a.ID(), t0.Add(time.Second))
	createSession(t, s, b.ID(), t0)
	for _, u := range []uuid.UUID{a.ID(), onlyEnded.ID()} {
		revoked := createSession(t, s, u, t0)
		revoked.Revoke(t0.Add(time.Second))
		must(t, repo.Update(ctx, revoked))
		createSessionTTL(t, s, u, t0.Add(-48*time.Hour), time.Hour) // expired
	}
	at := t0.Add(2 * time.Second)
	ids := []uuid.UUID{a.ID(), b.ID(), onlyEnded.ID(), none.ID(), uuid.New(), a.ID()} // a twice
	want := map[uuid.UUID]int{a.ID(): 2, b.ID(): 1}
	got := mustGet(repo.CountActive(ctx, ids, at))(t)
	if !maps.Equal(got, want) {
		t.Fatalf("CountActive = %v, want %v", got, want)
	}
	for _, id := range ids {
		list := mustGet(repo.ListActive(ctx, id, at))(t)
		if len(list) != got[id] {
			t.Fatalf("user %s: ListActive lists %d, CountActive counts %d", id, len(list), got[id])
		}
	}
	within(t, s, func(ctx context.Context, r app.Repos) error {
		got, err := r.Sessions.CountActive(ctx, ids, at)
		if err == nil && !maps.Equal(got, want) {
			err = fmt.Errorf("CountActive in a transaction = %v, want %v", got, want)
		}
		return err
	})
	// A session expires at its absolute expiry, exclusive.
	if got, err := repo.CountActive(ctx, ids, t0.Add(24*time.Hour)); err != nil || len(got) != 1 || got[a.ID()] != 1 {
		t.Fatalf("CountActive at the first session's expiry = %v, %v; want only a: 1", got, err)
	}
	if got, err := repo.CountActive(ctx, ids, t0.Add(25*time.Hour)); err != nil || len(got) != 0 {
		t.Fatalf("CountActive after every expiry = %v, %v; want empty", got, err)
	}
	for _, empty := range [][]uuid.UUID{nil, {}} {
		got, err := repo.CountActive(ctx, empty, at)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("CountActive(%v) = %v, %v; want an empty map", empty, got, err)
		}
	}
	// A batch larger than any one statement's bound in some store.
	many := make([]uuid.UUID, 1200)
	for i := range many {
		many[i] = uuid.New()
	}
	many[700] = b.ID()
	if got, err := repo.CountActive(ctx, many, at); err != nil || !maps.Equal(got, map[uuid.UUID]int{b.ID(): 1}) {
		t.Fatalf("CountActive of 1200 ids = %v, %v; want b: 1", got, err)
	}
}

// ForBearer is the one read of every bearer request: the session, its user
// and whether the user has a confirmed factor, each as stored at that
// moment, so that a revocation, a disabled account or a factor turned on
// shows on the very next call, whichever instance made the change.
func testSessionForBearer(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	u := createUser(t, s)
	sess := createSession(t, s, u.ID(), now())
	check := func(what string, wantActive, wantMFA bool, wantRevoked bool) {
		t.Helper()
		b, err := repo.ForBearer(ctx, sess.ID())
		mustf(t, err, "%s: ForBearer", what)
		if b.Session == nil || b.User == nil {
			t.Fatalf("%s: ForBearer = %+v", what, b)
		}
		if b.Session.ID() != sess.ID() || b.Session.UserID() != u.ID() || !b.Session.CreatedAt().Equal(sess.CreatedAt()) ||
			!b.Session.ExpiresAt().Equal(sess.ExpiresAt()) || !b.Session.LastUsedAt().Equal(sess.LastUsedAt()) ||
			(b.Session.RevokedAt() != nil) != wantRevoked {
			t.Fatalf("%s: session %s user=%s created=%v expires=%v last=%v revoked=%s, want %s of %s, revoked %v", what,
				b.Session.ID(), b.Session.UserID(), b.Session.CreatedAt(), b.Session.ExpiresAt(), b.Session.LastUsedAt(),
				fmtTimePtr(b.Session.RevokedAt()), sess.ID(), u.ID(), wantRevoked)
		}
		if b.User.ID() != u.ID() || b.User.Email() != u.Email() || b.User.PasswordHash() != u.PasswordHash() ||
			b.User.Verified() != u.Verified() || !b.User.CreatedAt().Equal(u.CreatedAt()) || b.User.Active() != wantActive {
			t.Fatalf("%s: user %s %s active=%v verified=%v, want %s %s active=%v verified=%v", what,
				b.User.ID(), b.User.Email(), b.User.Active(), b.User.Verified(), u.ID(), u.Email(), wantActive, u.Verified())
		}
		if b.MFAEnabled != wantMFA {
			t.Fatalf("%s: MFAEnabled = %v, want %v", what, b.MFAEnabled, wantMFA)
		}
	}
	check("new", true, false, false)

	// A pending factor is not on; a confirmed one is.
	f := pendingTOTP(t, u.ID(), now())
	must(t, s.Repos.MFA.PutPendingTOTP(ctx, f))
	check("pending factor", true, false, false)
	if ok, err := s.Repos.MFA.ConfirmTOTP(ctx, u.ID(), f.SealedSecret(), now(), 1); !ok || err != nil {
		t.Fatalf("ConfirmTOTP = %v, %v", ok, err)
	}
	check("confirmed factor", true, true, false)

	// Disabled, then the session revoked: each shows at once, also read in
	// a transaction.
	u.Deactivate(now())
	must(t, s.Repos.Users.Update(ctx, u))
	check("disabled", false, true, false)
	sess.Revoke(now())
	must(t, repo.Update(ctx, sess))
	check("revoked", false, true, true)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		b, err := r.Sessions.ForBearer(ctx, sess.ID())
		if err == nil && (b.Session.RevokedAt() == nil || b.User.Active() || !b.MFAEnabled) {
			err = fmt.Errorf("in a transaction: revoked=%s active=%v mfa=%v", fmtTimePtr(b.Session.RevokedAt()), b.User.Active(), b.MFAEnabled)
		}
		return err
	})

	// Unknown, and gone with its user.
	wantErr(t, errOf(repo.ForBearer(ctx, uuid.New())), session.ErrNotFound, "ForBearer unknown")
	other := createUser(t, s)
	gone := createSessionTTL(t, s, other.ID(), now(), time.Hour)
	if _, err := repo.ForBearer(ctx, gone.ID()); err != nil {
		t.Fatalf("ForBearer before the user's deletion: %v", err)
	}
	must(t, s.Repos.Users.Delete(ctx, other.ID()))
	wantErr(t, errOf(repo.ForBearer(ctx, gone.ID())), session.ErrNotFound, "ForBearer after the user's deletion")
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
		got := mustGet(readRefreshToken(t, s, c.rt))(t)
		if !bytes.Equal(got.SealedSuccessor, c.want) || !equalTimePtr(got.UsedAt, c.rt.UsedAt) {
			t.Errorf("token used %s: successor %x, used %s; want %x", fmtTimePtr(c.rt.UsedAt), got.SealedSuccessor, fmtTimePtr(got.UsedAt), c.want)
		}
	}
	if n, err := s.Retention.ForgetRefreshSuccessors(ctx, cutoff); err != nil || n != 0 {
		t.Fatalf("again: %d, %v; want 0", n, err)
	}
}

// A browser holds a session by a secret whose hash finds it: the same read
// as ForBearer's, so a revocation (one, or all of the user's) shows at the
// next page the browser opens.
func testSessionForBrowser(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	u := createUser(t, s)
	sess := createSession(t, s, u.ID(), now())
	other := createSession(t, s, u.ID(), now())
	h := randomHash(t)
	wantErr(t, errOf(repo.ForBrowser(ctx, h)), session.ErrNotFound, "ForBrowser before the secret is set")
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Sessions.SetBrowserSecret(ctx, sess.ID(), h) })
	b := mustGet(repo.ForBrowser(ctx, h))(t)
	if b.Session.ID() != sess.ID() || b.User.ID() != u.ID() || b.MFAEnabled || b.Session.RevokedAt() != nil {
		t.Fatalf("ForBrowser = session %s user %s mfa %v revoked %s", b.Session.ID(), b.User.ID(), b.MFAEnabled, fmtTimePtr(b.Session.RevokedAt()))
	}
	wantErr(t, errOf(repo.ForBrowser(ctx, randomHash(t))), session.ErrNotFound, "ForBrowser(unknown)")
	wantErr(t, repo.SetBrowserSecret(ctx, uuid.New(), randomHash(t)), session.ErrNotFound, "SetBrowserSecret(unknown session)")
	// Revoking every session but another one revokes the browser's.
	if n, err := repo.RevokeAll(ctx, u.ID(), other.ID(), now()); err != nil || n != 1 {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	if b, err := repo.ForBrowser(ctx, h); err != nil || b.Session.RevokedAt() == nil {
		t.Fatalf("ForBrowser after RevokeAll: revoked %v (%v)", b.Session, err)
	}
}
