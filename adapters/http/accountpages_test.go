package http

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/app/session"
	appupstream "github.com/gatehouse-auth/gatehouse/app/upstream"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	dsession "github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/upstream"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The account page's tests drive /account through the Fiber app over
// stubs: the browser session whose cookie holds liveSecret is the
// owner's; a use case a test does not set must not run.

type stubRevokeSession struct {
	HandleFn func(ctx context.Context, p session.Principal, id uuid.UUID, meta app.RequestMeta) error
}

func (s *stubRevokeSession) Handle(ctx context.Context, p session.Principal, id uuid.UUID, meta app.RequestMeta) error {
	return s.HandleFn(ctx, p, id, meta)
}

type accountFixture struct {
	*fixture
	browser    *stubBrowser
	revoke     *stubRevokeSession
	passkeys   *passkeyFixture
	identities *stubIdentities
	unlink     *stubUnlink
	mfaOn      bool
	uc         UseCases
	app        *fiber.App
}

var otherSession = uuid.MustParse("7b1e0c2d-3f4a-4b5c-8d6e-9f0a1b2c3d4e")

func newAccountFixture(t *testing.T) *accountFixture {
	t.Helper()
	return newAccountFixtureOf(t, true)
}

// newAccountFixtureOf is newAccountFixture of a service with passkeys or
// without (a public URL with an IP address).
func newAccountFixtureOf(t *testing.T, passkeys bool) *accountFixture {
	t.Helper()
	pk := newPasskeyFixture(t)
	f := &accountFixture{fixture: pk.fixture, browser: &stubBrowser{}, revoke: &stubRevokeSession{}, passkeys: pk,
		identities: &stubIdentities{}, unlink: &stubUnlink{}}
	f.browser.BrowserFn = func(_ context.Context, secret string) (session.Principal, error) {
		if secret != liveSecret {
			return session.Principal{}, domain.ErrUnauthorized
		}
		return session.Principal{UserID: userID, SessionID: sessionID, User: owner(t, "owner@example.com", true), Session: liveSession, MFAEnabled: f.mfaOn}, nil
	}
	f.listSessions.HandleFn = func(_ context.Context, p session.Principal) ([]session.View, error) {
		if p.SessionID != sessionID {
			t.Errorf("sessions listed for %+v", p)
		}
		other := dsession.Rehydrate(otherSession, userID, t0.Add(-3*time.Hour), t0.Add(-2*time.Hour), t0.Add(time.Hour), nil, "Firefox on a phone", "198.51.100.7")
		return []session.View{{Session: liveSession, Current: true}, {Session: other}}, nil
	}
	pk.list.HandleFn = func(_ context.Context, id uuid.UUID) ([]*passkey.Credential, error) {
		if id != userID {
			t.Errorf("passkeys listed for %s", id)
		}
		return []*passkey.Credential{testPasskey(nil)}, nil
	}
	f.identities.HandleFn = func(context.Context, uuid.UUID) ([]appupstream.IdentityView, error) { return nil, nil }
	f.uc = UseCases{
		Browser: f.browser, ListSessions: f.listSessions, RevokeSession: f.revoke, Change: f.changePassword,
		MFAStart: f.mfaStart, MFAConfirm: f.mfaConfirm, MFADisable: f.mfaDisable, MFARegenerate: f.mfaRegenerate,
		PasskeyRegister: pk.register, PasskeyList: pk.list, PasskeyRename: pk.rename, PasskeyDelete: pk.del,
		Identities: f.identities, Unlink: f.unlink,
		Guard: f.guard, Ready: func(context.Context) error { return nil },
	}
	f.app = NewServer(Config{Pages: PageConfig{AppName: "Acme", Passkeys: passkeys}}, nil, f.uc)
	return f
}

// Stubs of the identity use cases.
type (
	stubIdentities struct {
		HandleFn func(ctx context.Context, userID uuid.UUID) ([]appupstream.IdentityView, error)
	}
	stubUnlink struct {
		HandleFn func(ctx context.Context, userID, id uuid.UUID, meta app.RequestMeta) error
	}
)

