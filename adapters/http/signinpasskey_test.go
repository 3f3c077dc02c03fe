package http

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app/limits"
	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// passkeySignIn is the public app of a service with passkeys over a stub
// of the passkey sign-in (unset funcs must not run) and the per-IP limit,
// which lets everything through and records what it counted.
type passkeySignIn struct {
	login   *stubPasskeyLogin
	guard   *stubIPLimiter
	app     *fiber.App
	counted []limits.Endpoint
}

func newPasskeySignIn(t *testing.T, publicURL string, passkeys bool) *passkeySignIn {
	t.Helper()
	f := &passkeySignIn{login: &stubPasskeyLogin{}, guard: &stubIPLimiter{}}
	f.guard.CheckIPFn = func(_ context.Context, e limits.Endpoint, _ string) error {
		f.counted = append(f.counted, e)
		return nil
	}
	browser := &stubBrowser{BrowserFn: func(context.Context, string) (session.Principal, error) {
		return session.Principal{}, domain.ErrUnauthorized
	}}
	f.app = NewServer(Config{PublicURL: publicURL, Pages: PageConfig{AppName: "Acme", Passkeys: passkeys}}, nil, UseCases{
		PasskeyLogin: f.login, Guard: f.guard, Browser: browser, Ready: func(context.Context) error { return nil },
	})
	return f
}

var signInChallenge = uuid.MustParse("6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")

// passkeyForm is the form the sign-in page's script posts, with the
// browser's CSRF cookie and, unless csrf is "", the field.
func passkeyForm(csrf, credential string, more ...string) *nethttp.Request {
	fields := url.Values{"challenge_id": {signInChallenge.String()}, "credential": {credential}}
	for i := 0; i+1 < len(more); i += 2 {
		fields.Set(more[i], more[i+1])
	}
	return formPost("/sign-in", csrf, fields)
}

// The sign-in page of a service with passkeys loads the scripts that run
// the ceremony (its CSP allows this site's scripts and requests), has the
// button hidden until the script shows it, and offers passkeys in the
// email field's autofill; without passkeys it has none of that and no
// script may run.
func TestSignInPageOffersPasskeysOnlyWhenOn(t *testing.T) {
	t.Parallel()
	on := []string{`<button type="button" id="passkey-sign-in" hidden>`, `autocomplete="username webauthn"`,
		`<script src="./assets/webauthn.js" defer></script>`, `<script src="./assets/signin.js" defer></script>`,
		`id="passkey-form" method="post" action="./sign-in"`}
	for _, passkeys := range []bool{true, false} {
		f := newPasskeySignIn(t, "http://localhost:8080", passkeys)
		res, body := do(t, f.app, request("GET", "/sign-in", ""))
		page, csp := string(body), res.Header.Get("Content-Security-Policy")
		if res.StatusCode != 200 {
			t.Fatalf("passkeys %t: %d %s", passkeys, res.StatusCode, body)
		}
		for _, want := range on {
			if strings.Contains(page, want) != passkeys {
				t.Errorf("passkeys %t: page has %s = %t", passkeys, want, !passkeys)
			}
		}
		if strings.Contains(csp, "script-src 'self'") != passkeys || strings.Contains(page, "webauthn") != passkeys {
			t.Errorf("passkeys %t: CSP %q", passkeys, csp)
		}
		if !passkeys && !strings.Contains(page, `autocomplete="email"`) {
			t.Errorf("without passkeys the email field lost its autocomplete: %s", page)
		}
	}
	// The other pages stay without scripts.
	f := newPasskeySignIn(t, "http://localhost:8080", true)
	res, body := do(t, f.app, request("GET", "/sign-up", ""))
	if strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src") || strings.Contains(string(body), "<script") {
		t.Errorf("the sign-up page loads scripts: %s", body)
	}
}

