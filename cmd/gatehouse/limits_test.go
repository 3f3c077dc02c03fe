package main

// Abuse protection, end to end on each store: per-IP limits on the public
// auth endpoints (shared by all instances through PostgreSQL), the
// per-address mail limit, failed logins per (account, client IP), the
// per-account lockout lifted by a password reset, the off switch, and the
// client-IP rule for untrusted peers. Small limits keep the tests fast.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// Limits the instances of these tests enforce.
const (
	testAuthLimit      = 5 // GATEHOUSE_RATE_LIMIT_AUTH
	testRefreshLimit   = 5 // GATEHOUSE_RATE_LIMIT_REFRESH
	testMailLimit      = 2 // GATEHOUSE_RATE_LIMIT_MAIL
	testFailureLimit   = 3 // GATEHOUSE_RATE_LIMIT_LOGIN_FAILURES
	testLockoutAtFails = 5 // GATEHOUSE_LOGIN_LOCKOUT_THRESHOLD
)

// limitEnv is baseEnv (a store of the test's own, so that counters, and
// mail, stay with the test) with the small test limits, then overrides.
func limitEnv(t *testing.T, st testStore, smtp *smtptest.Server, overrides map[string]string) map[string]string {
	env := baseEnv(t, st, smtp)
	maps.Copy(env, testLimits())
	maps.Copy(env, overrides)
	return env
}

// testLimits are the small limits limitEnv sets.
func testLimits() map[string]string {
	return map[string]string{
		"GATEHOUSE_RATE_LIMIT_AUTH":           fmt.Sprintf("%d/5m", testAuthLimit),
		"GATEHOUSE_RATE_LIMIT_REFRESH":        fmt.Sprintf("%d/5m", testRefreshLimit),
		"GATEHOUSE_RATE_LIMIT_MAIL":           fmt.Sprintf("%d/1h", testMailLimit),
		"GATEHOUSE_RATE_LIMIT_LOGIN_FAILURES": fmt.Sprintf("%d/15m", testFailureLimit),
		"GATEHOUSE_LOGIN_LOCKOUT_THRESHOLD":   strconv.Itoa(testLockoutAtFails),
	}
}

// limitFixture is a fixture on store st with limitEnv's limits.
func limitFixture(t *testing.T, st testStore) fixture { return newFixtureWith(t, st, testLimits()) }

// clientAt is a client of inst speaking for the client of c (same IP and
// user agent); it lets one test reach two instances as one client.
func clientAt(c *client, inst *instance) *client {
	cp := *c
	cp.base = inst.URL
	return &cp
}

// assertRateLimited checks a 429 rate_limited problem with a positive
// Retry-After.
func assertRateLimited(t *testing.T, what string, r response) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429: %s", what, r.Status, r.Body)
	}
	if code := r.Code(t); code != "rate_limited" {
		t.Fatalf("%s: code %q, want rate_limited", what, code)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra <= 0 {
		t.Fatalf("%s: Retry-After %q, want a positive number of seconds", what, r.Header.Get("Retry-After"))
	}
}

func assertNotLimited(t *testing.T, what string, r response) {
	t.Helper()
	if r.Status == http.StatusTooManyRequests || r.Status >= 500 {
		t.Fatalf("%s: status %d: %s", what, r.Status, r.Body)
	}
}

// problemWithoutRequestID is an error body with its request_id removed,
// for comparing two answers.
func problemWithoutRequestID(t *testing.T, r response) map[string]any {
	t.Helper()
	m := r.JSON(t)
	delete(m, "request_id")
	return m
}

// mailKind classifies a mail by its subject.
func mailKind(m smtptest.Message) string {
	switch {
	case strings.HasPrefix(m.Subject, "Verify your email"):
		return "verify_email"
	case strings.HasPrefix(m.Subject, "Reset your"):
		return "reset_password"
	case strings.HasPrefix(m.Subject, "Someone tried to register"):
		return "already_registered"
	case strings.Contains(m.Subject, "password was changed"):
		return "password_changed"
	}
	return "other"
}

// mailCounts counts the mails to addr by kind.
func mailCounts(s *smtptest.Server, addr string) map[string]int {
	out := map[string]int{}
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out[mailKind(m)]++
			}
		}
	}
	return out
}