func (s *stubIdentities) Handle(ctx context.Context, userID uuid.UUID) ([]appupstream.IdentityView, error) {
	return s.HandleFn(ctx, userID)
}

func (s *stubUnlink) Handle(ctx context.Context, userID, id uuid.UUID, meta app.RequestMeta) error {
	return s.HandleFn(ctx, userID, id, meta)
}

var browserCookie = &nethttp.Cookie{Name: "gatehouse_session", Value: liveSecret}

// get opens path in the signed-in browser.
func (f *accountFixture) get(t *testing.T, path string) (*nethttp.Response, string) {
	t.Helper()
	req := request("GET", path, "")
	req.AddCookie(browserCookie)
	req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
	res, body := do(t, f.app, req)
	return res, string(body)
}

// post sends one of the account page's forms from the signed-in browser.
func (f *accountFixture) post(t *testing.T, op string, fields url.Values) (*nethttp.Response, string) {
	t.Helper()
	fields.Set("op", op)
	res, body := do(t, f.app, formPost("/account", testCSRF, fields, browserCookie))
	return res, string(body)
}

// checkAccountPage checks that res is the account page with status, with
// the hosted pages' headers (scripts allowed when passkeys are on).
func checkAccountPage(t *testing.T, res *nethttp.Response, page string, status int) {
	t.Helper()
	if res.StatusCode != status || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s, want %d text/html:\n%s", res.StatusCode, res.Header.Get("Content-Type"), status, page)
	}
	if res.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(res.Header.Get("Content-Security-Policy"), "default-src 'none';") {
		t.Errorf("headers %v", res.Header)
	}
	wantIn(t, "account page", page, "Your account · Acme", `id="sessions"`, `id="password"`, `id="totp"`, `name="csrf" value="`+testCSRF+`"`)
}

func TestAccountPageSendsASignedOutBrowserToSignInAndBack(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	res, body := do(t, f.app, request("GET", "/account", ""))
	ck := cookieOf(res, "gatehouse_return")
	if res.StatusCode != 303 || res.Header.Get("Location") != "./sign-in" || ck == nil || ck.Value != "account" || !ck.HttpOnly || ck.MaxAge <= 0 {
		t.Fatalf("status %d, location %q, cookie %+v: %s", res.StatusCode, res.Header.Get("Location"), ck, body)
	}

	// The sign-in then goes back to the account page, once.
	sf := newSignIn(t, "http://localhost:8080")
	sf.login.HandleFn = func(context.Context, session.LoginInput) (*session.LoginResult, error) {
		return &session.LoginResult{TokenPair: &session.TokenPair{BrowserSecret: "s"}}, nil
	}
	res, body = do(t, sf.app, formPost("/sign-in", testCSRF, url.Values{"email": {"owner@example.com"}, "password": {"pw"}},
		&nethttp.Cookie{Name: "gatehouse_return", Value: "account"}))
	if gone := cookieOf(res, "gatehouse_return"); res.StatusCode != 303 || res.Header.Get("Location") != "./account" || gone == nil || gone.Value != "" {
		t.Fatalf("after sign-in: %d %q %+v: %s", res.StatusCode, res.Header.Get("Location"), gone, body)
	}
	// Any other value leads to the usual page: nothing of a cookie is a
	// redirect target.
	res, _ = do(t, sf.app, formPost("/sign-in", testCSRF, url.Values{"email": {"owner@example.com"}, "password": {"pw"}},
		&nethttp.Cookie{Name: "gatehouse_return", Value: "https://evil.example"}))
	if res.Header.Get("Location") != "./sign-in" {
		t.Fatalf("after sign-in with a foreign return: %q", res.Header.Get("Location"))
	}
}

