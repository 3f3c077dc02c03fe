// Package jwt implements app.AccessTokens: EdDSA (Ed25519) access tokens in
// the RFC 9068 shape (typ at+jwt), verification that accepts only what this
// package issues, and the JWKS document of the public key.
package jwt

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

var _ app.AccessTokens = (*Tokens)(nil)

// TokenType is the typ header of access tokens (RFC 9068).
const TokenType = "at+jwt"

// MaxTokenLength bounds the tokens Verify looks at; longer ones are refused
// before any parsing.
const MaxTokenLength = 4096

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
}

// Tokens issues and verifies access tokens with one Ed25519 key. It is safe
// for concurrent use.
type Tokens struct {
	cfg    Config
	clock  app.Clock
	ids    app.IDGenerator
	pub    ed25519.PublicKey
	kid    string
	signer jose.Signer
	jwks   []byte
}

// privateClaims are the claims beyond the registered ones.
type privateClaims struct {
	SessionID     string `json:"sid"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// New builds Tokens signing with key.
func New(key ed25519.PrivateKey, cfg Config, clock app.Clock, ids app.IDGenerator) (*Tokens, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("jwt: the signing key is not an Ed25519 private key")
	}
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
	// Rebuild from the seed so that the public half is the seed's own.
	key = ed25519.NewKeyFromSeed(key.Seed())
	pub := key.Public().(ed25519.PublicKey)
	kid, err := Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: key},
		(&jose.SignerOptions{}).WithType(TokenType).WithHeader(jose.HeaderKey("kid"), kid),
	)
	if err != nil {
		return nil, fmt.Errorf("jwt: signer: %w", err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:       pub,
		KeyID:     kid,
		Algorithm: string(jose.EdDSA),
		Use:       "sig",
	}}})
	if err != nil {
		return nil, fmt.Errorf("jwt: jwks: %w", err)
	}
	return &Tokens{cfg: cfg, clock: clock, ids: ids, pub: pub, kid: kid, signer: signer, jwks: jwks}, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url: the kid.
func Thumbprint(pub ed25519.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jwt: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// KeyID returns the kid of the signing key.
func (t *Tokens) KeyID() string { return t.kid }

// Issue signs c after filling in its ID, IssuedAt and ExpiresAt (whole
// seconds, UTC) and returns the token and the claims it carries.
func (t *Tokens) Issue(_ context.Context, c app.AccessClaims) (string, app.AccessClaims, error) {
	if c.Subject == uuid.Nil || c.SessionID == uuid.Nil {
		return "", app.AccessClaims{}, errors.New("jwt: subject and session id are required")
	}
	now := time.Unix(t.clock.Now().Unix(), 0).UTC()
	c.ID = t.ids.NewID().String()
	c.IssuedAt = now
	c.ExpiresAt = time.Unix(now.Add(t.cfg.TTL).Unix(), 0).UTC()
	std := josejwt.Claims{
		Issuer:   t.cfg.Issuer,
		Subject:  c.Subject.String(),
		Audience: josejwt.Audience{t.cfg.Audience},
		Expiry:   josejwt.NewNumericDate(c.ExpiresAt),
		IssuedAt: josejwt.NewNumericDate(c.IssuedAt),
		ID:       c.ID,
	}
	priv := privateClaims{SessionID: c.SessionID.String(), Email: c.Email, EmailVerified: c.EmailVerified}
	signed, err := josejwt.Signed(t.signer).Claims(std).Claims(priv).Serialize()
	if err != nil {
		return "", app.AccessClaims{}, fmt.Errorf("jwt: sign: %w", err)
	}
	return signed, c, nil
}

// Verify accepts only a compact EdDSA JWS signed by this key with typ
// at+jwt and this kid and no other header parameters, whose iss and aud are
// the configured ones, that is not expired (strictly) nor issued in the
// future (with the leeway), and that carries UUID sub and sid and a jti.
// Anything else gives domain.ErrUnauthorized.
func (t *Tokens) Verify(_ context.Context, signed string) (app.AccessClaims, error) {
	c, ok := t.verify(signed)
	if !ok {
		return app.AccessClaims{}, domain.ErrUnauthorized
	}
	return c, nil
}

func (t *Tokens) verify(signed string) (app.AccessClaims, bool) {
	if len(signed) == 0 || len(signed) > MaxTokenLength || strings.Count(signed, ".") != 2 {
		return app.AccessClaims{}, false
	}
	if !t.headerOK(signed[:strings.IndexByte(signed, '.')]) {
		return app.AccessClaims{}, false
	}
	tok, err := josejwt.ParseSigned(signed, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return app.AccessClaims{}, false
	}
	if h := tok.Headers[0]; h.Algorithm != string(jose.EdDSA) || h.KeyID != t.kid || h.JSONWebKey != nil {
		return app.AccessClaims{}, false
	}
	var std josejwt.Claims
	var priv privateClaims
	if err := tok.Claims(t.pub, &std, &priv); err != nil {
		return app.AccessClaims{}, false
	}
	if std.Expiry == nil || std.IssuedAt == nil || std.ID == "" {
		return app.AccessClaims{}, false
	}
	err = std.ValidateWithLeeway(josejwt.Expected{
		Issuer:      t.cfg.Issuer,
		AnyAudience: josejwt.Audience{t.cfg.Audience},
		Time:        t.clock.Now(),
	}, t.cfg.Leeway)
	if err != nil {
		return app.AccessClaims{}, false
	}
	// Expiry is strict: the leeway covers clock skew for iat between
	// instances, but a token this service signed is dead at its exp, so a
	// short GATEHOUSE_ACCESS_TOKEN_TTL means what it says.
	if !t.clock.Now().Before(std.Expiry.Time()) {
		return app.AccessClaims{}, false
	}
	sub, ok1 := parseUUID(std.Subject)
	sid, ok2 := parseUUID(priv.SessionID)
	if !ok1 || !ok2 {
		return app.AccessClaims{}, false
	}
	return app.AccessClaims{
		ID:            std.ID,
		Subject:       sub,
		SessionID:     sid,
		Email:         priv.Email,
		EmailVerified: priv.EmailVerified,
		IssuedAt:      std.IssuedAt.Time().UTC(),
		ExpiresAt:     std.Expiry.Time().UTC(),
	}, true
}

// headerOK decodes the protected header and checks it has only alg, typ and
// kid, with alg EdDSA, typ at+jwt and our kid.
func (t *Tokens) headerOK(seg string) bool {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return false
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil {
		return false
	}
	for k := range h {
		if !allowedHeaders[k] {
			return false
		}
	}
	var alg, typ, kid string
	if json.Unmarshal(h["alg"], &alg) != nil || json.Unmarshal(h["typ"], &typ) != nil || json.Unmarshal(h["kid"], &kid) != nil {
		return false
	}
	return alg == string(jose.EdDSA) && kid == t.kid &&
		(strings.EqualFold(typ, TokenType) || strings.EqualFold(typ, "application/"+TokenType))
}

// parseUUID accepts only the canonical 36-character form.
func parseUUID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil && id != uuid.Nil
}

// JWKS returns the JSON Web Key Set with the public key (kty OKP, crv
// Ed25519, kid, alg EdDSA, use sig). Callers must not modify it.
func (t *Tokens) JWKS() []byte { return t.jwks }
