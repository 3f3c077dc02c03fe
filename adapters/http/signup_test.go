package http

import (
	"context"
	nethttp "net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

const pendingReq = "0b6f3a52-7c1e-4c8e-9a51-3d2f6e8b9c10"

// The sign-up form of a pending authorization request carries its id, and
// so does the way back to the sign-in page; anything but a UUID is dropped.
func TestSignUpPageCarriesThePendingRequest(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	res, body := do(t, f.app, request("GET", "/sign-up?pending="+pendingReq, ""))
	wantIn(t, "pending", checkPage(t, res, body, 200), `name="pending" value="`+pendingReq+`"`, `href="./sign-in?pending=`+pendingReq+`"`)
	res, body = do(t, f.app, request("GET", "/sign-up?pending=%22%3E%3Cscript%3E", ""))
	notIn(t, "not a UUID", checkPage(t, res, body, 200), `name="pending"`, "script", "?pending=")
}

// wikiRequest is Authorize.Continue for the pending request pendingReq of
// the client Wiki, asked without a browser session: it asks for the
// sign-in.
func wikiRequest(t *testing.T) func(context.Context, uuid.UUID, string, app.RequestMeta) (*oauth.Outcome, error) {
	return func(_ context.Context, id uuid.UUID, browser string, _ app.RequestMeta) (*oauth.Outcome, error) {
		if id.String() != pendingReq || browser != "" {
			t.Errorf("continue %s with browser %q", id, browser)
		}
		return &oauth.Outcome{Request: &grant.Request{ID: id, RedirectURI: "https://wiki.example.com:8443/cb"}, Client: &client.Client{Name: "Wiki"}, SignIn: true}, nil
	}
}

// Browsers check form-action along the redirects that answer a form, so
// a page whose form leads into a pending request allows the origin of
// its redirect URI as well; a request that is gone allows nothing more.
func TestPagesOfAPendingRequestMayPostOnToItsRedirectURI(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	f.authz.ContinueFn = wikiRequest(t)
	const want = "form-action 'self' https://wiki.example.com:8443;"
	res, _ := do(t, f.app, request("GET", "/sign-in?pending="+pendingReq, ""))
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Errorf("sign-in page of the request: CSP %q, want %q", csp, want)
	}
	f.verify.HandleFn = func(context.Context, string, string, app.RequestMeta) (*user.User, error) {
		return nil, account.ErrNotThisRegistration
	}
	res, _ = verifyWithPending(t, f, pendingReq)
	if csp := res.Header.Get("Content-Security-Policy"); res.StatusCode != 400 || !strings.Contains(csp, want) {
		t.Errorf("verification form of the request's sign-up: %d, CSP %q, want %q", res.StatusCode, csp, want)
	}
	res, _ = do(t, f.app, request("GET", "/sign-in", ""))
	if csp := res.Header.Get("Content-Security-Policy"); csp != hostedPageCSP {
		t.Errorf("sign-in page: CSP %q, want %q", csp, hostedPageCSP)
	}
	f.authz.ContinueFn = func(context.Context, uuid.UUID, string, app.RequestMeta) (*oauth.Outcome, error) {
		return nil, grant.ErrRequestGone
	}
	res, _ = do(t, f.app, request("GET", "/sign-in?pending="+pendingReq, ""))
	if csp := res.Header.Get("Content-Security-Policy"); csp != hostedPageCSP {
		t.Errorf("sign-in page of a request gone: CSP %q, want %q", csp, hostedPageCSP)
	}
}

func TestFormSource(t *testing.T) {
	t.Parallel()
	for uri, want := range map[string]string{
		"https://wiki.example.com/cb":                 "https://wiki.example.com",
		"http://127.0.0.1:49152/cb?x=1":               "http://127.0.0.1:49152",
		"http://[::1]:8080/cb":                        "http://[::1]:8080",
		"com.example.app:/oauth2redirect":             "com.example.app:",
		"https://a.example.com;script-src":            "",
		"http:///cb":                                  "",
		"/relative":                                   "",
		"https://wiki.example.com 'unsafe-inline'/cb": "",
	} {
		if got := formSource(uri); got != want {
			t.Errorf("formSource(%q) = %q, want %q", uri, got, want)
		}
	}
}

