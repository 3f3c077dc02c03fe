package http

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// Stubs of the passkey use cases (see stub_test.go).
type (
	stubPasskeyRegister struct {
		BeginFn  func(ctx context.Context, userID uuid.UUID, p appmfa.Proof, meta app.RequestMeta) (apppasskey.Begun, error)
		FinishFn func(ctx context.Context, in apppasskey.FinishInput) (*passkey.Credential, error)
	}
	stubPasskeyLogin struct {
		BeginFn  func(ctx context.Context) (apppasskey.Begun, error)
		FinishFn func(ctx context.Context, in apppasskey.LoginInput) (*session.LoginResult, error)
	}
	stubPasskeyList struct {
		HandleFn func(ctx context.Context, userID uuid.UUID) ([]*passkey.Credential, error)
	}
	stubPasskeyRename struct {
		HandleFn func(ctx context.Context, userID, id uuid.UUID, name string) (*passkey.Credential, error)
	}
	stubPasskeyDelete struct {
		HandleFn func(ctx context.Context, userID, id uuid.UUID, p appmfa.Proof, meta app.RequestMeta) error
	}
)

func (s *stubPasskeyRegister) Begin(ctx context.Context, userID uuid.UUID, p appmfa.Proof, meta app.RequestMeta) (apppasskey.Begun, error) {
	return s.BeginFn(ctx, userID, p, meta)
}

func (s *stubPasskeyRegister) Finish(ctx context.Context, in apppasskey.FinishInput) (*passkey.Credential, error) {
	return s.FinishFn(ctx, in)
}

func (s *stubPasskeyLogin) Begin(ctx context.Context) (apppasskey.Begun, error) {
	return s.BeginFn(ctx)
}

func (s *stubPasskeyLogin) Finish(ctx context.Context, in apppasskey.LoginInput) (*session.LoginResult, error) {
	return s.FinishFn(ctx, in)
}

func (s *stubPasskeyList) Handle(ctx context.Context, userID uuid.UUID) ([]*passkey.Credential, error) {
	return s.HandleFn(ctx, userID)
}

func (s *stubPasskeyRename) Handle(ctx context.Context, userID, id uuid.UUID, name string) (*passkey.Credential, error) {
	return s.HandleFn(ctx, userID, id, name)
}

func (s *stubPasskeyDelete) Handle(ctx context.Context, userID, id uuid.UUID, p appmfa.Proof, meta app.RequestMeta) error {
	return s.HandleFn(ctx, userID, id, p, meta)
}

// passkeyFixture is the public app with the passkey use cases stubbed
// (unset ones must not run), the bearer and per-IP limit of fixture.
type passkeyFixture struct {
	*fixture
	register *stubPasskeyRegister
	login    *stubPasskeyLogin
	list     *stubPasskeyList
	rename   *stubPasskeyRename
	del      *stubPasskeyDelete
	app      *fiber.App
}

func newPasskeyFixture(t *testing.T) *passkeyFixture {
	t.Helper()
	f := &passkeyFixture{fixture: newFixture(t), register: &stubPasskeyRegister{}, login: &stubPasskeyLogin{}, list: &stubPasskeyList{},
		rename: &stubPasskeyRename{}, del: &stubPasskeyDelete{}}
	f.app = NewServer(Config{}, nil, UseCases{
		Authenticate: f.auth, Guard: f.guard, Ready: func(context.Context) error { return nil },
		PasskeyRegister: f.register, PasskeyLogin: f.login, PasskeyList: f.list, PasskeyRename: f.rename, PasskeyDelete: f.del,
	})
	return f
}

var passkeyID = uuid.MustParse("3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c")

func testPasskey(lastUsed *time.Time) *passkey.Credential {
	return passkey.Rehydrate(passkeyID, userID, "Laptop", passkey.Registration{CredentialID: []byte{1}, PublicKey: []byte{2}}, t0.Add(-time.Hour), lastUsed)
}

