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
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

var meta = app.RequestMeta{IP: "203.0.113.5", UserAgent: "test-agent"}

const (
	redirect  = "https://app.example.com/callback"
	challenge = "VaYcSfCD-c-YNHH_sxWpd1SIK6vC0Zhi1WCc_RTPu0Y" // S256 of verifier
	verifier  = "dBjftJeZ4CVP-mJ92ZXRkEjx1LgVCTIY1N0bHyrB3n4"
	// browserSecret is the cookie of the signed-in browser of a test.
	browserSecret = "browser-secret"
)

// rp is a first-party client registered for openid and email, with the
// code and refresh grants.
func rp() *client.Client {
	return &client.Client{
		ID: "app", Name: "App", Type: client.Public, RedirectURIs: []string{redirect, "http://127.0.0.1/cb"},
		GrantTypes: []client.Grant{client.AuthorizationCode, client.RefreshToken}, Scopes: []string{client.ScopeOpenID, client.ScopeEmail},
	}
}

func owner() *user.User {
	v := apptest.T0.Add(-48 * time.Hour)
	return user.Rehydrate(apptest.ID(100), user.RehydrateEmail("owner@example.com"), "$argon2id$stored", true, true, v, v, &v, nil)
}

// browserSession is the browser session apptest.ID(50) of the owner,
// signed in with a password and a code at authTime and live for a day.
func browserSession(authTime time.Time) *session.Session {
	s := session.Rehydrate(apptest.ID(50), apptest.ID(100), authTime, apptest.T0.Add(-time.Minute), apptest.T0.Add(24*time.Hour), nil, "ua", "ip")
	s.RehydrateAuthentication([]string{session.MethodPassword, session.MethodOTP}, authTime)
	return s
}

// browsers finds the principal of a session cookie's secret; any other
// secret is not signed in.
type browsers map[string]appsession.Principal

func (b browsers) Browser(_ context.Context, secret string) (appsession.Principal, error) {
	p, ok := b[secret]
	if !ok {
		return appsession.Principal{}, domain.ErrUnauthorized
	}
	return p, nil
}

type authorizeFixture struct {
	h       *oauth.Authorize
	clients *mock.MockClientRepository
	// grants work outside a transaction, repos.Grants inside.
	grants  *mock.MockGrantRepository
	tx      *mock.MockTxManager
	repos   *apptest.Repos
	browser browsers
}

func newAuthorize(t *testing.T) *authorizeFixture {
	ctrl := gomock.NewController(t)
	f := &authorizeFixture{
		clients: mock.NewMockClientRepository(ctrl), grants: mock.NewMockGrantRepository(ctrl), tx: mock.NewMockTxManager(ctrl),
		repos: apptest.NewRepos(ctrl), browser: browsers{},
	}
	f.h = oauth.NewAuthorize(oauth.AuthorizeDeps{
		Clients: f.clients, Grants: f.grants, Browser: f.browser, Tx: f.tx,
		Clock: apptest.NewClock(apptest.T0), IDs: &apptest.IDs{}, Random: apptest.NewRand(t.Name()),
	})
	return f
}

// signIn makes browserSecret the cookie of the owner's browser session
// signed in at authTime, and returns that session.
func (f *authorizeFixture) signIn(authTime time.Time) *session.Session {
	s := browserSession(authTime)
	f.browser[browserSecret] = appsession.Principal{UserID: apptest.ID(100), SessionID: s.ID(), User: owner(), Session: s}
	return s
}

// request is a valid request of rp for openid and email from the
// browser holding browserSecret.
func request() oauth.AuthorizeInput {
	return oauth.AuthorizeInput{
		RedirectURI: redirect, Scopes: []string{client.ScopeOpenID, client.ScopeEmail}, State: "st", Nonce: "n-0S6",
		CodeChallenge: challenge, ChallengeMethod: "S256", Browser: browserSecret, Meta: meta,
	}
}

// expectKept expects the request to be stored, once, and returns what was.
func (f *authorizeFixture) expectKept() *[]*grant.Request {
	var kept []*grant.Request
	f.grants.EXPECT().CreateRequest(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, r *grant.Request) error {
		kept = append(kept, r)
		return nil
	})
	return &kept
}

