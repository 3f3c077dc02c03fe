package jwt_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
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
