package jwt_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/google/uuid"
)

// A token verified once is remembered and accepted again with the same
// claims; a token that differs in one character is not served from the
// cache, and refused tokens are never remembered.
func TestVerifyRemembersAcceptedTokensOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	signed, want := f.issue(t)
	for i := range 3 {
		got, err := f.tokens.Verify(context.Background(), signed)
		if err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("verify %d: claims %+v, want %+v", i, got, want)
		}
	}
	if n := jwt.CachedTokens(f.tokens); n != 1 {
		t.Fatalf("%d tokens remembered, want 1", n)
	}
	i := len(signed) - 20 // inside the signature, a character of full 6 bits
	flipped := signed[:i] + string("AB"[boolInt(signed[i] == 'A')]) + signed[i+1:]
	if _, err := f.tokens.Verify(context.Background(), flipped); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("a changed signature after the original was remembered: %v", err)
	}
	if _, err := f.tokens.Verify(context.Background(), "garbage"); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatal("garbage accepted")
	}
	if n := jwt.CachedTokens(f.tokens); n != 1 {
		t.Fatalf("%d tokens remembered after refusals, want 1", n)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A remembered token still dies at its exp, strictly: at exp it is refused
// although it was accepted a second before.
func TestRememberedTokenExpiresStrictly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	signed, claims := f.issue(t)
	f.clock.Set(claims.ExpiresAt.Add(-time.Second))
	if _, err := f.tokens.Verify(context.Background(), signed); err != nil {
		t.Fatalf("a second before exp: %v", err)
	}
	if jwt.CachedTokens(f.tokens) != 1 {
		t.Fatal("not remembered")
	}
	f.clock.Set(claims.ExpiresAt)
	if _, err := f.tokens.Verify(context.Background(), signed); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("at exp: %v, want refused", err)
	}
}

// Retiring a key (it leaves the key set) refuses the tokens it signed at
// once, remembered or not.
func TestRememberedTokenOfARetiredKeyIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	k1, k2 := newKey(t, f.tokens, signingkey.EdDSA), newKey(t, f.tokens, signingkey.EdDSA)
	if err := f.tokens.UseKeys(edKeys(app.AlgKeys{Current: k1})); err != nil {
		t.Fatal(err)
	}
	signed, _ := f.issue(t)
	if _, err := f.tokens.Verify(context.Background(), signed); err != nil {
		t.Fatal(err)
	}
	// k1 retired but still published: still good
	if err := f.tokens.UseKeys(edKeys(app.AlgKeys{Current: k2, Retired: []app.SigningKey{k1}})); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tokens.Verify(context.Background(), signed); err != nil {
		t.Fatalf("retired key still published: %v", err)
	}
	// k1 gone (retire ID: stop publishing a compromised key)
	if err := f.tokens.UseKeys(edKeys(app.AlgKeys{Current: k2})); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tokens.Verify(context.Background(), signed); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("token of a key no longer published: %v, want refused", err)
	}
}

// The cache holds at most CacheSize tokens, whatever arrives; a negative
// size turns it off.
func TestVerifiedCacheIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	small := f.newTokens(t, jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl, CacheSize: 8})
	off := f.newTokens(t, jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl, CacheSize: -1})
	for i := range 100 {
		signed, _, err := small.Issue(context.Background(), app.AccessClaims{Subject: uuid.New(), SessionID: uuid.New(), AMR: []string{"pwd"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range []*jwt.Tokens{small, off} {
			if _, err := tk.Verify(context.Background(), signed); err != nil {
				t.Fatalf("token %d: %v", i, err)
			}
		}
		if n := jwt.CachedTokens(small); n > 8 {
			t.Fatalf("after %d tokens the cache holds %d, more than 8", i+1, n)
		}
	}
	if n := jwt.CachedTokens(off); n != 0 {
		t.Fatalf("CacheSize -1 remembers %d tokens", n)
	}
}

// Claims handed out from the cache are the caller's own: changing their
// amr does not change what the next caller gets.
func TestRememberedClaimsAreCopies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	signed, _, err := f.tokens.Issue(context.Background(), app.AccessClaims{Subject: uuid.New(), SessionID: uuid.New(), AMR: []string{"pwd", "otp"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c, err := f.tokens.Verify(context.Background(), signed)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.AMR) != 2 || c.AMR[0] != "pwd" || c.AMR[1] != "otp" {
			t.Fatalf("amr %v", c.AMR)
		}
		c.AMR[0] = "changed"
	}
}
