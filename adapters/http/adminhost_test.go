package http

import (
	"context"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/domain"
)

// testAdminConfig lets the admin app answer the Host httptest requests
// carry (example.com), as GATEHOUSE_ADMIN_HOSTS would.
var testAdminConfig = AdminConfig{Addr: "127.0.0.1:8081", Hosts: []string{"example.com"}}

// The admin listener answers its own address, localhost and the configured
// names, whatever the port; any other name (an attacker's, rebound to this
// address) and other machines' addresses are refused.
func TestAdminHostRule(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr  string
		hosts []string
		allow []string
		deny  []string
	}{
		{
			addr:  "127.0.0.1:8081",
			allow: []string{"127.0.0.1:8081", "127.0.0.1", "LOCALHOST:8081", "localhost", "localhost.:9999", "127.0.0.2:8081", "[::1]:8081", "[::1]"},
			deny:  []string{"", "evil.example:8081", "evil.example", "localhost.evil.example", "10.0.0.5:8081", "0.0.0.0:8081", "[::ffff:10.0.0.5]:8081", "127.0.0.1.nip.io:8081"},
		},
		{
			addr:  "10.0.0.5:8081",
			hosts: []string{"admin.internal", "Ops.Example.COM:9000", " "},
			allow: []string{"10.0.0.5:8081", "10.0.0.5", "[::ffff:10.0.0.5]:8081", "localhost:8081", "admin.internal:8081", "ADMIN.internal", "ops.example.com:8081"},
			deny:  []string{"10.0.0.6:8081", "127.0.0.1:8081", "evil.example:8081", "internal", "admin.internal.evil.example"},
		},
		{
			addr:  "admin.internal:8081",
			allow: []string{"admin.internal:8081", "localhost", "127.0.0.1:8081"},
			deny:  []string{"evil.example", "192.0.2.77:8081"},
		},
		{
			addr:  ":8081",
			allow: []string{"localhost:8081", "127.0.0.1:8081", "[::1]:8081"},
			deny:  []string{"evil.example:8081", "192.0.2.77:8081", "[2001:db8::7]:8081"},
		},
		{
			addr:  "",
			allow: []string{"localhost", "127.0.0.1"},
			deny:  []string{"evil.example", "192.0.2.77"},
		},
	} {
		r := newHostRule(AdminConfig{Addr: c.addr, Hosts: c.hosts})
		for _, h := range c.allow {
			if !r.allows(h) {
				t.Errorf("listening on %q: Host %q refused", c.addr, h)
			}
		}
		for _, h := range c.deny {
			if r.allows(h) {
				t.Errorf("listening on %q: Host %q answered", c.addr, h)
			}
		}
	}
}

// Every admin route, the probes and /metrics included, answers 421
// problem+json to a Host it does not answer for.
func TestAdminRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	a := NewAdminServer(Config{Admin: AdminConfig{Addr: "127.0.0.1:8081"}}, nil, AdminUseCases{
		Ready: func(context.Context) error { return nil }, Metrics: nethttp.NotFoundHandler(),
	})
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/admin/v1/users", "/admin/v1/status"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "rebound.evil.example:8081"
		res, body := do(t, a, req)
		decodeProblem(t, res, body, 421, "misdirected_request")
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, res.Header.Get("Cache-Control"))
		}
	}
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Host = "localhost:8081"
	if res, body := do(t, a, req); res.StatusCode != 200 {
		t.Fatalf("GET /healthz with Host localhost: %d %s", res.StatusCode, body)
	}
}

// Off loopback, /metrics needs the metrics token or an admin key; on
// loopback it needs nothing.
func TestMetricsBearerOffLoopback(t *testing.T) {
	t.Parallel()
	metrics := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, _ *nethttp.Request) { _, _ = w.Write([]byte("gatehouse_up 1\n")) })
	scrape := func(cfg AdminConfig, auth string) int {
		a := NewAdminServer(Config{Admin: cfg}, nil, AdminUseCases{Ready: func(context.Context) error { return nil }, Metrics: metrics, Keys: nil})
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Host = "localhost"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, body := do(t, a, req)
		if res.StatusCode == 401 {
			m := decodeProblem(t, res, body, 401, domain.ErrUnauthorized.Code)
			if res.Header.Get("WWW-Authenticate") != "Bearer" || strings.Contains(string(body), "gatehouse_up") {
				t.Errorf("refusal %v %v", res.Header, m)
			}
		}
		return res.StatusCode
	}
	const token = "a-metrics-token-of-some-length-0123456789"
	off := AdminConfig{Addr: "0.0.0.0:8081", MetricsToken: []byte(token)}
	for _, c := range []struct {
		cfg  AdminConfig
		auth string
		want int
	}{
		{AdminConfig{Addr: "127.0.0.1:8081"}, "", 200},
		{AdminConfig{Addr: "localhost:8081"}, "", 200},
		{off, "", 401},
		{off, "Bearer " + token, 200},
		{off, "bearer " + token, 200},
		{off, "Bearer " + token + "x", 401},
		{off, "Bearer " + token[:len(token)-1], 401},
		{off, "Basic " + token, 401},
		{AdminConfig{Addr: "10.0.0.5:8081"}, "Bearer " + token, 401}, // no token configured
	} {
		if got := scrape(c.cfg, c.auth); got != c.want {
			t.Errorf("listening on %s, Authorization %q: %d, want %d", c.cfg.Addr, c.auth, got, c.want)
		}
	}
}
