package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

func init() {
	register("Grants/RequestCreateReadDelete", testGrantRequests)
	register("Grants/CodeRoundTripAndRedemption", testGrantCodes)
	register("Grants/ConcurrentRedemptionExactlyOneWins", testGrantCodeConcurrentRedemption)
	register("Grants/RedeemStoresTheGrantTogether", testGrantRedeem)
	register("Grants/RedemptionRacingASignOutLeavesNoLiveGrant", testGrantRedeemSignOutRace)
	register("Grants/ConsentSaveReplaceDelete", testGrantConsents)
	register("Grants/RevocationWaitsForAGrantOfTheConsent", testGrantConsentRevocationRace)
	register("Grants/SweepDeletesOnlyExpired", testGrantSweep)
	register("Sessions/GrantRoundTrip", testSessionGrantRoundTrip)
	register("Sessions/RevokeGrantsOfAParent", testSessionRevokeGrants)
	register("Sessions/RevokeClientGrants", testSessionRevokeClientGrants)
	register("Grants/ConsentsOfAUserNewestFirst", testGrantConsentList)
	register("Sessions/RevokeUserClientGrants", testSessionRevokeUserClientGrants)
}

// newRequest is a pending request of a fresh client created at, every
// field set.
func newRequest(at time.Time) *grant.Request {
	return &grant.Request{
		ID: uuid.New(), ClientID: uuid.NewString(), RedirectURI: "https://app.example.com/cb?x=1",
		Scopes: []string{"openid", "email"}, State: "st-" + uuid.NewString(), Nonce: "n-" + uuid.NewString(),
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		ForceLogin:    true, ForceConsent: true, HasMaxAge: true, MaxAge: 300 * time.Second,
		CreatedAt: at, ExpiresAt: at.Add(grant.RequestTTL),
	}
}

// newCode is a code for a request of a fresh client, signed in by session
// sessionID of userID at at.
func newCode(t *testing.T, userID, sessionID uuid.UUID, at time.Time) *grant.Code {
	t.Helper()
	return grant.NewCode(randomHash(t), newRequest(at), sessionID, userID, at.Add(-time.Minute), []string{session.MethodPassword, session.MethodOTP}, at)
}

// createCode stores a new code of a new user.
func createCode(t *testing.T, s Store, at time.Time) *grant.Code {
	t.Helper()
	u := createUser(t, s)
	c := newCode(t, u.ID(), createSession(t, s, u.ID(), at).ID(), at)
	must(t, s.Repos.Grants.CreateCode(testCtx(t), c))
	return c
}

// diffGrant describes how got differs from want (a request, a code or a
// consent), or returns nil.
func diffGrant[T any](got, want *T) error {
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("%T differs:\n got %+v\nwant %+v", want, got, want)
	}
	return nil
}

// codeForChange reads a code for change in a transaction of its own.
func codeForChange(t *testing.T, s Store, hash token.Hash) (*grant.Code, error) {
	t.Helper()
	var got *grant.Code
	err := s.Tx.Within(testCtx(t), func(ctx context.Context, r app.Repos) error {
		var err error
		got, err = r.Grants.CodeForChange(ctx, hash)
		return err
	})
	return got, err
}

func testGrantRequests(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Grants
	t0 := now()
	req := newRequest(t0)
	must(t, repo.CreateRequest(ctx, req))
	must(t, diffGrant(mustGet(repo.Request(ctx, req.ID))(t), req))

	// No max_age, no forced login, no nonce; made in a transaction.
	plain := newRequest(t0)
	plain.ForceLogin, plain.ForceConsent, plain.HasMaxAge, plain.MaxAge, plain.Nonce, plain.Scopes = false, false, false, 0, "", []string{"openid"}
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Grants.CreateRequest(ctx, plain) })
	must(t, diffGrant(mustGet(repo.Request(ctx, plain.ID))(t), plain))
	// max_age=0 is a max_age: a sign-in of this very moment.
	zero := newRequest(t0)
	zero.MaxAge = 0
	must(t, repo.CreateRequest(ctx, zero))
	must(t, diffGrant(mustGet(repo.Request(ctx, zero.ID))(t), zero))

	wantErr(t, errOf(repo.Request(ctx, uuid.New())), grant.ErrNotFound, "Request(unknown)")

	// Deleted, in a transaction or not: gone, and gone again is no error.
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Grants.DeleteRequest(ctx, req.ID) })
	must(t, repo.DeleteRequest(ctx, plain.ID))
	for _, id := range []uuid.UUID{req.ID, plain.ID} {
		wantErr(t, errOf(repo.Request(ctx, id)), grant.ErrNotFound, "Request after DeleteRequest")
		mustf(t, repo.DeleteRequest(ctx, id), "DeleteRequest of a deleted request")
	}
	mustf(t, repo.DeleteRequest(ctx, uuid.New()), "DeleteRequest(unknown)")
	must(t, diffGrant(mustGet(repo.Request(ctx, zero.ID))(t), zero))
}

