package http

import (
	"encoding/json"
	"errors"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gofiber/fiber/v2"
)

type testProfile struct {
	Name string `json:"name" validate:"max=5"`
}

type testRequest struct {
	Email    string       `json:"email" validate:"required,max=320,email"`
	Password string       `json:"password" validate:"required,min=8,max=128"`
	Profile  *testProfile `json:"profile"`
	Tags     []string     `json:"tags" validate:"max=2"`
	Age      int          `json:"age" validate:"max=150"`
}

// newDecodeApp serves POST /json (DecodeJSON into testRequest) and POST /form
// (DecodeForm of token and password). ok counts successful decodes.
func newDecodeApp(t *testing.T) (*fiber.App, *atomic.Int32) {
	t.Helper()
	var ok atomic.Int32
	app, _ := newTestApp(t, Config{}, func(app *fiber.App) {
		app.Post("/json", func(c *fiber.Ctx) error {
			var req testRequest
			if err := DecodeJSON(c, &req); err != nil {
				return err
			}
			ok.Add(1)
			return c.JSON(req)
		})
		app.Post("/form", func(c *fiber.Ctx) error {
			vals, err := DecodeForm(c, "token", "password")
			if err != nil {
				return err
			}
			ok.Add(1)
			return c.JSON(vals)
		})
		app.Post("/bad-dst", func(c *fiber.Ctx) error {
			var req testRequest
			return DecodeJSON(c, req) // not a pointer: a programming error
		})
	})
	return app, &ok
}

func post(t *testing.T, app *fiber.App, path, contentType, body string) (*nethttp.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, app, req)
}

func TestDecodeJSONAccepts(t *testing.T) {
	t.Parallel()
	app, ok := newDecodeApp(t)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"} {
		res, body := post(t, app, "/json", ct, ` {"email":"a@example.com","password":"correct horse","profile":{"name":"Ann"},"tags":["x"],"age":3} `+"\n")
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", ct, res.StatusCode, body)
		}
		var got testRequest
		if err := json.Unmarshal(body, &got); err != nil || got.Email != "a@example.com" || got.Profile.Name != "Ann" {
			t.Errorf("decoded %+v (%v)", got, err)
		}
	}
	// Non-ASCII letters and escaped non-control characters are fine.
	res, body := post(t, app, "/json", "application/json", `{"email":"zoë@example.com","password":"p\u00e4ssw\u00f6rd-long"}`)
	if res.StatusCode != 200 {
		t.Errorf("unicode: %d %s", res.StatusCode, body)
	}
	if ok.Load() != 4 {
		t.Errorf("ok = %d", ok.Load())
	}
}

