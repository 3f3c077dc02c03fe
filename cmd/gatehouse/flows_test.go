package main

import (
	"crypto/sha256"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestRegisterVerifyLoginRefreshLogoutFlow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		// With the reuse grace off, a repeat is reuse at once, as it was
		// before the grace (refreshgrace_test.go tests the grace).
		f := newFixtureWith(t, st, map[string]string{"GATEHOUSE_REFRESH_REUSE_GRACE": "0s"})
		smtp, env, c := f.smtp, f.env, f.c
		addr := randomEmail()

		// Register with a differently written address: stored normalized.
		r := c.post("/v1/register", map[string]string{"email": "  " + strings.ToUpper(addr) + " ", "password": strongPassword})
		if r.Status != http.StatusAccepted || string(r.Body) != `{"status":"verification_sent"}` {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		// Not verified yet: the address has no usable password, so even the
		// right one gets the 401 of a wrong password.
		if r := c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credentials" {
			t.Fatalf("login before verify: %d %s", r.Status, r.Body)
		}

		mail := mailTo(t, smtp, addr, 1)
		if mail.HTML == "" || !strings.Contains(mail.Subject, "Verify") {
			t.Fatalf("verification mail: subject %q, html %d bytes", mail.Subject, len(mail.HTML))
		}
		tok := tokenFrom(t, mail, "/verify-email")

		// The hosted page's GET shows a form and consumes nothing (scanners
		// prefetch links); twice, to be sure.
		for range 2 {
			page := c.do(http.MethodGet, "/verify-email?token="+tok, nil, nil)
			if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `name="token" value="`+tok+`"`) || !strings.Contains(string(page.Body), `type="password" name="password"`) {
				t.Fatalf("verify page: %d %s", page.Status, page.Body)
			}
			csp := page.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") || page.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("verify page headers: CSP %q, Cache-Control %q", csp, page.Header.Get("Cache-Control"))
			}
		}
		// The form's POST needs the registration's password.
		if res := c.form("/verify-email", map[string]string{"token": tok, "password": "not the password chosen"}); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "This password is not the one chosen at the registration") {
			t.Fatalf("verify form with a wrong password: %d %s", res.Status, res.Body)
		}
		res := c.form("/verify-email", map[string]string{"token": tok, "password": strongPassword})
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "verified") {
			t.Fatalf("verify form: %d %s", res.Status, res.Body)
		}
		// The used link says so on opening, and the form's post says it too.
		if page := c.do(http.MethodGet, "/verify-email?token="+tok, nil, nil); page.Status != http.StatusGone ||
			!strings.Contains(string(page.Body), "This link has expired or was already used") || strings.Contains(string(page.Body), "<form") {
			t.Fatalf("opening the used link: %d %s", page.Status, page.Body)
		}
		if res := c.form("/verify-email", map[string]string{"token": tok, "password": strongPassword}); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "This link has expired or was already used") {
			t.Fatalf("posting the used link: %d %s", res.Status, res.Body)
		}
		// Single use.
		if r := c.post("/v1/verify-email", map[string]string{"token": tok, "password": strongPassword}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Fatalf("second verify: %d %s", r.Status, r.Body)
		}

		// Login.
		r = c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword})
		if r.Status != http.StatusOK {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("token response Cache-Control = %q", r.Header.Get("Cache-Control"))
		}
		pair := r.JSON(t)
		if pair["token_type"] != "Bearer" || pair["expires_in"].(float64) != 900 {
			t.Fatalf("pair: %v", pair)
		}
		usr := pair["user"].(map[string]any)
		if usr["email"] != addr || usr["email_verified"] != true {
			t.Fatalf("user: %v", usr)
		}
		access, refresh := pair["access_token"].(string), pair["refresh_token"].(string)

		// /me and sessions.
		me := c.bearer(http.MethodGet, "/v1/me", access, nil)
		if me.Status != http.StatusOK || me.JSON(t)["user"].(map[string]any)["id"] != usr["id"] {
			t.Fatalf("me: %d %s", me.Status, me.Body)
		}
		ss := c.bearer(http.MethodGet, "/v1/me/sessions", access, nil).JSON(t)["sessions"].([]any)
		if len(ss) != 1 || ss[0].(map[string]any)["current"] != true || ss[0].(map[string]any)["ip"] != c.ip || ss[0].(map[string]any)["user_agent"] != c.ua {
			t.Fatalf("sessions: %v", ss)
		}

		// Refresh rotates.
		r = c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh})
		if r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		pair2 := r.JSON(t)
		access2, refresh2 := pair2["access_token"].(string), pair2["refresh_token"].(string)
		if refresh2 == refresh || access2 == access {
			t.Fatal("refresh did not rotate")
		}
		if me := c.bearer(http.MethodGet, "/v1/me", access2, nil); me.Status != http.StatusOK {
			t.Fatalf("me with refreshed token: %d", me.Status)
		}

		// Reuse of the rotated token revokes the whole session: the new refresh
		// token and the access tokens of the session stop working here.
		if r := c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh}); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_token" {
			t.Fatalf("reuse: %d %s", r.Status, r.Body)
		}
		if r := c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh2}); r.Status != http.StatusUnauthorized {
			t.Fatalf("refresh after reuse: %d %s", r.Status, r.Body)
		}
		if me := c.bearer(http.MethodGet, "/v1/me", access2, nil); me.Status != http.StatusUnauthorized || me.Header.Get("WWW-Authenticate") == "" || me.Code(t) != "unauthorized" {
			t.Fatalf("me after reuse: %d %v %s", me.Status, me.Header, me.Body)
		}

		// A new login, then logout ends it at once.
		access3, refresh3 := login(t, c, addr, strongPassword)
		if r := c.bearer(http.MethodPost, "/v1/logout", access3, nil); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if me := c.bearer(http.MethodGet, "/v1/me", access3, nil); me.Status != http.StatusUnauthorized {
			t.Fatalf("me after logout: %d", me.Status)
		}
		if r := c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh3}); r.Status != http.StatusUnauthorized {
			t.Fatalf("refresh after logout: %d", r.Status)
		}
		assertAudit(t, env, usr["id"].(string), "registered", "email_verified", "login_succeeded", "refresh_reuse_detected", "logout")
	})
}

