package http

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// newTestApp builds the app with an observed logger, lets register add test
// routes, and finishes it.
func newTestApp(t *testing.T, cfg Config, register func(app *fiber.App)) (*fiber.App, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	app := NewApp(cfg, zap.New(core))
	if register != nil {
		register(app)
	}
	Finish(app)
	return app, logs
}

// do runs req through app.Test and returns the response with its body read.
func do(t *testing.T, app *fiber.App, req *nethttp.Request) (*nethttp.Response, []byte) {
	t.Helper()
	res, err := app.Test(req, 5000)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, body
}

// listen serves app on a loopback port for the paths app.Test cannot
// observe (errors raised by fasthttp while reading the request).
func listen(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return "http://" + ln.Addr().String()
}

// decodeProblem checks the problem+json shape and returns the body as a map.
// doHeaders sends a bodiless request with the headers of kv (name, value,
// ...; an empty value is left out).
func doHeaders(t *testing.T, app *fiber.App, method, target string, kv ...string) (*nethttp.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			req.Header.Set(kv[i], kv[i+1])
		}
	}
	return do(t, app, req)
}

func decodeProblem(t *testing.T, res *nethttp.Response, body []byte, status int, code string) map[string]any {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != ContentTypeProblem {
		t.Fatalf("Content-Type = %q, want %q", ct, ContentTypeProblem)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	for _, k := range []string{"type", "title", "status", "detail", "code", "request_id"} {
		if _, ok := m[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, body)
		}
	}
	if m["code"] != code {
		t.Errorf("code = %v, want %q; body %s", m["code"], code, body)
	}
	if m["type"] != "urn:gatehouse:problem:"+code {
		t.Errorf("type = %v", m["type"])
	}
	if m["status"] != float64(status) {
		t.Errorf("status field = %v, want %d", m["status"], status)
	}
	if m["title"] != nethttp.StatusText(status) {
		t.Errorf("title = %v, want %q", m["title"], nethttp.StatusText(status))
	}
	if id := res.Header.Get(HeaderRequestID); id == "" || m["request_id"] != id {
		t.Errorf("request_id = %v, X-Request-ID = %q", m["request_id"], id)
	}
	return m
}

func TestNotFoundIsProblem(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Get("/known", func(c *fiber.Ctx) error { return c.SendString("ok") })
	})
	res, body := do(t, app, httptest.NewRequest("GET", "/nope/<script>", nil))
	m := decodeProblem(t, res, body, 404, "not_found")
	if strings.Contains(string(body), "script") {
		t.Errorf("404 echoes the path: %s", body)
	}
	if _, ok := m["errors"]; ok {
		t.Errorf("errors present without fields: %s", body)
	}
	if res.Header.Get("Allow") != "" {
		t.Errorf("404 has Allow %q", res.Header.Get("Allow"))
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	ok := func(c *fiber.Ctx) error { return c.SendString("ok") }
	app, _ := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Get("/v1/me", ok)
		app.Post("/v1/login", ok)
		app.Get("/v1/me/sessions", ok)
		app.Delete("/v1/me/sessions/:id", ok)
		v1 := app.Group("/v1/password")
		v1.Post("/forgot", ok)
	})
	tests := []struct {
		method, path, allow string
	}{
		{"POST", "/v1/me", "GET, HEAD"},
		{"DELETE", "/v1/me/", "GET, HEAD"},
		{"PUT", "/V1/ME", "GET, HEAD"},
		{"GET", "/v1/login", "POST"},
		{"HEAD", "/v1/login", "POST"},
		{"GET", "/v1/me/sessions/0f8e", "DELETE"},
		{"GET", "/v1/password/forgot", "POST"},
		{"OPTIONS", "/v1/login", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			res, body := do(t, app, httptest.NewRequest(tt.method, tt.path, nil))
			if tt.method == "HEAD" {
				if res.StatusCode != 405 {
					t.Fatalf("status %d", res.StatusCode)
				}
			} else {
				decodeProblem(t, res, body, 405, "method_not_allowed")
			}
			if got := res.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
	// The registered method still works, and HEAD is served where GET is.
	for _, m := range []string{"GET", "HEAD"} {
		res, _ := do(t, app, httptest.NewRequest(m, "/v1/me", nil))
		if res.StatusCode != 200 {
			t.Errorf("%s /v1/me = %d", m, res.StatusCode)
		}
	}
}

func TestUnknownMethodIsProblem(t *testing.T) {
	t.Parallel()
	app, logs := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Get("/x", func(c *fiber.Ctx) error { return c.SendString("ok") })
	})
	res, body := do(t, app, httptest.NewRequest("PROPFIND", "/x", nil))
	decodeProblem(t, res, body, 405, "method_not_allowed")
	if got := res.Header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q", got)
	}
	assertSecurityHeaders(t, res, false)
	if n := logs.FilterMessage("request").Len(); n != 1 {
		t.Errorf("access log lines = %d, want 1", n)
	}
}

