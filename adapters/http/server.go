// Package http is Gatehouse's HTTP adapter: a Fiber v2 application with one
// problem+json error handler, the edge middleware (recover, request id,
// client IP, security headers, CORS, access log), strict request decoding,
// and the routes and hosted pages of the v1 API.
//
// Route handlers return errors; they never write error responses themselves.
// Every error, including the ones fasthttp produces before a handler runs
// (413, 431), leaves through the same handler as application/problem+json.
package http

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Defaults applied by NewApp to zero Config fields.
const (
	DefaultBodyLimit    = 8 << 10 // 8 KiB, per the spec
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultIdleTimeout  = 60 * time.Second

	// readBufferSize bounds the request line plus headers; a request with
	// larger headers is answered 431.
	readBufferSize = 8 << 10
)

// Config configures the HTTP application built by NewApp.
type Config struct {
	// PublicURL is GATEHOUSE_PUBLIC_URL; HSTS is sent only when it is https.
	PublicURL string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the browser origins allowed to call the API
	// ("https://app.example.com"); empty means no CORS headers at all.
	CORSOrigins []string
	// BodyLimit is the largest accepted request body in bytes (default 8192).
	BodyLimit int
	// ReadTimeout, WriteTimeout and IdleTimeout default to 10s, 10s and 60s.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Pages configures the hosted pages (the public app only).
	Pages PageConfig
	// Requests, when set, hears of every answered request (metrics).
	Requests RequestObserver
	// Admin configures the admin listener (NewAdminServer only).
	Admin AdminConfig
}

// https reports whether the service is reached over https (PUBLIC_URL).
func (cfg Config) https() bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(cfg.PublicURL)), "https://")
}

// RequestObserver hears of every request an app answered: route is the
// matched route template (RouteUnmatched when none matched: a 404 or 405,
// or an answer given before routing), method a standard method or
// "OTHER", status the status code sent. It must be cheap and safe for
// concurrent use.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, elapsed time.Duration)
	// TokenRequest: the token endpoint answered a request of grantType
	// ("other" for one Gatehouse does not offer) with result ("success",
	// or the OAuth error code it answered, or "rate_limited").
	TokenRequest(grantType, result string)
}

// RouteUnmatched is the route of a request that no route matched.
const RouteUnmatched = "unmatched"

// server holds what the middleware and the error handler share.
type server struct {
	log     *zap.Logger
	trusted []netip.Prefix
	hsts    bool
	cors    corsPolicy
	reqs    RequestObserver // nil: nobody listens
}

// NewApp builds the Fiber application with the error handler and the edge
// middleware installed, in this order: recover, request id, client IP,
// security headers, CORS, access log. Register routes on it, then call
// Finish.
//
// Note for tests: a body over the limit is refused by fasthttp while it
// reads the request, before Fiber routes it. The client receives a 413
// problem+json, but app.Test reports the connection error ("body size
// exceeds the given limit") instead of a response; test 413s through a real
// listener (app.Listener).
func NewApp(cfg Config, log *zap.Logger) *fiber.App {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}

	s := &server{
		log:     log,
		trusted: normalizeTrusted(cfg.TrustedProxies),
		hsts:    cfg.https(),
		cors:    newCORSPolicy(cfg.CORSOrigins, log),
		reqs:    cfg.Requests,
	}

	app := fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		BodyLimit:             cfg.BodyLimit,
		ReadBufferSize:        readBufferSize,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		DisableStartupMessage: true,
		StrictRouting:         false,
		Immutable:             false,
	})

	// Fiber answers a method it does not know (not in RequestMethods) with a
	// plain-text 400 from inside its router, bypassing middleware and the
	// error handler. Intercept such requests first and answer them like a
	// known method that no route takes: 405 with Allow on a path that has
	// routes, else 404, through the error handler (logged at info by the
	// access log line, never as an error: any client can send any token).
	known := app.Config().RequestMethods
	table := &routeTable{app: app}
	// answer sends, through the error handler, the error refuse finds for
	// a request that never reaches the router; fallback is the status
	// should the handler fail.
	answer := func(fctx *fasthttp.RequestCtx, refuse func(c *fiber.Ctx) error, fallback int) {
		c := app.AcquireCtx(fctx)
		defer app.ReleaseCtx(c)
		if err := s.handleError(c, refuse(c)); err != nil {
			fctx.SetStatusCode(fallback)
		}
	}
	badRequest := func(*fiber.Ctx) error { return fiber.ErrBadRequest }
	srv := app.Server()
	inner := srv.Handler
	srv.Handler = func(fctx *fasthttp.RequestCtx) {
		switch {
		case conflictingContentLength(fctx.Request.Header.RawHeaders()):
			// RFC 9112 §6.3: differing Content-Length values are a framing
			// error (and a request-smuggling vector behind a proxy that
			// reads the first one). fasthttp keeps the last; refuse, close.
			fctx.SetConnectionClose()
			answer(fctx, badRequest, fiber.StatusBadRequest)
		case !slices.Contains(known, string(fctx.Method())):
			answer(fctx, table.refusal, fiber.StatusNotFound)
		default:
			inner(fctx)
		}
	}
	// fasthttp reports a connection that broke while the request was read
	// (the client reset it, or went away mid-body) as a network error,
	// which Fiber answers 502 Bad Gateway, an error-level log line. It is
	// the client's doing, not a failure here: answer 400 (if anyone still
	// listens), logged at info like any refused request.
	readFailed := srv.ErrorHandler
	srv.ErrorHandler = func(fctx *fasthttp.RequestCtx, err error) {
		var ne net.Error
		if !errors.As(err, &ne) || ne.Timeout() {
			readFailed(fctx, err)
			return
		}
		answer(fctx, badRequest, fiber.StatusBadRequest)
	}

	app.Use(
		nextCatchingPanics,
		before(assignRequestID),
		deadlineMiddleware(cfg.WriteTimeout),
		before(s.assignClientIP),
		before(s.setSecurityHeaders),
		s.corsMiddleware,
		s.accessLogMiddleware,
	)
	return app
}