func testGrantCodes(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Grants
	t0 := now()
	c := createCode(t, s, t0)
	if c.UsedAt != nil || c.GrantID != uuid.Nil {
		t.Fatalf("a new code is used: %+v", c)
	}
	must(t, diffGrant(mustGet(codeForChange(t, s, c.Hash))(t), c))
	must(t, diffGrant(mustGet(repo.CodeForChange(ctx, c.Hash))(t), c))

	// Redeemed: the time and the grant read back.
	at, grantID := t0.Add(time.Second), uuid.New()
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Grants.MarkCodeUsed(ctx, c.Hash, at, grantID) })
	c.UsedAt, c.GrantID = &at, grantID
	must(t, diffGrant(mustGet(codeForChange(t, s, c.Hash))(t), c))

	// Redeemed without a grant (the exchange failed after the mark).
	other := createCode(t, s, t0)
	must(t, repo.MarkCodeUsed(ctx, other.Hash, at, uuid.Nil))
	other.UsedAt = &at
	must(t, diffGrant(mustGet(codeForChange(t, s, other.Hash))(t), other))

	wantErr(t, errOf(codeForChange(t, s, randomHash(t))), grant.ErrNotFound, "CodeForChange(unknown)")
	wantErr(t, repo.MarkCodeUsed(ctx, randomHash(t), at, grantID), grant.ErrNotFound, "MarkCodeUsed(unknown)")

	// A code goes with its user.
	must(t, s.Repos.Users.Delete(ctx, c.UserID))
	wantErr(t, errOf(codeForChange(t, s, c.Hash)), grant.ErrNotFound, "CodeForChange after the user's deletion")
	must(t, diffGrant(mustGet(codeForChange(t, s, other.Hash))(t), other))
}

// Of concurrent transactions presenting one code, exactly one sees it
// unused (and redeems it, making a grant); the others see its used time
// and that grant, which a replay revokes.
func testGrantCodeConcurrentRedemption(t *testing.T, s Store) {
	ctx := testCtx(t)
	c := createCode(t, s, now())
	const n = 8
	grants := make([]uuid.UUID, n)
	for i := range grants {
		grants[i] = uuid.New()
	}
	var unused, used atomic.Int32
	var winner atomic.Int32
	race(n, func(i int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			got, err := r.Grants.CodeForChange(ctx, c.Hash)
			if err != nil {
				return err
			}
			if got.UsedAt != nil {
				used.Add(1)
				if !slices.Contains(grants, got.GrantID) {
					t.Errorf("a used code without the grant of its redemption: %s", got.GrantID)
				}
				return nil
			}
			unused.Add(1)
			winner.Store(int32(i))
			time.Sleep(time.Millisecond) // widen the window a double redemption needs
			return r.Grants.MarkCodeUsed(ctx, c.Hash, now(), grants[i])
		})
		if err != nil {
			t.Error(err)
		}
	})
	if got := unused.Load(); got != 1 {
		t.Fatalf("%d transactions saw the code unused, want exactly 1", got)
	}
	if got := used.Load(); got != n-1 {
		t.Fatalf("%d transactions saw the code used, want %d", got, n-1)
	}
	got := mustGet(codeForChange(t, s, c.Hash))(t)
	if got.UsedAt == nil || got.GrantID != grants[winner.Load()] {
		t.Fatalf("after the race: used %s, grant %s; want the winner's grant %s", fmtTimePtr(got.UsedAt), got.GrantID, grants[winner.Load()])
	}
}

