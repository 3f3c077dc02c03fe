// Command oidc-webapp is a server-rendered web app that signs its users in
// with Gatehouse: a confidential OpenID Connect client on go-oidc and
// x/oauth2, the "server-rendered web app" of docs/integrate.md.
//
//	ISSUER=https://auth.example.com CLIENT_ID=... CLIENT_SECRET=... \
//	REDIRECT_URL=http://127.0.0.1:3000/callback LISTEN=127.0.0.1:3000 \
//	go run ./examples/oidc-webapp
//
// Register it first:
//
//	gatehouse clients create --name "My app" --type confidential \
//	  --redirect-uri http://127.0.0.1:3000/callback \
//	  --post-logout-redirect-uri http://127.0.0.1:3000/
//
// Its session is a signed-in user's email in a cookie; a real app keeps a
// server-side session (and encrypts any cookie it must trust).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"log"
	"net/http"
	"net/url"
	"os"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	ctx := context.Background()
	issuer := os.Getenv("ISSUER")
	provider, err := oidc.NewProvider(ctx, issuer) // reads /.well-known/openid-configuration
	if err != nil {
		log.Fatal(err)
	}
	config := oauth2.Config{
		ClientID:     os.Getenv("CLIENT_ID"),
		ClientSecret: os.Getenv("CLIENT_SECRET"),
		RedirectURL:  os.Getenv("REDIRECT_URL"),
		Endpoint:     provider.Endpoint(),
		Scopes:       []string{oidc.ScopeOpenID, "email"},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: config.ClientID})
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		log.Fatal(err)
	}

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("user"); err == nil {
			fmt.Fprintf(w, "<p>Signed in as %s. <a href=\"/logout\">Sign out</a></p>", html.EscapeString(c.Value))
			return
		}
		fmt.Fprint(w, `<p><a href="/login">Sign in</a></p>`)
	})

	// /login sends the browser to Gatehouse with a fresh state, nonce and
	// PKCE verifier, kept in short-lived cookies until the callback.
	http.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		state, nonce, pkce := random(), random(), oauth2.GenerateVerifier()
		for name, v := range map[string]string{"state": state, "nonce": nonce, "pkce": pkce} {
			http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: "/", MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		http.Redirect(w, r, config.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)), http.StatusFound)
	})

	// /callback checks the state and the issuer (RFC 9207), redeems the
	// code with the verifier, and checks the id_token and its nonce.
	http.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		state, err1 := r.Cookie("state")
		nonce, err2 := r.Cookie("nonce")
		pkce, err3 := r.Cookie("pkce")
		if err1 != nil || err2 != nil || err3 != nil || q.Get("state") != state.Value || q.Get("iss") != issuer {
			http.Error(w, "the sign-in did not start here; start again", http.StatusBadRequest)
			return
		}
		if e := q.Get("error"); e != "" {
			http.Error(w, "sign-in refused: "+e, http.StatusForbidden)
			return
		}
		tok, err := config.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(pkce.Value))
		if err != nil {
			http.Error(w, "code exchange failed", http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != nonce.Value {
			http.Error(w, "invalid id_token", http.StatusBadGateway)
			return
		}
		var claims struct {
			Email string `json:"email"`
		}
		if err := idt.Claims(&claims); err != nil {
			http.Error(w, "invalid id_token", http.StatusBadGateway)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "user", Value: claims.Email, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.SetCookie(w, &http.Cookie{Name: "id_token", Value: raw, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/", http.StatusFound)
	})

	// /logout forgets the app's session and ends the Gatehouse session
	// too (RP-Initiated Logout), coming back to the app's home page.
	http.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"client_id": {config.ClientID}, "post_logout_redirect_uri": {home(config.RedirectURL)}}
		if c, err := r.Cookie("id_token"); err == nil {
			q.Set("id_token_hint", c.Value)
		}
		for _, name := range []string{"user", "id_token"} {
			http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1})
		}
		http.Redirect(w, r, meta.EndSession+"?"+q.Encode(), http.StatusFound)
	})

	log.Fatal(http.ListenAndServe(os.Getenv("LISTEN"), nil))
}

// random is 32 random bytes, base64url.
func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// home is the root of the app the redirect URL belongs to.
func home(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return "/"
	}
	return u.Scheme + "://" + u.Host + "/"
}
