package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"go.uber.org/mock/gomock"
)

// A grant's refresh token is good at the token endpoint for its own client
// only, and a JSON API token only at /v1/refresh. A token presented at the
// wrong place is invalid there and changes nothing: not rotated, not
// touched, and not taken for reuse (no revocation), even when it was
// rotated long ago.
func TestRefreshTokensStayWhereTheyBelong(t *testing.T) {
	for _, tc := range []struct {
		name     string
		owner    string // the client of the token's session; "" for the JSON API
		presents string // the client presenting it; "" for /v1/refresh
	}{
		{"another client's token", "app", "other"},
		{"a JSON API token at the token endpoint", "", "app"},
		{"a grant's token at /v1/refresh", "app", ""},
	} {
		for _, rotated := range []bool{false, true} {
			name := tc.name
			if rotated {
				name += ", rotated long ago"
			}
			t.Run(name, func(t *testing.T) {
				f := newRefresh(t)
				s := liveSession(f.u.ID())
				if tc.owner != "" {
					s.RehydrateGrant(tc.owner, []string{"openid"}, apptest.ID(49))
				}
				rt := app.RefreshToken{Hash: f.hash, SessionID: s.ID(), CreatedAt: apptest.T0.Add(-time.Hour)}
				if rotated {
					used := apptest.T0.Add(-time.Hour)
					rt.UsedAt = &used
				}
				res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
				f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(rt, nil)
				f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil)
				// Strict mocks: no Update, no MarkRefreshTokenUsed, no
				// token, no audit, no observer.
				var err error
				var pair any
				if tc.presents == "" {
					pair, err = f.h.Handle(context.Background(), f.raw, meta)
				} else {
					pair, err = f.h.Grant(context.Background(), tc.presents, f.raw, meta)
				}
				if err != domain.ErrRefreshInvalid {
					t.Fatalf("refresh = %v, %v; want ErrRefreshInvalid", pair, err)
				}
				if s.RevokedAt() != nil || !s.LastUsedAt().Equal(apptest.T0.Add(-time.Hour)) {
					t.Fatalf("session changed: revoked %v, last used %v", s.RevokedAt(), s.LastUsedAt())
				}
				if errs := res.Errs(); errs[0] != domain.ErrRefreshInvalid {
					t.Fatalf("tx returned %v, want the refusal (rolled back)", errs)
				}
			})
		}
	}
}

// TestRefreshGrantRotates: a grant's token at its client's token endpoint
// rotates as a JSON API token does at /v1/refresh, and the new access
// token names the client and the scopes.
func TestRefreshGrantRotates(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	s.RehydrateGrant("app", []string{"openid", "email"}, apptest.ID(49))
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID(), CreatedAt: apptest.T0.Add(-time.Hour)}, nil)
	f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil)
	f.Repos.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(f.u, nil)
	f.Repos.Sessions.EXPECT().Update(gomock.Any(), s)
	f.Repos.Sessions.EXPECT().AddRefreshToken(gomock.Any(), gomock.Any())
	f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
		if c.ClientID != "app" || len(c.Scope) != 2 || c.SessionID != s.ID() {
			t.Errorf("claims %+v, want the grant's client and scopes", c)
		}
		c.IssuedAt, c.ExpiresAt = apptest.T0, apptest.T0.Add(accessTTL)
		return "signed.jwt", c, nil
	})
	f.Repos.Sessions.EXPECT().MarkRefreshTokenUsed(gomock.Any(), f.hash, apptest.T0, gomock.Any())
	pair, err := f.h.Grant(context.Background(), "app", f.raw, meta)
	if err != nil || pair.Session != s || pair.RefreshToken.Reveal() == f.raw {
		t.Fatalf("Grant = %+v, %v", pair, err)
	}
}

// A grant's rotated token presented again is reuse as at /v1/refresh: the
// grant is revoked and audited, with no event (grants are none).
func TestRefreshGrantReusePublishesNothing(t *testing.T) {
	f := newRefresh(t)
	s := liveSession(f.u.ID())
	s.RehydrateGrant("app", []string{"openid"}, apptest.ID(49))
	used := apptest.T0.Add(-time.Hour)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID(), UsedAt: &used}, nil)
	f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil)
	apptest.ExpectSessionRevoked(t, f.Repos.Sessions, s, 0)
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool { return e.Type == audit.RefreshReuseDetected })
	f.obs.EXPECT().RefreshReuseDetected(gomock.Any())
	if _, err := f.h.Grant(context.Background(), "app", f.raw, meta); err != domain.ErrRefreshInvalid {
		t.Fatalf("Grant = %v, want ErrRefreshInvalid", err)
	}
	if errs := res.Errs(); errs[0] != nil || s.RevokedAt() == nil {
		t.Fatalf("tx %v, revoked %v; want the grant revoked, committed", errs, s.RevokedAt())
	}
}
