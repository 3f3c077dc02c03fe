package main

// Secrets never reach the log: the full flows run against an instance whose
// debug-level log is captured, and afterwards no password, access token,
// refresh token, one-time token, password hash, SMTP password or database
// password used in the test may appear in it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/jackc/pgx/v5"
)

// secretSet collects the secrets a test used, by name.
type secretSet map[string]string

// addJWT adds an access token and its signature on its own.
func (s secretSet) addJWT(name, tok string) {
	s[name] = tok
	if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 20 {
		s[name+" signature"] = tok[i+1:]
	}
}

// addHash adds a PHC password hash and its salt and hash fields on their own.
func (s secretSet) addHash(name, phc string) {
	s[name] = phc
	parts := strings.Split(phc, "$")
	if len(parts) >= 2 {
		s[name+" salt"] = parts[len(parts)-2]
		s[name+" digest"] = parts[len(parts)-1]
	}
}

func nonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withDBPassword returns dbURL with a password in it, and the password,
// when the server accepts it (a trust-auth test server ignores it); a URL
// that already holds one is returned as it is. ok is false when neither
// works.
func withDBPassword(t *testing.T, dbURL string) (withPw, pw string, ok bool) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return dbURL, "", false
	}
	if p, has := u.User.Password(); has {
		return dbURL, p, true
	}
	pw = "db-secret-pw-" + nonce()
	u.User = url.UserPassword(u.User.Username(), pw)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Logf("the test server refuses a made-up password (%v); the database password is not checked", err)
		return dbURL, "", false
	}
	_ = conn.Close(ctx)
	return u.String(), pw, true
}

// passwordHash reads the stored hash of addr from env's store.
func passwordHash(t *testing.T, env map[string]string, addr string) string {
	t.Helper()
	h := openStore(t, env).text(t, `SELECT hashed_password FROM users WHERE email = $1`, addr)
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("stored hash %q is not argon2id PHC", h)
	}
	return h
}