func TestAccountPageShowsSessionsAndPasskeys(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	res, page := f.get(t, "/account")
	checkAccountPage(t, res, page, 200)
	wantIn(t, "account page", page, "owner@example.com", "(this browser)", "Firefox on a phone", "198.51.100.7",
		`name="id" value="`+otherSession.String()+`"`, `value="revoke-session"`, "End this session and sign out",
		`id="passkeys"`, "Laptop", "last used never", `value="passkey-rename"`, `value="passkey-delete"`,
		`<button id="passkey-add" type="button" data-csrf="`+testCSRF+`" data-js hidden>`, "needs JavaScript",
		`src="./assets/webauthn.js"`, `src="./assets/account.js"`, `value="totp-start"`, `id="password-rule"`)
	notIn(t, "account page", page, `value="totp-disable"`, `name="code"`, "<img")
	if csp := res.Header.Get("Content-Security-Policy"); csp != withScripts(hostedPageCSP) {
		t.Errorf("CSP %q", csp)
	}
	if link := `href="./account"`; !strings.Contains(signedInPage(t), link) {
		t.Errorf("the signed-in page lacks %s", link)
	}
}

// signedInPage is the sign-in page of a signed-in browser.
func signedInPage(t *testing.T) string {
	sf := newSignIn(t, "http://localhost:8080")
	req := request("GET", "/sign-in", "")
	req.AddCookie(browserCookie)
	_, body := do(t, sf.app, req)
	return string(body)
}

// Without a domain name there are no passkeys: no section, no script, and
// a CSP without scripts.
func TestAccountPageHidesPasskeysWithoutADomainName(t *testing.T) {
	t.Parallel()
	f := newAccountFixtureOf(t, false)
	f.passkeys.list.HandleFn = nil
	res, page := f.get(t, "/account")
	checkAccountPage(t, res, page, 200)
	notIn(t, "account page", page, `id="passkeys"`, "passkey-add", "<script")
	if csp := res.Header.Get("Content-Security-Policy"); csp != hostedPageCSP {
		t.Errorf("CSP %q", csp)
	}
}

func TestAccountFormsRefuseAMissingCSRFTokenOrSession(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	for _, csrf := range []string{"", strings.Repeat("d", 43)} {
		res, body := do(t, f.app, formPost("/account", csrf, url.Values{"op": {"revoke-session"}, "id": {otherSession.String()}}, browserCookie))
		if res.StatusCode != 403 || !strings.Contains(string(body), "reload the page") {
			t.Errorf("csrf %q: %d %s", csrf, res.StatusCode, body)
		}
	}
	res, body := do(t, f.app, formPost("/account", testCSRF, url.Values{"op": {"revoke-session"}, "id": {otherSession.String()}}))
	if res.StatusCode != 401 || !strings.Contains(string(body), "Sign in, then open your account again") {
		t.Errorf("signed out: %d %s", res.StatusCode, body)
	}
	res, page := f.post(t, "format-disk", url.Values{})
	checkAccountPage(t, res, page, 400)
	wantIn(t, "unknown op", page, "not one of this page")
}

func TestAccountRevokesASession(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	var revoked []uuid.UUID
	f.revoke.HandleFn = func(_ context.Context, p session.Principal, id uuid.UUID, m app.RequestMeta) error {
		if p.SessionID != sessionID || m.IP == "" {
			t.Errorf("revoke by %+v %+v", p, m)
		}
		revoked = append(revoked, id)
		if id == uuid.Nil {
			return domain.ErrNotFound
		}
		return nil
	}
	res, page := f.post(t, "revoke-session", url.Values{"id": {otherSession.String()}})
	checkAccountPage(t, res, page, 200)
	wantIn(t, "revoked", page, `class="ok"`, "that device is signed out")

	res, page = f.post(t, "revoke-session", url.Values{"id": {"not-a-uuid"}})
	checkAccountPage(t, res, page, 404)
	wantIn(t, "unknown session", page, "ended already")

	// The current one signs this browser out.
	res, page = f.post(t, "revoke-session", url.Values{"id": {sessionID.String()}})
	if ck := cookieOf(res, "gatehouse_session"); res.StatusCode != 200 || ck == nil || ck.Value != "" {
		t.Fatalf("current: %d %+v %s", res.StatusCode, ck, page)
	}
	wantIn(t, "signed out", page, "you are signed out of Acme", `href="./account"`)
	if len(revoked) != 3 || revoked[0] != otherSession || revoked[1] != uuid.Nil || revoked[2] != sessionID {
		t.Errorf("revoked %v", revoked)
	}
}

