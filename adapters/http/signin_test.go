package http

import (
	"context"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gofiber/fiber/v2"
)

type (
	stubLogin struct {
		HandleFn func(ctx context.Context, in session.LoginInput) (*session.LoginResult, error)
	}
	stubLogout struct {
		HandleFn func(ctx context.Context, p session.Principal, meta app.RequestMeta) error
	}
	stubBrowser struct {
		BrowserFn func(ctx context.Context, secret string) (session.Principal, error)
	}
	stubRegister struct {
		HandleFn func(ctx context.Context, in account.RegisterInput) error
	}
)

func (s *stubLogin) Handle(ctx context.Context, in session.LoginInput) (*session.LoginResult, error) {
	return s.HandleFn(ctx, in)
}
func (s *stubLogout) Handle(ctx context.Context, p session.Principal, meta app.RequestMeta) error {
	return s.HandleFn(ctx, p, meta)
}
func (s *stubBrowser) Browser(ctx context.Context, secret string) (session.Principal, error) {
	return s.BrowserFn(ctx, secret)
}
func (s *stubRegister) Handle(ctx context.Context, in account.RegisterInput) error {
	return s.HandleFn(ctx, in)
}

const (
	testCSRF   = "cccccccccccccccccccccccccccccccccccccccccccc" // 43 characters, as a token is
	liveSecret = "browser-secret"
)

type signInFixture struct {
	login    *stubLogin
	loginMFA *stubLoginMFA
	logout   *stubLogout
	browser  *stubBrowser
	register *stubRegister
	guard    *stubIPLimiter
	app      *fiber.App
}

// newSignIn is the public app over stubs of the sign-in use cases; the
// browser session whose cookie holds liveSecret is the owner's.
func newSignIn(t *testing.T, publicURL string) *signInFixture {
	t.Helper()
	f := &signInFixture{login: &stubLogin{}, loginMFA: &stubLoginMFA{}, logout: &stubLogout{}, browser: &stubBrowser{}, register: &stubRegister{}, guard: &stubIPLimiter{}}
	f.browser.BrowserFn = func(_ context.Context, secret string) (session.Principal, error) {
		if secret != liveSecret {
			return session.Principal{}, domain.ErrUnauthorized
		}
		return session.Principal{UserID: userID, SessionID: sessionID, User: owner(t, "owner@example.com", true), Session: liveSession}, nil
	}
	f.app = NewServer(Config{PublicURL: publicURL, Pages: PageConfig{AppName: "Acme"}}, nil, UseCases{
		Login: f.login, LoginMFA: f.loginMFA, Logout: f.logout, Browser: f.browser, Register: f.register,
		Guard: f.guard, Ready: func(context.Context) error { return nil },
	})
	return f
}

// post sends a form with the browser's CSRF cookie (and the field, unless
// csrf is "").
func formPost(path, csrf string, fields url.Values, cookies ...*nethttp.Cookie) *nethttp.Request {
	if csrf != "" {
		fields.Set("csrf", csrf)
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req
}

func cookieOf(res *nethttp.Response, name string) *nethttp.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignInPageSetsACSRFCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, cookie string }{{"http://localhost:8080", "gatehouse_csrf"}, {"https://id.example.com", "__Host-gatehouse_csrf"}} {
		f := newSignIn(t, tc.url)
		res, body := do(t, f.app, request("GET", "/sign-in", ""))
		ck := cookieOf(res, tc.cookie)
		if res.StatusCode != 200 || ck == nil || len(ck.Value) != 43 || !ck.HttpOnly || ck.SameSite != nethttp.SameSiteStrictMode || ck.Path != "/" ||
			ck.Secure != strings.HasPrefix(tc.url, "https") {
			t.Fatalf("%s: status %d, cookie %+v", tc.url, res.StatusCode, ck)
		}
		page := string(body)
		for _, want := range []string{`name="csrf" value="` + ck.Value + `"`, `name="email"`, `name="password"`, `href="./sign-up"`, `href="./forgot-password"`, "Acme"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: page lacks %s", tc.url, want)
			}
		}
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("headers %v", res.Header)
		}
	}
}

