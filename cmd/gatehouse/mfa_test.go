package main

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The end-to-end tests of two-factor authentication compute real codes
// from the secret the enrollment returns, with the same library the server
// uses (github.com/pquerna/otp), on both stores.

// authenticator is a user's TOTP app: the secret, and the highest step a
// code was given for, so that each code the test sends is for a step the
// server has not seen used yet (each step works once per user).
type authenticator struct {
	b32  string
	last int64
}

const period = 30

func stepAt(t time.Time) int64 { return t.Unix() / period }

// codeFor is the code of step s.
func (a *authenticator) codeFor(t *testing.T, s int64) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(a.b32, time.Unix(s*period, 0), totp.ValidateOpts{Period: period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// next is the code of a step the server accepts now (the current one or
// the next) and has not seen used; when both were used it waits for the
// clock to move on (at most one step).
func (a *authenticator) next(t *testing.T) string {
	t.Helper()
	for {
		now := stepAt(time.Now())
		for _, s := range []int64{now, now + 1} {
			if s > a.last {
				a.last = s
				return a.codeFor(t, s)
			}
		}
		time.Sleep(time.Until(time.Unix((now+1)*period, 0)) + 50*time.Millisecond)
	}
}

// wrong is a code no accepted step has.
func (a *authenticator) wrong(t *testing.T) string {
	now := stepAt(time.Now())
	taken := map[string]bool{}
	for s := now - 2; s <= now+2; s++ {
		taken[a.codeFor(t, s)] = true
	}
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", (123456+i*7919)%1000000)
		if !taken[c] {
			return c
		}
	}
}

// mfaUser is a verified user with MFA on.
type mfaUser struct {
	addr     string
	auth     *authenticator
	secret   []byte // the raw secret the base32 stands for
	recovery []string
	access   string // of the session that enrolled
}

// enroll registers a verified user and turns MFA on through the API,
// checking the answers on the way.
func enroll(t *testing.T, f fixture) mfaUser {
	t.Helper()
	return enrollAddr(t, f, f.verifiedUser(t))
}

// enrollAddr turns MFA on for the verified user addr from a new session.
func enrollAddr(t *testing.T, f fixture, addr string) mfaUser {
	t.Helper()
	c := f.c
	access, _ := login(t, c, addr, strongPassword)

	if r := c.bearer(http.MethodPost, "/v1/me/mfa/totp", access, map[string]string{"password": "not the password at all"}); r.Status != http.StatusForbidden || r.Code(t) != "invalid_credentials" {
		t.Fatalf("start with a wrong password: %d %s", r.Status, r.Body)
	}
	if r := c.bearer(http.MethodPost, "/v1/me/mfa/totp/confirm", access, map[string]string{"code": "123456"}); r.Status != http.StatusConflict || r.Code(t) != "mfa_not_started" {
		t.Fatalf("confirm before start: %d %s", r.Status, r.Body)
	}
	// Starting twice: the second secret replaces the first.
	first := c.bearer(http.MethodPost, "/v1/me/mfa/totp", access, map[string]string{"password": strongPassword})
	r := c.bearer(http.MethodPost, "/v1/me/mfa/totp", access, map[string]string{"password": strongPassword})
	if first.Status != http.StatusOK || r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("start: %d %d %s", first.Status, r.Status, r.Body)
	}
	m := r.JSON(t)
	b32, uri := m["secret"].(string), m["otpauth_uri"].(string)
	if b32 == first.JSON(t)["secret"] {
		t.Fatal("starting again gave the same secret")
	}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil || key.Secret() != b32 || key.Issuer() != "gatehouse.test" || key.AccountName() != addr || key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("otpauth URI %q: %v", uri, err)
	}
	qr, err := base64.StdEncoding.DecodeString(m["qr_png"].(string))
	if err != nil {
		t.Fatalf("qr_png: %v", err)
	}
	if img, err := png.Decode(bytes.NewReader(qr)); err != nil || img.Bounds().Dx() != img.Bounds().Dy() {
		t.Fatalf("qr_png is not a square PNG: %v", err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(b32)
	if err != nil || len(secret) != 20 {
		t.Fatalf("secret %q: %d bytes, %v", b32, len(secret), err)
	}
	a := &authenticator{b32: b32}
	oldA := &authenticator{b32: first.JSON(t)["secret"].(string)}
	if r := c.bearer(http.MethodPost, "/v1/me/mfa/totp/confirm", access, map[string]string{"code": oldA.codeFor(t, stepAt(time.Now()))}); r.Status != http.StatusForbidden || r.Code(t) != "invalid_code" {
		t.Fatalf("confirm with the replaced secret: %d %s", r.Status, r.Body)
	}
	r = c.bearer(http.MethodPost, "/v1/me/mfa/totp/confirm", access, map[string]string{"code": a.next(t)})
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	codes := elems[string](r.JSON(t)["recovery_codes"])
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if r := c.bearer(http.MethodPost, "/v1/me/mfa/totp", access, map[string]string{"password": strongPassword}); r.Status != http.StatusConflict || r.Code(t) != "mfa_already_enabled" {
		t.Fatalf("start with MFA on: %d %s", r.Status, r.Body)
	}
	return mfaUser{addr: addr, auth: a, secret: secret, recovery: codes, access: access}
}

// passwordStep logs in with the password and returns the mfa_token.
func passwordStep(t *testing.T, c *client, addr, pw string) string {
	t.Helper()
	r := c.post("/v1/login", map[string]string{"email": addr, "password": pw})
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	tok, _ := m["mfa_token"].(string)
	if m["mfa_required"] != true || len(tok) != 43 || len(m) != 2 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login of an MFA account: %s", r.Body)
	}
	return tok
}

