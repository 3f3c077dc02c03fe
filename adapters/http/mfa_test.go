package http

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/google/uuid"
)

func TestMFARoutesNeedABearer(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // the use cases unset: none may run
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/me/mfa/totp", `{"password":"x"}`},
		{"POST", "/v1/me/mfa/totp/confirm", `{"code":"123456"}`},
		{"DELETE", "/v1/me/mfa/totp", `{"password":"x","code":"123456"}`},
		{"POST", "/v1/me/mfa/recovery-codes", `{"code":"123456"}`},
	} {
		res, body := do(t, f.public, request(r.method, r.path, r.body))
		decodeProblem(t, res, body, 401, "unauthorized")
	}
}

// Bad bodies are refused before any use case runs (their stubs are
// unset), as 400 or 422 problems, never 500.
func TestMFARoutesRefuseBadBodies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	long := strings.Repeat("1", 65)
	for _, r := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/login/mfa", `{"mfa_token":"t"}`, 422, "validation_failed"},
		{"POST", "/v1/login/mfa", `{"mfa_token":"t","code":"` + long + `"}`, 422, "validation_failed"},
		{"POST", "/v1/login/mfa", `{"mfa_token":"t","code":123456}`, 400, "invalid_request"},
		{"POST", "/v1/login/mfa", `{"mfa_token":"t","code":"1","extra":1}`, 400, "invalid_request"},
		{"POST", "/v1/login/mfa", `{"mfa_token":"t","code":"1","code":"2"}`, 400, "invalid_request"},
		{"POST", "/v1/me/mfa/totp", `{}`, 422, "validation_failed"},
		{"POST", "/v1/me/mfa/totp/confirm", `{"code":["123456"]}`, 400, "invalid_request"},
		{"DELETE", "/v1/me/mfa/totp", `{"code":"123456"}`, 422, "validation_failed"},
		{"DELETE", "/v1/me/mfa/totp", `{"password":"x","code":"` + long + `"}`, 422, "validation_failed"},
		{"POST", "/v1/me/mfa/recovery-codes", `null`, 400, "invalid_request"},
		{"POST", "/v1/me/mfa/recovery-codes", `{"code":"` + long + `"}`, 422, "validation_failed"},
		{"POST", "/v1/me/email", `{"new_email":"a@b.io","password":"x","code":"` + long + `"}`, 422, "validation_failed"},
		{"POST", "/v1/me/password", `{"current_password":"x","new_password":"y","code":123456}`, 400, "invalid_request"},
		{"DELETE", "/v1/me", `{"password":"x","code":"` + long + `"}`, 422, "validation_failed"},
	} {
		req := request(r.method, r.path, r.body, "Authorization", "Bearer good-jwt")
		res, body := do(t, f.public, req)
		decodeProblem(t, res, body, r.status, r.code)
	}
}

// A malformed or unknown mfa_token is the use case's one 401
// invalid_token.
func TestLoginMFARefusesUnknownTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var asked []string
	f.loginMFA.HandleFn = func(_ context.Context, in session.LoginMFAInput) (*session.TokenPair, error) {
		if in.Code != "123456" || in.Meta.IP == "" {
			t.Errorf("input %+v", in)
		}
		asked = append(asked, in.Token)
		return nil, mfa.ErrLoginTokenInvalid
	}
	long := strings.Repeat("A", 43)
	for _, tok := range []string{"short", long} {
		res, body := do(t, f.public, request("POST", "/v1/login/mfa", `{"mfa_token":"`+tok+`","code":"123456"}`))
		decodeProblem(t, res, body, 401, "invalid_token")
	}
	if len(asked) != 2 || asked[0] != "short" || asked[1] != long {
		t.Errorf("asked with %q", asked)
	}
}

func TestMFAStartWhenEnabledIsAConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mfaStart.HandleFn = func(context.Context, appmfa.StartInput) (appmfa.Enrollment, error) {
		return appmfa.Enrollment{}, mfa.ErrAlreadyEnabled
	}
	res, body := do(t, f.public, request("POST", "/v1/me/mfa/totp", `{"password":"pw"}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 409, "mfa_already_enabled")
}

func TestMFAStartShowsTheSecretNoStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret := strings.Repeat("ABCDEFGH", 4)
	f.mfaStart.HandleFn = func(_ context.Context, in appmfa.StartInput) (appmfa.Enrollment, error) {
		if in.UserID != userID || in.Password != "pw" || in.Meta.IP == "" {
			t.Errorf("input %+v", in)
		}
		return appmfa.Enrollment{Secret: secret, URI: "otpauth://totp/auth.example.test:owner@example.com?secret=" + secret, QRPNG: []byte("\x89PNG image")}, nil
	}
	res, body := do(t, f.public, request("POST", "/v1/me/mfa/totp", `{"password":"pw"}`, "Authorization", "Bearer good-jwt"))
	m := decodeJSON(t, res, body, 200)
	if m["secret"] != secret || !strings.HasPrefix(m["otpauth_uri"].(string), "otpauth://totp/") || m["qr_png"] != base64.StdEncoding.EncodeToString([]byte("\x89PNG image")) || len(m) != 3 {
		t.Fatalf("body %s", body)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
}

// A wrong code on a bearer endpoint is 403 invalid_code (the token itself
// is fine); the use case counts and audits it.
func TestMFAConfirmWrongCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mfaConfirm.HandleFn = func(_ context.Context, uid, sid uuid.UUID, code string, m app.RequestMeta) ([]mfa.RecoveryCode, error) {
		if uid != userID || sid != sessionID || code != "123456" || m.IP == "" {
			t.Errorf("asked for %s, %s, %q, %+v", uid, sid, code, m)
		}
		return nil, mfa.ErrWrongCode
	}
	res, body := do(t, f.public, request("POST", "/v1/me/mfa/totp/confirm", `{"code":"123456"}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 403, "invalid_code")
}

