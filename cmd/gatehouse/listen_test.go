package main

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestDefaultAddressesAreLoopback: with nothing configured, serve is
// reachable from this machine only (both listeners on 127.0.0.1).
func TestDefaultAddressesAreLoopback(t *testing.T) {
	cfg, err := LoadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"GATEHOUSE_HTTP_ADDR": cfg.HTTPAddr, "GATEHOUSE_ADMIN_ADDR": cfg.AdminAddr} {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("default %s = %q, want a loopback address", name, addr)
		}
	}
	if cfg.HTTPAddr != "127.0.0.1:8080" || cfg.PublicURL != "http://localhost:8080" {
		t.Errorf("defaults HTTP_ADDR=%q PUBLIC_URL=%q, want 127.0.0.1:8080 and http://localhost:8080 (they go together)", cfg.HTTPAddr, cfg.PublicURL)
	}
}

// TestServeSaysWhichVariableMovesATakenPort: when another program holds
// the public or the admin address, serve exits with an error naming the
// variable to change (and, for the public one, PUBLIC_URL with it).
func TestServeSaysWhichVariableMovesATakenPort(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	taken := held.Addr().String()
	for _, tc := range []struct {
		name, http, admin string
		want              []string
	}{
		{"public", taken, "", []string{"GATEHOUSE_HTTP_ADDR: " + taken + " is already in use", "set GATEHOUSE_HTTP_ADDR", "GATEHOUSE_PUBLIC_URL"}},
		{"admin", "127.0.0.1:0", taken, []string{"GATEHOUSE_ADMIN_ADDR: " + taken + " is already in use", "set GATEHOUSE_ADMIN_ADDR", "empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"GATEHOUSE_DATA_DIR":   t.TempDir(),
				"GATEHOUSE_HTTP_ADDR":  tc.http,
				"GATEHOUSE_ADMIN_ADDR": tc.admin,
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, []string{"serve"}, env, io.Discard, io.Discard, func(string) { t.Error("serve listened") })
			if err == nil {
				t.Fatal("serve started on a taken address")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