// codeStep completes a login; it returns the response.
func codeStep(c *client, token, code string) response {
	return c.post("/v1/login/mfa", map[string]string{"mfa_token": token, "code": code})
}

// amrOf decodes the amr claim of an access token.
func amrOf(t *testing.T, access string) []string {
	t.Helper()
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q", access)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.AMR
}

// mailAbout waits for a mail to addr whose subject has about.
func mailAbout(t *testing.T, s *smtptest.Server, addr, about string) smtptest.Message {
	t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range s.Messages() {
			if slices.ContainsFunc(m.To, func(to string) bool { return strings.EqualFold(to, addr) }) && strings.Contains(m.Subject, about) {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail %q to %s within 25s", about, addr)
	return smtptest.Message{}
}

func meMFA(t *testing.T, c *client, access string) bool {
	t.Helper()
	u := c.getOK(t, "/v1/me", access)["user"].(map[string]any)
	on, ok := u["mfa_enabled"].(bool)
	if !ok {
		t.Fatalf("/v1/me has no mfa_enabled: %v", u)
	}
	return on
}

// The life of a second factor: enroll, log in with a code (amr pwd+otp,
// kept by refresh), the code replayed is refused, a recovery code works
// once and the owner is told how many remain, new recovery codes replace
// the old, a password reset leaves MFA on, and the owner turns it off.
func TestMFAEnrollLoginReplayRecoveryResetDisable(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		_, plainAccess, _ := f.signedIn(t)
		if meMFA(t, c, plainAccess) || !slices.Equal(amrOf(t, plainAccess), []string{"pwd"}) {
			t.Fatalf("plain account: mfa on or amr %v", amrOf(t, plainAccess))
		}

		u := enroll(t, f)
		if !meMFA(t, c, u.access) {
			t.Fatal("/v1/me says MFA is off after the confirmation")
		}
		mailAbout(t, f.smtp, u.addr, "Two-factor authentication is on")

		// Log in with a code: a session proven with two factors.
		code := u.auth.next(t)
		r := codeStep(c, passwordStep(t, c, u.addr, strongPassword), code)
		if r.Status != http.StatusOK {
			t.Fatalf("login with a code: %d %s", r.Status, r.Body)
		}
		pair := r.JSON(t)
		access := pair["access_token"].(string)
		if !slices.Equal(amrOf(t, access), []string{"pwd", "otp"}) {
			t.Fatalf("amr %v, want [pwd otp]", amrOf(t, access))
		}
		refreshed := c.post("/v1/token/refresh", map[string]string{"refresh_token": pair["refresh_token"].(string)})
		if refreshed.Status != http.StatusOK || !slices.Equal(amrOf(t, refreshed.JSON(t)["access_token"].(string)), []string{"pwd", "otp"}) {
			t.Fatalf("refresh: %d, amr %s", refreshed.Status, refreshed.Body)
		}

		// The same code again, on a fresh login: refused (its step is used).
		replay := codeStep(c, passwordStep(t, c, u.addr, strongPassword), code)
		if replay.Status != http.StatusUnauthorized || replay.Code(t) != "invalid_code" {
			t.Fatalf("replayed code: %d %s", replay.Status, replay.Body)
		}

		// A recovery code works once (typed in lower case, without dashes).
		typed := strings.ToLower(strings.ReplaceAll(u.recovery[3], "-", ""))
		if r := codeStep(c, passwordStep(t, c, u.addr, strongPassword), typed); r.Status != http.StatusOK {
			t.Fatalf("recovery code: %d %s", r.Status, r.Body)
		}
		notice := mailAbout(t, f.smtp, u.addr, "recovery code was used")
		if !strings.Contains(notice.Text, "9 of your recovery codes remain") {
			t.Fatalf("recovery notice:\n%s", notice.Text)
		}
		if r := codeStep(c, passwordStep(t, c, u.addr, strongPassword), u.recovery[3]); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_code" {
			t.Fatalf("recovery code used twice: %d %s", r.Status, r.Body)
		}

		// New recovery codes need a TOTP code; the old ones stop working.
		if r := c.bearer(http.MethodPost, "/v1/me/mfa/recovery-codes", access, map[string]string{"code": u.recovery[4]}); r.Status != http.StatusForbidden || r.Code(t) != "invalid_code" {
			t.Fatalf("regenerate with a recovery code: %d %s", r.Status, r.Body)
		}
		r = c.bearer(http.MethodPost, "/v1/me/mfa/recovery-codes", access, map[string]string{"code": u.auth.next(t)})
		if r.Status != http.StatusOK {
			t.Fatalf("regenerate: %d %s", r.Status, r.Body)
		}
		fresh := r.JSON(t)["recovery_codes"].([]any)
		if len(fresh) != 10 || slices.Contains(u.recovery, fresh[0].(string)) {
			t.Fatalf("new codes %v", fresh)
		}
		if r := codeStep(c, passwordStep(t, c, u.addr, strongPassword), u.recovery[5]); r.Status != http.StatusUnauthorized {
			t.Fatalf("an old recovery code after regenerating: %d %s", r.Status, r.Body)
		}

		// A password reset does not turn MFA off.
		c.post("/v1/password/forgot", map[string]string{"email": u.addr})
		tok := tokenFrom(t, mailAbout(t, f.smtp, u.addr, "Reset your"), "/reset-password")
		const newPassword = "a new passphrase after the reset"
		if r := c.post("/v1/password/reset", map[string]string{"token": tok, "password": newPassword}); r.Status != http.StatusNoContent {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		r = codeStep(c, passwordStep(t, c, u.addr, newPassword), fresh[0].(string))
		if r.Status != http.StatusOK {
			t.Fatalf("login after the reset: %d %s", r.Status, r.Body)
		}
		access = r.JSON(t)["access_token"].(string)
		if !meMFA(t, c, access) {
			t.Fatal("the reset turned MFA off")
		}

		// Turning it off needs the password and a code.
		if r := c.bearer(http.MethodDelete, "/v1/me/mfa/totp", access, map[string]string{"password": newPassword, "code": u.auth.wrong(t)}); r.Status != http.StatusForbidden || r.Code(t) != "invalid_code" {
			t.Fatalf("disable with a wrong code: %d %s", r.Status, r.Body)
		}
		if r := c.bearer(http.MethodDelete, "/v1/me/mfa/totp", access, map[string]string{"password": "not the password at all", "code": fresh[1].(string)}); r.Status != http.StatusForbidden || r.Code(t) != "invalid_credentials" {
			t.Fatalf("disable with a wrong password: %d %s", r.Status, r.Body)
		}
		if r := c.bearer(http.MethodDelete, "/v1/me/mfa/totp", access, map[string]string{"password": newPassword, "code": fresh[1].(string)}); r.Status != http.StatusNoContent {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		mailAbout(t, f.smtp, u.addr, "was turned off")
		if meMFA(t, c, access) {
			t.Fatal("/v1/me says MFA is on after turning it off")
		}
		if r := c.bearer(http.MethodDelete, "/v1/me/mfa/totp", access, map[string]string{"password": newPassword, "code": fresh[2].(string)}); r.Status != http.StatusConflict || r.Code(t) != "mfa_not_enabled" {
			t.Fatalf("disable twice: %d %s", r.Status, r.Body)
		}
		plain, _ := login(t, c, u.addr, newPassword)
		if !slices.Equal(amrOf(t, plain), []string{"pwd"}) {
			t.Fatalf("amr after MFA off: %v", amrOf(t, plain))
		}
		assertAudit(t, f.env, userID(t, c, plain), "mfa_enabled", "mfa_code_failed", "mfa_recovery_code_used", "mfa_recovery_codes_regenerated", "mfa_disabled")
	})
}

// Ten logins race with one code, each with its own mfa_token from its own
// client: exactly one gets a session.
func TestMFARaceOfTenLoginsWithOneCode(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		u := enroll(t, f)
		clients := make([]*client, 10)
		tokens := make([]string, 10)
		for i := range clients {
			clients[i] = newClient(t, f.inst)
			tokens[i] = passwordStep(t, clients[i], u.addr, strongPassword)
		}
		code := u.auth.next(t)
		wantOutcomes(t, "10 logins with one code", atOnce(len(clients), func(i int) response { return codeStep(clients[i], tokens[i], code) }),
			map[string]int{"200": 1, "401 invalid_code": 9})
	})
}

