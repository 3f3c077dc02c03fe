package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// The OpenID Connect endpoints. Each worker follows a chain, like refresh
// and me: its warm-up signs a browser of its own in on the hosted page
// (GET and POST /sign-in, the browser session cookie kept in a cookie jar)
// and, but for code, redeems one code for the grant's tokens.
//
//   - code: one authorization round, measured as one request: GET
//     /authorize with the browser's session cookie (a first-party client
//     without consent answers at once with a code), then POST /token
//     redeeming that code with its PKCE verifier. Codes live 60 s and are
//     single-use, so the tool mints each one as it goes.
//   - userinfo: GET /userinfo with the grant's access token.
//   - oidc-refresh: POST /token with grant_type=refresh_token, the refresh
//     token rotating as at /v1/token/refresh.
const (
	endpointCode        = "code"
	endpointUserinfo    = "userinfo"
	endpointOIDCRefresh = "oidc-refresh"
)

// defaultRedirectURI is where the tool's client is registered to receive
// codes: loopback, so no https is needed; the tool reads the code from the
// redirect and never follows it.
const defaultRedirectURI = "http://127.0.0.1/cb"

// oidcEndpoint reports whether ep is one of the OpenID Connect endpoints.
func oidcEndpoint(ep string) bool {
	return ep == endpointCode || ep == endpointUserinfo || ep == endpointOIDCRefresh
}

// chainStart opens the chain of account u that the endpoints which follow
// a chain load: a login of the JSON API (refresh, me), or a browser of its
// own signed in on the hosted page, with a grant's tokens from one code
// round unless the endpoint is code itself.
func chainStart(ctx context.Context, client *http.Client, c config, u int) (outcome, tokenPair, bool) {
	if !oidcEndpoint(c.endpoint) {
		return login(ctx, client, c, u)
	}
	o, browser, ok := signIn(ctx, client, c, u)
	if !ok || c.endpoint == endpointCode {
		return o, tokenPair{browser: browser}, ok
	}
	o, tp, ok := codeRound(ctx, browser, c)
	tp.browser = browser
	return o, tp, ok
}

// signIn signs account u in on the hosted sign-in page with a browser of
// its own: a cookie jar over client's transport that does not follow
// redirects. It takes the CSRF token from the cookie the page sets (the
// form repeats the cookie's value).
func signIn(ctx context.Context, client *http.Client, c config, u int) (outcome, *http.Client, bool) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return outcome{err: err}, nil, false
	}
	browser := &http.Client{
		Transport: client.Transport, Timeout: client.Timeout, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	o, _ := send(ctx, browser, http.MethodGet, c.baseURL+"/sign-in", "", "", nil)
	if o.status != http.StatusOK {
		return o, nil, false
	}
	base, err := url.Parse(c.baseURL)
	if err != nil {
		return outcome{err: err}, nil, false
	}
	csrf := cookie(jar, base, "gatehouse_csrf")
	if csrf == "" {
		return outcome{status: o.status, err: errors.New("GET /sign-in set no CSRF cookie")}, nil, false
	}
	o, _ = sendForm(ctx, browser, c.baseURL+"/sign-in", url.Values{"email": {c.email(u)}, "password": {c.passwordOf(u)}, "csrf": {csrf}})
	if o.status != http.StatusSeeOther || cookie(jar, base, "gatehouse_session") == "" {
		if o.err == nil {
			o.err = fmt.Errorf("sign-in as %s: %d without a session cookie", c.email(u), o.status)
		}
		return o, nil, false
	}
	return o, browser, true
}

// cookie is the value of the cookie called name (or its __Host- form, on
// https) that jar holds for base, or "".
func cookie(jar http.CookieJar, base *url.URL, name string) string {
	for _, ck := range jar.Cookies(base) {
		if ck.Name == name || ck.Name == "__Host-"+name {
			return ck.Value
		}
	}
	return ""
}

