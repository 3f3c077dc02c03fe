package http

import (
	"bytes"
	"encoding/json"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
)

// fuzzApp serves POST /json, which decodes into credentialsRequest (the
// request type of register and login) and echoes it, and POST /form, which
// decodes the reset page's form.
func fuzzApp() *fiber.App {
	app := NewApp(Config{}, zap.NewNop())
	app.Post("/json", func(c *fiber.Ctx) error {
		var req credentialsRequest
		if err := DecodeJSON(c, &req); err != nil {
			return err
		}
		return c.JSON(req)
	})
	app.Post("/form", func(c *fiber.Ctx) error {
		vals, err := DecodeForm(c, "token", "password")
		if err != nil {
			return err
		}
		return c.JSON(vals)
	})
	Finish(app)
	return app
}

// fuzzCodes are the only codes a decoding failure may carry.
var fuzzCodes = map[string]bool{"invalid_request": true, "validation_failed": true, "unsupported_media_type": true}

// checkFuzzResponse runs a request and checks the invariants of every
// answer: no error from the app, no 5xx, every refusal a problem+json with
// a decoding code. It returns the status and body.
func checkFuzzResponse(t *testing.T, app *fiber.App, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("app.Test: %v", err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode >= 500 {
		t.Fatalf("status %d for %q: %s", res.StatusCode, body, out)
	}
	if res.StatusCode >= 400 {
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, ContentTypeProblem) {
			t.Fatalf("status %d with Content-Type %q", res.StatusCode, ct)
		}
		var p Problem
		if err := json.Unmarshal(out, &p); err != nil || !fuzzCodes[p.Code] || p.Status != res.StatusCode {
			t.Fatalf("status %d with problem %s (%v)", res.StatusCode, out, err)
		}
	}
	return res.StatusCode, out
}

// hasControlOrInvalid reports whether s is invalid UTF-8 or holds a control
// character, which DecodeJSON and DecodeForm never let through.
func hasControlOrInvalid(s string) bool { return !utf8.ValidString(s) || hasControl(s) }