func TestPanicIs500LoggedOnce(t *testing.T) {
	t.Parallel()
	app, logs := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Get("/boom", func(c *fiber.Ctx) error {
			c.Set("X-Partial", "1")
			_ = c.SendString("half-written secret-body")
			panic("secret-panic-value")
		})
	})
	res, body := doHeaders(t, app, "GET", "/boom", HeaderRequestID, "panic-req-1")
	m := decodeProblem(t, res, body, 500, "internal_error")
	if m["detail"] != detailInternal {
		t.Errorf("detail = %v", m["detail"])
	}
	if strings.Contains(string(body), "secret") {
		t.Errorf("500 leaks: %s", body)
	}
	assertSecurityHeaders(t, res, false)

	errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	if len(errs) != 1 {
		t.Fatalf("error log entries = %d, want 1: %+v", len(errs), errs)
	}
	ctx := errs[0].ContextMap()
	if ctx["request_id"] != "panic-req-1" || ctx["route"] != "/boom" {
		t.Errorf("panic log context = %v", ctx)
	}
	if st, _ := ctx["stack"].(string); !strings.Contains(st, "server_test.go") {
		t.Errorf("panic log has no useful stack: %q", st)
	}
	access := logs.FilterMessage("request").All()
	if len(access) != 1 || access[0].ContextMap()["status"] != int64(500) {
		t.Errorf("access log = %+v", access)
	}
}

// TestBodyLimit goes through a real listener: fasthttp refuses the body
// while reading the request, and app.Test reports that as an error instead
// of returning the response the client gets.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	var called atomic.Bool
	app, logs := newTestApp(t, Config{PublicURL: "https://auth.example.com"}, func(app *fiber.App) {
		app.Post("/v1/login", func(c *fiber.Ctx) error {
			called.Store(true)
			return c.SendStatus(204)
		})
	})
	base := listen(t, app)
	big := strings.Repeat("a", 9<<10)

	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			// The server answers and closes without reading the rest of the
			// body; on a loaded machine the client can see that close (a
			// reset) before it reads the answer. Such a try says nothing
			// about the answer, so it is made again, a few times at most.
			var res *nethttp.Response
			var err error
			for try := 0; try < 5; try++ {
				var r io.Reader = strings.NewReader(`{"email":"` + big + `"}`)
				if chunked {
					r = io.MultiReader(r) // hides the length: Transfer-Encoding: chunked
				}
				req, _ := nethttp.NewRequest("POST", base+"/v1/login", r)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(HeaderRequestID, "big-1")
				if res, err = nethttp.DefaultClient.Do(req); err == nil || !strings.Contains(err.Error(), "reset by peer") && !strings.Contains(err.Error(), "broken pipe") {
					break
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			m := decodeProblem(t, res, body, 413, "payload_too_large")
			// fasthttp resets the request (headers included) when a chunked
			// body overflows, so only a declared length keeps the client's id.
			if !chunked && m["request_id"] != "big-1" {
				t.Errorf("request_id = %v", m["request_id"])
			}
			assertSecurityHeaders(t, res, true)
		})
	}
	if called.Load() {
		t.Error("handler ran for an oversized body")
	}
	// A body at the limit is accepted.
	req, _ := nethttp.NewRequest("POST", base+"/v1/login", strings.NewReader(strings.Repeat(" ", DefaultBodyLimit)))
	res, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 || !called.Load() {
		t.Errorf("8192-byte body: status %d, called %v", res.StatusCode, called.Load())
	}
	var n413 int
	for _, e := range logs.FilterMessage("request").All() {
		if e.ContextMap()["status"] == int64(413) {
			n413++
		}
	}
	if n413 != 2 {
		t.Errorf("access log lines for 413 = %d, want 2", n413)
	}
}

