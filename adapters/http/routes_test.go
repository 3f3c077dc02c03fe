package http

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	dsession "github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The route tests drive the apps over stubs of the use cases (stub_test.go)
// and check what a route asks its use case and how it renders the answer:
// status, headers and body. The use cases' own rules are tested in app/.

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var (
	userID    = uuid.MustParse("0b9a3f5e-8c1d-4e2f-9a7b-6c5d4e3f2a1b")
	sessionID = uuid.MustParse("5e1d2c3b-4a59-4687-8796-a5b4c3d2e1f0")
)

// fixture holds the stubs behind one set of use cases and the two apps
// over them. A test sets the func fields of the stubs its routes call.
type fixture struct {
	auth           *stubAuthenticate
	verifyEmail    *stubVerifyEmail
	linkState      *stubLinkState
	resend         *stubMailByAddress
	forgot         *stubMailByAddress
	reset          *stubResetPassword
	changePassword *stubChangePassword
	deleteAccount  *stubDeleteAccount
	changeEmail    *stubChangeEmail
	confirmEmail   *stubConfirmEmail
	loginMFA       *stubLoginMFA
	mfaStart       *stubMFAStart
	mfaConfirm     *stubMFAConfirm
	mfaDisable     *stubMFADisable
	mfaRegenerate  *stubMFARegenerate
	guard          *stubIPLimiter
	listSessions   *stubListSessions
	listConsents   *stubListConsents
	revokeConsent  *stubRevokeConsent

	users   *stubAdminUsers
	trail   *stubAdminAudit
	keys    *stubAdminKeys
	clients *stubAdminClients
	hooks   *stubAdminWebhooks

	// asked are the purposes linkState was asked about, in order.
	asked []token.Purpose

	public, admin *fiber.App
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		auth: &stubAuthenticate{}, verifyEmail: &stubVerifyEmail{}, linkState: &stubLinkState{},
		resend: &stubMailByAddress{}, forgot: &stubMailByAddress{}, reset: &stubResetPassword{}, changePassword: &stubChangePassword{},
		deleteAccount: &stubDeleteAccount{}, changeEmail: &stubChangeEmail{}, confirmEmail: &stubConfirmEmail{},
		loginMFA: &stubLoginMFA{}, mfaStart: &stubMFAStart{}, mfaConfirm: &stubMFAConfirm{}, mfaDisable: &stubMFADisable{},
		mfaRegenerate: &stubMFARegenerate{}, guard: &stubIPLimiter{},
		listSessions: &stubListSessions{}, listConsents: &stubListConsents{}, revokeConsent: &stubRevokeConsent{},
		users: &stubAdminUsers{}, trail: &stubAdminAudit{}, keys: &stubAdminKeys{}, clients: &stubAdminClients{}, hooks: &stubAdminWebhooks{},
	}
	f.bearer(false)
	// A mailed link is live when its token is one of liveLink's.
	f.linkState.LiveFn = func(_ context.Context, raw string, purpose token.Purpose) (bool, error) {
		f.asked = append(f.asked, purpose)
		return strings.HasPrefix(raw, livePrefix), nil
	}
	f.keys.AuthenticateFn = func(_ context.Context, presented string) (string, error) {
		if presented != adminKey {
			return "", domain.ErrUnauthorized
		}
		return "ops-laptop", nil
	}
	f.public = f.pagesApp(PageConfig{})
	f.admin = NewAdminServer(Config{CORSOrigins: []string{"https://app.example.com"}, Admin: testAdminConfig}, nil, AdminUseCases{
		Users: f.users, Audit: f.trail, Keys: f.keys, Clients: f.clients, Webhooks: f.hooks,
		Ready: func(context.Context) error { return nil },
	})
	return f
}

// pagesApp is the public app over the fixture's stubs, its hosted pages
// configured by pc.
func (f *fixture) pagesApp(pc PageConfig) *fiber.App {
	return NewServer(Config{Pages: pc}, nil, UseCases{
		Authenticate: f.auth, VerifyEmail: f.verifyEmail, LinkState: f.linkState, Resend: f.resend, Forgot: f.forgot,
		Reset: f.reset, Change: f.changePassword, DeleteAccount: f.deleteAccount, ChangeEmail: f.changeEmail, ConfirmEmail: f.confirmEmail,
		LoginMFA: f.loginMFA, MFAStart: f.mfaStart, MFAConfirm: f.mfaConfirm, MFADisable: f.mfaDisable, MFARegenerate: f.mfaRegenerate,
		Guard: f.guard, ListSessions: f.listSessions, ListConsents: f.listConsents, RevokeConsent: f.revokeConsent,
		Ready: func(context.Context) error { return nil },
	})
}

