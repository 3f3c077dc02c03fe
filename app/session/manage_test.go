package session_test

import (
	"context"
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
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

var principal = appsession.Principal{UserID: apptest.ID(100), SessionID: apptest.ID(50)}

func newRevoke(t *testing.T) (*appsession.Revoke, *mock.MockTxManager, *apptest.Repos) {
	ctrl := gomock.NewController(t)
	tx := mock.NewMockTxManager(ctrl)
	return appsession.NewRevoke(tx, apptest.NewClock(apptest.T0), appsession.IdleTimeout(idle)), tx, apptest.NewRepos(ctrl)
}

func otherSession(uid uuid.UUID) *session.Session {
	return session.Rehydrate(apptest.ID(51), uid, apptest.T0.Add(-2*time.Hour), apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), nil, "", "")
}

func expectRevoked(t *testing.T, repos *apptest.Repos, s *session.Session, typ audit.Type) {
	gomock.InOrder(
		repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		repos.Sessions.EXPECT().Update(gomock.Any(), s).DoAndReturn(func(_ context.Context, ss *session.Session) error {
			if ss.RevokedAt() == nil || !ss.RevokedAt().Equal(apptest.T0) {
				t.Errorf("saved unrevoked")
			}
			return nil
		}),
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