func TestAccountChangesThePassword(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	f.mfaOn = true
	var endpoints []limits.Endpoint
	f.guard.CheckIPFn = func(_ context.Context, e limits.Endpoint, _ string) error {
		endpoints = append(endpoints, e)
		return nil
	}
	f.changePassword.HandleFn = func(_ context.Context, in password.ChangeInput) error {
		if in.UserID != userID || in.SessionID != sessionID || in.Proof.Session != liveSession || in.Proof.Code != "123456" || in.Meta.IP == "" {
			t.Errorf("change input %+v", in)
		}
		switch in.NewPassword {
		case "short":
			return domain.Validation(domain.FieldError{Field: "new_password", Code: user.RulePasswordTooShort, Message: "too short"})
		case "needs step-up":
			return mfa.ErrStepUpRequired
		}
		if in.CurrentPassword != "old password" {
			return domain.ErrWrongPassword
		}
		return nil
	}
	fields := func(current, next string) url.Values {
		return url.Values{"current_password": {current}, "new_password": {next}, "code": {"123456"}}
	}
	res, page := f.get(t, "/account")
	wantIn(t, "page with MFA on", page, `id="password-code"`, `value="totp-disable"`, `value="recovery-codes"`)
	checkAccountPage(t, res, page, 200)

	res, page = f.post(t, "password", fields("old password", "a new long password"))
	checkAccountPage(t, res, page, 200)
	wantIn(t, "changed", page, "Your password was changed. Every other session was signed out")

	for next, want := range map[string]string{"short": "too short: use at least 8", "needs step-up": "needs your second factor", "a new long password x": "current password is not right"} {
		current := "old password"
		if strings.HasSuffix(next, " x") {
			current = "wrong"
		}
		res, page = f.post(t, "password", fields(current, next))
		if res.StatusCode < 400 || res.StatusCode > 499 {
			t.Errorf("%s: status %d", next, res.StatusCode)
		}
		wantIn(t, next, page, want, `id="sessions"`)
	}
	if len(endpoints) != 4 || endpoints[0] != limits.Password {
		t.Errorf("limits checked %v", endpoints)
	}

	// Over the limit: the page says how long to wait, and nothing runs.
	f.guard.CheckIPFn = func(context.Context, limits.Endpoint, string) error { return domain.RateLimited(90 * time.Second) }
	f.changePassword.HandleFn = nil
	res, page = f.post(t, "password", fields("old password", "a new long password"))
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("limited: %d %s", res.StatusCode, page)
	}
	wantIn(t, "limited", page, "too many attempts", "Wait about 2 minutes")

	// The other writes count against the same limit: over it, nothing
	// runs (the stubs are unset).
	for _, op := range []string{"revoke-session", "passkey-rename", "passkey-delete"} {
		res, page = f.post(t, op, url.Values{"id": {passkeyID.String()}, "name": {"Desk"}})
		if res.StatusCode != 429 || !strings.Contains(page, "too many attempts") {
			t.Errorf("%s over the limit: %d %s", op, res.StatusCode, page)
		}
	}
}

