package client

import (
	"net"
	"net/url"
	"strings"
	"unicode/utf8"
)

// RedirectURIFault tells why raw may not be registered as a redirect URI
// (after sign-in or after sign-out), or "" when it may. The rules (RFC 9700
// §2.1, RFC 8252 §7-8): an absolute URI, at most MaxURILen bytes, with no
// fragment, no user information and no dot segments; https, or http on a
// loopback host (127.0.0.1, [::1] or localhost: an app on the user's own
// machine), or a private-use scheme named after a domain in reverse order
// (com.example.app:/callback, for native apps). Authorization requests
// then have to name a registered URI exactly (only a loopback IP's port
// may differ).
func RedirectURIFault(raw string) string {
	if len(raw) > MaxURILen {
		return "A redirect URI is at most 2000 bytes."
	}
	if !utf8.ValidString(raw) || strings.ContainsAny(raw, " \t\r\n\\") {
		return "A redirect URI has no spaces, control characters or backslashes."
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Opaque != "" && !privateUse(u.Scheme) {
		return "A redirect URI is absolute, like https://app.example.com/callback."
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "A redirect URI has no fragment (#...)."
	}
	if u.User != nil {
		return "A redirect URI has no user information (user@host)."
	}
	if hasDotSegment(u.EscapedPath()) {
		return "A redirect URI has no . or .. path segments."
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		if u.Hostname() == "" {
			return "An https redirect URI names a host."
		}
	case scheme == "http":
		if !Loopback(u.Hostname()) {
			return "A redirect URI uses https; http is allowed only on 127.0.0.1, [::1] or localhost."
		}
	case privateUse(scheme):
	default:
		return "A redirect URI uses https, http on a loopback address, or a private-use scheme such as com.example.app:/callback."
	}
	return ""
}

// Loopback reports whether host names this machine.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// privateUse reports whether scheme is a private-use scheme: a domain name
// in reverse order, so it contains a dot (RFC 8252 §7.1).
func privateUse(scheme string) bool {
	return strings.Contains(scheme, ".") && !strings.HasPrefix(scheme, ".") && !strings.HasSuffix(scheme, ".")
}

func hasDotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		switch strings.ToLower(seg) {
		case ".", "..", "%2e", "%2e%2e", ".%2e", "%2e.":
			return true
		}
	}
	return false
}

// RedirectAllowed reports whether an authorization request may send its
// answer to raw: raw is one of registered, byte for byte, or it differs
// from a registered http://127.0.0.1 or http://[::1] URI only in its port
// (RFC 8252 §7.3: a native app listens on whatever port it got). Case,
// trailing slashes, added queries, encodings and user information all make
// a different URI.
func RedirectAllowed(registered []string, raw string) bool {
	for _, r := range registered {
		if r == raw {
			return true
		}
	}
	want, ok := withoutLoopbackPort(raw)
	if !ok {
		return false
	}
	for _, r := range registered {
		if got, ok := withoutLoopbackPort(r); ok && got == want {
			return true
		}
	}
	return false
}

// withoutLoopbackPort returns raw with its port removed when raw is an
// http URI on a loopback IP literal with nothing a registration refuses,
// and reports whether it was.
func withoutLoopbackPort(raw string) (string, bool) {
	if RedirectURIFault(raw) != "" || !strings.HasPrefix(raw, "http://") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return "", false
	}
	port := u.Port()
	host := u.Host
	if port != "" {
		host = strings.TrimSuffix(u.Host, ":"+port)
	}
	// The host as written, without its port: the rest of raw is kept
	// byte for byte.
	return "http://" + host + raw[len("http://")+len(u.Host):], true
}
