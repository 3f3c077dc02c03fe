package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"go.uber.org/mock/gomock"
)

// liveGrant is the grant apptest.ID(60) of rp for the owner, from the
// browser session apptest.ID(50), live for an hour.
func liveGrant() *session.Session {
	s := session.Rehydrate(apptest.ID(60), apptest.ID(100), apptest.T0.Add(-time.Minute), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil, "ua", "ip")
	s.RehydrateGrant("app", []string{client.ScopeOpenID, client.ScopeEmail}, apptest.ID(50))
	return s
}

func confidential(id string) *client.Client {
	c := rp()
	c.ID, c.Type = id, client.Confidential
	return c
}

// The introspection of a refresh token only reads: no transaction, no
// lock (the mocks fail any call not expected here).
func TestIntrospectRefreshTokenReadsWithoutLocking(t *testing.T) {
	secret, hash := apptest.Secret(t, "refresh")
	created := apptest.T0.Add(-time.Minute)
	used := apptest.T0.Add(-time.Second)
	for _, tc := range []struct {
		name   string
		client string
		usedAt *time.Time
		active bool
	}{
		{"unused, the client's own", "app", nil, true},
		{"used", "app", &used, false},
		{"another client's", "other", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			repos := apptest.NewRepos(ctrl)
			h := oauth.NewIntrospect(repos.Sessions, repos.Users, mock.NewMockTokenVerifier(ctrl), nil, repos.Clients,
				apptest.NewClock(apptest.T0), appsession.IdleTimeout(time.Hour))
			g := liveGrant()
			repos.Sessions.EXPECT().RefreshToken(gomock.Any(), hash).Return(app.RefreshToken{Hash: hash, SessionID: g.ID(), CreatedAt: created, UsedAt: tc.usedAt}, nil)
			repos.Sessions.EXPECT().ByID(gomock.Any(), g.ID()).Return(g, nil)
			if tc.active {
				repos.Users.EXPECT().ByID(gomock.Any(), apptest.ID(100)).Return(owner(), nil)
			}
			got, err := h.Handle(context.Background(), confidential(tc.client), secret.Reveal())
			if err != nil || got.Active != tc.active {
				t.Fatalf("Handle = %+v, %v; want active %v", got, err, tc.active)
			}
			if tc.active && (got.Subject != apptest.ID(100).String() || got.SessionID != g.ID() || !got.Refresh || !got.IssuedAt.Equal(created)) {
				t.Fatalf("Handle = %+v", got)
			}
		})
	}
}

// Revoking a grant's refresh token ends the grant through the one helper
// that ends sessions, and audits it.
func TestRevokeTokenEndsTheGrant(t *testing.T) {
	ctrl := gomock.NewController(t)
	tx, repos := mock.NewMockTxManager(ctrl), apptest.NewRepos(ctrl)
	h := oauth.NewRevokeToken(tx, mock.NewMockTokenVerifier(ctrl), apptest.NewClock(apptest.T0), &apptest.IDs{})
	secret, hash := apptest.Secret(t, "refresh")
	g := liveGrant()
	res := apptest.ExpectWithin(tx, repos.App(), 1)
	apptest.InOrder(
		repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), hash).Return(app.RefreshToken{Hash: hash, SessionID: g.ID()}, nil),
		repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), g.ID()).Return(g, nil),
		apptest.ExpectSessionRevoked(t, repos.Sessions, g, 0),
		apptest.ExpectAudit(t, repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.SessionRevoked && e.UserID == apptest.ID(100) && e.Detail["session_id"] == g.ID().String() && e.Detail["client_id"] == "app"
		}),
	)
	if err := h.Handle(context.Background(), rp(), secret.Reveal(), meta); err != nil {
		t.Fatal(err)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("tx returned %v", errs)
	}
}

// A token of another client, or one already revoked, changes nothing.
func TestRevokeTokenOfAnotherClientOrRevokedChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		client  string
		revoked bool
	}{{"another client's", "other", false}, {"revoked before", "app", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			tx, repos := mock.NewMockTxManager(ctrl), apptest.NewRepos(ctrl)
			h := oauth.NewRevokeToken(tx, mock.NewMockTokenVerifier(ctrl), apptest.NewClock(apptest.T0), &apptest.IDs{})
			secret, hash := apptest.Secret(t, "refresh")
			g := liveGrant()
			if tc.revoked {
				g.Revoke(apptest.T0.Add(-time.Second))
			}
			apptest.ExpectWithin(tx, repos.App(), 1)
			repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), hash).Return(app.RefreshToken{Hash: hash, SessionID: g.ID()}, nil)
			repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), g.ID()).Return(g, nil)
			c := rp()
			c.ID = tc.client
			if err := h.Handle(context.Background(), c, secret.Reveal(), meta); err != nil {
				t.Fatal(err)
			}
		})
	}
}
