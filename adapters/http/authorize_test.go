package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The authorization endpoint's tests drive /authorize, /consent and the
// sign-in's way back through the Fiber app over stubs: what the adapter
// refuses itself (on a page before the redirect URI is known, at it
// after), what it asks the use case, and how it answers each outcome.

const (
	oidcIssuer  = "http://id.example.test"
	rpRedirect  = "https://app.example.com/cb"
	rpChallenge = "VaYcSfCD-c-YNHH_sxWpd1SIK6vC0Zhi1WCc_RTPu0Y"
)

// pendingRequest is the id of the request the stubs keep.
var pendingRequest = uuid.MustParse("8f14e45f-ceea-467a-9575-8a2b1b5e1a01")

// registeredClient is the client "app" of the stubs: public, with the
// consent page, redirecting to rpRedirect or a loopback port.
func registeredClient() *client.Client {
	return &client.Client{
		ID: "app", Name: "Acme <Notes>", Type: client.Public, RedirectURIs: []string{rpRedirect, "http://127.0.0.1/cb"},
		GrantTypes: []client.Grant{client.AuthorizationCode, client.RefreshToken}, Scopes: client.KnownScopes, Consent: true,
	}
}

// signedInOwner is the user of the browser holding liveSecret.
var signedInOwner = user.Rehydrate(userID, user.RehydrateEmail("owner@example.com"), "$argon2id$stored", true, true, t0.Add(-48*time.Hour), t0.Add(-time.Hour), nil, nil)

type oidcFixture struct {
	authorize  *stubAuthorizer
	exchange   *stubExchange
	refresh    *stubGrantRefresher
	clientAuth *stubClientAuth
	idTokens   *stubIDTokens
	auth       *stubAuthenticate
	browser    *stubBrowser
	login      *stubLogin
	app        *fiber.App
}

// newOIDC is the public app at oidcIssuer over stubs of the provider's
// use cases. The authorizer knows the client "app" (registeredClient, by
// client.RedirectAllowed) and nothing else; Begin, Continue and Consent
// are unset. The browser whose cookie holds liveSecret is signed in.
func newOIDC(t testing.TB) *oidcFixture {
	t.Helper()
	f := &oidcFixture{
		authorize: &stubAuthorizer{}, exchange: &stubExchange{}, refresh: &stubGrantRefresher{}, clientAuth: &stubClientAuth{},
		idTokens: &stubIDTokens{}, auth: &stubAuthenticate{}, browser: &stubBrowser{}, login: &stubLogin{},
	}
	f.authorize.ClientFn = func(_ context.Context, id, redirectURI string) (*client.Client, error) {
		c := registeredClient()
		if id != c.ID {
			return nil, grant.ErrUnknownClient
		}
		if !client.RedirectAllowed(c.RedirectURIs, redirectURI) {
			return nil, grant.ErrRedirectURI
		}
		return c, nil
	}
	f.browser.BrowserFn = func(_ context.Context, secret string) (session.Principal, error) {
		if secret != liveSecret {
			return session.Principal{}, domain.ErrUnauthorized
		}
		return session.Principal{UserID: userID, SessionID: sessionID, User: signedInOwner, Session: liveSession}, nil
	}
	f.app = NewServer(Config{PublicURL: oidcIssuer + "/"}, nil, UseCases{
		Authorize: f.authorize, Exchange: f.exchange, RefreshGrant: f.refresh, ClientAuth: f.clientAuth, IDTokens: f.idTokens,
		Authenticate: f.auth, Browser: f.browser, Login: f.login, Guard: &stubIPLimiter{},
		Ready: func(context.Context) error { return nil },
	})
	return f
}

// authQuery is a valid authorization request of "app" with fields set
// over it ("" deletes one).
func authQuery(fields ...string) url.Values {
	q := url.Values{
		"client_id": {"app"}, "redirect_uri": {rpRedirect}, "response_type": {"code"}, "scope": {"openid email"},
		"state": {"st&=?é"}, "nonce": {"n-0S6"}, "code_challenge": {rpChallenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			q.Del(fields[i])
		} else {
			q.Set(fields[i], fields[i+1])
		}
	}
	return q
}