// expectCode expects one transaction that stores a code, deletes the kept
// request id (unless uuid.Nil: a request never kept) and audits the grant,
// and returns the code stored.
func (f *authorizeFixture) expectCode(t *testing.T, kept uuid.UUID) **grant.Code {
	var code *grant.Code
	res := apptest.ExpectWithin(f.tx, f.repos.App(), 1)
	t.Cleanup(func() {
		if errs := res.Errs(); len(errs) == 1 && errs[0] != nil {
			t.Errorf("the code's transaction rolled back: %v", errs[0])
		}
	})
	f.repos.Grants.EXPECT().CreateCode(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c *grant.Code) error {
		code = c
		return nil
	})
	if kept != uuid.Nil {
		f.repos.Grants.EXPECT().DeleteRequest(gomock.Any(), kept)
	}
	apptest.ExpectAudit(t, f.repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.AuthorizationGranted && e.UserID == apptest.ID(100) && e.Detail["client_id"] == "app" &&
			e.Detail["session_id"] == apptest.ID(50).String() && e.IP == meta.IP && e.At.Equal(apptest.T0)
	})
	return &code
}

// checkCode fails t unless out hands the client a code stored as c, bound
// to the request r and the sign-in of the owner's browser session s.
func checkCode(t *testing.T, out *oauth.Outcome, c *grant.Code, r *grant.Request, s *session.Session) {
	t.Helper()
	if out.Code == "" || out.Refused != nil || out.SignIn || out.Consent {
		t.Fatalf("outcome %+v, want a code", out)
	}
	if c == nil || c.Hash != token.HashOf(out.Code) {
		t.Fatalf("stored code %+v is not the hash of the code handed out", c)
	}
	if c.ClientID != r.ClientID || c.RedirectURI != r.RedirectURI || !slices.Equal(c.Scopes, r.Scopes) || c.Nonce != r.Nonce ||
		c.CodeChallenge != r.CodeChallenge {
		t.Errorf("code %+v not bound to the request %+v", c, r)
	}
	if c.SessionID != s.ID() || c.UserID != s.UserID() || !c.AuthTime.Equal(s.AuthTime()) || !slices.Equal(c.AMR, s.AMR()) {
		t.Errorf("code %+v not bound to the browser session's sign-in", c)
	}
	if !c.CreatedAt.Equal(apptest.T0) || !c.ExpiresAt.Equal(apptest.T0.Add(grant.CodeTTL)) || c.UsedAt != nil || c.GrantID != uuid.Nil {
		t.Errorf("code times %+v", c)
	}
}

func TestAuthorizeClient(t *testing.T) {
	for _, tc := range []struct {
		name, id, redirect string
		want               error
	}{
		{"registered", "app", redirect, nil},
		{"unknown client", "nobody", redirect, grant.ErrUnknownClient},
		{"unregistered redirect", "app", "https://evil.example.com/callback", grant.ErrRedirectURI},
		{"a prefix of the registered one", "app", "https://app.example.com/call", grant.ErrRedirectURI},
		{"more than the registered one", "app", redirect + "/more", grant.ErrRedirectURI},
		{"registered plus a query", "app", redirect + "?x=1", grant.ErrRedirectURI},
		{"loopback on another port", "app", "http://127.0.0.1:53121/cb", nil},
		{"loopback on another path", "app", "http://127.0.0.1:53121/other", grant.ErrRedirectURI},
		{"https on another port", "app", "https://app.example.com:8443/callback", grant.ErrRedirectURI},
		{"empty", "app", "", grant.ErrRedirectURI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuthorize(t)
			f.clients.EXPECT().ByID(gomock.Any(), tc.id).DoAndReturn(func(_ context.Context, id string) (*client.Client, error) {
				if id != "app" {
					return nil, client.ErrNotFound
				}
				return rp(), nil
			})
			c, err := f.h.Client(context.Background(), tc.id, tc.redirect)
			if err != tc.want || (err == nil) != (c != nil) {
				t.Fatalf("Client = %v, %v; want %v", c, err, tc.want)
			}
		})
	}
	t.Run("store failure", func(t *testing.T) {
		f := newAuthorize(t)
		down := domain.Unavailable(errors.New("down"))
		f.clients.EXPECT().ByID(gomock.Any(), "app").Return(nil, down)
		if _, err := f.h.Client(context.Background(), "app", redirect); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("err = %v, want the store's", err)
		}
	})
}

