package http

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

// ctxKey keys the values the middleware stores in c.Locals.
type ctxKey uint8

const (
	keyRequestID ctxKey = iota + 1 // string
	keyClientIP                    // string
	keyAccessLog                   // true once the access-log middleware took the request
	keyUnmatched                   // true when the Finish catch-all answered
)

// Header values.
const (
	// apiCSP is sent on every response; JSON needs nothing, so nothing is
	// allowed. HostedPageHeaders replaces it for HTML pages.
	apiCSP        = "default-src 'none'; frame-ancestors 'none'"
	hostedPageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	hstsValue     = "max-age=31536000; includeSubDomains"

	corsAllowMethods  = "GET, POST, DELETE"
	corsAllowHeaders  = "Content-Type, Authorization, X-Request-ID"
	corsExposeHeaders = "Retry-After, X-Request-ID, WWW-Authenticate"
	corsMaxAge        = "600"

	maxLoggedPath = 256
)

// RequestID returns the id of the request: the client's X-Request-ID when it
// was well-formed, else a generated one. It is also on the response.
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(keyRequestID).(string)
	return id
}

// HostedPageHeaders sets the headers of a server-rendered HTML page: a strict
// Content-Security-Policy (no scripts, inline styles only, forms post back to
// this origin, never framed) and Cache-Control: no-store.
func HostedPageHeaders(c *fiber.Ctx) {
	hostedPageHeadersTo(c, "")
}

// hostedPageHeadersTo is HostedPageHeaders for a page whose form is
// answered by redirects that end at a client's redirect URI (the sign-in,
// code, consent and verification pages of a pending authorization
// request): browsers check form-action along the whole redirect chain of
// a form post, so it also allows target, the redirect URI's origin (see
// formSource), besides this origin.
func hostedPageHeadersTo(c *fiber.Ctx, target string) {
	csp := hostedPageCSP
	if target != "" {
		csp = strings.Replace(csp, "form-action 'self'", "form-action 'self' "+target, 1)
	}
	c.Set(fiber.HeaderContentSecurityPolicy, csp)
	c.Set(fiber.HeaderCacheControl, "no-store")
}

// formSource is the CSP source expression of a redirect URI: its origin
// (scheme, host and port) for http and https, its scheme for a private-use
// scheme (RFC 8252 7.1). "" when the URI is not one a source expression
// can name.
func formSource(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme == "" {
		return ""
	}
	src := u.Scheme + ":"
	if u.Scheme == "http" || u.Scheme == "https" {
		if u.Host == "" {
			return ""
		}
		src = u.Scheme + "://" + u.Host
	}
	if strings.ContainsFunc(src, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-+:/[]", r))
	}) {
		return ""
	}
	return src
}

// NoStore marks a response as never to be cached; use it on every response
// that carries a token.
func NoStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderPragma, "no-cache")
}

// nextCatchingPanics runs the rest of the chain, turning a panic into a
// *panicError, which the error handler answers with a 500 and logs once
// with its stack. As the first middleware it catches panics anywhere
// below; the access log calls it so that it still sees the final status.
func nextCatchingPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return c.Next()
}

// before is the middleware that runs set, then the rest of the chain.
func before(set func(c *fiber.Ctx)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		set(c)
		return c.Next()
	}
}

// assignRequestID keeps a well-formed incoming X-Request-ID, else generates
// one, and puts it in c.Locals and on the response.
func assignRequestID(c *fiber.Ctx) {
	id := c.Get(HeaderRequestID)
	if validRequestID(id) {
		id = strings.Clone(id) // c.Get points into a reused buffer
	} else {
		id = newRequestID()
	}
	c.Locals(keyRequestID, id)
	c.Set(HeaderRequestID, id)
}

// validRequestID accepts 1 to 128 characters of [A-Za-z0-9._:-].
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9',
			b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

func (s *server) setSecurityHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set(fiber.HeaderContentSecurityPolicy, apiCSP)
	if s.hsts {
		c.Set(fiber.HeaderStrictTransportSecurity, hstsValue)
	}
}

// prepareEdge does, for a request that did not pass through the middleware
// (fasthttp read errors, unknown methods, a panic in early middleware), what
// the middleware would have done. It is idempotent.
func (s *server) prepareEdge(c *fiber.Ctx) {
	if RequestID(c) == "" {
		assignRequestID(c)
	}
	if c.Locals(keyClientIP) == nil {
		s.assignClientIP(c)
	}
	s.setSecurityHeaders(c)
	s.cors.applyActual(c)
}

