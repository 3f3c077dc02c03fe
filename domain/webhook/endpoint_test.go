package webhook_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:2800:21f:cb07:6820:80da:af6b:8b2c": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "fd12:3456::1": false,
		"0.0.0.0": false, "::": false, "224.0.0.1": false, "ff02::1": false, "100.64.0.1": false,
		"255.255.255.255": false, "::ffff:127.0.0.1": false, "::ffff:10.1.1.1": false, "::ffff:93.184.215.14": true,
		// Through a translator to a private or metadata address.
		"64:ff9b::a9fe:a9fe": false, "64:ff9b::a00:1": false, "64:ff9b:1::1": false, "2002:a00:1::1": false,
		"::a00:1": false, "::ffff:0:a00:1": false, "fec0::1": false, "100::1": false,
		"192.0.0.8": false, "198.18.0.1": false,
	} {
		if got := webhook.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestNewEndpointKeepsTheURLAndEvents(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	events := []webhook.Type{webhook.SessionRevoked, webhook.UserCreated}
	e, err := webhook.NewEndpoint(uuid.New(), "https://hooks.example.com:8443/in?a=b", events, now)
	if err != nil {
		t.Fatal(err)
	}
	events[0] = webhook.UserDeleted // the endpoint keeps its own copy, in the documented order
	if e.URL != "https://hooks.example.com:8443/in?a=b" || !slices.Equal(e.Events, []webhook.Type{webhook.UserCreated, webhook.SessionRevoked}) || !e.CreatedAt.Equal(now) {
		t.Errorf("endpoint %+v", e)
	}
	if h := webhook.Host(e.URL); h != "hooks.example.com" {
		t.Errorf("Host = %q", h)
	}
	if h := webhook.Host("http://[::1]:80/"); h != "::1" {
		t.Errorf("Host of an IPv6 literal = %q", h)
	}
}