// assertAudit checks that the user's audit trail in env's store holds
// each event type.
func assertAudit(t *testing.T, env map[string]string, userID string, types ...string) {
	t.Helper()
	got := openStore(t, env).texts(t, `SELECT DISTINCT event_type FROM audit_events WHERE user_id = $1`, userID)
	for _, want := range types {
		if !slices.Contains(got, want) {
			t.Errorf("audit events of user %s: %v, missing %s", userID, got, want)
		}
	}
}

func TestRegisterAnswersTheSameForNewUnverifiedAndVerified(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		fresh, unverified, verified := randomEmail(), randomEmail(), randomEmail()
		registerVerified(t, c, smtp, verified)
		first := c.post("/v1/register", map[string]string{"email": unverified, "password": strongPassword})
		oldTok := tokenFrom(t, mailTo(t, smtp, unverified, 1), "/verify-email")

		var bodies []string
		for _, addr := range []string{fresh, unverified, verified} {
			r := c.post("/v1/register", map[string]string{"email": addr, "password": "another long enough passphrase"})
			if r.Status != http.StatusAccepted {
				t.Fatalf("register %s: %d %s", addr, r.Status, r.Body)
			}
			bodies = append(bodies, string(r.Body))
		}
		if bodies[0] != bodies[1] || bodies[1] != bodies[2] || bodies[0] != string(first.Body) {
			t.Fatalf("answers differ: %q", bodies)
		}
		// The known unverified address got a link of its own for the second
		// registration; it verifies only with that registration's password,
		// and the first registration's link then dies.
		newTok := tokenFrom(t, mailTo(t, smtp, unverified, 2), "/verify-email")
		if r := c.post("/v1/verify-email", map[string]string{"token": newTok, "password": strongPassword}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Fatalf("second registration's link with the first one's password: %d %s", r.Status, r.Body)
		}
		if r := c.post("/v1/verify-email", map[string]string{"token": newTok, "password": "another long enough passphrase"}); r.Status != http.StatusOK {
			t.Fatalf("new token: %d %s", r.Status, r.Body)
		}
		if r := c.post("/v1/verify-email", map[string]string{"token": oldTok, "password": strongPassword}); r.Status != http.StatusBadRequest {
			t.Fatalf("old token after the other registration verified: %d", r.Status)
		}
		login(t, c, unverified, "another long enough passphrase")
		// The verified owner got a notice, and the account is unchanged: the
		// old password still works, the one typed by the stranger does not.
		notice := mailNth(t, smtp, verified, 2, "tried to register")
		if _, ok := smtptest.ExtractLink(notice.Text, "/verify-email"); ok {
			t.Fatal("notice carries a verification link")
		}
		login(t, c, verified, strongPassword)
		if r := c.post("/v1/login", map[string]string{"email": verified, "password": "another long enough passphrase"}); r.Status != http.StatusUnauthorized {
			t.Fatalf("stranger's password: %d", r.Status)
		}
		// The new address got its verification mail.
		tokenFrom(t, mailTo(t, smtp, fresh, 1), "/verify-email")
	})
}

