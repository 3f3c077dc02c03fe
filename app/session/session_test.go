package session_test

import (
	"context"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

type refreshFixture struct {
	h *appsession.Refresh
	*apptest.Ports
	tokens *mock.MockTokenIssuer
	obs    *mock.MockObserver
	raw    string
	hash   token.Hash
	u      *user.User
}

// grace is the refresh reuse grace of the tests.
const grace = 10 * time.Second

func newRefresh(t *testing.T) *refreshFixture { return newRefreshWithGrace(t, grace) }

func newRefreshWithGrace(t *testing.T, g time.Duration) *refreshFixture {
	p := apptest.NewPorts(t)
	f := &refreshFixture{Ports: p, tokens: mock.NewMockTokenIssuer(p.Ctrl), obs: mock.NewMockObserver(p.Ctrl), u: loginUser(true, true)}
	f.h = appsession.NewRefresh(appsession.RefreshDeps{
		Tx:       f.Tx,
		Tokens:   f.tokens,
		Sealer:   apptest.Sealer{},
		Clock:    apptest.NewClock(apptest.T0),
		IDs:      &apptest.IDs{},
		Random:   apptest.NewRand(t.Name()),
		Idle:     appsession.IdleTimeout(idle),
		Grace:    app.RefreshReuseGrace(g),
		Observer: f.obs,
	})
	s, h := apptest.Secret(t, "presented/"+t.Name())
	f.raw, f.hash = s.Reveal(), h
	// The user's second factor (none), which a revocation's event reads.
	f.Seed(f.u)
	return f
}

// liveSession was created a day ago and last used an hour ago.
func liveSession(uid uuid.UUID) *session.Session {
	return session.Rehydrate(apptest.ID(50), uid, apptest.T0.Add(-24*time.Hour), apptest.T0.Add(-time.Hour),
		apptest.T0.Add(refreshTTL-24*time.Hour), nil, "ua", "ip")
}

func TestRefreshRotates(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	var added app.RefreshToken
	var successor []byte
	gomock.InOrder(
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID(), CreatedAt: apptest.T0.Add(-time.Hour)}, nil),
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		f.Repos.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(f.u, nil),
		f.Repos.Sessions.EXPECT().Update(gomock.Any(), s).DoAndReturn(func(_ context.Context, ss *session.Session) error {
			if !ss.LastUsedAt().Equal(apptest.T0) || ss.RevokedAt() != nil {
				t.Errorf("session not touched: last used %v", ss.LastUsedAt())
			}
			return nil
		}),
		f.Repos.Sessions.EXPECT().AddRefreshToken(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, rt app.RefreshToken) error {
			added = rt
			return nil
		}),
		f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
			if c.Subject != f.u.ID() || c.SessionID != s.ID() {
				t.Errorf("claims %+v", c)
			}
			c.IssuedAt, c.ExpiresAt = apptest.T0, apptest.T0.Add(accessTTL)
			return "signed.jwt", c, nil
		}),
		// Marked used last, with its successor sealed under its own hash.
		f.Repos.Sessions.EXPECT().MarkRefreshTokenUsed(gomock.Any(), f.hash, apptest.T0, gomock.Any()).DoAndReturn(func(_ context.Context, _ token.Hash, _ time.Time, sealed []byte) error {
			successor = sealed
			return nil
		}),
	)
	pair, err := f.h.Handle(context.Background(), f.raw, meta)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := (apptest.Sealer{}).Open(successor, "refresh-successor:"+hex.EncodeToString(f.hash[:])); err != nil || string(got) != pair.RefreshToken.Reveal() {
		t.Fatalf("sealed successor %q opens to %q, %v; want the new token", successor, got, err)
	}
	if added.Hash == f.hash || added.SessionID != s.ID() || token.HashOf(pair.RefreshToken) != added.Hash {
		t.Fatalf("rotation: presented %x, added %+v, returned hash %x", f.hash, added, token.HashOf(pair.RefreshToken))
	}
	if pair.RefreshToken.Reveal() == f.raw || pair.AccessToken != "signed.jwt" || pair.SessionID != s.ID() || pair.ExpiresIn != accessTTL {
		t.Fatalf("pair %+v", pair)
	}
	if errs := res.Errs(); errs[0] != nil {
		t.Fatalf("tx %v", errs)
	}
}