func TestHeadersTooLarge(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Get("/x", func(c *fiber.Ctx) error { return c.SendString("ok") })
	})
	base := listen(t, app)

	req, _ := nethttp.NewRequest("GET", base+"/x", nil)
	req.Header.Set("X-Normal", strings.Repeat("n", 4000)) // normal-sized headers pass
	res, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("4 KB header: status %d", res.StatusCode)
	}

	req, _ = nethttp.NewRequest("GET", base+"/x", nil)
	req.Header.Set("X-Big", strings.Repeat("b", 10<<10))
	res, err = nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	decodeProblem(t, res, body, 431, "headers_too_large")
	assertSecurityHeaders(t, res, false)
}

func assertSecurityHeaders(t *testing.T, res *nethttp.Response, hsts bool) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q (status %d)", k, got, v, res.StatusCode)
		}
	}
	got := res.Header.Get("Strict-Transport-Security")
	switch {
	case hsts && got != "max-age=31536000; includeSubDomains":
		t.Errorf("HSTS = %q, want it (status %d)", got, res.StatusCode)
	case !hsts && got != "":
		t.Errorf("HSTS = %q on a non-https deployment", got)
	}
	if res.Header.Get(HeaderRequestID) == "" {
		t.Errorf("no X-Request-ID (status %d)", res.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		publicURL string
		hsts      bool
	}{
		{"https://auth.example.com", true},
		{"HTTPS://auth.example.com", true},
		{"http://localhost:8080", false},
		{"", false},
	} {
		app, _ := newTestApp(t, Config{PublicURL: tt.publicURL}, func(app *fiber.App) {
			app.Get("/ok", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
			app.Get("/fail", func(c *fiber.Ctx) error { return fmt.Errorf("boom") })
			app.Get("/page", func(c *fiber.Ctx) error {
				HostedPageHeaders(c)
				return c.Type("html").SendString("<p>hi</p>")
			})
			app.Post("/token", func(c *fiber.Ctx) error {
				NoStore(c)
				return c.JSON(fiber.Map{"access_token": "x"})
			})
		})
		for _, path := range []string{"/ok", "/missing", "/fail", "/page"} {
			res, _ := do(t, app, httptest.NewRequest("GET", path, nil))
			assertSecurityHeaders(t, res, tt.hsts)
		}
		res, _ := do(t, app, httptest.NewRequest("GET", "/ok", nil))
		if csp := res.Header.Get("Content-Security-Policy"); csp != apiCSP {
			t.Errorf("API CSP = %q", csp)
		}
		res, _ = do(t, app, httptest.NewRequest("GET", "/page", nil))
		if csp := res.Header.Get("Content-Security-Policy"); csp != hostedPageCSP || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("page CSP = %q", csp)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("page Cache-Control = %q", cc)
		}
		res, _ = do(t, app, httptest.NewRequest("POST", "/token", nil))
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Pragma") != "no-cache" {
			t.Errorf("token response cache headers: %v", res.Header)
		}
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	var seen atomic.Value
	app, _ := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Get("/id", func(c *fiber.Ctx) error {
			seen.Store(RequestID(c))
			return c.SendString("ok")
		})
	})
	tests := []struct {
		name, in string
		keep     bool
	}{
		{"absent", "", false},
		{"well-formed", "abc-123_DEF.4:5", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"200 chars", strings.Repeat("b", 200), false},
		{"space", "abc def", false},
		{"slash", "abc/def", false},
		{"quote", `abc"def`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := doHeaders(t, app, "GET", "/id", HeaderRequestID, tt.in)
			got := res.Header.Get(HeaderRequestID)
			if got != seen.Load().(string) {
				t.Errorf("header %q, handler saw %q", got, seen.Load())
			}
			if tt.keep && got != tt.in {
				t.Errorf("got %q, want the incoming %q", got, tt.in)
			}
			if !tt.keep && (got == tt.in || len(got) != 32 || !validRequestID(got)) {
				t.Errorf("got %q, want a generated id", got)
			}
		})
	}
	// Generated ids differ.
	r1, _ := do(t, app, httptest.NewRequest("GET", "/id", nil))
	r2, _ := do(t, app, httptest.NewRequest("GET", "/id", nil))
	if r1.Header.Get(HeaderRequestID) == r2.Header.Get(HeaderRequestID) {
		t.Error("two generated request ids are equal")
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	app, logs := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Get("/verify-email", func(c *fiber.Ctx) error { return c.SendString("page") })
		app.Get("/v1/me/sessions/:id", func(c *fiber.Ctx) error { return fmt.Errorf("db down: %w", errSentinel) })
	})
	doHeaders(t, app, "GET", "/verify-email?token=SECRET-TOKEN-123", "Authorization", "Bearer SECRET-BEARER-456", HeaderRequestID, "log-req-1")
	doHeaders(t, app, "GET", "/v1/me/sessions/abc?x=SECRET-Q", "Authorization", "Bearer SECRET-BEARER-789")
	do(t, app, httptest.NewRequest("GET", "/nowhere?token=SECRET-404", nil))

	lines := logs.FilterMessage("request").All()
	if len(lines) != 3 {
		t.Fatalf("access log lines = %d, want 3", len(lines))
	}
	first := lines[0].ContextMap()
	for k, v := range map[string]any{
		"method": "GET", "route": "/verify-email", "path": "/verify-email",
		"status": int64(200), "request_id": "log-req-1", "client_ip": "0.0.0.0", "bytes_out": int64(4),
	} {
		if first[k] != v {
			t.Errorf("access log %s = %v, want %v", k, first[k], v)
		}
	}
	if _, ok := first["latency"]; !ok {
		t.Error("access log has no latency")
	}
	second := lines[1].ContextMap()
	if second["route"] != "/v1/me/sessions/:id" || second["status"] != int64(500) {
		t.Errorf("second line = %v", second)
	}
	third := lines[2].ContextMap()
	if third["route"] != "" || third["status"] != int64(404) {
		t.Errorf("404 line = %v", third)
	}
	// One error line for the 500, none for the 404.
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
		t.Errorf("error lines = %d, want 1", n)
	}
	for _, e := range logs.All() {
		s := fmt.Sprintf("%s %v", e.Message, e.ContextMap())
		if strings.Contains(s, "SECRET") {
			t.Errorf("log line leaks a secret: %s", s)
		}
	}
}