func TestConcurrentRegistrationsCreateOneUser(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		addr := randomEmail()
		var wg sync.WaitGroup
		statuses := make([]int, 20)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				variant := addr
				if i%2 == 1 {
					variant = strings.ToUpper(addr)
				}
				statuses[i] = c.post("/v1/register", map[string]string{"email": variant, "password": strongPassword}).Status
			}()
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusAccepted {
				t.Errorf("request %d: %d", i, s)
			}
		}
		if n := openStore(t, f.env).count(t, `SELECT count(*) FROM users WHERE email = $1`, addr); n != 1 {
			t.Fatalf("%d users for one address", n)
		}
	})
}

func TestVerificationTokensAreStoredHashed(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		smtp, env, c := f.smtp, f.env, f.c
		addr := randomEmail()
		c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword})
		tok := tokenFrom(t, mailTo(t, smtp, addr, 1), "/verify-email")

		db := openStore(t, env)
		sum := sha256.Sum256([]byte(tok))
		hashed := db.count(t, `SELECT count(*) FROM one_time_tokens WHERE token_hash = $1`, sum[:])
		// Nowhere in the token table, and no longer in the outbox once sent.
		plain := db.count(t, `
			SELECT (SELECT count(*) FROM one_time_tokens WHERE `+db.bytesAsText("token_hash")+` LIKE '%' || $1 || '%')
			     + (SELECT count(*) FROM mail_outbox WHERE status = 'sent' AND `+db.jsonAsText("payload")+` LIKE '%' || $1 || '%')`, tok)
		if hashed != 1 || plain != 0 {
			t.Fatalf("token rows by hash = %d, rows holding it in clear = %d", hashed, plain)
		}
		// Garbage, well-formed unknown and empty tokens: one answer.
		for _, bad := range []string{"nope", strings.Repeat("A", 43), tok[:42] + "="} {
			if r := c.post("/v1/verify-email", map[string]string{"token": bad, "password": strongPassword}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
				t.Fatalf("token %q: %d %s", bad, r.Status, r.Body)
			}
		}
		// A control character is refused before any lookup.
		if r := c.post("/v1/verify-email", map[string]string{"token": tok[:42] + "\n", "password": strongPassword}); r.Status != http.StatusBadRequest {
			t.Fatalf("token with a newline: %d %s", r.Status, r.Body)
		}
	})
}

func TestOutboxDeliversAfterSMTPOutage(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr := randomEmail()

		smtp.Stop()
		began := time.Now()
		r := c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword})
		if r.Status != http.StatusAccepted {
			t.Fatalf("register with SMTP down: %d %s", r.Status, r.Body)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Fatalf("register waited %v for SMTP", d)
		}
		time.Sleep(1500 * time.Millisecond) // the worker has tried and failed
		smtp.Restart()
		// The first retry comes 10 s after the failure.
		m := mailTo(t, smtp, addr, 1)
		tok := tokenFrom(t, m, "/verify-email")
		if r := c.post("/v1/verify-email", map[string]string{"token": tok, "password": strongPassword}); r.Status != http.StatusOK {
			t.Fatalf("verify with the delayed mail: %d", r.Status)
		}
		time.Sleep(1500 * time.Millisecond)
		n := 0
		for _, m := range smtp.Messages() {
			if len(m.To) == 1 && m.To[0] == addr {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d deliveries, want exactly 1", n)
		}
	})
}

