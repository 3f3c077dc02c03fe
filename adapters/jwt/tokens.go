// Package jwt implements session.TokenIssuer, session.TokenVerifier and
// keys.KeyInstaller: EdDSA (Ed25519) access tokens in the RFC 9068 shape
// (typ at+jwt), verification that accepts only what this package issues,
// the RS256 (RSA 2048) keys that sign other tokens (CurrentSigner), and
// the JWKS document of every published key.
package jwt

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
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

var (
	_ session.TokenIssuer   = (*Tokens)(nil)
	_ session.TokenVerifier = (*Tokens)(nil)
	_ keys.KeyInstaller     = (*Tokens)(nil)
)

// TokenType is the typ header of access tokens (RFC 9068).
const TokenType = "at+jwt"

// MaxTokenLength bounds the tokens Verify looks at; longer ones are refused
// before any parsing.
const MaxTokenLength = 4096

// RSABits is the size of the RSA keys GenerateKey makes, and the least
// UseKeys accepts.
const RSABits = 2048

// DefaultLeeway is the clock skew allowed when Config.Leeway is zero.
const DefaultLeeway = 30 * time.Second

// allowedHeaders are the only protected header parameters accepted; in
// particular jku, x5u, x5c, jwk and crit are refused, never followed.
var allowedHeaders = map[string]bool{"alg": true, "typ": true, "kid": true}

// Config holds the claims and lifetimes of access tokens.
type Config struct {
	Issuer   string        // iss, the public URL
	Audience string        // aud
	TTL      time.Duration // exp - iat
	Leeway   time.Duration // clock skew allowed on iat (exp is strict); zero means DefaultLeeway
	// CacheSize is how many verified tokens Verify remembers until their
	// exp (see verifiedCache); zero means DefaultCacheSize, negative none.
	CacheSize int
}

// Tokens issues and verifies access tokens with the Ed25519 keys of the
// current key set, and hands out the key of each algorithm that signs now
// (CurrentSigner). It is safe for concurrent use; UseKeys swaps the set
// atomically.
type Tokens struct {
	cfg   Config
	clock app.Clock
	ids   app.IDGenerator
	keys  atomic.Pointer[keySet]
	// verified remembers accepted tokens (nil: off).
	verified *verifiedCache
}

// keySet is one app.KeySet made ready: the signers of each algorithm, the
// public keys that verify access tokens by kid, and the JWKS document.
type keySet struct {
	algs map[signingkey.Algorithm]algSigners
	pubs map[string]ed25519.PublicKey // EdDSA only: access tokens are EdDSA
	// all are the published keys of every algorithm by kid, for the
	// signatures of id_tokens presented back (VerifySignature).
	all  map[string]jose.JSONWebKey
	jwks []byte
}

// algSigners are the signers of one algorithm: current until nextAt, then
// next when set.
type algSigners struct {
	current signer
	next    *signer
	nextAt  time.Time
}

// Signer is a key that signs now: its kid, its algorithm and its private
// half, for tokens other than access tokens (OpenID Connect id_tokens).
type Signer struct {
	KID string
	Alg signingkey.Algorithm
	// Key is an ed25519.PrivateKey (sign the message itself, opts
	// crypto.Hash(0)), or for RS256 an *rsa.PrivateKey (sign the SHA-256
	// digest, opts crypto.SHA256) that was validated and precomputed once
	// when its key set was installed. It is shared: never modify it.
	Key crypto.Signer
}

// signer is a Signer ready to sign: access tokens when it is EdDSA, and
// SignJWT's tokens. The jose signers are made once, when its key set is
// installed, not per token.
type signer struct {
	Signer
	jws jose.Signer // EdDSA: typ at+jwt and kid; nil for other algorithms
	jwt jose.Signer // typ JWT and kid: SignJWT's
}

