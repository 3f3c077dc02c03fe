package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-auth/gatehouse/domain"
)

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	internalDomain := &domain.Error{Kind: domain.KindInternal, Code: "oops", Message: "secret internal detail"}
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		detail     string // "" = don't check
		retryAfter string
		wwwAuth    string
		logLevel   zapcore.Level // -2 = no log
		fields     []ProblemField
	}{
		{"bad request", domain.ErrInvalidRequest, 400, "invalid_request", domain.ErrInvalidRequest.Message, "", "", -2, nil},
		{"invalid token", domain.ErrInvalidToken, 400, "invalid_token", domain.ErrInvalidToken.Message, "", "", -2, nil},
		{"validation", domain.Validation(
			domain.FieldError{Field: "email", Code: "invalid_email", Message: "Must be a valid email address."},
			domain.FieldError{Field: "password", Code: "too_short", Message: "Too short."},
		), 422, "validation_failed", "The request has invalid fields.", "", "", -2, []ProblemField{
			{"email", "invalid_email", "Must be a valid email address."},
			{"password", "too_short", "Too short."},
		}},
		{"invalid credentials", domain.ErrInvalidCredentials, 401, "invalid_credentials", "", "", "", -2, nil},
		{"unauthorized", domain.ErrUnauthorized, 401, "unauthorized", "", "", "Bearer", -2, nil},
		{"refresh invalid", domain.ErrRefreshInvalid, 401, "invalid_token", "", "", "", -2, nil},
		{"forbidden", domain.ErrWrongPassword, 403, "invalid_credentials", "The current password is incorrect.", "", "", -2, nil},
		{"not found", domain.ErrNotFound, 404, "not_found", "", "", "", -2, nil},
		{"conflict wrapped", fmt.Errorf("create user: %w", domain.ErrConflict), 409, "conflict", "", "", "", -2, nil},
		{"rate limited", domain.RateLimited(1500 * time.Millisecond), 429, "rate_limited", "", "2", "", -2, nil},
		{"rate limited sub-second", domain.RateLimited(time.Millisecond), 429, "rate_limited", "", "1", "", -2, nil},
		{"rate limited no retry", domain.ErrRateLimited, 429, "rate_limited", "", "", "", -2, nil},
		{"unavailable", domain.Unavailable(errors.New("dial tcp 10.0.0.5:5432: connection refused")), 503, "unavailable", domain.ErrUnavailable.Message, "", "", zapcore.WarnLevel, nil},
		{"overloaded", domain.ErrOverloaded, 503, "overloaded", "", "1", "", zapcore.WarnLevel, nil},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, "unavailable", "", "", "", zapcore.WarnLevel, nil},
		{"internal domain", internalDomain, 500, "internal_error", detailInternal, "", "", zapcore.ErrorLevel, nil},
		{"plain error", errors.New("pq: password=hunter2 rejected"), 500, "internal_error", detailInternal, "", "", zapcore.ErrorLevel, nil},
		{"fiber 415", fiber.ErrUnsupportedMediaType, 415, "unsupported_media_type", "", "", "", -2, nil},
		{"fiber 400 with message", fiber.NewError(400, "error when parsing request: GET /secret"), 400, "invalid_request", domain.ErrInvalidRequest.Message, "", "", -2, nil},
		{"fiber 408", fiber.ErrRequestTimeout, 408, "request_timeout", "", "", "", -2, nil},
		{"fiber teapot", fiber.ErrTeapot, 418, "im_a_teapot", "", "", "", -2, nil},
		{"fiber 502", fiber.ErrBadGateway, 502, "bad_gateway", "", "", "", zapcore.ErrorLevel, nil},
		{"fiber bogus status", fiber.NewError(42, "x"), 500, "internal_error", "", "", "", zapcore.ErrorLevel, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, logs := newTestApp(t, Config{}, func(app *fiber.App) {
				app.Get("/err/:i", func(c *fiber.Ctx) error { return tt.err })
			})
			req := httptest.NewRequest("GET", "/err/"+strconv.Itoa(i), nil)
			req.Header.Set(HeaderRequestID, "req-"+strconv.Itoa(i))
			res, body := do(t, app, req)
			m := decodeProblem(t, res, body, tt.status, tt.code)
			if m["request_id"] != "req-"+strconv.Itoa(i) {
				t.Errorf("request_id = %v", m["request_id"])
			}
			if tt.detail != "" && m["detail"] != tt.detail {
				t.Errorf("detail = %v, want %q", m["detail"], tt.detail)
			}
			if d, _ := m["detail"].(string); d == "" {
				t.Error("empty detail")
			}
			for _, leak := range []string{"hunter2", "10.0.0.5", "secret", "/secret"} {
				if strings.Contains(string(body), leak) {
					t.Errorf("body leaks %q: %s", leak, body)
				}
			}
			if got := res.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tt.wwwAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wwwAuth)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}

			var shaped struct {
				Errors []ProblemField `json:"errors"`
			}
			if err := json.Unmarshal(body, &shaped); err != nil {
				t.Fatal(err)
			}
			if _, present := m["errors"]; present != (len(tt.fields) > 0) {
				t.Errorf("errors present = %v: %s", present, body)
			}
			if fmt.Sprint(shaped.Errors) != fmt.Sprint(tt.fields) {
				t.Errorf("errors = %+v, want %+v", shaped.Errors, tt.fields)
			}

			// Logged once at the right level, with request id and route; never
			// for client errors.
			nonAccess := logs.Filter(func(e observer.LoggedEntry) bool { return e.Message != "request" }).All()
			if tt.logLevel == -2 {
				if len(nonAccess) != 0 {
					t.Errorf("client error logged: %+v", nonAccess)
				}
				return
			}
			if len(nonAccess) != 1 || nonAccess[0].Level != tt.logLevel {
				t.Fatalf("log entries = %+v, want one at %v", nonAccess, tt.logLevel)
			}
			ctx := nonAccess[0].ContextMap()
			if ctx["request_id"] != "req-"+strconv.Itoa(i) || ctx["route"] != "/err/:i" || ctx["method"] != "GET" {
				t.Errorf("log context = %v", ctx)
			}
			if _, ok := ctx["error"]; !ok {
				t.Errorf("log has no error: %v", ctx)
			}
		})
	}
}

func TestProblemFor(t *testing.T) {
	t.Parallel()
	status, p := ProblemFor(domain.RateLimited(90 * time.Second))
	if status != 429 || p.Code != "rate_limited" || p.RetryAfter != 90 || p.RequestID != "" || p.Title != "Too Many Requests" {
		t.Errorf("ProblemFor = %d %+v", status, p)
	}
	status, p = ProblemFor(errors.New("x"))
	if status != 500 || p.Code != "internal_error" || p.Detail != detailInternal {
		t.Errorf("ProblemFor = %d %+v", status, p)
	}
	status, p = ProblemFor(nil)
	if status != 500 || p.Code != "internal_error" {
		t.Errorf("ProblemFor(nil) = %d %+v", status, p)
	}
	// RetryAfter is a header, not a body field.
	b, _ := json.Marshal(p)
	if strings.Contains(string(b), "etry") {
		t.Errorf("RetryAfter in body: %s", b)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{
		0: 0, -time.Second: 0, time.Nanosecond: 1, time.Second: 1, 1001 * time.Millisecond: 2,
		59 * time.Second: 59, time.Hour: 3600,
	} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestSnakeCase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"I'm a teapot":               "im_a_teapot",
		"Bad Gateway":                "bad_gateway",
		"HTTP Version Not Supported": "http_version_not_supported",
		"Non-Authoritative Info":     "non_authoritative_info",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