// TestBeginRefusesBeforeAnything: the requests a client may not make are
// refused at its redirect URI, and nothing is kept, whoever is signed in
// (the mocks are strict: no request stored, no code).
func TestBeginRefusesBeforeAnything(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(*client.Client)
		in     func(*oauth.AuthorizeInput)
		want   error
	}{
		{"no PKCE", nil, func(in *oauth.AuthorizeInput) { in.CodeChallenge, in.ChallengeMethod = "", "" }, grant.ErrPKCERequired},
		{"plain PKCE", nil, func(in *oauth.AuthorizeInput) { in.ChallengeMethod = "plain" }, grant.ErrPKCERequired},
		{"plain PKCE of a verifier", nil, func(in *oauth.AuthorizeInput) { in.CodeChallenge, in.ChallengeMethod = verifier, "plain" }, grant.ErrPKCERequired},
		{"challenge without a method", nil, func(in *oauth.AuthorizeInput) { in.ChallengeMethod = "" }, grant.ErrPKCERequired},
		{"short challenge", nil, func(in *oauth.AuthorizeInput) { in.CodeChallenge = challenge[:42] }, grant.ErrPKCERequired},
		{"long challenge", nil, func(in *oauth.AuthorizeInput) { in.CodeChallenge = challenge + "A" }, grant.ErrPKCERequired},
		{"challenge not base64url", nil, func(in *oauth.AuthorizeInput) { in.CodeChallenge = challenge[:42] + "+" }, grant.ErrPKCERequired},
		{"padded challenge", nil, func(in *oauth.AuthorizeInput) { in.CodeChallenge = challenge[:42] + "=" }, grant.ErrPKCERequired},
		{"client without the code grant", func(c *client.Client) { c.GrantTypes = []client.Grant{client.ClientCredentials} }, nil, grant.ErrUnauthorizedClient},
		{"no scope of the client's", nil, func(in *oauth.AuthorizeInput) { in.Scopes = []string{client.ScopeProfile, "admin"} }, grant.ErrInvalidScope},
		{"no scope at all", nil, func(in *oauth.AuthorizeInput) { in.Scopes = nil }, grant.ErrInvalidScope},
	} {
		for _, signedIn := range []bool{false, true} {
			name := tc.name
			if signedIn {
				name += ", signed in"
			}
			t.Run(name, func(t *testing.T) {
				f := newAuthorize(t)
				if signedIn {
					f.signIn(apptest.T0.Add(-time.Minute))
				}
				c, in := rp(), request()
				if tc.client != nil {
					tc.client(c)
				}
				if tc.in != nil {
					tc.in(&in)
				}
				out, err := f.h.Begin(context.Background(), c, in)
				if err != nil {
					t.Fatal(err)
				}
				if out.Refused != tc.want || out.Code != "" || out.SignIn || out.Consent {
					t.Fatalf("outcome %+v, want refused with %v", out, tc.want)
				}
				if r := out.Request; r.RedirectURI != redirect || r.State != "st" {
					t.Fatalf("the refusal goes to %q with state %q, want the request's", r.RedirectURI, r.State)
				}
			})
		}
	}
}

