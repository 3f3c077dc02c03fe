package jwt_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/google/uuid"
)

func newKey(t *testing.T, tk *jwt.Tokens) app.SigningKey {
	t.Helper()
	k, err := tk.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwksKIDs(t *testing.T, tk *jwt.Tokens) []string {
	t.Helper()
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(tk.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
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
	k1, k2 := newKey(t, tk), newKey(t, tk)
	if err := tk.UseKeys(app.KeySet{Current: k1, Next: &k2, NextAt: t0.Add(time.Minute)}); err != nil {
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
	if err := tk.UseKeys(app.KeySet{Current: k2, Retired: []app.SigningKey{k1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(context.Background(), old); err != nil {
		t.Fatalf("a retired, published key's token: %v", err)
	}
	// Gone (or retired by hand): its tokens are refused at once.
	if err := tk.UseKeys(app.KeySet{Current: k2}); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(context.Background(), old); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("a dropped key's token: %v", err)
	}
	if got := jwksKIDs(t, tk); !slices.Equal(got, []string{k2.KID}) {
		t.Fatalf("JWKS %v after the old key left", got)
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
	cur := newKey(t, after)
	if err := after.UseKeys(app.KeySet{Current: cur, Public: []ed25519.PublicKey{oldPriv.Public().(ed25519.PublicKey)}}); err != nil {
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

// A kid that is not its key's thumbprint is refused: the JWKS could
// otherwise name a key wrongly.
func TestUseKeysRefusesAWrongKID(t *testing.T) {
	tk, _ := jwt.NewWithoutKeys(jwt.Config{Issuer: issuer, Audience: audience, TTL: ttl}, newClock(t0), seqIDs{})
	k := newKey(t, tk)
	k.KID = "not-the-thumbprint"
	if err := tk.UseKeys(app.KeySet{Current: k}); err == nil {
		t.Fatal("a wrong kid was accepted")
	}
	short := app.SigningKey{KID: "x", Seed: []byte("short")}
	if err := tk.UseKeys(app.KeySet{Current: short}); err == nil {
		t.Fatal("a short seed was accepted")
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }
