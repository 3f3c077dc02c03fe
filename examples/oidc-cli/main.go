// Command oidc-cli is a command-line (native) app that signs its user in
// with Gatehouse: a public OpenID Connect client with PKCE and a loopback
// redirect (RFC 8252), the "CLI or native app" of docs/integrate.md.
//
//	ISSUER=https://auth.example.com CLIENT_ID=... go run ./examples/oidc-cli
//
// Register it with the loopback redirect URI; the port may be any, since
// the app listens wherever it gets one:
//
//	gatehouse clients create --name "My CLI" --type public --redirect-uri http://127.0.0.1/callback
//
// It prints the URL to open in a browser, waits for the browser to come
// back, and prints the signed-in user's id and email.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	ctx := context.Background()
	issuer := os.Getenv("ISSUER")
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // any free port: the loopback redirect may vary it
	if err != nil {
		log.Fatal(err)
	}
	config := oauth2.Config{
		ClientID:    os.Getenv("CLIENT_ID"), // a public client: no secret
		RedirectURL: fmt.Sprintf("http://%s/callback", l.Addr()),
		Endpoint:    provider.Endpoint(),
		Scopes:      []string{oidc.ScopeOpenID, "email"},
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	state, pkce := base64.RawURLEncoding.EncodeToString(b), oauth2.GenerateVerifier()
	fmt.Println(config.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)))

	codes := make(chan string, 1)
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("state") != state || q.Get("iss") != issuer || q.Get("code") == "" {
				http.Error(w, "this is not the sign-in this app started", http.StatusBadRequest)
				return
			}
			fmt.Fprintln(w, "Signed in. You can close this window.")
			codes <- q.Get("code")
		}))
	}()
	tok, err := config.Exchange(ctx, <-codes, oauth2.VerifierOption(pkce))
	if err != nil {
		log.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: config.ClientID}).Verify(ctx, raw)
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		log.Fatal(err)
	}
	fmt.Println(idt.Subject, claims.Email)
}
