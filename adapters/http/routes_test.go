package http

import (
	"context"
	"crypto/rand"
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	dsession "github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

// The route tests drive the real use cases over strict gomock mocks of
// the ports: an unexpected call to a port fails the test, which is how
// "the use case is not called" is checked.

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

type seqIDs struct {
	mu sync.Mutex
	n  byte
}

func (g *seqIDs) NewID() uuid.UUID {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return uuid.UUID{0: 0xee, 15: g.n}
}

var (
	userID    = uuid.MustParse("0b9a3f5e-8c1d-4e2f-9a7b-6c5d4e3f2a1b")
	sessionID = uuid.MustParse("5e1d2c3b-4a59-4687-8796-a5b4c3d2e1f0")
)

// fixture holds the mocks behind one set of use cases. repos are the
// repositories handed to transactions; the others work outside them.
type fixture struct {
	users    *mock.MockUserRepository
	tokens   *mock.MockOneTimeTokenRepository // outside any transaction
	sessions *mock.MockSessionRepository
	access   *mock.MockTokenVerifier
	tx       *mock.MockTxManager
	hasher   *mock.MockPasswordHasher
	auditLog *mock.MockAuditLog
	trail    *mock.MockAuditTrail
	keys     *mock.MockAdminKeyStore
	rl       *mock.MockRateLimiter
	mfa      *mock.MockMFARepository
	sealer   *mock.MockSealer
	totp     *mock.MockTOTP

	rUsers    *mock.MockUserRepository
	rTokens   *mock.MockOneTimeTokenRepository
	rSessions *mock.MockSessionRepository
	rOutbox   *mock.MockOutbox
	rAudit    *mock.MockAuditLog
	rKeys     *mock.MockAdminKeyStore
	rMFA      *mock.MockMFARepository

	public, admin *fiber.App
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctrl := gomock.NewController(t)
	f := &fixture{
		users: mock.NewMockUserRepository(ctrl), sessions: mock.NewMockSessionRepository(ctrl),
		access: mock.NewMockTokenVerifier(ctrl), tx: mock.NewMockTxManager(ctrl),
		hasher: mock.NewMockPasswordHasher(ctrl), auditLog: mock.NewMockAuditLog(ctrl),
		trail: mock.NewMockAuditTrail(ctrl), keys: mock.NewMockAdminKeyStore(ctrl), rl: mock.NewMockRateLimiter(ctrl),
		mfa: mock.NewMockMFARepository(ctrl), sealer: mock.NewMockSealer(ctrl), totp: mock.NewMockTOTP(ctrl),

		rUsers: mock.NewMockUserRepository(ctrl), rTokens: mock.NewMockOneTimeTokenRepository(ctrl), tokens: mock.NewMockOneTimeTokenRepository(ctrl),
		rSessions: mock.NewMockSessionRepository(ctrl), rOutbox: mock.NewMockOutbox(ctrl),
		rAudit: mock.NewMockAuditLog(ctrl), rKeys: mock.NewMockAdminKeyStore(ctrl), rMFA: mock.NewMockMFARepository(ctrl),
	}
	clock := fixedClock{t0}
	ids := &seqIDs{}
	links, err := app.NewLinks("https://auth.example.test")
	if err != nil {
		t.Fatal(err)
	}
	// Rate limits off: the per-IP counters are the Guard's concern, and a
	// disabled Guard calls no port (but Unlock, which always resets).
	guard := limits.NewGuard(f.rl, limits.Policy{Disabled: true})
	check := limits.NewPasswordCheck(guard, f.hasher, f.auditLog, clock)
	policy := user.PasswordPolicy{MinLength: 15}
	obs := mock.NewMockObserver(ctrl)
	obs.EXPECT().LoginResult(gomock.Any(), gomock.Any()).AnyTimes()
	verifier := appmfa.NewVerifier(f.totp, f.sealer)
	attempts := appmfa.NewAttempts(guard, f.auditLog, clock)
	stepUp := appmfa.NewStepUp(f.mfa, f.tx, verifier, attempts, clock, appmfa.StepUpMaxAge(15*time.Minute))

	f.public = NewServer(Config{}, nil, UseCases{
		Authenticate:  session.NewAuthenticate(f.access, f.sessions, clock, session.IdleTimeout(time.Hour)),
		DeleteAccount: account.NewDeleteAccount(f.users, f.tx, check, stepUp, clock, ids),
		ChangeEmail: account.NewChangeEmail(account.ChangeEmailDeps{
			Users:  f.users,
			Tx:     f.tx,
			Check:  check,
			StepUp: stepUp,
			Guard:  guard,
			Clock:  clock,
			IDs:    ids,
			Random: rand.Reader,
			Links:  links,
			TTL:    account.VerificationTTL(time.Hour),
		}),
		ConfirmEmail: account.NewConfirmEmailChange(f.tx, guard, clock),
		LinkState:    account.NewLinkState(f.tokens, f.users, clock),
		LoginMFA: session.NewLoginMFA(session.LoginMFADeps{
			Users:    f.users,
			Factors:  f.mfa,
			Tx:       f.tx,
			Tokens:   mock.NewMockTokenIssuer(ctrl),
			Verifier: verifier,
			Attempts: attempts,
			Clock:    clock,
			IDs:      ids,
			Random:   rand.Reader,
			TTL:      session.RefreshTTL(time.Hour),
			Observer: obs,
		}),
		MFAStart: appmfa.NewStart(appmfa.StartDeps{
			Users:   f.users,
			Factors: f.mfa,
			Tx:      f.tx,
			Check:   check,
			TOTP:    f.totp,
			Sealer:  f.sealer,
			Clock:   clock,
			Random:  rand.Reader,
			Issuer:  appmfa.IssuerOf("", links),
		}),
		MFAConfirm: appmfa.NewConfirm(appmfa.ConfirmDeps{
			Users:    f.users,
			Factors:  f.mfa,
			Tx:       f.tx,
			Verifier: verifier,
			Attempts: attempts,
			Clock:    clock,
			IDs:      ids,
			Random:   rand.Reader,
		}),
		MFADisable: appmfa.NewDisable(appmfa.DisableDeps{
			Users:   f.users,
			Factors: f.mfa,
			Tx:      f.tx,
			Check:   check,
			StepUp:  stepUp,
			Clock:   clock,
			IDs:     ids,
		}),
		MFARegenerate: appmfa.NewRegenerate(f.users, f.mfa, f.tx, stepUp, clock, rand.Reader),
		Guard:         guard,
		Ready:         func(context.Context) error { return nil },
	})
	f.admin = NewAdminServer(Config{CORSOrigins: []string{"https://app.example.com"}, Admin: testAdminConfig}, nil, AdminUseCases{
		Users: admin.NewUsers(admin.UsersDeps{
			Users:     f.users,
			Sessions:  f.sessions,
			Factors:   f.mfa,
			Tx:        f.tx,
			Hasher:    f.hasher,
			Policy:    policy,
			Guard:     guard,
			Clock:     clock,
			IDs:       ids,
			Random:    rand.Reader,
			Links:     links,
			InviteTTL: admin.InviteTTL(72 * time.Hour),
		}),
		Audit: admin.NewAudit(f.trail),
		Keys:  admin.NewKeys(f.keys, f.tx, clock, rand.Reader),
		Ready: func(context.Context) error { return nil },
	})
	return f
}

// expectTx lets n transactions run over the fixture's repositories.
func (f *fixture) expectTx(n int) {
	r := app.Repos{Users: f.rUsers, Tokens: f.rTokens, Sessions: f.rSessions, Outbox: f.rOutbox, Audit: f.rAudit, AdminKeys: f.rKeys, MFA: f.rMFA}
	f.tx.EXPECT().Within(gomock.Any(), gomock.Any()).Times(n).DoAndReturn(
		func(ctx context.Context, fn func(context.Context, app.Repos) error) error { return fn(ctx, r) })
}

// expectBearer makes "good-jwt" the access token of sessionID of userID
// (owner@example.com, active, no second factor), and anything else
// refused.
func (f *fixture) expectBearer() { f.expectBearerMFA(false) }

// expectBearerMFA is expectBearer for a user whose second factor is on or
// off.
func (f *fixture) expectBearerMFA(mfa bool) {
	f.access.EXPECT().Verify(gomock.Any(), gomock.Any()).AnyTimes().DoAndReturn(func(_ context.Context, s string) (app.AccessClaims, error) {
		if s != "good-jwt" {
			return app.AccessClaims{}, domain.ErrUnauthorized
		}
		return app.AccessClaims{Subject: userID, SessionID: sessionID}, nil
	})
	live := dsession.Rehydrate(sessionID, userID, t0.Add(-time.Hour), t0.Add(-time.Minute), t0.Add(time.Hour), nil, "ua", "192.0.2.1")
	last := t0.Add(-2 * time.Hour)
	u := user.Rehydrate(userID, user.RehydrateEmail("owner@example.com"), "$argon2id$stored", true, true, t0.Add(-48*time.Hour), t0.Add(-time.Hour), nil, &last)
	f.sessions.EXPECT().ForBearer(gomock.Any(), sessionID).Return(app.BearerSession{Session: live, User: u, MFAEnabled: mfa}, nil).AnyTimes()
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
		f := newFixture(t)
		res, body := do(t, f.public, request("DELETE", "/v1/me", `{"password":"whatever"}`))
		decodeProblem(t, res, body, 401, "unauthorized")
		if res.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		f := newFixture(t)
		f.expectBearer()
		f.users.EXPECT().ByID(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
		f.hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$stored").Return(false, false, nil)
		f.auditLog.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		res, body := do(t, f.public, request("DELETE", "/v1/me", `{"password":"not it"}`, "Authorization", "Bearer good-jwt"))
		decodeProblem(t, res, body, 403, "invalid_credentials")
	})
	t.Run("deleted", func(t *testing.T) {
		f := newFixture(t)
		f.expectBearer()
		u := owner(t, "owner@example.com", true)
		f.users.EXPECT().ByID(gomock.Any(), userID).Return(u, nil)
		f.hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$stored").Return(true, false, nil)
		f.mfa.EXPECT().TOTP(gomock.Any(), userID).Return(nil, mfa.ErrNotFound) // no MFA: no step-up
		f.expectTx(1)
		f.rUsers.EXPECT().ByIDForChange(gomock.Any(), userID).Return(u, nil)
		f.rUsers.EXPECT().Delete(gomock.Any(), userID).Return(nil)
		f.rOutbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), t0).Return(nil)
		f.rAudit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		res, body := do(t, f.public, request("DELETE", "/v1/me", `{"password":"the right one"}`, "Authorization", "Bearer good-jwt"))
		if res.StatusCode != 204 || len(body) != 0 {
			t.Fatalf("status %d, body %s", res.StatusCode, body)
		}
	})
	t.Run("password required", func(t *testing.T) {
		f := newFixture(t)
		f.expectBearer()
		res, body := do(t, f.public, request("DELETE", "/v1/me", `{}`, "Authorization", "Bearer good-jwt"))
		decodeProblem(t, res, body, 422, "validation_failed")
	})
}