func TestPasswordResetThroughHostedPage(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr, access, refresh := f.signedIn(t)

		// Unknown and known addresses get the same answer.
		unknown := c.post("/v1/password/forgot", map[string]string{"email": randomEmail()})
		known := c.post("/v1/password/forgot", map[string]string{"email": strings.ToUpper(addr)})
		if known.Status != http.StatusAccepted || string(known.Body) != string(unknown.Body) || string(known.Body) != `{"status":"reset_sent"}` {
			t.Fatalf("forgot answers: %d %s / %d %s", known.Status, known.Body, unknown.Status, unknown.Body)
		}
		mail := mailTo(t, smtp, addr, 2)
		tok := tokenFrom(t, mail, "/reset-password")

		// GET shows the form and consumes nothing.
		page := c.do(http.MethodGet, "/reset-password?token="+tok, nil, nil)
		if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `type="password"`) || !strings.Contains(page.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("reset page: %d %s", page.Status, page.Body)
		}
		// A policy violation is shown on the page; the token survives.
		bad := c.form("/reset-password", map[string]string{"token": tok, "password": "short"})
		if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(string(bad.Body), "too short") {
			t.Fatalf("policy error page: %d %s", bad.Status, bad.Body)
		}
		const newPassword = "a brand new passphrase for testing"
		ok := c.form("/reset-password", map[string]string{"token": tok, "password": newPassword})
		if ok.Status != http.StatusOK || !strings.Contains(string(ok.Body), "password was changed") {
			t.Fatalf("reset form: %d %s", ok.Status, ok.Body)
		}
		// Every old session is dead at once.
		assertSessionEnded(t, c, access, refresh, "of the old session after reset")
		// Old password out, new password in; the token is single-use.
		if r := c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusUnauthorized {
			t.Fatalf("old password: %d", r.Status)
		}
		login(t, c, addr, newPassword)
		if r := c.post("/v1/password/reset", map[string]string{"token": tok, "password": "yet another long passphrase"}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Fatalf("reset token reuse: %d %s", r.Status, r.Body)
		}
		mailNth(t, smtp, addr, 3, "password was changed")
	})
}

func TestPasswordResetVerifiesTheEmail(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr := randomEmail()
		c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword})
		mailTo(t, smtp, addr, 1)
		c.post("/v1/password/forgot", map[string]string{"email": addr})
		tok := tokenFrom(t, mailTo(t, smtp, addr, 2), "/reset-password")
		const pw = "the mail proved ownership ok"
		if r := c.post("/v1/password/reset", map[string]string{"token": tok, "password": pw}); r.Status != http.StatusNoContent {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		login(t, c, addr, pw)
	})
}

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr, accessA, _ := f.signedIn(t)
		accessB, refreshB := login(t, c, addr, strongPassword)

		if r := c.bearer(http.MethodPost, "/v1/me/password", accessA, map[string]string{"current_password": "wrong password here", "new_password": "new passphrase that is long"}); r.Status != http.StatusForbidden || r.Code(t) != "invalid_credentials" {
			t.Fatalf("wrong current: %d %s", r.Status, r.Body)
		}
		r := c.bearer(http.MethodPost, "/v1/me/password", accessA, map[string]string{"current_password": strongPassword, "new_password": "short"})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("weak new password: %d %s", r.Status, r.Body)
		}
		if errs := r.JSON(t)["errors"].([]any); errs[0].(map[string]any)["field"] != "new_password" {
			t.Fatalf("field errors: %v", errs)
		}
		const newPassword = "new passphrase that is long"
		if r := c.bearer(http.MethodPost, "/v1/me/password", accessA, map[string]string{"current_password": strongPassword, "new_password": newPassword}); r.Status != http.StatusNoContent {
			t.Fatalf("change: %d %s", r.Status, r.Body)
		}
		if me := c.bearer(http.MethodGet, "/v1/me", accessA, nil); me.Status != http.StatusOK {
			t.Fatalf("current session after change: %d", me.Status)
		}
		assertSessionEnded(t, c, accessB, refreshB, "of the other session after change")
		login(t, c, addr, newPassword)
		mailNth(t, smtp, addr, 2, "password was changed")
	})
}