// A form without the browser's CSRF token, or with another, is refused
// before any use case runs (the stubs' nil funcs would panic).
func TestSignInFormsRefuseAMissingOrWrongCSRFToken(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	fields := url.Values{"email": {"owner@example.com"}, "password": {"pw"}}
	for _, path := range []string{"/sign-in", "/sign-out", "/sign-up"} {
		for name, req := range map[string]*nethttp.Request{
			"missing": formPost(path, "", fields),
			"wrong":   formPost(path, strings.Repeat("d", 43), fields),
		} {
			res, body := do(t, f.app, req)
			if res.StatusCode != 403 || !strings.Contains(string(body), "reload the page") {
				t.Errorf("%s %s: %d %s", path, name, res.StatusCode, body)
			}
		}
	}
}

func TestSignInWithPassword(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "https://id.example.com")
	f.login.HandleFn = func(_ context.Context, in session.LoginInput) (*session.LoginResult, error) {
		if !in.Browser || in.Email != "owner@example.com" || in.Password != "correct horse" || in.Meta.IP == "" {
			t.Errorf("login input %+v", in)
		}
		return &session.LoginResult{TokenPair: &session.TokenPair{BrowserSecret: token.Secret(liveSecret)}}, nil
	}
	req := formPost("/sign-in", testCSRF, url.Values{"email": {"owner@example.com"}, "password": {"correct horse"}})
	req.Header.Set("Cookie", "__Host-gatehouse_csrf="+testCSRF)
	res, body := do(t, f.app, req)
	ck := cookieOf(res, "__Host-gatehouse_session")
	if res.StatusCode != 303 || res.Header.Get("Location") != "./sign-in" || ck == nil || ck.Value != liveSecret ||
		!ck.HttpOnly || !ck.Secure || ck.SameSite != nethttp.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge != 0 || !ck.Expires.IsZero() {
		t.Fatalf("status %d, cookie %+v, body %s", res.StatusCode, ck, body)
	}

	// Signed in: the page says who, and offers to sign out.
	get := request("GET", "/sign-in", "")
	get.AddCookie(&nethttp.Cookie{Name: "__Host-gatehouse_session", Value: liveSecret})
	res, body = do(t, f.app, get)
	if res.StatusCode != 200 || !strings.Contains(string(body), "owner@example.com") || !strings.Contains(string(body), `action="./sign-out"`) {
		t.Fatalf("signed-in page: %d %s", res.StatusCode, body)
	}
}

func TestSignInRefusals(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	f.login.HandleFn = func(_ context.Context, in session.LoginInput) (*session.LoginResult, error) {
		if in.Email == "slow@example.com" {
			return nil, domain.RateLimited(90)
		}
		return nil, domain.ErrInvalidCredentials
	}
	res, body := do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"email": {"who@example.com"}, "password": {"x"}}))
	if res.StatusCode != 401 || !strings.Contains(string(body), "The email or password is incorrect") || !strings.Contains(string(body), `value="who@example.com"`) ||
		cookieOf(res, "gatehouse_session") != nil {
		t.Fatalf("wrong password: %d %s", res.StatusCode, body)
	}
	res, body = do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"email": {"slow@example.com"}, "password": {"x"}}))
	if res.StatusCode != 429 || !strings.Contains(string(body), "too many attempts") {
		t.Fatalf("throttled: %d %s", res.StatusCode, body)
	}
}

// Each step counts against the per-IP limit of its API endpoint, before
// its use case runs (the stubs' nil funcs would panic).
func TestSignInStepsCountAgainstTheirIPLimits(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	var counted []limits.Endpoint
	f.guard.CheckIPFn = func(_ context.Context, e limits.Endpoint, _ string) error {
		counted = append(counted, e)
		return domain.RateLimited(60)
	}
	for _, fields := range []url.Values{{"email": {"a@example.com"}, "password": {"x"}}, {"mfa_token": {"t"}, "code": {"123456"}}} {
		if res, body := do(t, f.app, formPost("/sign-in", testCSRF, fields)); res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
			t.Fatalf("%v: %d %s", fields, res.StatusCode, body)
		}
	}
	if !slices.Equal(counted, []limits.Endpoint{limits.Login, limits.LoginMFA}) {
		t.Fatalf("counted %v", counted)
	}
}