func getAuthorize(q url.Values, cookies ...*nethttp.Cookie) *nethttp.Request {
	req := request("GET", "/authorize?"+q.Encode(), "")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req
}

// checkRefusedPage fails t unless res is an HTML page with status that
// sends the browser nowhere, and returns the page.
func checkRefusedPage(t *testing.T, res *nethttp.Response, body []byte, status int) string {
	t.Helper()
	page := checkPage(t, res, body, status)
	if loc := res.Header.Get("Location"); loc != "" {
		t.Fatalf("a refusal page redirects to %q", loc)
	}
	return page
}

// clientRedirect checks that res sends the browser (303) to the
// registered redirect URI with the issuer and state st, and returns the
// rest of its query.
func clientRedirect(t *testing.T, res *nethttp.Response, body []byte, st string) url.Values {
	t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != fiber.StatusSeeOther || !strings.HasPrefix(loc, rpRedirect+"?") {
		t.Fatalf("%d to %q, want 303 to the redirect URI: %s", res.StatusCode, loc, body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("iss") != oidcIssuer || len(q["iss"]) != 1 {
		t.Errorf("iss %q, want %q", q["iss"], oidcIssuer)
	}
	if q.Get("state") != st || len(q["state"]) > 1 || st == "" && q.Has("state") {
		t.Errorf("state %q, want %q", q["state"], st)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	q.Del("iss")
	q.Del("state")
	return q
}

// checkRefusal fails t unless the client is sent error code (with a
// description) and nothing else.
func checkRefusal(t *testing.T, q url.Values, code string) {
	t.Helper()
	if q.Get("error") != code || q.Get("error_description") == "" || q.Has("code") || len(q) != 2 {
		t.Errorf("redirect query %v, want error %s with a description", q, code)
	}
}

// TestAuthorizeUnknownClientOrRedirectIsAPage: until the client and its
// redirect URI are known, a refusal is a page for the user, never a
// redirect (the use case's Begin is unset: reaching it is a 500).
func TestAuthorizeUnknownClientOrRedirectIsAPage(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	for _, tc := range []struct {
		name string
		q    url.Values
		says string
	}{
		{"unknown client", authQuery("client_id", "nobody"), "is not registered"},
		{"no client", authQuery("client_id", ""), "is not registered"},
		{"unregistered redirect", authQuery("redirect_uri", "https://evil.example.com/cb"), "has not registered"},
		{"registered redirect plus a path", authQuery("redirect_uri", rpRedirect+"/x"), "has not registered"},
		{"no redirect", authQuery("redirect_uri", ""), "has not registered"},
		{"unknown client, bad response type", authQuery("client_id", "nobody", "response_type", "token"), "is not registered"},
		{"unregistered redirect, request object", authQuery("redirect_uri", "https://evil.example.com/cb", "request", "eyJ.x.y"), "has not registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, f.app, getAuthorize(tc.q))
			page := checkRefusedPage(t, res, body, 400)
			wantIn(t, tc.name, page, tc.says)
			notIn(t, tc.name, page, "evil.example.com")
		})
	}
}

// TestAuthorizeRepeatedParameters: a parameter that may appear once is
// refused on a page when it appears twice, even the redirect URI (which
// of the two would be the place to answer?).
func TestAuthorizeRepeatedParameters(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	for _, p := range []string{"redirect_uri", "client_id", "state", "scope", "code_challenge", "response_type", "prompt"} {
		q := authQuery()
		q.Add(p, q.Get(p))
		if p == "prompt" {
			q["prompt"] = []string{"login", "none"}
		}
		res, body := do(t, f.app, getAuthorize(q))
		wantIn(t, p, checkRefusedPage(t, res, body, 400), "repeated a parameter")
	}
	// A POSTed request's form is read the same way.
	q := authQuery()
	q.Add("redirect_uri", "https://evil.example.com/cb")
	res, body := do(t, f.app, formPost("/authorize", "", q))
	checkRefusedPage(t, res, body, 400)
}

// TestAuthorizeRefusalsGoToTheClient: once the client and its redirect
// URI are known, what the adapter refuses goes there, with the state and
// the issuer.
func TestAuthorizeRefusalsGoToTheClient(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	for _, tc := range []struct {
		name string
		q    url.Values
		code string
	}{
		{"request object", authQuery("request", "eyJhbGciOiJub25lIn0.e30."), "request_not_supported"},
		{"request_uri", authQuery("request_uri", "https://app.example.com/req.jwt"), "request_uri_not_supported"},
		{"implicit", authQuery("response_type", "token"), "unsupported_response_type"},
		{"hybrid", authQuery("response_type", "code id_token"), "unsupported_response_type"},
		{"no response type", authQuery("response_type", ""), "unsupported_response_type"},
		{"fragment mode", authQuery("response_mode", "fragment"), "invalid_request"},
		{"prompt none and login", authQuery("prompt", "none login"), "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, f.app, getAuthorize(tc.q))
			checkRefusal(t, clientRedirect(t, res, body, "st&=?é"), tc.code)
		})
	}
	t.Run("without a state", func(t *testing.T) {
		res, body := do(t, f.app, getAuthorize(authQuery("state", "", "response_type", "token")))
		checkRefusal(t, clientRedirect(t, res, body, ""), "unsupported_response_type")
	})
	t.Run("a loopback redirect keeps its port", func(t *testing.T) {
		res, body := do(t, f.app, getAuthorize(authQuery("redirect_uri", "http://127.0.0.1:61234/cb", "response_type", "token")))
		if loc := res.Header.Get("Location"); res.StatusCode != 303 || !strings.HasPrefix(loc, "http://127.0.0.1:61234/cb?") {
			t.Fatalf("%d to %q: %s", res.StatusCode, loc, body)
		}
	})
}

// TestAuthorizeAsksTheUseCase: a valid request reaches Begin as it was
// sent, with the browser's cookie, and the outcome is answered: a code or
// an error at the redirect URI, or the sign-in or consent page for the
// kept request.
func TestAuthorizeAsksTheUseCase(t *testing.T) {
	t.Parallel()
	kept := &grant.Request{ID: pendingRequest, ClientID: "app", RedirectURI: rpRedirect, State: "st&=?é"}
	for _, tc := range []struct {
		name    string
		outcome oauth.Outcome
		check   func(t *testing.T, res *nethttp.Response, body []byte)
	}{
		{"code", oauth.Outcome{Code: token.Secret("the-code")}, func(t *testing.T, res *nethttp.Response, body []byte) {
			if q := clientRedirect(t, res, body, "st&=?é"); q.Get("code") != "the-code" || len(q) != 1 {
				t.Errorf("query %v, want the code alone", q)
			}
		}},
		{"refused", oauth.Outcome{Refused: grant.ErrLoginRequired}, func(t *testing.T, res *nethttp.Response, body []byte) {
			q := clientRedirect(t, res, body, "st&=?é")
			checkRefusal(t, q, "login_required")
			if q.Get("error_description") != grant.ErrLoginRequired.Message {
				t.Errorf("description %q", q.Get("error_description"))
			}
		}},
		{"sign in", oauth.Outcome{SignIn: true}, func(t *testing.T, res *nethttp.Response, body []byte) {
			if loc := res.Header.Get("Location"); res.StatusCode != 303 || loc != "./sign-in?pending="+pendingRequest.String() {
				t.Errorf("%d to %q: %s", res.StatusCode, loc, body)
			}
		}},
		{"consent", oauth.Outcome{Consent: true}, func(t *testing.T, res *nethttp.Response, body []byte) {
			if loc := res.Header.Get("Location"); res.StatusCode != 303 || loc != "./consent?pending="+pendingRequest.String() {
				t.Errorf("%d to %q: %s", res.StatusCode, loc, body)
			}
		}},
	} {
		for _, method := range []string{"GET", "POST"} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				f := newOIDC(t)
				var asked []oauth.AuthorizeInput
				f.authorize.BeginFn = func(_ context.Context, c *client.Client, in oauth.AuthorizeInput) (*oauth.Outcome, error) {
					if c.ID != "app" {
						t.Errorf("Begin for client %q", c.ID)
					}
					asked = append(asked, in)
					out := tc.outcome
					out.Request, out.Client = kept, c
					return &out, nil
				}
				q := authQuery("prompt", "login consent", "max_age", "300", "scope", "openid email profile")
				var req *nethttp.Request
				cookie := &nethttp.Cookie{Name: "gatehouse_session", Value: liveSecret}
				if method == "GET" {
					req = getAuthorize(q, cookie)
				} else {
					req = formPost("/authorize", "", q, cookie)
				}
				res, body := do(t, f.app, req)
				tc.check(t, res, body)
				if len(asked) != 1 {
					t.Fatalf("Begin called %d times", len(asked))
				}
				in := asked[0]
				if in.RedirectURI != rpRedirect || !slices.Equal(in.Scopes, []string{"openid", "email", "profile"}) || in.State != "st&=?é" ||
					in.Nonce != "n-0S6" || in.CodeChallenge != rpChallenge || in.ChallengeMethod != "S256" || in.Browser != liveSecret ||
					!in.ForceLogin || !in.ForceConsent || in.PromptNone || in.MaxAge == nil || *in.MaxAge != 5*time.Minute || in.Meta.IP == "" {
					t.Errorf("Begin asked %+v", in)
				}
			})
		}
	}
}