// settledMailCounts waits until want mails of each kind reached addr, then
// a little longer (several worker polls) so that any extra mail would have
// arrived too, and returns the final counts.
func settledMailCounts(t *testing.T, s *smtptest.Server, addr string, want map[string]int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := mailCounts(s, addr)
		done := true
		for k, n := range want {
			if got[k] < n {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // five worker polls, two hops each
	return mailCounts(s, addr)
}

// limitedEndpoint is a public endpoint with a per-IP counter, and a body
// that it answers without throttling (with anything but 429).
type limitedEndpoint struct {
	name  string
	path  string
	body  func() any
	form  bool
	limit int
}

func limitedEndpoints() []limitedEndpoint {
	creds := func() any {
		return map[string]string{"email": randomEmail(), "password": "wrong password but long enough"}
	}
	email := func() any { return map[string]string{"email": randomEmail()} }
	tok := func() any { return map[string]string{"token": strings.Repeat("A", 43)} }
	return []limitedEndpoint{
		{name: "register", path: "/v1/register", body: func() any {
			return map[string]string{"email": randomEmail(), "password": strongPassword}
		}, limit: testAuthLimit},
		{name: "login", path: "/v1/login", body: creds, limit: testAuthLimit},
		{name: "verify", path: "/v1/verify-email", body: tok, limit: testAuthLimit},
		{name: "resend", path: "/v1/verify-email/resend", body: email, limit: testAuthLimit},
		{name: "forgot", path: "/v1/password/forgot", body: email, limit: testAuthLimit},
		{name: "reset", path: "/v1/password/reset", body: func() any {
			return map[string]string{"token": strings.Repeat("A", 43), "password": strongPassword}
		}, limit: testAuthLimit},
		{name: "refresh", path: "/v1/token/refresh", body: func() any {
			return map[string]string{"refresh_token": strings.Repeat("B", 43)}
		}, limit: testRefreshLimit},
		{name: "page_verify", path: "/verify-email", form: true, body: func() any {
			return map[string]string{"token": strings.Repeat("A", 43)}
		}, limit: testAuthLimit},
		{name: "page_reset", path: "/reset-password", form: true, body: func() any {
			return map[string]string{"token": strings.Repeat("A", 43), "password": strongPassword}
		}, limit: testAuthLimit},
		{name: "page_forgot", path: "/forgot-password", form: true, body: func() any {
			return map[string]string{"email": randomEmail()}
		}, limit: testAuthLimit},
	}
}

func (e limitedEndpoint) send(c *client) response {
	if e.form {
		return c.form(e.path, e.body().(map[string]string))
	}
	return c.post(e.path, e.body())
}

// TestRateLimitPerIP: every public auth endpoint (and each hosted-page form)
// takes its limit of requests from one client IP, answers the next with 429
// rate_limited and Retry-After, and still serves another client IP.
func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		inst := start(t, limitEnv(t, st, nil, nil))
		for _, e := range limitedEndpoints() {
			t.Run(e.name, func(t *testing.T) {
				t.Parallel()
				c := newClient(t, inst)
				for i := 1; i <= e.limit; i++ {
					assertNotLimited(t, fmt.Sprintf("request %d of %d", i, e.limit), e.send(c))
				}
				r := e.send(c)
				if e.form && strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
					// A hosted page may answer a browser in HTML, with the same
					// status and Retry-After.
					if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != http.StatusTooManyRequests || err != nil || ra <= 0 {
						t.Fatalf("request over the limit: %d (Retry-After %q): %s", r.Status, r.Header.Get("Retry-After"), r.Body)
					}
				} else {
					assertRateLimited(t, "request over the limit", r)
				}
				assertNotLimited(t, "another client IP", e.send(newClient(t, inst)))
			})
		}
	})
}

