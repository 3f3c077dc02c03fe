package jwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

type fakeClock struct{ now atomic.Pointer[time.Time] }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.Set(t)
	return c
}
func (c *fakeClock) Now() time.Time      { return *c.now.Load() }
func (c *fakeClock) Set(t time.Time)     { c.now.Store(&t) }
func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

type seqIDs struct{}

func (seqIDs) NewID() uuid.UUID { return uuid.New() }

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	issuer   = "https://auth.example.com"
	audience = "gatehouse"
	ttl      = 15 * time.Minute
)

type fixture struct {
	key    ed25519.PrivateKey
	clock  *fakeClock
	tokens *jwt.Tokens
}

// freshKey is a new random signing key.
func freshKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	seed, err := jwt.GenerateSeed()
	if err != nil {
		tb.Fatal(err)
	}
	key, err := jwt.KeyFromSeed(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{key: freshKey(t), clock: newClock(t0)}
	f.tokens = f.newTokens(t, jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl})
	return f
}

func (f *fixture) newTokens(t *testing.T, cfg jwt.Config) *jwt.Tokens {
	t.Helper()
	tok, err := jwt.New(f.key, cfg, f.clock, seqIDs{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tok
}

func sampleClaims() app.AccessClaims {
	return app.AccessClaims{Subject: uuid.New(), SessionID: uuid.New(), Email: "ann@example.com", EmailVerified: true}
}

func (f *fixture) issue(t *testing.T) (string, app.AccessClaims) {
	t.Helper()
	s, c, err := f.tokens.Issue(context.Background(), sampleClaims())
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return s, c
}

// kidOf computes the RFC 7638 thumbprint by hand.
func kidOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// segment is the JSON of part i of a compact token (0 the header, 1 the
// claims).
func segment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// sign makes a compact JWS of claims with any key, algorithm and options.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) goodClaims() map[string]any {
	return map[string]any{
		"iss": issuer, "sub": uuid.NewString(), "aud": audience,
		"exp": t0.Add(ttl).Unix(), "iat": t0.Unix(), "jti": uuid.NewString(),
		"sid": uuid.NewString(), "email": "ann@example.com", "email_verified": true,
	}
}

func (f *fixture) opts() *jose.SignerOptions {
	return (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kidOf(f.key.Public().(ed25519.PublicKey)))
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := sampleClaims()
	signed, out, err := f.tokens.Issue(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	pub := f.key.Public().(ed25519.PublicKey)
	wantKid := kidOf(pub)
	if f.tokens.KeyID() != wantKid {
		t.Fatalf("KeyID = %q; want RFC 7638 thumbprint %q", f.tokens.KeyID(), wantKid)
	}
	h := segment(t, signed, 0)
	if len(h) != 3 || h["alg"] != "EdDSA" || h["typ"] != "at+jwt" || h["kid"] != wantKid {
		t.Fatalf("header = %v; want exactly alg EdDSA, typ at+jwt, kid %s", h, wantKid)
	}
	if _, err := uuid.Parse(out.ID); err != nil {
		t.Fatalf("jti %q is not a UUID", out.ID)
	}
	if !out.IssuedAt.Equal(t0) || !out.ExpiresAt.Equal(t0.Add(ttl)) {
		t.Fatalf("iat, exp = %v, %v; want %v, %v", out.IssuedAt, out.ExpiresAt, t0, t0.Add(ttl))
	}
	p := segment(t, signed, 1)
	want := map[string]any{
		"iss": issuer, "sub": in.Subject.String(), "aud": audience,
		"exp": float64(t0.Add(ttl).Unix()), "iat": float64(t0.Unix()), "jti": out.ID,
		"sid": in.SessionID.String(), "email": "ann@example.com", "email_verified": true,
	}
	if len(p) != len(want) {
		t.Errorf("payload has %d claims: %v; want %d", len(p), p, len(want))
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("claim %s = %#v; want %#v", k, p[k], v)
		}
	}
	f.clock.Add(ttl - time.Second)
	got, err := f.tokens.Verify(context.Background(), signed)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !reflect.DeepEqual(got, out) {
		t.Fatalf("Verify = %+v; want %+v", got, out)
	}
	// Expiry is strict: the leeway is for iat only.
	f.clock.Set(t0.Add(ttl))
	if _, err := f.tokens.Verify(context.Background(), signed); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("Verify at exp: %v", err)
	}
	// RFC 9068's media-type form of typ is accepted too.
	tok := sign(t, jose.EdDSA, f.key, (&jose.SignerOptions{}).WithType("application/at+jwt").WithHeader("kid", wantKid), f.goodClaims())
	f.clock.Set(t0)
	if _, err := f.tokens.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify typ application/at+jwt: %v", err)
	}
}

func TestIssueRequiresSubjectAndSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := sampleClaims()
	c.SessionID = uuid.Nil
	if _, _, err := f.tokens.Issue(context.Background(), c); err == nil {
		t.Fatal("Issue without a session id succeeded")
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pub := f.key.Public().(ed25519.PublicKey)
	kid := kidOf(pub)
	good, _ := f.issue(t)
	parts := strings.Split(good, ".")
	_, foreign, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreignPub := foreign.Public().(ed25519.PublicKey)

	// An edited payload keeps the original header and signature.
	p := segment(t, good, 1)
	p["email"] = "mallory@example.com"
	edited := parts[0] + "." + b64json(t, p) + "." + parts[2]
	p["email"] = "ann@example.com"
	p["email_verified"] = false
	edited2 := parts[0] + "." + b64json(t, p) + "." + parts[2]

	without := func(claim string) map[string]any {
		c := f.goodClaims()
		delete(c, claim)
		return c
	}
	with := func(claim string, v any) map[string]any {
		c := f.goodClaims()
		c[claim] = v
		return c
	}
	wrongAud := f.newTokens(t, jwt.Config{Issuer: issuer, Audience: "other", TTL: ttl})
	wrongIss := f.newTokens(t, jwt.Config{Issuer: "https://evil.example", Audience: audience, TTL: ttl})
	issueWith := func(tk *jwt.Tokens, c app.AccessClaims) string {
		s, _, err := tk.Issue(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	long := sampleClaims()
	long.Email = strings.Repeat("a", jwt.MaxTokenLength) + "@example.com"

	cases := map[string]string{
		"empty":                    "",
		"garbage":                  "not a token",
		"dots":                     "..",
		"two segments":             parts[0] + "." + parts[1],
		"four segments":            good + ".x",
		"bad base64":               "!!!." + parts[1] + "." + parts[2],
		"header not json":          base64.RawURLEncoding.EncodeToString([]byte("hello")) + "." + parts[1] + "." + parts[2],
		"eyJ junk":                 "eyJ.eyJ.sig",
		"padded base64":            parts[0] + "=." + parts[1] + "." + parts[2],
		"alg none":                 b64json(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + ".",
		"alg none sig kept":        b64json(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2],
		"alg lowercase":            b64json(t, map[string]any{"alg": "eddsa", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2],
		"HS256 with public key":    sign(t, jose.HS256, []byte(pub), f.opts(), f.goodClaims()),
		"HS256 with jwks json":     sign(t, jose.HS256, f.tokens.JWKS(), f.opts(), f.goodClaims()),
		"foreign key same kid":     sign(t, jose.EdDSA, foreign, f.opts(), f.goodClaims()),
		"embedded jwk of attacker": sign(t, jose.EdDSA, foreign, &jose.SignerOptions{EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{"typ": "at+jwt", "kid": kid}}, f.goodClaims()),
		"embedded jwk of ours":     sign(t, jose.EdDSA, f.key, &jose.SignerOptions{EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{"typ": "at+jwt", "kid": kid}}, f.goodClaims()),
		"jku header":               sign(t, jose.EdDSA, f.key, f.opts().WithHeader("jku", "https://evil.example/jwks"), f.goodClaims()),
		"x5u header":               sign(t, jose.EdDSA, f.key, f.opts().WithHeader("x5u", "https://evil.example/cert"), f.goodClaims()),
		"crit header":              sign(t, jose.EdDSA, f.key, f.opts().WithHeader("crit", []string{"exp"}), f.goodClaims()),
		"edited email":             edited,
		"edited email_verified":    edited2,
		"signature of other token": parts[0] + "." + parts[1] + "." + strings.Split(issueWith(f.tokens, sampleClaims()), ".")[2],
		"wrong aud":                issueWith(wrongAud, sampleClaims()),
		"wrong iss":                issueWith(wrongIss, sampleClaims()),
		"aud array without ours":   sign(t, jose.EdDSA, f.key, f.opts(), with("aud", []string{"a", "b"})),
		"typ JWT":                  sign(t, jose.EdDSA, f.key, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid), f.goodClaims()),
		"no typ":                   sign(t, jose.EdDSA, f.key, (&jose.SignerOptions{}).WithHeader("kid", kid), f.goodClaims()),
		"missing kid":              sign(t, jose.EdDSA, f.key, (&jose.SignerOptions{}).WithType("at+jwt"), f.goodClaims()),
		"other kid":                sign(t, jose.EdDSA, f.key, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kidOf(foreignPub)), f.goodClaims()),
		"expired beyond leeway":    sign(t, jose.EdDSA, f.key, f.opts(), with("exp", t0.Add(-31*time.Second).Unix())),
		"issued in the future":     sign(t, jose.EdDSA, f.key, f.opts(), with("iat", t0.Add(time.Minute).Unix())),
		"no exp":                   sign(t, jose.EdDSA, f.key, f.opts(), without("exp")),
		"no iat":                   sign(t, jose.EdDSA, f.key, f.opts(), without("iat")),
		"no jti":                   sign(t, jose.EdDSA, f.key, f.opts(), without("jti")),
		"no sub":                   sign(t, jose.EdDSA, f.key, f.opts(), without("sub")),
		"no sid":                   sign(t, jose.EdDSA, f.key, f.opts(), without("sid")),
		"sub not uuid":             sign(t, jose.EdDSA, f.key, f.opts(), with("sub", "admin")),
		"sid not uuid":             sign(t, jose.EdDSA, f.key, f.opts(), with("sid", "{"+uuid.NewString()+"}")),
		"sub nil uuid":             sign(t, jose.EdDSA, f.key, f.opts(), with("sub", uuid.Nil.String())),
		"exp wrong type":           sign(t, jose.EdDSA, f.key, f.opts(), with("exp", "tomorrow")),
		"over-long":                issueWith(f.tokens, long),
	}
	for name, tok := range cases {
		got, err := f.tokens.Verify(context.Background(), tok)
		if !errors.Is(err, domain.ErrUnauthorized) {
			t.Errorf("%s: Verify err = %v; want ErrUnauthorized", name, err)
		}
		if !reflect.DeepEqual(got, app.AccessClaims{}) {
			t.Errorf("%s: Verify returned claims %+v", name, got)
		}
	}
	// The good token still passes, so the refusals above are not vacuous.
	if _, err := f.tokens.Verify(context.Background(), good); err != nil {
		t.Fatalf("good token: %v", err)
	}
	if _, err := f.tokens.Verify(context.Background(), sign(t, jose.EdDSA, f.key, f.opts(), f.goodClaims())); err != nil {
		t.Fatalf("hand-signed good token: %v", err)
	}
}

func TestVerifyExpiredByClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	signed, _ := f.issue(t)
	f.clock.Add(ttl + time.Second)
	if _, err := f.tokens.Verify(context.Background(), signed); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("expired token: err = %v; want ErrUnauthorized", err)
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(f.tokens.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("JWKS has %d keys; want 1", len(doc.Keys))
	}
	k := doc.Keys[0]
	pub := f.key.Public().(ed25519.PublicKey)
	want := map[string]any{
		"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub),
		"kid": kidOf(pub), "alg": "EdDSA", "use": "sig",
	}
	if len(k) != len(want) {
		t.Errorf("JWK has fields %v; want exactly %v", k, want)
	}
	for name, v := range want {
		if k[name] != v {
			t.Errorf("JWK %s = %v; want %v", name, k[name], v)
		}
	}
	if _, ok := k["d"]; ok {
		t.Fatal("JWKS leaks the private key")
	}
	// A verifier using only the published set accepts our tokens.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(f.tokens.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	signed, _ := f.issue(t)
	jws, err := jose.ParseSignedCompact(signed, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 || !keys[0].IsPublic() {
		t.Fatalf("kid lookup in JWKS found %d keys", len(keys))
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Fatalf("verify with JWKS key: %v", err)
	}
	if tp, _ := keys[0].Thumbprint(crypto.SHA256); base64.RawURLEncoding.EncodeToString(tp) != f.tokens.KeyID() {
		t.Fatal("JWKS key thumbprint differs from kid")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}
	bad := map[string]func() (*jwt.Tokens, error){
		"short key": func() (*jwt.Tokens, error) { return jwt.New(f.key[:32], good, f.clock, seqIDs{}) },
		"nil clock": func() (*jwt.Tokens, error) { return jwt.New(f.key, good, nil, seqIDs{}) },
		"nil ids":   func() (*jwt.Tokens, error) { return jwt.New(f.key, good, f.clock, nil) },
		"no issuer": func() (*jwt.Tokens, error) {
			return jwt.New(f.key, jwt.Config{Audience: audience, TTL: ttl}, f.clock, seqIDs{})
		},
		"no audience": func() (*jwt.Tokens, error) {
			return jwt.New(f.key, jwt.Config{Issuer: issuer, TTL: ttl}, f.clock, seqIDs{})
		},
		"no ttl": func() (*jwt.Tokens, error) {
			return jwt.New(f.key, jwt.Config{Issuer: issuer, Audience: audience}, f.clock, seqIDs{})
		},
		"neg leeway": func() (*jwt.Tokens, error) {
			return jwt.New(f.key, jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl, Leeway: -1}, f.clock, seqIDs{})
		},
	}
	for name, fn := range bad {
		if _, err := fn(); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestConcurrentIssueVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			s, c, err := f.tokens.Issue(context.Background(), sampleClaims())
			if err != nil {
				t.Error(err)
				return
			}
			if got, err := f.tokens.Verify(context.Background(), s); err != nil || !reflect.DeepEqual(got, c) {
				t.Errorf("Verify = %+v, %v", got, err)
			}
		})
	}
	wg.Wait()
}