// TestAuthorizeFault: a use case's fault is the error handler's 500, not
// a redirect.
func TestAuthorizeFault(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	f.authorize.BeginFn = func(context.Context, *client.Client, oauth.AuthorizeInput) (*oauth.Outcome, error) {
		return nil, errors.New("connection to 10.0.0.5 refused")
	}
	res, body := do(t, f.app, getAuthorize(authQuery()))
	if res.StatusCode != 500 || res.Header.Get("Location") != "" || strings.Contains(string(body), "10.0.0.5") {
		t.Fatalf("%d %q %s", res.StatusCode, res.Header.Get("Location"), body)
	}
}

// TestAuthorizeResume: /authorize?pending=ID continues the kept request
// with the browser's cookie; an id that is not a UUID, or a request that
// is gone, is a 404 page that sends the browser nowhere.
func TestAuthorizeResume(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	var asked []uuid.UUID
	f.authorize.ContinueFn = func(_ context.Context, id uuid.UUID, browser string, _ app.RequestMeta) (*oauth.Outcome, error) {
		asked = append(asked, id)
		if id != pendingRequest {
			return nil, grant.ErrRequestGone
		}
		if browser != liveSecret {
			t.Errorf("Continue with cookie %q", browser)
		}
		return &oauth.Outcome{Request: &grant.Request{ID: id, RedirectURI: rpRedirect, State: "s1"}, Code: "the-code"}, nil
	}
	for _, pending := range []string{"not-a-uuid", "1", uuid.NewString()} {
		res, body := do(t, f.app, request("GET", "/authorize?pending="+url.QueryEscape(pending), ""))
		wantIn(t, pending, checkRefusedPage(t, res, body, 404), "took too long or was already completed")
	}
	if len(asked) != 1 {
		t.Fatalf("Continue asked for %v, want only the UUID", asked)
	}
	req := request("GET", "/authorize?pending="+pendingRequest.String(), "")
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_session", Value: liveSecret})
	res, body := do(t, f.app, req)
	if q := clientRedirect(t, res, body, "s1"); q.Get("code") != "the-code" {
		t.Fatalf("query %v", q)
	}
	// A deleted client is a page too.
	f.authorize.ContinueFn = func(context.Context, uuid.UUID, string, app.RequestMeta) (*oauth.Outcome, error) {
		return nil, grant.ErrUnknownClient
	}
	res, body = do(t, f.app, request("GET", "/authorize?pending="+pendingRequest.String(), ""))
	checkRefusedPage(t, res, body, 400)
}