// privateClaims are the claims beyond the registered ones.
type privateClaims struct {
	SessionID     string   `json:"sid,omitempty"` // absent from a client's own token
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	AMR           []string `json:"amr,omitempty"` // RFC 8176 methods of the session's login
	// AuthTime is when the session's holder last authenticated (OpenID
	// Connect auth_time, NumericDate); absent from tokens signed before it
	// was carried.
	AuthTime *josejwt.NumericDate `json:"auth_time,omitempty"`
	// ClientID and Scope (space-separated, RFC 9068) name the client a
	// grant's token was issued to and what it was granted.
	ClientID string `json:"client_id,omitempty"`
	Scope    string `json:"scope,omitempty"`
}

// accessClaims are an access token's claims, registered and private, in
// one object that encoding/json writes in one pass.
type accessClaims struct {
	josejwt.Claims
	privateClaims
}

// New builds Tokens signing access tokens with key (the only key until
// UseKeys).
func New(key ed25519.PrivateKey, cfg Config, clock app.Clock, ids app.IDGenerator) (*Tokens, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("jwt: the signing key is not an Ed25519 private key")
	}
	t, err := NewWithoutKeys(cfg, clock, ids)
	if err != nil {
		return nil, err
	}
	kid, err := Thumbprint(key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	ks := app.KeySet{Keys: map[signingkey.Algorithm]app.AlgKeys{
		signingkey.EdDSA: {Current: app.SigningKey{KID: kid, Alg: signingkey.EdDSA, Private: key.Seed()}},
	}}
	if err := t.UseKeys(ks); err != nil {
		return nil, err
	}
	return t, nil
}

// NewWithoutKeys builds Tokens whose keys come from UseKeys: until then
// Issue fails, Verify refuses every token and the JWKS is empty.
func NewWithoutKeys(cfg Config, clock app.Clock, ids app.IDGenerator) (*Tokens, error) {
	if clock == nil || ids == nil {
		return nil, errors.New("jwt: clock and id generator are required")
	}
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("jwt: issuer is required")
	case cfg.Audience == "":
		return nil, errors.New("jwt: audience is required")
	case cfg.TTL < time.Second:
		return nil, errors.New("jwt: token TTL must be at least one second")
	case cfg.Leeway < 0:
		return nil, errors.New("jwt: leeway must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	t := &Tokens{cfg: cfg, clock: clock, ids: ids, verified: newVerifiedCache(cfg.CacheSize)}
	t.keys.Store(&keySet{pubs: map[string]ed25519.PublicKey{}, all: map[string]jose.JSONWebKey{}, jwks: []byte(`{"keys":[]}`)})
	return t, nil
}

// UseKeys makes ks the key set of every later Issue, Verify and
// CurrentSigner. It must hold a current EdDSA key (access tokens); each
// kid must be its key's thumbprint and each key of its algorithm (an RSA
// key of at least RSABits bits, which is validated and precomputed here,
// once): anything else is refused.
func (t *Tokens) UseKeys(ks app.KeySet) error {
	set := &keySet{algs: map[signingkey.Algorithm]algSigners{}, pubs: map[string]ed25519.PublicKey{}, all: map[string]jose.JSONWebKey{}}
	var jwks jose.JSONWebKeySet
	published := map[string]bool{}
	publish := func(pub crypto.PublicKey, alg signingkey.Algorithm) (string, error) {
		kid, err := Thumbprint(pub)
		if err != nil {
			return "", err
		}
		if !published[kid] {
			published[kid] = true
			jwk := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(alg), Use: "sig"}
			jwks.Keys = append(jwks.Keys, jwk)
			set.all[kid] = jwk
			if ed, ok := pub.(ed25519.PublicKey); ok {
				set.pubs[kid] = ed
			}
		}
		return kid, nil
	}
	signerOf := func(k app.SigningKey, alg signingkey.Algorithm) (signer, error) {
		if k.Alg != alg {
			return signer{}, fmt.Errorf("jwt: key %q is %q, in the %s keys", k.KID, k.Alg, alg)
		}
		priv, err := privateKey(k)
		if err != nil {
			return signer{}, err
		}
		// The public half is derived from the private one, so it is its own.
		kid, err := publish(priv.Public(), alg)
		if err != nil {
			return signer{}, err
		}
		if kid != k.KID {
			return signer{}, fmt.Errorf("jwt: key %q has thumbprint %q", k.KID, kid)
		}
		s := signer{Signer: Signer{KID: kid, Alg: alg, Key: priv}}
		if s.jwt, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
			(&jose.SignerOptions{}).WithType("JWT")); err != nil {
			return signer{}, fmt.Errorf("jwt: signer: %w", err)
		}
		if alg == signingkey.EdDSA {
			if s.jws, err = jose.NewSigner(
				jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
				(&jose.SignerOptions{}).WithType(TokenType).WithHeader(jose.HeaderKey("kid"), kid),
			); err != nil {
				return signer{}, fmt.Errorf("jwt: signer: %w", err)
			}
		}
		return s, nil
	}
	for alg := range ks.Keys {
		if !alg.Valid() {
			return fmt.Errorf("jwt: keys of the unknown algorithm %q", alg)
		}
	}
	if _, ok := ks.Keys[signingkey.EdDSA]; !ok {
		return errors.New("jwt: the key set has no EdDSA key to sign access tokens")
	}
	for _, alg := range signingkey.Algorithms() {
		ak, ok := ks.Keys[alg]
		if !ok {
			continue
		}
		cur, err := signerOf(ak.Current, alg)
		if err != nil {
			return err
		}
		as := algSigners{current: cur, nextAt: ak.NextAt}
		if ak.Next != nil {
			n, err := signerOf(*ak.Next, alg)
			if err != nil {
				return err
			}
			as.next = &n
		}
		for _, k := range ak.Retired {
			if _, err := signerOf(k, alg); err != nil {
				return err
			}
		}
		set.algs[alg] = as
	}
	for _, pub := range ks.Public {
		if len(pub) != ed25519.PublicKeySize {
			return errors.New("jwt: a published key is not an Ed25519 public key")
		}
		if _, err := publish(pub, signingkey.EdDSA); err != nil {
			return err
		}
	}
	var err error
	if set.jwks, err = json.Marshal(jwks); err != nil {
		return fmt.Errorf("jwt: jwks: %w", err)
	}
	t.keys.Store(set)
	return nil
}