func TestAccountEnrollsTOTP(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	f.mfaStart.HandleFn = func(_ context.Context, in appmfa.StartInput) (appmfa.Enrollment, error) {
		if in.UserID != userID || in.Password != "pw" {
			t.Errorf("start %+v", in)
		}
		return appmfa.Enrollment{Secret: "JBSWY3DPEHPK3PXP", URI: "otpauth://totp/Acme:owner?secret=JBSWY3DPEHPK3PXP", QRPNG: []byte{0x89, 'P', 'N', 'G'}}, nil
	}
	res, page := f.post(t, "totp-start", url.Values{"password": {"pw"}})
	checkAccountPage(t, res, page, 200)
	wantIn(t, "enrollment", page, `<code id="totp-secret">JBSWY3DPEHPK3PXP</code>`, `src="data:image/png;base64,iVBORw=="`, `value="totp-confirm"`, `id="totp-code"`)
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data:;") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}

	f.mfaConfirm.HandleFn = func(_ context.Context, uid, sid uuid.UUID, code string, _ app.RequestMeta) ([]mfa.RecoveryCode, error) {
		if uid != userID || sid != sessionID {
			t.Errorf("confirm for %s %s", uid, sid)
		}
		if code != "123456" {
			return nil, mfa.ErrWrongCode
		}
		return []mfa.RecoveryCode{"aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh"}, nil
	}
	res, page = f.post(t, "totp-confirm", url.Values{"code": {"123456"}})
	checkAccountPage(t, res, page, 200)
	wantIn(t, "confirmed", page, "Two-step sign-in is on", "<code>aaaa-bbbb-cccc-dddd</code>", "only this once", `value="totp-disable"`)
	if csp := res.Header.Get("Content-Security-Policy"); strings.Contains(csp, "img-src") {
		t.Errorf("CSP without a QR code: %q", csp)
	}

	// A wrong code leaves the setup under way: the confirm form again, in
	// setup words, and a way to start again for a new QR code.
	res, page = f.post(t, "totp-confirm", url.Values{"code": {"000000"}})
	checkAccountPage(t, res, page, 403)
	wantIn(t, "wrong code", page, "The code is not right. Enter the code your authenticator app shows now.", `value="totp-confirm"`, `id="totp-code"`,
		`value="totp-start"`)
	if strings.Contains(page, "recovery code") {
		t.Errorf("a wrong setup code speaks of recovery codes: %s", page)
	}
}

func TestAccountTurnsTOTPOffAndRenewsRecoveryCodes(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	f.mfaOn = true
	f.mfaDisable.HandleFn = func(_ context.Context, in appmfa.DisableInput) error {
		checkCaller(t, in.UserID, in.Proof, "654321", in.Meta)
		return nil
	}
	res, page := f.post(t, "totp-disable", url.Values{"password": {"pw"}, "code": {"654321"}})
	checkAccountPage(t, res, page, 200)
	wantIn(t, "off", page, "Two-step sign-in is off", `value="totp-start"`)

	f.mfaRegenerate.HandleFn = func(_ context.Context, id uuid.UUID, p appmfa.Proof, m app.RequestMeta) ([]mfa.RecoveryCode, error) {
		checkCaller(t, id, p, "", m)
		return []mfa.RecoveryCode{"1111-2222-3333-4444"}, nil
	}
	res, page = f.post(t, "recovery-codes", url.Values{})
	checkAccountPage(t, res, page, 200)
	wantIn(t, "renewed", page, "<code>1111-2222-3333-4444</code>", "old ones no longer work")

	// With TOTP off meanwhile (another tab), both say what to do next.
	f.mfaDisable.HandleFn = func(context.Context, appmfa.DisableInput) error { return mfa.ErrNotEnabled }
	f.mfaRegenerate.HandleFn = func(context.Context, uuid.UUID, appmfa.Proof, app.RequestMeta) ([]mfa.RecoveryCode, error) {
		return nil, mfa.ErrNotEnabled
	}
	for _, op := range []string{"totp-disable", "recovery-codes"} {
		res, page = f.post(t, op, url.Values{"password": {"pw"}})
		checkAccountPage(t, res, page, 409)
		wantIn(t, op+" with TOTP off", page, "Two-step sign-in is off, so there is nothing to turn off", "To turn it on, enter your password")
	}
}

