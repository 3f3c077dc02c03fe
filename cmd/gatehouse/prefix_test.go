package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestServedUnderAPathPrefix is what SECURITY.md and the threat model say
// about a path prefix: Gatehouse's routes live at the root, so a proxy
// that serves it under /auth strips the prefix, and GATEHOUSE_PUBLIC_URL
// carries it. Then the links in mail, the hosted forms (which post back to
// their own URL) and the JWT iss all work under the prefix; a proxy that
// forwarded the prefix unchanged would get 404s. The embedded store only:
// routing does not depend on the store.
func TestServedUnderAPathPrefix(t *testing.T) {
	t.Parallel()
	const publicURL = testPublicURL + "/auth"
	f := newFixtureWith(t, onSQLite, map[string]string{"GATEHOUSE_PUBLIC_URL": publicURL})
	smtp, inst := f.smtp, f.inst
	backend, err := url.Parse(inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backend)
		r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/auth") // strip the prefix
		r.Out.URL.RawPath = ""
		r.SetXForwarded()
	}})
	defer proxy.Close()
	// What a browser does with a link of GATEHOUSE_PUBLIC_URL: the same path
	// and query on the proxy.
	viaProxy := func(link string) string {
		return proxy.URL + strings.TrimPrefix(link, testPublicURL)
	}

	c := f.c
	addr := randomEmail()
	if r := c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusAccepted {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	link, ok := smtptest.ExtractURL(mailTo(t, smtp, addr, 1).Text, "/verify-email")
	if !ok || !strings.HasPrefix(link, publicURL+"/verify-email?token=") {
		t.Fatalf("the verification link %q does not carry the public URL's path", link)
	}

	// Forwarded unchanged, the prefixed path is not a route.
	resp, err := http.Get(inst.URL + strings.TrimPrefix(link, testPublicURL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /auth/verify-email on Gatehouse itself: %d, want 404 (the routes live at the root)", resp.StatusCode)
	}

	// Through the stripping proxy: the page, then its form's post to the
	// page's own URL (the form has no action), with the CSRF cookie the
	// page set and the token its form carries.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	resp, err = browser.Get(viaProxy(link))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := csrfField.FindStringSubmatch(string(page))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `<form method="post">`) || strings.Contains(string(page), "action=") || csrf == nil {
		t.Fatalf("the hosted page through the proxy: %d\n%s", resp.StatusCode, page)
	}
	token := strings.TrimPrefix(link, publicURL+"/verify-email?token=")
	resp, err = browser.PostForm(viaProxy(link), url.Values{"token": {token}, "password": {strongPassword}, "csrf": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	done, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(done), "is verified") {
		t.Fatalf("the form's post through the proxy: %d\n%s", resp.StatusCode, done)
	}

	// Tokens name the prefixed issuer; its JWKS is under the prefix too.
	access, _ := login(t, c, addr, strongPassword)
	resp, err = http.Get(proxy.URL + "/auth/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS under the prefix: %d %v", resp.StatusCode, err)
	}
	tok, err := jwt.ParseSigned(access, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if keys := set.Key(tok.Headers[0].KeyID); len(keys) != 1 || tok.Claims(keys[0].Key, &claims) != nil || claims.Issuer != publicURL {
		t.Fatalf("the access token's iss is %q, want %q (verified with the JWKS under the prefix)", claims.Issuer, publicURL)
	}
}
