// Package upstreamtest runs upstream identity providers for tests: an
// OpenID Connect provider (discovery and keys from go-oidc's oidctest,
// id_tokens signed with a test key) and a fake of GitHub's OAuth
// endpoints and API. Each approves every authorization request at once
// for the user it is told to be, checks the PKCE verifier and the client
// at the token endpoint, and redirects back with the code and the state.
// Test code only.
package upstreamtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// User is who the provider says signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
}

// grant is one code handed out.
type grant struct {
	user      User
	nonce     string
	challenge string
	redirect  string
}

// Provider is a running test provider.
type Provider struct {
	URL          string
	ClientID     string
	ClientSecret string

	mu    sync.Mutex
	user  User
	codes map[string]grant
	// WrongNonce makes the next id_tokens carry another nonce.
	wrongNonce bool
	// Tokens counts the codes redeemed.
	redeemed int
}

// SetUser makes u the one who signs in next.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// SetWrongNonce makes the id_tokens carry a nonce other than the
// request's (on) or the request's (off).
func (p *Provider) SetWrongNonce(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wrongNonce = on
}

// Redeemed is how many codes the token endpoint exchanged.
func (p *Provider) Redeemed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.redeemed
}

// authorize answers an authorization request with a code for the current
// user, back at its redirect_uri with its state; nonce and challenge are
// kept for the exchange.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := random()
	p.mu.Lock()
	p.codes[code] = grant{user: p.user, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	p.mu.Unlock()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// redeem checks a token request (client, code once, redirect URI, PKCE)
// and returns the code's grant.
func (p *Provider) redeem(w http.ResponseWriter, r *http.Request) (grant, bool) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return grant{}, false
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	g, found := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case id != p.ClientID || secret != p.ClientSecret:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
	case !found || g.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
	default:
		p.redeemed++
		return g, true
	}
	return grant{}, false
}

// NewOIDC starts an OpenID Connect provider for the client clientID with
// secret secret, on a loopback address; it stops with the test.
func NewOIDC(t testing.TB, clientID, secret string) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "test-key", Algorithm: oidc.RS256}}}
	p := &Provider{ClientID: clientID, ClientSecret: secret, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.Handle("/", op)
	mux.HandleFunc("GET /auth", p.authorize)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		g, ok := p.redeem(w, r)
		if !ok {
			return
		}
		p.mu.Lock()
		nonce := g.nonce
		if p.wrongNonce {
			nonce = "not-" + nonce
		}
		p.mu.Unlock()
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{
			"iss": p.URL, "aud": p.ClientID, "sub": g.user.Subject, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"nonce": nonce, "email": g.user.Email, "email_verified": g.user.EmailVerified,
		})
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": random(), "token_type": "Bearer", "expires_in": 300,
			"id_token": oidctest.SignIDToken(key, "test-key", oidc.RS256, string(claims)),
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	op.SetIssuer(srv.URL)
	return p
}

// NewGitHub starts a fake of GitHub's OAuth endpoints
// (URL/login/oauth/authorize, URL/login/oauth/access_token) and API
// (URL/api/user, URL/api/user/emails, as GitHub Enterprise Server lays
// them out); the user's Subject must be a number.
func NewGitHub(t testing.TB, clientID, secret string) *Provider {
	t.Helper()
	p := &Provider{ClientID: clientID, ClientSecret: secret, codes: map[string]grant{}}
	tokens := map[string]User{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", p.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		g, ok := p.redeem(w, r)
		if !ok {
			return
		}
		tok := random()
		p.mu.Lock()
		tokens[tok] = g.user
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "scope": "read:user,user:email"})
	})
	user := func(r *http.Request) (User, bool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		const prefix = "Bearer "
		h := r.Header.Get("Authorization")
		if len(h) <= len(prefix) || h[:len(prefix)] != prefix {
			return User{}, false
		}
		u, ok := tokens[h[len(prefix):]]
		return u, ok
	}
	mux.HandleFunc("GET /api/user", func(w http.ResponseWriter, r *http.Request) {
		u, ok := user(r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
			return
		}
		id, _ := strconv.ParseInt(u.Subject, 10, 64)
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "login": "octo" + u.Subject, "email": nil})
	})
	mux.HandleFunc("GET /api/user/emails", func(w http.ResponseWriter, r *http.Request) {
		u, ok := user(r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
			return
		}
		writeJSON(w, http.StatusOK, []map[string]any{
			{"email": "other-" + u.Email, "primary": false, "verified": true},
			{"email": u.Email, "primary": true, "verified": u.EmailVerified},
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
