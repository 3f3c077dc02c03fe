package main

// Metrics, end to end on each store: after a flood of logins (wrong
// passwords until the limits refuse), the admin listener's /metrics shows
// the login results, the limit hits by rule and the requests by route
// template, and no label carries an id, a token, an address or an IP.
// The public listener has no /metrics.

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// sample is one line of the text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?`)
)

// parseExposition reads the Prometheus text format (what the tests need of
// it: samples, no timestamps).
func parseExposition(t *testing.T, text string) []sample {
	t.Helper()
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("%q: value: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[p[1]] = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\n`, "\n").Replace(p[2])
		}
		out = append(out, s)
	}
	return out
}

// value sums the samples of name whose labels include want.
func value(samples []sample, name string, want map[string]string) (sum float64, found bool) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			match = match && s.labels[k] == v
		}
		if match {
			sum, found = sum+s.value, true
		}
	}
	return sum, found
}

// What no label value may look like.
var leakyLabel = map[string]*regexp.Regexp{
	"a UUID":                  regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`),
	"a JWT":                   regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.|[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`),
	"an opaque token":         regexp.MustCompile(`[A-Za-z0-9_-]{32,}|gha_`),
	"an email address":        regexp.MustCompile(`@|%40`),
	"an IP address":           regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`),
	"a path with a parameter": regexp.MustCompile(`^/.*/[0-9]+(/|$)`),
}

func scrapeMetrics(t *testing.T, inst *instance) []sample {
	t.Helper()
	c := newAdminClient(t, inst, "") // no key: scrapers carry none
	r := c.call(http.MethodGet, "/metrics", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics on the admin listener: %d %v\n%s", r.Status, r.Header, r.Body)
	}
	return parseExposition(t, string(r.Body))
}

func TestMetricsAfterALoginFlood(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := limitFixture(t, st)
		inst, owner := f.inst, f.c
		addr := f.verifiedUser(t)
		access, _ := login(t, owner, addr, strongPassword)
		if r := owner.bearer(http.MethodDelete, "/v1/me/sessions/"+uuid.NewString(), access, nil); r.Status != http.StatusNotFound {
			t.Fatalf("revoke an unknown session: %d %s", r.Status, r.Body)
		}

		// Wrong passwords from one IP until the (account, IP) limit refuses.
		attacker := newClient(t, inst)
		for i := 1; i <= testFailureLimit; i++ {
			if r := attacker.post("/v1/login", map[string]string{"email": addr, "password": "not the password at all"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i, r.Status, r.Body)
			}
		}
		assertRateLimited(t, "the attacker's next try", attacker.post("/v1/login", map[string]string{"email": addr, "password": "not the password at all"}))
		// From other IPs until the account locks, then once more.
		for i := testFailureLimit + 1; i <= testLockoutAtFails; i++ {
			if r := newClient(t, inst).post("/v1/login", map[string]string{"email": addr, "password": "not the password at all"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i, r.Status, r.Body)
			}
		}
		assertRateLimited(t, "a locked account", newClient(t, inst).post("/v1/login", map[string]string{"email": addr, "password": strongPassword}))
		// One IP spraying many addresses until its per-IP login limit.
		sprayer := newClient(t, inst)
		for i := 1; i <= testAuthLimit; i++ {
			if r := sprayer.post("/v1/login", map[string]string{"email": randomEmail(), "password": "not the password at all"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("spray %d: %d %s", i, r.Status, r.Body)
			}
		}
		assertRateLimited(t, "the sprayer's next try", sprayer.post("/v1/login", map[string]string{"email": randomEmail(), "password": "x"}))
		// Verification mail to one address until its per-address limit.
		pending := randomEmail()
		mailer := newClient(t, inst)
		if r := mailer.post("/v1/register", map[string]string{"email": pending, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		for i := 1; i <= testMailLimit; i++ {
			if r := mailer.post("/v1/verify-email/resend", map[string]string{"email": pending}); r.Status != http.StatusAccepted {
				t.Fatalf("resend %d: %d %s", i, r.Status, r.Body)
			}
		}
		// The right password of an address not verified yet: the API
		// answers it like a wrong one, and so do the metrics.
		if r := newClient(t, inst).post("/v1/login", map[string]string{"email": pending, "password": strongPassword}); r.Status != http.StatusUnauthorized {
			t.Fatalf("login before verification: %d %s", r.Status, r.Body)
		}
		// Paths with ids and tokens that no route matches.
		for _, p := range []string{"/v1/users/" + uuid.NewString(), "/v1/token/" + access, "/v1/login/" + addr} {
			if r := owner.do(http.MethodGet, p, nil, nil); r.Status != http.StatusNotFound {
				t.Fatalf("GET %s: %d", p, r.Status)
			}
		}
		if r := owner.do(http.MethodGet, "/metrics", nil, nil); r.Status != http.StatusNotFound {
			t.Fatalf("GET /metrics on the public listener: %d %s", r.Status, r.Body)
		}

		// The verification mail was delivered: the worker counts it once
		// it is marked sent, a moment after the SMTP server got it.
		var samples []sample
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			samples = scrapeMetrics(t, inst)
			if n, _ := value(samples, "gatehouse_mail_sent_total", map[string]string{"kind": "verify_email", "result": "sent"}); n >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("gatehouse_mail_sent_total{kind=\"verify_email\",result=\"sent\"} did not move")
			}
		}
		samples = scrapeMetrics(t, inst) // the scrapes before are counted now

		for _, c := range []struct {
			name   string
			labels map[string]string
			min    float64
		}{
			{"gatehouse_logins_total", map[string]string{"result": "success"}, 1},
			{"gatehouse_logins_total", map[string]string{"result": "invalid_credentials"}, testLockoutAtFails + testAuthLimit + 1},
			// The per-IP limit refuses before the login runs: only the
			// account's limits give a login result.
			{"gatehouse_logins_total", map[string]string{"result": "rate_limited"}, 1},
			{"gatehouse_logins_total", map[string]string{"result": "locked"}, 1},
			{"gatehouse_rate_limited_total", map[string]string{"rule": "login_account_ip"}, 1},
			{"gatehouse_rate_limited_total", map[string]string{"rule": "login_account"}, 1},
			{"gatehouse_rate_limited_total", map[string]string{"rule": "login_ip"}, 1},
			{"gatehouse_rate_limited_total", map[string]string{"rule": "mail_address"}, 1},
			{"gatehouse_mail_skipped_total", map[string]string{"kind": "verify_email", "rule": "mail_address"}, 1},
			{"gatehouse_http_requests_total", map[string]string{"route": "/v1/login", "method": "POST", "status": "200"}, 1},
			{"gatehouse_http_requests_total", map[string]string{"route": "/v1/login", "method": "POST", "status": "401"}, testLockoutAtFails + testAuthLimit},
			{"gatehouse_http_requests_total", map[string]string{"route": "/v1/login", "method": "POST", "status": "429"}, 3},
			{"gatehouse_http_requests_total", map[string]string{"route": "/v1/me/sessions/:id", "method": "DELETE", "status": "404"}, 1},
			{"gatehouse_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 4},
			{"gatehouse_http_requests_total", map[string]string{"route": "/metrics", "method": "GET", "status": "200"}, 1},
			{"gatehouse_http_request_duration_seconds_count", map[string]string{"route": "/v1/login", "method": "POST"}, 1},
			{"gatehouse_password_hash_wait_seconds_count", nil, testLockoutAtFails + testAuthLimit},
			{"gatehouse_mail_sent_total", map[string]string{"kind": "verify_email", "result": "sent"}, 1},
		} {
			if got, _ := value(samples, c.name, c.labels); got < c.min {
				t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
			}
		}
		if _, found := value(samples, "gatehouse_logins_total", map[string]string{"result": "unverified"}); found {
			t.Error(`gatehouse_logins_total{result="unverified"} exists: the metrics split an outcome the API hides`)
		}
		pools := map[testStore][]string{onPostgres: {"postgres"}, onSQLite: {"sqlite_writer", "sqlite_readers"}}[st]
		for _, pool := range pools {
			for _, name := range []string{"gatehouse_db_pool_acquired_connections", "gatehouse_db_pool_idle_connections", "gatehouse_db_pool_total_connections", "gatehouse_db_pool_max_connections", "gatehouse_db_pool_waits_total", "gatehouse_db_pool_wait_seconds_total"} {
				if _, ok := value(samples, name, map[string]string{"pool": pool}); !ok {
					t.Errorf("no %s{pool=%q}", name, pool)
				}
			}
		}
		if n, _ := value(samples, "gatehouse_db_pool_max_connections", nil); n < 1 {
			t.Errorf("gatehouse_db_pool_max_connections = %v", n)
		}
		for _, name := range []string{"gatehouse_outbox_pending", "gatehouse_outbox_oldest_pending_age_seconds", "gatehouse_password_hashes_in_flight", "go_goroutines", "process_resident_memory_bytes"} {
			if _, ok := value(samples, name, nil); !ok {
				t.Errorf("no %s", name)
			}
		}

		// No label value looks like what a request carried.
		for _, s := range samples {
			for k, v := range s.labels {
				for what, re := range leakyLabel {
					if re.MatchString(v) {
						t.Errorf("%s{%s=%q} looks like %s", s.name, k, v, what)
					}
				}
				if k == "route" && v != "unmatched" && !strings.HasPrefix(v, "/") {
					t.Errorf("%s{route=%q}: not a route template", s.name, v)
				}
			}
		}
		if t.Failed() {
			var b strings.Builder
			for _, s := range samples {
				if strings.HasPrefix(s.name, "gatehouse_") {
					fmt.Fprintf(&b, "%s%v %v\n", s.name, s.labels, s.value)
				}
			}
			t.Logf("gatehouse samples:\n%s", b.String())
		}
	})
}