// Finish installs the catch-all that must come after every route: an
// unknown path is a 404 not_found; a known path with another method is a
// 405 method_not_allowed with an Allow header listing the registered
// methods (HEAD included wherever GET is, as Fiber registers both). Call it
// once, after all routes and mounts are registered. A notFound handler, if
// given, answers an unknown path first (the public app's HTML page for a
// browser); it returns fiber.ErrNotFound to leave the answer to the
// problem+json 404.
func Finish(app *fiber.App, notFound ...fiber.Handler) {
	table := &routeTable{app: app}
	app.Use(func(c *fiber.Ctx) error {
		c.Locals(keyUnmatched, true)
		err := table.refusal(c)
		if !errors.Is(err, fiber.ErrNotFound) {
			return err
		}
		for _, h := range notFound {
			if err := h(c); !errors.Is(err, fiber.ErrNotFound) {
				return err
			}
		}
		return fiber.ErrNotFound
	})
}

// routeTable answers which methods a path takes, from the app's routes.
type routeTable struct {
	app    *fiber.App
	once   sync.Once
	routes []fiber.Route
}

// refusal is the answer to a request no route took: 405 with an Allow
// header when routes exist for the path under other methods, else 404.
func (t *routeTable) refusal(c *fiber.Ctx) error {
	// Mounted sub-apps are merged at startup, so read the routes on first
	// use rather than when the table is made.
	t.once.Do(func() { t.routes = t.app.GetRoutes(true) })
	allowed := allowedMethods(t.routes, c.Path(), t.app.Config())
	if len(allowed) == 0 || slices.Contains(allowed, c.Method()) {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderAllow, strings.Join(allowed, ", "))
	return fiber.ErrMethodNotAllowed
}

// allowedMethods lists, in canonical order, the methods of the routes whose
// pattern matches path under the app's routing rules.
func allowedMethods(routes []fiber.Route, path string, cfg fiber.Config) []string {
	if !cfg.StrictRouting && len(path) > 1 {
		path = strings.TrimRight(path, "/")
		if path == "" {
			path = "/"
		}
	}
	seen := make(map[string]bool)
	for _, r := range routes {
		if seen[r.Method] {
			continue
		}
		if fiber.RoutePatternMatch(path, r.Path, cfg) {
			seen[r.Method] = true
		}
	}
	var out []string
	for _, m := range cfg.RequestMethods {
		if seen[m] {
			out = append(out, m)
		}
	}
	return out
}

// conflictingContentLength reports whether raw request headers carry more
// than one Content-Length with different values.
func conflictingContentLength(raw []byte) bool {
	var first []byte
	seen := false
	for _, line := range bytes.Split(raw, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			continue
		}
		value = bytes.TrimSpace(value)
		if seen && !bytes.Equal(value, first) {
			return true
		}
		first, seen = value, true
	}
	return false
}

// deadlineMiddleware bounds the work a request can cause: use cases get a
// context that ends when the response could no longer be written anyway,
// so a request stuck behind a lock or a slow dependency gives up (503)
// and frees its database connection.
func deadlineMiddleware(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}
