package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "gatehouse"
)

// issuer is a fake Gatehouse: a JWKS endpoint that counts its fetches and
// whose keys and status the test changes.
type issuer struct {
	t       *testing.T
	srv     *httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	status  int
}

type signingKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newKey(t *testing.T) signingKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: base64.RawURLEncoding.EncodeToString(tp), priv: priv}
}

func (k signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(jose.EdDSA), Use: "sig"}
}

func newIssuer(t *testing.T, keys ...signingKey) *issuer {
	is := &issuer{t: t, status: http.StatusOK}
	is.publish(keys...)
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		if is.status != http.StatusOK {
			http.Error(w, "down", is.status)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: is.keys})
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) publish(keys ...signingKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = nil
	for _, k := range keys {
		is.keys = append(is.keys, k.public())
	}
}

func (is *issuer) setStatus(code int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.status = code
}

// clock is a settable time for the verifier.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (is *issuer) verifier(c *clock) *Verifier {
	v := NewVerifier(testIssuer, testAudience, is.srv.URL+"/.well-known/jwks.json")
	v.Now = c.Now
	return v
}

// token signs claims as Gatehouse does, with the given typ and kid.
func token(t *testing.T, k signingKey, typ, kid string, c Claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func claimsAt(now time.Time) Claims {
	return Claims{
		Claims: jwt.Claims{
			Issuer: testIssuer, Subject: "7d0c6bbf-4a51-4b8e-9d62-0d5c2f4f9c11", Audience: jwt.Audience{testAudience},
			Expiry: jwt.NewNumericDate(now.Add(15 * time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: "j1",
		},
		SessionID: "s1", Email: "ada@example.com", EmailVerified: true,
	}
}

func TestVerifyAcceptsAGatehouseAccessToken(t *testing.T) {
	k := newKey(t)
	is := newIssuer(t, k)
	c := &clock{now: time.Now()}
	v := is.verifier(c)
	got, err := v.Verify(context.Background(), token(t, k, AccessTokenType, k.kid, claimsAt(c.Now())))
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != "ada@example.com" || !got.EmailVerified || got.SessionID != "s1" {
		t.Fatalf("claims %+v", got)
	}
	// Cached: a second token needs no fetch.
	if _, err := v.Verify(context.Background(), token(t, k, "application/at+jwt", k.kid, claimsAt(c.Now()))); err != nil {
		t.Fatal(err)
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for two tokens of one key, want 1", n)
	}
	// Past the max-age (300 s) the set is fetched again.
	c.Advance(301 * time.Second)
	if _, err := v.Verify(context.Background(), token(t, k, AccessTokenType, k.kid, claimsAt(c.Now()))); err != nil {
		t.Fatal(err)
	}
	if n := is.fetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after the max-age, want 2", n)
	}
}

func TestVerifyRefusals(t *testing.T) {
	k, other := newKey(t), newKey(t)
	is := newIssuer(t, k)
	now := time.Now()
	good := token(t, k, AccessTokenType, k.kid, claimsAt(now))
	parts := strings.Split(good, ".")
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(raw, &payload)
	payload["email"] = "mallory@example.com"
	forged, _ := json.Marshal(payload)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]

	expired := claimsAt(now.Add(-time.Hour))
	wrongAud := claimsAt(now)
	wrongAud.Audience = jwt.Audience{"another-service"}
	wrongIss := claimsAt(now)
	wrongIss.Issuer = "https://evil.example"
	noExp := claimsAt(now)
	noExp.Expiry = nil

	hs256, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, (&jose.SignerOptions{}).WithType(AccessTokenType).WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	hsToken, err := jwt.Signed(hs256).Claims(claimsAt(now)).Serialize()
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		raw   string
		is    error  // errors.Is target, or nil
		text  string // a part of the message
		fetch bool   // the case reaches the JWKS
	}{
		{"tampered payload", tampered, ErrBadSignature, "bad signature", true},
		{"signed by another key under our kid", token(t, other, AccessTokenType, k.kid, claimsAt(now)), ErrBadSignature, "bad signature", true},
		{"typ JWT", token(t, k, "JWT", k.kid, claimsAt(now)), ErrWrongType, `typ is "JWT"`, false},
		{"no typ", token(t, k, "", k.kid, claimsAt(now)), ErrWrongType, "wrong typ", false},
		{"unknown kid", token(t, other, AccessTokenType, other.kid, claimsAt(now)), ErrUnknownKID, other.kid, true},
		{"no kid", token(t, k, AccessTokenType, "", claimsAt(now)), ErrUnknownKID, "no kid", false},
		{"HS256", hsToken, nil, "not an EdDSA-signed JWT", false},
		{"expired", token(t, k, AccessTokenType, k.kid, expired), jwt.ErrExpired, "expired", true},
		{"wrong audience", token(t, k, AccessTokenType, k.kid, wrongAud), jwt.ErrInvalidAudience, "aud", true},
		{"wrong issuer", token(t, k, AccessTokenType, k.kid, wrongIss), jwt.ErrInvalidIssuer, "iss", true},
		{"no exp", token(t, k, AccessTokenType, k.kid, noExp), nil, "no exp", true},
		{"garbage", "not.a.jwt", nil, "not an EdDSA-signed JWT", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := is.fetches.Load()
			v := is.verifier(&clock{now: now})
			_, err := v.Verify(context.Background(), tc.raw)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %q", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if fetched := is.fetches.Load() != before; fetched != tc.fetch {
				t.Errorf("JWKS fetched: %v, want %v (a malformed token must be refused before any fetch)", fetched, tc.fetch)
			}
		})
	}
}