func TestSessionsListAndRevoke(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr, other := randomEmail(), randomEmail()
		registerVerified(t, c, smtp, addr)
		registerVerified(t, c, smtp, other)
		accessA, _ := login(t, c, addr, strongPassword)
		accessB, _ := login(t, c, addr, strongPassword)
		accessOther, _ := login(t, c, other, strongPassword)

		ss := c.bearer(http.MethodGet, "/v1/me/sessions", accessA, nil).JSON(t)["sessions"].([]any)
		if len(ss) != 2 {
			t.Fatalf("sessions: %v", ss)
		}
		var otherID string
		for _, s := range ss {
			if m := s.(map[string]any); m["current"] != true {
				otherID = m["id"].(string)
			}
		}
		otherUsers := c.bearer(http.MethodGet, "/v1/me/sessions", accessOther, nil).JSON(t)["sessions"].([]any)[0].(map[string]any)["id"].(string)
		for _, id := range []string{otherUsers, "00000000-0000-0000-0000-000000000000", "not-a-uuid"} {
			if r := c.bearer(http.MethodDelete, "/v1/me/sessions/"+id, accessA, nil); r.Status != http.StatusNotFound || r.Code(t) != "not_found" {
				t.Fatalf("revoke %s: %d %s", id, r.Status, r.Body)
			}
		}
		if r := c.bearer(http.MethodDelete, "/v1/me/sessions/"+otherID, accessA, nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke own: %d %s", r.Status, r.Body)
		}
		if me := c.bearer(http.MethodGet, "/v1/me", accessB, nil); me.Status != http.StatusUnauthorized {
			t.Fatalf("revoked session still works: %d", me.Status)
		}
		if r := c.bearer(http.MethodDelete, "/v1/me/sessions/"+otherID, accessA, nil); r.Status != http.StatusNotFound {
			t.Fatalf("revoke twice: %d", r.Status)
		}
		if me := c.bearer(http.MethodGet, "/v1/me", accessOther, nil); me.Status != http.StatusOK {
			t.Fatalf("the other user's session was touched: %d", me.Status)
		}
	})
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		addr := f.verifiedUser(t)
		wrong := c.post("/v1/login", map[string]string{"email": addr, "password": "not the password at all"})
		unknown := c.post("/v1/login", map[string]string{"email": randomEmail(), "password": "not the password at all"})
		if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
			t.Fatalf("statuses %d, %d", wrong.Status, unknown.Status)
		}
		a, b := wrong.JSON(t), unknown.JSON(t)
		delete(a, "request_id")
		delete(b, "request_id")
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) || a["code"] != "invalid_credentials" {
			t.Fatalf("bodies differ:\n%s\n%s", ja, jb)
		}
	})
}

// TestTwoInstancesShareTokensAndReuseDetection is PostgreSQL only: several
// instances on one store are a PostgreSQL deployment; the embedded store
// refuses a second serve (TestSecondServeOnTheSameFileIsRefused).
func TestTwoInstancesShareTokensAndReuseDetection(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, onPostgres, map[string]string{"GATEHOUSE_REFRESH_REUSE_GRACE": "1s"})
	ca, cb := f.c, newClient(t, start(t, f.env))
	addr := f.verifiedUser(t)
	access, refresh := login(t, ca, addr, strongPassword)

	// Both instances publish the same key and accept each other's tokens.
	if ja, jb := ca.do(http.MethodGet, "/.well-known/jwks.json", nil, nil), cb.do(http.MethodGet, "/.well-known/jwks.json", nil, nil); string(ja.Body) != string(jb.Body) {
		t.Fatalf("JWKS differ:\n%s\n%s", ja.Body, jb.Body)
	}
	if me := cb.bearer(http.MethodGet, "/v1/me", access, nil); me.Status != http.StatusOK {
		t.Fatalf("B rejects A's token: %d %s", me.Status, me.Body)
	}
	r := cb.post("/v1/token/refresh", map[string]string{"refresh_token": refresh})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh on B: %d %s", r.Status, r.Body)
	}
	refresh2 := r.JSON(t)["refresh_token"].(string)
	// Within the grace, A answers the token B rotated with B's successor.
	if r := ca.post("/v1/token/refresh", map[string]string{"refresh_token": refresh}); r.Status != http.StatusOK || r.JSON(t)["refresh_token"] != refresh2 {
		t.Fatalf("repeat on A within the grace: %d %s", r.Status, r.Body)
	}
	// After it, reuse on A of the token B rotated revokes the session for both.
	time.Sleep(1100 * time.Millisecond)
	if r := ca.post("/v1/token/refresh", map[string]string{"refresh_token": refresh}); r.Status != http.StatusUnauthorized {
		t.Fatalf("reuse on A: %d", r.Status)
	}
	if r := cb.post("/v1/token/refresh", map[string]string{"refresh_token": refresh2}); r.Status != http.StatusUnauthorized {
		t.Fatalf("B's token after reuse: %d", r.Status)
	}
}