// livePrefix starts every token the fixture's link state takes for live.
const livePrefix = "live-"

// liveLink is a token the fixture's link state takes for a live link of
// purpose.
func liveLink(purpose token.Purpose) string { return livePrefix + string(purpose) }

// liveSession is the session of sessionID as the bearer check reads it.
var liveSession = dsession.Rehydrate(sessionID, userID, t0.Add(-time.Hour), t0.Add(-time.Minute), t0.Add(time.Hour), nil, "ua", "192.0.2.1")

// bearer makes "good-jwt" the access token of sessionID of userID
// (owner@example.com, active, its second factor on or off), and anything
// else refused.
func (f *fixture) bearer(mfaOn bool) {
	f.auth.HandleFn = func(_ context.Context, tok string) (session.Principal, error) {
		if tok != "good-jwt" {
			return session.Principal{}, domain.ErrUnauthorized
		}
		last := t0.Add(-2 * time.Hour)
		u := user.Rehydrate(userID, user.RehydrateEmail("owner@example.com"), "$argon2id$stored", true, true, t0.Add(-48*time.Hour), t0.Add(-time.Hour), nil, &last)
		return session.Principal{
			UserID: userID, SessionID: sessionID, Claims: app.AccessClaims{Subject: userID, SessionID: sessionID},
			User: u, MFAEnabled: mfaOn, Session: liveSession,
		}, nil
	}
}

// checkCaller fails the test unless the use case was asked for the
// bearer's user and session, with the request's metadata.
func checkCaller(t *testing.T, id uuid.UUID, p appmfa.Proof, code string, m app.RequestMeta) {
	t.Helper()
	if id != userID || p.Session != liveSession || p.Code != code || m.IP == "" {
		t.Errorf("asked for user %s, proof %+v, meta %+v; want the bearer's user and session, code %q", id, p, m, code)
	}
}

func owner(t *testing.T, email string, active bool) *user.User {
	t.Helper()
	e, err := user.ParseEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	last := t0.Add(-2 * time.Hour)
	return user.Rehydrate(userID, e, "$argon2id$stored", active, true, t0.Add(-48*time.Hour), t0.Add(-time.Hour), nil, &last)
}