var errSentinel = fmt.Errorf("sentinel")

func TestCORSClosedByDefault(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Post("/v1/login", func(c *fiber.Ctx) error { return c.SendStatus(204) })
	})
	res, _ := doHeaders(t, app, "POST", "/v1/login", "Origin", "https://evil.example")
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("CORS header %s sent while CORS is closed", k)
		}
	}
	// A preflight is not answered: it reaches routing (405, no CORS headers).
	res, _ = doHeaders(t, app, "OPTIONS", "/v1/login", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if res.StatusCode != 405 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight with CORS closed: %d %v", res.StatusCode, res.Header)
	}
}

func TestCORSAllowlist(t *testing.T) {
	t.Parallel()
	var called atomic.Int32
	app, _ := newTestApp(t, Config{CORSOrigins: []string{"https://App.example.com/", "http://localhost:3000", "*", "null"}}, func(app *fiber.App) {
		app.Post("/v1/login", func(c *fiber.Ctx) error {
			called.Add(1)
			return c.SendStatus(204)
		})
	})
	preflight := func(origin string) *nethttp.Response {
		res, _ := doHeaders(t, app, "OPTIONS", "/v1/login", "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
		return res
	}

	res := preflight("https://app.example.com")
	if res.StatusCode != 204 {
		t.Errorf("preflight status %d", res.StatusCode)
	}
	for k, v := range map[string]string{
		"Access-Control-Allow-Origin":  "https://app.example.com",
		"Access-Control-Allow-Methods": "GET, POST, DELETE",
		"Access-Control-Allow-Headers": "Content-Type, Authorization, X-Request-ID",
		"Access-Control-Max-Age":       "600",
	} {
		if got := res.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	if res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed")
	}
	if !strings.Contains(res.Header.Get("Vary"), "Origin") {
		t.Errorf("Vary = %q", res.Header.Get("Vary"))
	}
	assertSecurityHeaders(t, res, false)

	for _, bad := range []string{"https://evil.example", "null", "https://app.example.com.evil.example", "http://app.example.com", "*"} {
		res := preflight(bad)
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "" || res.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("preflight from %q: %d %v", bad, res.StatusCode, res.Header)
		}
	}
	if called.Load() != 0 {
		t.Error("preflight reached the handler")
	}

	for origin, allowed := range map[string]bool{
		"https://app.example.com": true, "http://localhost:3000": true, "https://evil.example": false, "": false,
	} {
		res, _ := doHeaders(t, app, "POST", "/v1/login", "Origin", origin)
		got := res.Header.Get("Access-Control-Allow-Origin")
		if allowed && got != origin || !allowed && got != "" {
			t.Errorf("origin %q: Access-Control-Allow-Origin = %q", origin, got)
		}
		if !strings.Contains(res.Header.Get("Vary"), "Origin") {
			t.Errorf("origin %q: Vary = %q", origin, res.Header.Get("Vary"))
		}
	}
	// Errors carry CORS headers too, so that browsers can read them.
	res, _ = doHeaders(t, app, "POST", "/missing", "Origin", "https://app.example.com")
	if res.StatusCode != 404 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("404 CORS: %d %v", res.StatusCode, res.Header)
	}
}

