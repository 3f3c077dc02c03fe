package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// logLine is the first JSON log line whose msg is msg.
func logLine(t *testing.T, logs, msg string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	t.Fatalf("no %q line in the log:\n%s", msg, logs)
	return nil
}

// withUnit is a Go duration string: "15s", "720h0m0s", "1.5ms".
var withUnit = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ns|µs|us|ms|s|m|h))+$`)

// TestDurationsInLogsCarryUnits: every duration serve logs is a string
// with its unit: the configuration at startup (the default shutdown
// timeout reads "15s", not 15), the shutdown line, and request latencies.
func TestDurationsInLogsCarryUnits(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, onSQLite, nil)
	delete(env, "GATEHOUSE_SHUTDOWN_TIMEOUT") // the default, 15s
	inst := start(t, env)
	if r := newClient(t, inst).do(http.MethodGet, "/healthz", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("healthz: %d", r.Status)
	}

	cfg, _ := logLine(t, inst.Logs.String(), "starting gatehouse")["config"].(map[string]any)
	if got := cfg["shutdown_timeout"]; got != "15s" {
		t.Errorf("config shutdown_timeout = %#v, want \"15s\"", got)
	}
	for _, key := range []string{"access_token_ttl", "refresh_token_ttl", "session_idle_timeout", "verification_token_ttl", "reset_token_ttl", "invite_token_ttl", "hash_max_wait", "shutdown_timeout", "retention"} {
		if s, ok := cfg[key].(string); !ok || !withUnit.MatchString(s) {
			t.Errorf("config %s = %#v, want a duration with its unit", key, cfg[key])
		}
	}
	if got := cfg["access_token_ttl"]; got != (15 * time.Minute).String() {
		t.Errorf("config access_token_ttl = %#v", got)
	}

	// A request line's latency, then the shutdown line's timeout.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(inst.Logs.String(), `"latency"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	latencies := 0
	for _, line := range strings.Split(inst.Logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if v, ok := m["latency"]; ok {
			latencies++
			if s, isString := v.(string); !isString || !withUnit.MatchString(s) {
				t.Errorf("request latency = %#v, want a duration with its unit: %s", v, line)
			}
		}
	}
	if latencies == 0 {
		t.Errorf("no request line with a latency in the log:\n%s", inst.Logs)
	}
	if err := inst.stop(); err != nil {
		t.Fatal(err)
	}
	if got := logLine(t, inst.Logs.String(), "shutting down")["timeout"]; got != "15s" {
		t.Errorf("shutting down timeout = %#v, want \"15s\"", got)
	}
}