// request builds a request; a non-empty body is sent as JSON.
func request(method, path, body string, header ...string) *nethttp.Request {
	var req *nethttp.Request
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func decodeJSON(t *testing.T, res *nethttp.Response, body []byte, status int) map[string]any {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", res.StatusCode, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	return m
}

// --- public self-service routes ---

func TestDeleteMe(t *testing.T) {
	t.Parallel()
	t.Run("without a bearer", func(t *testing.T) {
		f := newFixture(t) // DeleteAccount unset: a call would be a 500
		res, body := do(t, f.public, request("DELETE", "/v1/me", `{"password":"whatever"}`))
		decodeProblem(t, res, body, 401, "unauthorized")
		if res.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		f := newFixture(t)
		f.deleteAccount.HandleFn = func(_ context.Context, _ uuid.UUID, _ string, _ appmfa.Proof, _ app.RequestMeta) error {
			return domain.ErrWrongPassword
		}
		res, body := do(t, f.public, request("DELETE", "/v1/me", `{"password":"not it"}`, "Authorization", "Bearer good-jwt"))
		decodeProblem(t, res, body, 403, "invalid_credentials")
	})
	t.Run("deleted", func(t *testing.T) {
		f := newFixture(t)
		called := false
		f.deleteAccount.HandleFn = func(_ context.Context, id uuid.UUID, pw string, p appmfa.Proof, m app.RequestMeta) error {
			called = true
			checkCaller(t, id, p, "123456", m)
			if pw != "the right one" {
				t.Errorf("password %q", pw)
			}
			return nil
		}
		res, body := do(t, f.public, request("DELETE", "/v1/me", `{"password":"the right one","code":"123456"}`, "Authorization", "Bearer good-jwt"))
		if res.StatusCode != 204 || len(body) != 0 || !called {
			t.Fatalf("status %d, body %s, called %v", res.StatusCode, body, called)
		}
	})
	t.Run("password required", func(t *testing.T) {
		f := newFixture(t)
		res, body := do(t, f.public, request("DELETE", "/v1/me", `{}`, "Authorization", "Bearer good-jwt"))
		decodeProblem(t, res, body, 422, "validation_failed")
	})
}

func TestChangeEmailAnswers202(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.changeEmail.HandleFn = func(_ context.Context, in account.ChangeEmailInput) error {
		checkCaller(t, in.UserID, in.Proof, "", in.Meta)
		if in.NewEmail == "not an address" {
			return domain.Validation(domain.FieldError{Field: "new_email", Code: "invalid_email", Message: "The email address is not valid."})
		}
		if in.NewEmail != "Owner@Example.com" || in.Password != "the right one" {
			t.Errorf("input %+v", in)
		}
		return nil
	}
	res, body := do(t, f.public, request("POST", "/v1/me/email", `{"new_email":"Owner@Example.com","password":"the right one"}`, "Authorization", "Bearer good-jwt"))
	m := decodeJSON(t, res, body, 202)
	if m["status"] != "confirmation_sent" || len(m) != 1 {
		t.Errorf("body %s", body)
	}

	// The use case's refusal of the address names the field.
	res, body = do(t, f.public, request("POST", "/v1/me/email", `{"new_email":"not an address","password":"x"}`, "Authorization", "Bearer good-jwt"))
	p := decodeProblem(t, res, body, 422, "validation_failed")
	if errs, _ := p["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "new_email" {
		t.Errorf("errors %v", p["errors"])
	}
	res, body = do(t, f.public, request("POST", "/v1/me/email", `{"new_email":"a@example.com","password":"x","extra":1}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 400, "invalid_request")
	res, body = do(t, f.public, request("POST", "/v1/me/email", `{"new_email":"a@example.com","password":"x"}`))
	decodeProblem(t, res, body, 401, "unauthorized")
}

// confirmTo makes the email-change confirmation move the account to
// new@example.com and reports the session it was asked to keep.
func (f *fixture) confirmTo(t *testing.T, raw string) *uuid.UUID {
	t.Helper()
	kept := new(uuid.UUID)
	*kept = uuid.Max // not called yet
	f.confirmEmail.HandleFn = func(_ context.Context, got string, keep uuid.UUID, m app.RequestMeta) (*user.User, error) {
		if got != raw || m.IP == "" {
			t.Errorf("asked for token %q, meta %+v", got, m)
		}
		*kept = keep
		return owner(t, "new@example.com", true), nil
	}
	return kept
}

func TestConfirmEmailKeepsOnlyAValidBearersSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header []string
		want   uuid.UUID
	}{
		{"valid bearer", []string{"Authorization", "Bearer good-jwt"}, sessionID},
		{"no bearer", nil, uuid.Nil},
		{"refused bearer", []string{"Authorization", "Bearer expired-jwt"}, uuid.Nil},
		{"malformed header", []string{"Authorization", "Basic Zm9vOmJhcg=="}, uuid.Nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			kept := f.confirmTo(t, "the-token")
			res, body := do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"the-token"}`, tt.header...))
			m := decodeJSON(t, res, body, 200)
			u, _ := m["user"].(map[string]any)
			if u["email"] != "new@example.com" || u["id"] != userID.String() {
				t.Errorf("body %s", body)
			}
			if *kept != tt.want {
				t.Errorf("keep = %s, want %s", *kept, tt.want)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
			}
		})
	}
}

func TestConfirmEmailErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.confirmEmail.HandleFn = func(_ context.Context, raw string, _ uuid.UUID, _ app.RequestMeta) (*user.User, error) {
		if raw == "taken" { // the address was taken since the request
			return nil, user.ErrEmailTaken
		}
		return nil, domain.ErrInvalidToken
	}
	res, body := do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"nope"}`))
	decodeProblem(t, res, body, 400, "invalid_token")
	res, body = do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"taken"}`))
	decodeProblem(t, res, body, 409, "email_taken")
	res, body = do(t, f.public, request("POST", "/v1/me/email/confirm", `{}`))
	decodeProblem(t, res, body, 422, "validation_failed")
}