// accessLogMiddleware writes one line per request after the error handler
// ran, so that the status logged is the one sent. It handles the error
// itself and returns nil, so Fiber does not run the error handler again.
func (s *server) accessLogMiddleware(c *fiber.Ctx) error {
	start := time.Now()
	c.Locals(keyAccessLog, true)
	if err := nextCatchingPanics(c); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			s.log.Error("error handler failed", zap.String("request_id", RequestID(c)), zap.Error(herr))
			c.Status(fiber.StatusInternalServerError)
		}
	}
	s.logAccess(c, start)
	return nil
}

// logAccess writes the access log line and tells the request observer.
// It never logs the query string, the body or any header but the request
// id.
func (s *server) logAccess(c *fiber.Ctx, start time.Time) {
	var latency time.Duration
	if !start.IsZero() {
		latency = time.Since(start)
	}
	if s.reqs != nil {
		route := routePattern(c)
		if route == "" {
			route = RouteUnmatched
		}
		s.reqs.ObserveRequest(route, metricMethod(c.Method()), c.Response().StatusCode(), latency)
	}
	s.log.Info("request",
		zap.String("method", truncate(c.Method(), 16)),
		zap.String("route", routePattern(c)),
		zap.String("path", truncate(c.Path(), maxLoggedPath)),
		zap.Int("status", c.Response().StatusCode()),
		zap.Duration("latency", latency),
		zap.String("request_id", RequestID(c)),
		zap.String("client_ip", ClientIP(c)),
		zap.Int("bytes_out", len(c.Response().Body())),
	)
}

// metricMethods are the methods Fiber routes, as constants: c.Method()
// points into a buffer fasthttp reuses, so it is never kept.
var metricMethods = []string{
	fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
	fiber.MethodDelete, fiber.MethodConnect, fiber.MethodOptions, fiber.MethodTrace,
}

// metricMethod is the standard method equal to method, else "OTHER": any
// token is a method to fasthttp.
func metricMethod(method string) string {
	for _, m := range metricMethods {
		if m == method {
			return m
		}
	}
	return "OTHER"
}

// truncate bounds an attacker-controlled string before it is logged; the
// result is a copy.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Clone(s)
}

// corsPolicy is the CORS allowlist; empty means CORS is closed and no CORS
// header is ever sent.
type corsPolicy struct {
	origins map[string]struct{}
}

// newCORSPolicy normalizes the configured origins; entries that are not an
// http(s) origin (such as "*" or "null") are dropped with a warning.
func newCORSPolicy(origins []string, log *zap.Logger) corsPolicy {
	p := corsPolicy{origins: make(map[string]struct{})}
	for _, o := range origins {
		n, ok := normalizeOrigin(o)
		if !ok {
			log.Warn("ignoring invalid CORS origin; expected scheme://host[:port]", zap.String("origin", o))
			continue
		}
		p.origins[n] = struct{}{}
	}
	return p
}

// normalizeOrigin returns the serialization browsers send in Origin:
// lower-case scheme and host, no default port, no path.
func normalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	}
	return u.Scheme + "://" + host, true
}

func (p corsPolicy) enabled() bool { return len(p.origins) > 0 }

func (p corsPolicy) allows(origin string) bool {
	_, ok := p.origins[origin]
	return ok
}

// applyActual sets the CORS headers of a non-preflight response.
func (p corsPolicy) applyActual(c *fiber.Ctx) {
	if !p.enabled() {
		return
	}
	c.Vary(fiber.HeaderOrigin)
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && p.allows(origin) {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlExposeHeaders, corsExposeHeaders)
	}
}

// corsMiddleware answers preflights with 204 and adds the CORS headers of
// allowed origins to other responses. It does nothing when CORS is closed.
func (s *server) corsMiddleware(c *fiber.Ctx) error {
	if !s.cors.enabled() {
		return c.Next()
	}
	origin := c.Get(fiber.HeaderOrigin)
	if c.Method() == fiber.MethodOptions && origin != "" && c.Get(fiber.HeaderAccessControlRequestMethod) != "" {
		c.Vary(fiber.HeaderOrigin, fiber.HeaderAccessControlRequestMethod, fiber.HeaderAccessControlRequestHeaders)
		if s.cors.allows(origin) {
			c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
			c.Set(fiber.HeaderAccessControlAllowMethods, corsAllowMethods)
			c.Set(fiber.HeaderAccessControlAllowHeaders, corsAllowHeaders)
			c.Set(fiber.HeaderAccessControlMaxAge, corsMaxAge)
		}
		c.Status(fiber.StatusNoContent)
		// Preflights stop here, before the access-log middleware: log them.
		s.logAccess(c, c.Context().Time())
		return nil
	}
	s.cors.applyActual(c)
	return c.Next()
}
