package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// toInstance sends every request for the public URL's host to the
// instance (the relying party knows Gatehouse by its PUBLIC_URL).
type toInstance struct{ host string }

func (t toInstance) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Host = t.host
	return http.DefaultTransport.RoundTrip(r)
}

// rp is a relying party of the instance: go-oidc and x/oauth2, with a
// client registered through the admin API.
type rp struct {
	ctx      context.Context
	provider *oidc.Provider
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, f adminFixture, reg map[string]any) rp {
	t.Helper()
	r := f.admin.call(http.MethodPost, "/admin/v1/clients", reg)
	if r.Status != http.StatusCreated {
		t.Fatalf("register the client: %d %s", r.Status, r.Body)
	}
	secret, _ := r.JSON(t)["client_secret"].(string)
	id := object(t, r, "client")["client_id"].(string)
	u, err := url.Parse(f.inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := oidc.ClientContext(context.Background(), &http.Client{Transport: toInstance{host: u.Host}})
	provider, err := oidc.NewProvider(ctx, testPublicURL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return rp{
		ctx: ctx, provider: provider,
		config: oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(),
			RedirectURL: reg["redirect_uris"].([]string)[0], Scopes: []string{oidc.ScopeOpenID, "email"}},
		verifier: provider.Verifier(&oidc.Config{ClientID: id}),
	}
}

// authorize follows an authorization request in browser b to the
// client's redirect URI and returns its query; signIn answers the sign-in
// page when it comes, and a consent page is allowed (b.consents counts
// them).
func (b *browser) authorize(authURL string, signIn url.Values) url.Values {
	b.t.Helper()
	next := strings.TrimPrefix(authURL, testPublicURL)
	for range 6 {
		req, err := http.NewRequest(http.MethodGet, b.base+next, nil)
		if err != nil {
			b.t.Fatal(err)
		}
		res, err := b.c.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			b.t.Fatalf("GET %s: %d", next, res.StatusCode)
		}
		loc, err := req.URL.Parse(res.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		switch {
		case loc.Path == "/sign-in" && signIn != nil:
			form := url.Values{"pending": {loc.Query().Get("pending")}}
			for k, v := range signIn {
				form[k] = v
			}
			status, body := b.post("/sign-in", form, true)
			if status != http.StatusSeeOther {
				b.t.Fatalf("sign-in: %d %s", status, body)
			}
			next = "/authorize?pending=" + loc.Query().Get("pending")
		case loc.Path == "/consent":
			b.consents++
			status, body := b.post("/consent", url.Values{"pending": {loc.Query().Get("pending")}, "decision": {"allow"}}, true)
			if status != http.StatusSeeOther {
				b.t.Fatalf("consent: %d %s", status, body)
			}
			to, err := loc.Parse(b.lastLocation)
			if err != nil {
				b.t.Fatal(err)
			}
			if !strings.HasPrefix(to.String(), b.base) {
				return to.Query()
			}
			next = strings.TrimPrefix(to.String(), b.base)
		case strings.HasPrefix(loc.String(), b.base):
			next = strings.TrimPrefix(loc.String(), b.base)
		default:
			return loc.Query()
		}
	}
	b.t.Fatal("too many redirects")
	return nil
}

// The authorization code flow with go-oidc and x/oauth2 as the relying
// party, on each store: discovery, sign-in through the hosted page, the
// code exchange with PKCE, the id_token, userinfo, the refresh grant,
// single sign-on, and a replayed code revoking what it gave.
func TestOIDCCodeFlow(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		addr, _, _ := f.signedIn(t)
		app := newRP(t, f, map[string]any{"name": "Wiki", "type": "confidential", "redirect_uris": []string{"https://wiki.example.com/cb"}})
		b := newBrowser(t, f.inst.URL)

		verifier := oauth2.GenerateVerifier()
		authURL := app.config.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))
		got := b.authorize(authURL, url.Values{"email": {addr}, "password": {strongPassword}})
		if got.Get("state") != "state-1" || got.Get("iss") != testPublicURL || got.Get("code") == "" {
			t.Fatalf("the redirect to the client: %v", got)
		}
		code := got.Get("code")
		tok, idt, _ := app.exchange(t, code, verifier)
		var claims struct {
			Email         string   `json:"email"`
			EmailVerified bool     `json:"email_verified"`
			AMR           []string `json:"amr"`
			SID           string   `json:"sid"`
			AuthTime      int64    `json:"auth_time"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if idt.Nonce != "nonce-1" || claims.Email != addr || !claims.EmailVerified || claims.SID == "" || claims.AuthTime == 0 || len(claims.AMR) == 0 {
			t.Fatalf("id_token claims: nonce %q %+v", idt.Nonce, claims)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Fatalf("at_hash: %v", err)
		}
		info, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != idt.Subject || info.Email != addr {
			t.Fatalf("userinfo: %+v %v", info, err)
		}
		// The access token works at Gatehouse's own endpoints.
		if me := f.c.getOK(t, "/v1/me", tok.AccessToken); me["user"].(map[string]any)["id"] != idt.Subject {
			t.Fatalf("/v1/me: %v", me)
		}

		// The refresh grant rotates the refresh token.
		old := tok.RefreshToken
		tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
		fresh, err := app.config.TokenSource(app.ctx, tok).Token()
		if err != nil || fresh.RefreshToken == "" || fresh.RefreshToken == old {
			t.Fatalf("refresh: %v (%v)", fresh, err)
		}

		// Single sign-on: a second request answers at once.
		again := b.authorize(app.config.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier)), nil)
		if again.Get("code") == "" || again.Get("state") != "state-2" {
			t.Fatalf("single sign-on: %v", again)
		}

		// The first code again: refused, and the grant it made is revoked.
		if _, err := app.config.Exchange(app.ctx, code, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("a replayed code: %v", err)
		}
		if app.refreshes(fresh.RefreshToken) {
			t.Fatal("the refresh token of a replayed code still works")
		}
		if r := f.c.bearer(http.MethodGet, "/v1/me", fresh.AccessToken, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("an access token of a replayed code at /v1/me: %d", r.Status)
		}
	})
}

// codeFlow signs addr in through browser b for app and exchanges the code.
func (app rp) codeFlow(t *testing.T, b *browser, addr string) (*oauth2.Token, *oidc.IDToken, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	got := b.authorize(app.config.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), url.Values{"email": {addr}, "password": {strongPassword}})
	return app.exchange(t, got.Get("code"), verifier)
}

// exchange redeems code with verifier and checks the id_token; it returns
// the tokens, the id_token and its compact form.
func (app rp) exchange(t *testing.T, code, verifier string) (*oauth2.Token, *oidc.IDToken, string) {
	t.Helper()
	tok, err := app.config.Exchange(app.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := app.verifier.Verify(app.ctx, raw)
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	return tok, idt, raw
}

// refreshes reports whether the refresh grant accepts refreshToken.
func (app rp) refreshes(refreshToken string) bool {
	_, err := app.config.TokenSource(app.ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	return err == nil
}

// form posts values to path of the instance, with Basic client
// authentication when id is set, and returns the status and JSON body.
func (f adminFixture) form(t *testing.T, path, id, secret string, values url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.inst.URL+path, strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// Client credentials, revocation, introspection and end session, on each
// store.
func TestOIDCTokensAndLogout(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		addr, _, _ := f.signedIn(t)
		app := newRP(t, f, map[string]any{"name": "Wiki", "type": "confidential", "redirect_uris": []string{"https://wiki.example.com/cb"},
			"post_logout_redirect_uris": []string{"https://wiki.example.com/bye"}, "grant_types": []string{"authorization_code", "refresh_token", "client_credentials"}})
		id, secret := app.config.ClientID, app.config.ClientSecret

		// A client's own token: its subject is the client; user endpoints
		// refuse it; introspection tells it.
		status, cc := f.form(t, "/token", id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"email"}})
		if status != http.StatusOK || cc["access_token"] == nil || cc["refresh_token"] != nil {
			t.Fatalf("client_credentials: %d %v", status, cc)
		}
		clientToken := cc["access_token"].(string)
		for _, path := range []string{"/v1/me", "/userinfo"} {
			if r := f.c.bearer(http.MethodGet, path, clientToken, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("GET %s with a client's token: %d %s", path, r.Status, r.Body)
			}
		}
		if status, in := f.form(t, "/introspect", id, secret, url.Values{"token": {clientToken}}); status != http.StatusOK || in["active"] != true || in["sub"] != id || in["client_id"] != id {
			t.Fatalf("introspect a client's token: %d %v", status, in)
		}
		if status, body := f.form(t, "/token", id, "ghc_wrong", url.Values{"grant_type": {"client_credentials"}}); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("a wrong secret: %d %v", status, body)
		}

		// Revoking a refresh token ends its grant.
		b := newBrowser(t, f.inst.URL)
		tok, _, _ := app.codeFlow(t, b, addr)
		if status, in := f.form(t, "/introspect", id, secret, url.Values{"token": {tok.AccessToken}}); status != http.StatusOK || in["active"] != true || in["sub"] == nil {
			t.Fatalf("introspect an access token: %d %v", status, in)
		}
		if status, _ := f.form(t, "/revoke", id, secret, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}); status != http.StatusOK {
			t.Fatalf("revoke: %d", status)
		}
		if app.refreshes(tok.RefreshToken) {
			t.Fatal("a revoked refresh token still works")
		}
		if status, in := f.form(t, "/introspect", id, secret, url.Values{"token": {tok.AccessToken}}); status != http.StatusOK || in["active"] != false || len(in) != 1 {
			t.Fatalf("introspect a revoked grant's access token: %d %v", status, in)
		}
		if status, _ := f.form(t, "/revoke", id, secret, url.Values{"token": {"not a token"}}); status != http.StatusOK {
			t.Fatalf("revoke an unknown token: %d", status)
		}

		// End session without a hint asks first; with the session's own
		// id_token it ends the browser session and its grants, and goes
		// back to the client with its state.
		tok, _, rawID := app.codeFlow(t, b, addr)
		status, page := b.get("/end-session?client_id=" + url.QueryEscape(id))
		if status != http.StatusOK || !strings.Contains(page, `name="confirm"`) {
			t.Fatalf("end session without a hint: %d %s", status, page)
		}
		if status, _ := b.post("/end-session", url.Values{"confirm": {"yes"}}, false); status != http.StatusForbidden {
			t.Fatalf("a confirmation without the CSRF token: %d", status)
		}
		if status, _ := b.get("/end-session?client_id=" + url.QueryEscape(id) + "&post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/")); status != http.StatusBadRequest {
			t.Fatalf("an unregistered post_logout_redirect_uri: %d", status)
		}
		q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {"https://wiki.example.com/bye"}, "state": {"bye-1"}}
		req, _ := http.NewRequest(http.MethodGet, f.inst.URL+"/end-session?"+q.Encode(), nil)
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://wiki.example.com/bye?state=bye-1" {
			t.Fatalf("end session: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		if app.refreshes(tok.RefreshToken) {
			t.Fatal("a grant's refresh token works after its browser session ended")
		}
		if status, body := b.get("/sign-in"); status != http.StatusOK || strings.Contains(body, "You are signed in") {
			t.Fatalf("after end session the browser is still signed in: %d", status)
		}

		// A relying party's server (no browser cookie) ends the session its
		// unexpired id_token names.
		tok, _, rawID = app.codeFlow(t, b, addr)
		res, err = http.Get(f.inst.URL + "/end-session?id_token_hint=" + url.QueryEscape(rawID))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("back-channel end session: %d", res.StatusCode)
		}
		if app.refreshes(tok.RefreshToken) {
			t.Fatal("a grant's refresh token works after a back-channel end session")
		}
		if _, body := b.get("/sign-in"); strings.Contains(body, "You are signed in") {
			t.Fatal("after a back-channel end session the browser is still signed in")
		}
	})
}

// Consents on each store: given on the consent page, listed, remembered;
// revoked, the grant made under it stops (its refresh token is
// invalid_grant), the session list no longer shows it, the audit trail
// records it, a code issued before it is refused, and the next
// authorization request asks again. A grant revoked from the session list
// ends too.
func TestOIDCConsentRevocation(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		addr, access, _ := f.signedIn(t)
		app := newRP(t, f, map[string]any{"name": "Notes", "type": "confidential", "redirect_uris": []string{"https://notes.example.com/cb"}, "consent": true,
			"grant_types": []string{"authorization_code", "refresh_token", "client_credentials"}})
		id := app.config.ClientID
		b := newBrowser(t, f.inst.URL)

		tok, idt, _ := app.codeFlow(t, b, addr)
		if b.consents != 1 {
			t.Fatalf("%d consent pages before the first code, want 1", b.consents)
		}
		list := f.c.getOK(t, "/v1/me/consents", access)["consents"].([]any)
		if len(list) != 1 {
			t.Fatalf("consents: %v", list)
		}
		c := list[0].(map[string]any)
		if c["client_id"] != id || c["client_name"] != "Notes" || len(c["scopes"].([]any)) != 2 || c["granted_at"] == "" {
			t.Fatalf("consent: %v", c)
		}
		// The grant is in the session list, named by its client.
		grantListed := func() bool {
			for _, s := range f.c.getOK(t, "/v1/me/sessions", access)["sessions"].([]any) {
				if s.(map[string]any)["client_id"] == id {
					return true
				}
			}
			return false
		}
		if !grantListed() {
			t.Fatal("the grant is not in the session list")
		}
		// Remembered: a second request answers at once. Its code is kept
		// for after the revocation.
		verifier := oauth2.GenerateVerifier()
		early := b.authorize(app.config.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)), nil).Get("code")
		if early == "" || b.consents != 1 {
			t.Fatalf("a second request: code %q after %d consent pages", early, b.consents)
		}

		// A client's own token is no user's: refused, as at /v1/me.
		status, cc := f.form(t, "/token", id, app.config.ClientSecret, url.Values{"grant_type": {"client_credentials"}})
		if status != http.StatusOK || cc["access_token"] == nil {
			t.Fatalf("client_credentials: %d %v", status, cc)
		}
		for _, m := range []string{http.MethodGet, http.MethodDelete} {
			path := "/v1/me/consents"
			if m == http.MethodDelete {
				path += "/" + url.PathEscape(id)
			}
			if r := f.c.bearer(m, path, cc["access_token"].(string), nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("%s %s with a client's token: %d %s", m, path, r.Status, r.Body)
			}
		}
		if r := f.c.bearer(http.MethodDelete, "/v1/me/consents/"+url.PathEscape(id), "not-a-token", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("revoke without a valid bearer: %d", r.Status)
		}

		if r := f.c.bearer(http.MethodDelete, "/v1/me/consents/"+url.PathEscape(id), access, nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke the consent: %d %s", r.Status, r.Body)
		}
		if r := f.c.bearer(http.MethodDelete, "/v1/me/consents/"+url.PathEscape(id), access, nil); r.Status != http.StatusNotFound || r.Code(t) != "not_found" {
			t.Fatalf("revoke it again: %d %s", r.Status, r.Body)
		}
		if list := f.c.getOK(t, "/v1/me/consents", access)["consents"].([]any); len(list) != 0 {
			t.Fatalf("consents after the revocation: %v", list)
		}
		_, err := app.config.TokenSource(app.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("the refresh token of a revoked consent: %v", err)
		}
		if grantListed() {
			t.Fatal("the grant of a revoked consent is still in the session list")
		}
		// A code issued before the revocation makes no grant after it.
		if _, err := app.config.Exchange(app.ctx, early, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("a code issued before the revocation: %v", err)
		}
		r := f.admin.call(http.MethodGet, "/admin/v1/audit?type=consent_revoked&user_id="+idt.Subject, nil)
		events, _ := r.JSON(t)["events"].([]any)
		if r.Status != http.StatusOK || len(events) != 1 {
			t.Fatalf("audit of the revocation: %d %s", r.Status, r.Body)
		}
		if d := events[0].(map[string]any)["detail"].(map[string]any); d["client_id"] != id || d["sessions_revoked"] != "1" {
			t.Fatalf("audit detail: %v", d)
		}

		// The next request asks for consent again.
		got := b.authorize(app.config.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier)), nil)
		if got.Get("code") == "" || b.consents != 2 {
			t.Fatalf("after the revocation: %v after %d consent pages, want a second one", got, b.consents)
		}

		// Revoking the grant from the session list ends it.
		tok, _, _ = app.exchange(t, got.Get("code"), verifier)
		var grantID string
		for _, s := range f.c.getOK(t, "/v1/me/sessions", access)["sessions"].([]any) {
			if s := s.(map[string]any); s["client_id"] == id {
				grantID = s["id"].(string)
			}
		}
		if grantID == "" {
			t.Fatal("the new grant is not in the session list")
		}
		if r := f.c.bearer(http.MethodDelete, "/v1/me/sessions/"+grantID, access, nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke the grant's session: %d %s", r.Status, r.Body)
		}
		if app.refreshes(tok.RefreshToken) {
			t.Fatal("a grant's refresh token works after its session was revoked")
		}
	})
}
