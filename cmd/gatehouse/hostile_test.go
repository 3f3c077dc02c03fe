package main

// Hostile input against a real running server: hundreds of malformed or
// hostile requests at every endpoint, none of which may get a 5xx or an
// error body that is not problem+json, plus the specific answers the spec
// promises (413, 415, 400 invalid_request, 405 with Allow, 404) and that the
// server keeps answering afterwards.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// hostileRequest is one request to throw at the server.
type hostileRequest struct {
	method      string
	path        string
	contentType string // empty: no Content-Type header
	body        []byte // nil: no body
	bearer      string // empty: no Authorization header
	header      map[string]string
	chunked     bool // send the body without Content-Length
}

func (h hostileRequest) String() string {
	b := h.body
	if len(b) > 80 {
		b = append(b[:80:80], "..."...)
	}
	bearer := h.bearer
	if len(bearer) > 24 {
		bearer = bearer[:24] + "..."
	}
	return fmt.Sprintf("%s %s [ct=%q bearer=%q chunked=%v] %q", h.method, h.path, h.contentType, bearer, h.chunked, b)
}

type hostileResult struct {
	status int
	header http.Header
	body   []byte
}

var hostileHTTP = &http.Client{Timeout: 15 * time.Second}

// send performs h from client IP ip (through the trusted loopback proxy).
func (h hostileRequest) send(base, ip string) (hostileResult, error) {
	var rd io.Reader
	if h.body != nil {
		rd = bytes.NewReader(h.body)
		if h.chunked {
			rd = io.MultiReader(rd) // hides the length: chunked encoding
		}
	}
	req, err := http.NewRequest(h.method, base+h.path, rd)
	if err != nil {
		return hostileResult{}, err
	}
	if h.contentType != "" {
		req.Header.Set("Content-Type", h.contentType)
	}
	if h.bearer != "" {
		req.Header.Set("Authorization", h.bearer)
	}
	for k, v := range h.header {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := hostileHTTP.Do(req)
	if err != nil {
		return hostileResult{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return hostileResult{}, err
	}
	return hostileResult{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// hostilePagePaths are the hosted pages, which answer refusals a user can
// read in HTML; everything else answers errors in problem+json.
var hostilePagePaths = map[string]bool{"/verify-email": true, "/reset-password": true, "/forgot-password": true}

// checkHostile reports what is wrong with the answer to h, or "".
func checkHostile(h hostileRequest, r hostileResult) string {
	if r.status >= 500 {
		return fmt.Sprintf("status %d: %s", r.status, r.body)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		return "no X-Content-Type-Options: nosniff"
	}
	if r.status < 400 || h.method == http.MethodHead {
		return ""
	}
	ct := r.header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/html") && hostilePagePaths[strings.SplitN(h.path, "?", 2)[0]] {
		if !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			return fmt.Sprintf("hosted page error %d without a strict CSP", r.status)
		}
		return ""
	}
	if !strings.HasPrefix(ct, "application/problem+json") {
		return fmt.Sprintf("status %d with Content-Type %q: %s", r.status, ct, r.body)
	}
	var p struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil || p.Code == "" || p.Status != r.status {
		return fmt.Sprintf("status %d with a bad problem body (%v): %s", r.status, err, r.body)
	}
	return ""
}

// hostileJSONBodies are malformed or hostile JSON bodies; fields names the
// string fields of the endpoint they are aimed at.
func hostileJSONBodies(fields []string) [][]byte {
	f := fields[0]
	g := f
	if len(fields) > 1 {
		g = fields[1]
	}
	huge := strings.Repeat("a", 7000) // under the body limit, over every field limit
	longEmail := strings.Repeat("a", 300) + "@" + strings.Repeat("b", 60) + ".example.com"
	var deep strings.Builder
	for range 200 {
		deep.WriteString(`{"x":`)
	}
	deep.WriteString("1")
	for range 200 {
		deep.WriteString("}")
	}
	raw := []string{
		``,
		` `,
		`{`,
		`}`,
		`{"` + f + `":`,
		`{"` + f + `":"abc`,
		`{"` + f + `":"abc"`,
		`null`,
		`true`,
		`42`,
		`"a string"`,
		`[]`,
		`[{"` + f + `":"x"}]`,
		`{}`,
		`{"` + f + `":null}`,
		`{"` + f + `":42}`,
		`{"` + f + `":-1e999}`,
		`{"` + f + `":true}`,
		`{"` + f + `":["x"]}`,
		`{"` + f + `":{"nested":"x"}}`,
		`{"` + f + `":"x","` + f + `":"y"}`,
		`{"` + f + `":"x","` + strings.ToUpper(f) + `":"y"}`,
		`{"` + f + `":"x","` + g + `":"y","admin":true}`,
		`{"` + f + `":"x","` + g + `":"y"}{"` + f + `":"z"}`,
		`{"` + f + `":"x","` + g + `":"y"} trailing`,
		`{"` + f + `":"` + huge + `","` + g + `":"` + huge[:1000] + `"}`,
		`{"` + f + `":"` + longEmail + `","` + g + `":"` + longEmail + `"}`,
		`{"` + f + `":"a\u0000b@example.com","` + g + `":"x"}`,
		`{"` + f + `":"victim@example.com\r\nBcc: attacker@example.com","` + g + `":"correct horse battery staple 42"}`,
		`{"` + f + `":"a\u0085b@example.com","` + g + `":"x"}`,
		`{"` + f + `":"\ud800@example.com","` + g + `":"x"}`,
		`{"` + f + `":"` + "\xff\xfe" + `@example.com","` + g + `":"x"}`,
		"{\"" + f + "\":\"raw\x01control@example.com\"}",
		`{"` + f + `":"<script>alert(1)</script>@example.com","` + g + `":"' OR 1=1 --"}`,
		`{"` + f + `":"` + strings.Repeat("\u00e9", 600) + `","` + g + `":"` + strings.Repeat("\U0001F600", 200) + `"}`,
		`{"` + f + `":"x@example.com","` + g + `":"` + strings.Repeat("p", 129) + `"}`,
		`{"__proto__":{"admin":true}}`,
		`{"":""}`,
		"\xef\xbb\xbf{\"" + f + "\":\"x\"}",
		deep.String(),
		strings.Repeat(`[`, 5000),
		`{"` + f + `":"` + strings.Repeat(`\\`, 3000) + `"}`,
	}
	out := make([][]byte, len(raw))
	for i, s := range raw {
		out[i] = []byte(s)
	}
	return out
}

// garbageBearers are Authorization header values that must all get 401.
func garbageBearers() []string {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	random := make([]byte, 48)
	_, _ = rand.Read(random)
	claims := b64(`{"sub":"00000000-0000-0000-0000-000000000000","sid":"00000000-0000-0000-0000-000000000000","exp":9999999999,"aud":"gatehouse","iss":"` + testPublicURL + `"}`)
	return []string{
		"Bearer ",
		"Bearer x",
		"Basic dXNlcjpwYXNz",
		"bearer " + base64.RawURLEncoding.EncodeToString(random),
		"Bearer " + b64(`{"alg":"none","typ":"at+jwt"}`) + "." + claims + ".",
		"Bearer " + b64(`{"alg":"HS256","typ":"at+jwt"}`) + "." + claims + "." + b64("signature"),
		"Bearer " + b64(`{"alg":"EdDSA","typ":"at+jwt","kid":"../../etc/passwd","jku":"http://127.0.0.1:1/jwks"}`) + "." + claims + "." + b64(strings.Repeat("s", 64)),
		"Bearer a.b.c.d.e",
		"Bearer ....",
		"Bearer " + strings.Repeat("A", 5*1024),
		"Bearer " + strings.Repeat("eyJ", 1000) + "." + strings.Repeat("x", 1000) + "." + strings.Repeat("y", 1000),
	}
}

type hostileEndpoint struct {
	method string
	path   string
	fields []string // JSON string fields; nil for bodiless endpoints
	form   []string // hosted-page form fields
	auth   bool
}

var hostileEndpoints = []hostileEndpoint{
	{method: "POST", path: "/v1/register", fields: []string{"email", "password"}},
	{method: "POST", path: "/v1/verify-email", fields: []string{"token", "password"}},
	{method: "POST", path: "/v1/verify-email/resend", fields: []string{"email"}},
	{method: "POST", path: "/v1/login", fields: []string{"email", "password"}},
	{method: "POST", path: "/v1/token/refresh", fields: []string{"refresh_token"}},
	{method: "POST", path: "/v1/password/forgot", fields: []string{"email"}},
	{method: "POST", path: "/v1/password/reset", fields: []string{"token", "password"}},
	{method: "POST", path: "/v1/me/password", fields: []string{"current_password", "new_password"}, auth: true},
	{method: "POST", path: "/v1/logout", auth: true},
	{method: "GET", path: "/v1/me", auth: true},
	{method: "GET", path: "/v1/me/sessions", auth: true},
	{method: "DELETE", path: "/v1/me/sessions/00000000-0000-0000-0000-000000000000", auth: true},
	{method: "POST", path: "/v1/login/mfa", fields: []string{"mfa_token", "code"}},
	{method: "POST", path: "/v1/me/mfa/totp", fields: []string{"password"}, auth: true},
	{method: "POST", path: "/v1/me/mfa/totp/confirm", fields: []string{"code"}, auth: true},
	{method: "DELETE", path: "/v1/me/mfa/totp", fields: []string{"password", "code"}, auth: true},
	{method: "POST", path: "/v1/me/mfa/recovery-codes", fields: []string{"code"}, auth: true},
	{method: "POST", path: "/verify-email", form: []string{"token", "password"}},
	{method: "POST", path: "/reset-password", form: []string{"token", "password"}},
	{method: "POST", path: "/forgot-password", form: []string{"email"}},
}

// hostileFormBodies are malformed or hostile form bodies.
func hostileFormBodies(fields []string) [][]byte {
	f := fields[0]
	raw := []string{
		``,
		`&&&===`,
		f + `=x&` + f + `=y`,
		f + `=%ff%fe`,
		f + `=a%00b`,
		f + `=victim%40example.com%0D%0ABcc:%20attacker%40example.com`,
		f + `=%`,
		f + `=%zz`,
		f + `=` + strings.Repeat("a", 2000),
		`unknown=1&` + f + `=x`,
		strings.Repeat("k=v&", 1500),
		f + `[]=x&` + f + `[a]=y`,
		"\xff\xfe=\x00",
	}
	out := make([][]byte, len(raw))
	for i, s := range raw {
		out[i] = []byte(s)
	}
	return out
}

// hostileRequests builds the whole barrage. validBearer is the Authorization
// value of a live session, used only where it cannot end the session.
func hostileRequests(validBearer string) []hostileRequest {
	var out []hostileRequest
	bearers := garbageBearers()
	for _, e := range hostileEndpoints {
		var auths []string
		if e.auth {
			auths = append([]string{""}, bearers...)
			if e.path != "/v1/logout" {
				auths = append(auths, validBearer)
			}
		} else {
			// A bearer on a public endpoint changes nothing.
			auths = []string{"", bearers[4]}
		}
		switch {
		case e.fields != nil:
			for _, body := range hostileJSONBodies(e.fields) {
				for _, a := range auths {
					out = append(out, hostileRequest{method: e.method, path: e.path, contentType: "application/json", body: body, bearer: a})
				}
				if e.auth {
					continue
				}
				out = append(out, hostileRequest{method: e.method, path: e.path, contentType: "application/json", body: body, chunked: true})
			}
			good := []byte(`{"` + strings.Join(e.fields, `":"x","`) + `":"x"}`)
			for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/json;;", "application/jsonx", "*/*"} {
				out = append(out, hostileRequest{method: e.method, path: e.path, contentType: ct, body: good, bearer: pick(e.auth, validBearer)})
			}
			out = append(out,
				hostileRequest{method: e.method, path: e.path, contentType: "application/json", body: good, bearer: pick(e.auth, validBearer), header: map[string]string{"Content-Encoding": "gzip"}},
				hostileRequest{method: e.method, path: e.path, contentType: "application/json", body: bytes.Repeat([]byte("a"), 9*1024), bearer: pick(e.auth, validBearer)},
				hostileRequest{method: e.method, path: e.path, contentType: "application/json", body: bytes.Repeat([]byte("a"), 9*1024), chunked: true},
			)
		case e.form != nil:
			for _, body := range hostileFormBodies(e.form) {
				out = append(out, hostileRequest{method: e.method, path: e.path, contentType: "application/x-www-form-urlencoded", body: body})
			}
			out = append(out,
				hostileRequest{method: e.method, path: e.path, contentType: "application/json", body: []byte(`{"` + e.form[0] + `":"x"}`)},
				hostileRequest{method: e.method, path: e.path, contentType: "text/plain", body: []byte(e.form[0] + "=x")},
				hostileRequest{method: e.method, path: e.path, body: []byte(e.form[0] + "=x")},
			)
		default:
			for _, a := range auths {
				out = append(out, hostileRequest{method: e.method, path: e.path, bearer: a})
				if e.method != http.MethodGet {
					out = append(out, hostileRequest{method: e.method, path: e.path, bearer: a, contentType: "application/json", body: []byte(`{"x":[`)})
				}
			}
		}
		// Every other method on the path.
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"} {
			if m != e.method && !(m == "HEAD" && e.method == "GET") {
				out = append(out, hostileRequest{method: m, path: e.path, bearer: pick(e.auth, validBearer)})
			}
		}
	}
	// Hosted-page GETs and the probes with odd queries.
	for _, p := range []string{"/verify-email", "/reset-password", "/forgot-password"} {
		for _, q := range []string{"", "?token=", "?token=%ff%fe", "?token=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "?token=a&token=b", "?token=" + strings.Repeat("x", 4000), "?token=%00%0d%0a"} {
			out = append(out, hostileRequest{method: "GET", path: p + q})
		}
	}
	for _, p := range []string{
		"/healthz", "/readyz", "/.well-known/jwks.json",
		"/", "/v1", "/v1/", "/v2/login", "/v1/login/extra", "/v1/me/sessions/not-a-uuid", "/v1/me/sessions/", "/admin",
		"/v1/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/v1/%ff", "/v1/login%00", "/" + strings.Repeat("a", 3000),
		"/.well-known/jwks.json?x=" + strings.Repeat("y", 2000), "/.env", "/v1/me/sessions/00000000-0000-0000-0000-000000000000/x",
	} {
		out = append(out, hostileRequest{method: "GET", path: p}, hostileRequest{method: "POST", path: p, contentType: "application/json", body: []byte(`{}`)})
	}
	return out
}

func pick(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

// hostileEnv is a test instance on a store of its own with limits too high
// to interfere: the barrage is about input handling, not throttling.
func hostileEnv(t *testing.T, st testStore, smtp *smtptest.Server) map[string]string {
	env := baseEnv(t, st, smtp)
	maps.Copy(env, hostileLimits)
	return env
}

// hostileLimits are hostileEnv's settings.
var hostileLimits = map[string]string{
	"GATEHOUSE_RATE_LIMIT_AUTH":           "1000000/5m",
	"GATEHOUSE_RATE_LIMIT_REFRESH":        "1000000/5m",
	"GATEHOUSE_RATE_LIMIT_MAIL":           "1000000/1h",
	"GATEHOUSE_RATE_LIMIT_LOGIN_FAILURES": "1000000/15m",
	"GATEHOUSE_LOGIN_LOCKOUT_THRESHOLD":   "1000000",
	"GATEHOUSE_LOG_LEVEL":                 "info",
}

// TestHostileRequestsNeverFail throws several hundred malformed or hostile
// requests (bad JSON of every kind, wrong types, duplicate and unknown keys,
// huge, invalid-UTF-8, NUL and CR/LF strings, wrong content types and
// encodings, garbage bearer tokens, wrong methods, unknown paths) at every
// endpoint, with and without a bearer, and checks that none gets a 5xx,
// that every error is problem+json with a code (hosted pages may answer a
// user-readable HTML page under a strict CSP), and that the server still
// answers afterwards with nothing logged at error level.
func TestHostileRequestsNeverFail(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixtureWith(t, st, hostileLimits)
		inst, c, addr := f.inst, f.c, f.verifiedUser(t)
		access, _ := login(t, c, addr, strongPassword)

		reqs := hostileRequests("Bearer " + access)
		if len(reqs) < 300 {
			t.Fatalf("only %d hostile requests", len(reqs))
		}
		var (
			mu       sync.Mutex
			failures []string
			statuses = map[int]int{}
		)
		work := make(chan hostileRequest)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for h := range work {
					r, err := h.send(inst.URL, c.ip)
					var msg string
					if err != nil {
						// Only the bodies refused while they are sent may cut
						// the connection short.
						if len(h.body) <= 8*1024 {
							msg = "transport error: " + err.Error()
						}
					} else {
						msg = checkHostile(h, r)
					}
					mu.Lock()
					statuses[r.status]++
					if msg != "" {
						failures = append(failures, h.String()+": "+msg)
					}
					mu.Unlock()
				}
			})
		}
		for _, h := range reqs {
			work <- h
		}
		close(work)
		wg.Wait()
		t.Logf("%d hostile requests, statuses %v", len(reqs), statuses)
		for i, f := range failures {
			if i == 30 {
				t.Errorf("... and %d more", len(failures)-30)
				break
			}
			t.Error(f)
		}

		// The server still answers, the session is still live, and nothing was
		// logged as a bug.
		if r := c.do("GET", "/healthz", nil, nil); r.Status != http.StatusOK {
			t.Fatalf("healthz after the barrage: %d %s", r.Status, r.Body)
		}
		if r := c.bearer("GET", "/v1/me", access, nil); r.Status != http.StatusOK {
			t.Fatalf("me after the barrage: %d %s", r.Status, r.Body)
		}
		for _, line := range strings.Split(inst.Logs.String(), "\n") {
			if strings.Contains(line, `"level":"error"`) || strings.Contains(line, "panic") {
				t.Errorf("logged: %s", line)
			}
		}
	})
}

// TestHostileSpecificAnswers checks the answers the spec names for each
// kind of bad request, on every JSON endpoint.
func TestHostileSpecificAnswers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixtureWith(t, st, hostileLimits)
		c, addr := f.c, f.verifiedUser(t)
		access, _ := login(t, c, addr, strongPassword)

		expect := func(t *testing.T, what string, r response, status int, code string) {
			t.Helper()
			if r.Status != status {
				t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
			}
			if got := r.Code(t); got != code {
				t.Fatalf("%s: code %q, want %q", what, got, code)
			}
		}
		for _, e := range hostileEndpoints {
			if e.fields == nil {
				continue
			}
			t.Run(strings.TrimPrefix(e.path, "/v1/"), func(t *testing.T) {
				hdr := map[string]string{}
				if e.auth {
					hdr["Authorization"] = "Bearer " + access
				}
				f := e.fields[0]
				valid := map[string]string{}
				for _, k := range e.fields {
					valid[k] = "x"
				}
				withHdr := func(extra map[string]string) map[string]string {
					out := map[string]string{}
					for k, v := range hdr {
						out[k] = v
					}
					for k, v := range extra {
						out[k] = v
					}
					return out
				}
				big := `{"` + f + `":"` + strings.Repeat("a", 9*1024) + `"}`
				expect(t, "9 KiB body", c.do("POST", e.path, big, hdr), http.StatusRequestEntityTooLarge, "payload_too_large")
				expect(t, "text/plain", c.do("POST", e.path, valid, withHdr(map[string]string{"Content-Type": "text/plain"})), http.StatusUnsupportedMediaType, "unsupported_media_type")
				expect(t, "gzip", c.do("POST", e.path, valid, withHdr(map[string]string{"Content-Encoding": "gzip"})), http.StatusUnsupportedMediaType, "unsupported_media_type")
				expect(t, "duplicate key", c.do("POST", e.path, `{"`+f+`":"x","`+f+`":"y"}`, hdr), http.StatusBadRequest, "invalid_request")
				expect(t, "duplicate key by case", c.do("POST", e.path, `{"`+f+`":"x","`+strings.ToUpper(f)+`":"y"}`, hdr), http.StatusBadRequest, "invalid_request")
				expect(t, "unknown field", c.do("POST", e.path, `{"`+f+`":"x","is_admin":true}`, hdr), http.StatusBadRequest, "invalid_request")
				expect(t, "array for a string", c.do("POST", e.path, `{"`+f+`":["x"]}`, hdr), http.StatusBadRequest, "invalid_request")
				expect(t, "number for a string", c.do("POST", e.path, `{"`+f+`":1}`, hdr), http.StatusBadRequest, "invalid_request")
				expect(t, "truncated JSON", c.do("POST", e.path, `{"`+f+`":"x"`, hdr), http.StatusBadRequest, "invalid_request")
				expect(t, "empty body", c.do("POST", e.path, "", hdr), http.StatusBadRequest, "invalid_request")
				expect(t, "invalid UTF-8", c.do("POST", e.path, "{\""+f+"\":\"\xff\"}", hdr), http.StatusBadRequest, "invalid_request")
				expect(t, "NUL", c.do("POST", e.path, `{"`+f+`":"a\u0000b"}`, hdr), http.StatusBadRequest, "invalid_request")
				r := c.do("GET", e.path, nil, hdr)
				expect(t, "GET", r, http.StatusMethodNotAllowed, "method_not_allowed")
				if allow := r.Header.Get("Allow"); !strings.Contains(allow, "POST") {
					t.Fatalf("405 with Allow %q, want POST in it", allow)
				}
			})
		}
		t.Run("email_with_crlf", func(t *testing.T) {
			for _, p := range []string{"/v1/register", "/v1/verify-email/resend", "/v1/password/forgot", "/v1/login"} {
				for _, email := range []string{addr + "\r\nBcc: attacker@example.com", "attacker@example.com\r\n" + addr, addr + "\n", "a\rb@example.com"} {
					r := c.post(p, map[string]string{"email": email, "password": strongPassword})
					if r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
						t.Fatalf("%s with email %q: %d %s, want 400 or 422", p, email, r.Status, r.Body)
					}
					r.Code(t)
				}
			}
		})
		t.Run("unknown_paths_and_methods", func(t *testing.T) {
			expect(t, "unknown path", c.do("GET", "/v1/nope", nil, nil), http.StatusNotFound, "not_found")
			expect(t, "unknown nested path", c.post("/v1/login/extra", map[string]string{}), http.StatusNotFound, "not_found")
			r := c.do("PUT", "/v1/me", nil, map[string]string{"Authorization": "Bearer " + access})
			expect(t, "PUT /v1/me", r, http.StatusMethodNotAllowed, "method_not_allowed")
			if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") {
				t.Fatalf("Allow %q", allow)
			}
			r = c.do("POST", "/healthz", nil, nil)
			expect(t, "POST /healthz", r, http.StatusMethodNotAllowed, "method_not_allowed")
		})
		t.Run("garbage_bearers", func(t *testing.T) {
			for _, b := range garbageBearers() {
				r := c.do("GET", "/v1/me", nil, map[string]string{"Authorization": b})
				if r.Status != http.StatusUnauthorized {
					t.Fatalf("Authorization %.40q: %d %s", b, r.Status, r.Body)
				}
				r.Code(t)
			}
		})
	})
}

// TestHostileRawHTTP sends requests Go's client refuses to write (broken
// framing, control bytes in the request line and headers, oversized
// headers, conflicting lengths) over raw TCP and checks that any answer is
// not a 5xx, then that the server still answers.
func TestHostileRawHTTP(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		inst := start(t, hostileEnv(t, st, nil))
		c := newClient(t, inst)
		host := strings.TrimPrefix(inst.URL, "http://")
		hdr := "Host: " + host + "\r\nX-Forwarded-For: " + c.ip + "\r\n"
		body := `{"email":"x@example.com"}`
		raws := []string{
			"GET /healthz HTTP/1.1\r\n" + hdr + "X-Bad: a\x00b\r\n\r\n",
			"GET /healthz HTTP/1.1\r\n" + hdr + "X-Bad: \xff\xfe\r\n\r\n",
			"GET /v1/me HTTP/1.1\r\n" + hdr + "Authorization: Bearer \xff\x00\x01\r\n\r\n",
			"GET /v1/me HTTP/1.1\r\n" + hdr + "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
			"GET /he\x00althz HTTP/1.1\r\n" + hdr + "\r\n",
			"GET /healthz HTTP/9.9\r\n" + hdr + "\r\n",
			"GET\r\n\r\n",
			"\r\n\r\n",
			"GARBAGE\x00\x01\x02\r\n\r\n",
			"GET /healthz HTTP/1.1\r\n" + hdr + "X-Big: " + strings.Repeat("a", 10*1024) + "\r\n\r\n",
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\n" + body,
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nContent-Length: -1\r\n\r\n" + body,
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n" + body,
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + body + "\r\n0\r\n\r\n",
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x", 20000) + "\r\n" + strings.Repeat("a", 9000),
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + fmt.Sprintf("%x", len(body)) + "\r\n" + body + "\r\n0\r\n\r\n",
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body + "GET /healthz HTTP/1.1\r\n" + hdr + "\r\n",
			"POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nContent-Length: 9300\r\n\r\n" + strings.Repeat("a", 9300),
		}
		for i, raw := range raws {
			status, resp, err := rawExchange(host, raw)
			if err != nil {
				t.Logf("raw %d: no answer (%v)", i, err)
				continue
			}
			t.Logf("raw %d: %d", i, status)
			if status >= 500 {
				t.Errorf("raw %d %.60q: status %d:\n%s", i, raw, status, resp)
			}
			if status >= 400 && !strings.Contains(strings.ToLower(resp), "content-type: application/problem+json") {
				t.Errorf("raw %d %.60q: status %d is not problem+json:\n%s", i, raw, status, resp)
			}
		}
		// Differing Content-Length values are a framing error (RFC 9112 §6.3),
		// refused rather than resolved by taking one of them.
		dup := "POST /v1/password/forgot HTTP/1.1\r\n" + hdr + "Content-Type: application/json\r\nContent-Length: 3\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
		if status, resp, err := rawExchange(host, dup); err != nil || status != http.StatusBadRequest {
			t.Errorf("conflicting Content-Length: %d %v\n%s", status, err, resp)
		}
		// Any token is a method: one the server does not know is a 405 on
		// a path that has routes and a 404 elsewhere, on both listeners.
		admin := strings.TrimPrefix(inst.AdminURL, "http://")
		for _, m := range []string{"X1", "PROPFIND", "get", strings.Repeat("M", 4000)} {
			for _, l := range []struct{ host, path string }{{host, "/v1/login"}, {admin, "/healthz"}} {
				for path, want := range map[string]int{l.path: http.StatusMethodNotAllowed, "/no/such/path": http.StatusNotFound} {
					status, resp, err := rawExchange(l.host, m+" "+path+" HTTP/1.1\r\nHost: "+l.host+"\r\n\r\n")
					if err != nil || status != want || !strings.Contains(strings.ToLower(resp), "content-type: application/problem+json") {
						t.Errorf("%.20s %s on %s: %d %v\n%s", m, path, l.host, status, err, resp)
					}
				}
			}
		}
		if r := c.do("GET", "/healthz", nil, nil); r.Status != http.StatusOK {
			t.Fatalf("healthz after raw requests: %d", r.Status)
		}
		for _, line := range strings.Split(inst.Logs.String(), "\n") {
			if strings.Contains(line, `"level":"error"`) || strings.Contains(line, "panic") {
				t.Errorf("logged: %s", line)
			}
		}
	})
}

// rawExchange writes raw to a fresh connection and reads the first
// response's status and head (and what body arrived within a short wait).
func rawExchange(host, raw string) (int, string, error) {
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(1500 * time.Millisecond))
	if _, err := io.WriteString(conn, raw); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var head strings.Builder
	_ = resp.Header.Write(&head)
	return resp.StatusCode, resp.Status + "\n" + head.String() + "\n" + string(b), nil
}