// privateKey is the private key of k, checked: the key of an Ed25519
// seed, or an RSA key of at least RSABits bits from its PKCS #8 DER,
// validated and precomputed.
func privateKey(k app.SigningKey) (crypto.Signer, error) {
	switch k.Alg {
	case signingkey.EdDSA:
		if len(k.Private) != ed25519.SeedSize {
			return nil, fmt.Errorf("jwt: the seed of key %q is %d bytes, want %d", k.KID, len(k.Private), ed25519.SeedSize)
		}
		return ed25519.NewKeyFromSeed(k.Private), nil
	case signingkey.RS256:
		parsed, err := x509.ParsePKCS8PrivateKey(k.Private)
		if err != nil {
			return nil, fmt.Errorf("jwt: key %q: %w", k.KID, err)
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("jwt: key %q is %T, want an RSA key", k.KID, parsed)
		}
		if priv.N.BitLen() < RSABits {
			return nil, fmt.Errorf("jwt: key %q has %d bits, want at least %d", k.KID, priv.N.BitLen(), RSABits)
		}
		if err := priv.Validate(); err != nil {
			return nil, fmt.Errorf("jwt: key %q: %w", k.KID, err)
		}
		priv.Precompute()
		return priv, nil
	}
	return nil, fmt.Errorf("jwt: key %q has the unknown algorithm %q", k.KID, k.Alg)
}

