package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

func init() {
	register("Sessions/StartStoresTheSignInTogether", testSessionStart)
	register("Sessions/StartOfAMissingUserStoresNothing", testSessionStartMissingUser)
}

// sessionStart is a sign-in of u, not stored yet: u logged in with a new
// hash, and its session with a refresh token (or, for a browser, a
// secret's hash) and its session.created.
func sessionStart(t *testing.T, u *user.User, browser bool) app.SessionStart {
	t.Helper()
	at := now()
	u.LoggedIn(at)
	must(t, u.SetPasswordHash("$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3", at))
	sess := mustGet(session.New(uuid.New(), u.ID(), at, time.Hour, "start-agent", "192.0.2.8"))(t)
	created := webhook.New(uuid.New(), webhook.SessionCreated, u, false, at).WithSession(sess.ID())
	st := app.SessionStart{User: u, Session: sess, Events: []webhook.Event{created}, Event: event(u.ID())}
	if browser {
		st.BrowserSecret = randomHash(t)
	} else {
		st.RefreshToken = &app.RefreshToken{Hash: randomHash(t), SessionID: sess.ID(), CreatedAt: at}
	}
	return st
}

// Start, in a transaction and bound to the store, saves the user, stores
// the session with its refresh token or its browser secret, and appends
// the event, on the one chain; its webhook events reach the endpoints
// subscribed to them.
func testSessionStart(t *testing.T, s Store) {
	hook := newEndpoint(t, s, now(), webhook.SessionCreated)
	for _, bound := range []string{"transaction", "store"} {
		for _, browser := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/browser=%v", bound, browser), func(t *testing.T) {
				ctx := testCtx(t)
				st := sessionStart(t, createUser(t, s), browser)
				if bound == "transaction" {
					within(t, s, func(ctx context.Context, r app.Repos) error { return r.Sessions.Start(ctx, st) })
				} else {
					must(t, s.Repos.Sessions.Start(ctx, st))
				}
				u := mustGet(s.Repos.Users.ByID(ctx, st.User.ID()))(t)
				if u.PasswordHash() != st.User.PasswordHash() || u.LastLoginAt() == nil || !u.LastLoginAt().Equal(*st.User.LastLoginAt()) {
					t.Fatalf("user saved with hash %q, last login %s", u.PasswordHash(), fmtTimePtr(u.LastLoginAt()))
				}
				must(t, diffSession(mustGet(s.Repos.Sessions.ByID(ctx, st.Session.ID()))(t), st.Session))
				if browser {
					if b := mustGet(s.Repos.Sessions.ForBrowser(ctx, st.BrowserSecret))(t); b.Session.ID() != st.Session.ID() {
						t.Fatalf("the browser secret finds session %s, want %s", b.Session.ID(), st.Session.ID())
					}
				} else {
					rt := mustGet(readRefreshToken(t, s, *st.RefreshToken))(t)
					if rt.SessionID != st.Session.ID() || !rt.CreatedAt.Equal(st.RefreshToken.CreatedAt) || rt.UsedAt != nil {
						t.Fatalf("refresh token stored as %+v", rt)
					}
				}
				recs := recordsOf(t, s, u.ID())
				if len(recs) != 1 {
					t.Fatalf("%d records of the sign-in, want 1", len(recs))
				}
				must(t, diffEvent(recs[0].Event, storable.Event(st.Event)))
				if n := deliveriesOf(t, s, hook.ID, u.ID()); n != 1 {
					t.Fatalf("%d deliveries of the sign-in's session.created, want 1", n)
				}
			})
		}
	}
	verifyChain(t, s)
}

// A user no longer stored (deleted meanwhile) gives user.ErrNotFound, and
// nothing of the sign-in is kept.
func testSessionStartMissingUser(t *testing.T, s Store) {
	ctx := testCtx(t)
	hook := newEndpoint(t, s, now(), webhook.SessionCreated)
	for _, browser := range []bool{false, true} {
		st := sessionStart(t, newUser(t), browser)
		err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error { return r.Sessions.Start(ctx, st) })
		wantErr(t, err, user.ErrNotFound, "Start in a transaction")
		wantErr(t, s.Repos.Sessions.Start(ctx, st), user.ErrNotFound, "Start bound to the store")
		wantErr(t, errOf(s.Repos.Sessions.ByID(ctx, st.Session.ID())), session.ErrNotFound, "the session")
		if recs := recordsOf(t, s, st.User.ID()); len(recs) != 0 {
			t.Fatalf("%d records of a sign-in that failed", len(recs))
		}
		if n := deliveriesOf(t, s, hook.ID, st.User.ID()); n != 0 {
			t.Fatalf("%d deliveries of a sign-in that failed", n)
		}
	}
}