func TestSignInWithCode(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	f.login.HandleFn = func(context.Context, session.LoginInput) (*session.LoginResult, error) {
		return &session.LoginResult{MFAToken: "step-token"}, nil
	}
	res, body := do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"email": {"owner@example.com"}, "password": {"pw"}}))
	if res.StatusCode != 200 || !strings.Contains(string(body), `name="mfa_token" value="step-token"`) || !strings.Contains(string(body), `name="code"`) {
		t.Fatalf("code page: %d %s", res.StatusCode, body)
	}
	f.loginMFA.HandleFn = func(_ context.Context, in session.LoginMFAInput) (*session.TokenPair, error) {
		switch {
		case !in.Browser || in.Token != "step-token":
			t.Errorf("input %+v", in)
		case in.Code == "000000":
			return nil, mfa.ErrInvalidCode
		case in.Code == "late":
			return nil, mfa.ErrLoginTokenInvalid
		}
		return &session.TokenPair{BrowserSecret: token.Secret(liveSecret)}, nil
	}
	step := func(code string) (*nethttp.Response, string) {
		res, body := do(t, f.app, formPost("/sign-in", testCSRF, url.Values{"mfa_token": {"step-token"}, "code": {code}}))
		return res, string(body)
	}
	if res, body := step("000000"); res.StatusCode != 401 || !strings.Contains(body, "This code is not right") || !strings.Contains(body, `value="step-token"`) {
		t.Fatalf("wrong code: %d %s", res.StatusCode, body)
	}
	if res, body := step("late"); res.StatusCode != 401 || !strings.Contains(body, "Sign in again") || !strings.Contains(body, `name="password"`) {
		t.Fatalf("expired step: %d %s", res.StatusCode, body)
	}
	if res, _ := step("123456"); res.StatusCode != 303 || cookieOf(res, "gatehouse_session").Value != liveSecret {
		t.Fatalf("right code: %d", res.StatusCode)
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	var ended []session.Principal
	f.logout.HandleFn = func(_ context.Context, p session.Principal, _ app.RequestMeta) error {
		ended = append(ended, p)
		return nil
	}
	res, body := do(t, f.app, formPost("/sign-out", testCSRF, url.Values{}, &nethttp.Cookie{Name: "gatehouse_session", Value: liveSecret}))
	ck := cookieOf(res, "gatehouse_session")
	if res.StatusCode != 200 || !strings.Contains(string(body), "You are signed out of Acme") || ck == nil || ck.Value != "" || !ck.Expires.Before(time.Now()) || ck.Path != "/" || !ck.HttpOnly {
		t.Fatalf("sign-out: %d cookie %+v %s", res.StatusCode, ck, body)
	}
	if len(ended) != 1 || ended[0].SessionID != sessionID {
		t.Fatalf("ended %+v", ended)
	}
	// A browser without a live session is signed out all the same.
	res, _ = do(t, f.app, formPost("/sign-out", testCSRF, url.Values{}, &nethttp.Cookie{Name: "gatehouse_session", Value: "stale"}))
	if res.StatusCode != 200 || len(ended) != 1 {
		t.Fatalf("stale sign-out: %d, ended %d", res.StatusCode, len(ended))
	}
}

func TestSignUp(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	f.register.HandleFn = func(_ context.Context, in account.RegisterInput) error {
		if in.Email != "new@example.com" || in.Password != "long enough password" {
			t.Errorf("register %+v", in)
		}
		return nil
	}
	res, body := do(t, f.app, formPost("/sign-up", testCSRF, url.Values{"email": {"new@example.com"}, "password": {"long enough password"}}))
	if res.StatusCode != 202 || !strings.Contains(string(body), "We sent a mail to new@example.com") {
		t.Fatalf("sign-up: %d %s", res.StatusCode, body)
	}
}