// TestConsentPage: the page names the client and says what it asks for,
// in a form that carries the pending request and the CSRF token; a
// browser that needs no consent (any more) is answered as /authorize
// would.
func TestConsentPage(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	out := &oauth.Outcome{
		Request: &grant.Request{ID: pendingRequest, RedirectURI: rpRedirect, State: "s1", Scopes: []string{"openid", "email", "offline_access"}},
		Client:  registeredClient(), Consent: true,
	}
	f.authorize.ContinueFn = func(_ context.Context, id uuid.UUID, _ string, _ app.RequestMeta) (*oauth.Outcome, error) {
		if id != pendingRequest {
			return nil, grant.ErrRequestGone
		}
		return out, nil
	}
	req := request("GET", "/consent?pending="+pendingRequest.String(), "")
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_session", Value: liveSecret})
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
	res, body := do(t, f.app, req)
	page := checkPage(t, res, body, 200)
	wantIn(t, "consent page", page, "Acme &lt;Notes&gt;", "owner@example.com", "see your email address", "stay signed in",
		`name="pending" value="`+pendingRequest.String()+`"`, `name="csrf" value="`+testCSRF+`"`, `name="decision"`, `value="allow"`, `value="deny"`)
	notIn(t, "consent page", page, "<Notes>")
	if res.Header.Get("X-Frame-Options") != "DENY" && !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("the consent page may be framed: %v", res.Header)
	}

	for _, pending := range []string{"x", uuid.NewString()} {
		res, body := do(t, f.app, request("GET", "/consent?pending="+pending, ""))
		checkRefusedPage(t, res, body, 404)
	}

	out = &oauth.Outcome{Request: out.Request, Client: out.Client, Code: "the-code"}
	res, body = do(t, f.app, request("GET", "/consent?pending="+pendingRequest.String(), ""))
	if q := clientRedirect(t, res, body, "s1"); q.Get("code") != "the-code" {
		t.Fatalf("query %v", q)
	}
}