func TestPasskeyManagementNeedsABearer(t *testing.T) {
	t.Parallel()
	f := newPasskeyFixture(t)
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/me/passkeys/register/begin", ""},
		{"POST", "/v1/me/passkeys/register/finish", `{"challenge_id":"x","credential":{}}`},
		{"GET", "/v1/me/passkeys", ""},
		{"PATCH", "/v1/me/passkeys/" + passkeyID.String(), `{"name":"x"}`},
		{"DELETE", "/v1/me/passkeys/" + passkeyID.String(), ""},
	} {
		res, body := do(t, f.app, request(r.method, r.path, r.body))
		decodeProblem(t, res, body, 401, "unauthorized")
	}
}

// An application's token (a grant's) lists the passkeys but adds, renames
// or removes none: 403 first_party_only before any use case runs (the
// stubs fail the test when called).
func TestPasskeyChangesNeedAFirstPartySignIn(t *testing.T) {
	t.Parallel()
	f := newPasskeyFixture(t)
	f.auth.HandleFn = func(_ context.Context, tok string) (session.Principal, error) {
		return session.Principal{UserID: userID, SessionID: sessionID,
			Claims: app.AccessClaims{Subject: userID, SessionID: sessionID, ClientID: "app", Scope: []string{"openid"}}}, nil
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/me/passkeys/register/begin", ""},
		{"POST", "/v1/me/passkeys/register/finish", `{"challenge_id":"x","credential":{}}`},
		{"PATCH", "/v1/me/passkeys/" + passkeyID.String(), `{"name":"x"}`},
		{"DELETE", "/v1/me/passkeys/" + passkeyID.String(), ""},
	} {
		res, body := do(t, f.app, request(r.method, r.path, r.body, "Authorization", "Bearer grant-jwt"))
		decodeProblem(t, res, body, 403, "first_party_only")
	}
	f.list.HandleFn = func(_ context.Context, id uuid.UUID) ([]*passkey.Credential, error) { return nil, nil }
	if res, body := do(t, f.app, request("GET", "/v1/me/passkeys", "", "Authorization", "Bearer grant-jwt")); res.StatusCode != 200 {
		t.Fatalf("list with an application's token: %d %s", res.StatusCode, body)
	}
}

// Bad bodies and ids are refused before any use case runs.
func TestPasskeyRoutesRefuseBadInput(t *testing.T) {
	t.Parallel()
	f := newPasskeyFixture(t)
	long := strings.Repeat("a", 257)
	for _, r := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/login/passkey/finish", `{"challenge_id":"x"}`, 422, "validation_failed"},
		{"POST", "/v1/login/passkey/finish", `{"credential":{}}`, 422, "validation_failed"},
		{"POST", "/v1/login/passkey/finish", `{"challenge_id":"x","credential":{},"extra":1}`, 400, "invalid_request"},
		{"POST", "/v1/login/passkey/finish", `{"challenge_id":"x","credential":{"id":"a","id":"b"}}`, 400, "invalid_request"},
		{"POST", "/v1/login/passkey/finish", `[]`, 400, "invalid_request"},
		{"POST", "/v1/me/passkeys/register/finish", `{"challenge_id":"x","credential":{},"name":"` + long + `"}`, 422, "validation_failed"},
		{"POST", "/v1/me/passkeys/register/finish", `{"challenge_id":"x","credential":{},"name":7}`, 400, "invalid_request"},
		{"PATCH", "/v1/me/passkeys/" + passkeyID.String(), `{}`, 422, "validation_failed"},
		{"PATCH", "/v1/me/passkeys/not-a-uuid", `{"name":"x"}`, 404, "not_found"},
		{"DELETE", "/v1/me/passkeys/not-a-uuid", ``, 404, "not_found"},
	} {
		res, body := do(t, f.app, request(r.method, r.path, r.body, "Authorization", "Bearer good-jwt"))
		decodeProblem(t, res, body, r.status, r.code)
	}
}