func TestNewAppDefaults(t *testing.T) {
	t.Parallel()
	app := NewApp(Config{}, nil)
	cfg := app.Config()
	if cfg.BodyLimit != 8192 || cfg.ReadTimeout != 10*time.Second || cfg.WriteTimeout != 10*time.Second ||
		cfg.IdleTimeout != 60*time.Second || cfg.ReadBufferSize < 8192 || cfg.StrictRouting || cfg.Immutable {
		t.Errorf("config = %+v", cfg)
	}
}

func TestConflictingContentLength(t *testing.T) {
	for raw, want := range map[string]bool{
		"Host: x\r\nContent-Length: 3\r\n":                         false,
		"Host: x\r\nContent-Length: 3\r\ncontent-length: 3\r\n":    false,
		"Host: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n":   true,
		"Host: x\r\nCONTENT-LENGTH: 3\r\ncontent-length:  4 \r\n":  true,
		"Host: x\r\nX-Content-Length: 3\r\nContent-Length: 30\r\n": false,
	} {
		if got := conflictingContentLength([]byte(raw)); got != want {
			t.Errorf("%q: %v, want %v", raw, got, want)
		}
	}
}

func TestRequestsGetADeadline(t *testing.T) {
	app, _ := newTestApp(t, Config{WriteTimeout: 100 * time.Millisecond}, func(app *fiber.App) {
		app.Get("/slow", func(c *fiber.Ctx) error {
			<-c.UserContext().Done() // a use case waiting on a lock
			return c.UserContext().Err()
		})
	})
	res, body := do(t, app, httptest.NewRequest(fiber.MethodGet, "/slow", nil))
	if res.StatusCode != fiber.StatusServiceUnavailable || !strings.Contains(string(body), `"code":"unavailable"`) {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
}

// rawRequest sends one request written by hand (methods no client library
// sends) to addr and reads the response.
func rawRequest(t *testing.T, addr, method, target, host string) (*nethttp.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, host); err != nil {
		t.Fatal(err)
	}
	res, err := nethttp.ReadResponse(bufio.NewReader(conn), &nethttp.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("%.20s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// serveOn runs app on a loopback port and returns host:port.
func serveOn(t *testing.T, app *fiber.App) string {
	t.Helper()
	return strings.TrimPrefix(listen(t, app), "http://")
}

// assertNoErrorLogs fails on any log entry at warn or above.
func assertNoErrorLogs(t *testing.T, logs *observer.ObservedLogs) {
	t.Helper()
	for _, e := range logs.All() {
		if e.Level >= zapcore.WarnLevel {
			t.Errorf("%s log %q %v", e.Level, e.Message, e.ContextMap())
		}
		if e.Stack != "" {
			t.Errorf("log %q carries a stack", e.Message)
		}
	}
}

// Any token is a method to HTTP: a method the server does not know is a
// 405 (with Allow) on a path that has routes and a 404 elsewhere, as
// problem+json, logged once at info: no request a client can send makes
// an error-level line or a 5xx. On both apps, through a real listener.
func TestUnknownMethodsAre405Or404(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	for _, a := range []struct {
		name    string
		build   func(log *zap.Logger) *fiber.App
		known   string // a path with a GET route
		allow   string
		unknown string
	}{
		{"public", func(log *zap.Logger) *fiber.App {
			return NewServer(Config{}, log, UseCases{Ready: ok})
		}, "/healthz", "GET, HEAD", "/no/such/path"},
		{"admin", func(log *zap.Logger) *fiber.App {
			return NewAdminServer(Config{}, log, AdminUseCases{Ready: ok})
		}, "/readyz", "GET, HEAD", "/no/such/path"},
	} {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.DebugLevel)
			addr := serveOn(t, a.build(zap.New(core)))
			methods := []string{"X1", "PROPFIND", "get", "BREW", strings.Repeat("M", 4000)}
			for _, m := range methods {
				res, body := rawRequest(t, addr, m, a.known, "localhost")
				if res.StatusCode != 405 || res.Header.Get("Allow") != a.allow || res.Header.Get("Content-Type") != ContentTypeProblem || !strings.Contains(body, `"method_not_allowed"`) {
					t.Errorf("%.20s %s: %d Allow %q %s", m, a.known, res.StatusCode, res.Header.Get("Allow"), body)
				}
				res, body = rawRequest(t, addr, m, a.unknown, "localhost")
				if res.StatusCode != 404 || res.Header.Get("Content-Type") != ContentTypeProblem || !strings.Contains(body, `"not_found"`) {
					t.Errorf("%.20s %s: %d %s", m, a.unknown, res.StatusCode, body)
				}
			}
			assertNoErrorLogs(t, logs)
			access := logs.FilterMessage("request").All()
			if len(access) != 2*len(methods) {
				t.Errorf("%d access log lines, want %d", len(access), 2*len(methods))
			}
			for _, e := range access {
				if e.Level != zapcore.InfoLevel {
					t.Errorf("access line at %s", e.Level)
				}
				if m, _ := e.ContextMap()["method"].(string); len(m) > 16 {
					t.Errorf("logged method %d bytes long", len(m))
				}
			}
		})
	}
}

// A client that sends half a body and resets the connection makes
// fasthttp fail while reading the request: that is the client's doing,
// not a 5xx, and it is logged at info.
func TestBrokenConnectionIsNoError(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	app := NewApp(Config{}, zap.New(core))
	app.Post("/v1/login", func(c *fiber.Ctx) error { return c.SendStatus(204) })
	Finish(app)
	addr := serveOn(t, app)
	for range 3 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /v1/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"email\":")
		time.Sleep(50 * time.Millisecond)
		_ = conn.(*net.TCPConn).SetLinger(0) // close with a reset
		_ = conn.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterMessage("request").Len() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assertNoErrorLogs(t, logs)
	for _, e := range logs.FilterMessage("request").All() {
		if s, _ := e.ContextMap()["status"].(int64); s >= 500 {
			t.Errorf("a broken connection was answered %d", s)
		}
	}
}