// TestConsentPost: the answer needs the CSRF token (403 before the use
// case, whose stub is unset); allow and deny reach the use case as such,
// whose outcome is answered.
func TestConsentPost(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	fields := func(decision string) url.Values {
		return url.Values{"pending": {pendingRequest.String()}, "decision": {decision}}
	}
	for name, req := range map[string]*nethttp.Request{
		"missing": formPost("/consent", "", fields("allow")),
		"wrong":   formPost("/consent", strings.Repeat("d", 43), fields("allow")),
	} {
		res, body := do(t, f.app, req)
		if res.StatusCode != 403 || res.Header.Get("Location") != "" {
			t.Fatalf("%s CSRF token: %d %s", name, res.StatusCode, body)
		}
	}
	var answers []bool
	f.authorize.ConsentFn = func(_ context.Context, id uuid.UUID, browser string, allow bool, _ app.RequestMeta) (*oauth.Outcome, error) {
		if id != pendingRequest || browser != liveSecret {
			t.Errorf("Consent(%s, %q)", id, browser)
		}
		answers = append(answers, allow)
		out := &oauth.Outcome{Request: &grant.Request{ID: id, RedirectURI: rpRedirect, State: "s1"}}
		if allow {
			out.Code = "the-code"
		} else {
			out.Refused = grant.ErrAccessDenied
		}
		return out, nil
	}
	cookie := &nethttp.Cookie{Name: "gatehouse_session", Value: liveSecret}
	res, body := do(t, f.app, formPost("/consent", testCSRF, fields("allow"), cookie))
	if q := clientRedirect(t, res, body, "s1"); q.Get("code") != "the-code" {
		t.Fatalf("allowed: %v", q)
	}
	for _, decision := range []string{"deny", "", "Allow"} {
		res, body = do(t, f.app, formPost("/consent", testCSRF, fields(decision), cookie))
		checkRefusal(t, clientRedirect(t, res, body, "s1"), "access_denied")
	}
	if !slices.Equal(answers, []bool{true, false, false, false}) {
		t.Fatalf("answers %v, want allow then three refusals", answers)
	}
	res, body = do(t, f.app, formPost("/consent", testCSRF, url.Values{"pending": {"x"}, "decision": {"allow"}}, cookie))
	checkRefusedPage(t, res, body, 404)
}