func TestRefreshReuseRevokesAndCommits(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	usedAt := apptest.T0.Add(-30 * time.Minute)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	apptest.InOrder(
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID(), UsedAt: &usedAt}, nil),
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		apptest.ExpectSessionRevoked(t, f.Repos.Sessions, s, 0),
		apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.RefreshReuseDetected && e.UserID == f.u.ID() && e.Detail["session_id"] == s.ID().String() && e.IP == meta.IP
		}),
	)
	f.Repos.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(f.u, nil)
	f.Repos.Published(apptest.Events(f.u.ID(), webhook.SessionRevoked).Session(s.ID()))
	// Operators see it (a metric), once the revocation is committed.
	f.obs.EXPECT().RefreshReuseDetected(gomock.Any())
	// No new token, no access token.
	pair, err := f.h.Handle(context.Background(), f.raw, meta)
	if err != domain.ErrRefreshInvalid || pair != nil {
		t.Fatalf("Handle = %v, %v; want ErrRefreshInvalid", pair, err)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("the revocation must commit: tx fn returned %v", errs)
	}
}

func TestRefreshReuseOnRevokedSession(t *testing.T) {
	f := newRefresh(t)
	rev := apptest.T0.Add(-time.Minute)
	s := session.Rehydrate(apptest.ID(50), f.u.ID(), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), &rev, "", "")
	usedAt := apptest.T0.Add(-30 * time.Minute)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID(), UsedAt: &usedAt}, nil)
	f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil)
	if _, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid {
		t.Fatalf("err = %v", err)
	}
	if !s.RevokedAt().Equal(rev) {
		t.Fatal("revocation time moved")
	}
}

func TestRefreshDeadSessions(t *testing.T) {
	rev := apptest.T0.Add(-time.Minute)
	for _, c := range []struct {
		name string
		s    func(uid uuid.UUID) *session.Session
	}{
		{"revoked", func(uid uuid.UUID) *session.Session {
			return session.Rehydrate(apptest.ID(50), uid, apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), &rev, "", "")
		}},
		{"absolute expiry", func(uid uuid.UUID) *session.Session {
			return session.Rehydrate(apptest.ID(50), uid, apptest.T0.Add(-refreshTTL), apptest.T0.Add(-time.Minute), apptest.T0, nil, "", "")
		}},
		{"idle", func(uid uuid.UUID) *session.Session {
			return session.Rehydrate(apptest.ID(50), uid, apptest.T0.Add(-200*time.Hour), apptest.T0.Add(-idle), apptest.T0.Add(time.Hour), nil, "", "")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newRefresh(t)
			s := c.s(f.u.ID())
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID()}, nil)
			f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil)
			// No MarkRefreshTokenUsed, no Update, no new token.
			if _, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestRefreshDisabledUser(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	f.u.Deactivate(apptest.T0)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID()}, nil)
	f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil)
	f.Repos.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(f.u, nil)
	if _, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid {
		t.Fatalf("err = %v", err)
	}
}