func TestKeys(t *testing.T) {
	t.Parallel()
	seed, err := jwt.GenerateSeed()
	if err != nil || len(seed) != 32 {
		t.Fatalf("GenerateSeed = %d bytes, %v", len(seed), err)
	}
	k1, err := jwt.KeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := jwt.KeyFromSeed(seed)
	if !k1.Equal(k2) {
		t.Fatal("KeyFromSeed is not deterministic")
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := jwt.KeyFromSeed(make([]byte, n)); err == nil {
			t.Errorf("KeyFromSeed(%d bytes) succeeded", n)
		}
	}

	pemBytes, err := jwt.MarshalPrivateKeyPEM(k1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(pemBytes), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("PEM = %q", pemBytes)
	}
	back, err := jwt.ParsePrivateKeyPEM(pemBytes)
	if err != nil || !back.Equal(k1) {
		t.Fatalf("ParsePrivateKeyPEM round trip: %v", err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if fromFile, err := jwt.LoadPrivateKeyFile(path); err != nil || !fromFile.Equal(k1) {
		t.Fatalf("LoadPrivateKeyFile: %v", err)
	}
	if _, err := jwt.LoadPrivateKeyFile(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("LoadPrivateKeyFile(missing) succeeded")
	}
	if _, err := jwt.MarshalPrivateKeyPEM(k1[:10]); err == nil {
		t.Fatal("MarshalPrivateKeyPEM(short key) succeeded")
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecSEC, _ := x509.MarshalECPrivateKey(ec)
	for name, data := range map[string][]byte{
		"ecdsa pkcs8":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"ec private key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecSEC}),
		"public key":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
		"bad der":        pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"not pem":        []byte("hello"),
		"empty":          nil,
	} {
		if _, err := jwt.ParsePrivateKeyPEM(data); err == nil {
			t.Errorf("%s: ParsePrivateKeyPEM succeeded", name)
		}
	}
}

func FuzzVerify(f *testing.F) {
	clock := newClock(t0)
	tokens, err := jwt.New(freshKey(f), jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, clock, seqIDs{})
	if err != nil {
		f.Fatal(err)
	}
	good, _, _ := tokens.Issue(context.Background(), sampleClaims())
	f.Add(good)
	f.Add("")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := tokens.Verify(context.Background(), s)
		if err != nil && !errors.Is(err, domain.ErrUnauthorized) {
			t.Fatalf("Verify err = %v; want nil or ErrUnauthorized", err)
		}
		if err == nil && s != good {
			t.Fatalf("Verify accepted a token it did not issue: %q (%+v)", s, c)
		}
	})
}