func TestChangeEmailAnswers202(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectBearer()
	// The current address asked again: nothing to change, same answer.
	f.users.EXPECT().ByID(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
	f.hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$stored").Return(true, false, nil)
	f.mfa.EXPECT().TOTP(gomock.Any(), userID).Return(nil, mfa.ErrNotFound)
	res, body := do(t, f.public, request("POST", "/v1/me/email", `{"new_email":"Owner@Example.com","password":"the right one"}`, "Authorization", "Bearer good-jwt"))
	m := decodeJSON(t, res, body, 202)
	if m["status"] != "confirmation_sent" || len(m) != 1 {
		t.Errorf("body %s", body)
	}

	// An invalid address is refused before any lookup.
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

// expectConfirm lets one email change through with secret and reports
// the keep id the use case revoked around.
func (f *fixture) expectConfirm(t *testing.T, hash token.Hash) *uuid.UUID {
	t.Helper()
	tok, err := token.IssueForEmailChange(hash, userID, "new@example.com", t0.Add(-time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kept := new(uuid.UUID)
	*kept = uuid.Max // not called yet
	f.expectTx(1)
	f.rTokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(tok, nil)
	f.rTokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
	f.rUsers.EXPECT().ByIDForChange(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
	f.rUsers.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound)
	f.rUsers.EXPECT().Update(gomock.Any(), gomock.Any()).Return(nil)
	f.rSessions.EXPECT().RevokeAll(gomock.Any(), userID, gomock.Any(), t0).DoAndReturn(func(_ context.Context, _, keep uuid.UUID, _ time.Time) (int, error) {
		*kept = keep
		return 2, nil
	})
	f.rTokens.EXPECT().InvalidateUnused(gomock.Any(), userID, t0, gomock.Any()).Return(0, nil)
	f.rAudit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
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
			f.expectBearer()
			secret, hash, err := token.NewSecret(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			kept := f.expectConfirm(t, hash)
			res, body := do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"`+secret.Reveal()+`"}`, tt.header...))
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
	// A malformed token is refused before any transaction.
	res, body := do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"nope"}`))
	decodeProblem(t, res, body, 400, "invalid_token")

	secret, hash2, _ := token.NewSecret(rand.Reader)
	f.expectTx(1)
	f.rTokens.EXPECT().ByHashForChange(gomock.Any(), hash2).Return(nil, domain.ErrInvalidToken)
	res, body = do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"`+secret.Reveal()+`"}`))
	decodeProblem(t, res, body, 400, "invalid_token")

	// The address was taken since the request.
	tok, _ := token.IssueForEmailChange(hash2, userID, "new@example.com", t0.Add(-time.Minute), time.Hour)
	f.expectTx(1)
	f.rTokens.EXPECT().ByHashForChange(gomock.Any(), hash2).Return(tok, nil)
	f.rTokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
	f.rUsers.EXPECT().ByIDForChange(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
	f.rUsers.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound)
	f.rUsers.EXPECT().Update(gomock.Any(), gomock.Any()).Return(user.ErrEmailTaken)
	res, body = do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"`+secret.Reveal()+`"}`))
	decodeProblem(t, res, body, 409, "email_taken")
}