// The begin answers the challenge and the options when the request
// repeats the browser's CSRF token in X-CSRF-Token, counted against the
// login limit; without the header, or with another token, 403 before the
// use case runs.
func TestPasskeySignInBegin(t *testing.T) {
	t.Parallel()
	f := newPasskeySignIn(t, "http://localhost:8080", true)
	for _, header := range [][]string{nil, {"X-CSRF-Token", strings.Repeat("d", 43)}, {"X-CSRF-Token", ""}} {
		req := request("POST", "/sign-in/passkey/begin", "", header...)
		req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
		res, body := do(t, f.app, req)
		decodeProblem(t, res, body, 403, "csrf_refused")
	}
	// A header without the cookie matches nothing.
	res, body := do(t, f.app, request("POST", "/sign-in/passkey/begin", "", "X-CSRF-Token", testCSRF))
	decodeProblem(t, res, body, 403, "csrf_refused")
	if len(f.counted) != 0 {
		t.Errorf("refused begins counted %v", f.counted)
	}

	f.login.BeginFn = func(context.Context) (apppasskey.Begun, error) {
		return apppasskey.Begun{ChallengeID: signInChallenge, Options: json.RawMessage(`{"publicKey":{"challenge":"abc","rpId":"localhost"}}`)}, nil
	}
	req := request("POST", "/sign-in/passkey/begin", "", "X-CSRF-Token", testCSRF)
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
	res, body = do(t, f.app, req)
	got := decodeJSON(t, res, body, 200)
	if got["challenge_id"] != signInChallenge.String() || got["options"].(map[string]any)["publicKey"].(map[string]any)["rpId"] != "localhost" ||
		res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("begin answered %v", got)
	}
	if len(f.counted) != 1 || f.counted[0] != limits.PasskeyBegin {
		t.Errorf("the begin counted against %v, want the passkey begin limit once (not the login one)", f.counted)
	}

	f.guard.CheckIPFn = func(context.Context, limits.Endpoint, string) error { return domain.RateLimited(60) }
	req = request("POST", "/sign-in/passkey/begin", "", "X-CSRF-Token", testCSRF)
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
	res, body = do(t, f.app, req)
	decodeProblem(t, res, body, 429, "rate_limited")
}

