package http

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// HeaderXForwardedFor is read only when the socket peer is a trusted proxy.
const HeaderXForwardedFor = "X-Forwarded-For"

// ClientIP returns the client address the middleware resolved: the socket
// peer, or, when the peer is a trusted proxy, the rightmost untrusted entry
// of X-Forwarded-For. Rate limits and session records key on it. Never use
// c.IP() or c.IPs(): with proxy headers enabled they trust the leftmost,
// client-written entry.
func ClientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(keyClientIP).(string); ok {
		return ip
	}
	return peerAddr(c).String()
}

func (s *server) assignClientIP(c *fiber.Ctx) {
	peer := peerAddr(c)
	var xff []string
	if isTrusted(peer, s.trusted) {
		for _, v := range c.Request().Header.PeekAll(HeaderXForwardedFor) {
			xff = append(xff, string(v))
		}
	}
	c.Locals(keyClientIP, resolveClientIP(peer, xff, s.trusted).String())
}

// peerAddr is the socket peer, IPv4-mapped IPv6 unmapped.
func peerAddr(c *fiber.Ctx) netip.Addr {
	ip, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return netip.IPv4Unspecified()
	}
	return ip.Unmap()
}

// resolveClientIP returns the client address. A peer that is not a trusted
// proxy is the client, whatever it claims in X-Forwarded-For. Behind trusted
// proxies, X-Forwarded-For (all header lines, in order) is walked from the
// right, where our own proxies appended what they saw, skipping entries that
// are trusted proxies; the first untrusted address is the client. An entry
// that is not an IP address ends the walk and the peer is used: whatever lies
// to its left was not written by a proxy we can vouch for. The leftmost
// entry is never believed for being leftmost.
func resolveClientIP(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer
	}
	for i := len(xff) - 1; i >= 0; i-- {
		entries := strings.Split(xff[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			e := strings.TrimSpace(entries[j])
			if e == "" {
				continue // "a, , b" or a trailing comma: no hop
			}
			ip, ok := parseForwardedAddr(e)
			if !ok {
				return peer
			}
			if !isTrusted(ip, trusted) {
				return ip
			}
		}
	}
	return peer
}

// parseForwardedAddr parses an X-Forwarded-For entry: an IP address,
// optionally with a port ("1.2.3.4:5", "[::1]:5") as some proxies write it.
// Zoned addresses are refused.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		ip = ap.Addr()
	}
	if ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// normalizeTrusted masks the prefixes and rewrites IPv4-mapped IPv6 ones
// (::ffff:10.0.0.0/104) as IPv4, the form addresses are compared in.
func normalizeTrusted(prefixes []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}