// Five wrong codes burn an mfa_token; a token only works from the client
// it was issued to; and a wrong password on an MFA account is answered
// byte for byte as on an account without MFA.
func TestMFATokenBurnsAndAWrongPasswordTellsNothing(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		u := enroll(t, f)
		plainAddr := f.verifiedUser(t)

		tok := passwordStep(t, c, u.addr, strongPassword)
		for i := 1; i <= 5; i++ {
			if r := codeStep(c, tok, u.auth.wrong(t)); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_code" {
				t.Fatalf("wrong code %d: %d %s", i, r.Status, r.Body)
			}
		}
		if r := codeStep(c, tok, u.auth.next(t)); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_token" {
			t.Fatalf("the right code on a burned token: %d %s", r.Status, r.Body)
		}

		// Taken to another client, a token does not work (and the code
		// it was tried with is not used up).
		tok = passwordStep(t, c, u.addr, strongPassword)
		code := u.auth.next(t)
		thief := newClient(t, f.inst)
		if r := codeStep(thief, tok, code); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_token" {
			t.Fatalf("token from another client: %d %s", r.Status, r.Body)
		}
		if r := codeStep(c, tok, code); r.Status != http.StatusOK {
			t.Fatalf("the owner after the thief: %d %s", r.Status, r.Body)
		}
		if r := codeStep(c, tok, code); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_token" {
			t.Fatalf("a used token: %d %s", r.Status, r.Body)
		}

		// A wrong password: same status, same bytes (with one request id).
		wrong := func(addr string) response {
			return c.do(http.MethodPost, "/v1/login", map[string]string{"email": addr, "password": "not the password at all"}, map[string]string{"X-Request-ID": "same-request-id"})
		}
		withMFA, without := wrong(u.addr), wrong(plainAddr)
		if withMFA.Status != http.StatusUnauthorized || withMFA.Status != without.Status || !bytes.Equal(withMFA.Body, without.Body) {
			t.Fatalf("wrong password:\n MFA: %d %s\nplain: %d %s", withMFA.Status, withMFA.Body, without.Status, without.Body)
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate"} {
			if withMFA.Header.Get(h) != without.Header.Get(h) {
				t.Errorf("%s: %q vs %q", h, withMFA.Header.Get(h), without.Header.Get(h))
			}
		}
	})
}