// The finish is a form like the password's: no CSRF token, 403 before
// anything runs; a refused passkey, the form again with what to do next;
// MFA needed, the code page; success, 303 with the session cookie, into
// the pending authorization request when there is one.
func TestPasskeySignInFinish(t *testing.T) {
	t.Parallel()
	f := newPasskeySignIn(t, "https://id.example.com", true)
	const credential = `{"id":"abc","type":"public-key","response":{"signature":"` + "s" + `"}}`

	for name, req := range map[string]*nethttp.Request{
		"missing": passkeyForm("", credential),
		"wrong":   passkeyForm(strings.Repeat("d", 43), credential),
	} {
		req.Header.Set("Cookie", "__Host-gatehouse_csrf="+testCSRF)
		res, body := do(t, f.app, req)
		if res.StatusCode != 403 || !strings.Contains(string(body), "reload the page") {
			t.Errorf("%s csrf: %d %s", name, res.StatusCode, body)
		}
	}
	if len(f.counted) != 0 {
		t.Errorf("refused forms counted %v", f.counted)
	}

	send := func(more ...string) (*nethttp.Response, string) {
		t.Helper()
		req := passkeyForm(testCSRF, credential, more...)
		req.Header.Set("Cookie", "__Host-gatehouse_csrf="+testCSRF)
		res, body := do(t, f.app, req)
		return res, string(body)
	}

	for err, want := range map[error]struct {
		status int
		msg    string
	}{
		passkey.ErrInvalidCredential: {401, "This passkey was not recognised. Sign in with your password, or try another passkey."},
		passkey.ErrCloned:            {401, "This passkey was not recognised."},
		passkey.ErrChallengeInvalid:  {400, "Try the passkey again, or sign in with your password."},
		domain.ErrAccountDisabled:    {403, "The account is disabled."},
	} {
		f.login.FinishFn = func(context.Context, apppasskey.LoginInput) (*session.LoginResult, error) { return nil, wrapped(err) }
		res, body := send()
		if res.StatusCode != want.status || !strings.Contains(body, want.msg) || !strings.Contains(body, `name="password"`) ||
			cookieOf(res, "__Host-gatehouse_session") != nil {
			t.Errorf("%v: %d %s", err, res.StatusCode, body)
		}
	}

	f.login.FinishFn = func(context.Context, apppasskey.LoginInput) (*session.LoginResult, error) {
		return &session.LoginResult{MFAToken: token.Secret("second-step")}, nil
	}
	res, body := send()
	if res.StatusCode != 200 || !strings.Contains(body, `name="mfa_token" value="second-step"`) || !strings.Contains(body, `name="code"`) ||
		cookieOf(res, "__Host-gatehouse_session") != nil {
		t.Fatalf("MFA needed: %d %s", res.StatusCode, body)
	}

	pending := uuid.MustParse("0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e").String()
	f.login.FinishFn = func(_ context.Context, in apppasskey.LoginInput) (*session.LoginResult, error) {
		if !in.Browser || in.ChallengeID != signInChallenge.String() || string(in.Credential) != credential || in.Meta.IP == "" {
			t.Errorf("finish asked with %+v", in)
		}
		return &session.LoginResult{TokenPair: &session.TokenPair{BrowserSecret: token.Secret(liveSecret)}}, nil
	}
	for _, tc := range []struct{ pending, location string }{{"", "./sign-in"}, {pending, "./authorize?pending=" + pending}} {
		res, body := send("pending", tc.pending)
		ck := cookieOf(res, "__Host-gatehouse_session")
		if res.StatusCode != 303 || res.Header.Get("Location") != tc.location || ck == nil || ck.Value != liveSecret || !ck.HttpOnly || !ck.Secure ||
			ck.SameSite != nethttp.SameSiteLaxMode {
			t.Fatalf("success (pending %q): %d %s, cookie %+v, body %s", tc.pending, res.StatusCode, res.Header.Get("Location"), ck, body)
		}
	}
	for _, e := range f.counted {
		if e != limits.Login {
			t.Errorf("a finish counted against %q, want the login limit", e)
		}
	}
	if len(f.counted) != 7 {
		t.Errorf("%d finishes counted, want 7", len(f.counted))
	}

	f.guard.CheckIPFn = func(context.Context, limits.Endpoint, string) error { return domain.RateLimited(60) }
	if res, body := send(); res.StatusCode != 429 || !strings.Contains(body, "too many attempts") {
		t.Fatalf("throttled: %d %s", res.StatusCode, body)
	}
}

// An authenticator's answer outgrows the other fields' limit: the
// credential field takes up to MaxCredentialValue bytes.
func TestPasskeySignInTakesALongCredential(t *testing.T) {
	t.Parallel()
	f := newPasskeySignIn(t, "http://localhost:8080", true)
	f.login.FinishFn = func(context.Context, apppasskey.LoginInput) (*session.LoginResult, error) {
		return nil, passkey.ErrInvalidCredential
	}
	res, body := do(t, f.app, passkeyForm(testCSRF, `{"id":"`+strings.Repeat("a", 3000)+`"}`))
	if res.StatusCode != 401 {
		t.Fatalf("a 3000-byte credential: %d %s", res.StatusCode, body)
	}
	res, body = do(t, f.app, passkeyForm(testCSRF, strings.Repeat("a", MaxCredentialValue+1)))
	decodeProblem(t, res, body, 400, "invalid_request")
}

// Without passkeys (an IP address in PUBLIC_URL) both routes answer 404
// passkeys_unavailable and no use case runs.
func TestPasskeySignInIsUnavailableWithoutPasskeys(t *testing.T) {
	t.Parallel()
	f := newPasskeySignIn(t, "http://127.0.0.1:8080", false)
	req := request("POST", "/sign-in/passkey/begin", "", "X-CSRF-Token", testCSRF)
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
	res, body := do(t, f.app, req)
	decodeProblem(t, res, body, 404, "passkeys_unavailable")
	res, body = do(t, f.app, passkeyForm(testCSRF, "{}"))
	if res.StatusCode != 404 || !strings.Contains(string(body), "Passkeys need a domain name") || !strings.Contains(string(body), `href="./sign-in"`) {
		t.Fatalf("finish without passkeys: %d %s", res.StatusCode, body)
	}
}
