package jwt_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
)

// The access token is checked on every bearer request: these are the
// per-request costs of signing (login, refresh) and verifying.
func benchTokens(b *testing.B) *jwt.Tokens {
	seed, err := jwt.GenerateSeed()
	if err != nil {
		b.Fatal(err)
	}
	key, err := jwt.KeyFromSeed(seed)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := jwt.New(key, jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, newClock(t0), seqIDs{})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func BenchmarkIssue(b *testing.B) {
	tok := benchTokens(b)
	c := sampleClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tok.Issue(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	tok := benchTokens(b)
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
