package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/session"
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
		repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != typ || e.UserID != principal.UserID || e.Detail["session_id"] != s.ID().String() || e.IP != meta.IP {
				t.Errorf("audit %+v", e)
			}
			return nil
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