// TestBeginKeepsTheClientsScopes: the request keeps the scopes asked for
// that the client is registered for, once each, in the order asked.
func TestBeginKeepsTheClientsScopes(t *testing.T) {
	f := newAuthorize(t)
	kept := f.expectKept()
	in := request()
	in.Browser = ""
	in.Scopes = []string{client.ScopeEmail, client.ScopeProfile, "admin", client.ScopeOpenID, client.ScopeEmail}
	out, err := f.h.Begin(context.Background(), rp(), in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{client.ScopeEmail, client.ScopeOpenID}; !slices.Equal(out.Request.Scopes, want) || len(*kept) != 1 || !slices.Equal((*kept)[0].Scopes, want) {
		t.Fatalf("scopes %v, kept %v; want %v", out.Request.Scopes, *kept, want)
	}
}

// TestBeginWithoutSignIn: a browser not signed in (no cookie, or one of no
// live session) is sent to the sign-in with the request kept, as it was
// made, for an hour.
func TestBeginWithoutSignIn(t *testing.T) {
	for name, cookie := range map[string]string{"no cookie": "", "dead cookie": "stale"} {
		t.Run(name, func(t *testing.T) {
			f := newAuthorize(t)
			kept := f.expectKept()
			in := request()
			in.Browser = cookie
			maxAge := 5 * time.Minute
			in.MaxAge, in.ForceLogin = &maxAge, true
			out, err := f.h.Begin(context.Background(), rp(), in)
			if err != nil {
				t.Fatal(err)
			}
			if !out.SignIn || out.Consent || out.Code != "" || out.Refused != nil {
				t.Fatalf("outcome %+v, want the sign-in", out)
			}
			if len(*kept) != 1 || (*kept)[0] != out.Request {
				t.Fatalf("kept %v, want the outcome's request", *kept)
			}
			r := out.Request
			if r.ID != apptest.ID(1) || r.ClientID != "app" || r.RedirectURI != redirect || r.State != "st" || r.Nonce != "n-0S6" ||
				r.CodeChallenge != challenge || !r.ForceLogin || !r.HasMaxAge || r.MaxAge != maxAge ||
				!r.CreatedAt.Equal(apptest.T0) || !r.ExpiresAt.Equal(apptest.T0.Add(grant.RequestTTL)) {
				t.Fatalf("kept request %+v", r)
			}
		})
	}
}

// TestBeginPromptNone: prompt=none never shows a page: without a session
// (or with one too old for the request) it answers login_required, and
// keeps nothing.
func TestBeginPromptNone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		signedIn bool
		maxAge   time.Duration
	}{
		{"no session", false, 0},
		{"sign-in older than max_age", true, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuthorize(t) // strict: no CreateRequest
			in := request()
			in.PromptNone = true
			if tc.signedIn {
				f.signIn(apptest.T0.Add(-time.Hour))
			}
			if tc.maxAge > 0 {
				in.MaxAge = &tc.maxAge
			}
			out, err := f.h.Begin(context.Background(), rp(), in)
			if err != nil {
				t.Fatal(err)
			}
			if out.Refused != grant.ErrLoginRequired || out.SignIn || out.Code != "" {
				t.Fatalf("outcome %+v, want login_required", out)
			}
		})
	}
}

// TestBeginFreshness: prompt=login wants a sign-in made for the request,
// max_age one at most that old; an older one sends the browser to the
// sign-in with the request kept.
func TestBeginFreshness(t *testing.T) {
	minutes := func(n int) *time.Duration { d := time.Duration(n) * time.Minute; return &d }
	for _, tc := range []struct {
		name       string
		forceLogin bool
		maxAge     *time.Duration
		authAgo    time.Duration
		code       bool
	}{
		{"prompt=login, signed in a minute ago", true, nil, time.Minute, false},
		{"prompt=login, signed in a second ago", true, nil, time.Second, false},
		{"max_age 5m, signed in 10m ago", false, minutes(5), 10 * time.Minute, false},
		{"max_age 0, signed in a second ago", false, minutes(0), time.Second, false},
		{"max_age 15m, signed in 10m ago", false, minutes(15), 10 * time.Minute, true},
		{"max_age 10m, signed in exactly 10m ago", false, minutes(10), 10 * time.Minute, true},
		{"no constraint, signed in a day ago", false, nil, 24 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuthorize(t)
			s := f.signIn(apptest.T0.Add(-tc.authAgo))
			in := request()
			in.ForceLogin, in.MaxAge = tc.forceLogin, tc.maxAge
			var kept *[]*grant.Request
			var code **grant.Code
			if tc.code {
				code = f.expectCode(t, uuid.Nil)
			} else {
				kept = f.expectKept()
			}
			out, err := f.h.Begin(context.Background(), rp(), in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.code {
				checkCode(t, out, *code, out.Request, s)
				return
			}
			if !out.SignIn || out.Code != "" || len(*kept) != 1 {
				t.Fatalf("outcome %+v, kept %v; want the sign-in", out, *kept)
			}
		})
	}
}

// TestBeginSignedIn: a signed-in browser gets a code at once (single
// sign-on), bound to the request and the browser session's sign-in; the
// request is never stored, the grant is audited.
func TestBeginSignedIn(t *testing.T) {
	f := newAuthorize(t)
	s := f.signIn(apptest.T0.Add(-time.Hour))
	code := f.expectCode(t, uuid.Nil)
	out, err := f.h.Begin(context.Background(), rp(), request())
	if err != nil {
		t.Fatal(err)
	}
	checkCode(t, out, *code, out.Request, s)
	if !slices.Equal((*code).Scopes, []string{client.ScopeOpenID, client.ScopeEmail}) || (*code).Nonce != "n-0S6" || (*code).CodeChallenge != challenge {
		t.Fatalf("code %+v", *code)
	}
}