// TestRateLimitPerIPSharedByInstances: two instances on one database
// enforce one per-IP limit between them. PostgreSQL only: the embedded
// store is served by one process.
func TestRateLimitPerIPSharedByInstances(t *testing.T) {
	t.Parallel()
	env := limitEnv(t, onPostgres, nil, nil)
	a, b := start(t, env), start(t, env)
	ca := newClient(t, a)
	cb := clientAt(ca, b)
	forgot := func(c *client) response {
		return c.post("/v1/password/forgot", map[string]string{"email": randomEmail()})
	}
	for i := 1; i <= testAuthLimit; i++ {
		c := ca
		if i%2 == 0 {
			c = cb
		}
		if r := forgot(c); r.Status != http.StatusAccepted {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	assertRateLimited(t, "instance A over the shared limit", forgot(ca))
	assertRateLimited(t, "instance B over the shared limit", forgot(cb))
	if r := forgot(newClient(t, b)); r.Status != http.StatusAccepted {
		t.Fatalf("another client IP on B: %d %s", r.Status, r.Body)
	}
}

const (
	verifySentBody = `{"status":"verification_sent"}`
	resetSentBody  = `{"status":"reset_sent"}`
)

// expectUniform202 checks the uniform answer of a mail-sending endpoint.
func expectUniform202(t *testing.T, what string, r response, body string) {
	t.Helper()
	if r.Status != http.StatusAccepted || string(bytes.TrimSpace(r.Body)) != body {
		t.Fatalf("%s: %d %s, want 202 %s", what, r.Status, r.Body, body)
	}
}

// TestRateLimitMailPerAddress: register and forgot over the per-address
// mail limit still answer the uniform 202, but only the limited number of
// mails of each kind reaches the address; a verified address asked to
// register again gets at most the limit of notices; an unknown address gets
// the same answers and no mail.
func TestRateLimitMailPerAddress(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, testLimits(), func(t *testing.T, f fixture) {
		smtp, inst := f.smtp, f.inst
		c, c2, c3 := f.c, newClient(t, inst), newClient(t, inst)
		addr, verified, unknown := randomEmail(), randomEmail(), randomEmail()
		registerVerified(t, c3, smtp, verified)

		const over = testMailLimit + 2
		for i := 1; i <= over; i++ {
			expectUniform202(t, fmt.Sprintf("register %d", i), c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword}), verifySentBody)
			expectUniform202(t, fmt.Sprintf("forgot %d", i), c.post("/v1/password/forgot", map[string]string{"email": addr}), resetSentBody)
			expectUniform202(t, fmt.Sprintf("register verified %d", i), c2.post("/v1/register", map[string]string{"email": verified, "password": strongPassword}), verifySentBody)
			expectUniform202(t, fmt.Sprintf("forgot unknown %d", i), c2.post("/v1/password/forgot", map[string]string{"email": unknown}), resetSentBody)
		}

		want := map[string]int{"verify_email": testMailLimit, "reset_password": testMailLimit}
		got := settledMailCounts(t, smtp, addr, want)
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s mails to the address: %d, want %d (all: %v)", k, got[k], n, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("unexpected mail kinds: %v", got)
		}
		if n := mailCounts(smtp, verified)["already_registered"]; n < 1 || n > testMailLimit {
			t.Errorf("already-registered notices to a verified address: %d, want 1 to %d (all: %v)", n, testMailLimit, mailCounts(smtp, verified))
		}
		if n := len(mailCounts(smtp, unknown)); n != 0 {
			t.Errorf("mail sent to an unknown address: %v", mailCounts(smtp, unknown))
		}
	})
}

// TestRateLimitVerificationMailsPerAddress: verification mails are one kind
// whichever endpoint causes them, so register and resend together send at
// most the limit of them to one address (SPEC: "at most 3 mails of a kind
// per address per hour"), while every request answers the uniform 202.
func TestRateLimitVerificationMailsPerAddress(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, testLimits(), func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr := randomEmail()
		expectUniform202(t, "register", c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword}), verifySentBody)
		for i := 1; i <= testMailLimit+2; i++ {
			expectUniform202(t, fmt.Sprintf("resend %d", i), c.post("/v1/verify-email/resend", map[string]string{"email": addr}), verifySentBody)
		}
		got := settledMailCounts(t, smtp, addr, map[string]int{"verify_email": testMailLimit})
		if got["verify_email"] != testMailLimit || len(got) != 1 {
			t.Errorf("verification mails to the address after one register and %d resends: %v, want %d", testMailLimit+2, got, testMailLimit)
		}
	})
}