// With the reuse grace off, of concurrent refreshes with one token exactly
// one succeeds, as before the grace (TestConcurrentRefreshesShareOneSuccessor
// has them all succeed with the grace on).
func TestConcurrentRefreshesOneWins(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixtureWith(t, st, map[string]string{"GATEHOUSE_REFRESH_REUSE_GRACE": "0s"})
		c := f.c
		_, _, refresh := f.signedIn(t)
		var statuses []int
		for _, r := range atOnce(20, func(int) response {
			return c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh})
		}) {
			statuses = append(statuses, r.Status)
		}
		ok := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusUnauthorized:
			default:
				t.Errorf("status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of 20 concurrent refreshes succeeded, want exactly 1 (%v)", ok, statuses)
		}
	})
}

func TestJWKSVerifiesAccessTokens(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		addr, access, _ := f.signedIn(t)

		r := c.do(http.MethodGet, "/.well-known/jwks.json", nil, nil)
		if r.Status != http.StatusOK || !strings.Contains(r.Header.Get("Cache-Control"), "max-age") {
			t.Fatalf("jwks: %d %v", r.Status, r.Header)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(r.Body, &set); err != nil {
			t.Fatal(err)
		}
		// What the README tells another service to do.
		tok, err := jwt.ParseSigned(access, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		if typ := tok.Headers[0].ExtraHeaders["typ"]; typ != "at+jwt" {
			t.Fatalf("typ %v", typ)
		}
		keys := set.Key(tok.Headers[0].KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q not in JWKS", tok.Headers[0].KeyID)
		}
		var claims struct {
			jwt.Claims
			SID           string `json:"sid"`
			Email         string `json:"email"`
			EmailVerified bool   `json:"email_verified"`
		}
		if err := tok.Claims(keys[0].Key, &claims); err != nil {
			t.Fatal(err)
		}
		if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: testPublicURL, AnyAudience: jwt.Audience{"gatehouse"}, Time: time.Now()}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if claims.Email != addr || !claims.EmailVerified || claims.SID == "" || claims.ID == "" {
			t.Fatalf("claims %+v", claims)
		}
	})
}

func TestMailGoesToTheStoredAddressWithPublicURLLinks(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		addr := randomEmail()
		// A request dressed up by an attacker: another spelling of the
		// address and forged Host headers.
		r := f.c.do(http.MethodPost, "/v1/register", map[string]string{"email": " " + strings.ToUpper(addr), "password": strongPassword},
			map[string]string{"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
		if r.Status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		m := mailTo(t, f.smtp, addr, 1)
		if len(m.To) != 1 || m.To[0] != addr {
			t.Fatalf("mail to %v, want exactly the stored %s", m.To, addr)
		}
		if strings.Contains(m.Text, "evil.example") || strings.Contains(m.HTML, "evil.example") {
			t.Fatal("a forged Host reached the mail")
		}
		tokenFrom(t, m, "/verify-email") // checks the link starts at the public URL
	})
}