// An operator turns MFA off (a user who lost the authenticator and the
// codes): audited, the owner is told, and the password alone logs in.
func TestMFAOperatorTurnsItOff(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		u := enroll(t, f.fixture)
		id := userID(t, f.c, u.access)
		if got := adminUser(t, f.admin.call(http.MethodGet, "/admin/v1/users/"+id, nil)); got["mfa_enabled"] != true {
			t.Fatalf("admin view: %v", got)
		}
		r := f.admin.call(http.MethodPatch, "/admin/v1/users/"+id, map[string]any{"mfa_enabled": false})
		if r.Status != http.StatusOK || adminUser(t, r)["mfa_enabled"] != false {
			t.Fatalf("PATCH: %d %s", r.Status, r.Body)
		}
		notice := mailAbout(t, f.smtp, u.addr, "was turned off")
		if !strings.Contains(notice.Text, "administrator") {
			t.Fatalf("notice:\n%s", notice.Text)
		}
		access, _ := login(t, f.c, u.addr, strongPassword)
		if meMFA(t, f.c, access) {
			t.Fatal("MFA still on")
		}
		assertAudit(t, f.env, id, "mfa_disabled", "admin_user_updated")

		// The same from the shell.
		u2 := enroll(t, f.fixture)
		var shown struct {
			Users []struct {
				MFAEnabled *bool `json:"mfa_enabled"`
			} `json:"users"`
		}
		out := mustCLI(t, f.env, "users", "disable-mfa", u2.addr, "--json")
		if err := json.Unmarshal([]byte(out), &shown); err != nil {
			t.Fatal(err)
		}
		if len(shown.Users) != 1 || shown.Users[0].MFAEnabled == nil || *shown.Users[0].MFAEnabled {
			t.Fatalf("users disable-mfa printed %s", out)
		}
		access, _ = login(t, f.c, u2.addr, strongPassword)
		if meMFA(t, f.c, access) {
			t.Fatal("MFA still on after users disable-mfa")
		}
	})
}

// The TOTP table holds no secret in clear: neither its 20 bytes nor their
// base32; nor does the recovery-code table hold a code.
func TestMFASecretsAreNotStoredInClear(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		u := enroll(t, f)
		db := openStore(t, f.env)
		for table, needles := range map[string][]string{
			"mfa_totp":           {string(u.secret), u.auth.b32, strings.ToLower(u.auth.b32)},
			"mfa_recovery_codes": append(slices.Clone(u.recovery), strings.ReplaceAll(u.recovery[0], "-", "")),
		} {
			dump, n := db.dump(t, table)
			if n == 0 {
				t.Fatalf("%s is empty", table)
			}
			for _, needle := range needles {
				if bytes.Contains(dump, []byte(needle)) {
					t.Errorf("%s holds a secret in clear", table)
				}
			}
		}
	})
}