// The recovery codes, on confirmation and on renewal, are shown once, not
// to be cached.
func TestMFARecoveryCodesNoStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	codes := []mfa.RecoveryCode{"AAAA-BBBB-CCCC-DDDD", "EEEE-FFFF-GGGG-HHHH"}
	f.mfaConfirm.HandleFn = func(context.Context, uuid.UUID, uuid.UUID, string, app.RequestMeta) ([]mfa.RecoveryCode, error) {
		return codes, nil
	}
	f.mfaRegenerate.HandleFn = func(_ context.Context, uid uuid.UUID, p appmfa.Proof, m app.RequestMeta) ([]mfa.RecoveryCode, error) {
		checkCaller(t, uid, p, "654321", m)
		return codes, nil
	}
	for _, r := range []struct{ path, body string }{
		{"/v1/me/mfa/totp/confirm", `{"code":"123456"}`},
		{"/v1/me/mfa/recovery-codes", `{"code":"654321"}`},
	} {
		res, body := do(t, f.public, request("POST", r.path, r.body, "Authorization", "Bearer good-jwt"))
		m := decodeJSON(t, res, body, 200)
		got, _ := m["recovery_codes"].([]any)
		if len(got) != 2 || got[0] != "AAAA-BBBB-CCCC-DDDD" || got[1] != "EEEE-FFFF-GGGG-HHHH" || len(m) != 1 {
			t.Errorf("%s: body %s", r.path, body)
		}
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control = %q", r.path, res.Header.Get("Cache-Control"))
		}
	}
}

func TestMeShowsMFA(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// the bearer check's one read says whether the factor is on; /v1/me
	// reads nothing more
	f.bearer(true)
	res, body := do(t, f.public, request("GET", "/v1/me", "", "Authorization", "Bearer good-jwt"))
	m := decodeJSON(t, res, body, 200)
	u, _ := m["user"].(map[string]any)
	if u["mfa_enabled"] != true || u["id"] != userID.String() || len(u) != 5 {
		t.Fatalf("body %s", body)
	}
}

// On an account with MFA on, each sensitive change from a session that
// has not proved a second factor, without a code, is refused by its use
// case (see appmfa.StepUp): the route hands it the bearer's session and
// the body's code, and answers 403 step_up_required, saying what to do.
func TestSensitiveChangesAnswerStepUpRequired(t *testing.T) {
	t.Parallel()
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/me/email", `{"new_email":"thief@example.com","password":"the right one"}`},
		{"POST", "/v1/me/password", `{"current_password":"the right one","new_password":"a brand new passphrase"}`},
		{"DELETE", "/v1/me", `{"password":"the right one"}`},
		{"DELETE", "/v1/me/mfa/totp", `{"password":"the right one"}`},
		{"POST", "/v1/me/mfa/recovery-codes", `{}`},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			f := newFixture(t)
			f.bearer(true)
			called := 0
			refuse := func(id uuid.UUID, p appmfa.Proof, m app.RequestMeta) error {
				called++
				checkCaller(t, id, p, "", m)
				return mfa.ErrStepUpRequired
			}
			f.changeEmail.HandleFn = func(_ context.Context, in account.ChangeEmailInput) error {
				return refuse(in.UserID, in.Proof, in.Meta)
			}
			f.changePassword.HandleFn = func(_ context.Context, in password.ChangeInput) error {
				if in.SessionID != sessionID {
					t.Errorf("session %s", in.SessionID)
				}
				return refuse(in.UserID, in.Proof, in.Meta)
			}
			f.deleteAccount.HandleFn = func(_ context.Context, id uuid.UUID, _ string, p appmfa.Proof, m app.RequestMeta) error {
				return refuse(id, p, m)
			}
			f.mfaDisable.HandleFn = func(_ context.Context, in appmfa.DisableInput) error { return refuse(in.UserID, in.Proof, in.Meta) }
			f.mfaRegenerate.HandleFn = func(_ context.Context, id uuid.UUID, p appmfa.Proof, m app.RequestMeta) ([]mfa.RecoveryCode, error) {
				return nil, refuse(id, p, m)
			}
			res, body := do(t, f.public, request(r.method, r.path, r.body, "Authorization", "Bearer good-jwt"))
			p := decodeProblem(t, res, body, 403, "step_up_required")
			if d, _ := p["detail"].(string); !strings.Contains(d, "code") || !strings.Contains(d, "sign in again") {
				t.Errorf("detail %q does not say what to do", d)
			}
			if called != 1 {
				t.Errorf("the use case ran %d times", called)
			}
		})
	}
}