// consentClient is rp registered with the consent page.
func consentClient() *client.Client {
	c := rp()
	c.Consent = true
	return c
}

// TestBeginConsent: a client with the consent page gets a code only with a
// consent that covers the request's scopes (and, with prompt=consent, one
// given after the request); else the consent page with the request kept,
// or with prompt=none consent_required and nothing kept.
func TestBeginConsent(t *testing.T) {
	given := func(scopes ...string) *grant.Consent {
		return &grant.Consent{UserID: apptest.ID(100), ClientID: "app", Scopes: scopes, GivenAt: apptest.T0.Add(-time.Hour)}
	}
	for _, tc := range []struct {
		name         string
		consent      *grant.Consent
		promptNone   bool
		forceConsent bool
		want         string // code, consent or refused
	}{
		{"none given", nil, false, false, "consent"},
		{"none given, prompt=none", nil, true, false, "refused"},
		{"fewer scopes given", given(client.ScopeOpenID), false, false, "consent"},
		{"fewer scopes given, prompt=none", given(client.ScopeOpenID), true, false, "refused"},
		{"given", given(client.ScopeOpenID, client.ScopeEmail), false, false, "code"},
		{"given, prompt=none", given(client.ScopeOpenID, client.ScopeEmail), true, false, "code"},
		{"given before, prompt=consent", given(client.ScopeOpenID, client.ScopeEmail), false, true, "consent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuthorize(t)
			s := f.signIn(apptest.T0.Add(-time.Minute))
			f.grants.EXPECT().Consent(gomock.Any(), apptest.ID(100), "app").DoAndReturn(func(context.Context, uuid.UUID, string) (*grant.Consent, error) {
				if tc.consent == nil {
					return nil, grant.ErrNotFound
				}
				return tc.consent, nil
			})
			in := request()
			in.PromptNone, in.ForceConsent = tc.promptNone, tc.forceConsent
			var kept *[]*grant.Request
			var code **grant.Code
			switch tc.want {
			case "consent":
				kept = f.expectKept()
			case "code":
				code = f.expectCode(t, uuid.Nil)
			}
			out, err := f.h.Begin(context.Background(), consentClient(), in)
			if err != nil {
				t.Fatal(err)
			}
			switch tc.want {
			case "consent":
				if !out.Consent || out.SignIn || out.Code != "" || out.Refused != nil || len(*kept) != 1 || (*kept)[0] != out.Request {
					t.Fatalf("outcome %+v, kept %v; want the consent page", out, *kept)
				}
			case "refused":
				if out.Refused != grant.ErrConsentRequired || out.Consent || out.Code != "" {
					t.Fatalf("outcome %+v, want consent_required", out)
				}
			case "code":
				checkCode(t, out, *code, out.Request, s)
			}
		})
	}
}

// TestBeginFaultsPropagate: a store that fails is an error, not an
// answer to the client.
func TestBeginFaultsPropagate(t *testing.T) {
	down := domain.Unavailable(errors.New("down"))
	t.Run("keeping the request", func(t *testing.T) {
		f := newAuthorize(t)
		f.grants.EXPECT().CreateRequest(gomock.Any(), gomock.Any()).Return(down)
		in := request()
		in.Browser = ""
		if out, err := f.h.Begin(context.Background(), rp(), in); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Begin = %+v, %v", out, err)
		}
	})
	t.Run("reading the consent", func(t *testing.T) {
		f := newAuthorize(t)
		f.signIn(apptest.T0.Add(-time.Minute))
		f.grants.EXPECT().Consent(gomock.Any(), gomock.Any(), gomock.Any()).Return(nil, down)
		if out, err := f.h.Begin(context.Background(), consentClient(), request()); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Begin = %+v, %v", out, err)
		}
	})
	t.Run("storing the code", func(t *testing.T) {
		f := newAuthorize(t)
		f.signIn(apptest.T0.Add(-time.Minute))
		apptest.ExpectWithin(f.tx, f.repos.App(), 1)
		f.repos.Grants.EXPECT().CreateCode(gomock.Any(), gomock.Any()).Return(down)
		if out, err := f.h.Begin(context.Background(), rp(), request()); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Begin = %+v, %v", out, err)
		}
	})
}