func TestRefreshUnknown(t *testing.T) {
	t.Run("token", func(t *testing.T) {
		f := newRefresh(t)
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{}, session.ErrNotFound)
		if _, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("session", func(t *testing.T) {
		f := newRefresh(t)
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: apptest.ID(9)}, nil)
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(9)).Return(nil, session.ErrNotFound)
		if _, err := f.h.Handle(context.Background(), f.raw, meta); err != domain.ErrRefreshInvalid {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRefreshMalformedTouchesNothing(t *testing.T) {
	f := newRefresh(t) // strict: no Within
	for _, raw := range []string{"", "short", f.raw + "x", f.raw[:42] + "+"} {
		if _, err := f.h.Handle(context.Background(), raw, meta); err != domain.ErrRefreshInvalid {
			t.Fatalf("Handle(%q) = %v", raw, err)
		}
	}
}

func TestRefreshStoreFailurePropagates(t *testing.T) {
	f := newRefresh(t)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{}, domain.Unavailable(errors.New("x")))
	if _, err := f.h.Handle(context.Background(), f.raw, meta); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

var principal = appsession.Principal{UserID: apptest.ID(100), SessionID: apptest.ID(50)}

func newRevoke(t *testing.T) (*appsession.Revoke, *mock.MockTxManager, *apptest.Repos) {
	ctrl := gomock.NewController(t)
	tx := mock.NewMockTxManager(ctrl)
	return appsession.NewRevoke(tx, apptest.NewClock(apptest.T0), appsession.IdleTimeout(idle), &apptest.IDs{}), tx, apptest.NewRepos(ctrl)
}

func otherSession(uid uuid.UUID) *session.Session {
	return session.Rehydrate(apptest.ID(51), uid, apptest.T0.Add(-2*time.Hour), apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), nil, "", "")
}

func expectRevoked(t *testing.T, repos *apptest.Repos, s *session.Session, typ audit.Type) {
	// session.revoked names it and its user as the store has them (no
	// second factor); the grants are no events.
	owner := loginUser(true, true)
	repos.Store.Seed(owner)
	repos.Users.EXPECT().ByID(gomock.Any(), principal.UserID).Return(owner, nil)
	repos.Published(apptest.Events(principal.UserID, webhook.SessionRevoked).Session(s.ID()))
	apptest.InOrder(
		repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		// Its grants (the clients it signed in to) end with it.
		apptest.ExpectSessionRevoked(t, repos.Sessions, s, 2),
		apptest.ExpectAudit(t, repos.Audit, func(e audit.Event) bool {
			return e.Type == typ && e.UserID == principal.UserID && e.Detail["session_id"] == s.ID().String() && e.IP == meta.IP
		}),
	)
}

func TestRevokeOwnSession(t *testing.T) {
	h, tx, repos := newRevoke(t)
	s := otherSession(principal.UserID)
	apptest.ExpectWithin(tx, repos.App(), 1)
	expectRevoked(t, repos, s, audit.SessionRevoked)
	if err := h.Handle(context.Background(), principal, s.ID(), meta); err != nil {
		t.Fatal(err)
	}
}

func TestLogoutRevokesCurrentSession(t *testing.T) {
	h, tx, repos := newRevoke(t)
	logout := appsession.NewLogout(h)
	s := liveSession(principal.UserID) // id 50 = principal.SessionID
	apptest.ExpectWithin(tx, repos.App(), 1)
	expectRevoked(t, repos, s, audit.Logout)
	if err := logout.Handle(context.Background(), principal, meta); err != nil {
		t.Fatal(err)
	}
}

// A grant revoked on its own (the owner's sessions list shows it) ends as
// any session does, with no event: the events tell of the sessions a user
// signs in to.
func TestRevokeGrantPublishesNothing(t *testing.T) {
	h, tx, repos := newRevoke(t)
	s := otherSession(principal.UserID)
	s.RehydrateGrant("app", []string{"openid"}, principal.SessionID)
	apptest.ExpectWithin(tx, repos.App(), 1)
	repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil)
	repos.Sessions.EXPECT().Update(gomock.Any(), s).Return(nil)
	repos.Sessions.EXPECT().RevokeGrants(gomock.Any(), s.ID(), apptest.T0).Return(0, nil)
	apptest.ExpectAudit(t, repos.Audit, func(e audit.Event) bool { return e.Type == audit.SessionRevoked })
	if err := h.Handle(context.Background(), principal, s.ID(), meta); err != nil {
		t.Fatal(err)
	}
	if s.RevokedAt() == nil {
		t.Fatal("grant not revoked")
	}
}

func TestRevokeNotFound(t *testing.T) {
	rev := apptest.T0.Add(-time.Minute)
	for _, c := range []struct {
		name string
		s    *session.Session
		err  error
	}{
		{"unknown", nil, session.ErrNotFound},
		{"another user's", otherSession(apptest.ID(101)), nil},
		{"already revoked", session.Rehydrate(apptest.ID(51), principal.UserID, apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), &rev, "", ""), nil},
		{"idle", session.Rehydrate(apptest.ID(51), principal.UserID, apptest.T0.Add(-200*time.Hour), apptest.T0.Add(-idle), apptest.T0.Add(time.Hour), nil, "", ""), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, tx, repos := newRevoke(t)
			res := apptest.ExpectWithin(tx, repos.App(), 1)
			repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(51)).Return(c.s, c.err)
			// No Update, no audit.
			if err := h.Handle(context.Background(), principal, apptest.ID(51), meta); err != domain.ErrNotFound {
				t.Fatalf("err = %v", err)
			}
			if res.Errs()[0] == nil {
				t.Fatal("committed")
			}
		})
	}
}

func TestRevokeStoreFailurePropagates(t *testing.T) {
	h, tx, repos := newRevoke(t)
	apptest.ExpectWithin(tx, repos.App(), 1)
	repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), gomock.Any()).Return(nil, domain.Unavailable(errors.New("x")))
	if err := h.Handle(context.Background(), principal, apptest.ID(51), meta); !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestListFiltersIdleAndMarksCurrent(t *testing.T) {
	ctrl := gomock.NewController(t)
	sessions := mock.NewMockSessionRepository(ctrl)
	h := appsession.NewList(sessions, apptest.NewClock(apptest.T0), appsession.IdleTimeout(idle))
	current := liveSession(principal.UserID)
	other := otherSession(principal.UserID)
	idleOne := session.Rehydrate(apptest.ID(52), principal.UserID, apptest.T0.Add(-300*time.Hour), apptest.T0.Add(-idle), apptest.T0.Add(time.Hour), nil, "", "")
	sessions.EXPECT().ListActive(gomock.Any(), principal.UserID, apptest.T0).Return([]*session.Session{other, idleOne, current}, nil)
	views, err := h.Handle(context.Background(), principal)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].Session != other || views[0].Current || views[1].Session != current || !views[1].Current {
		t.Fatalf("views %+v", views)
	}

	sessions.EXPECT().ListActive(gomock.Any(), gomock.Any(), gomock.Any()).Return(nil, domain.Unavailable(errors.New("x")))
	if _, err := h.Handle(context.Background(), principal); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func newAuthenticate(t *testing.T) (*appsession.Authenticate, *mock.MockTokenVerifier, *mock.MockSessionRepository) {
	ctrl := gomock.NewController(t)
	tokens := mock.NewMockTokenVerifier(ctrl)
	sessions := mock.NewMockSessionRepository(ctrl)
	return appsession.NewAuthenticate(tokens, sessions, apptest.NewClock(apptest.T0), appsession.IdleTimeout(idle)), tokens, sessions
}

