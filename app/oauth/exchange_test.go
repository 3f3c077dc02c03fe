package oauth_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"go.uber.org/mock/gomock"
)

const (
	refreshTTL = 720 * time.Hour
	idle       = 168 * time.Hour
	accessTTL  = 15 * time.Minute
)

type exchangeFixture struct {
	h      *oauth.Exchange
	tx     *mock.MockTxManager
	repos  *apptest.Repos
	tokens *mock.MockTokenIssuer
	raw    string
	hash   token.Hash
}

func newExchange(t *testing.T) *exchangeFixture {
	ctrl := gomock.NewController(t)
	f := &exchangeFixture{tx: mock.NewMockTxManager(ctrl), repos: apptest.NewRepos(ctrl), tokens: mock.NewMockTokenIssuer(ctrl)}
	f.h = oauth.NewExchange(oauth.ExchangeDeps{
		Tx: f.tx, Tokens: f.tokens, Clock: apptest.NewClock(apptest.T0), IDs: &apptest.IDs{}, Random: apptest.NewRand(t.Name()),
		TTL: appsession.RefreshTTL(refreshTTL), Idle: appsession.IdleTimeout(idle),
	})
	s, h := apptest.Secret(t, "code/"+t.Name())
	f.raw, f.hash = s.Reveal(), h
	return f
}

// issuedCode is an unused code of rp for redirect and challenge, made
// ten seconds ago from the owner's browser session apptest.ID(50).
func (f *exchangeFixture) issuedCode() *grant.Code {
	authTime := apptest.T0.Add(-time.Hour)
	return &grant.Code{
		Hash: f.hash, ClientID: "app", RedirectURI: redirect, Scopes: []string{client.ScopeOpenID, client.ScopeEmail}, Nonce: "n-0S6",
		CodeChallenge: challenge, SessionID: apptest.ID(50), UserID: apptest.ID(100), AuthTime: authTime,
		AMR: []string{session.MethodPassword, session.MethodOTP}, CreatedAt: apptest.T0.Add(-10 * time.Second),
		ExpiresAt: apptest.T0.Add(grant.CodeTTL - 10*time.Second),
	}
}

// exchange is the token request of rp that redeems the fixture's code.
func (f *exchangeFixture) exchange(c *client.Client) oauth.ExchangeInput {
	return oauth.ExchangeInput{Client: c, Code: f.raw, RedirectURI: redirect, Verifier: verifier, Meta: meta}
}

