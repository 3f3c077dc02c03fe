package main

import (
	"context"
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
// page when it comes.
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
		tok, err := app.config.Exchange(app.ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := app.verifier.Verify(app.ctx, raw)
		if err != nil {
			t.Fatalf("id_token: %v", err)
		}
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
		if _, err := app.config.TokenSource(app.ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
			t.Fatal("the refresh token of a replayed code still works")
		}
		if r := f.c.bearer(http.MethodGet, "/v1/me", fresh.AccessToken, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("an access token of a replayed code at /v1/me: %d", r.Status)
		}
	})
}