// GenerateKey makes a new random key of alg: an Ed25519 seed, or an RSA
// key of RSABits bits as PKCS #8 DER.
func (t *Tokens) GenerateKey(alg signingkey.Algorithm) (app.SigningKey, error) {
	switch alg {
	case signingkey.EdDSA:
		seed, err := GenerateSeed()
		if err != nil {
			return app.SigningKey{}, err
		}
		return t.KeyOf(seed)
	case signingkey.RS256:
		priv, err := rsa.GenerateKey(rand.Reader, RSABits)
		if err != nil {
			return app.SigningKey{}, fmt.Errorf("jwt: generate an RSA key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return app.SigningKey{}, fmt.Errorf("jwt: marshal PKCS#8: %w", err)
		}
		kid, err := Thumbprint(&priv.PublicKey)
		if err != nil {
			return app.SigningKey{}, err
		}
		return app.SigningKey{KID: kid, Alg: alg, Private: der}, nil
	}
	return app.SigningKey{}, fmt.Errorf("jwt: no keys of the algorithm %q", alg)
}

// KeyOf is the EdDSA key of an Ed25519 seed, with its thumbprint.
func (t *Tokens) KeyOf(seed []byte) (app.SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return app.SigningKey{}, fmt.Errorf("jwt: seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	kid, err := Thumbprint(ed25519.NewKeyFromSeed(seed).Public())
	if err != nil {
		return app.SigningKey{}, err
	}
	return app.SigningKey{KID: kid, Alg: signingkey.EdDSA, Private: seed}, nil
}

// signing is the signer of alg at now: next from its activation time on.
// ok is false when the set has no key of alg (before the first UseKeys).
func (s *keySet) signing(alg signingkey.Algorithm, now time.Time) (signer, bool) {
	as, ok := s.algs[alg]
	if !ok {
		return signer{}, false
	}
	if as.next != nil && !now.Before(as.nextAt) {
		return *as.next, true
	}
	return as.current, true
}

// CurrentSigner is the key of alg that signs now: the current key, or the
// next one from its activation time on, exactly as access tokens switch.
// It is an error when no key of alg is installed.
func (t *Tokens) CurrentSigner(alg signingkey.Algorithm) (Signer, error) {
	s, ok := t.keys.Load().signing(alg, t.clock.Now())
	if !ok {
		return Signer{}, fmt.Errorf("jwt: no %s signing key", alg)
	}
	return s.Signer, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of pub (an
// ed25519.PublicKey or an *rsa.PublicKey), base64url: the kid.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jwt: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// KeyID returns the kid of the key that signs access tokens now.
func (t *Tokens) KeyID() string {
	s, _ := t.keys.Load().signing(signingkey.EdDSA, t.clock.Now())
	return s.KID
}

// Issue signs c after filling in its ID, IssuedAt and ExpiresAt (whole
// seconds, UTC) and returns the token and the claims it carries.
func (t *Tokens) Issue(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
	// A user's token names the user and the session; a client's own
	// (client_credentials) names the client as its subject and has neither.
	client := c.Subject == uuid.Nil && c.SessionID == uuid.Nil && c.ClientID != ""
	if !client && (c.Subject == uuid.Nil || c.SessionID == uuid.Nil) {
		return "", app.AccessClaims{}, errors.New("jwt: subject and session id are required")
	}
	at := t.clock.Now()
	now := time.Unix(at.Unix(), 0).UTC()
	c.ID = t.ids.NewID().String()
	c.IssuedAt = now
	c.ExpiresAt = time.Unix(now.Add(t.cfg.TTL).Unix(), 0).UTC()
	std := josejwt.Claims{
		Issuer:   t.cfg.Issuer,
		Subject:  subject(c),
		Audience: josejwt.Audience{t.cfg.Audience},
		Expiry:   josejwt.NewNumericDate(c.ExpiresAt),
		IssuedAt: josejwt.NewNumericDate(c.IssuedAt),
		ID:       c.ID,
	}
	priv := privateClaims{SessionID: sessionID(c), Email: c.Email, EmailVerified: c.EmailVerified, AMR: c.AMR,
		ClientID: c.ClientID, Scope: strings.Join(c.Scope, " ")}
	if !c.AuthTime.IsZero() {
		c.AuthTime = time.Unix(c.AuthTime.Unix(), 0).UTC()
		priv.AuthTime = josejwt.NewNumericDate(c.AuthTime)
	}
	sg, ok := t.keys.Load().signing(signingkey.EdDSA, at)
	if !ok {
		return "", app.AccessClaims{}, errors.New("jwt: no signing key yet")
	}
	payload, err := json.Marshal(accessClaims{std, priv})
	if err != nil {
		return "", app.AccessClaims{}, fmt.Errorf("jwt: claims: %w", err)
	}
	signed, err := signPayload(sg.jws, payload)
	if err != nil {
		return "", app.AccessClaims{}, err
	}
	return signed, c, nil
}

// Verify accepts only a compact EdDSA JWS signed by a published key with
// typ at+jwt and that key's kid and no other header parameters, whose iss and aud are
// the configured ones, that is not expired (strictly) nor issued in the
// future (with the leeway), and that carries UUID sub and sid and a jti.
// Anything else gives domain.ErrUnauthorized.
//
// A token it accepted before is found by its SHA-256 in a bounded cache
// and accepted again without the signature check while it is not expired
// (strictly, at every call) and its key is still published.
func (t *Tokens) Verify(_ context.Context, signed string) (app.AccessClaims, error) {
	if len(signed) == 0 || len(signed) > MaxTokenLength {
		return app.AccessClaims{}, domain.ErrUnauthorized
	}
	sum := sha256.Sum256([]byte(signed))
	if c, ok := t.verified.get(sum, t.keys.Load(), t.clock.Now()); ok {
		return c, nil
	}
	c, kid, ok := t.verify(signed)
	if !ok {
		return app.AccessClaims{}, domain.ErrUnauthorized
	}
	t.verified.put(sum, kid, c, t.clock.Now())
	return c, nil
}

// verify checks signed in full and returns its claims and the kid of the
// key that signed it.
func (t *Tokens) verify(signed string) (app.AccessClaims, string, bool) {
	if len(signed) == 0 || len(signed) > MaxTokenLength || strings.Count(signed, ".") != 2 {
		return app.AccessClaims{}, "", false
	}
	keys := t.keys.Load()
	kid := headerKID(signed[:strings.IndexByte(signed, '.')])
	pub, ok := keys.pubs[kid]
	if !ok {
		return app.AccessClaims{}, "", false
	}
	tok, err := josejwt.ParseSigned(signed, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return app.AccessClaims{}, "", false
	}
	if h := tok.Headers[0]; h.Algorithm != string(jose.EdDSA) || h.KeyID != kid || h.JSONWebKey != nil {
		return app.AccessClaims{}, "", false
	}
	var std josejwt.Claims
	var priv privateClaims
	if err := tok.Claims(pub, &std, &priv); err != nil {
		return app.AccessClaims{}, "", false
	}
	if std.Expiry == nil || std.IssuedAt == nil || std.ID == "" {
		return app.AccessClaims{}, "", false
	}
	err = std.ValidateWithLeeway(josejwt.Expected{
		Issuer:      t.cfg.Issuer,
		AnyAudience: josejwt.Audience{t.cfg.Audience},
		Time:        t.clock.Now(),
	}, t.cfg.Leeway)
	if err != nil {
		return app.AccessClaims{}, "", false
	}
	// Expiry is strict: the leeway covers clock skew for iat between
	// instances, but a token this service signed is dead at its exp, so a
	// short GATEHOUSE_ACCESS_TOKEN_TTL means what it says.
	if !t.clock.Now().Before(std.Expiry.Time()) {
		return app.AccessClaims{}, "", false
	}
	var sub, sid uuid.UUID
	if priv.SessionID != "" || std.Subject != priv.ClientID {
		var ok1, ok2 bool
		sub, ok1 = parseUUID(std.Subject)
		sid, ok2 = parseUUID(priv.SessionID)
		if !ok1 || !ok2 {
			return app.AccessClaims{}, "", false
		}
	} else if priv.ClientID == "" {
		return app.AccessClaims{}, "", false
	}
	var authTime time.Time
	if priv.AuthTime != nil {
		authTime = priv.AuthTime.Time().UTC()
	}
	return app.AccessClaims{
		AuthTime:      authTime,
		ID:            std.ID,
		Subject:       sub,
		SessionID:     sid,
		Email:         priv.Email,
		EmailVerified: priv.EmailVerified,
		AMR:           priv.AMR,
		ClientID:      priv.ClientID,
		Scope:         scopes(priv.Scope),
		IssuedAt:      std.IssuedAt.Time().UTC(),
		ExpiresAt:     std.Expiry.Time().UTC(),
	}, kid, true
}

// subject is the sub claim of c: the user, or the client of a client's
// own token.
func subject(c app.AccessClaims) string {
	if c.Subject == uuid.Nil {
		return c.ClientID
	}
	return c.Subject.String()
}

// sessionID is the sid claim of c; "" (absent) for a client's own token.
func sessionID(c app.AccessClaims) string {
	if c.SessionID == uuid.Nil {
		return ""
	}
	return c.SessionID.String()
}

// scopes splits a scope claim; none is nil.
func scopes(claim string) []string {
	if claim == "" {
		return nil
	}
	return strings.Fields(claim)
}

// headerKID decodes the protected header and returns its kid when it has
// only alg, typ and kid, with alg EdDSA and typ at+jwt; else "".
func headerKID(seg string) string {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return ""
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil {
		return ""
	}
	for k := range h {
		if !allowedHeaders[k] {
			return ""
		}
	}
	var alg, typ, kid string
	if json.Unmarshal(h["alg"], &alg) != nil || json.Unmarshal(h["typ"], &typ) != nil || json.Unmarshal(h["kid"], &kid) != nil {
		return ""
	}
	if alg != string(jose.EdDSA) || !(strings.EqualFold(typ, TokenType) || strings.EqualFold(typ, "application/"+TokenType)) {
		return ""
	}
	return kid
}

// parseUUID accepts only the canonical 36-character form.
func parseUUID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil && id != uuid.Nil
}

// JWKS returns the JSON Web Key Set with every published key, each with
// its kid, alg and use sig: EdDSA keys (kty OKP, crv Ed25519) first, then
// RS256 keys (kty RSA), then the verify-only keys. Callers must not
// modify it.
func (t *Tokens) JWKS() []byte { return t.keys.Load().jwks }

// SignJWT signs claims (a value that marshals to a JSON object) as a
// compact JWS of typ JWT with the key of alg that signs now
// (CurrentSigner), its kid in the header: the OpenID Connect id_tokens.
// The claims are marshalled once, as they are, and that payload signed.
func (t *Tokens) SignJWT(alg signingkey.Algorithm, claims any) (string, error) {
	s, ok := t.keys.Load().signing(alg, t.clock.Now())
	if !ok {
		return "", fmt.Errorf("jwt: no %s signing key", alg)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwt: claims: %w", err)
	}
	return signPayload(s.jwt, payload)
}

// signPayload signs payload with sg, in the compact serialization. The
// payload is signed as given: go-jose's jwt builder would marshal claims,
// decode them into a map and marshal that again.
func signPayload(sg jose.Signer, payload []byte) (string, error) {
	jws, err := sg.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// VerifySignature checks the one signature of jws against the published
// key its kid names, of the algorithm that key has, and returns the
// payload: how an id_token Gatehouse signed is recognized when a client
// presents it back (an id_token_hint). It checks no claims.
func (t *Tokens) VerifySignature(_ context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("jwt: one signature expected")
	}
	h := jws.Signatures[0].Header
	k, ok := t.keys.Load().all[h.KeyID]
	if !ok || h.Algorithm != k.Algorithm {
		return nil, errors.New("jwt: not signed by a published key")
	}
	return jws.Verify(k.Key)
}
