package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }

// run is the whole program with an empty stdin; tests call it with their
// own environment and an onReady hook that receives the public address.
func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer, onReady func(addr string)) error {
	p := procIO{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr}
	if onReady != nil {
		p.onListening = func(l listening) { onReady(l.HTTP) }
	}
	return runWith(ctx, args, env, p)
}

// dbOf returns the database URL an environment points at.
func dbOf(env map[string]string) string { return env["GATEHOUSE_DATABASE_URL"] }

// syncBuffer collects an instance's log for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// instance is one `gatehouse serve` running in-process through run().
type instance struct {
	URL      string
	AdminURL string // the admin listener
	Logs     *syncBuffer
	stop     func() error
}

// testPublicURL is the public URL of test instances: links in mail start
// with it, whatever Host a request carried.
const testPublicURL = "http://gatehouse.test"

// testStore is a store the end-to-end tests run on.
type testStore string

const (
	// onPostgres: a fresh PostgreSQL database of the test's own.
	onPostgres testStore = "postgres"
	// onSQLite: the embedded store in a fresh data directory of the
	// test's own, at its default place (GATEHOUSE_DATABASE_URL unset).
	onSQLite testStore = "sqlite"
)

// testStores are the stores every end-to-end flow runs on.
var testStores = []testStore{onPostgres, onSQLite}

// eachStore runs body once per store, as the parallel subtests "postgres"
// and "sqlite" of t: one table of stores around the same test.
func eachStore(t *testing.T, body func(t *testing.T, st testStore)) {
	t.Helper()
	for _, st := range testStores {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			body(t, st)
		})
	}
}

// eachFixture runs body on a fresh fixture (newFixture) of each store.
func eachFixture(t *testing.T, body func(t *testing.T, f fixture)) {
	t.Helper()
	eachFixtureWith(t, nil, body)
}

// eachFixtureWith is eachFixture with extra (or changed) configuration.
func eachFixtureWith(t *testing.T, extra map[string]string, body func(t *testing.T, f fixture)) {
	t.Helper()
	eachStore(t, func(t *testing.T, st testStore) { body(t, newFixtureWith(t, st, extra)) })
}

// baseEnv is the configuration of a test instance on store st: a store of
// the test's own (a fresh PostgreSQL database, or the embedded store in a
// fresh data directory; either migrated by serve at start and removed when
// the test ends), cheap argon2, the given SMTP server (nil: none, so mail
// goes to files in the data directory), and the loopback peer trusted as a
// proxy so that each client can speak from its own IP (X-Forwarded-For).
//
// A store per test, not per package: every instance on a store runs an
// outbox worker that delivers any due mail to its own SMTP server, as
// instances of one deployment do; tests with their own SMTP servers must
// not share an outbox.
func baseEnv(t *testing.T, st testStore, smtp *smtptest.Server) map[string]string {
	t.Helper()
	env := map[string]string{
		"GATEHOUSE_DATA_DIR":          t.TempDir(),
		"GATEHOUSE_HTTP_ADDR":         "127.0.0.1:0",
		"GATEHOUSE_ADMIN_ADDR":        "127.0.0.1:0",
		"GATEHOUSE_PUBLIC_URL":        testPublicURL,
		"GATEHOUSE_ARGON2_MEMORY_KIB": "1024",
		"GATEHOUSE_ARGON2_ITERATIONS": "1",
		"GATEHOUSE_TRUSTED_PROXIES":   "127.0.0.1/32",
		"GATEHOUSE_LOG_LEVEL":         "debug",
		"GATEHOUSE_SHUTDOWN_TIMEOUT":  "5s",
	}
	switch st {
	case onPostgres:
		env["GATEHOUSE_DATABASE_URL"] = pgtest.NewEmptyDatabase(t)
	case onSQLite:
		// GATEHOUSE_DATABASE_URL stays unset: GATEHOUSE_DATA_DIR/gatehouse.db.
	default:
		t.Fatalf("unknown test store %q", st)
	}
	if smtp != nil {
		env["GATEHOUSE_SMTP_URL"] = "smtp://" + smtp.Addr() + "?tls=none"
	}
	return env
}

// start runs serve with env until the test ends, and checks that it then
// shuts down cleanly.
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() {
		p := procIO{stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs, onListening: func(l listening) { ready <- l }}
		done <- runWith(ctx, []string{"serve"}, env, p)
	}()
	var at listening
	select {
	case at = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not listen within 30s\n%s", logs)
	}
	var once sync.Once
	var stopErr error
	inst := &instance{URL: "http://" + at.HTTP, Logs: logs}
	if at.Admin != "" {
		inst.AdminURL = "http://" + at.Admin
	}
	inst.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = fmt.Errorf("serve did not stop within 20s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := inst.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return inst
}