func testGrantConsents(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Grants
	u, other := createUser(t, s), createUser(t, s)
	clientID, otherClient := uuid.NewString(), uuid.NewString()
	wantErr(t, errOf(repo.Consent(ctx, u.ID(), clientID)), grant.ErrNotFound, "Consent before any")

	t0 := now()
	c := &grant.Consent{UserID: u.ID(), ClientID: clientID, Scopes: []string{"openid"}, GivenAt: t0}
	must(t, repo.SaveConsent(ctx, c))
	must(t, diffGrant(mustGet(repo.Consent(ctx, u.ID(), clientID))(t), c))
	// Another client of the user, and the client for another user.
	toOther := &grant.Consent{UserID: u.ID(), ClientID: otherClient, Scopes: []string{"openid", "profile"}, GivenAt: t0}
	ofOther := &grant.Consent{UserID: other.ID(), ClientID: clientID, Scopes: []string{"openid", "email"}, GivenAt: t0}
	must(t, repo.SaveConsent(ctx, toOther))
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Grants.SaveConsent(ctx, ofOther) })

	// Saving again replaces the scopes and the time.
	c2 := &grant.Consent{UserID: u.ID(), ClientID: clientID, Scopes: []string{"openid", "email", "profile"}, GivenAt: t0.Add(time.Minute)}
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Grants.SaveConsent(ctx, c2) })
	must(t, diffGrant(mustGet(repo.Consent(ctx, u.ID(), clientID))(t), c2))
	must(t, diffGrant(mustGet(repo.Consent(ctx, u.ID(), otherClient))(t), toOther))
	must(t, diffGrant(mustGet(repo.Consent(ctx, other.ID(), clientID))(t), ofOther))

	if ok, err := repo.DeleteConsent(ctx, u.ID(), clientID); err != nil || !ok {
		t.Fatalf("DeleteConsent = %v, %v; want true", ok, err)
	}
	wantErr(t, errOf(repo.Consent(ctx, u.ID(), clientID)), grant.ErrNotFound, "Consent after DeleteConsent")
	within(t, s, func(ctx context.Context, r app.Repos) error {
		ok, err := r.Grants.DeleteConsent(ctx, u.ID(), clientID)
		if err == nil && ok {
			err = errors.New("DeleteConsent of a deleted consent reported one")
		}
		return err
	})
	must(t, diffGrant(mustGet(repo.Consent(ctx, u.ID(), otherClient))(t), toOther))
	must(t, diffGrant(mustGet(repo.Consent(ctx, other.ID(), clientID))(t), ofOther))

	// Consents go with their user.
	must(t, s.Repos.Users.Delete(ctx, other.ID()))
	wantErr(t, errOf(repo.Consent(ctx, other.ID(), clientID)), grant.ErrNotFound, "Consent after the user's deletion")
}

// Sweep deletes the requests and codes that expired before the cutoff, and
// only those. The cutoff is in 2004, where only this case dates expiries,
// so parallel cases are out of its reach.
func testGrantSweep(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Grants
	cutoff := time.Date(2004, 6, 1, 0, 0, 0, 0, time.UTC)
	before, after := cutoff.Add(-time.Second), cutoff.Add(time.Second)
	u := createUser(t, s)
	sess := createSession(t, s, u.ID(), now())
	requests, codes := map[bool]*grant.Request{}, map[bool]*grant.Code{}
	for _, expired := range []bool{true, false} {
		exp := after
		if expired {
			exp = before
		}
		r := newRequest(exp.Add(-grant.RequestTTL))
		c := newCode(t, u.ID(), sess.ID(), exp.Add(-grant.CodeTTL))
		must(t, repo.CreateRequest(ctx, r))
		must(t, repo.CreateCode(ctx, c))
		requests[expired], codes[expired] = r, c
	}
	consent := &grant.Consent{UserID: u.ID(), ClientID: uuid.NewString(), Scopes: []string{"openid"}, GivenAt: before.Add(-time.Hour)}
	must(t, repo.SaveConsent(ctx, consent))

	if n, err := repo.Sweep(ctx, cutoff); err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2 (a request and a code)", n, err)
	}
	wantErr(t, errOf(repo.Request(ctx, requests[true].ID)), grant.ErrNotFound, "Request expired before the cutoff")
	wantErr(t, errOf(codeForChange(t, s, codes[true].Hash)), grant.ErrNotFound, "code expired before the cutoff")
	must(t, diffGrant(mustGet(repo.Request(ctx, requests[false].ID))(t), requests[false]))
	must(t, diffGrant(mustGet(codeForChange(t, s, codes[false].Hash))(t), codes[false]))
	must(t, diffGrant(mustGet(repo.Consent(ctx, u.ID(), consent.ClientID))(t), consent))
	within(t, s, func(ctx context.Context, r app.Repos) error {
		n, err := r.Grants.Sweep(ctx, cutoff)
		if err == nil && n != 0 {
			err = fmt.Errorf("a second Sweep = %d, want 0", n)
		}
		return err
	})
}