// TestSignInForAPendingRequest: the sign-in reached from the authorization
// endpoint shows its form with the pending request even to a signed-in
// browser (the request wants a fresh sign-in), and sends the browser back
// into the request; a pending value that is not a UUID is dropped.
func TestSignInForAPendingRequest(t *testing.T) {
	t.Parallel()
	f := newOIDC(t)
	cookie := &nethttp.Cookie{Name: "gatehouse_session", Value: liveSecret}
	// The page looks the request up for its form-action (the client's
	// origin), as a browser without a session.
	f.authorize.ContinueFn = func(_ context.Context, id uuid.UUID, browser string, _ app.RequestMeta) (*oauth.Outcome, error) {
		if id != pendingRequest || browser != "" {
			t.Errorf("Continue(%v, %q)", id, browser)
		}
		return &oauth.Outcome{Request: &grant.Request{ID: id, RedirectURI: rpRedirect}, SignIn: true}, nil
	}
	for _, signedIn := range []bool{false, true} {
		req := request("GET", "/sign-in?pending="+pendingRequest.String(), "")
		if signedIn {
			req.AddCookie(cookie)
		}
		res, body := do(t, f.app, req)
		page := checkPage(t, res, body, 200)
		wantIn(t, "sign-in form", page, `name="password"`, `name="pending" value="`+pendingRequest.String()+`"`)
	}
	for _, bad := range []string{"x", `"><script>`, pendingRequest.String() + "x"} {
		res, body := do(t, f.app, request("GET", "/sign-in?pending="+url.QueryEscape(bad), ""))
		page := checkPage(t, res, body, 200)
		wantIn(t, bad, page, `name="password"`)
		notIn(t, bad, page, `name="pending"`, "pending=")
	}

	f.login.HandleFn = func(context.Context, session.LoginInput) (*session.LoginResult, error) {
		return &session.LoginResult{TokenPair: &session.TokenPair{BrowserSecret: token.Secret(liveSecret)}}, nil
	}
	signIn := func(pending string) *nethttp.Response {
		res, _ := do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"email": {"owner@example.com"}, "password": {"pw"}, "pending": {pending}}))
		if ck := cookieOf(res, "gatehouse_session"); ck == nil || ck.Value != liveSecret {
			t.Fatalf("pending %q: no session cookie", pending)
		}
		return res
	}
	if res := signIn(pendingRequest.String()); res.StatusCode != 303 || res.Header.Get("Location") != "./authorize?pending="+pendingRequest.String() {
		t.Fatalf("%d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, bad := range []string{"x", "https://evil.example.com/", "../admin"} {
		if res := signIn(bad); res.StatusCode != 303 || res.Header.Get("Location") != "./sign-in" {
			t.Fatalf("pending %q: %d to %q", bad, res.StatusCode, res.Header.Get("Location"))
		}
	}
}

// TestAuthorizeUnkeepableParameters: a parameter that is not text (a NUL
// or another control character, invalid UTF-8) or is overlong is refused
// on a page before anything is kept or looked up.
func TestAuthorizeUnkeepableParameters(t *testing.T) {
	t.Parallel()
	f := newOIDC(t) // Authorize unset: reaching it is a 500
	for name, q := range map[string]string{
		"NUL in state":         "state=a%00b",
		"newline in nonce":     "nonce=a%0Ab",
		"invalid UTF-8":        "state=%FF%FE",
		"overlong state":       "state=" + strings.Repeat("s", 2049),
		"control in client_id": "client_id=a%01",
	} {
		res, body := do(t, f.app, request("GET", "/authorize?response_type=code&"+q, ""))
		page := checkPage(t, res, body, 400)
		if res.Header.Get("Location") != "" || !strings.Contains(page, "cannot be read") {
			t.Errorf("%s: %d %q %s", name, res.StatusCode, res.Header.Get("Location"), page)
		}
	}
}
