package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"go.uber.org/mock/gomock"
)

// A sign-in on the hosted pages goes through the same checks as an API
// login and starts the same session, but the browser gets the secret that
// finds it (only its hash stored) and no tokens: the strict mocks refuse a
// refresh token and a signed access token.
func TestBrowserLoginGetsASessionSecretNotTokens(t *testing.T) {
	f := newLogin(t, true)
	f.wantResults = []app.LoginOutcome{app.LoginSuccess}
	u := loginUser(true, true)
	f.expectPassword(t, u, true, false)
	f.expectCounterReset(t)
	fresh := loginUser(true, true)
	var stored app.SessionStart
	// A browser session is a session the events tell of (expectStart).
	res := f.expectStart(t, u, fresh, loginRecorded(t), &stored)
	input := in("owner@example.com", password)
	input.Browser = true
	got, err := f.h.Handle(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, res)
	p, s := got.TokenPair, stored.Session
	if stored.RefreshToken != nil {
		t.Fatalf("a refresh token stored for a browser: %+v", stored.RefreshToken)
	}
	if p.BrowserSecret == "" || token.HashOf(p.BrowserSecret) != stored.BrowserSecret || p.AccessToken != "" || p.RefreshToken != "" || p.SessionID != s.ID() {
		t.Fatalf("browser login answered %+v", p)
	}
	if s.UserID() != u.ID() || s.IP() != meta.IP || !s.ExpiresAt().Equal(apptest.T0.Add(refreshTTL)) {
		t.Fatalf("session %+v", s)
	}
}

func TestAuthenticateBrowser(t *testing.T) {
	secret, hash, err := token.NewSecret(apptest.NewRand("browser"))
	if err != nil {
		t.Fatal(err)
	}
	rev := apptest.T0.Add(-time.Minute)
	active, disabled := loginUser(true, true), loginUser(true, false)
	revoked := session.Rehydrate(apptest.ID(50), active.ID(), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), apptest.T0.Add(time.Hour), &rev, "ua", "ip")
	idleSince := session.Rehydrate(apptest.ID(50), active.ID(), apptest.T0.Add(-idle-time.Hour), apptest.T0.Add(-idle-time.Second), apptest.T0.Add(time.Hour), nil, "ua", "ip")
	for _, c := range []struct {
		name string
		b    app.BearerSession
		err  error
		want error
	}{
		{"live", bearer(liveSession(active.ID()), active, true), nil, nil},
		{"unknown", app.BearerSession{}, session.ErrNotFound, domain.ErrUnauthorized},
		{"revoked", bearer(revoked, active, false), nil, domain.ErrUnauthorized},
		{"idle too long", bearer(idleSince, active, false), nil, domain.ErrUnauthorized},
		{"disabled", bearer(liveSession(disabled.ID()), disabled, false), nil, domain.ErrUnauthorized},
		{"store down", app.BearerSession{}, domain.Unavailable(errors.New("down")), domain.ErrUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _, sessions := newAuthenticate(t)
			sessions.EXPECT().ForBrowser(gomock.Any(), hash).Return(c.b, c.err)
			p, err := h.Browser(context.Background(), secret.Reveal())
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.want == nil && (p.UserID != active.ID() || p.SessionID != apptest.ID(50) || p.User != active || !p.MFAEnabled || p.Session == nil) {
				t.Fatalf("principal %+v", p)
			}
		})
	}
	// A cookie that is no secret of ours is refused without a read.
	h, _, _ := newAuthenticate(t)
	for _, bad := range []string{"", "short", secret.Reveal() + "x"} {
		if _, err := h.Browser(context.Background(), bad); !errors.Is(err, domain.ErrUnauthorized) {
			t.Errorf("Browser(%q) = %v", bad, err)
		}
	}
}

// The code step of a browser sign-in ends as the password step does: the
// session (with the second factor) goes to the browser by its secret.
func TestBrowserLoginMFAGetsASessionSecret(t *testing.T) {
	f := newLoginMFA(t)
	f.wantResults = []app.LoginOutcome{app.LoginSuccess}
	f.expectToken()
	res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	var (
		s    *session.Session
		hash token.Hash
	)
	gomock.InOrder(
		f.Repos.MFA.EXPECT().UseTOTPStep(gomock.Any(), f.u.ID(), mfa.Step(apptest.T0)-1).Return(true, nil),
		f.Repos.MFA.EXPECT().UseLoginToken(gomock.Any(), f.lt.Hash(), apptest.T0, 6).Return(true, nil),
		f.expectStarted(t, "totp", &s, func(st app.SessionStart) {
			if st.RefreshToken != nil || st.BrowserSecret == (token.Hash{}) {
				t.Errorf("stored refresh token %v, browser secret %x", st.RefreshToken, st.BrowserSecret)
			}
			hash = st.BrowserSecret
		}),
		f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2),
	)
	input := f.input(mfaCode(-1))
	input.Browser = true
	pair, err := f.h.Handle(context.Background(), input)
	if err != nil || pair.BrowserSecret == "" || token.HashOf(pair.BrowserSecret) != hash || pair.AccessToken != "" || pair.RefreshToken != "" {
		t.Fatalf("Handle = %+v, %v", pair, err)
	}
	checkCommitted(t, res)
}
