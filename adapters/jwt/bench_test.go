package jwt_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
)

// The access token is checked on every bearer request: these are the
// per-request costs of signing (login, refresh) and verifying.
// benchTokens are Tokens with a fresh key; cacheSize is the
// Config.CacheSize (0 the default cache, -1 none).
func benchTokens(b *testing.B, cacheSize int) *jwt.Tokens {
	tok, err := jwt.New(freshKey(b), jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl, CacheSize: cacheSize}, newClock(t0), seqIDs{})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func BenchmarkIssue(b *testing.B) {
	tok := benchTokens(b, 0)
	c := sampleClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tok.Issue(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the verification of a token seen before (served by
// the cache); BenchmarkVerifyUncached, a token's first one.
func BenchmarkVerify(b *testing.B) { benchVerify(b, benchTokens(b, 0)) }

// BenchmarkVerifyUncached is a token's first verification (signature,
// header and claims decoding).
func BenchmarkVerifyUncached(b *testing.B) { benchVerify(b, benchTokens(b, -1)) }

func benchVerify(b *testing.B, tok *jwt.Tokens) {
	signed, _, err := tok.Issue(context.Background(), sampleClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tok.Verify(context.Background(), signed); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSigners are benchTokens with a current key of each algorithm.
func benchSigners(b *testing.B) *jwt.Tokens {
	b.Helper()
	tok := benchTokens(b, 0)
	ed, err := tok.CurrentSigner(signingkey.EdDSA)
	if err != nil {
		b.Fatal(err)
	}
	ks := app.KeySet{Keys: map[signingkey.Algorithm]app.AlgKeys{
		signingkey.EdDSA: {Current: app.SigningKey{KID: ed.KID, Alg: signingkey.EdDSA, Private: ed.Key.(ed25519.PrivateKey).Seed()}},
		signingkey.RS256: {Current: rsaKey(b, 0)},
	}}
	if err := tok.UseKeys(ks); err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkSign is one signature with the key CurrentSigner hands out
// (the cached key: never opened or parsed per signature) over a signing
// input of a typical token's size: EdDSA signs the input, RS256 its
// SHA-256 digest, as a JWS does.
func BenchmarkSign(b *testing.B) {
	tok := benchSigners(b)
	input := []byte(strings.Repeat("x", 600))
	for _, alg := range signingkey.Algorithms() {
		b.Run(string(alg), func(b *testing.B) {
			s, err := tok.CurrentSigner(alg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if alg == signingkey.RS256 {
					sum := sha256.Sum256(input)
					_, err = s.Key.Sign(rand.Reader, sum[:], crypto.SHA256)
				} else {
					_, err = s.Key.Sign(rand.Reader, input, crypto.Hash(0))
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignJWT is an id_token's whole signing (SignJWT: the claims'
// encoding, the header, the signature and the compact serialization)
// with each algorithm's key, beside BenchmarkSign's signature alone.
func BenchmarkSignJWT(b *testing.B) {
	tok := benchSigners(b)
	claims := map[string]any{"iss": issuer, "sub": "6f1c2a9e-5b7d-4c1e-9a3f-2d8e7b6c5a41", "aud": []string{"app"}, "exp": 1700000900, "iat": 1700000000,
		"auth_time": 1699990000, "nonce": "n-0S6_WzA2Mj", "amr": []string{"pwd"}, "azp": "app", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
		"sid": "0d6b3f7e-2a1c-4e9b-8f5d-6c4a3b2e1f09"}
	for _, alg := range signingkey.Algorithms() {
		b.Run(string(alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tok.SignJWT(alg, claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
