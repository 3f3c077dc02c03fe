package jwt_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// rsaKeys are RSA keys made once for the tests of this package (making
// one takes a while).
var rsaKeys = sync.OnceValues(func() ([]app.SigningKey, error) {
	tk, err := jwt.NewWithoutKeys(jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, newClock(t0), seqIDs{})
	if err != nil {
		return nil, err
	}
	var out []app.SigningKey
	for range 2 {
		k, err := tk.GenerateKey(signingkey.RS256)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
})

// rsaKey is the i-th (0 or 1) RSA key of the tests.
func rsaKey(tb testing.TB, i int) app.SigningKey {
	tb.Helper()
	ks, err := rsaKeys()
	if err != nil {
		tb.Fatal(err)
	}
	return ks[i]
}

func newKey(t *testing.T, tk *jwt.Tokens, alg signingkey.Algorithm) app.SigningKey {
	t.Helper()
	k, err := tk.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// edKeys is a key set of EdDSA keys only.
func edKeys(ak app.AlgKeys) app.KeySet {
	return app.KeySet{Keys: map[signingkey.Algorithm]app.AlgKeys{signingkey.EdDSA: ak}}
}

// bothKeys is a key set of both algorithms.
func bothKeys(ed, rs app.AlgKeys) app.KeySet {
	return app.KeySet{Keys: map[signingkey.Algorithm]app.AlgKeys{signingkey.EdDSA: ed, signingkey.RS256: rs}}
}

type jwk struct {
	KID string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func jwksKeys(t *testing.T, tk *jwt.Tokens) []jwk {
	t.Helper()
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(tk.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Keys
}

func jwksKIDs(t *testing.T, tk *jwt.Tokens) []string {
	t.Helper()
	var kids []string
	for _, k := range jwksKeys(t, tk) {
		kids = append(kids, k.KID)
	}
	slices.Sort(kids)
	return kids
}

func issueKID(t *testing.T, tk *jwt.Tokens) (string, string) {
	t.Helper()
	signed, _, err := tk.Issue(context.Background(), app.AccessClaims{Subject: uuid.New(), SessionID: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	return signed, segment(t, signed, 0)["kid"].(string)
}

// A rotation as the signer sees it: the next key is published at once and
// signs from its activation time; tokens of the old key verify while it is
// in the set and are refused once it leaves.
func TestUseKeysFollowsARotation(t *testing.T) {
	clock := newClock(t0)
	tk, err := jwt.NewWithoutKeys(jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, clock, seqIDs{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tk.Issue(context.Background(), app.AccessClaims{Subject: uuid.New(), SessionID: uuid.New()}); err == nil {
		t.Fatal("issued without a key")
	}
	if got := jwksKIDs(t, tk); len(got) != 0 {
		t.Fatalf("JWKS without keys lists %v", got)
	}
	k1, k2 := newKey(t, tk, signingkey.EdDSA), newKey(t, tk, signingkey.EdDSA)
	if err := tk.UseKeys(edKeys(app.AlgKeys{Current: k1, Next: &k2, NextAt: t0.Add(time.Minute)})); err != nil {
		t.Fatal(err)
	}
	if want := []string{k1.KID, k2.KID}; !slices.Equal(jwksKIDs(t, tk), sorted(want)) {
		t.Fatalf("JWKS %v, want both keys", jwksKIDs(t, tk))
	}
	old, kid := issueKID(t, tk)
	if kid != k1.KID {
		t.Fatalf("before the activation time signed with %s", kid)
	}
	clock.Set(t0.Add(time.Minute))
	fresh, kid := issueKID(t, tk)
	if kid != k2.KID || tk.KeyID() != k2.KID {
		t.Fatalf("from the activation time signed with %s", kid)
	}
	for _, tok := range []string{old, fresh} {
		if _, err := tk.Verify(context.Background(), tok); err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
	// Promoted: k1 retired but published.
	if err := tk.UseKeys(edKeys(app.AlgKeys{Current: k2, Retired: []app.SigningKey{k1}})); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(context.Background(), old); err != nil {
		t.Fatalf("a retired, published key's token: %v", err)
	}
	// Gone (or retired by hand): its tokens are refused at once.
	if err := tk.UseKeys(edKeys(app.AlgKeys{Current: k2})); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(context.Background(), old); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("a dropped key's token: %v", err)
	}
	if got := jwksKIDs(t, tk); !slices.Equal(got, []string{k2.KID}) {
		t.Fatalf("JWKS %v after the old key left", got)
	}
}

// The RS256 keys rotate like the EdDSA ones: CurrentSigner hands out the
// current key until the next one's activation time, then the next one.
func TestCurrentSignerFollowsARotation(t *testing.T) {
	clock := newClock(t0)
	tk, _ := jwt.NewWithoutKeys(jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, clock, seqIDs{})
	if _, err := tk.CurrentSigner(signingkey.RS256); err == nil {
		t.Fatal("a signer without keys")
	}
	ed := newKey(t, tk, signingkey.EdDSA)
	r1, r2 := rsaKey(t, 0), rsaKey(t, 1)
	if err := tk.UseKeys(bothKeys(app.AlgKeys{Current: ed}, app.AlgKeys{Current: r1, Next: &r2, NextAt: t0.Add(time.Minute)})); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at  time.Time
		kid string
	}{{t0, r1.KID}, {t0.Add(time.Minute - time.Nanosecond), r1.KID}, {t0.Add(time.Minute), r2.KID}} {
		clock.Set(step.at)
		s, err := tk.CurrentSigner(signingkey.RS256)
		if err != nil || s.KID != step.kid || s.Alg != signingkey.RS256 {
			t.Fatalf("at %v: signer %s %s, %v; want %s", step.at, s.KID, s.Alg, err, step.kid)
		}
	}
	// Access tokens stay EdDSA whatever the RS256 keys do.
	if _, kid := issueKID(t, tk); kid != ed.KID {
		t.Fatalf("access token signed with %s, want the EdDSA key", kid)
	}
	s, err := tk.CurrentSigner(signingkey.EdDSA)
	if err != nil || s.KID != ed.KID || s.Alg != signingkey.EdDSA {
		t.Fatalf("EdDSA signer %+v, %v", s, err)
	}
}

// The RS256 signer signs with the key the JWKS publishes under its kid:
// a verifier holding only the JWKS checks the signature (RSA 2048, PKCS #1
// v1.5, SHA-256), and the kid is the RFC 7638 thumbprint of n and e.
func TestCurrentSignerRS256VerifiesWithTheJWKS(t *testing.T) {
	tk, _ := jwt.NewWithoutKeys(jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, newClock(t0), seqIDs{})
	r1 := rsaKey(t, 0)
	if err := tk.UseKeys(bothKeys(app.AlgKeys{Current: newKey(t, tk, signingkey.EdDSA)}, app.AlgKeys{Current: r1})); err != nil {
		t.Fatal(err)
	}
	s, err := tk.CurrentSigner(signingkey.RS256)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := s.Key.(*rsa.PrivateKey)
	if !ok || priv.N.BitLen() != jwt.RSABits || priv.Precomputed.Dp == nil {
		t.Fatalf("the RS256 key is %T (%v), not a precomputed RSA key of %d bits", s.Key, ok, jwt.RSABits)
	}
	again, _ := tk.CurrentSigner(signingkey.RS256)
	if again.Key != s.Key {
		t.Fatal("the RS256 key is opened again for each signer, not kept")
	}
	msg := []byte("header.claims")
	sum := sha256.Sum256(msg)
	sig, err := s.Key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(tk.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	found := set.Key(s.KID)
	if len(found) != 1 || found[0].Algorithm != "RS256" || found[0].Use != "sig" || !found[0].IsPublic() {
		t.Fatalf("JWKS entry of %s: %+v", s.KID, found)
	}
	pub, ok := found[0].Key.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("JWKS key is %T", found[0].Key)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("the signature does not verify with the published key: %v", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	tp := sha256.Sum256([]byte(`{"e":"` + b64(big.NewInt(int64(pub.E)).Bytes()) + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`))
	if b64(tp[:]) != s.KID {
		t.Fatalf("kid %s is not the RFC 7638 thumbprint %s", s.KID, b64(tp[:]))
	}
}

// The JWKS publishes every published key of both algorithms, each with
// alg, use sig and kid, EdDSA keys first.
func TestJWKSPublishesBothAlgorithms(t *testing.T) {
	tk, _ := jwt.NewWithoutKeys(jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, newClock(t0), seqIDs{})
	e1, e2 := newKey(t, tk, signingkey.EdDSA), newKey(t, tk, signingkey.EdDSA)
	r1, r2 := rsaKey(t, 0), rsaKey(t, 1)
	if err := tk.UseKeys(bothKeys(app.AlgKeys{Current: e1, Next: &e2, NextAt: t0}, app.AlgKeys{Current: r2, Retired: []app.SigningKey{r1}})); err != nil {
		t.Fatal(err)
	}
	got := jwksKeys(t, tk)
	want := []jwk{
		{KID: e1.KID, Kty: "OKP", Alg: "EdDSA", Use: "sig"},
		{KID: e2.KID, Kty: "OKP", Alg: "EdDSA", Use: "sig"},
		{KID: r2.KID, Kty: "RSA", Alg: "RS256", Use: "sig"},
		{KID: r1.KID, Kty: "RSA", Alg: "RS256", Use: "sig"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("JWKS %+v, want %+v", got, want)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(tk.JWKS(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range raw.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS leaks the private %s of %v", private, k["kid"])
			}
		}
	}
}

// An RS256 access token is refused, even signed by a published RS256 key
// with its kid and typ at+jwt: access tokens are EdDSA only.
func TestRS256AccessTokenIsRefused(t *testing.T) {
	f := newFixture(t)
	r1 := rsaKey(t, 0)
	cur := app.SigningKey{KID: kidOf(f.key.Public().(ed25519.PublicKey)), Alg: signingkey.EdDSA, Private: f.key.Seed()}
	if err := f.tokens.UseKeys(bothKeys(app.AlgKeys{Current: cur}, app.AlgKeys{Current: r1})); err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(r1.Private)
	if err != nil {
		t.Fatal(err)
	}
	_, claims := f.issue(t)
	body := map[string]any{
		"iss": issuer, "aud": audience, "sub": claims.Subject.String(), "sid": claims.SessionID.String(), "jti": "j",
		"iat": t0.Unix(), "exp": t0.Add(ttl).Unix(),
	}
	for name, alg := range map[string]jose.SignatureAlgorithm{"RS256": jose.RS256, "PS256": jose.PS256} {
		opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", r1.KID)
		if _, err := f.tokens.Verify(context.Background(), sign(t, alg, priv, opts, body)); !errors.Is(err, domain.ErrUnauthorized) {
			t.Errorf("%s access token by the published RS256 key: %v, want refused", name, err)
		}
	}
	// The EdDSA token of the same set still verifies.
	signed, _ := f.issue(t)
	if _, err := f.tokens.Verify(context.Background(), signed); err != nil {
		t.Fatal(err)
	}
}

// Verify-only public keys (GATEHOUSE_JWT_PREVIOUS_KEY_FILES) verify the
// tokens their private halves signed and are in the JWKS.
func TestUseKeysPublishesVerifyOnlyKeys(t *testing.T) {
	clock := newClock(t0)
	cfg := jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}
	_, oldPriv, _ := ed25519.GenerateKey(nil)
	before, err := jwt.New(oldPriv, cfg, clock, seqIDs{})
	if err != nil {
		t.Fatal(err)
	}
	tok, oldKID := issueKID(t, before)
	after, _ := jwt.NewWithoutKeys(cfg, clock, seqIDs{})
	cur := newKey(t, after, signingkey.EdDSA)
	ks := edKeys(app.AlgKeys{Current: cur})
	ks.Public = []ed25519.PublicKey{oldPriv.Public().(ed25519.PublicKey)}
	if err := after.UseKeys(ks); err != nil {
		t.Fatal(err)
	}
	if _, err := after.Verify(context.Background(), tok); err != nil {
		t.Fatalf("token of the previous key file: %v", err)
	}
	if got := jwksKIDs(t, after); !slices.Equal(got, sorted([]string{cur.KID, oldKID})) {
		t.Fatalf("JWKS %v", got)
	}
	if _, kid := issueKID(t, after); kid != cur.KID {
		t.Fatalf("signed with %s, want the current key", kid)
	}
}

// What does not hold together is refused, and the key set in use stays:
// a kid that is not its key's thumbprint (the JWKS would name a key
// wrongly), a key of the wrong form or algorithm, a short RSA key, a set
// without an EdDSA key for access tokens.
func TestUseKeysRefusesWhatDoesNotHoldTogether(t *testing.T) {
	tk, _ := jwt.NewWithoutKeys(jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, newClock(t0), seqIDs{})
	ed, rs := newKey(t, tk, signingkey.EdDSA), rsaKey(t, 0)
	if err := tk.UseKeys(bothKeys(app.AlgKeys{Current: ed}, app.AlgKeys{Current: rs})); err != nil {
		t.Fatal(err)
	}
	jwks := string(tk.JWKS())
	wrongKID := ed
	wrongKID.KID = "not-the-thumbprint"
	wrongRSKID := rs
	wrongRSKID.KID = ed.KID
	short, _ := rsa.GenerateKey(rand.Reader, 1024)
	shortDER, _ := x509.MarshalPKCS8PrivateKey(short)
	shortKID, _ := jwt.Thumbprint(&short.PublicKey)
	seedAsRSA := app.SigningKey{KID: ed.KID, Alg: signingkey.RS256, Private: ed.Private}
	rsAsEd := rs
	rsAsEd.Alg = signingkey.EdDSA
	for name, ks := range map[string]app.KeySet{
		"wrong kid":            edKeys(app.AlgKeys{Current: wrongKID}),
		"wrong RSA kid":        bothKeys(app.AlgKeys{Current: ed}, app.AlgKeys{Current: wrongRSKID}),
		"short seed":           edKeys(app.AlgKeys{Current: app.SigningKey{KID: "x", Alg: signingkey.EdDSA, Private: []byte("short")}}),
		"seed as RSA":          bothKeys(app.AlgKeys{Current: ed}, app.AlgKeys{Current: seedAsRSA}),
		"RSA among EdDSA":      edKeys(app.AlgKeys{Current: ed, Retired: []app.SigningKey{rs}}),
		"RSA key said EdDSA":   edKeys(app.AlgKeys{Current: rsAsEd}),
		"1024-bit RSA":         bothKeys(app.AlgKeys{Current: ed}, app.AlgKeys{Current: app.SigningKey{KID: shortKID, Alg: signingkey.RS256, Private: shortDER}}),
		"no EdDSA key":         {Keys: map[signingkey.Algorithm]app.AlgKeys{signingkey.RS256: {Current: rs}}},
		"an unknown algorithm": {Keys: map[signingkey.Algorithm]app.AlgKeys{signingkey.EdDSA: {Current: ed}, "HS256": {Current: ed}}},
		"a corrupted RSA key":  bothKeys(app.AlgKeys{Current: ed}, app.AlgKeys{Current: app.SigningKey{KID: rs.KID, Alg: signingkey.RS256, Private: rs.Private[:len(rs.Private)-8]}}),
	} {
		if err := tk.UseKeys(ks); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if string(tk.JWKS()) != jwks {
		t.Fatal("a refused key set changed the one in use")
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }
