package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

// tcpProxy forwards a local port to PostgreSQL and can be cut and restored,
// to play a database outage without touching the real server.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// down refuses new connections and cuts the open ones.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// up listens again on the same port.
func (p *tcpProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestReadyzFollowsTheDatabase is PostgreSQL only: it cuts the TCP
// connection to the database server, which the embedded store does not
// have (TestReadyzOnTheEmbeddedStore is its counterpart).
func TestReadyzFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, onPostgres, nil)
	u, err := url.Parse(dbOf(env))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	env["GATEHOUSE_DATABASE_URL"] = u.String()
	inst := start(t, env)
	c := newClient(t, inst)

	if r := c.do(http.MethodGet, "/readyz", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("readyz with the database up: %d %s", r.Status, r.Body)
	}
	proxy.down()
	began := time.Now()
	r := c.do(http.MethodGet, "/readyz", nil, nil)
	if r.Status != http.StatusServiceUnavailable || r.Code(t) != "unavailable" {
		t.Fatalf("readyz with the database down: %d %s", r.Status, r.Body)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("readyz took %v to notice", d)
	}
	if r := c.do(http.MethodGet, "/healthz", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("healthz with the database down: %d", r.Status)
	}
	// A request that needs the database answers 503, not 401 or 500.
	if r := c.post("/v1/login", map[string]string{"email": randomEmail(), "password": strongPassword}); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("login with the database down: %d %s", r.Status, r.Body)
	}
	proxy.up()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.do(http.MethodGet, "/readyz", nil, nil)
		if r.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz did not recover without a restart: %d %s", r.Status, r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMain re-enters main() when asked to, so that a test can run the real
// binary's signal handling and exit code without building it.
func init() {
	if os.Getenv("GATEHOUSE_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"gatehouse"}, strings.Fields(os.Getenv("GATEHOUSE_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
}

func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		env := baseEnv(t, st, nil)
		port := freePort(t)
		cmd := exec.Command(os.Args[0])
		// The child gets the test's store and nothing else of GATEHOUSE_*
		// from this environment.
		cmd.Env = []string{"GATEHOUSE_TEST_RUN_MAIN=1", "GATEHOUSE_TEST_ARGS=serve"}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GATEHOUSE_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		env["GATEHOUSE_HTTP_ADDR"] = "127.0.0.1:" + port
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		base := "http://127.0.0.1:" + port
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(base + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("not ready within 30s:\n%s", logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("still running 20s after SIGTERM")
		}
		if !strings.Contains(logs.String(), `"stopped"`) {
			t.Fatalf("no orderly stop in the log:\n%s", logs.String())
		}
	})
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func TestAuditVerifyCommandDetectsTampering(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		smtp, env, c := f.smtp, f.env, f.c
		addr := randomEmail()
		registerVerified(t, c, smtp, addr)
		login(t, c, addr, strongPassword)

		var out bytes.Buffer
		if err := run(context.Background(), []string{"audit", "verify"}, env, &out, io.Discard, nil); err != nil {
			t.Fatalf("audit verify on an intact trail: %v", err)
		}
		if !strings.Contains(out.String(), "audit chain ok: 3 events") {
			t.Fatalf("output %q", out.String())
		}
		openStore(t, env).exec(t, `UPDATE audit_events SET ip = '192.0.2.1' WHERE seq = 2`)
		err := run(context.Background(), []string{"audit", "verify"}, env, io.Discard, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), "broken at seq 2") {
			t.Fatalf("audit verify after tampering: %v", err)
		}
	})
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"GATEHOUSE_ACCESS_TOKEN_TTL":       "soon",
		"GATEHOUSE_PASSWORD_MIN_LENGTH":    "7",
		"GATEHOUSE_TRUSTED_PROXIES":        "not-a-cidr",
		"GATEHOUSE_RATE_LIMIT_AUTH":        "lots",
		"GATEHOUSE_LOG_FORMAT":             "xml",
		"GATEHOUSE_PUBLIC_URL":             "ftp://x",
		"GATEHOUSE_REQUIRE_VERIFIED_EMAIL": "maybe",
	}
	for name, value := range cases {
		env := map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://u:secret-db-pw@127.0.0.1/db", name: value}
		err := run(context.Background(), []string{"serve"}, env, io.Discard, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v does not name the variable", name, value, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret-db-pw") {
			t.Errorf("%s: error leaks the database password: %v", name, err)
		}
	}
	err := run(context.Background(), []string{"serve"}, map[string]string{"GATEHOUSE_DATABASE_URL": "mysql://u@db/x"}, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_DATABASE_URL") {
		t.Errorf("unsupported database URL: %v", err)
	}
	err = run(context.Background(), []string{"serve"}, map[string]string{"GATEHOUSE_DATA_DIR": " "}, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_DATA_DIR") {
		t.Errorf("empty data dir: %v", err)
	}
}

