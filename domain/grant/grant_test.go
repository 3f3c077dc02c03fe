package grant_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC)

func TestSignInFresh(t *testing.T) {
	for _, tc := range []struct {
		name     string
		r        grant.Request
		authTime time.Time
		want     bool
	}{
		{"plain, signed in long ago", grant.Request{CreatedAt: t0}, t0.Add(-24 * time.Hour), true},
		{"prompt=login, signed in before", grant.Request{CreatedAt: t0, ForceLogin: true}, t0.Add(-time.Millisecond), false},
		{"prompt=login, signed in the same second but before", grant.Request{CreatedAt: t0, ForceLogin: true}, t0.Add(-400 * time.Millisecond), false},
		{"prompt=login, signed in after", grant.Request{CreatedAt: t0, ForceLogin: true}, t0.Add(time.Second), true},
		{"max_age, within", grant.Request{CreatedAt: t0, HasMaxAge: true, MaxAge: time.Minute}, t0.Add(-time.Minute), true},
		{"max_age, past", grant.Request{CreatedAt: t0, HasMaxAge: true, MaxAge: time.Minute}, t0.Add(-time.Minute - time.Second), false},
		{"max_age=0, signed in for the request", grant.Request{CreatedAt: t0, HasMaxAge: true}, t0.Add(time.Second), true},
	} {
		if got := tc.r.SignInFresh(tc.authTime, t0); got != tc.want {
			t.Errorf("%s: SignInFresh = %v", tc.name, got)
		}
	}
}

// A verifier and its S256 challenge, the unpadded base64url of its
// SHA-256 (printf %s "$verifier" | openssl dgst -sha256 -binary | basenc --base64url,
// without the padding).
const (
	verifier  = "dBjftJeZ4CVP-mJ92ZXRkEjx1LgVCTIY1N0bHyrB3n4"
	challenge = "VaYcSfCD-c-YNHH_sxWpd1SIK6vC0Zhi1WCc_RTPu0Y"
)

func TestRedeemable(t *testing.T) {
	r := &grant.Request{ClientID: "app", RedirectURI: "https://app.example.com/cb", CodeChallenge: challenge, Scopes: []string{"openid"}}
	c := grant.NewCode(token.Hash{1}, r, uuid.New(), uuid.New(), t0, []string{"pwd"}, t0)
	if !c.Redeemable("app", "https://app.example.com/cb", verifier, t0.Add(59*time.Second)) {
		t.Fatal("a fresh code with the right client, redirect and verifier is refused")
	}
	used := t0
	for name, ok := range map[string]bool{
		"other client":   c.Redeemable("other", "https://app.example.com/cb", verifier, t0),
		"other redirect": c.Redeemable("app", "https://app.example.com/cb/", verifier, t0),
		"wrong verifier": c.Redeemable("app", "https://app.example.com/cb", verifier[1:]+"A", t0),
		"the challenge":  c.Redeemable("app", "https://app.example.com/cb", challenge, t0),
		"short":          c.Redeemable("app", "https://app.example.com/cb", "abc", t0),
		"expired":        c.Redeemable("app", "https://app.example.com/cb", verifier, t0.Add(grant.CodeTTL)),
		"used":           (&grant.Code{ClientID: "app", RedirectURI: "https://app.example.com/cb", CodeChallenge: challenge, ExpiresAt: t0.Add(time.Minute), UsedAt: &used}).Redeemable("app", "https://app.example.com/cb", verifier, t0),
	} {
		if ok {
			t.Errorf("%s: redeemable", name)
		}
	}
}

func TestChallengeAndVerifierShapes(t *testing.T) {
	if !grant.ValidChallenge(challenge) || grant.ValidChallenge(challenge+"=") || grant.ValidChallenge(verifier[:42]) || grant.ValidChallenge("") {
		t.Error("ValidChallenge")
	}
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	if !grant.ValidVerifier(verifier) || grant.ValidVerifier(string(long)) || grant.ValidVerifier(verifier[:42]) || grant.ValidVerifier(verifier[:42]+"+") {
		t.Error("ValidVerifier")
	}
}

func TestConsentCovers(t *testing.T) {
	c := grant.Consent{Scopes: []string{"openid", "email"}}
	if !c.Covers([]string{"email"}) || !c.Covers(nil) || c.Covers([]string{"openid", "profile"}) {
		t.Error("Covers")
	}
}