func TestAccountRenamesAndDeletesPasskeys(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	f.passkeys.rename.HandleFn = func(_ context.Context, uid, id uuid.UUID, name string) (*passkey.Credential, error) {
		if uid != userID || id != passkeyID {
			t.Errorf("rename %s %s", uid, id)
		}
		n, err := passkey.ParseName(name)
		if err != nil {
			return nil, err
		}
		k := testPasskey(nil)
		k.Rename(n)
		return k, nil
	}
	res, page := f.post(t, "passkey-rename", url.Values{"id": {passkeyID.String()}, "name": {"  Phone "}})
	checkAccountPage(t, res, page, 200)
	wantIn(t, "renamed", page, "now named “Phone”")
	res, page = f.post(t, "passkey-rename", url.Values{"id": {passkeyID.String()}, "name": {" "}})
	checkAccountPage(t, res, page, 422)
	wantIn(t, "bad name", page, "1 to 64 characters")

	f.passkeys.del.HandleFn = func(_ context.Context, uid, id uuid.UUID, p appmfa.Proof, m app.RequestMeta) error {
		if uid != userID || m.IP == "" || p.Session == nil || p.Code != "" {
			t.Errorf("delete %s %+v %+v", uid, m, p)
		}
		if id != passkeyID {
			return passkey.ErrLastWayToSignIn
		}
		return nil
	}
	res, page = f.post(t, "passkey-delete", url.Values{"id": {passkeyID.String()}})
	checkAccountPage(t, res, page, 200)
	wantIn(t, "deleted", page, "The passkey was deleted")
	res, page = f.post(t, "passkey-delete", url.Values{"id": {uuid.NewString()}})
	checkAccountPage(t, res, page, 409)
	wantIn(t, "last way", page, "your last way to sign in, so it was not deleted", `href="./forgot-password"`)
	if strings.Contains(page, "set a password first") {
		t.Errorf("the page tells a passkey-only account to set a password it cannot set here: %s", page)
	}
}

// The script's endpoints take the CSRF token in a header, and the
// browser session's user.
func TestAccountPasskeyRegistrationEndpoints(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	challenge := uuid.New()
	f.passkeys.register.BeginFn = func(_ context.Context, id uuid.UUID, p appmfa.Proof, _ app.RequestMeta) (apppasskey.Begun, error) {
		if id != userID || p.Session == nil {
			t.Errorf("begin for %s %+v", id, p)
		}
		if p.Code == "" && f.mfaOn {
			return apppasskey.Begun{}, mfa.ErrStepUpRequired
		}
		return apppasskey.Begun{ChallengeID: challenge, Options: json.RawMessage(`{"publicKey":{}}`)}, nil
	}
	f.passkeys.register.FinishFn = func(_ context.Context, in apppasskey.FinishInput) (*passkey.Credential, error) {
		if in.UserID != userID || in.ChallengeID != challenge.String() || in.Name == nil || *in.Name != "Work" {
			t.Errorf("finish %+v", in)
		}
		return testPasskey(nil), nil
	}
	send := func(path, body, csrf string, cookies ...*nethttp.Cookie) (*nethttp.Response, string) {
		req := request("POST", path, body)
		if body == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		req.AddCookie(&nethttp.Cookie{Name: "gatehouse_csrf", Value: testCSRF})
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, b := do(t, f.app, req)
		return res, string(b)
	}
	finish := `{"challenge_id":"` + challenge.String() + `","name":"Work","credential":{"id":"x"}}`
	for _, path := range []string{"/account/passkeys/register/begin", "/account/passkeys/register/finish"} {
		for _, csrf := range []string{"", strings.Repeat("d", 43)} {
			res, body := send(path, finish, csrf, browserCookie)
			if res.StatusCode != 403 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") || !strings.Contains(body, "Reload the page") {
				t.Errorf("%s, csrf %q: %d %s", path, csrf, res.StatusCode, body)
			}
		}
		if res, body := send(path, finish, testCSRF); res.StatusCode != 401 || !strings.Contains(body, "signed out") {
			t.Errorf("%s signed out: %d %s", path, res.StatusCode, body)
		}
	}
	res, body := send("/account/passkeys/register/begin", "", testCSRF, browserCookie)
	if res.StatusCode != 200 || !strings.Contains(body, challenge.String()) || !strings.Contains(body, `"publicKey"`) {
		t.Fatalf("begin: %d %s", res.StatusCode, body)
	}
	// A link cannot make the page claim an addition: only the finish's
	// one-time cookie does.
	_, page := f.get(t, "/account?added=passkey")
	if strings.Contains(page, "Your passkey was added") {
		t.Fatal("a link made the page say a passkey was added")
	}
	res, body = send("/account/passkeys/register/finish", finish, testCSRF, browserCookie)
	if res.StatusCode != 201 || !strings.Contains(body, `"name":"Laptop"`) {
		t.Fatalf("finish: %d %s", res.StatusCode, body)
	}
	added := cookieOf(res, "gatehouse_added")
	if added == nil || !added.HttpOnly || added.MaxAge <= 0 {
		t.Fatalf("finish set no one-time cookie: %+v", added)
	}
	req := request("GET", "/account", "")
	req.AddCookie(browserCookie)
	req.AddCookie(added)
	res, raw := do(t, f.app, req)
	wantIn(t, "after adding", string(raw), "Your passkey was added")
	if ck := cookieOf(res, "gatehouse_added"); ck == nil || ck.Value != "" || !ck.Expires.Before(time.Now()) {
		t.Errorf("the page kept the one-time cookie: %+v", ck)
	}

	// With TOTP on, the page asks for a code beside the button, and the
	// script sends it with the begin.
	f.mfaOn = true
	_, page = f.get(t, "/account")
	wantIn(t, "code beside the add button", page, `id="passkey-code"`)
	res, body = send("/account/passkeys/register/begin", `{}`, testCSRF, browserCookie)
	if res.StatusCode != 403 || !strings.Contains(body, "step_up_required") {
		t.Fatalf("begin without a code, TOTP on: %d %s", res.StatusCode, body)
	}
	res, body = send("/account/passkeys/register/begin", `{"code":"123456"}`, testCSRF, browserCookie)
	if res.StatusCode != 200 || !strings.Contains(body, challenge.String()) {
		t.Fatalf("begin with a code: %d %s", res.StatusCode, body)
	}
}

