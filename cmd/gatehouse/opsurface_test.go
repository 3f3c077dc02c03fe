package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminListenerAnswersOnlyItsHosts: a request whose Host is a name the
// admin listener does not answer for (DNS rebinding: an attacker's name
// pointed at this address) is 421 on every route, the probes and /metrics
// included; its own address, localhost and GATEHOUSE_ADMIN_HOSTS names
// are answered, whatever the port. The public listener's probes (the
// container healthcheck) are not concerned.
func TestAdminListenerAnswersOnlyItsHosts(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, onSQLite, nil)
	env["GATEHOUSE_ADMIN_HOSTS"] = "admin.internal, ops.example.com:9000"
	inst := start(t, env)
	admin := newAdminClient(t, inst, adminKey(t, env, "ops"))
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(inst.AdminURL, "http://"))

	for _, host := range []string{"rebound.evil.example:" + port, "rebound.evil.example", "admin.internal.evil.example", "203.0.113.9:" + port} {
		for _, path := range []string{"/healthz", "/readyz", "/metrics", "/admin/v1/status", "/admin/v1/users"} {
			r := admin.do(http.MethodGet, path, nil, map[string]string{"Host": host, "Authorization": "Bearer " + admin.key})
			if r.Status != http.StatusMisdirectedRequest || r.Code(t) != "misdirected_request" {
				t.Fatalf("GET %s with Host %s: %d %s", path, host, r.Status, r.Body)
			}
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "localhost", "admin.internal:" + port, "ADMIN.internal", "ops.example.com:8443", "[::1]:" + port} {
		if r := admin.do(http.MethodGet, "/admin/v1/status", nil, map[string]string{"Host": host, "Authorization": "Bearer " + admin.key}); r.Status != http.StatusOK {
			t.Fatalf("GET /admin/v1/status with Host %s: %d %s", host, r.Status, r.Body)
		}
	}
	// The public listener answers its probes whatever the Host.
	if r := newClient(t, inst).do(http.MethodGet, "/readyz", nil, map[string]string{"Host": "rebound.evil.example"}); r.Status != http.StatusOK {
		t.Fatalf("public /readyz: %d %s", r.Status, r.Body)
	}
}

// TestMetricsNeedABearerOffLoopback: with the admin listener on every
// interface, /metrics answers only the metrics token or an admin key;
// startup warns of the listener and of key files others can read.
func TestMetricsNeedABearerOffLoopback(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		env := baseEnv(t, st, nil)
		env["GATEHOUSE_ADMIN_ADDR"] = "0.0.0.0:0"
		dir := t.TempDir()
		const token = "scrape-token-0123456789abcdef"
		tokenFile := filepath.Join(dir, "metrics.token")
		if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		secretFile := filepath.Join(dir, "secret.key")
		if err := os.WriteFile(secretFile, []byte(mustCLI(t, nil, "keygen", "--secret")), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(secretFile, 0o644); err != nil { // whatever the umask
			t.Fatal(err)
		}
		env["GATEHOUSE_METRICS_TOKEN_FILE"] = tokenFile
		env["GATEHOUSE_SECRET_KEY_FILE"] = secretFile
		inst := start(t, env)
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(inst.AdminURL, "http://"))
		inst.AdminURL = "http://127.0.0.1:" + port
		key := adminKey(t, env, "scraper")

		for _, c := range []struct {
			auth string
			want int
		}{
			{"", http.StatusUnauthorized},
			{"Bearer " + token, http.StatusOK},
			{"Bearer " + key, http.StatusOK},
			{"Bearer " + token + "0", http.StatusUnauthorized},
			{"Bearer gha_" + strings.Repeat("A", 43), http.StatusUnauthorized},
		} {
			h := map[string]string{}
			if c.auth != "" {
				h["Authorization"] = c.auth
			}
			r := newAdminClient(t, inst, "").do(http.MethodGet, "/metrics", nil, h)
			if r.Status != c.want {
				t.Fatalf("GET /metrics with %.20q: %d %s", c.auth, r.Status, r.Body)
			}
			if r.Status == http.StatusUnauthorized && (r.Header.Get("WWW-Authenticate") != "Bearer" || strings.Contains(string(r.Body), "gatehouse_")) {
				t.Fatalf("refused scrape: %v %s", r.Header, r.Body)
			}
		}
		logs := inst.Logs.String()
		if !strings.Contains(logs, "the admin listener is not on loopback") {
			t.Error("no warning about the admin listener off loopback")
		}
		for _, f := range []string{secretFile, tokenFile} {
			if !strings.Contains(logs, `"path":"`+f+`"`) || !strings.Contains(logs, "readable by group or others") {
				t.Errorf("no warning about %s, readable by others", f)
			}
		}
		if strings.Contains(logs, token) {
			t.Error("the metrics token is in the log")
		}
	})
}

// A metrics token file that is missing or too short stops serve with an
// error naming the variable.
func TestMetricsTokenFileIsChecked(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, onSQLite, nil)
	short := filepath.Join(t.TempDir(), "short.token")
	if err := os.WriteFile(short, []byte("tiny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{short, filepath.Join(t.TempDir(), "missing.token")} {
		env["GATEHOUSE_METRICS_TOKEN_FILE"] = path
		if _, err := cli(t, env, "", "serve"); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_METRICS_TOKEN_FILE") {
			t.Fatalf("serve with token file %s: %v", path, err)
		}
	}
}