// TestRateLimitFailedLoginsPerAccountAndIP: after the limit of failed
// logins from IP A, even the right password from A is refused with 429;
// from IP B the owner logs in.
func TestRateLimitFailedLoginsPerAccountAndIP(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, testLimits(), func(t *testing.T, f fixture) {
		inst, owner := f.inst, f.c
		addr := f.verifiedUser(t)

		attacker := newClient(t, inst)
		for i := 1; i <= testFailureLimit; i++ {
			r := attacker.post("/v1/login", map[string]string{"email": addr, "password": "not the password at all"})
			if r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credentials" {
				t.Fatalf("failure %d: %d %s", i, r.Status, r.Body)
			}
		}
		assertRateLimited(t, "right password from the throttled IP",
			attacker.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}))
		// The owner, elsewhere, is not locked out.
		login(t, owner, addr, strongPassword)
	})
}

// TestRateLimitLoginThrottlingRevealsNothing: the throttling of failed
// logins looks the same for a registered and an unregistered address, and
// so does every failure before it.
func TestRateLimitLoginThrottlingRevealsNothing(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, testLimits(), func(t *testing.T, f fixture) {
		inst := f.inst
		known := f.verifiedUser(t)
		unknown := randomEmail()

		answers := func(addr string) []response {
			c := newClient(t, inst)
			var out []response
			for i := 0; i <= testFailureLimit; i++ {
				out = append(out, c.post("/v1/login", map[string]string{"email": addr, "password": "not the password at all"}))
			}
			return out
		}
		ka, ua := answers(known), answers(unknown)
		for i := range ka {
			k, u := ka[i], ua[i]
			if k.Status != u.Status {
				t.Fatalf("attempt %d: status %d for a known address, %d for an unknown one", i+1, k.Status, u.Status)
			}
			kb, ub := problemWithoutRequestID(t, k), problemWithoutRequestID(t, u)
			kj, _ := json.Marshal(kb)
			uj, _ := json.Marshal(ub)
			if !bytes.Equal(kj, uj) {
				t.Fatalf("attempt %d: bodies differ:\nknown:   %s\nunknown: %s", i+1, kj, uj)
			}
			if (k.Header.Get("Retry-After") == "") != (u.Header.Get("Retry-After") == "") {
				t.Fatalf("attempt %d: Retry-After %q vs %q", i+1, k.Header.Get("Retry-After"), u.Header.Get("Retry-After"))
			}
		}
		for i := 0; i < testFailureLimit; i++ {
			if ka[i].Status != http.StatusUnauthorized || ka[i].Code(t) != "invalid_credentials" {
				t.Fatalf("failure %d: %d %s", i+1, ka[i].Status, ka[i].Body)
			}
		}
		assertRateLimited(t, "known address throttled", ka[testFailureLimit])
		assertRateLimited(t, "unknown address throttled", ua[testFailureLimit])
	})
}

// TestRateLimitAccountLockoutLiftedByReset: consecutive failures from many
// IPs lock password login (even the right password from a fresh IP gets
// 429); a password reset through the mailed link lifts the lock.
func TestRateLimitAccountLockoutLiftedByReset(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, testLimits(), func(t *testing.T, f fixture) {
		smtp, inst, owner := f.smtp, f.inst, f.c
		addr := f.verifiedUser(t)

		for i := 1; i <= testLockoutAtFails; i++ {
			r := newClient(t, inst).post("/v1/login", map[string]string{"email": addr, "password": "not the password at all"})
			if r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credentials" {
				t.Fatalf("failure %d: %d %s", i, r.Status, r.Body)
			}
		}
		assertRateLimited(t, "right password from a fresh IP on a locked account",
			newClient(t, inst).post("/v1/login", map[string]string{"email": addr, "password": strongPassword}))
		assertRateLimited(t, "right password from the owner's IP on a locked account",
			owner.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}))

		if r := owner.post("/v1/password/forgot", map[string]string{"email": addr}); r.Status != http.StatusAccepted {
			t.Fatalf("forgot: %d %s", r.Status, r.Body)
		}
		var resetMail smtptest.Message
		for n := 1; ; n++ {
			m := mailTo(t, smtp, addr, n)
			if mailKind(m) == "reset_password" {
				resetMail = m
				break
			}
		}
		tok := tokenFrom(t, resetMail, "/reset-password")
		newPassword := "a brand new passphrase for this account"
		if r := owner.post("/v1/password/reset", map[string]string{"token": tok, "password": newPassword}); r.Status != http.StatusNoContent {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		login(t, newClient(t, inst), addr, newPassword)
	})
}