// The sign-up POST of a pending request keeps the request's id in the
// pending cookie, whatever the address (the use case answers the same
// either way); a sign-up without one forgets a cookie kept before.
func TestSignUpKeepsThePendingRequestForTheVerification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, cookie string }{{"http://localhost:8080", "gatehouse_pending"}, {"https://id.example.com", "__Host-gatehouse_pending"}} {
		f := newSignIn(t, tc.url)
		f.register.HandleFn = func(context.Context, account.RegisterInput) error { return nil }
		req := formPost("/sign-up", testCSRF, url.Values{"email": {"new@example.com"}, "password": {"long enough password"}, "pending": {pendingReq}})
		req.Header.Set("Cookie", strings.Replace(req.Header.Get("Cookie"), "gatehouse_csrf", strings.TrimSuffix(tc.cookie, "pending")+"csrf", 1))
		res, body := do(t, f.app, req)
		ck := cookieOf(res, tc.cookie)
		if res.StatusCode != 202 || ck == nil || ck.Value != pendingReq || !ck.HttpOnly || ck.SameSite != nethttp.SameSiteLaxMode || ck.Path != "/" ||
			ck.MaxAge != int(grant.RequestTTL.Seconds()) || ck.Secure != strings.HasPrefix(tc.url, "https") {
			t.Fatalf("%s: status %d, cookie %+v", tc.url, res.StatusCode, ck)
		}
		wantIn(t, tc.url, string(body), "We sent a mail to new@example.com", `href="./sign-in?pending=`+pendingReq+`"`)
	}

	f := newSignIn(t, "http://localhost:8080")
	f.register.HandleFn = func(context.Context, account.RegisterInput) error { return nil }
	res, _ := do(t, f.app, formPost("/sign-up", testCSRF, url.Values{"email": {"new@example.com"}, "password": {"long enough password"}},
		&nethttp.Cookie{Name: "gatehouse_pending", Value: pendingReq}))
	if ck := cookieOf(res, "gatehouse_pending"); res.StatusCode != 202 || ck == nil || ck.Value != "" || ck.MaxAge >= 0 && ck.Expires.IsZero() {
		t.Fatalf("a sign-up without a pending request: %d, cookie %+v", res.StatusCode, ck)
	}
}

// verifyWithPending posts the verification form from a browser that holds
// the pending cookie value.
func verifyWithPending(t *testing.T, f *signInFixture, value string) (*nethttp.Response, string) {
	t.Helper()
	res, body := do(t, f.app, formPost("/verify-email", testCSRF, url.Values{"token": {"the-token"}, "password": {"long enough password"}},
		&nethttp.Cookie{Name: "gatehouse_pending", Value: value}))
	return res, string(body)
}

// The verification in the browser that signed up for a pending request
// signs it in with the registration's password (the login use case, after
// the per-IP limit of /v1/login) and sends it on into the request; the
// pending cookie is spent.
func TestVerificationLeadsBackIntoThePendingRequest(t *testing.T) {
	t.Parallel()
	f := newSignIn(t, "http://localhost:8080")
	f.verify.HandleFn = func(context.Context, string, string, app.RequestMeta) (*user.User, error) {
		return owner(t, "new@example.com", true), nil
	}
	f.authz.ContinueFn = wikiRequest(t)
	var counted []limits.Endpoint
	f.guard.CheckIPFn = func(_ context.Context, e limits.Endpoint, _ string) error {
		counted = append(counted, e)
		return nil
	}
	f.login.HandleFn = func(_ context.Context, in session.LoginInput) (*session.LoginResult, error) {
		if in.Email != "new@example.com" || in.Password != "long enough password" || !in.Browser {
			t.Errorf("login input %+v", in)
		}
		return &session.LoginResult{TokenPair: &session.TokenPair{BrowserSecret: token.Secret(liveSecret)}}, nil
	}
	res, body := verifyWithPending(t, f, pendingReq)
	if res.StatusCode != 303 || res.Header.Get("Location") != "./authorize?pending="+pendingReq {
		t.Fatalf("verified: %d %s %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if ck := cookieOf(res, "gatehouse_session"); ck == nil || ck.Value != liveSecret {
		t.Fatalf("session cookie %+v", ck)
	}
	if ck := cookieOf(res, "gatehouse_pending"); ck == nil || ck.Value != "" {
		t.Fatalf("the pending cookie is kept: %+v", ck)
	}
	if len(counted) != 2 || counted[1] != limits.Login {
		t.Fatalf("limits counted %v, want the verification's and the login's", counted)
	}

	// Over the login limit: verified all the same, and a link on to the
	// request's sign-in page, named after its client.
	f.guard.CheckIPFn = func(_ context.Context, e limits.Endpoint, _ string) error {
		if e == limits.Login {
			return domain.RateLimited(60)
		}
		return nil
	}
	res, body = verifyWithPending(t, f, pendingReq)
	wantIn(t, "over the limit", checkPage(t, res, []byte(body), 200), "Your email address is verified", `href="./sign-in?pending=`+pendingReq+`"`, "Continue to Wiki")
	if cookieOf(res, "gatehouse_session") != nil {
		t.Fatal("signed in over the login limit")
	}

	// A request gone by now: the plain verified page.
	f.authz.ContinueFn = func(context.Context, uuid.UUID, string, app.RequestMeta) (*oauth.Outcome, error) {
		return nil, grant.ErrRequestGone
	}
	res, body = verifyWithPending(t, f, pendingReq)
	notIn(t, "gone", checkPage(t, res, []byte(body), 200), "pending", "Continue to Wiki")

	// A cookie that is not a UUID is no request at all.
	f.authz.ContinueFn = nil
	res, body = verifyWithPending(t, f, "../sign-out")
	notIn(t, "not a UUID", checkPage(t, res, []byte(body), 200), "pending", "sign-out")
}
