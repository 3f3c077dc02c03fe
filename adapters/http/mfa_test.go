package http

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"go.uber.org/mock/gomock"
)

func TestMFARoutesNeedABearer(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // strict: nothing may be called
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

// Bad bodies are refused before any use case runs (strict mocks), as 400
// or 422 problems, never 500.
func TestMFARoutesRefuseBadBodies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectBearer()
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

// A malformed or unknown mfa_token is one 401 invalid_token.
func TestLoginMFARefusesUnknownTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mfa.EXPECT().LoginToken(gomock.Any(), gomock.Any()).Return(nil, mfa.ErrLoginTokenInvalid)
	for _, tok := range []string{"short", strings.Repeat("A", 43)} {
		res, body := do(t, f.public, request("POST", "/v1/login/mfa", `{"mfa_token":"`+tok+`","code":"123456"}`))
		decodeProblem(t, res, body, 401, "invalid_token")
	}
}

func TestMFAStartWhenEnabledIsAConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectBearer()
	f.users.EXPECT().ByID(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
	at, step := t0, int64(1)
	f.mfa.EXPECT().TOTP(gomock.Any(), userID).Return(mfa.RehydrateTOTP(userID, []byte("sealed"), t0, &at, &step), nil)
	res, body := do(t, f.public, request("POST", "/v1/me/mfa/totp", `{"password":"pw"}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 409, "mfa_already_enabled")
}

func TestMFAStartShowsTheSecretNoStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectBearer()
	u := owner(t, "owner@example.com", true)
	f.users.EXPECT().ByID(gomock.Any(), userID).Return(u, nil)
	f.mfa.EXPECT().TOTP(gomock.Any(), userID).Return(nil, mfa.ErrNotFound)
	f.hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$stored").Return(true, false, nil)
	f.sealer.EXPECT().Seal(gomock.Any(), "totp:"+userID.String()).Return([]byte("sealed-bytes-longer-than-twenty"), nil)
	f.totp.EXPECT().KeyURI("auth.example.test", "owner@example.com", gomock.Any()).Return("otpauth://totp/auth.example.test:owner@example.com?secret=X", nil)
	f.totp.EXPECT().KeyQR(gomock.Any()).Return([]byte("\x89PNG image"), nil)
	f.expectTx(1)
	f.rUsers.EXPECT().ByIDForChange(gomock.Any(), userID).Return(u, nil)
	f.rMFA.EXPECT().PutPendingTOTP(gomock.Any(), gomock.Any()).Return(nil)
	res, body := do(t, f.public, request("POST", "/v1/me/mfa/totp", `{"password":"pw"}`, "Authorization", "Bearer good-jwt"))
	m := decodeJSON(t, res, body, 200)
	if s, _ := m["secret"].(string); len(s) != 32 || !strings.HasPrefix(m["otpauth_uri"].(string), "otpauth://totp/") || m["qr_png"] != base64.StdEncoding.EncodeToString([]byte("\x89PNG image")) || len(m) != 3 {
		t.Fatalf("body %s", body)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
}

// A wrong code on a bearer endpoint is 403 invalid_code (the token itself
// is fine), counted and audited.
func TestMFAConfirmWrongCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.expectBearer()
	f.users.EXPECT().ByID(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
	f.mfa.EXPECT().TOTP(gomock.Any(), userID).Return(mfa.RehydrateTOTP(userID, []byte("sealed"), t0, nil, nil), nil)
	f.sealer.EXPECT().Open([]byte("sealed"), "totp:"+userID.String()).Return(make([]byte, 20), nil)
	f.totp.EXPECT().Code(gomock.Any(), gomock.Any()).Return("999999", nil).Times(3)
	f.auditLog.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.MFACodeFailed {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	res, body := do(t, f.public, request("POST", "/v1/me/mfa/totp/confirm", `{"code":"123456"}`, "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 403, "invalid_code")
}

func TestMeShowsMFA(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// the bearer check's one read says whether the factor is on; /v1/me
	// reads nothing more
	f.expectBearerMFA(true)
	res, body := do(t, f.public, request("GET", "/v1/me", "", "Authorization", "Bearer good-jwt"))
	m := decodeJSON(t, res, body, 200)
	u, _ := m["user"].(map[string]any)
	if u["mfa_enabled"] != true || u["id"] != userID.String() || len(u) != 5 {
		t.Fatalf("body %s", body)
	}
}

// On an account with MFA on, each sensitive change (password change: its
// use case's tests and end to end) from a session that
// has not proved a second factor (the bearer's session is password-only)
// and without a code is 403 step_up_required, after the password check,
// before anything changes (strict mocks).
func TestSensitiveChangesAnswerStepUpRequired(t *testing.T) {
	t.Parallel()
	at, step := t0.Add(-time.Hour), int64(1)
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/me/email", `{"new_email":"thief@example.com","password":"the right one"}`},
		{"DELETE", "/v1/me", `{"password":"the right one"}`},
		{"DELETE", "/v1/me/mfa/totp", `{"password":"the right one"}`},
		{"POST", "/v1/me/mfa/recovery-codes", `{}`},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			f := newFixture(t)
			f.expectBearerMFA(true)
			f.users.EXPECT().ByID(gomock.Any(), userID).Return(owner(t, "owner@example.com", true), nil)
			f.hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$stored").Return(true, false, nil).MaxTimes(1)
			f.mfa.EXPECT().TOTP(gomock.Any(), userID).Return(mfa.RehydrateTOTP(userID, []byte("sealed"), t0, &at, &step), nil).MinTimes(1)
			res, body := do(t, f.public, request(r.method, r.path, r.body, "Authorization", "Bearer good-jwt"))
			p := decodeProblem(t, res, body, 403, "step_up_required")
			if d, _ := p["detail"].(string); !strings.Contains(d, "code") || !strings.Contains(d, "sign in again") {
				t.Errorf("detail %q does not say what to do", d)
			}
		})
	}
}