// diffGrantSession describes how got differs from want in what makes a
// session a grant, or returns nil.
func diffGrantSession(got, want *session.Session) error {
	if err := diffSession(got, want); err != nil {
		return err
	}
	if got.ClientID() != want.ClientID() || !slices.Equal(got.Scopes(), want.Scopes()) || got.ParentID() != want.ParentID() ||
		!slices.Equal(got.AMR(), want.AMR()) || !got.AuthTime().Equal(want.AuthTime()) {
		return fmt.Errorf("grant differs:\n got client=%q scopes=%q parent=%s amr=%q auth_time=%v\nwant client=%q scopes=%q parent=%s amr=%q auth_time=%v",
			got.ClientID(), got.Scopes(), got.ParentID(), got.AMR(), got.AuthTime(),
			want.ClientID(), want.Scopes(), want.ParentID(), want.AMR(), want.AuthTime())
	}
	return nil
}

// createGrant stores a grant of client clientID from the browser session
// parent (of userID), created at created.
func createGrant(t *testing.T, s Store, userID, parent uuid.UUID, clientID string, created time.Time) *session.Session {
	t.Helper()
	g := newGrant(t, userID, parent, clientID, created)
	must(t, s.Repos.Sessions.Create(testCtx(t), g))
	return g
}

// newGrant is createGrant's grant, not stored.
func newGrant(t *testing.T, userID, parent uuid.UUID, clientID string, created time.Time) *session.Session {
	t.Helper()
	g := mustGet(session.New(uuid.New(), userID, created, 24*time.Hour, "app-agent", "192.0.2.7"))(t)
	g.GrantedTo(clientID, []string{"openid", "email"}, parent, []string{session.MethodPassword, session.MethodOTP}, created.Add(-time.Minute))
	return g
}