func TestConfirmEmailUnavailableBearerCheckFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // ConfirmEmail unset: it must not run
	// A token that cannot be checked (database down) is not taken for an
	// anonymous call that would sign the caller out too.
	f.auth.HandleFn = func(context.Context, string) (session.Principal, error) {
		return session.Principal{}, domain.Unavailable(context.DeadlineExceeded)
	}
	res, body := do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"the-token"}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 503, "unavailable")
}

func TestConfirmEmailPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // ConfirmEmail unset: a GET that consumed the link would fail

	// A dead link is never echoed.
	res, body := do(t, f.public, request("GET", "/confirm-email?token=abc%22%3E%3Cscript%3E", ""))
	if res.StatusCode != 410 || strings.Contains(string(body), "<form") || strings.Contains(string(body), "script") {
		t.Fatalf("GET of a dead link = %d:\n%s", res.StatusCode, body)
	}
	live := liveLink(token.PurposeChangeEmail)
	res, body = do(t, f.public, request("GET", "/confirm-email?token="+live, ""))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{`<form method="post">`, `name="token" value="` + live + `"`, "Confirm new address"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); csp != hostedPageCSP {
		t.Errorf("CSP = %q", csp)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
	if len(f.asked) != 2 || f.asked[0] != token.PurposeChangeEmail || f.asked[1] != token.PurposeChangeEmail {
		t.Errorf("link state asked about %v, want the email change's links", f.asked)
	}

	res, body = do(t, f.public, request("GET", "/confirm-email", ""))
	if res.StatusCode != 200 || strings.Contains(string(body), "<form") || !strings.Contains(string(body), "Open the link") {
		t.Errorf("GET without a token = %d:\n%s", res.StatusCode, body)
	}

	// The POST consumes the link, and a hosted page keeps no session even
	// when the browser sends a bearer.
	kept := f.confirmTo(t, "the-token")
	req := postForm("/confirm-email", url.Values{"token": {"the-token"}})
	req.Header.Set("Authorization", "Bearer good-jwt")
	res, body = do(t, f.public, req)
	if res.StatusCode != 200 || !strings.Contains(string(body), "new@example.com") || !strings.Contains(string(body), "signed out") {
		t.Fatalf("POST = %d:\n%s", res.StatusCode, body)
	}
	if *kept != uuid.Nil {
		t.Errorf("keep = %s, want uuid.Nil", *kept)
	}

	// A refused link is a page saying what to do; a taken address says so.
	f.confirmEmail.HandleFn = func(_ context.Context, raw string, _ uuid.UUID, _ app.RequestMeta) (*user.User, error) {
		if raw == "taken" {
			return nil, user.ErrEmailTaken
		}
		return nil, domain.ErrInvalidToken
	}
	for _, c := range []struct {
		token  string
		status int
		says   string
	}{{"nope", 400, "Ask for the change again"}, {"taken", 409, "Another account uses this address now"}} {
		res, body = do(t, f.public, postForm("/confirm-email", url.Values{"token": {c.token}}))
		if res.StatusCode != c.status || !strings.Contains(string(body), c.says) {
			t.Errorf("refused POST = %d:\n%s", res.StatusCode, body)
		}
	}
}

func TestPublicAppServesNoAdminRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, p := range []string{"/admin/v1/users", "/admin/v1/audit", "/admin/v1/users/" + userID.String()} {
		res, body := do(t, f.public, request("GET", p, "", "Authorization", "Bearer gha_whatever"))
		decodeProblem(t, res, body, 404, "not_found")
	}
}

// --- admin app ---

// adminKey is a well-formed admin key; the fixture's key check knows it
// as "ops-laptop" and refuses every other one.
var adminKey = admin.KeyPrefix + strings.Repeat("A", token.EncodedLen)

func adminReq(method, path, body string) *nethttp.Request {
	return request(method, path, body, "Authorization", "Bearer "+adminKey, "User-Agent", "ops-script")
}

// checkActor fails the test unless a is the fixture's key, with the
// request's metadata.
func checkActor(t *testing.T, a admin.Actor) {
	t.Helper()
	if a.Name != "ops-laptop" || a.Meta.UserAgent != "ops-script" || a.Meta.IP == "" {
		t.Errorf("actor %+v, want ops-laptop with the request's metadata", a)
	}
}

func TestAdminAuthRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, header string }{
		{"missing", ""},
		{"other scheme", "Basic " + adminKey},
		{"no credential", "Bearer "},
		{"malformed", "Bearer not-an-admin-key"},
		{"wrong", "Bearer " + admin.KeyPrefix + strings.Repeat("B", token.EncodedLen)},
		{"access token instead", "Bearer eyJhbGciOiJFZERTQSJ9.e30.sig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t) // the admin use cases unset: none may run
			for _, r := range []struct{ method, path string }{
				{"GET", "/admin/v1/users"}, {"DELETE", "/admin/v1/users/" + userID.String()}, {"GET", "/admin/v1/audit"},
				{"POST", "/admin/v1/users/" + userID.String() + "/unlock"},
			} {
				req := request(r.method, r.path, "")
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				res, body := do(t, f.admin, req)
				p := decodeProblem(t, res, body, 401, "unauthorized")
				if p["detail"] != "A valid admin key is required." {
					t.Errorf("detail = %v", p["detail"])
				}
				if res.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("%s %s: WWW-Authenticate = %q", r.method, r.path, res.Header.Get("WWW-Authenticate"))
				}
				if res.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
				}
			}
		})
	}
}

func TestAdminProbesNeedNoKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		res, body := do(t, f.admin, request("GET", p, ""))
		if res.StatusCode != 200 {
			t.Errorf("%s = %d %s", p, res.StatusCode, body)
		}
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control = %q", p, res.Header.Get("Cache-Control"))
		}
	}
	// CORS stays closed on the admin app whatever the public config says.
	req := request("OPTIONS", "/admin/v1/users", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET")
	res, _ := do(t, f.admin, req)
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("admin app answered a preflight: %v", res.Header)
	}
}

// view is what the admin use cases show of u: three active sessions.
func view(u *user.User) admin.UserView {
	return admin.UserView{User: u, ActiveSessions: 3}
}

func TestAdminListUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.users.ListFn = func(_ context.Context, in admin.ListInput) ([]admin.UserView, string, error) {
		if in.Email != "Own" || in.Cursor != "" || in.Limit == nil || *in.Limit != 1 {
			t.Errorf("input %+v", in)
		}
		return []admin.UserView{view(owner(t, "owner@example.com", false))}, "", nil
	}
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/users?email=Own&limit=1", ""))
	m := decodeJSON(t, res, body, 200)
	if m["next_cursor"] != nil {
		t.Errorf("next_cursor = %v, want null", m["next_cursor"])
	}
	if _, ok := m["next_cursor"]; !ok {
		t.Error("next_cursor is absent, want null")
	}
	users, _ := m["users"].([]any)
	if len(users) != 1 {
		t.Fatalf("users %s", body)
	}
	u := users[0].(map[string]any)
	want := map[string]any{
		"id": userID.String(), "email": "owner@example.com", "email_verified": true, "created_at": "2025-03-12T15:09:26Z",
		"disabled": true, "locked": false, "last_login_at": "2025-03-14T13:09:26Z", "mfa_enabled": false, "active_sessions": float64(3),
	}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("%s = %v, want %v", k, u[k], v)
		}
	}
	if len(u) != len(want) {
		t.Errorf("user has %d fields, want %d: %v", len(u), len(want), u)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}

	f.users.ListFn = func(_ context.Context, in admin.ListInput) ([]admin.UserView, string, error) {
		if in.Cursor != "c1" || in.Limit != nil {
			t.Errorf("input %+v", in)
		}
		return nil, "c2", nil
	}
	res, body = do(t, f.admin, adminReq("GET", "/admin/v1/users?cursor=c1", ""))
	m = decodeJSON(t, res, body, 200)
	if users, ok := m["users"].([]any); !ok || len(users) != 0 || m["next_cursor"] != "c2" {
		t.Errorf("body %s, want no users and the next cursor", body)
	}
}