// TestUnknownKidRefetchesOnceAndRateLimited: an unknown kid makes the
// verifier fetch the JWKS again, once, and not again before MinRefetch;
// after a rotation the new key's tokens verify with that one refetch.
func TestUnknownKidRefetchesOnceAndRateLimited(t *testing.T) {
	oldKey, rotated := newKey(t), newKey(t)
	is := newIssuer(t, oldKey)
	c := &clock{now: time.Now()}
	v := is.verifier(c)
	ctx := context.Background()
	if _, err := v.Verify(ctx, token(t, oldKey, AccessTokenType, oldKey.kid, claimsAt(c.Now()))); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates. Right after a fetch, an unknown kid is refused
	// without asking again.
	is.publish(oldKey, rotated)
	fresh := func() string { return token(t, rotated, AccessTokenType, rotated.kid, claimsAt(c.Now())) }
	for range 5 {
		if _, err := v.Verify(ctx, fresh()); !errors.Is(err, ErrUnknownKID) {
			t.Fatalf("unknown kid within MinRefetch: %v", err)
		}
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1: unknown kids within MinRefetch must not refetch", n)
	}
	c.Advance(v.MinRefetch)
	if _, err := v.Verify(ctx, fresh()); err != nil {
		t.Fatalf("the rotated key after one refetch: %v", err)
	}
	if n := is.fetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2", n)
	}
	// A made-up kid: one refetch per MinRefetch at most, however many tokens.
	bogus := newKeyWithKID(t, "made-up")
	c.Advance(v.MinRefetch)
	for range 5 {
		if _, err := v.Verify(ctx, token(t, bogus, AccessTokenType, bogus.kid, claimsAt(c.Now()))); !errors.Is(err, ErrUnknownKID) {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	if n := is.fetches.Load(); n != 3 {
		t.Fatalf("%d JWKS fetches after 5 made-up kids, want 3 (one refetch)", n)
	}
}

func newKeyWithKID(t *testing.T, kid string) signingKey {
	k := newKey(t)
	k.kid = kid
	return k
}

func TestJWKSStatusIsChecked(t *testing.T) {
	k := newKey(t)
	is := newIssuer(t, k)
	is.setStatus(http.StatusServiceUnavailable)
	v := is.verifier(&clock{now: time.Now()})
	_, err := v.Verify(context.Background(), token(t, k, AccessTokenType, k.kid, claimsAt(time.Now())))
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("JWKS answering 503: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	k := newKey(t)
	is := newIssuer(t, k)
	raw := token(t, k, AccessTokenType, k.kid, claimsAt(time.Now()))
	args := []string{"-issuer", testIssuer, "-jwks", is.srv.URL + "/.well-known/jwks.json"}

	var out, errOut bytes.Buffer
	if code := run(context.Background(), append(args, raw), nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `"email": "ada@example.com"`) {
		t.Fatalf("output %s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), args, strings.NewReader("Bearer "+raw+"\n"), &out, &errOut); code != 0 {
		t.Fatalf("token on stdin: exit %d: %s", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), append(args, "-audience", "billing", raw), nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "token refused") {
		t.Fatalf("wrong audience: exit %d: %s", code, errOut.String())
	}
	if code := run(context.Background(), []string{"a", "b"}, nil, &out, &errOut); code != 2 {
		t.Fatalf("two tokens: exit %d", code)
	}
}