// Redeem stores the grant, its refresh token and the code marked used by
// that grant, together: an unknown code stores none of it. The browser
// session of the code reads back with its user for change.
func testGrantRedeem(t *testing.T, s Store) {
	ctx := testCtx(t)
	t0 := now()
	at := t0.Add(time.Second)
	c := createCode(t, s, t0)
	g := newGrant(t, c.UserID, c.SessionID, c.ClientID, at)
	rt := app.RefreshToken{Hash: randomHash(t), SessionID: g.ID(), CreatedAt: at}
	within(t, s, func(ctx context.Context, r app.Repos) error {
		parent, u, err := r.Sessions.ByIDWithUserHeld(ctx, c.SessionID)
		if err != nil {
			return err
		}
		if parent.ID() != c.SessionID || parent.UserID() != c.UserID || u.ID() != c.UserID {
			return fmt.Errorf("ByIDWithUserHeld = session %s of %s, user %s; want %s of %s", parent.ID(), parent.UserID(), u.ID(), c.SessionID, c.UserID)
		}
		return r.Grants.Redeem(ctx, app.CodeRedemption{Code: c.Hash, At: at, Grant: g, RefreshToken: &rt})
	})
	c.UsedAt, c.GrantID = &at, g.ID()
	must(t, diffGrant(mustGet(codeForChange(t, s, c.Hash))(t), c))
	must(t, diffGrantSession(mustGet(s.Repos.Sessions.ByID(ctx, g.ID()))(t), g))
	if got := mustGet(s.Repos.Sessions.RefreshToken(ctx, rt.Hash))(t); got.SessionID != g.ID() || !got.CreatedAt.Equal(at) || got.UsedAt != nil {
		t.Fatalf("the grant's refresh token reads back as %+v", got)
	}

	// No refresh token; bound to the store.
	plain := createCode(t, s, t0)
	pg := newGrant(t, plain.UserID, plain.SessionID, plain.ClientID, at)
	must(t, s.Repos.Grants.Redeem(ctx, app.CodeRedemption{Code: plain.Hash, At: at, Grant: pg}))
	plain.UsedAt, plain.GrantID = &at, pg.ID()
	must(t, diffGrant(mustGet(codeForChange(t, s, plain.Hash))(t), plain))
	must(t, diffGrantSession(mustGet(s.Repos.Sessions.ByID(ctx, pg.ID()))(t), pg))

	// An unknown code: neither the grant nor its token is stored.
	lost := newGrant(t, c.UserID, c.SessionID, c.ClientID, at)
	lostRT := app.RefreshToken{Hash: randomHash(t), SessionID: lost.ID(), CreatedAt: at}
	wantErr(t, s.Repos.Grants.Redeem(ctx, app.CodeRedemption{Code: randomHash(t), At: at, Grant: lost, RefreshToken: &lostRT}), grant.ErrNotFound, "Redeem(unknown code)")
	wantErr(t, errOf(s.Repos.Sessions.ByID(ctx, lost.ID())), session.ErrNotFound, "the grant of an unknown code")
	wantErr(t, errOf(s.Repos.Sessions.RefreshToken(ctx, lostRT.Hash)), session.ErrNotFound, "the refresh token of an unknown code's grant")

	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		_, _, err := r.Sessions.ByIDWithUserHeld(ctx, uuid.New())
		return err
	})
	wantErr(t, err, session.ErrNotFound, "ByIDWithUserHeld(unknown)")
}

// Redemptions of codes of one browser session racing its sign-out leave
// no live grant of it: a redemption reads the session held
// (ByIDWithUserHeld) and makes a grant only while it is not revoked; the
// sign-out reads it for change (ByIDForChange), revokes it and then its
// grants. Were the redemption's read not to hold the session, a grant
// could be stored after the sign-out revoked the grants it saw. The
// redemptions do not wait for each other (on a store that lets them run
// at once), which only the wall time would show.
func testGrantRedeemSignOutRace(t *testing.T, s Store) {
	ctx := testCtx(t)
	t0 := now()
	u := createUser(t, s)
	browser := createSession(t, s, u.ID(), t0)
	const n = 8
	codes := make([]*grant.Code, n)
	for i := range codes {
		codes[i] = newCode(t, u.ID(), browser.ID(), t0)
		must(t, s.Repos.Grants.CreateCode(ctx, codes[i]))
	}
	race(n+1, func(i int) {
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
			if i == n {
				parent, err := r.Sessions.ByIDForChange(ctx, browser.ID())
				if err != nil {
					return err
				}
				parent.Revoke(now())
				if err := r.Sessions.Update(ctx, parent); err != nil {
					return err
				}
				_, err = r.Sessions.RevokeGrants(ctx, browser.ID(), now())
				return err
			}
			parent, _, err := r.Sessions.ByIDWithUserHeld(ctx, browser.ID())
			if err != nil || parent.RevokedAt() != nil {
				return err
			}
			time.Sleep(time.Millisecond) // widen the window a live grant needs
			g := newGrant(t, u.ID(), browser.ID(), codes[i].ClientID, now())
			return r.Grants.Redeem(ctx, app.CodeRedemption{Code: codes[i].Hash, At: now(), Grant: g})
		})
		if err != nil {
			t.Error(err)
		}
	})
	for _, l := range mustGet(s.Repos.Sessions.ListActive(ctx, u.ID(), now()))(t) {
		t.Errorf("session %s (parent %s) is live after its browser session's sign-out", l.ID(), l.ParentID())
	}
}