func TestConfirmEmailUnavailableBearerCheckFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A token that cannot be checked (database down) is not taken for an
	// anonymous call that would sign the caller out too.
	f.access.EXPECT().Verify(gomock.Any(), "good-jwt").Return(app.AccessClaims{Subject: userID, SessionID: sessionID}, nil)
	f.sessions.EXPECT().ForBearer(gomock.Any(), sessionID).Return(app.BearerSession{}, domain.Unavailable(context.DeadlineExceeded))
	secret, _, _ := token.NewSecret(rand.Reader)
	res, body := do(t, f.public, request("POST", "/v1/me/email/confirm", `{"token":"`+secret.Reveal()+`"}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 503, "unavailable")
}

func TestConfirmEmailPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // strict mocks: a GET that consumed the link would fail

	// A link that is no token at all is dead, and never echoed.
	res, body := do(t, f.public, request("GET", "/confirm-email?token=abc%22%3E%3Cscript%3E", ""))
	if res.StatusCode != 410 || strings.Contains(string(body), "<form") || strings.Contains(string(body), "script") {
		t.Fatalf("GET of a dead link = %d:\n%s", res.StatusCode, body)
	}
	live := f.liveLink(t, token.PurposeChangeEmail)
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

	res, body = do(t, f.public, request("GET", "/confirm-email", ""))
	if res.StatusCode != 200 || strings.Contains(string(body), "<form") || !strings.Contains(string(body), "Open the link") {
		t.Errorf("GET without a token = %d:\n%s", res.StatusCode, body)
	}

	// The POST consumes the link, and a hosted page keeps no session even
	// when the browser sends a bearer.
	secret, hash, _ := token.NewSecret(rand.Reader)
	f.expectBearer()
	kept := f.expectConfirm(t, hash)
	req := httptest.NewRequest("POST", "/confirm-email", strings.NewReader(url.Values{"token": {secret.Reveal()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer good-jwt")
	res, body = do(t, f.public, req)
	if res.StatusCode != 200 || !strings.Contains(string(body), "new@example.com") || !strings.Contains(string(body), "signed out") {
		t.Fatalf("POST = %d:\n%s", res.StatusCode, body)
	}
	if *kept != uuid.Nil {
		t.Errorf("keep = %s, want uuid.Nil", *kept)
	}

	// A refused link is a page saying what to do.
	req = httptest.NewRequest("POST", "/confirm-email", strings.NewReader("token=nope"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, body = do(t, f.public, req)
	if res.StatusCode != 400 || !strings.Contains(string(body), "Ask for the change again") {
		t.Errorf("refused POST = %d:\n%s", res.StatusCode, body)
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

// adminKey is a well-formed admin key; the fixture's store knows it as
// "ops-laptop" after expectAdminKey.
var adminKey = admin.KeyPrefix + strings.Repeat("A", token.EncodedLen)

func (f *fixture) expectAdminKey() {
	f.keys.EXPECT().ByHash(gomock.Any(), gomock.Any()).AnyTimes().DoAndReturn(func(_ context.Context, h token.Hash) (app.AdminKey, error) {
		if h != token.HashOf(token.Secret(adminKey)) {
			return app.AdminKey{}, app.ErrAdminKeyNotFound
		}
		return app.AdminKey{Name: "ops-laptop", Hash: h, CreatedAt: t0.Add(-time.Hour)}, nil
	})
}

func adminReq(method, path, body string) *nethttp.Request {
	return request(method, path, body, "Authorization", "Bearer "+adminKey, "User-Agent", "ops-script")
}

func TestAdminAuthRefusals(t *testing.T) {
	t.Parallel()
	revokedKey := admin.KeyPrefix + strings.Repeat("R", token.EncodedLen)
	tests := []struct{ name, header string }{
		{"missing", ""},
		{"other scheme", "Basic " + adminKey},
		{"no credential", "Bearer "},
		{"malformed", "Bearer not-an-admin-key"},
		{"wrong", "Bearer " + admin.KeyPrefix + strings.Repeat("B", token.EncodedLen)},
		{"revoked", "Bearer " + revokedKey},
		{"access token instead", "Bearer eyJhbGciOiJFZERTQSJ9.e30.sig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			revoked := t0.Add(-time.Minute)
			f.keys.EXPECT().ByHash(gomock.Any(), gomock.Any()).AnyTimes().DoAndReturn(func(_ context.Context, h token.Hash) (app.AdminKey, error) {
				if h == token.HashOf(token.Secret(revokedKey)) {
					return app.AdminKey{Name: "old", Hash: h, RevokedAt: &revoked}, nil
				}
				return app.AdminKey{}, app.ErrAdminKeyNotFound
			})
			for _, r := range []struct{ method, path string }{
				{"GET", "/admin/v1/users"}, {"DELETE", "/admin/v1/users/" + userID.String()}, {"GET", "/admin/v1/audit"},
				{"POST", "/admin/v1/users/" + userID.String() + "/unlock"},
			} {
				req := request(r.method, r.path, "")
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				res, body := do(t, f.admin, req)
				decodeProblem(t, res, body, 401, "unauthorized")
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

func (f *fixture) expectViews() {
	f.sessions.EXPECT().CountActive(gomock.Any(), gomock.Any(), t0).AnyTimes().DoAndReturn(func(_ context.Context, ids []uuid.UUID, _ time.Time) (map[uuid.UUID]int, error) {
		return map[uuid.UUID]int{userID: 3}, nil
	})
	f.mfa.EXPECT().EnabledAmong(gomock.Any(), gomock.Any()).Return(map[uuid.UUID]bool{}, nil).AnyTimes()
}

func TestAdminListUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectAdminKey()
	f.expectViews()
	f.users.EXPECT().List(gomock.Any(), app.UserQuery{EmailPrefix: "own", Limit: 2}).Return([]*user.User{owner(t, "owner@example.com", false)}, nil)
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
}

func TestAdminListRefusesBadQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // no List expected
	f.expectAdminKey()
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
	for _, q := range []string{"user_id=42", "type=no_such_event"} {
		res, body := do(t, f.admin, adminReq("GET", "/admin/v1/audit?"+q, ""))
		decodeProblem(t, res, body, 400, "invalid_request")
	}
}

func TestAdminUserByIDRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // strict: a non-UUID id must call nothing
	f.expectAdminKey()
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
	f.users.EXPECT().ByID(gomock.Any(), other).Return(nil, user.ErrNotFound)
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/users/"+other.String(), ""))
	decodeProblem(t, res, body, 404, "not_found")

	f.expectViews()
	f.users.EXPECT().ByID(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
	res, body = do(t, f.admin, adminReq("GET", "/admin/v1/users/"+userID.String(), ""))
	m := decodeJSON(t, res, body, 200)
	if u, _ := m["user"].(map[string]any); u["id"] != userID.String() || u["disabled"] != false {
		t.Errorf("body %s", body)
	}
}

func TestAdminPatchUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectAdminKey()
	id := "/admin/v1/users/" + userID.String()

	// Turning MFA on is refused by the use case before any lookup.
	res, body := do(t, f.admin, adminReq("PATCH", id, `{"mfa_enabled":true}`))
	p := decodeProblem(t, res, body, 422, "validation_failed")
	if errs, _ := p["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "mfa_enabled" {
		t.Errorf("errors %v", p["errors"])
	}
	for _, b := range []string{`{"locked":false}`, `{"disabled":"yes"}`, `{"disabled":true,"disabled":false}`, `[]`} {
		res, body = do(t, f.admin, adminReq("PATCH", id, b))
		decodeProblem(t, res, body, 400, "invalid_request")
	}

	// Disabling revokes every session; the audit event names the key.
	f.expectViews()
	f.expectTx(1)
	f.rUsers.EXPECT().ByIDForChange(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
	f.rSessions.EXPECT().RevokeAll(gomock.Any(), userID, uuid.Nil, t0).Return(3, nil)
	f.rUsers.EXPECT().Update(gomock.Any(), gomock.Any()).Return(nil)
	f.rAudit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.AdminUserUpdated || e.Detail["actor"] != "ops-laptop" || e.UserAgent != "ops-script" || e.IP == "" {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	res, body = do(t, f.admin, adminReq("PATCH", id, `{"disabled":true}`))
	m := decodeJSON(t, res, body, 200)
	if u, _ := m["user"].(map[string]any); u["disabled"] != true {
		t.Errorf("body %s", body)
	}
}

func TestAdminCreateUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectAdminKey()

	res, body := do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"new@example.com","password":""}`))
	p := decodeProblem(t, res, body, 422, "validation_failed")
	if errs, _ := p["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "password" {
		t.Errorf("errors %v", p["errors"])
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"password":"a long enough password"}`))
	decodeProblem(t, res, body, 422, "validation_failed")

	f.hasher.EXPECT().Hash(gomock.Any(), gomock.Any()).Return("$argon2id$new", nil).Times(2)
	f.expectTx(2)
	var created *user.User
	gomock.InOrder(
		f.rUsers.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error {
			created = u
			return nil
		}),
		f.rUsers.EXPECT().Create(gomock.Any(), gomock.Any()).Return(user.ErrEmailTaken),
	)
	f.rAudit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.AdminUserCreated || e.Detail["actor"] != "ops-laptop" {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"New@Example.com","password":"a long enough password","email_verified":true}`))
	m := decodeJSON(t, res, body, 201)
	u, _ := m["user"].(map[string]any)
	if created == nil || u["id"] != created.ID().String() || u["email"] != "new@example.com" || u["email_verified"] != true || u["last_login_at"] != nil {
		t.Errorf("body %s", body)
	}
	if created != nil && res.Header.Get("Location") != "/admin/v1/users/"+created.ID().String() {
		t.Errorf("Location = %q", res.Header.Get("Location"))
	}

	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/users", `{"email":"taken@example.com","password":"a long enough password"}`))
	decodeProblem(t, res, body, 409, "email_taken")
}

func TestAdminDeleteRevokeUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectAdminKey()
	id := "/admin/v1/users/" + userID.String()
	u := owner(t, "owner@example.com", true)

	f.expectTx(3)
	f.rUsers.EXPECT().ByIDForChange(gomock.Any(), userID).Return(u, nil).Times(2)
	f.rUsers.EXPECT().Delete(gomock.Any(), userID).Return(nil)
	f.rSessions.EXPECT().RevokeAll(gomock.Any(), userID, uuid.Nil, t0).Return(2, nil)
	f.users.EXPECT().ByID(gomock.Any(), userID).Return(u, nil)
	f.rl.EXPECT().ResetPrefix(gomock.Any(), gomock.Any()).Return(nil)
	f.rl.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(3) // the lock and the two second-factor counters
	f.rAudit.EXPECT().Append(gomock.Any(), gomock.Any()).Times(3).Return(nil)

	for _, r := range []struct{ method, path string }{
		{"DELETE", id}, {"DELETE", id + "/sessions"}, {"POST", id + "/unlock"},
	} {
		res, body := do(t, f.admin, adminReq(r.method, r.path, ""))
		if res.StatusCode != 204 || len(body) != 0 {
			t.Errorf("%s %s = %d %s", r.method, r.path, res.StatusCode, body)
		}
	}

	f.expectTx(1)
	f.rUsers.EXPECT().ByIDForChange(gomock.Any(), userID).Return(nil, user.ErrNotFound)
	res, body := do(t, f.admin, adminReq("DELETE", id, ""))
	decodeProblem(t, res, body, 404, "not_found")
}

func TestAdminAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectAdminKey()
	recs := make([]audit.Record, 0, 3)
	for seq := int64(9); seq >= 7; seq-- {
		e := audit.Event{Type: audit.LoginFailed, IP: "192.0.2.9", UserAgent: "curl", At: t0.Add(time.Duration(seq) * time.Second)}
		if seq == 9 {
			e.UserID, e.Detail = userID, map[string]string{"during": "login"}
		}
		recs = append(recs, audit.Record{Seq: seq, Event: e})
	}
	f.trail.EXPECT().Query(gomock.Any(), admin.AuditQuery{Type: audit.LoginFailed, Limit: 3}).Return(recs, nil)
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/audit?type=login_failed&limit=2", ""))
	m := decodeJSON(t, res, body, 200)
	next, _ := m["next_cursor"].(string)
	events, _ := m["events"].([]any)
	if next == "" || len(events) != 2 {
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

	f.trail.EXPECT().Query(gomock.Any(), admin.AuditQuery{UserID: userID, BeforeSeq: 8, Limit: admin.DefaultLimit + 1}).Return(nil, nil)
	res, body = do(t, f.admin, adminReq("GET", "/admin/v1/audit?user_id="+userID.String()+"&cursor="+next, ""))
	m = decodeJSON(t, res, body, 200)
	if events, ok := m["events"].([]any); !ok || len(events) != 0 || m["next_cursor"] != nil {
		t.Errorf("body %s, want no events and a null cursor", body)
	}
}

func TestAdminUnknownPaths(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectAdminKey()
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
	f.keys.EXPECT().ByHash(gomock.Any(), gomock.Any()).Return(app.AdminKey{}, domain.Unavailable(context.DeadlineExceeded))
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