// Linked sign-ins: shown only with providers or identities; each
// identity with an Unlink form calling the unlink use case (its refusal
// of the last way to sign in shown readably), and a "Link NAME" link for
// each provider not linked yet.
func TestAccountLinkedSignIns(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t)
	_, page := f.get(t, "/account")
	if strings.Contains(page, `id="linked"`) {
		t.Fatal("linked sign-ins shown with no provider and no identity")
	}

	f.uc.Upstream = &stubUpstream{} // offers corp, "Corp SSO"
	f.app = NewServer(Config{Pages: PageConfig{AppName: "Acme", Passkeys: true}}, nil, f.uc)
	_, page = f.get(t, "/account")
	wantIn(t, "nothing linked", page, `id="linked"`, "No sign-in is linked yet.", `<a href="./sign-in/upstream/corp">Link Corp SSO</a>`)

	used := t0.Add(-time.Minute)
	corp, _ := upstream.NewIdentity(uuid.New(), userID, "corp", "subject-1", "owner@corp.example", t0.Add(-time.Hour))
	gone := upstream.RehydrateIdentity(uuid.New(), userID, "old", "subject-2", "owner@old.example", t0.Add(-2*time.Hour), &used)
	f.identities.HandleFn = func(_ context.Context, id uuid.UUID) ([]appupstream.IdentityView, error) {
		if id != userID {
			t.Errorf("identities listed for %s", id)
		}
		return []appupstream.IdentityView{{Identity: corp, ProviderName: "Corp SSO"}, {Identity: gone}}, nil
	}
	_, page = f.get(t, "/account")
	wantIn(t, "linked", page, "<strong>Corp SSO</strong>", "owner@corp.example", "last used never", "old (no longer offered)",
		`name="op" value="unlink"`, `value="`+corp.ID().String()+`"`)
	if strings.Contains(page, "Link Corp SSO") {
		t.Error("a linked provider is offered for linking again")
	}

	f.unlink.HandleFn = func(_ context.Context, uid, id uuid.UUID, m app.RequestMeta) error {
		if uid != userID || m.IP == "" {
			t.Errorf("unlink %s %+v", uid, m)
		}
		if id != corp.ID() {
			return upstream.ErrLastWayToSignIn
		}
		return nil
	}
	res, page := f.post(t, "unlink", url.Values{"id": {corp.ID().String()}})
	checkAccountPage(t, res, page, 200)
	wantIn(t, "unlinked", page, "The linked sign-in was removed")
	res, page = f.post(t, "unlink", url.Values{"id": {gone.ID().String()}})
	checkAccountPage(t, res, page, 409)
	wantIn(t, "last way", page, "your last way to sign in, so it was not removed", `href="./forgot-password"`)
}