// A grant reads back as one, its client, scopes and parent with it, from
// every read of a session; any other session reads back as none.
func testSessionGrantRoundTrip(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	u := createUser(t, s)
	t0 := now()
	browser := createSession(t, s, u.ID(), t0)
	g := createGrant(t, s, u.ID(), browser.ID(), uuid.NewString(), t0)

	must(t, diffGrantSession(mustGet(repo.ByID(ctx, g.ID()))(t), g))
	within(t, s, func(ctx context.Context, r app.Repos) error {
		got, err := r.Sessions.ByIDForChange(ctx, g.ID())
		if err != nil {
			return err
		}
		return diffGrantSession(got, g)
	})
	b := mustGet(repo.ForBearer(ctx, g.ID()))(t)
	must(t, diffGrantSession(b.Session, g))
	for _, l := range mustGet(repo.ListActive(ctx, u.ID(), t0))(t) {
		want := browser
		if l.ID() == g.ID() {
			want = g
		}
		must(t, diffGrantSession(l, want))
	}
	got := mustGet(repo.ByID(ctx, browser.ID()))(t)
	if got.ClientID() != "" || len(got.Scopes()) != 0 || got.ParentID() != uuid.Nil {
		t.Fatalf("a browser session reads back as a grant: client=%q scopes=%q parent=%s", got.ClientID(), got.Scopes(), got.ParentID())
	}

	// Update keeps what the grant was given; a grant of no parent and no
	// scopes keeps those too.
	g.Touch(t0.Add(time.Minute))
	g.Proved(session.MethodHardwareKey, t0.Add(time.Minute))
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Sessions.Update(ctx, g) })
	must(t, diffGrantSession(mustGet(repo.ByID(ctx, g.ID()))(t), g))
	orphan := mustGet(session.New(uuid.New(), u.ID(), t0, time.Hour, "", ""))(t)
	orphan.GrantedTo(uuid.NewString(), nil, uuid.Nil, []string{session.MethodPassword}, t0)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Sessions.Create(ctx, orphan) })
	must(t, diffGrantSession(mustGet(repo.ByID(ctx, orphan.ID()))(t), orphan))
}