// TestLogNeverHoldsSecrets runs register, verify (page and API), failed and
// good logins, me, sessions, refresh, password change, forgot and reset
// (page and API), and logout, with debug logging, an SMTP server that
// requires a password and a database URL with a password, then searches
// the whole log for every secret involved.
func TestLogNeverHoldsSecrets(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		const smtpUser, smtpPassword = "mailer", "smtp-secret-pw"
		smtp := smtptest.Start(t, smtptest.WithAuth(smtpUser, smtpPassword))
		env := baseEnv(t, st, nil)
		env["GATEHOUSE_LOG_LEVEL"] = "debug"
		env["GATEHOUSE_SMTP_URL"] = "smtp://" + smtpUser + ":" + smtpPassword + "@" + smtp.Addr() + "?tls=none"
		secrets := secretSet{"SMTP password": smtpPassword}
		dbPwOK := false // the embedded store has no password
		if st == onPostgres {
			var dbURL, dbPassword string
			dbURL, dbPassword, dbPwOK = withDBPassword(t, env["GATEHOUSE_DATABASE_URL"])
			env["GATEHOUSE_DATABASE_URL"] = dbURL
			if dbPwOK {
				secrets["database password"] = dbPassword
			}
		}
		inst := start(t, env)
		c := newClient(t, inst)
		addr := randomEmail()

		n := nonce()
		pw1 := "first passphrase " + n + " for the log test"
		pw2 := "second passphrase " + n + " for the log test"
		pw3 := "third passphrase " + n + " for the log test"
		wrong := "wrong passphrase " + n + " for the log test"
		weak := "Weak" + n[:6] // too short: 422
		secrets["password 1"], secrets["password 2"], secrets["password 3"] = pw1, pw2, pw3
		secrets["wrong password"], secrets["refused weak password"] = wrong, weak
		secrets["password nonce"] = n

		expect := func(what string, r response, status int) response {
			t.Helper()
			if r.Status != status {
				t.Fatalf("%s: %d %s, want %d", what, r.Status, r.Body, status)
			}
			return r
		}
		tokens := func(r response) (string, string) {
			m := r.JSON(t)
			a, _ := m["access_token"].(string)
			rt, _ := m["refresh_token"].(string)
			if a == "" || rt == "" {
				t.Fatalf("no token pair: %s", r.Body)
			}
			return a, rt
		}

		// Register (a refused weak password first), verify through the page.
		expect("register weak", c.post("/v1/register", map[string]string{"email": addr, "password": weak}), http.StatusUnprocessableEntity)
		expect("register", c.post("/v1/register", map[string]string{"email": addr, "password": pw1}), http.StatusAccepted)
		secrets.addHash("hash 1", passwordHash(t, env, addr))
		vt := tokenFrom(t, mailTo(t, smtp, addr, 1), "/verify-email")
		secrets["verification token"] = vt
		expect("verify page", c.do(http.MethodGet, "/verify-email?token="+vt, nil, nil), http.StatusOK)
		expect("verify form", c.form("/verify-email", map[string]string{"token": vt, "password": pw1}), http.StatusOK)
		expect("verify API, used token", c.post("/v1/verify-email", map[string]string{"token": vt, "password": pw1}), http.StatusBadRequest)

		// Logins, me, sessions, refresh.
		expect("login wrong", c.post("/v1/login", map[string]string{"email": addr, "password": wrong}), http.StatusUnauthorized)
		a1, r1 := tokens(expect("login", c.post("/v1/login", map[string]string{"email": addr, "password": pw1}), http.StatusOK))
		secrets.addJWT("access token 1", a1)
		secrets["refresh token 1"] = r1
		expect("me", c.bearer(http.MethodGet, "/v1/me", a1, nil), http.StatusOK)
		expect("sessions", c.bearer(http.MethodGet, "/v1/me/sessions", a1, nil), http.StatusOK)
		a2, r2 := tokens(expect("refresh", c.post("/v1/token/refresh", map[string]string{"refresh_token": r1}), http.StatusOK))
		secrets.addJWT("access token 2", a2)
		secrets["refresh token 2"] = r2

		// Change the password (a wrong current password first).
		expect("change, wrong current", c.bearer(http.MethodPost, "/v1/me/password", a2, map[string]string{"current_password": wrong, "new_password": pw2}), http.StatusForbidden)
		expect("change", c.bearer(http.MethodPost, "/v1/me/password", a2, map[string]string{"current_password": pw1, "new_password": pw2}), http.StatusNoContent)
		secrets.addHash("hash 2", passwordHash(t, env, addr))

		// Forgot and reset through the page (GET shows the form), then a second
		// reset through the API.
		expect("forgot", c.post("/v1/password/forgot", map[string]string{"email": addr}), http.StatusAccepted)
		var resets []string
		for i := 1; len(resets) < 1; i++ {
			if m := mailTo(t, smtp, addr, i); mailKind(m) == "reset_password" {
				resets = append(resets, tokenFrom(t, m, "/reset-password"))
			}
		}
		secrets["reset token 1"] = resets[0]
		expect("reset page", c.do(http.MethodGet, "/reset-password?token="+resets[0], nil, nil), http.StatusOK)
		expect("reset form", c.form("/reset-password", map[string]string{"token": resets[0], "password": pw3}), http.StatusOK)
		secrets.addHash("hash 3", passwordHash(t, env, addr))

		expect("forgot 2", c.post("/v1/password/forgot", map[string]string{"email": addr}), http.StatusAccepted)
		for i := 1; len(resets) < 2; i++ {
			if m := mailTo(t, smtp, addr, i); mailKind(m) == "reset_password" {
				if tok := tokenFrom(t, m, "/reset-password"); tok != resets[0] {
					resets = append(resets, tok)
				}
			}
		}
		secrets["reset token 2"] = resets[1]
		pw4 := "fourth passphrase " + n + " for the log test"
		secrets["password 4"] = pw4
		expect("reset API", c.post("/v1/password/reset", map[string]string{"token": resets[1], "password": pw4}), http.StatusNoContent)
		secrets.addHash("hash 4", passwordHash(t, env, addr))

		// Log in again, reuse an old refresh token, log out.
		a3, r3 := tokens(expect("login after reset", c.post("/v1/login", map[string]string{"email": addr, "password": pw4}), http.StatusOK))
		secrets.addJWT("access token 3", a3)
		secrets["refresh token 3"] = r3
		expect("refresh with a dead token", c.post("/v1/token/refresh", map[string]string{"refresh_token": r2}), http.StatusUnauthorized)
		expect("logout", c.bearer(http.MethodPost, "/v1/logout", a3, nil), http.StatusNoContent)
		expect("me after logout", c.bearer(http.MethodGet, "/v1/me", a3, nil), http.StatusUnauthorized)

		// Every mail went through the authenticated SMTP session.
		for _, m := range smtp.Messages() {
			if m.AuthUser != smtpUser {
				t.Fatalf("mail %q sent without SMTP auth", m.Subject)
			}
		}

		stopErr := inst.stop() // flush the log
		if stopErr != nil {
			t.Fatalf("stop: %v", stopErr)
		}
		log := inst.Logs.String()
		if len(log) < 1000 || !strings.Contains(log, `"level":"debug"`) && !strings.Contains(log, `"request"`) {
			t.Fatalf("the log looks empty, the test would prove nothing:\n%s", log)
		}
		assertNotInLog(t, log, secrets)
		// The configuration is logged, with the passwords in its URLs redacted.
		if !strings.Contains(log, smtpUser+":xxxxx@") {
			t.Errorf("the logged configuration does not show the redacted SMTP URL")
		}
		if dbPwOK && strings.Count(log, ":xxxxx@") < 2 {
			t.Errorf("the logged configuration does not show the redacted database URL")
		}
		t.Logf("%d secrets checked against %d bytes of log", len(secrets), len(log))
	})
}