// TestRateLimitDisabled: GATEHOUSE_RATE_LIMIT_DISABLED=true enforces no
// limit, and says so at startup.
func TestRateLimitDisabled(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		inst := start(t, limitEnv(t, st, nil, map[string]string{"GATEHOUSE_RATE_LIMIT_DISABLED": "true"}))
		c := newClient(t, inst)
		for i := 1; i <= 3*testAuthLimit; i++ {
			if r := c.post("/v1/password/forgot", map[string]string{"email": randomEmail()}); r.Status != http.StatusAccepted {
				t.Fatalf("request %d with limits disabled: %d %s", i, r.Status, r.Body)
			}
		}
		for i := 1; i <= 2*testFailureLimit; i++ {
			r := c.post("/v1/login", map[string]string{"email": "nobody@example.com", "password": "not the password at all"})
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("login failure %d with limits disabled: %d %s", i, r.Status, r.Body)
			}
		}
		var warned bool
		for _, line := range strings.Split(inst.Logs.String(), "\n") {
			if strings.Contains(line, "RATE_LIMIT_DISABLED") && strings.Contains(line, `"level":"warn"`) {
				warned = true
			}
		}
		if !warned {
			t.Fatalf("no startup warning mentioning RATE_LIMIT_DISABLED:\n%s", inst.Logs)
		}
	})
}

// loopbackClient sends requests from a loopback source address of its own
// (127.x.y.z), so that with no trusted proxy the socket peer, and with it
// the rate-limit key, belongs to this test alone.
type loopbackClient struct {
	t     *testing.T
	base  string
	http  *http.Client
	bound bool // speaks from an address of its own
}

func newLoopbackClient(t *testing.T, inst *instance) *loopbackClient {
	n, r := nextClient()
	src := net.IPv4(127, 100+r%100, byte(n/250), byte(n%250+2))
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
	bound := true
	if conn, err := d.Dial("tcp", strings.TrimPrefix(inst.URL, "http://")); err != nil {
		// Not every system routes all of 127/8 to loopback: speak from
		// 127.0.0.1, whose counter other tests may touch only by sending
		// no X-Forwarded-For through a trusted proxy.
		t.Logf("cannot bind %s (%v); using the default source address", src, err)
		d, bound = &net.Dialer{Timeout: 5 * time.Second}, false
	} else {
		_ = conn.Close()
	}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &loopbackClient{t: t, base: inst.URL, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, bound: bound}
}

func (c *loopbackClient) post(path, xff string, body any) response {
	c.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.base+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: out}
}

// TestRateLimitSpoofedForwardedForIgnored: with no trusted proxy, requests
// carrying different X-Forwarded-For values from one socket peer share that
// peer's limit; another peer is unaffected.
func TestRateLimitSpoofedForwardedForIgnored(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		inst := start(t, limitEnv(t, st, nil, map[string]string{"GATEHOUSE_TRUSTED_PROXIES": ""}))
		c := newLoopbackClient(t, inst)
		forgot := func(c *loopbackClient, xff string) response {
			return c.post("/v1/password/forgot", xff, map[string]string{"email": randomEmail()})
		}
		for i := 1; i <= testAuthLimit; i++ {
			xff := fmt.Sprintf("203.0.113.%d", i)
			if i%2 == 0 {
				xff = fmt.Sprintf("198.51.100.%d, 10.0.0.%d", i, i)
			}
			if r := forgot(c, xff); r.Status != http.StatusAccepted {
				t.Fatalf("request %d (X-Forwarded-For %s): %d %s", i, xff, r.Status, r.Body)
			}
		}
		assertRateLimited(t, "fresh spoofed X-Forwarded-For", forgot(c, "192.0.2.77"))
		assertRateLimited(t, "no X-Forwarded-For", forgot(c, ""))
		if other := newLoopbackClient(t, inst); !other.bound || !c.bound {
			t.Log("no loopback address of its own: the check of another peer is skipped")
		} else if r := forgot(other, "203.0.113.1"); r.Status != http.StatusAccepted {
			t.Fatalf("another socket peer: %d %s", r.Status, r.Body)
		}
	})
}