// FuzzDecodeJSON: DecodeJSON never panics and never answers 5xx; whatever
// it accepts is one valid JSON object whose strings are valid UTF-8 without
// control characters and within the struct's length bounds.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"email":"a@example.com","password":"correct horse battery staple"}`},
		{"application/json; charset=utf-8", ` {"email":"zoë@example.com","password":"p\u00e4ss"} ` + "\n"},
		{"application/json", `{"email":"a@example.com","email":"b@example.com","password":"x"}`},
		{"application/json", `{"email":"a@example.com","EMAIL":"b@example.com","password":"x"}`},
		{"application/json", `{"email":"a@example.com","Email":"b","password":"x"}`},
		{"application/json", `{"email":"a@example.com","password":"x","admin":true}`},
		{"application/json", `{"email":["a@example.com"],"password":"x"}`},
		{"application/json", `{"email":1,"password":{"x":1}}`},
		{"application/json", `{"email":null,"password":null}`},
		{"application/json", `{"email":"a\u0000b@example.com","password":"x"}`},
		{"application/json", `{"email":"a@example.com\r\nBcc: x@example.com","password":"x"}`},
		{"application/json", `{"email":"a\u0085@example.com","password":"x"}`},
		{"application/json", `{"email":"\ud800","password":"x"}`},
		{"application/json", "{\"email\":\"\xff\xfe\",\"password\":\"x\"}"},
		{"application/json", "\xef\xbb\xbf{\"email\":\"a@example.com\",\"password\":\"x\"}"},
		{"application/json", `{"email":"a@example.com","password":"x"}{}`},
		{"application/json", `{"email":"a@example.com","password":"x"} x`},
		{"application/json", `{"email":"a@example.com","password":"x"`},
		{"application/json", `{"email"`},
		{"application/json", `[]`},
		{"application/json", `null`},
		{"application/json", `"x"`},
		{"application/json", ``},
		{"application/json", `{}`},
		{"application/json", `{"x":{"y":{"z":[[[[{"a":1}]]]]}}}`},
		{"application/json", strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40)},
		{"application/json", strings.Repeat(`[`, 100)},
		{"application/json", `{"email":"` + strings.Repeat("a", 400) + `@example.com","password":"x"}`},
		{"application/json", `{"email":"a@example.com","password":"` + strings.Repeat("\u00e9", 600) + `"}`},
		{"application/json", `{"email":"a@example.com","password":"x","":1}`},
		{"application/json", `{"\u0065mail":"a@example.com","password":"x"}`},
		{"application/json", `{"e\u0000mail":"a@example.com"}`},
		{"application/json", `{"ſ":1,"S":2}`},
		{"application/json", `{"email":1e999,"password":-0}`},
		{"text/plain", `{"email":"a@example.com","password":"x"}`},
		{"application/json; charset=latin1", `{"email":"a@example.com","password":"x"}`},
		{"", `{"email":"a@example.com","password":"x"}`},
		{"application/json; charset=", `{}`},
		{"application/json;;;", `{}`},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	app := fuzzApp()
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		if len(body) > DefaultBodyLimit {
			// fasthttp refuses it before routing (413); app.Test reports
			// that as an error, and TestBodyLimit covers it.
			t.Skip()
		}
		if !validHeaderValue(contentType) {
			t.Skip() // no client can send it
		}
		status, out := checkFuzzResponse(t, app, "/json", contentType, body)
		if status != nethttp.StatusOK {
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted a body that is not valid UTF-8 JSON: %q", body)
		}
		var req credentialsRequest
		if err := json.Unmarshal(out, &req); err != nil {
			t.Fatalf("echo: %v", err)
		}
		for name, v := range map[string]string{"email": req.Email, "password": req.Password} {
			if v == "" || hasControlOrInvalid(v) {
				t.Fatalf("accepted %s %q from %q", name, v, body)
			}
		}
		if len(req.Email) > 320*utf8.UTFMax || len(req.Password) > 1024*utf8.UTFMax {
			t.Fatalf("accepted over-long strings from %q", body)
		}
		// What was accepted is what the standard decoder reads.
		var std credentialsRequest
		if err := json.Unmarshal(body, &std); err != nil || std != req {
			t.Fatalf("decoded %+v, encoding/json reads %+v (%v)", req, std, err)
		}
	})
}

// FuzzDecodeForm: DecodeForm never panics and never answers 5xx; the
// values it accepts are valid UTF-8, control-free and bounded.
func FuzzDecodeForm(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "token=abc&password=correct+horse"},
		{"application/x-www-form-urlencoded", "token=a&token=b"},
		{"application/x-www-form-urlencoded", "token=%ff%fe"},
		{"application/x-www-form-urlencoded", "token=a%00b"},
		{"application/x-www-form-urlencoded", "token=a%0d%0ab"},
		{"application/x-www-form-urlencoded", "token=%"},
		{"application/x-www-form-urlencoded", "token=a;password=b"},
		{"application/x-www-form-urlencoded", "&&&==="},
		{"application/x-www-form-urlencoded", "token=" + strings.Repeat("a", 1100)},
		{"application/x-www-form-urlencoded; charset=utf-8", "password=%C2%85"},
		{"application/json", `{"token":"x"}`},
		{"", "token=x"},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	app := fuzzApp()
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		if len(body) > DefaultBodyLimit || !validHeaderValue(contentType) {
			t.Skip()
		}
		status, out := checkFuzzResponse(t, app, "/form", contentType, body)
		if status != nethttp.StatusOK {
			return
		}
		var vals map[string]string
		if err := json.Unmarshal(out, &vals); err != nil {
			t.Fatalf("echo: %v", err)
		}
		for k, v := range vals {
			if hasControlOrInvalid(v) || len(v) > MaxFormValue {
				t.Fatalf("accepted %s=%q from %q", k, v, body)
			}
		}
	})
}

// validHeaderValue reports whether a client could send s as a header value
// (no CR, LF or NUL; net/http refuses other controls too).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}