// A limit that is not an integer is refused before the use case runs; any
// integer, and the cursor, are the use case's to judge (its refusals are
// passed on as they are).
func TestAdminListRefusesBadQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	refuse := func(cursor string) error {
		if cursor != "" {
			return domain.InvalidRequest(domain.FieldError{Field: "cursor", Code: "invalid_cursor", Message: "cursor is not valid."})
		}
		return domain.InvalidRequest(domain.FieldError{Field: "limit", Code: "out_of_range", Message: "limit is out of range."})
	}
	var limits []int
	f.users.ListFn = func(_ context.Context, in admin.ListInput) ([]admin.UserView, string, error) {
		if in.Limit != nil {
			limits = append(limits, *in.Limit)
		}
		return nil, "", refuse(in.Cursor)
	}
	f.trail.QueryFn = func(_ context.Context, in admin.AuditInput) ([]audit.Record, string, error) {
		if in.Type != "" {
			return nil, "", domain.InvalidRequest(domain.FieldError{Field: "type", Code: "unknown_type", Message: "type is not an event type."})
		}
		if in.Limit != nil {
			limits = append(limits, *in.Limit)
		}
		return nil, "", refuse(in.Cursor)
	}
	tests := []struct{ query, field string }{
		{"limit=ten", "limit"},
		{"limit=1.5", "limit"},
		{"limit=99999999999999999999", "limit"},
		{"limit=0", "limit"},
		{"limit=201", "limit"},
		{"limit=-3", "limit"},
		{"cursor=not-a-cursor", "cursor"},
		{"cursor=YQ", "cursor"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/admin/v1/users?", "/admin/v1/audit?"} {
			res, body := do(t, f.admin, adminReq("GET", path+tt.query, ""))
			p := decodeProblem(t, res, body, 400, "invalid_request")
			errs, _ := p["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["field"] != tt.field {
				t.Errorf("%s%s: errors %v, want one naming %s", path, tt.query, p["errors"], tt.field)
			}
		}
	}
	// Out of int's range is far out of the use case's; an explicit 0 is
	// not absence.
	if want := []int{-1, -1, 0, 0, 201, 201, -3, -3}; !slices.Equal(limits, want) {
		t.Errorf("the use cases got limits %v, want %v", limits, want)
	}
	for _, q := range []string{"user_id=42", "type=no_such_event"} {
		res, body := do(t, f.admin, adminReq("GET", "/admin/v1/audit?"+q, ""))
		decodeProblem(t, res, body, 400, "invalid_request")
	}
}

func TestAdminUserByIDRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // the use cases unset: a non-UUID id must call nothing
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/admin/v1/users/42", ""},
		{"PATCH", "/admin/v1/users/not-a-uuid", `{"disabled":true}`},
		{"DELETE", "/admin/v1/users/zz", ""},
		{"DELETE", "/admin/v1/users/zz/sessions", ""},
		{"POST", "/admin/v1/users/zz/unlock", ""},
	} {
		res, body := do(t, f.admin, adminReq(r.method, r.path, r.body))
		decodeProblem(t, res, body, 404, "not_found")
	}

	// An unknown id is the use case's not found.
	other := uuid.MustParse("9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")
	f.users.GetFn = func(_ context.Context, id uuid.UUID) (admin.UserView, error) {
		if id != userID {
			return admin.UserView{}, user.ErrNotFound
		}
		return view(owner(t, "owner@example.com", true)), nil
	}
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/users/"+other.String(), ""))
	decodeProblem(t, res, body, 404, "not_found")

	res, body = do(t, f.admin, adminReq("GET", "/admin/v1/users/"+userID.String(), ""))
	m := decodeJSON(t, res, body, 200)
	if u, _ := m["user"].(map[string]any); u["id"] != userID.String() || u["disabled"] != false || u["active_sessions"] != float64(3) {
		t.Errorf("body %s", body)
	}
}

func TestAdminPatchUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := "/admin/v1/users/" + userID.String()

	// Bodies the patch cannot be are refused before the use case runs.
	for _, b := range []string{`{"locked":false}`, `{"disabled":"yes"}`, `{"disabled":true,"disabled":false}`, `[]`} {
		res, body := do(t, f.admin, adminReq("PATCH", id, b))
		decodeProblem(t, res, body, 400, "invalid_request")
	}

	f.users.UpdateFn = func(_ context.Context, a admin.Actor, got uuid.UUID, p admin.Patch) (admin.UserView, error) {
		checkActor(t, a)
		if p.MFAEnabled != nil { // the use case refuses turning MFA on
			return admin.UserView{}, domain.Validation(domain.FieldError{Field: "mfa_enabled", Code: "invalid", Message: "MFA can only be turned off."})
		}
		if got != userID || p.Disabled == nil || !*p.Disabled || p.EmailVerified != nil {
			t.Errorf("update of %s with %+v", got, p)
		}
		return view(owner(t, "owner@example.com", false)), nil
	}
	res, body := do(t, f.admin, adminReq("PATCH", id, `{"mfa_enabled":true}`))
	p := decodeProblem(t, res, body, 422, "validation_failed")
	if errs, _ := p["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "mfa_enabled" {
		t.Errorf("errors %v", p["errors"])
	}
	res, body = do(t, f.admin, adminReq("PATCH", id, `{"disabled":true}`))
	m := decodeJSON(t, res, body, 200)
	if u, _ := m["user"].(map[string]any); u["disabled"] != true {
		t.Errorf("body %s", body)
	}
}

func TestAdminCreateUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // Create unset: the refusals come before it

	res, body := do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"new@example.com","password":""}`))
	p := decodeProblem(t, res, body, 422, "validation_failed")
	if errs, _ := p["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "password" {
		t.Errorf("errors %v", p["errors"])
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"new@example.com","password_hash":""}`))
	p = decodeProblem(t, res, body, 422, "validation_failed")
	if errs, _ := p["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "password_hash" {
		t.Errorf("errors %v", p["errors"])
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"password":"a long enough password"}`))
	decodeProblem(t, res, body, 422, "validation_failed")

	created := uuid.MustParse("7c6b5a49-3827-4165-9f4e-3d2c1b0a9f8e")
	var inputs []admin.CreateInput
	f.users.CreateFn = func(_ context.Context, a admin.Actor, in admin.CreateInput) (admin.UserView, error) {
		checkActor(t, a)
		inputs = append(inputs, in)
		if in.Email == "taken@example.com" {
			return admin.UserView{}, user.ErrEmailTaken
		}
		e, _ := user.ParseEmail(in.Email)
		return admin.UserView{User: user.Rehydrate(created, e, "$argon2id$new", true, in.EmailVerified, t0, t0, nil, nil)}, nil
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"New@Example.com","password":"a long enough password","email_verified":true}`))
	m := decodeJSON(t, res, body, 201)
	u, _ := m["user"].(map[string]any)
	if u["id"] != created.String() || u["email"] != "new@example.com" || u["email_verified"] != true || u["last_login_at"] != nil {
		t.Errorf("body %s", body)
	}
	if res.Header.Get("Location") != "/admin/v1/users/"+created.String() {
		t.Errorf("Location = %q", res.Header.Get("Location"))
	}

	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"taken@example.com","password":"a long enough password"}`))
	decodeProblem(t, res, body, 409, "email_taken")

	// Without a password the account is an invitation.
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"invited@example.com"}`))
	decodeJSON(t, res, body, 201)
	// A password hash goes to the use case as it is.
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"moved@example.com","password_hash":"$2b$10$hash"}`))
	decodeJSON(t, res, body, 201)
	want := []admin.CreateInput{
		{Email: "New@Example.com", Password: "a long enough password", EmailVerified: true},
		{Email: "taken@example.com", Password: "a long enough password"},
		{Email: "invited@example.com"},
		{Email: "moved@example.com", PasswordHash: "$2b$10$hash"},
	}
	if len(inputs) != len(want) {
		t.Fatalf("inputs %+v", inputs)
	}
	for i := range want {
		if inputs[i] != want[i] {
			t.Errorf("input %d = %+v, want %+v", i, inputs[i], want[i])
		}
	}
}

func TestAdminDeleteRevokeUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := "/admin/v1/users/" + userID.String()
	var done []string
	act := func(what string) func(context.Context, admin.Actor, uuid.UUID) error {
		return func(_ context.Context, a admin.Actor, got uuid.UUID) error {
			checkActor(t, a)
			if got != userID {
				return user.ErrNotFound
			}
			done = append(done, what)
			return nil
		}
	}
	f.users.DeleteFn = act("delete")
	f.users.UnlockFn = act("unlock")
	revoke := act("revoke")
	f.users.RevokeSessionsFn = func(ctx context.Context, a admin.Actor, got uuid.UUID) (int, error) {
		return 2, revoke(ctx, a, got)
	}

	for _, r := range []struct{ method, path string }{
		{"DELETE", id}, {"DELETE", id + "/sessions"}, {"POST", id + "/unlock"},
	} {
		res, body := do(t, f.admin, adminReq(r.method, r.path, ""))
		if res.StatusCode != 204 || len(body) != 0 {
			t.Errorf("%s %s = %d %s", r.method, r.path, res.StatusCode, body)
		}
	}
	if strings.Join(done, ",") != "delete,revoke,unlock" {
		t.Errorf("done %v", done)
	}

	res, body := do(t, f.admin, adminReq("DELETE", "/admin/v1/users/9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", ""))
	decodeProblem(t, res, body, 404, "not_found")
}

func TestAdminAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recs := make([]audit.Record, 0, 2)
	for seq := int64(9); seq >= 8; seq-- {
		e := audit.Event{Type: audit.LoginFailed, IP: "192.0.2.9", UserAgent: "curl", At: t0.Add(time.Duration(seq) * time.Second)}
		if seq == 9 {
			e.UserID, e.Detail = userID, map[string]string{"during": "login"}
		}
		recs = append(recs, audit.Record{Seq: seq, Event: e})
	}
	f.trail.QueryFn = func(_ context.Context, in admin.AuditInput) ([]audit.Record, string, error) {
		if in.Type != "login_failed" || in.UserID != uuid.Nil || in.Cursor != "" || in.Limit == nil || *in.Limit != 2 {
			t.Errorf("input %+v", in)
		}
		return recs, "next-page", nil
	}
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/audit?type=login_failed&limit=2", ""))
	m := decodeJSON(t, res, body, 200)
	events, _ := m["events"].([]any)
	if m["next_cursor"] != "next-page" || len(events) != 2 {
		t.Fatalf("body %s", body)
	}
	first, second := events[0].(map[string]any), events[1].(map[string]any)
	if first["seq"] != float64(9) || first["user_id"] != userID.String() || first["type"] != "login_failed" ||
		first["occurred_at"] != "2025-03-14T15:09:35Z" || first["detail"].(map[string]any)["during"] != "login" {
		t.Errorf("first event %v", first)
	}
	if second["user_id"] != nil || len(second["detail"].(map[string]any)) != 0 {
		t.Errorf("second event %v, want user_id null and detail {}", second)
	}

	f.trail.QueryFn = func(_ context.Context, in admin.AuditInput) ([]audit.Record, string, error) {
		if in.UserID != userID || in.Cursor != "next-page" || in.Limit != nil || in.Type != "" {
			t.Errorf("input %+v", in)
		}
		return nil, "", nil
	}
	res, body = do(t, f.admin, adminReq("GET", "/admin/v1/audit?user_id="+userID.String()+"&cursor=next-page", ""))
	m = decodeJSON(t, res, body, 200)
	if events, ok := m["events"].([]any); !ok || len(events) != 0 || m["next_cursor"] != nil {
		t.Errorf("body %s, want no events and a null cursor", body)
	}
}

func TestAdminUnknownPaths(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/nope", ""))
	decodeProblem(t, res, body, 404, "not_found")
	res, body = do(t, f.admin, adminReq("PUT", "/admin/v1/users", ""))
	decodeProblem(t, res, body, 405, "method_not_allowed")
	if got := res.Header.Get("Allow"); got != "GET, HEAD, POST" {
		t.Errorf("Allow = %q", got)
	}
	// The admin app has no public route.
	res, body = do(t, f.admin, request("POST", "/v1/login", `{"email":"a@example.com","password":"x"}`))
	decodeProblem(t, res, body, 404, "not_found")
}

func TestAdminKeyStoreDownIsNotARefusal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.keys.AuthenticateFn = func(context.Context, string) (string, error) {
		return "", domain.Unavailable(context.DeadlineExceeded)
	}
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/users", ""))
	decodeProblem(t, res, body, 503, "unavailable")
	if res.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("WWW-Authenticate = %q on a 503", res.Header.Get("WWW-Authenticate"))
	}

	res, body = do(t, f.admin, request("GET", "/admin/v1/users", ""))
	if p := decodeProblem(t, res, body, 401, "unauthorized"); p["detail"] != "A valid admin key is required." {
		t.Errorf("detail = %v", p["detail"])
	}
}