// wantRevoked fails the test unless each session is revoked at the time
// given (nil: live).
func wantRevoked(t *testing.T, s Store, want map[*session.Session]*time.Time) {
	t.Helper()
	for sess, at := range want {
		got := mustGet(s.Repos.Sessions.ByID(testCtx(t), sess.ID()))(t)
		if !equalTimePtr(got.RevokedAt(), at) {
			t.Errorf("session %s (client %q): revoked %s, want %s", sess.ID(), sess.ClientID(), fmtTimePtr(got.RevokedAt()), fmtTimePtr(at))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// RevokeGrants revokes the live grants of one browser session: not its
// other grants' nor the session itself, and keeps the time of a grant
// revoked before.
func testSessionRevokeGrants(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	u := createUser(t, s)
	t0 := now()
	parent, otherParent := createSession(t, s, u.ID(), t0), createSession(t, s, u.ID(), t0)
	app1, app2 := uuid.NewString(), uuid.NewString()
	g1 := createGrant(t, s, u.ID(), parent.ID(), app1, t0)
	g2 := createGrant(t, s, u.ID(), parent.ID(), app2, t0)
	ofOther := createGrant(t, s, u.ID(), otherParent.ID(), app1, t0)
	earlier := createGrant(t, s, u.ID(), parent.ID(), app1, t0)
	revokedAt := t0.Add(time.Second)
	earlier.Revoke(revokedAt)
	must(t, repo.Update(ctx, earlier))

	at := t0.Add(time.Minute)
	if n, err := repo.RevokeGrants(ctx, parent.ID(), at); err != nil || n != 2 {
		t.Fatalf("RevokeGrants = %d, %v; want 2", n, err)
	}
	wantRevoked(t, s, map[*session.Session]*time.Time{g1: &at, g2: &at, earlier: &revokedAt, ofOther: nil, parent: nil, otherParent: nil})
	within(t, s, func(ctx context.Context, r app.Repos) error {
		n, err := r.Sessions.RevokeGrants(ctx, parent.ID(), at.Add(time.Second))
		if err == nil && n != 0 {
			err = fmt.Errorf("RevokeGrants again = %d, want 0", n)
		}
		return err
	})
	if n, err := repo.RevokeGrants(ctx, uuid.New(), at); err != nil || n != 0 {
		t.Fatalf("RevokeGrants(unknown parent) = %d, %v; want 0", n, err)
	}
	wantRevoked(t, s, map[*session.Session]*time.Time{g1: &at, ofOther: nil})
}

// RevokeClientGrants revokes the live grants of one client, whoever's
// they are: not another client's, and keeps the time of a grant revoked
// before.
func testSessionRevokeClientGrants(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	a, b := createUser(t, s), createUser(t, s)
	t0 := now()
	pa, pb := createSession(t, s, a.ID(), t0), createSession(t, s, b.ID(), t0)
	gone, kept := uuid.NewString(), uuid.NewString()
	ga := createGrant(t, s, a.ID(), pa.ID(), gone, t0)
	gb := createGrant(t, s, b.ID(), pb.ID(), gone, t0)
	other := createGrant(t, s, a.ID(), pa.ID(), kept, t0)
	earlier := createGrant(t, s, b.ID(), pb.ID(), gone, t0)
	revokedAt := t0.Add(time.Second)
	earlier.Revoke(revokedAt)
	must(t, repo.Update(ctx, earlier))

	at := t0.Add(time.Minute)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		n, err := r.Sessions.RevokeClientGrants(ctx, gone, at)
		if err == nil && n != 2 {
			err = fmt.Errorf("RevokeClientGrants = %d, want 2", n)
		}
		return err
	})
	wantRevoked(t, s, map[*session.Session]*time.Time{ga: &at, gb: &at, earlier: &revokedAt, other: nil, pa: nil, pb: nil})
	if n, err := repo.RevokeClientGrants(ctx, gone, at.Add(time.Second)); err != nil || n != 0 {
		t.Fatalf("RevokeClientGrants again = %d, %v; want 0", n, err)
	}
	if n, err := repo.RevokeClientGrants(ctx, "", at); err != nil || n != 0 {
		t.Fatalf(`RevokeClientGrants("") = %d, %v; want 0: a session of no client is no grant`, n, err)
	}
	wantRevoked(t, s, map[*session.Session]*time.Time{pa: nil, pb: nil, other: nil})
}

// Consents lists one user's consents, newest first (then by client id),
// each as stored; none is an empty list.
func testGrantConsentList(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Grants
	u, other := createUser(t, s), createUser(t, s)
	if got, err := repo.Consents(ctx, u.ID()); err != nil || len(got) != 0 {
		t.Fatalf("Consents before any = %v, %v; want none", got, err)
	}
	t0 := now()
	// b and c are given at one time: the client id orders them.
	ids := []string{"a-" + uuid.NewString(), "b-" + uuid.NewString(), "c-" + uuid.NewString()}
	oldest := &grant.Consent{UserID: u.ID(), ClientID: ids[0], Scopes: []string{"openid"}, GivenAt: t0}
	b := &grant.Consent{UserID: u.ID(), ClientID: ids[1], Scopes: []string{"openid", "email"}, GivenAt: t0.Add(time.Minute)}
	c := &grant.Consent{UserID: u.ID(), ClientID: ids[2], Scopes: []string{"openid", "profile"}, GivenAt: t0.Add(time.Minute)}
	for _, x := range []*grant.Consent{c, oldest, b} {
		must(t, repo.SaveConsent(ctx, x))
	}
	must(t, repo.SaveConsent(ctx, &grant.Consent{UserID: other.ID(), ClientID: ids[0], Scopes: []string{"openid"}, GivenAt: t0.Add(time.Hour)}))
	var got []*grant.Consent
	within(t, s, func(ctx context.Context, r app.Repos) error {
		var err error
		got, err = r.Grants.Consents(ctx, u.ID())
		return err
	})
	must(t, diffGrant(&got, &[]*grant.Consent{b, c, oldest}))
	if ok, err := repo.DeleteConsent(ctx, u.ID(), ids[1]); err != nil || !ok {
		t.Fatalf("DeleteConsent = %v, %v; want true", ok, err)
	}
	left := mustGet(repo.Consents(ctx, u.ID()))(t)
	must(t, diffGrant(&left, &[]*grant.Consent{c, oldest}))
}

// RevokeUserClientGrants revokes the live grants one user holds of one
// client: not the user's grants of another client, nor another user's of
// that client, nor any session that is no grant; a grant revoked before
// keeps its time.
func testSessionRevokeUserClientGrants(t *testing.T, s Store) {
	ctx := testCtx(t)
	repo := s.Repos.Sessions
	a, b := createUser(t, s), createUser(t, s)
	t0 := now()
	pa, pa2, pb := createSession(t, s, a.ID(), t0), createSession(t, s, a.ID(), t0), createSession(t, s, b.ID(), t0)
	app1, app2 := uuid.NewString(), uuid.NewString()
	g1 := createGrant(t, s, a.ID(), pa.ID(), app1, t0)
	g2 := createGrant(t, s, a.ID(), pa2.ID(), app1, t0)
	otherApp := createGrant(t, s, a.ID(), pa.ID(), app2, t0)
	ofB := createGrant(t, s, b.ID(), pb.ID(), app1, t0)
	earlier := createGrant(t, s, a.ID(), pa.ID(), app1, t0)
	revokedAt := t0.Add(time.Second)
	earlier.Revoke(revokedAt)
	must(t, repo.Update(ctx, earlier))

	at := t0.Add(time.Minute)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		n, err := r.Sessions.RevokeUserClientGrants(ctx, a.ID(), app1, at)
		if err == nil && n != 2 {
			err = fmt.Errorf("RevokeUserClientGrants = %d, want 2", n)
		}
		return err
	})
	wantRevoked(t, s, map[*session.Session]*time.Time{g1: &at, g2: &at, earlier: &revokedAt, otherApp: nil, ofB: nil, pa: nil, pa2: nil, pb: nil})
	if n, err := repo.RevokeUserClientGrants(ctx, a.ID(), app1, at.Add(time.Second)); err != nil || n != 0 {
		t.Fatalf("RevokeUserClientGrants again = %d, %v; want 0", n, err)
	}
	if n, err := repo.RevokeUserClientGrants(ctx, a.ID(), "", at); err != nil || n != 0 {
		t.Fatalf(`RevokeUserClientGrants("") = %d, %v; want 0: a session of no client is no grant`, n, err)
	}
	wantRevoked(t, s, map[*session.Session]*time.Time{pa: nil, pa2: nil})
}

