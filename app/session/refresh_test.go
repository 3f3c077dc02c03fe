package session_test

import (
	"context"
	"encoding/hex"
	"errors"
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
		Random:   apptest.NewRand(t.Name()),
		Idle:     appsession.IdleTimeout(idle),
		Grace:    app.RefreshReuseGrace(g),
		Observer: f.obs,
	})
	s, h := apptest.Secret(t, "presented/"+t.Name())
	f.raw, f.hash = s.Reveal(), h
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
	gomock.InOrder(
		f.Repos.Sessions.EXPECT().RefreshTokenForChange(gomock.Any(), f.hash).Return(app.RefreshToken{Hash: f.hash, SessionID: s.ID(), UsedAt: &usedAt}, nil),
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), s.ID()).Return(s, nil),
		f.Repos.Sessions.EXPECT().Update(gomock.Any(), s).DoAndReturn(func(_ context.Context, ss *session.Session) error {
			if ss.RevokedAt() == nil || !ss.RevokedAt().Equal(apptest.T0) {
				t.Errorf("session saved unrevoked")
			}
			return nil
		}),
		apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.RefreshReuseDetected && e.UserID == f.u.ID() && e.Detail["session_id"] == s.ID().String() && e.IP == meta.IP
		}),
	)
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
