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
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"go.uber.org/mock/gomock"
)

func newAuthenticate(t *testing.T) (*appsession.Authenticate, *mock.MockAccessTokens, *mock.MockSessionRepository) {
	ctrl := gomock.NewController(t)
	tokens := mock.NewMockAccessTokens(ctrl)
	sessions := mock.NewMockSessionRepository(ctrl)
	return appsession.NewAuthenticate(tokens, sessions, apptest.NewClock(apptest.T0), appsession.IdleTimeout(idle)), tokens, sessions
}

var claims = app.AccessClaims{ID: "jti", Subject: apptest.ID(100), SessionID: apptest.ID(50), Email: "owner@example.com", EmailVerified: true,
	IssuedAt: apptest.T0.Add(-time.Minute), ExpiresAt: apptest.T0.Add(14 * time.Minute)}

func TestAuthenticateSuccess(t *testing.T) {
	h, tokens, sessions := newAuthenticate(t)
	gomock.InOrder(
		tokens.EXPECT().Verify(gomock.Any(), "bearer.jwt").Return(claims, nil),
		sessions.EXPECT().ByID(gomock.Any(), claims.SessionID).Times(1).Return(liveSession(claims.Subject), nil),
	)
	p, err := h.Handle(context.Background(), "bearer.jwt")
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != claims.Subject || p.SessionID != claims.SessionID || !reflect.DeepEqual(p.Claims, claims) {
		t.Fatalf("principal %+v", p)
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	rev := apptest.T0.Add(-time.Minute)
	for _, c := range []struct {
		name string
		s    *session.Session
		err  error
	}{
		{"missing", nil, session.ErrNotFound},
		{"revoked", session.Rehydrate(claims.SessionID, claims.Subject, apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), &rev, "", ""), nil},
		{"idle", session.Rehydrate(claims.SessionID, claims.Subject, apptest.T0.Add(-200*time.Hour), apptest.T0.Add(-idle), apptest.T0.Add(time.Hour), nil, "", ""), nil},
		{"expired", session.Rehydrate(claims.SessionID, claims.Subject, apptest.T0.Add(-refreshTTL), apptest.T0.Add(-time.Minute), apptest.T0, nil, "", ""), nil},
		{"other user's session", liveSession(apptest.ID(101)), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, tokens, sessions := newAuthenticate(t)
			tokens.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(claims, nil)
			sessions.EXPECT().ByID(gomock.Any(), claims.SessionID).Return(c.s, c.err)
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
	sessions.EXPECT().ByID(gomock.Any(), gomock.Any()).Return(nil, domain.Unavailable(errors.New("x")))
	if _, err := h.Handle(context.Background(), "bearer.jwt"); !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("err = %v; an outage must not become 401", err)
	}
}