// client speaks to an instance from one client IP.
type client struct {
	t        *testing.T
	base     string
	ip       string
	ua       string
	contract *contractDoc // nil: the public API's
}

// clientSerial numbers test clients, so that each gets addresses of its own.
var clientSerial atomic.Int64

// nextClient returns a fresh serial and a random byte to spread addresses.
func nextClient() (n int, r byte) {
	var b [1]byte
	_, _ = rand.Read(b[:])
	return int(clientSerial.Add(1)), b[0]
}

// newClient gives the test a client IP of its own (10.x.y.z, sent as
// X-Forwarded-For through the trusted loopback proxy).
func newClient(t *testing.T, inst *instance) *client {
	n, r := nextClient()
	ip := fmt.Sprintf("10.%d.%d.%d", r, n/250%256, n%250+1)
	return &client{t: t, base: inst.URL, ip: ip, ua: "gatehouse-test/1.0"}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Code is the problem+json code of an error response.
func (r response) Code(t *testing.T) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("error response has Content-Type %q, want application/problem+json: %s", ct, r.Body)
	}
	c, _ := r.JSON(t)["code"].(string)
	return c
}

func (c *client) do(method, path string, body any, header map[string]string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", c.ip)
	req.Header.Set("User-Agent", c.ua)
	for k, v := range header {
		if k == "Host" {
			req.Host = v // net/http takes the Host header from here only
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	c.checkContract(method, req.URL, r)
	return r
}

func (c *client) post(path string, body any) response { return c.do(http.MethodPost, path, body, nil) }

func (c *client) bearer(method, path, token string, body any) response {
	return c.do(method, path, body, map[string]string{"Authorization": "Bearer " + token})
}

// getOK GETs path with a bearer token, fails the test unless the answer
// is 200, and returns its JSON object.
func (c *client) getOK(t *testing.T, path, token string) map[string]any {
	t.Helper()
	r := c.bearer(http.MethodGet, path, token, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	return r.JSON(t)
}

// atOnce sends n requests from goroutines released together, so that they
// race, and returns the answers: answer i is send(i)'s.
func atOnce(n int, send func(i int) response) []response {
	out := make([]response, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			out[i] = send(i)
		})
	}
	close(gate)
	wg.Wait()
	return out
}

// elems is a decoded JSON array with its elements as T.
func elems[T any](array any) []T {
	var out []T
	for _, e := range array.([]any) {
		out = append(out, e.(T))
	}
	return out
}

// pageCSRF is the CSRF token the test client holds for the hosted forms
// (any value works: the form must repeat the browser's cookie).
const pageCSRF = "browser-csrf-token-of-the-end-to-end-client"

// form posts an HTML form, as a browser does from a hosted page: with its
// CSRF cookie and field.
func (c *client) form(path string, values map[string]string) response {
	c.t.Helper()
	parts := []string{"csrf=" + pageCSRF}
	for k, v := range values {
		parts = append(parts, k+"="+urlQueryEscape(v))
	}
	return c.do(http.MethodPost, path, strings.Join(parts, "&"), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "gatehouse_csrf=" + pageCSRF})
}

func urlQueryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' {
			b.WriteByte(ch)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{ch})))
		}
	}
	return b.String()
}

// randomEmail is a fresh address, so parallel tests never share accounts.
func randomEmail() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "user-" + hex.EncodeToString(b[:]) + "@example.com"
}

// strongPassword passes the policy and never contains the local part.
const strongPassword = "correct horse battery staple 42"

