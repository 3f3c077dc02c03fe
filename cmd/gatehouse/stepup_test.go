package main

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// The second factor's own limits and the step-up of sensitive changes,
// end to end on both stores.

// codeWindow is the second-factor window of these tests: long enough for
// a burst of requests on a busy machine, short enough to wait out.
const codeWindow = 20 * time.Second

// TestMFACodesLimitedPerAccount: wrong codes from two IPs, each sent with
// the right password (MFA disable), are limited at 10 per account; then
// every code, even the right one, is 429 until the window ends, and no
// password success in between (an email change, a login) gives an attempt
// back. After the window a right code works.
func TestMFACodesLimitedPerAccount(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, map[string]string{
		"GATEHOUSE_RATE_LIMIT_AUTH":         "1000/5m", // per IP: not what this test is about
		"GATEHOUSE_RATE_LIMIT_MFA_FAILURES": "10/" + codeWindow.String(),
	}, func(t *testing.T, f fixture) {
		u := enroll(t, f)
		ips := []*client{newClient(t, f.inst), newClient(t, f.inst)}

		began := time.Now()
		var wrong, limited int
		for i := range 58 {
			r := ips[i%2].bearer(http.MethodDelete, "/v1/me/mfa/totp", u.access, map[string]string{"password": strongPassword, "code": u.auth.wrong(t)})
			switch {
			case r.Status == http.StatusForbidden && r.Code(t) == "invalid_code":
				wrong++
			case r.Status == http.StatusTooManyRequests:
				assertRateLimited(t, "a wrong code over the limit", r)
				limited++
			default:
				t.Fatalf("wrong code %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		if wrong != 10 || limited != 48 {
			t.Fatalf("58 wrong codes from two IPs: %d checked, %d limited; want 10 and 48", wrong, limited)
		}

		// The right code is refused too, wherever it is tried.
		assertRateLimited(t, "the right TOTP code (disable)",
			ips[0].bearer(http.MethodDelete, "/v1/me/mfa/totp", u.access, map[string]string{"password": strongPassword, "code": u.auth.next(t)}))
		// A password success (an email change to the same address, from
		// the session that proved a code) does not give attempts back...
		if r := ips[1].bearer(http.MethodPost, "/v1/me/email", u.access, map[string]string{"new_email": u.addr, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("email change: %d %s", r.Status, r.Body)
		}
		assertRateLimited(t, "a right recovery code after a password success",
			ips[1].bearer(http.MethodDelete, "/v1/me/mfa/totp", u.access, map[string]string{"password": strongPassword, "code": u.recovery[0]}))
		// ...nor does a right password at login.
		owner := newClient(t, f.inst)
		assertRateLimited(t, "a right recovery code at login", codeStep(owner, passwordStep(t, owner, u.addr, strongPassword), u.recovery[0]))
		if time.Since(began) >= codeWindow {
			t.Fatalf("the checks took %v, longer than the window: the test proves nothing on this machine", time.Since(began))
		}

		time.Sleep(time.Until(began.Add(codeWindow + time.Second)))
		if r := codeStep(owner, passwordStep(t, owner, u.addr, strongPassword), u.recovery[0]); r.Status != http.StatusOK {
			t.Fatalf("a right code after the window: %d %s", r.Status, r.Body)
		}
		assertAudit(t, f.env, userID(t, f.c, u.access), "mfa_code_failed", "login_throttled")
	})
}

// TestMFATokenBurstChecksAtMostFive: eight wrong codes sent at once with
// one mfa_token get five checks (invalid_code) and three refusals of the
// burned token; the right code then finds the token burned.
func TestMFATokenBurstChecksAtMostFive(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		u := enroll(t, f)
		tok := passwordStep(t, f.c, u.addr, strongPassword)
		bad := u.auth.wrong(t)
		wantOutcomes(t, "8 concurrent wrong codes on one token", atOnce(8, func(int) response { return codeStep(f.c, tok, bad) }),
			map[string]int{"401 invalid_code": 5, "401 invalid_token": 3})
		if r := codeStep(f.c, tok, u.recovery[0]); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_token" {
			t.Fatalf("the right code on the burned token: %d %s", r.Status, r.Body)
		}
	})
}

// sessionsOf lists the sessions access sees.
func sessionsOf(t *testing.T, c *client, access string) []map[string]any {
	t.Helper()
	return elems[map[string]any](c.getOK(t, "/v1/me/sessions", access)["sessions"])
}

// amrList is a session's amr as strings.
func amrList(s map[string]any) []string { return elems[string](s["amr"]) }