func TestLoginUpgradesHashesMadeWithOlderParameters(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		addr := randomEmail()
		registerVerified(t, f.c, f.smtp, addr)
		db := openStore(t, f.env)
		hashOf := func() string {
			return db.text(t, `SELECT hashed_password FROM users WHERE email = $1`, addr)
		}
		if h := hashOf(); !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
			t.Fatalf("stored hash %q", h)
		}
		// The operator raises the cost and restarts (the embedded store
		// is served by one process at a time); the next login rehashes.
		if err := f.inst.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		env := maps.Clone(f.env)
		env["GATEHOUSE_ARGON2_MEMORY_KIB"] = "2048"
		env["GATEHOUSE_ARGON2_ITERATIONS"] = "2"
		stronger := start(t, env)
		login(t, newClient(t, stronger), addr, strongPassword)
		if h := hashOf(); !strings.HasPrefix(h, "$argon2id$v=19$m=2048,t=2,p=1$") {
			t.Fatalf("hash after login with new parameters %q", h)
		}
		login(t, newClient(t, stronger), addr, strongPassword)
	})
}

func TestPreRegisteredAddressCannotBeHijacked(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		victim := randomEmail()
		attacker, owner := newClient(t, f.inst), f.c
		const attackerPassword = "attacker chose this passphrase"
		// The attacker registers the victim's address first.
		if r := attacker.post("/v1/register", map[string]string{"email": victim, "password": attackerPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("attacker register: %d", r.Status)
		}
		mailTo(t, f.smtp, victim, 1)
		// The owner registers, then verifies with the mail of that registration.
		if r := owner.post("/v1/register", map[string]string{"email": victim, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("owner register: %d", r.Status)
		}
		tok := tokenFrom(t, mailTo(t, f.smtp, victim, 2), "/verify-email")
		if r := owner.post("/v1/verify-email", map[string]string{"token": tok, "password": strongPassword}); r.Status != http.StatusOK {
			t.Fatalf("verify: %d %s", r.Status, r.Body)
		}
		if r := attacker.post("/v1/login", map[string]string{"email": victim, "password": attackerPassword}); r.Status != http.StatusUnauthorized {
			t.Fatalf("the attacker's password still opens the account: %d", r.Status)
		}
		login(t, owner, victim, strongPassword)
	})
}

// TestHostedPagesEscapeTheReflectedToken: a token that is no token is a
// dead link, whose page never reflects it.
func TestHostedPagesEscapeTheReflectedToken(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		const evil = `"><script>alert(1)</script>`
		for _, path := range []string{"/verify-email", "/reset-password"} {
			// No token at all: a dead link, never reflected.
			r := f.c.do(http.MethodGet, path+"?token="+urlQueryEscape(evil), nil, nil)
			if r.Status != http.StatusGone {
				t.Fatalf("%s: %d", path, r.Status)
			}
			if strings.Contains(string(r.Body), "<script>") || strings.Contains(string(r.Body), "script&gt;") {
				t.Fatalf("%s reflects the token:\n%s", path, r.Body)
			}
		}
	})
}

func TestConfiguredLifetimesAreEnforced(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, map[string]string{
		"GATEHOUSE_ACCESS_TOKEN_TTL":     "1s",
		"GATEHOUSE_SESSION_IDLE_TIMEOUT": "2s",
		// Long enough for registerVerified's mail round trip on a busy
		// machine; the late link is checked once it is surely past.
		"GATEHOUSE_VERIFICATION_TOKEN_TTL": "4s",
	}, func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr, late := f.verifiedUser(t), randomEmail()
		c.post("/v1/register", map[string]string{"email": late, "password": strongPassword})
		lateIssued := time.Now() // the link was made before the answer
		lateMail := mailTo(t, smtp, late, 1)
		if !strings.Contains(lateMail.Text, "expires in 4 seconds") {
			t.Errorf("the verification mail does not state the configured lifetime (4s):\n%s", lateMail.Text)
		}
		lateTok := tokenFrom(t, lateMail, "/verify-email")
		access, refresh := login(t, c, addr, strongPassword)
		if r := c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}); r.JSON(t)["expires_in"].(float64) != 1 {
			t.Fatalf("expires_in: %s", r.Body)
		}

		time.Sleep(2100 * time.Millisecond)
		if me := c.bearer(http.MethodGet, "/v1/me", access, nil); me.Status != http.StatusUnauthorized {
			t.Fatalf("access token past its TTL: %d", me.Status)
		}
		if r := c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh}); r.Status != http.StatusUnauthorized {
			t.Fatalf("refresh after the idle timeout: %d", r.Status)
		}
		time.Sleep(time.Until(lateIssued.Add(4100 * time.Millisecond)))
		if r := c.post("/v1/verify-email", map[string]string{"token": lateTok, "password": strongPassword}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Fatalf("expired verification token: %d %s", r.Status, r.Body)
		}
	})
}