func TestPasskeyLoginRoutes(t *testing.T) {
	t.Parallel()
	f := newPasskeyFixture(t)
	var counted []limits.Endpoint
	f.guard.CheckIPFn = func(_ context.Context, e limits.Endpoint, _ string) error {
		counted = append(counted, e)
		return nil
	}
	challenge := uuid.MustParse("6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
	f.login.BeginFn = func(context.Context) (apppasskey.Begun, error) {
		return apppasskey.Begun{ChallengeID: challenge, Options: json.RawMessage(`{"publicKey":{"challenge":"abc","rpId":"example.com"}}`)}, nil
	}
	res, body := do(t, f.app, request("POST", "/v1/login/passkey/begin", ""))
	got := decodeJSON(t, res, body, 200)
	if got["challenge_id"] != challenge.String() || got["options"].(map[string]any)["publicKey"].(map[string]any)["rpId"] != "example.com" ||
		res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("begin answered %v (%s)", got, res.Header.Get("Cache-Control"))
	}
	if len(counted) != 1 || counted[0] != limits.PasskeyBegin {
		t.Fatalf("the begin counted against %v, want the passkey begin limit once (not the login one)", counted)
	}
	counted = nil

	u := user.Rehydrate(userID, user.RehydrateEmail("owner@example.com"), "h", true, true, t0, t0, nil, nil)
	f.login.FinishFn = func(_ context.Context, in apppasskey.LoginInput) (*session.LoginResult, error) {
		if in.ChallengeID != challenge.String() || string(in.Credential) != `{"id":"abc","type":"public-key"}` || in.Meta.IP == "" || in.Browser {
			t.Errorf("finish asked with %+v", in)
		}
		return &session.LoginResult{TokenPair: &session.TokenPair{AccessToken: "jwt", ExpiresIn: 15 * time.Minute, RefreshToken: token.Secret("refresh"), User: u}}, nil
	}
	res, body = do(t, f.app, request("POST", "/v1/login/passkey/finish", `{"challenge_id":"`+challenge.String()+`","credential":{"id":"abc","type":"public-key"}}`))
	if got := decodeJSON(t, res, body, 200); got["access_token"] != "jwt" || got["refresh_token"] != "refresh" || got["token_type"] != "Bearer" {
		t.Fatalf("finish answered %v", got)
	}
	f.login.FinishFn = func(context.Context, apppasskey.LoginInput) (*session.LoginResult, error) {
		return &session.LoginResult{MFAToken: token.Secret("second-step")}, nil
	}
	res, body = do(t, f.app, request("POST", "/v1/login/passkey/finish", `{"challenge_id":"c","credential":{}}`))
	if got := decodeJSON(t, res, body, 200); got["mfa_required"] != true || got["mfa_token"] != "second-step" {
		t.Fatalf("finish with MFA answered %v", got)
	}
	for err, want := range map[error]struct {
		status int
		code   string
	}{
		passkey.ErrChallengeInvalid:  {400, "invalid_challenge"},
		passkey.ErrInvalidCredential: {401, "invalid_credential"},
		passkey.ErrCloned:            {401, "invalid_credential"},
		domain.ErrAccountDisabled:    {403, "account_disabled"},
	} {
		f.login.FinishFn = func(context.Context, apppasskey.LoginInput) (*session.LoginResult, error) {
			return nil, wrapped(err)
		}
		res, body := do(t, f.app, request("POST", "/v1/login/passkey/finish", `{"challenge_id":"c","credential":{}}`))
		decodeProblem(t, res, body, want.status, want.code)
	}
	for _, e := range counted {
		if e != limits.Login {
			t.Errorf("a passkey sign-in counted against %q, want the login limit", e)
		}
	}
	if len(counted) != 6 {
		t.Errorf("%d finishes counted against the login limit, want 6", len(counted))
	}
	f.guard.CheckIPFn = func(context.Context, limits.Endpoint, string) error { return domain.RateLimited(time.Minute) }
	res, body = do(t, f.app, request("POST", "/v1/login/passkey/begin", ""))
	decodeProblem(t, res, body, 429, "rate_limited")
}