// TestExchangeRefusals: a code that is unknown, expired, of another
// client or redirect URI, or a wrong verifier, is invalid_grant and
// changes nothing (the mocks are strict: no grant, no mark).
func TestExchangeRefusals(t *testing.T) {
	other := rp()
	other.ID = "other"
	for _, tc := range []struct {
		name   string
		code   func(*grant.Code)
		client *client.Client
		in     func(*oauth.ExchangeInput)
	}{
		{"expired", func(c *grant.Code) { c.ExpiresAt = apptest.T0 }, nil, nil},
		{"another client", nil, other, nil},
		{"another redirect URI", nil, nil, func(in *oauth.ExchangeInput) { in.RedirectURI = "http://127.0.0.1/cb" }},
		{"a longer redirect URI", nil, nil, func(in *oauth.ExchangeInput) { in.RedirectURI = redirect + "/" }},
		{"no redirect URI", nil, nil, func(in *oauth.ExchangeInput) { in.RedirectURI = "" }},
		{"wrong verifier", nil, nil, func(in *oauth.ExchangeInput) { in.Verifier = verifier[:42] + "5" }},
		{"no verifier", nil, nil, func(in *oauth.ExchangeInput) { in.Verifier = "" }},
		{"the challenge as verifier", nil, nil, func(in *oauth.ExchangeInput) { in.Verifier = challenge }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExchange(t)
			c := f.issuedCode()
			if tc.code != nil {
				tc.code(c)
			}
			cl := rp()
			if tc.client != nil {
				cl = tc.client
			}
			in := f.exchange(cl)
			if tc.in != nil {
				tc.in(&in)
			}
			apptest.ExpectWithin(f.tx, f.repos.App(), 1)
			f.repos.Grants.EXPECT().CodeForChange(gomock.Any(), f.hash).Return(c, nil)
			if g, err := f.h.Handle(context.Background(), in); err != grant.ErrInvalidGrant || g != nil {
				t.Fatalf("Handle = %+v, %v; want invalid_grant", g, err)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		f := newExchange(t)
		apptest.ExpectWithin(f.tx, f.repos.App(), 1)
		f.repos.Grants.EXPECT().CodeForChange(gomock.Any(), f.hash).Return(nil, grant.ErrNotFound)
		if g, err := f.h.Handle(context.Background(), f.exchange(rp())); err != grant.ErrInvalidGrant || g != nil {
			t.Fatalf("Handle = %+v, %v; want invalid_grant", g, err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		f := newExchange(t) // strict: not even a transaction
		for _, raw := range []string{"", "short", f.raw + "x", f.raw[:42] + "+"} {
			in := f.exchange(rp())
			in.Code = raw
			if g, err := f.h.Handle(context.Background(), in); err != grant.ErrInvalidGrant || g != nil {
				t.Fatalf("Handle(%q) = %+v, %v; want invalid_grant", raw, g, err)
			}
		}
	})
}

// parentSession is the owner's live browser session the code came from,
// which ends at expires.
func parentSession(expires time.Time) *session.Session {
	return session.Rehydrate(apptest.ID(50), apptest.ID(100), apptest.T0.Add(-2*time.Hour), apptest.T0.Add(-time.Minute), expires, nil, "ua", "ip")
}

// expectIssue expects one access token signed for the grant, and returns
// the claims it was asked for.
func (f *exchangeFixture) expectIssue() *app.AccessClaims {
	var asked app.AccessClaims
	f.tokens.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
		asked = c
		c.IssuedAt, c.ExpiresAt = apptest.T0, apptest.T0.Add(accessTTL)
		return "signed.jwt", c, nil
	})
	return &asked
}

// TestExchangeRedeems: a right exchange makes a grant: a session of the
// code's user for the client and its scopes, from the browser session
// (parent, amr, auth_time), that lives no longer than the browser
// session; with a refresh token when the client has the refresh grant
// only; and the code is marked used with the grant's id, in the same
// transaction.
func TestExchangeRedeems(t *testing.T) {
	for _, tc := range []struct {
		name          string
		refresh       bool
		parentExpires time.Time
		wantExpires   time.Time
	}{
		{"refresh grant, parent outlives the TTL", true, apptest.T0.Add(1000 * time.Hour), apptest.T0.Add(refreshTTL)},
		{"refresh grant, parent ends first", true, apptest.T0.Add(3 * time.Hour), apptest.T0.Add(3 * time.Hour)},
		{"no refresh grant", false, apptest.T0.Add(3 * time.Hour), apptest.T0.Add(3 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExchange(t)
			code, parent, u := f.issuedCode(), parentSession(tc.parentExpires), owner()
			cl := rp()
			if !tc.refresh {
				cl.GrantTypes = []client.Grant{client.AuthorizationCode}
			}
			res := apptest.ExpectWithin(f.tx, f.repos.App(), 1)
			var created *session.Session
			var added []app.RefreshToken
			f.repos.Grants.EXPECT().CodeForChange(gomock.Any(), f.hash).Return(code, nil)
			f.repos.Sessions.EXPECT().ByIDWithUserHeld(gomock.Any(), parent.ID()).Return(parent, u, nil)
			// The grant, its refresh token and the code marked used by it
			// are stored together.
			f.repos.Grants.EXPECT().Redeem(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, rd app.CodeRedemption) error {
				if rd.Code != f.hash || !rd.At.Equal(apptest.T0) || rd.Grant == nil {
					t.Errorf("redeemed %+v, want the code at T0 with a grant", rd)
				}
				created = rd.Grant
				if rd.RefreshToken != nil {
					added = append(added, *rd.RefreshToken)
				}
				return nil
			})
			asked := f.expectIssue()
			g, err := f.h.Handle(context.Background(), f.exchange(cl))
			if err != nil {
				t.Fatal(err)
			}
			if errs := res.Errs(); errs[0] != nil {
				t.Fatalf("tx %v", errs)
			}
			s := created
			if s.UserID() != u.ID() || s.ClientID() != "app" || !slices.Equal(s.Scopes(), code.Scopes) || s.ParentID() != parent.ID() ||
				!slices.Equal(s.AMR(), code.AMR) || !s.AuthTime().Equal(code.AuthTime) || s.ID() == parent.ID() {
				t.Errorf("grant %+v, want the code's client, scopes, parent and authentication", s)
			}
			if !s.CreatedAt().Equal(apptest.T0) || !s.ExpiresAt().Equal(tc.wantExpires) || s.IP() != meta.IP || s.UserAgent() != meta.UserAgent {
				t.Errorf("grant created %v, expires %v (want %v), ip %q", s.CreatedAt(), s.ExpiresAt(), tc.wantExpires, s.IP())
			}
			if asked.ClientID != "app" || !slices.Equal(asked.Scope, code.Scopes) || asked.SessionID != s.ID() || asked.Subject != u.ID() ||
				!slices.Equal(asked.AMR, code.AMR) || !asked.AuthTime.Equal(code.AuthTime) {
				t.Errorf("access token claims %+v", *asked)
			}
			if g.Nonce != "n-0S6" || g.AccessToken != "signed.jwt" || g.Session != s || g.User != u || g.SessionID != s.ID() {
				t.Errorf("grant answered %+v", g)
			}
			if tc.refresh {
				if g.RefreshToken == "" || len(added) != 1 || added[0].Hash != token.HashOf(g.RefreshToken) || added[0].SessionID != s.ID() ||
					!added[0].CreatedAt.Equal(apptest.T0) {
					t.Errorf("refresh token %q, stored %+v", g.RefreshToken, added)
				}
			} else if g.RefreshToken != "" || len(added) != 0 {
				t.Errorf("refresh token %q (stored %+v) for a client without the refresh grant", g.RefreshToken, added)
			}
		})
	}
}

