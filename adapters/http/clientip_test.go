package http

import (
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestResolveClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}
	tests := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer, no header", "203.0.113.7", nil, "203.0.113.7"},
		{"untrusted peer spoofs", "203.0.113.7", []string{"1.2.3.4"}, "203.0.113.7"},
		{"untrusted peer spoofs a trusted address", "203.0.113.7", []string{"10.0.0.1"}, "203.0.113.7"},
		{"trusted peer, no header", "10.0.0.2", nil, "10.0.0.2"},
		{"trusted peer, one hop", "10.0.0.2", []string{"198.51.100.9"}, "198.51.100.9"},
		{"rightmost untrusted wins over spoofed left", "10.0.0.2", []string{"1.1.1.1, 2.2.2.2, 198.51.100.9"}, "198.51.100.9"},
		{"trusted hops skipped", "10.0.0.2", []string{"1.1.1.1, 198.51.100.9, 10.0.0.5, 10.0.0.6"}, "198.51.100.9"},
		{"several header lines", "10.0.0.2", []string{"1.1.1.1", "198.51.100.9, 10.0.0.5"}, "198.51.100.9"},
		{"spaces and empty entries", "10.0.0.2", []string{" 1.1.1.1 ,, 198.51.100.9 , "}, "198.51.100.9"},
		{"all trusted", "10.0.0.2", []string{"10.1.1.1, 10.0.0.5"}, "10.0.0.2"},
		{"garbage only", "10.0.0.2", []string{"unknown"}, "10.0.0.2"},
		{"garbage rightmost stops the walk", "10.0.0.2", []string{"1.1.1.1, not-an-ip"}, "10.0.0.2"},
		{"garbage left of the client is never reached", "10.0.0.2", []string{"<script>, 198.51.100.9"}, "198.51.100.9"},
		{"with port", "10.0.0.2", []string{"198.51.100.9:4711"}, "198.51.100.9"},
		{"ipv6", "fd00::1", []string{"2001:db8::1"}, "2001:db8::1"},
		{"ipv6 with port", "fd00::1", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"zoned refused", "10.0.0.2", []string{"fe80::1%eth0"}, "10.0.0.2"},
		{"mapped peer is unmapped and trusted", "::ffff:10.0.0.2", []string{"198.51.100.9"}, "198.51.100.9"},
		{"mapped entry is unmapped", "10.0.0.2", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{"mapped trusted entry skipped", "10.0.0.2", []string{"198.51.100.9, ::ffff:10.0.0.7"}, "198.51.100.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveClientIP(netip.MustParseAddr(tt.peer), tt.xff, trusted)
			if got.String() != tt.want {
				t.Errorf("resolveClientIP(%s, %q) = %s, want %s", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
	if got := resolveClientIP(netip.MustParseAddr("10.0.0.2"), []string{"1.2.3.4"}, nil); got.String() != "10.0.0.2" {
		t.Errorf("no trusted proxies: got %s", got)
	}
}

func TestNormalizeTrusted(t *testing.T) {
	t.Parallel()
	got := normalizeTrusted([]netip.Prefix{
		netip.MustParsePrefix("::ffff:10.0.0.0/104"),
		netip.MustParsePrefix("192.168.1.77/24"),
		{},
	})
	if len(got) != 2 || got[0].String() != "10.0.0.0/8" || got[1].String() != "192.168.1.0/24" {
		t.Errorf("normalizeTrusted = %v", got)
	}
}

// clientIPApp echoes ClientIP(c).
func clientIPApp(t *testing.T, trusted ...string) *fiber.App {
	t.Helper()
	var prefixes []netip.Prefix
	for _, p := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	app, _ := newTestApp(t, Config{TrustedProxies: prefixes}, func(app *fiber.App) {
		app.Get("/ip", func(c *fiber.Ctx) error { return c.SendString(ClientIP(c)) })
	})
	return app
}

func TestClientIPThroughApp(t *testing.T) {
	t.Parallel()
	// app.Test's peer is 0.0.0.0.
	get := func(app *fiber.App, xff ...string) string {
		req := httptest.NewRequest("GET", "/ip", nil)
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		_, body := do(t, app, req)
		return string(body)
	}
	untrusted := clientIPApp(t)
	if got := get(untrusted, "1.2.3.4"); got != "0.0.0.0" {
		t.Errorf("spoofed X-Forwarded-For from an untrusted peer: %s", got)
	}
	trusted := clientIPApp(t, "0.0.0.0/32", "10.0.0.0/8")
	if got := get(trusted, "6.6.6.6, 198.51.100.9, 10.0.0.3"); got != "198.51.100.9" {
		t.Errorf("behind a trusted proxy: %s", got)
	}
	if got := get(trusted, "6.6.6.6", "198.51.100.9"); got != "198.51.100.9" {
		t.Errorf("two header lines: %s", got)
	}
	if got := get(trusted, "garbage"); got != "0.0.0.0" {
		t.Errorf("garbage: %s", got)
	}
	if got := get(trusted); got != "0.0.0.0" {
		t.Errorf("no header: %s", got)
	}
}

func TestClientIPRealPeer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		trusted []string
		want    string
	}{
		{nil, "127.0.0.1"},
		{[]string{"127.0.0.1/32"}, "198.51.100.9"},
	} {
		base := listen(t, clientIPApp(t, tt.trusted...))
		req, _ := nethttp.NewRequest("GET", base+"/ip", nil)
		req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.9")
		res, err := nethttp.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != tt.want {
			t.Errorf("trusted %v: ClientIP = %s, want %s", tt.trusted, body, tt.want)
		}
	}
}