// wrapped wraps err as an adapter does, keeping it matchable.
func wrapped(err error) error { return errors.Join(err, errors.New("library detail")) }

func TestPasskeyManagementRoutes(t *testing.T) {
	t.Parallel()
	f := newPasskeyFixture(t)
	challenge := uuid.MustParse("6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
	var codes []string
	f.register.BeginFn = func(_ context.Context, id uuid.UUID, p appmfa.Proof, m app.RequestMeta) (apppasskey.Begun, error) {
		if id != userID || m.IP == "" {
			t.Errorf("begin for %s %+v", id, m)
		}
		codes = append(codes, p.Code)
		if p.Code == "" {
			return apppasskey.Begun{}, mfa.ErrStepUpRequired
		}
		return apppasskey.Begun{ChallengeID: challenge, Options: json.RawMessage(`{"publicKey":{}}`)}, nil
	}
	// No body, or one without a code: the use case decides (here: a
	// step-up is needed). A code goes to the use case.
	res, body := do(t, f.app, request("POST", "/v1/me/passkeys/register/begin", "", "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 403, "step_up_required")
	res, body = do(t, f.app, request("POST", "/v1/me/passkeys/register/begin", `{}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 403, "step_up_required")
	res, body = do(t, f.app, request("POST", "/v1/me/passkeys/register/begin", `{"code":"123456"}`, "Authorization", "Bearer good-jwt"))
	if got := decodeJSON(t, res, body, 200); got["challenge_id"] != challenge.String() {
		t.Fatalf("register begin answered %v", got)
	}
	res, body = do(t, f.app, request("POST", "/v1/me/passkeys/register/begin", `{"code":"1","other":2}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 400, "invalid_request")
	if !slices.Equal(codes, []string{"", "", "123456"}) {
		t.Fatalf("begin asked with codes %q", codes)
	}
	f.register.FinishFn = func(_ context.Context, in apppasskey.FinishInput) (*passkey.Credential, error) {
		if in.UserID != userID || in.ChallengeID != challenge.String() || in.Name == nil || *in.Name != "Laptop" || string(in.Credential) != `{"id":"abc"}` {
			t.Errorf("register finish asked with %+v", in)
		}
		return testPasskey(nil), nil
	}
	res, body = do(t, f.app, request("POST", "/v1/me/passkeys/register/finish", `{"challenge_id":"`+challenge.String()+`","name":"Laptop","credential":{"id":"abc"}}`, "Authorization", "Bearer good-jwt"))
	pk := decodeJSON(t, res, body, 201)["passkey"].(map[string]any)
	if pk["id"] != passkeyID.String() || pk["name"] != "Laptop" || pk["last_used_at"] != nil || pk["created_at"] != t0.Add(-time.Hour).Format(time.RFC3339) {
		t.Fatalf("registered %v", pk)
	}

	used := t0.Add(-time.Minute)
	f.list.HandleFn = func(_ context.Context, id uuid.UUID) ([]*passkey.Credential, error) {
		return []*passkey.Credential{testPasskey(&used)}, nil
	}
	res, body = do(t, f.app, request("GET", "/v1/me/passkeys", "", "Authorization", "Bearer good-jwt"))
	list := decodeJSON(t, res, body, 200)["passkeys"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["last_used_at"] != used.Format(time.RFC3339) {
		t.Fatalf("listed %v", list)
	}
	f.list.HandleFn = func(context.Context, uuid.UUID) ([]*passkey.Credential, error) { return nil, nil }
	res, body = do(t, f.app, request("GET", "/v1/me/passkeys", "", "Authorization", "Bearer good-jwt"))
	if got := string(body); res.StatusCode != 200 || got != `{"passkeys":[]}` {
		t.Fatalf("an empty list: %d %s", res.StatusCode, got)
	}

	f.rename.HandleFn = func(_ context.Context, uid, id uuid.UUID, name string) (*passkey.Credential, error) {
		if uid != userID || id != passkeyID || name != "Desk" {
			t.Errorf("rename asked with %s %s %q", uid, id, name)
		}
		return testPasskey(nil), nil
	}
	res, body = do(t, f.app, request("PATCH", "/v1/me/passkeys/"+passkeyID.String(), `{"name":"Desk"}`, "Authorization", "Bearer good-jwt"))
	decodeJSON(t, res, body, 200)

	f.del.HandleFn = func(_ context.Context, uid, id uuid.UUID, p appmfa.Proof, m app.RequestMeta) error {
		if uid != userID || id != passkeyID || m.IP == "" || p.Code != "" {
			t.Errorf("delete asked with %s %s %+v %q", uid, id, m, p.Code)
		}
		return passkey.ErrLastWayToSignIn
	}
	res, body = do(t, f.app, request("DELETE", "/v1/me/passkeys/"+passkeyID.String(), "", "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 409, "last_sign_in_method")
	f.del.HandleFn = func(_ context.Context, _, _ uuid.UUID, p appmfa.Proof, _ app.RequestMeta) error {
		if p.Code != "654321" {
			return mfa.ErrStepUpRequired
		}
		return nil
	}
	res, body = do(t, f.app, request("DELETE", "/v1/me/passkeys/"+passkeyID.String(), `{"code":""}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 403, "step_up_required")
	res, _ = do(t, f.app, request("DELETE", "/v1/me/passkeys/"+passkeyID.String(), `{"code":"654321"}`, "Authorization", "Bearer good-jwt"))
	if res.StatusCode != 204 {
		t.Fatalf("delete with a code: %d", res.StatusCode)
	}
	f.del.HandleFn = func(context.Context, uuid.UUID, uuid.UUID, appmfa.Proof, app.RequestMeta) error { return nil }
	res, _ = do(t, f.app, request("DELETE", "/v1/me/passkeys/"+passkeyID.String(), "", "Authorization", "Bearer good-jwt"))
	if res.StatusCode != 204 {
		t.Fatalf("delete: %d", res.StatusCode)
	}
}

// Renaming or deleting a passkey and ending a session count against the
// per-IP limit of a password change, as the account page's forms do:
// over it they are refused before their use case runs.
func TestAccountWritesCountAgainstThePasswordLimit(t *testing.T) {
	t.Parallel()
	f := newPasskeyFixture(t)
	var counted []limits.Endpoint
	over := func(_ context.Context, e limits.Endpoint, _ string) error {
		counted = append(counted, e)
		return domain.RateLimited(time.Minute)
	}
	f.guard.CheckIPFn = over
	general := newFixture(t)
	general.guard.CheckIPFn = over
	for _, r := range []struct {
		app                *fiber.App
		method, path, body string
	}{
		{f.app, "PATCH", "/v1/me/passkeys/" + passkeyID.String(), `{"name":"x"}`},
		{f.app, "DELETE", "/v1/me/passkeys/" + passkeyID.String(), ""},
		{general.public, "DELETE", "/v1/me/sessions/" + sessionID.String(), ""},
	} {
		res, body := do(t, r.app, request(r.method, r.path, r.body, "Authorization", "Bearer good-jwt"))
		decodeProblem(t, res, body, 429, "rate_limited")
	}
	if len(counted) != 3 || counted[0] != limits.Password || counted[1] != limits.Password || counted[2] != limits.Password {
		t.Errorf("counted %v, want the password-change limit three times", counted)
	}
}
