package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gofiber/fiber/v2"
)

// AdminConfig is what the admin listener needs beyond Config: where it
// listens, the names it answers for, and the token /metrics takes.
type AdminConfig struct {
	// Addr is the listener's configured address (GATEHOUSE_ADMIN_ADDR,
	// "127.0.0.1:8081"); empty is taken for loopback.
	Addr string
	// Hosts are more names a request's Host may carry
	// (GATEHOUSE_ADMIN_HOSTS): "admin.internal" or "admin.internal:8081"
	// (the port is ignored).
	Hosts []string
	// MetricsToken, when not empty, is a bearer /metrics accepts besides
	// an admin key (GATEHOUSE_METRICS_TOKEN_FILE's token).
	MetricsToken []byte
}

// OnLoopback reports whether addr's host is a loopback address or
// "localhost" (an empty addr too): only this machine reaches it.
func OnLoopback(addr string) bool {
	if addr == "" {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// hostRule decides which Host values the admin listener answers: its own
// address, "localhost", and the configured names, whatever the port (a
// tunnel or a port mapping changes it, and a DNS rebinding attack shows in
// the name, not in the port). A rebinding attack makes a browser send the
// attacker's name, which is none of these; an IP literal cannot be rebound,
// but only this machine's own addresses are taken.
type hostRule struct {
	names map[string]bool
	// bound is the IP the listener is bound to; invalid when it listens
	// on every interface or on a name.
	bound netip.Addr
	local *localAddrs
}

func newHostRule(cfg AdminConfig) *hostRule {
	r := &hostRule{names: map[string]bool{"localhost": true}, local: &localAddrs{}}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		host = cfg.Addr
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.IsUnspecified() {
			r.bound = ip.Unmap()
		}
	} else if host != "" {
		r.names[normalizeHostName(host)] = true
	} else if cfg.Addr == "" {
		r.bound = netip.IPv6Loopback() // no address: loopback only
	}
	for _, h := range cfg.Hosts {
		if name, _ := splitHost(strings.TrimSpace(h)); name != "" {
			r.names[normalizeHostName(name)] = true
		}
	}
	return r
}

// allows reports whether a request with this Host may be answered.
func (r *hostRule) allows(hostHeader string) bool {
	name, _ := splitHost(hostHeader)
	if name == "" {
		return false
	}
	ip, err := netip.ParseAddr(name)
	if err != nil {
		return r.names[normalizeHostName(name)]
	}
	ip = ip.Unmap().WithZone("")
	switch {
	case r.bound.IsValid() && r.bound.IsLoopback():
		return ip.IsLoopback()
	case r.bound.IsValid():
		return ip == r.bound
	default: // every interface, or a name: any address of this machine
		return ip.IsLoopback() || r.local.has(ip)
	}
}

// splitHost cuts a Host value into its name (brackets of an IPv6 literal
// removed) and port.
func splitHost(h string) (name, port string) {
	if n, p, err := net.SplitHostPort(h); err == nil {
		return n, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ""
}

func normalizeHostName(n string) string { return strings.ToLower(strings.TrimSuffix(n, ".")) }

// localAddrs is this machine's interface addresses, read again at most
// every localAddrsTTL when an address is not among them (interfaces come
// and go).
type localAddrs struct {
	mu   sync.Mutex
	at   time.Time
	addr map[netip.Addr]bool
}

const localAddrsTTL = 10 * time.Second

func (l *localAddrs) has(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addr[ip] {
		return true
	}
	if !l.at.IsZero() && time.Since(l.at) < localAddrsTTL {
		return false
	}
	l.at = time.Now()
	l.addr = map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				l.addr[p.Addr().Unmap().WithZone("")] = true
			}
		}
	}
	return l.addr[ip]
}

// errMisdirected answers a request whose Host the admin listener does not
// answer for.
var errMisdirected = fiber.NewError(fiber.StatusMisdirectedRequest)

// hostCheck refuses, with 421, a request whose Host is not the admin
// listener's (DNS rebinding: a web page whose name now points here).
func hostCheck(r *hostRule) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !r.allows(string(c.Request().Host())) {
			return errMisdirected
		}
		return c.Next()
	}
}

// metricsAuth lets a scrape through with the metrics token or an admin
// key, when the admin listener is reachable from other machines; on
// loopback it lets every scrape through.
func metricsAuth(cfg AdminConfig, k AdminKeys) fiber.Handler {
	if OnLoopback(cfg.Addr) {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	var want [sha256.Size]byte
	if len(cfg.MetricsToken) > 0 {
		want = sha256.Sum256(cfg.MetricsToken)
	}
	return func(c *fiber.Ctx) error {
		tok, ok := bearerToken(c)
		if !ok {
			return errMetricsUnauthorized
		}
		// Hashes of equal length, compared in constant time: the time
		// says nothing of the token, nor of its length.
		got := sha256.Sum256([]byte(tok))
		if len(cfg.MetricsToken) > 0 && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			return c.Next()
		}
		if k == nil {
			return errMetricsUnauthorized
		}
		if _, err := k.Authenticate(c.UserContext(), tok); errors.Is(err, domain.ErrUnauthorized) {
			return errMetricsUnauthorized
		} else if err != nil {
			return err // the store is down: 503, not a refusal
		}
		return c.Next()
	}
}

// errMetricsUnauthorized is every refusal of a scrape. Its code is
// domain.ErrUnauthorized's, so the error handler adds WWW-Authenticate.
var errMetricsUnauthorized = &domain.Error{Kind: domain.KindUnauthorized, Code: domain.ErrUnauthorized.Code, Message: "A valid metrics token or admin key is required."}