func TestNoSessionSurvivesAResetThatRacesLogins(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, map[string]string{"GATEHOUSE_RATE_LIMIT_DISABLED": "true"}, func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr := f.verifiedUser(t)
		c.post("/v1/password/forgot", map[string]string{"email": addr})
		tok := tokenFrom(t, mailTo(t, smtp, addr, 2), "/reset-password")

		// Logins with the old password keep running while the reset happens.
		stop := make(chan struct{})
		var mu sync.Mutex
		var tokens []string
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					r := c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword})
					if r.Status == http.StatusOK {
						var pair struct {
							AccessToken string `json:"access_token"`
						}
						_ = json.Unmarshal(r.Body, &pair)
						mu.Lock()
						tokens = append(tokens, pair.AccessToken)
						mu.Unlock()
					}
				}
			}()
		}
		// The reset starts once a login has succeeded, however busy the
		// machine, so that logins run on both sides of it.
		loggedIn := func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(tokens) > 0
		}
		for deadline := time.Now().Add(time.Minute); !loggedIn() && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if r := c.post("/v1/password/reset", map[string]string{"token": tok, "password": "the owner's new passphrase"}); r.Status != http.StatusNoContent {
			close(stop)
			wg.Wait()
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		if len(tokens) == 0 {
			t.Fatal("no login succeeded before the reset; the race was not exercised")
		}
		for i, access := range tokens {
			if me := c.bearer(http.MethodGet, "/v1/me", access, nil); me.Status != http.StatusUnauthorized {
				t.Errorf("session %d of %d made with the old password survived the reset: %d", i+1, len(tokens), me.Status)
			}
		}
	})
}

func TestUsedUpMailLimitCannotPreClaimAnAddress(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		victim := randomEmail()
		attacker := newClient(t, f.inst)
		const attackerPassword = "attacker chose this passphrase"
		for range 3 { // the per-address limit of verification mails
			attacker.post("/v1/register", map[string]string{"email": victim, "password": attackerPassword})
		}
		attackersLink := tokenFrom(t, mailTo(t, f.smtp, victim, 3), "/verify-email")
		// The owner registers: no mail is left this hour, and nothing changes.
		if r := f.c.post("/v1/register", map[string]string{"email": victim, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("owner register: %d", r.Status)
		}
		// The stranger's link in the owner's mailbox verifies only with the
		// stranger's password, which the owner does not know.
		if r := f.c.post("/v1/verify-email", map[string]string{"token": attackersLink, "password": strongPassword}); r.Status != http.StatusBadRequest {
			t.Fatalf("the stranger's link verifies with the owner's password: %d %s", r.Status, r.Body)
		}
		// An unverified address has no usable password.
		if r := attacker.post("/v1/login", map[string]string{"email": victim, "password": attackerPassword}); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credentials" {
			t.Fatalf("the stranger's password on the unverified address: %d %s", r.Status, r.Body)
		}
		// The owner recovers through a reset, which proves the mailbox and
		// verifies the address; every pending registration dies with it.
		if r := f.c.post("/v1/password/forgot", map[string]string{"email": victim}); r.Status != http.StatusAccepted {
			t.Fatalf("forgot: %d", r.Status)
		}
		resetTok := tokenFrom(t, mailTo(t, f.smtp, victim, 4), "/reset-password")
		if r := f.c.post("/v1/password/reset", map[string]string{"token": resetTok, "password": strongPassword}); r.Status != http.StatusNoContent {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		login(t, f.c, victim, strongPassword)
		if r := attacker.post("/v1/verify-email", map[string]string{"token": attackersLink, "password": attackerPassword}); r.Status != http.StatusBadRequest {
			t.Fatalf("the stranger's link after the owner's reset: %d %s", r.Status, r.Body)
		}
		if r := attacker.post("/v1/login", map[string]string{"email": victim, "password": attackerPassword}); r.Status != http.StatusUnauthorized {
			t.Fatalf("the stranger's password after the owner's reset: %d", r.Status)
		}
	})
}