func TestConfigLogRedactsPasswords(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(map[string]string{
		"GATEHOUSE_DATABASE_URL": "postgres://gh:db-pass-123@db:5432/gh?sslmode=verify-full&sslpassword=ssl-pass-789",
		"GATEHOUSE_SMTP_URL":     "smtp://mailer:smtp-pass-456@mail:587",
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log, err := newLogger(cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("config", zapAny("config", cfg.Redacted()))
	_ = log.Sync()
	if s := logs.String(); strings.Contains(s, "db-pass-123") || strings.Contains(s, "ssl-pass-789") || strings.Contains(s, "smtp-pass-456") || !strings.Contains(s, "gh:xxxxx@db") {
		t.Fatalf("config log: %s", s)
	}
}

// migrationStates is the state column of `migrate status` by version.
func migrationStates(t *testing.T, env map[string]string) (versions []string, states map[string]string) {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "status"}, env, &out, io.Discard, nil); err != nil {
		t.Fatalf("migrate status: %v", err)
	}
	states = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 {
			t.Fatalf("migrate status line %q", line)
		}
		versions = append(versions, f[0])
		states[f[0]] = f[1]
	}
	if len(versions) < 5 {
		t.Fatalf("migrate status lists %d migrations:\n%s", len(versions), out.String())
	}
	return versions, states
}

// TestMigrateCommands: status on a fresh store lists every migration
// pending (and creates no embedded database file), up applies them all,
// down rolls back the latest one only, up applies it again, and status
// also works while serve runs.
func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		env := baseEnv(t, st, nil)
		// want checks that the migrations before pendingFrom are applied
		// and the others pending, and returns how many there are.
		want := func(what string, pendingFrom int) int {
			t.Helper()
			versions, states := migrationStates(t, env)
			for i, v := range versions {
				if w := map[bool]string{true: "pending", false: "applied"}[i >= pendingFrom]; states[v] != w {
					t.Fatalf("%s: migration %s is %s, want %s (%v)", what, v, states[v], w, states)
				}
			}
			return len(versions)
		}
		n := want("fresh store", 0)
		if s := storeOf(t, env); s.Kind == storeSQLite {
			if _, err := os.Stat(s.Path); !os.IsNotExist(err) {
				t.Fatalf("migrate status created %s (%v)", s.Path, err)
			}
		}
		for _, step := range []struct {
			cmd         string
			pendingFrom int
		}{{"up", n}, {"down", n - 1}, {"up", n}} {
			if err := run(context.Background(), []string{"migrate", step.cmd}, env, io.Discard, io.Discard, nil); err != nil {
				t.Fatalf("migrate %s: %v", step.cmd, err)
			}
			want("after migrate "+step.cmd, step.pendingFrom)
		}
		start(t, env)
		want("while serve runs", n)

		if err := run(context.Background(), []string{"migrate", "sideways"}, env, io.Discard, io.Discard, nil); err == nil {
			t.Fatal("unknown migrate direction accepted")
		}
		if err := run(context.Background(), []string{"frobnicate"}, env, io.Discard, io.Discard, nil); err == nil {
			t.Fatal("unknown command accepted")
		}
		var key bytes.Buffer
		if err := run(context.Background(), []string{"keygen"}, nil, &key, io.Discard, nil); err != nil || !strings.Contains(key.String(), "BEGIN PRIVATE KEY") {
			t.Fatalf("keygen: %v %q", err, key.String())
		}
	})
}

func TestSigningKeyFromFile(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		var key bytes.Buffer
		if err := run(context.Background(), []string{"keygen"}, nil, &key, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		path := t.TempDir() + "/signing.pem"
		if err := os.WriteFile(path, key.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		env := baseEnv(t, st, nil)
		env["GATEHOUSE_JWT_PRIVATE_KEY_FILE"] = path
		a := start(t, env)
		env2 := baseEnv(t, st, nil)
		env2["GATEHOUSE_JWT_PRIVATE_KEY_FILE"] = path
		b := start(t, env2)
		// The file's key is the EdDSA key of both; the RS256 keys are each
		// store's own.
		ca, cb := newClient(t, a), newClient(t, b)
		ea, eb := jwksKIDs(t, ca, "EdDSA"), jwksKIDs(t, cb, "EdDSA")
		if len(ea) != 1 || !slices.Equal(ea, eb) {
			t.Fatalf("two stores, one key file, different EdDSA keys: %v %v", ea, eb)
		}
		if ra, rb := jwksKIDs(t, ca, "RS256"), jwksKIDs(t, cb, "RS256"); len(ra) != 1 || len(rb) != 1 || ra[0] == rb[0] {
			t.Fatalf("two stores, RS256 keys %v and %v: want one each, their own", ra, rb)
		}
		env3 := baseEnv(t, st, nil)
		env3["GATEHOUSE_JWT_PRIVATE_KEY_FILE"] = t.TempDir() + "/missing.pem"
		if err := run(context.Background(), []string{"serve"}, env3, io.Discard, io.Discard, nil); err == nil {
			t.Fatal("a missing key file was accepted")
		}
	})
}

func zapAny(key string, v any) zap.Field { return zap.Any(key, v) }