// keptRequest is a request of rp kept a minute ago (so a sign-in at T0
// answers it), for openid and email.
func keptRequest() *grant.Request {
	created := apptest.T0.Add(-time.Minute)
	return &grant.Request{
		ID: apptest.ID(7), ClientID: "app", RedirectURI: redirect, Scopes: []string{client.ScopeOpenID, client.ScopeEmail},
		State: "st", Nonce: "n-0S6", CodeChallenge: challenge, CreatedAt: created, ExpiresAt: created.Add(grant.RequestTTL),
	}
}

// expectKeptRequest serves r by its id, and c by its client id.
func (f *authorizeFixture) expectKeptRequest(r *grant.Request, c *client.Client) {
	f.grants.EXPECT().Request(gomock.Any(), r.ID).Return(r, nil)
	f.clients.EXPECT().ByID(gomock.Any(), r.ClientID).Return(c, nil)
}

// TestContinueGone: a request that is unknown (answered, swept) or
// expired is gone; one whose client was deleted since names no client.
// Nothing is changed.
func TestContinueGone(t *testing.T) {
	t.Run("unknown", func(t *testing.T) {
		f := newAuthorize(t)
		f.signIn(apptest.T0)
		f.grants.EXPECT().Request(gomock.Any(), apptest.ID(7)).Return(nil, grant.ErrNotFound)
		if out, err := f.h.Continue(context.Background(), apptest.ID(7), browserSecret, meta); err != grant.ErrRequestGone || out != nil {
			t.Fatalf("Continue = %+v, %v", out, err)
		}
	})
	for name, expires := range map[string]time.Time{"expired now": apptest.T0, "expired before": apptest.T0.Add(-time.Second)} {
		t.Run(name, func(t *testing.T) {
			f := newAuthorize(t)
			f.signIn(apptest.T0)
			r := keptRequest()
			r.ExpiresAt = expires
			f.grants.EXPECT().Request(gomock.Any(), r.ID).Return(r, nil)
			if out, err := f.h.Continue(context.Background(), r.ID, browserSecret, meta); err != grant.ErrRequestGone || out != nil {
				t.Fatalf("Continue = %+v, %v", out, err)
			}
		})
	}
	t.Run("client deleted", func(t *testing.T) {
		f := newAuthorize(t)
		f.signIn(apptest.T0)
		r := keptRequest()
		f.grants.EXPECT().Request(gomock.Any(), r.ID).Return(r, nil)
		f.clients.EXPECT().ByID(gomock.Any(), "app").Return(nil, client.ErrNotFound)
		if out, err := f.h.Continue(context.Background(), r.ID, browserSecret, meta); err != grant.ErrUnknownClient || out != nil {
			t.Fatalf("Continue = %+v, %v", out, err)
		}
	})
}

// TestContinueSignedIn: once the browser signed in, the kept request ends
// in a code and is deleted, in one transaction.
func TestContinueSignedIn(t *testing.T) {
	f := newAuthorize(t)
	s := f.signIn(apptest.T0)
	r := keptRequest()
	f.expectKeptRequest(r, rp())
	code := f.expectCode(t, r.ID)
	out, err := f.h.Continue(context.Background(), r.ID, browserSecret, meta)
	if err != nil {
		t.Fatal(err)
	}
	checkCode(t, out, *code, r, s)
}

// TestContinueNotYet: without a sign-in fresh enough for the kept request,
// the browser goes back to the sign-in; the request, kept already, is not
// stored again.
func TestContinueNotYet(t *testing.T) {
	for name, cookie := range map[string]string{"not signed in": "", "signed in before a prompt=login": browserSecret} {
		t.Run(name, func(t *testing.T) {
			f := newAuthorize(t) // strict: no CreateRequest, no code
			f.signIn(apptest.T0.Add(-time.Hour))
			r := keptRequest()
			r.ForceLogin = true
			f.expectKeptRequest(r, rp())
			out, err := f.h.Continue(context.Background(), r.ID, cookie, meta)
			if err != nil {
				t.Fatal(err)
			}
			if !out.SignIn || out.Code != "" || out.Request != r {
				t.Fatalf("outcome %+v, want the sign-in for the kept request", out)
			}
		})
	}
}

