package http

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

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