// assertNotInLog fails for every secret that appears in log.
func assertNotInLog(t *testing.T, log string, secrets secretSet) {
	t.Helper()
	for name, secret := range secrets {
		if secret == "" {
			t.Fatalf("secret %q is empty", name)
		}
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, secret) {
				t.Errorf("the %s appears in the log: %s", name, line)
				break
			}
		}
	}
}

// TestLogNeverHoldsSecretsOnMailFailure: when SMTP authentication fails
// (the configured password is wrong) or the server refuses the message,
// the delivery errors are logged without the SMTP password and without the
// link, and so the token, of the mail that failed.
func TestLogNeverHoldsSecretsOnMailFailure(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		wrongPw := "smtp-wrong-pw-" + nonce()
		smtp := smtptest.Start(t, smtptest.WithAuth("mailer", "smtp-secret-pw"))
		env := baseEnv(t, st, nil)
		env["GATEHOUSE_SMTP_URL"] = "smtp://mailer:" + wrongPw + "@" + smtp.Addr() + "?tls=none"
		inst := start(t, env)
		c := newClient(t, inst)
		addr := randomEmail()
		pw := "mail failure passphrase " + nonce()
		if r := c.post("/v1/register", map[string]string{"email": addr, "password": pw}); r.Status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}

		// The delivery fails and is logged.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(inst.Logs.String(), "outbox deliver") {
			if time.Now().After(deadline) {
				t.Fatalf("no delivery failure logged:\n%s", inst.Logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The pending mail's link, with its token, is in the outbox until sent.
		var link, lastError string
		openStore(t, env).row(t, `SELECT payload->>'link', coalesce(last_error, '') FROM mail_outbox WHERE to_address = $1 AND kind = 'verify_email'`, []any{addr}, &link, &lastError)
		tok, ok := strings.CutPrefix(link, testPublicURL+"/verify-email?token=")
		if !ok || len(tok) != 43 {
			t.Fatalf("outbox link %q", link)
		}
		secrets := secretSet{"configured SMTP password": wrongPw, "server's SMTP password": "smtp-secret-pw", "verification token": tok, "password": pw}
		assertNotInLog(t, inst.Logs.String(), secrets)
		// Nor is the SMTP password kept with the failed row.
		if strings.Contains(lastError, wrongPw) {
			t.Errorf("the outbox's last_error holds the SMTP password: %s", lastError)
		}
	})
}

// TestLogNeverHoldsDatabasePassword: a database that cannot be reached
// makes serve log its retries and fail, and neither the log nor the error
// holds the password of the database URL. PostgreSQL only: the embedded
// store has no server, nor a password.
func TestLogNeverHoldsDatabasePassword(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens there now
	dbPw := "db-secret-pw-" + nonce()
	env := baseEnv(t, onPostgres, nil)
	env["GATEHOUSE_DATABASE_URL"] = fmt.Sprintf("postgres://gatehouse:%s@127.0.0.1:%d/gatehouse?sslmode=disable&connect_timeout=1", dbPw, port)

	for _, migrate := range []string{"true", "false"} {
		env["GATEHOUSE_AUTO_MIGRATE"] = migrate
		logs := &syncBuffer{}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := run(ctx, []string{"serve"}, env, io.Discard, logs, func(string) { t.Errorf("serve listened without a database") })
		cancel()
		if err == nil {
			t.Fatalf("auto-migrate %s: serve without a database returned no error", migrate)
		}
		if strings.Contains(err.Error(), dbPw) {
			t.Errorf("auto-migrate %s: the error holds the database password: %v", migrate, err)
		}
		if !strings.Contains(logs.String(), ":xxxxx@") {
			t.Errorf("auto-migrate %s: no redacted database URL in the log:\n%s", migrate, logs)
		}
		assertNotInLog(t, logs.String(), secretSet{"database password": dbPw})
	}
}