// A revocation of a consent (delete it, then revoke the user's grants of
// the client) that runs while a transaction makes a grant on the strength
// of that consent (ConsentForChange, then the grant) ends that grant too:
// the delete waits for the grant's transaction, so no grant outlives the
// revocation. The revocation is started while the grant's transaction
// holds the consent, and that transaction makes its grant only then.
func testGrantConsentRevocationRace(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	t0 := now()
	browser := createSession(t, s, u.ID(), t0)
	clientID := uuid.NewString()
	must(t, s.Repos.Grants.SaveConsent(ctx, &grant.Consent{UserID: u.ID(), ClientID: clientID, Scopes: []string{"openid"}, GivenAt: t0}))
	g := mustGet(session.New(uuid.New(), u.ID(), t0, 24*time.Hour, "app-agent", "192.0.2.7"))(t)
	g.GrantedTo(clientID, []string{"openid"}, browser.ID(), []string{session.MethodPassword}, t0)

	held := make(chan struct{})
	revoked := make(chan error, 1)
	outer := ctx
	within(t, s, func(ctx context.Context, r app.Repos) error {
		if _, err := r.Grants.ConsentForChange(ctx, u.ID(), clientID); err != nil {
			return err
		}
		go func() {
			<-held
			revoked <- s.Tx.Within(outer, func(ctx context.Context, r app.Repos) error {
				if ok, err := r.Grants.DeleteConsent(ctx, u.ID(), clientID); err != nil || !ok {
					return fmt.Errorf("DeleteConsent = %v, %v; want true", ok, err)
				}
				_, err := r.Sessions.RevokeUserClientGrants(ctx, u.ID(), clientID, t0.Add(time.Minute))
				return err
			})
		}()
		close(held)
		// Give the revocation the time to reach the held consent; were the
		// consent not held, it would commit before the grant below and miss it.
		time.Sleep(200 * time.Millisecond)
		return r.Sessions.Create(ctx, g)
	})
	must(t, <-revoked)
	revokedAt := t0.Add(time.Minute)
	wantRevoked(t, s, map[*session.Session]*time.Time{g: &revokedAt, browser: nil})
}