var claims = app.AccessClaims{ID: "jti", Subject: apptest.ID(100), SessionID: apptest.ID(50), Email: "owner@example.com", EmailVerified: true,
	IssuedAt: apptest.T0.Add(-time.Minute), ExpiresAt: apptest.T0.Add(14 * time.Minute)}

// bearer is what the store answers for a live session of an active user.
func bearer(s *session.Session, u *user.User, mfa bool) app.BearerSession {
	return app.BearerSession{Session: s, User: u, MFAEnabled: mfa}
}

func TestAuthenticateSuccess(t *testing.T) {
	for _, mfa := range []bool{false, true} {
		h, tokens, sessions := newAuthenticate(t)
		u := loginUser(true, true)
		gomock.InOrder(
			tokens.EXPECT().Verify(gomock.Any(), "bearer.jwt").Return(claims, nil),
			// one read of the store per request, whatever the token
			sessions.EXPECT().ForBearer(gomock.Any(), claims.SessionID).Times(1).Return(bearer(liveSession(claims.Subject), u, mfa), nil),
		)
		p, err := h.Handle(context.Background(), "bearer.jwt")
		if err != nil {
			t.Fatal(err)
		}
		if p.UserID != claims.Subject || p.SessionID != claims.SessionID || !reflect.DeepEqual(p.Claims, claims) ||
			p.User != u || p.MFAEnabled != mfa {
			t.Fatalf("principal %+v", p)
		}
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	rev := apptest.T0.Add(-time.Minute)
	active := loginUser(true, true)
	for _, c := range []struct {
		name string
		b    app.BearerSession
		err  error
	}{
		{"missing", app.BearerSession{}, session.ErrNotFound},
		{"revoked", bearer(session.Rehydrate(claims.SessionID, claims.Subject, apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), &rev, "", ""), active, false), nil},
		{"idle", bearer(session.Rehydrate(claims.SessionID, claims.Subject, apptest.T0.Add(-200*time.Hour), apptest.T0.Add(-idle), apptest.T0.Add(time.Hour), nil, "", ""), active, false), nil},
		{"expired", bearer(session.Rehydrate(claims.SessionID, claims.Subject, apptest.T0.Add(-refreshTTL), apptest.T0.Add(-time.Minute), apptest.T0, nil, "", ""), active, false), nil},
		{"other user's session", bearer(liveSession(apptest.ID(101)), active, false), nil},
		{"disabled user", bearer(liveSession(claims.Subject), loginUser(true, false), false), nil},
		{"disabled user with a factor", bearer(liveSession(claims.Subject), loginUser(true, false), true), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, tokens, sessions := newAuthenticate(t)
			tokens.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(claims, nil)
			sessions.EXPECT().ForBearer(gomock.Any(), claims.SessionID).Return(c.b, c.err)
			if p, err := h.Handle(context.Background(), "bearer.jwt"); err != domain.ErrUnauthorized || !reflect.DeepEqual(p, appsession.Principal{}) {
				t.Fatalf("Handle = %+v, %v", p, err)
			}
		})
	}
}

func TestAuthenticateBadToken(t *testing.T) {
	h, tokens, _ := newAuthenticate(t) // no session lookup
	if _, err := h.Handle(context.Background(), ""); err != domain.ErrUnauthorized {
		t.Fatalf("empty bearer: %v", err)
	}
	tokens.EXPECT().Verify(gomock.Any(), "forged").Return(app.AccessClaims{}, domain.ErrUnauthorized)
	if _, err := h.Handle(context.Background(), "forged"); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("forged: %v", err)
	}
}

func TestAuthenticateStoreFailurePropagates(t *testing.T) {
	h, tokens, sessions := newAuthenticate(t)
	tokens.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(claims, nil)
	sessions.EXPECT().ForBearer(gomock.Any(), gomock.Any()).Return(app.BearerSession{}, domain.Unavailable(errors.New("x")))
	if _, err := h.Handle(context.Background(), "bearer.jwt"); !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("err = %v; an outage must not become 401", err)
	}
}
