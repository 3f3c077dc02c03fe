package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadyzURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"":               "http://127.0.0.1:8080/readyz", // unset: the default :8080
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/readyz",
		"[::]:8080":      "http://127.0.0.1:8080/readyz",
		"10.0.0.5:8080":  "http://10.0.0.5:8080/readyz",
		"[::1]:8080":     "http://[::1]:8080/readyz",
		"localhost:8081": "http://localhost:8081/readyz",
	} {
		env := map[string]string{}
		if addr != "" {
			env["GATEHOUSE_HTTP_ADDR"] = addr
		}
		if got, err := readyzURL(env); err != nil || got != want {
			t.Errorf("GATEHOUSE_HTTP_ADDR=%q: %q, %v; want %q", addr, got, err, want)
		}
	}
	for _, bad := range []string{"8080", "host", "a:b:c"} {
		if _, err := readyzURL(map[string]string{"GATEHOUSE_HTTP_ADDR": bad}); err == nil {
			t.Errorf("GATEHOUSE_HTTP_ADDR=%q accepted", bad)
		}
	}
}

// healthcheckEnv is the environment of a healthcheck of addr, with a
// configuration serve would refuse and a data directory that does not
// exist: the healthcheck reads GATEHOUSE_HTTP_ADDR only and opens nothing.
func healthcheckEnv(t *testing.T, addr string) (map[string]string, string) {
	dataDir := filepath.Join(t.TempDir(), "never-created")
	return map[string]string{
		"GATEHOUSE_HTTP_ADDR":    addr,
		"GATEHOUSE_DATABASE_URL": "mysql://nobody@nowhere/x",
		"GATEHOUSE_DATA_DIR":     dataDir,
		"GATEHOUSE_LOG_LEVEL":    "loud",
	}, dataDir
}

// TestHealthcheckCommand: `gatehouse healthcheck` succeeds against a ready
// serve (also with an empty host in GATEHOUSE_HTTP_ADDR), and fails with a
// message for a server that answers 503 and for a port nobody listens on.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	inst := start(t, baseEnv(t, onSQLite, nil))
	_, port, err := net.SplitHostPort(strings.TrimPrefix(inst.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"127.0.0.1:" + port, ":" + port} {
		env, dataDir := healthcheckEnv(t, addr)
		if err := run(context.Background(), []string{"healthcheck"}, env, &bytes.Buffer{}, &bytes.Buffer{}, nil); err != nil {
			t.Errorf("healthcheck of a ready serve at %q: %v", addr, err)
		}
		if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("healthcheck touched the data directory: %v", err)
		}
	}

	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unready.Close()
	env, _ := healthcheckEnv(t, strings.TrimPrefix(unready.URL, "http://"))
	if err := run(context.Background(), []string{"healthcheck"}, env, &bytes.Buffer{}, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck of a server answering 503: %v", err)
	}
	env, _ = healthcheckEnv(t, "127.0.0.1:"+freePort(t))
	if err := run(context.Background(), []string{"healthcheck"}, env, &bytes.Buffer{}, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("healthcheck of a closed port: %v", err)
	}
	if err := run(context.Background(), []string{"healthcheck", "extra"}, env, &bytes.Buffer{}, &bytes.Buffer{}, nil); err == nil {
		t.Error("healthcheck with an argument accepted")
	}
}

// TestHealthcheckExitStatus runs the real main(): exit 0 and silence for a
// ready serve, exit 1 and a message on stderr otherwise, which is what a
// container healthcheck reads.
func TestHealthcheckExitStatus(t *testing.T) {
	t.Parallel()
	inst := start(t, baseEnv(t, onSQLite, nil))
	check := func(addr string) (int, string) {
		cmd := exec.Command(os.Args[0])
		cmd.Env = []string{"GATEHOUSE_TEST_RUN_MAIN=1", "GATEHOUSE_TEST_ARGS=healthcheck", "GATEHOUSE_HTTP_ADDR=" + addr}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
	if code, msg := check(strings.TrimPrefix(inst.URL, "http://")); code != 0 || msg != "" {
		t.Errorf("ready: exit %d, stderr %q", code, msg)
	}
	if code, msg := check("127.0.0.1:" + freePort(t)); code != 1 || !strings.Contains(msg, "gatehouse: healthcheck: http://127.0.0.1:") {
		t.Errorf("nothing listening: exit %d, stderr %q", code, msg)
	}
}