// mailTo waits for the n-th mail (1-based) to addr and returns it. The wait
// covers the outbox's first retry (10 s after a failed attempt) with room
// to spare on a loaded machine.
func mailTo(t *testing.T, s *smtptest.Server, addr string, n int) smtptest.Message {
	t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		var got []smtptest.Message
		for _, m := range s.Messages() {
			for _, to := range m.To {
				if strings.EqualFold(to, addr) {
					got = append(got, m)
				}
			}
		}
		if len(got) >= n {
			return got[n-1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail #%d to %s within 25s", n, addr)
	return smtptest.Message{}
}

// mailNth is mailTo that also fails unless the mail's subject holds about.
func mailNth(t *testing.T, s *smtptest.Server, addr string, n int, about string) smtptest.Message {
	t.Helper()
	m := mailTo(t, s, addr, n)
	if !strings.Contains(m.Subject, about) {
		t.Fatalf("mail #%d to %s: subject %q, want %q in it", n, addr, m.Subject, about)
	}
	return m
}

// wantOutcomes fails unless the responses, counted by status and problem
// code ("200", "401 invalid_code"), are exactly want.
func wantOutcomes(t *testing.T, what string, rs []response, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, r := range rs {
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(r.Body, &p)
		got[strings.TrimSpace(fmt.Sprintf("%d %s", r.Status, p.Code))]++
	}
	if !maps.Equal(got, want) {
		t.Fatalf("%s: answered %v, want %v", what, got, want)
	}
}

// tokenFrom extracts the token of the link to path in a mail.
func tokenFrom(t *testing.T, m smtptest.Message, path string) string {
	t.Helper()
	link, ok := smtptest.ExtractURL(m.Text, path)
	if !ok {
		t.Fatalf("mail %q has no %s link:\n%s", m.Subject, path, m.Text)
	}
	// At the public URL: testPublicURL, or the instance's own address
	// for a newPublicFixture.
	if u, err := url.Parse(link); err != nil || u.Path != path || !strings.HasPrefix(link, testPublicURL+path+"?token=") && u.Hostname() != "127.0.0.1" {
		t.Fatalf("link %q does not start at the public URL", link)
	}
	tok, _ := smtptest.ExtractLink(m.Text, path)
	return tok
}

// registerVerified registers addr and verifies it through the API.
func registerVerified(t *testing.T, c *client, s *smtptest.Server, addr string) {
	t.Helper()
	if r := c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusAccepted {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	tok := tokenFrom(t, mailTo(t, s, addr, 1), "/verify-email")
	if r := c.post("/v1/verify-email", map[string]string{"token": tok, "password": strongPassword}); r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
}

// login returns the access and refresh tokens.
func login(t *testing.T, c *client, addr, pw string) (access, refresh string) {
	t.Helper()
	r := c.post("/v1/login", map[string]string{"email": addr, "password": pw})
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

// assertSessionEnded checks that a session's tokens are refused (401): the
// access token on /v1/me and the refresh token on refresh.
func assertSessionEnded(t *testing.T, c *client, access, refresh, when string) {
	t.Helper()
	if r := c.bearer(http.MethodGet, "/v1/me", access, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("/v1/me %s: %d %s", when, r.Status, r.Body)
	}
	if r := c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh}); r.Status != http.StatusUnauthorized {
		t.Errorf("refresh %s: %d %s", when, r.Status, r.Body)
	}
}

// fixture is the usual start of an end-to-end test: an SMTP server, an
// instance on a store of its own, and a client with its own IP.
type fixture struct {
	smtp *smtptest.Server
	env  map[string]string
	inst *instance
	c    *client
}

func newFixture(t *testing.T, st testStore) fixture { return newFixtureWith(t, st, nil) }

// newFixtureWith is newFixture with extra (or changed) configuration.
func newFixtureWith(t *testing.T, st testStore, extra map[string]string) fixture {
	t.Helper()
	smtp := smtptest.Start(t)
	env := baseEnv(t, st, smtp)
	maps.Copy(env, extra)
	inst := start(t, env)
	return fixture{smtp: smtp, env: env, inst: inst, c: newClient(t, inst)}
}

// verifiedUser registers a fresh address through the fixture's client and
// verifies it with the mailed token.
func (f fixture) verifiedUser(t *testing.T) string {
	t.Helper()
	addr := randomEmail()
	registerVerified(t, f.c, f.smtp, addr)
	return addr
}

// signedIn is a verifiedUser logged in through the fixture's client, with
// the session's tokens.
func (f fixture) signedIn(t *testing.T) (addr, access, refresh string) {
	t.Helper()
	addr = f.verifiedUser(t)
	access, refresh = login(t, f.c, addr, strongPassword)
	return addr, access, refresh
}

// newPublicFixture is newAdminFixture with an instance whose PUBLIC_URL is
// its own address (http://127.0.0.1:PORT, a port free a moment before),
// for clients that must reach Gatehouse where it says it is: OpenID
// Connect relying parties and browsers.
func newPublicFixture(t *testing.T, st testStore) adminFixture {
	t.Helper()
	addr := freeAddr(t)
	smtp := smtptest.Start(t)
	env := baseEnv(t, st, smtp)
	env["GATEHOUSE_HTTP_ADDR"] = addr
	env["GATEHOUSE_PUBLIC_URL"] = "http://" + addr
	inst := start(t, env)
	f := fixture{smtp: smtp, env: env, inst: inst, c: newClient(t, inst)}
	return adminFixture{fixture: f, admin: newAdminClient(t, f.inst, adminKey(t, f.env, "e2e"))}
}