// codeRound is one authorization round of a signed-in browser: GET
// /authorize for a code, then POST /token to redeem it. The outcome is the
// token request's, its latency both requests'; a round whose authorize
// gives no code is that answer (303 with the error the client would get,
// as its code: login_required when the browser session is gone).
func codeRound(ctx context.Context, browser *http.Client, c config) (outcome, tokenPair, bool) {
	verifier, challenge, err := pkce()
	if err != nil {
		return outcome{err: err}, tokenPair{}, false
	}
	q := url.Values{
		"client_id": {c.clientID}, "redirect_uri": {c.redirectURI}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	auth, code := authorize(ctx, browser, c.baseURL+"/authorize?"+q.Encode(), c.redirectURI)
	if code == "" {
		return auth, tokenPair{}, false
	}
	o, data := sendForm(ctx, browser, c.baseURL+"/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirectURI},
		"client_id": {c.clientID}, "code_verifier": {verifier},
	})
	o.latency += auth.latency
	return pairAnswer(o, data)
}

// authorize sends the authorization request u and returns its answer and
// the code of a redirect to redirectURI ("" for any other answer; then the
// outcome's code says why).
func authorize(ctx context.Context, browser *http.Client, u, redirectURI string) (outcome, string) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return outcome{err: err}, ""
	}
	resp, err := browser.Do(req)
	if err != nil {
		return outcome{err: err, latency: time.Since(start)}, ""
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	o := outcome{status: resp.StatusCode, latency: time.Since(start), retryAfter: resp.Header.Get("Retry-After")}
	loc, err := url.Parse(resp.Header.Get("Location"))
	switch {
	case resp.StatusCode != http.StatusSeeOther:
		o.code = "authorize"
	case err != nil || !strings.HasPrefix(loc.String(), redirectURI):
		o.code = "login_required" // sent to the sign-in page
	case loc.Query().Get("code") == "":
		o.code = loc.Query().Get("error")
	default:
		return o, loc.Query().Get("code")
	}
	return o, ""
}

// pkce makes a code verifier and its S256 challenge (RFC 7636).
func pkce() (verifier, challenge string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// sendForm posts form to u, reads the whole response and returns it with
// its body; an OAuth error's "error" is the outcome's code.
func sendForm(ctx context.Context, client *http.Client, u string, form url.Values) (outcome, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return outcome{err: err}, nil
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return roundTrip(client, req, oauthErrorCode)
}

// oauthErrorCode is the "error" of an OAuth error body followed by the
// "code" of a problem+json one ("" when it has neither).
func oauthErrorCode(body []byte) string {
	var p struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Error + p.Code
}

// oidcStep sends one request of an OpenID Connect endpoint along the
// chain tp and returns its outcome, the chain's next state, and whether
// the chain broke (it starts again with chainStart). The code round goes
// through the chain's browser; userinfo and the refresh grant through
// client, as a relying party's server sends them.
func oidcStep(ctx context.Context, client *http.Client, c config, tp tokenPair) (outcome, tokenPair, bool) {
	switch c.endpoint {
	case endpointCode:
		o, _, ok := codeRound(ctx, tp.browser, c)
		return o, tp, !ok && o.status != http.StatusTooManyRequests && o.status != http.StatusServiceUnavailable
	case endpointUserinfo:
		o, _ := send(ctx, client, http.MethodGet, c.baseURL+"/userinfo", tp.access, "", nil)
		return o, tp, o.status == http.StatusUnauthorized
	}
	o, data := sendForm(ctx, client, c.baseURL+"/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tp.refresh}, "client_id": {c.clientID},
	})
	switch o.status {
	case http.StatusOK:
		ntp, err := parsePair(data)
		if err != nil {
			o.err = err
			return o, tp, true
		}
		ntp.browser = tp.browser
		return o, ntp, false
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return o, tp, false // not consumed: the same token again
	}
	return o, tp, true
}