// TestMFAStepUp: turning MFA on revokes every other session and upgrades
// the confirming one (amr, auth_time, shown in the session list); a
// password-only session of an MFA account (one from before MFA, as the
// migration keeps them) gets 403 step_up_required for each of the five
// sensitive changes and makes them with a code in the request; a session
// that just proved a code makes them without one.
func TestMFAStepUp(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		addr, before, _ := f.signedIn(t)
		u := enrollAddr(t, f, addr)
		if r := c.bearer(http.MethodGet, "/v1/me", before, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("a session from before MFA after turning it on: %d %s", r.Status, r.Body)
		}
		list := sessionsOf(t, c, u.access)
		if len(list) != 1 || list[0]["current"] != true || !slices.Equal(amrList(list[0]), []string{"pwd", "otp"}) {
			t.Fatalf("sessions after turning MFA on: %v", list)
		}
		authTime, err := time.Parse(time.RFC3339Nano, list[0]["auth_time"].(string))
		if err != nil || time.Since(authTime) > time.Minute || !authTime.After(mustTime(t, list[0]["created_at"])) {
			t.Fatalf("auth_time %v of the confirming session (created %v): %v", list[0]["auth_time"], list[0]["created_at"], err)
		}

		// The confirming session made password-only, as a session from
		// before MFA that the migration carried over is.
		db := openStore(t, f.env)
		if _, err := db.ExecContext(db.ctx(t), `UPDATE sessions SET amr = 'pwd' WHERE CAST(id AS TEXT) = $1`, list[0]["id"]); err != nil {
			t.Fatal(err)
		}
		if got := amrList(sessionsOf(t, c, u.access)[0]); !slices.Equal(got, []string{"pwd"}) {
			t.Fatalf("amr %v, want [pwd]", got)
		}
		const newPassword = "another passphrase for the account"
		changes := []struct{ method, path string }{
			{http.MethodPost, "/v1/me/email"}, {http.MethodPost, "/v1/me/password"}, {http.MethodDelete, "/v1/me"},
			{http.MethodDelete, "/v1/me/mfa/totp"}, {http.MethodPost, "/v1/me/mfa/recovery-codes"},
		}
		body := func(path, pw, code string) map[string]string {
			var m map[string]string
			switch path {
			case "/v1/me/email":
				m = map[string]string{"new_email": "moved-" + addr, "password": pw}
			case "/v1/me/password":
				m = map[string]string{"current_password": pw, "new_password": newPassword}
			case "/v1/me", "/v1/me/mfa/totp":
				m = map[string]string{"password": pw}
			default:
				m = map[string]string{}
			}
			if code != "" {
				m["code"] = code
			}
			return m
		}
		for _, ch := range changes {
			r := c.bearer(ch.method, ch.path, u.access, body(ch.path, strongPassword, ""))
			if r.Status != http.StatusForbidden || r.Code(t) != "step_up_required" {
				t.Fatalf("%s %s from a password-only session: %d %s", ch.method, ch.path, r.Status, r.Body)
			}
		}

		// With a code in the request, each goes through.
		if r := c.bearer(http.MethodPost, "/v1/me/email", u.access, body("/v1/me/email", strongPassword, u.recovery[0])); r.Status != http.StatusAccepted {
			t.Fatalf("email change with a code: %d %s", r.Status, r.Body)
		}
		if r := c.bearer(http.MethodPost, "/v1/me/password", u.access, body("/v1/me/password", strongPassword, u.recovery[1])); r.Status != http.StatusNoContent {
			t.Fatalf("password change with a code: %d %s", r.Status, r.Body)
		}
		r := c.bearer(http.MethodPost, "/v1/me/mfa/recovery-codes", u.access, body("/v1/me/mfa/recovery-codes", "", u.auth.next(t)))
		if r.Status != http.StatusOK {
			t.Fatalf("new recovery codes with a code: %d %s", r.Status, r.Body)
		}
		fresh := r.JSON(t)["recovery_codes"].([]any)

		// A session that just proved a code needs none.
		second := newClient(t, f.inst)
		r = codeStep(second, passwordStep(t, second, addr, newPassword), fresh[0].(string))
		if r.Status != http.StatusOK {
			t.Fatalf("login with a code: %d %s", r.Status, r.Body)
		}
		strong := r.JSON(t)["access_token"].(string)
		if r := second.bearer(http.MethodPost, "/v1/me/mfa/recovery-codes", strong, map[string]string{}); r.Status != http.StatusOK {
			t.Fatalf("new recovery codes from a fresh session: %d %s", r.Status, r.Body)
		}
		if r := second.bearer(http.MethodPost, "/v1/me/email", strong, body("/v1/me/email", newPassword, "")); r.Status != http.StatusAccepted {
			t.Fatalf("email change from a fresh session: %d %s", r.Status, r.Body)
		}
		if r := second.bearer(http.MethodDelete, "/v1/me/mfa/totp", strong, body("/v1/me/mfa/totp", newPassword, "")); r.Status != http.StatusNoContent {
			t.Fatalf("MFA off from a fresh session: %d %s", r.Status, r.Body)
		}
		// Without MFA the password-only session is as before: no code.
		if r := c.bearer(http.MethodDelete, "/v1/me", u.access, body("/v1/me", newPassword, "")); r.Status != http.StatusNoContent {
			t.Fatalf("delete without MFA: %d %s", r.Status, r.Body)
		}
	})
}

// TestMFAStepUpDeleteWithACode: a password-only session of an MFA account
// deletes it with a code in the request.
func TestMFAStepUpDeleteWithACode(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		u := enroll(t, f)
		db := openStore(t, f.env)
		if _, err := db.ExecContext(db.ctx(t), `UPDATE sessions SET amr = 'pwd'`); err != nil {
			t.Fatal(err)
		}
		if r := f.c.bearer(http.MethodDelete, "/v1/me", u.access, map[string]string{"password": strongPassword}); r.Status != http.StatusForbidden || r.Code(t) != "step_up_required" {
			t.Fatalf("delete without a code: %d %s", r.Status, r.Body)
		}
		if r := f.c.bearer(http.MethodDelete, "/v1/me", u.access, map[string]string{"password": strongPassword, "code": u.recovery[0]}); r.Status != http.StatusNoContent {
			t.Fatalf("delete with a code: %d %s", r.Status, r.Body)
		}
	})
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}