// TestConsentDenied: a refusal answers access_denied and deletes the kept
// request; no consent is saved, no code made.
func TestConsentDenied(t *testing.T) {
	f := newAuthorize(t)
	f.signIn(apptest.T0)
	r := keptRequest()
	f.expectKeptRequest(r, consentClient())
	f.grants.EXPECT().DeleteRequest(gomock.Any(), r.ID)
	out, err := f.h.Consent(context.Background(), r.ID, browserSecret, false, meta)
	if err != nil {
		t.Fatal(err)
	}
	if out.Refused != grant.ErrAccessDenied || out.Code != "" || out.Request != r {
		t.Fatalf("outcome %+v, want access_denied", out)
	}
}

// TestConsentAllowed: an allowed consent is saved for the user and the
// client's requested scopes and audited, in one transaction; the request
// then ends in a code.
func TestConsentAllowed(t *testing.T) {
	f := newAuthorize(t)
	s := f.signIn(apptest.T0)
	r := keptRequest()
	f.expectKeptRequest(r, consentClient())
	var saved *grant.Consent
	res := apptest.ExpectWithin(f.tx, f.repos.App(), 1)
	gomock.InOrder(
		f.repos.Grants.EXPECT().SaveConsent(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c *grant.Consent) error {
			saved = c
			return nil
		}),
		apptest.ExpectAudit(t, f.repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.ConsentGiven && e.UserID == apptest.ID(100) && e.Detail["client_id"] == "app" && e.IP == meta.IP
		}),
	)
	// The consent as saved is what the code is decided on.
	f.grants.EXPECT().Consent(gomock.Any(), apptest.ID(100), "app").DoAndReturn(func(context.Context, uuid.UUID, string) (*grant.Consent, error) {
		if saved == nil || res.Errs()[0] != nil {
			return nil, grant.ErrNotFound
		}
		return saved, nil
	})
	code := f.expectCode(t, r.ID)
	out, err := f.h.Consent(context.Background(), r.ID, browserSecret, true, meta)
	if err != nil {
		t.Fatal(err)
	}
	if saved == nil || saved.UserID != apptest.ID(100) || saved.ClientID != "app" || !slices.Equal(saved.Scopes, r.Scopes) || !saved.GivenAt.Equal(apptest.T0) {
		t.Fatalf("consent saved %+v", saved)
	}
	checkCode(t, out, *code, r, s)
}

// TestConsentNotSignedIn: an answer from a browser no longer signed in
// saves nothing and sends it to the sign-in.
func TestConsentNotSignedIn(t *testing.T) {
	for _, allow := range []bool{true, false} {
		f := newAuthorize(t) // strict: no SaveConsent, no DeleteRequest
		r := keptRequest()
		f.expectKeptRequest(r, consentClient())
		out, err := f.h.Consent(context.Background(), r.ID, "stale", allow, meta)
		if err != nil || !out.SignIn || out.Refused != nil || out.Code != "" {
			t.Fatalf("allow %v: Consent = %+v, %v; want the sign-in", allow, out, err)
		}
	}
}

// TestConsentGone: an answer to a request that is gone changes nothing.
func TestConsentGone(t *testing.T) {
	for _, allow := range []bool{true, false} {
		f := newAuthorize(t)
		f.signIn(apptest.T0)
		f.grants.EXPECT().Request(gomock.Any(), apptest.ID(7)).Return(nil, grant.ErrNotFound)
		if out, err := f.h.Consent(context.Background(), apptest.ID(7), browserSecret, allow, meta); err != grant.ErrRequestGone || out != nil {
			t.Fatalf("allow %v: Consent = %+v, %v", allow, out, err)
		}
	}
}

// TestContinueKeepsPromptConsent: a kept request with prompt=consent still
// shows the consent page, after the sign-in and on the consent page's own
// GET, while the only consent is older than the request.
func TestContinueKeepsPromptConsent(t *testing.T) {
	f := newAuthorize(t) // strict: no code
	f.signIn(apptest.T0)
	r := keptRequest()
	r.ForceConsent = true
	f.expectKeptRequest(r, consentClient())
	f.grants.EXPECT().Consent(gomock.Any(), gomock.Any(), "app").Return(&grant.Consent{ClientID: "app",
		Scopes: []string{client.ScopeOpenID, client.ScopeEmail}, GivenAt: r.CreatedAt.Add(-time.Hour)}, nil)
	out, err := f.h.Continue(context.Background(), r.ID, browserSecret, meta)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Consent || out.Code != "" {
		t.Fatalf("outcome %+v, want the consent page again", out)
	}
}