// TestExchangeReplay: a code presented after it was redeemed revokes the
// grant it made, audits the replay, commits that, and is invalid_grant,
// whoever presents it and however it is presented.
func TestExchangeReplay(t *testing.T) {
	grantSession := func(revoked *time.Time) *session.Session {
		s := session.Rehydrate(apptest.ID(60), apptest.ID(100), apptest.T0.Add(-time.Minute), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), revoked, "ua", "ip")
		s.RehydrateGrant("app", []string{client.ScopeOpenID}, apptest.ID(50))
		return s
	}
	other := rp()
	other.ID = "other"
	for _, tc := range []struct {
		name    string
		revoked *time.Time
		client  *client.Client
	}{
		{"live grant", nil, rp()},
		{"live grant, by another client", nil, other},
		{"revoked grant", func() *time.Time { r := apptest.T0.Add(-time.Second); return &r }(), rp()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExchange(t)
			used := apptest.T0.Add(-5 * time.Second)
			code := f.issuedCode()
			code.UsedAt, code.GrantID = &used, apptest.ID(60)
			g := grantSession(tc.revoked)
			res := apptest.ExpectWithin(f.tx, f.repos.App(), 1)
			calls := []any{
				f.repos.Grants.EXPECT().CodeForChange(gomock.Any(), f.hash).Return(code, nil),
				f.repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), g.ID()).Return(g, nil),
			}
			if tc.revoked == nil {
				calls = append(calls, apptest.ExpectSessionRevoked(t, f.repos.Sessions, g, 0)...)
			}
			calls = append(calls, apptest.ExpectAudit(t, f.repos.Audit, func(e audit.Event) bool {
				return e.Type == audit.CodeReplayDetected && e.UserID == apptest.ID(100) && e.Detail["client_id"] == "app" &&
					e.Detail["session_id"] == g.ID().String() && e.IP == meta.IP
			}))
			gomock.InOrder(calls...)
			out, err := f.h.Handle(context.Background(), f.exchange(tc.client))
			if err != grant.ErrInvalidGrant || out != nil {
				t.Fatalf("Handle = %+v, %v; want invalid_grant", out, err)
			}
			if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
				t.Fatalf("the revocation must commit: tx returned %v", errs)
			}
			if tc.revoked != nil && !g.RevokedAt().Equal(*tc.revoked) {
				t.Fatalf("revocation time moved to %v", g.RevokedAt())
			}
		})
	}
}