func TestDecodeJSONRejects(t *testing.T) {
	t.Parallel()
	app, ok := newDecodeApp(t)
	const valid = `"email":"a@example.com","password":"correct horse"`
	tests := []struct {
		name, ct, body string
		status         int
		code           string
	}{
		{"no content type", "", `{` + valid + `}`, 415, "unsupported_media_type"},
		{"text/plain", "text/plain", `{` + valid + `}`, 415, "unsupported_media_type"},
		{"form", "application/x-www-form-urlencoded", `email=a`, 415, "unsupported_media_type"},
		{"json suffix", "application/problem+json", `{` + valid + `}`, 415, "unsupported_media_type"},
		{"latin1", "application/json; charset=iso-8859-1", `{` + valid + `}`, 415, "unsupported_media_type"},
		{"malformed content type", "application/json; =", `{` + valid + `}`, 415, "unsupported_media_type"},
		{"empty", "application/json", ``, 400, "invalid_request"},
		{"whitespace", "application/json", "  \n", 400, "invalid_request"},
		{"malformed", "application/json", `{"email":`, 400, "invalid_request"},
		{"not json", "application/json", `email=a`, 400, "invalid_request"},
		{"array", "application/json", `[{` + valid + `}]`, 400, "invalid_request"},
		{"string", "application/json", `"x"`, 400, "invalid_request"},
		{"null", "application/json", `null`, 400, "invalid_request"},
		{"duplicate top-level", "application/json", `{` + valid + `,"email":"b@example.com"}`, 400, "invalid_request"},
		{"duplicate differing case", "application/json", `{` + valid + `,"EMAIL":"b@example.com"}`, 400, "invalid_request"},
		{"duplicate via escape", "application/json", `{"profile":{"name":"a","nam\u0065":"b"},` + valid + `}`, 400, "invalid_request"},
		{"duplicate via long s fold", "application/json", `{` + valid + `,"pa\u017fsword":"other password"}`, 400, "invalid_request"},
		{"duplicate nested", "application/json", `{` + valid + `,"profile":{"name":"a","name":"b"}}`, 400, "invalid_request"},
		{"duplicate in array of objects", "application/json", `{` + valid + `,"tags":[],"x":[{"a":1,"a":2}]}`, 400, "invalid_request"},
		{"unknown field", "application/json", `{` + valid + `,"admin":true}`, 400, "invalid_request"},
		{"unknown nested field", "application/json", `{` + valid + `,"profile":{"role":"admin"}}`, 400, "invalid_request"},
		{"array where string", "application/json", `{"email":["a@example.com"],"password":"correct horse"}`, 400, "invalid_request"},
		{"object where string", "application/json", `{"email":{},"password":"correct horse"}`, 400, "invalid_request"},
		{"number where string", "application/json", `{"email":1,"password":"correct horse"}`, 400, "invalid_request"},
		{"string where int", "application/json", `{` + valid + `,"age":"3"}`, 400, "invalid_request"},
		{"int overflow", "application/json", `{` + valid + `,"age":1e400}`, 400, "invalid_request"},
		{"trailing garbage", "application/json", `{` + valid + `}x`, 400, "invalid_request"},
		{"trailing object", "application/json", `{` + valid + `}{}`, 400, "invalid_request"},
		{"invalid utf-8", "application/json", "{\"email\":\"a\xff@example.com\",\"password\":\"correct horse\"}", 400, "invalid_request"},
		{"invalid utf-8 in key", "application/json", "{\"e\xc3\":1," + valid + "}", 400, "invalid_request"},
		{"escaped NUL", "application/json", `{"email":"a\u0000@example.com","password":"correct horse"}`, 400, "invalid_request"},
		{"CR LF", "application/json", `{"email":"a@example.com\r\nBcc: x@evil.example","password":"correct horse"}`, 400, "invalid_request"},
		{"tab", "application/json", `{"email":"a@example.com","password":"correct\thorse"}`, 400, "invalid_request"},
		{"DEL", "application/json", `{"email":"a@example.com","password":"correct` + "\x7f" + `horse"}`, 400, "invalid_request"},
		{"C1 control", "application/json", `{"email":"a@example.com","password":"correct\u0085horse"}`, 400, "invalid_request"},
		{"control in nested array", "application/json", `{` + valid + `,"tags":["a\u001b"]}`, 400, "invalid_request"},
		{"control in key", "application/json", `{"e\u0000mail":"a@example.com","password":"correct horse"}`, 400, "invalid_request"},
		{"too deep", "application/json", `{` + valid + `,"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, 400, "invalid_request"},
		{"missing required", "application/json", `{"email":"a@example.com"}`, 422, "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := post(t, app, "/json", tt.ct, tt.body)
			m := decodeProblem(t, res, body, tt.status, tt.code)
			detail, _ := m["detail"].(string)
			for _, leak := range []string{"Bcc", "evil", "a@example.com", "horse"} {
				if strings.Contains(detail, leak) {
					t.Errorf("detail echoes input: %q", detail)
				}
			}
		})
	}
	if ok.Load() != 0 {
		t.Errorf("%d bad bodies were accepted", ok.Load())
	}

	// A content-encoded body is refused, not decompressed.
	req := httptest.NewRequest("POST", "/json", strings.NewReader("\x1f\x8b..."))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	res, body := do(t, app, req)
	decodeProblem(t, res, body, 415, "unsupported_media_type")

	// Passing a non-pointer is a bug: 500.
	res, body = post(t, app, "/bad-dst", "application/json", `{`+valid+`}`)
	decodeProblem(t, res, body, 500, "internal_error")
}

func TestDecodeJSONMessages(t *testing.T) {
	t.Parallel()
	app, _ := newDecodeApp(t)
	for body, want := range map[string]string{
		`{"email":"a@example.com","password":"correct horse","admin":true}`:              `unknown field "admin"`,
		`{"email":["x"],"password":"correct horse"}`:                                     `"email" must be a string`,
		`{"email":"a@example.com","email":"b@example.com"}`:                              `key "email" more than once`,
		`{"email":"a@example.com","password":"a\u0000"}`:                                 `"password" contains a control character`,
		`{"email":"a@example.com","password":"correct horse","\u00ff\u00ff":1}`:          `unknown field (unnamed)`,
		`{"email":"a@example.com","password":"correct horse"} trailing-secret-value`:     `data after the JSON object`,
		`{"email":"a@example.com","password":"correct horse","profile":{"name":"a\rb"}}`: `"name" contains a control character`,
	} {
		res, b := post(t, app, "/json", "application/json", body)
		m := decodeProblem(t, res, b, 400, "invalid_request")
		if d, _ := m["detail"].(string); !strings.Contains(d, want) || strings.Contains(d, "secret") {
			t.Errorf("body %s: detail %q, want it to contain %q", body, d, want)
		}
	}
}

func TestDecodeJSONValidation(t *testing.T) {
	t.Parallel()
	app, _ := newDecodeApp(t)
	res, body := post(t, app, "/json", "application/json",
		`{"email":"not-an-email","password":"short","profile":{"name":"toolongname"},"tags":["a","b","c"],"age":200}`)
	decodeProblem(t, res, body, 422, "validation_failed")
	var p struct {
		Errors []ProblemField `json:"errors"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"email":        "invalid_email",
		"password":     "min_length",
		"profile.name": "max_length",
		"tags":         "max_length",
		"age":          "max_value",
	}
	got := map[string]string{}
	for _, f := range p.Errors {
		got[f.Field] = f.Code
		if f.Message == "" || strings.Contains(f.Message, "not-an-email") || strings.Contains(f.Message, "toolongname") {
			t.Errorf("field %s message %q", f.Field, f.Message)
		}
	}
	if len(got) != len(want) {
		t.Errorf("errors = %+v, want %v", p.Errors, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s: code %q, want %q", k, got[k], v)
		}
	}

	res, body = post(t, app, "/json", "application/json", `{"email":"","password":""}`)
	decodeProblem(t, res, body, 422, "validation_failed")
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 2 || p.Errors[0].Code != "required" || p.Errors[1].Code != "required" {
		t.Errorf("errors = %+v", p.Errors)
	}

	long := strings.Repeat("a", 321-len("@example.com")) + "@example.com"
	res, body = post(t, app, "/json", "application/json", `{"email":"`+long+`","password":"correct horse"}`)
	decodeProblem(t, res, body, 422, "validation_failed")
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range p.Errors {
		if f.Field == "email" && f.Code == "max_length" && f.Message == "Must be at most 320 characters." {
			found = true
		}
	}
	if !found {
		t.Errorf("errors = %+v, want email max_length", p.Errors)
	}
}

func TestDecodeForm(t *testing.T) {
	t.Parallel()
	app, _ := newDecodeApp(t)
	const ct = "application/x-www-form-urlencoded"

	res, body := post(t, app, "/form", ct+"; charset=UTF-8", "token=abc_-123&password=correct+horse%21&other=%00ignored")
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["token"] != "abc_-123" || got["password"] != "correct horse!" {
		t.Errorf("form = %v", got)
	}

	res, body = post(t, app, "/form", ct, "token=abc")
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if err := json.Unmarshal(body, &got); err != nil || got["password"] != "" || got["token"] != "abc" {
		t.Errorf("form = %v (%v)", got, err)
	}

	for name, tt := range map[string]struct {
		ct, body string
		status   int
	}{
		"json":          {"application/json", `{"token":"x"}`, 415},
		"multipart":     {"multipart/form-data; boundary=x", "--x--", 415},
		"none":          {"", "token=x", 415},
		"CRLF":          {ct, "token=a%0D%0Ab", 400},
		"NUL":           {ct, "password=a%00b", 400},
		"C1":            {ct, "password=a%C2%85b", 400},
		"invalid utf-8": {ct, "password=a%FFb", 400},
		"too long":      {ct, "password=" + strings.Repeat("a", MaxFormValue+1), 400},
		"duplicate":     {ct, "token=a&token=b", 400},
		"bad escape":    {ct, "token=%zz", 400},
		"semicolon":     {ct, "token=a;password=b", 400},
	} {
		res, body := post(t, app, "/form", tt.ct, tt.body)
		code := map[int]string{400: "invalid_request", 415: "unsupported_media_type"}[tt.status]
		t.Run(name, func(t *testing.T) { decodeProblem(t, res, body, tt.status, code) })
	}
	// A value of exactly MaxFormValue bytes is fine.
	res, _ = post(t, app, "/form", ct, "password="+strings.Repeat("a", MaxFormValue))
	if res.StatusCode != 200 {
		t.Errorf("max-length value: %d", res.StatusCode)
	}
}

func TestFoldKey(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{{"email", "EMAIL"}, {"eMail", "Email"}, {"k", "\u212a"}, {"s", "\u017f"}}
	for _, p := range pairs {
		if foldKey(p[0]) != foldKey(p[1]) || !strings.EqualFold(p[0], p[1]) {
			t.Errorf("%q and %q should fold together", p[0], p[1])
		}
	}
	if foldKey("email") == foldKey("emails") {
		t.Error("distinct keys fold together")
	}
}

func TestDecodeJSONRefusesLoneSurrogates(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		status, _ := ProblemFor(err)
		return c.SendStatus(status)
	}})
	app.Post("/", func(c *fiber.Ctx) error {
		var v struct {
			Email string `json:"email"`
		}
		if err := DecodeJSON(c, &v); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	for body, want := range map[string]int{
		`{"email":"\ud800@b.co"}`:       fiber.StatusBadRequest,
		`{"email":"a\udc00@b.co"}`:      fiber.StatusBadRequest,
		`{"email":"\ufffd@b.co"}`:       fiber.StatusBadRequest,
		`{"email":"\ud83d\ude00@b.co"}`: fiber.StatusNoContent, // a valid pair
	} {
		req := httptest.NewRequest(fiber.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", body, resp.StatusCode, want)
		}
	}
}

// A refusal with its own message still is domain.ErrInvalidRequest to
// errors.Is, as every copy of a sentinel is.
func TestInvalidRequestMatchesItsSentinel(t *testing.T) {
	t.Parallel()
	err := invalidRequest("The request body is empty; a JSON object is required.")
	if !errors.Is(err, domain.ErrInvalidRequest) || err.Message == domain.ErrInvalidRequest.Message {
		t.Fatalf("invalidRequest = %+v: does not match domain.ErrInvalidRequest, or lost its message", err)
	}
}