// TestExchangeDeadSignIn: a code whose browser session is gone, revoked or
// expired, or whose user is disabled, is invalid_grant and makes nothing.
func TestExchangeDeadSignIn(t *testing.T) {
	revoked := apptest.T0.Add(-time.Second)
	for _, tc := range []struct {
		name   string
		parent *session.Session
		active bool
	}{
		{"parent gone", nil, true},
		{"parent revoked", session.Rehydrate(apptest.ID(50), apptest.ID(100), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), &revoked, "", ""), true},
		{"parent expired", parentSession(apptest.T0), true},
		{"parent idle", session.Rehydrate(apptest.ID(50), apptest.ID(100), apptest.T0.Add(-500*time.Hour), apptest.T0.Add(-idle), apptest.T0.Add(time.Hour), nil, "", ""), true},
		{"user disabled", parentSession(apptest.T0.Add(time.Hour)), false},
		{"parent of another user", session.Rehydrate(apptest.ID(50), apptest.ID(101), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil, "", ""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExchange(t)
			apptest.ExpectWithin(f.tx, f.repos.App(), 1)
			f.repos.Grants.EXPECT().CodeForChange(gomock.Any(), f.hash).Return(f.issuedCode(), nil)
			u := owner()
			if !tc.active {
				u.Deactivate(apptest.T0.Add(-time.Minute))
			}
			if tc.parent == nil {
				f.repos.Sessions.EXPECT().ByIDWithUserHeld(gomock.Any(), apptest.ID(50)).Return(nil, nil, session.ErrNotFound)
			} else {
				f.repos.Sessions.EXPECT().ByIDWithUserHeld(gomock.Any(), apptest.ID(50)).Return(tc.parent, u, nil)
			}
			if g, err := f.h.Handle(context.Background(), f.exchange(rp())); err != grant.ErrInvalidGrant || g != nil {
				t.Fatalf("Handle = %+v, %v; want invalid_grant", g, err)
			}
		})
	}
}

// TestExchangeConsentRevoked: a code of a client that asks for consent
// is invalid_grant once the user revoked the consent (or narrowed it
// below the code's scopes) after the code was issued: nothing is made.
func TestExchangeConsentRevoked(t *testing.T) {
	for _, tc := range []struct {
		name    string
		consent *grant.Consent
	}{
		{"revoked", nil},
		{"narrowed", &grant.Consent{UserID: apptest.ID(100), ClientID: "app", Scopes: []string{client.ScopeOpenID}, GivenAt: apptest.T0.Add(-time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExchange(t)
			cl := rp()
			cl.Consent = true
			apptest.ExpectWithin(f.tx, f.repos.App(), 1)
			f.repos.Grants.EXPECT().CodeForChange(gomock.Any(), f.hash).Return(f.issuedCode(), nil)
			f.repos.Sessions.EXPECT().ByIDWithUserHeld(gomock.Any(), apptest.ID(50)).Return(parentSession(apptest.T0.Add(time.Hour)), owner(), nil)
			if tc.consent == nil {
				f.repos.Grants.EXPECT().ConsentForChange(gomock.Any(), apptest.ID(100), "app").Return(nil, grant.ErrNotFound)
			} else {
				f.repos.Grants.EXPECT().ConsentForChange(gomock.Any(), apptest.ID(100), "app").Return(tc.consent, nil)
			}
			if g, err := f.h.Handle(context.Background(), f.exchange(cl)); err != grant.ErrInvalidGrant || g != nil {
				t.Fatalf("Handle = %+v, %v; want invalid_grant", g, err)
			}
		})
	}
}

func TestExchangeStoreFailurePropagates(t *testing.T) {
	f := newExchange(t)
	apptest.ExpectWithin(f.tx, f.repos.App(), 1)
	f.repos.Grants.EXPECT().CodeForChange(gomock.Any(), f.hash).Return(nil, domain.Unavailable(errors.New("down")))
	if _, err := f.h.Handle(context.Background(), f.exchange(rp())); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// TestClaims: userinfo shows the address with the email scope, or to a
// token of the JSON API (which has no scopes); never to a grant without
// it.
func TestClaims(t *testing.T) {
	u := owner()
	withScopes := func(scopes ...string) *session.Session {
		s := parentSession(apptest.T0.Add(time.Hour))
		s.RehydrateGrant("app", scopes, apptest.ID(49))
		return s
	}
	for _, tc := range []struct {
		name  string
		s     *session.Session
		email bool
	}{
		{"grant with email", withScopes(client.ScopeOpenID, client.ScopeEmail), true},
		{"grant without email", withScopes(client.ScopeOpenID, client.ScopeProfile), false},
		{"JSON API session", parentSession(apptest.T0.Add(time.Hour)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := oauth.Claims(appsession.Principal{UserID: u.ID(), User: u, Session: tc.s})
			if info.Subject != u.ID() {
				t.Fatalf("subject %v", info.Subject)
			}
			if tc.email != info.HasEmail || tc.email && (info.Email != "owner@example.com" || !info.EmailVerified) || !tc.email && info.Email != "" {
				t.Fatalf("claims %+v, want email %v", info, tc.email)
			}
		})
	}
}
