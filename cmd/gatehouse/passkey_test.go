package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
)

// The end-to-end tests of passkeys drive whole WebAuthn ceremonies with a
// software authenticator (github.com/descope/virtualwebauthn), which
// answers the options the server sends as a browser and an authenticator
// would, with a key of its own, on both stores.

// testRP is Gatehouse as the test authenticator sees it: the relying
// party id is the host of the test public URL, the origin that URL's.
var testRP = virtualwebauthn.RelyingParty{Name: "gatehouse.test", ID: "gatehouse.test", Origin: testPublicURL}

// softKey is one passkey held by a software authenticator.
type softKey struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

// newSoftKey is a fresh passkey on an authenticator that verifies its
// user or not.
func newSoftKey(t *testing.T, userVerified bool) *softKey {
	t.Helper()
	return &softKey{
		auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserNotVerified: !userVerified, BackupEligible: true}),
		cred: newP256Credential(t),
	}
}

// newP256Credential is a credential with a fresh P-256 key whose
// coordinates both have a first byte that is not zero: the software
// authenticator writes them without leading zeros, and a coordinate of
// fewer than 32 bytes is not a valid COSE key.
func newP256Credential(t *testing.T) virtualwebauthn.Credential {
	t.Helper()
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		point, err := k.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			t.Fatal(err)
		}
		if point[1] == 0 || point[33] == 0 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// ceremony is the answer of a begin: the challenge id and the options as
// JSON.
func ceremony(t *testing.T, r response) (challengeID, options string) {
	t.Helper()
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("begin: %d %s", r.Status, r.Body)
	}
	var b struct {
		ChallengeID string          `json:"challenge_id"`
		Options     json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	return b.ChallengeID, string(b.Options)
}

// register adds k to the account of the bearer access through the API,
// named name ("" for the default), and returns the passkey as answered.
func (k *softKey) register(t *testing.T, c *client, access, name string) map[string]any {
	t.Helper()
	id, options := ceremony(t, c.bearer(http.MethodPost, "/v1/me/passkeys/register/begin", access, nil))
	opts, err := virtualwebauthn.ParseAttestationOptions(options)
	if err != nil {
		t.Fatalf("creation options %s: %v", options, err)
	}
	body := map[string]any{"challenge_id": id, "credential": json.RawMessage(virtualwebauthn.CreateAttestationResponse(testRP, k.auth, k.cred, *opts))}
	if name != "" {
		body["name"] = name
	}
	r := c.bearer(http.MethodPost, "/v1/me/passkeys/register/finish", access, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("register finish: %d %s", r.Status, r.Body)
	}
	k.auth.Options.UserHandle = []byte(opts.UserID)
	k.auth.AddCredential(k.cred)
	return r.JSON(t)["passkey"].(map[string]any)
}

// answer is the sign-in answer of k to the options of a begin, its
// counter moved to count.
func (k *softKey) answer(t *testing.T, options string, count uint32) json.RawMessage {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(options)
	if err != nil {
		t.Fatalf("request options %s: %v", options, err)
	}
	k.cred.Counter = count
	return json.RawMessage(virtualwebauthn.CreateAssertionResponse(testRP, k.auth, k.cred, *opts))
}

// signIn begins a passkey sign-in and finishes it with k's answer at
// counter count.
func (k *softKey) signIn(t *testing.T, c *client, count uint32) (response, string, json.RawMessage) {
	t.Helper()
	id, options := ceremony(t, c.post("/v1/login/passkey/begin", nil))
	ans := k.answer(t, options, count)
	return c.post("/v1/login/passkey/finish", map[string]any{"challenge_id": id, "credential": ans}), id, ans
}

// currentAMR is the amr of the session of access, as its list shows it.
func currentAMR(t *testing.T, c *client, access string) []string {
	t.Helper()
	for _, s := range elems[map[string]any](c.getOK(t, "/v1/me/sessions", access)["sessions"]) {
		if s["current"] == true {
			return elems[string](s["amr"])
		}
	}
	t.Fatal("no current session listed")
	return nil
}

func TestPasskeyRegisterSignInManage(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		_, access, _ := f.signedIn(t)
		me := c.getOK(t, "/v1/me", access)
		userID := me["user"].(map[string]any)["id"].(string)

		// Register, list, rename.
		key := newSoftKey(t, true)
		pk := key.register(t, c, access, "Laptop")
		if pk["name"] != "Laptop" || pk["last_used_at"] != nil {
			t.Fatalf("registered passkey %v", pk)
		}
		// The authenticator already holds it: a second registration
		// excludes it.
		id, options := ceremony(t, c.bearer(http.MethodPost, "/v1/me/passkeys/register/begin", access, nil))
		opts, err := virtualwebauthn.ParseAttestationOptions(options)
		if err != nil || !key.cred.IsExcludedForAttestation(*opts) {
			t.Fatalf("creation options do not exclude the registered passkey (%v): %s", err, options)
		}
		// Finishing it anyway is refused: the credential exists.
		dup := json.RawMessage(virtualwebauthn.CreateAttestationResponse(testRP, key.auth, key.cred, *opts))
		if r := c.bearer(http.MethodPost, "/v1/me/passkeys/register/finish", access, map[string]any{"challenge_id": id, "credential": dup}); r.Status != http.StatusConflict || r.Code(t) != "passkey_exists" {
			t.Fatalf("registering a passkey twice: %d %s", r.Status, r.Body)
		}
		// Its challenge is used up.
		if r := c.bearer(http.MethodPost, "/v1/me/passkeys/register/finish", access, map[string]any{"challenge_id": id, "credential": dup}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_challenge" {
			t.Fatalf("a registration challenge used twice: %d %s", r.Status, r.Body)
		}
		pkID := pk["id"].(string)
		if r := c.bearer(http.MethodPatch, "/v1/me/passkeys/"+pkID, access, map[string]string{"name": "  Work laptop "}); r.Status != http.StatusOK || r.JSON(t)["passkey"].(map[string]any)["name"] != "Work laptop" {
			t.Fatalf("rename: %d %s", r.Status, r.Body)
		}
		if r := c.bearer(http.MethodPatch, "/v1/me/passkeys/"+pkID, access, map[string]string{"name": strings.Repeat("é", 65)}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("rename to a name of 65 characters: %d %s", r.Status, r.Body)
		}

		// Sign in with it, no email: a working token pair whose session
		// proved the key and its user.
		r, challenge, ans := key.signIn(t, c, 1)
		if r.Status != http.StatusOK {
			t.Fatalf("passkey sign-in: %d %s", r.Status, r.Body)
		}
		pair := r.JSON(t)
		pkAccess, pkRefresh := pair["access_token"].(string), pair["refresh_token"].(string)
		if got := c.getOK(t, "/v1/me", pkAccess)["user"].(map[string]any)["id"]; got != userID {
			t.Fatalf("signed in as %v, want %s", got, userID)
		}
		if amr := currentAMR(t, c, pkAccess); !slices.Equal(amr, []string{"hwk", "user"}) {
			t.Errorf("amr of a passkey sign-in with user verification: %v", amr)
		}
		if r := c.post("/v1/token/refresh", map[string]string{"refresh_token": pkRefresh}); r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		// The same answer again: its challenge is used up.
		if r := c.post("/v1/login/passkey/finish", map[string]any{"challenge_id": challenge, "credential": ans}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_challenge" {
			t.Fatalf("a sign-in challenge used twice: %d %s", r.Status, r.Body)
		}
		listed := elems[map[string]any](c.getOK(t, "/v1/me/passkeys", access)["passkeys"])
		if len(listed) != 1 || listed[0]["name"] != "Work laptop" || listed[0]["last_used_at"] == nil {
			t.Fatalf("passkeys after a sign-in: %v", listed)
		}

		// A counter that goes backwards (a cloned key) is refused and
		// audited; the counter stays where it was.
		if r, _, _ := key.signIn(t, c, 1); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credential" {
			t.Fatalf("a counter that did not move on: %d %s", r.Status, r.Body)
		}
		assertAudit(t, f.env, userID, "passkey_added", "passkey_clone_detected", "login_succeeded")
		if r, _, _ := key.signIn(t, c, 2); r.Status != http.StatusOK {
			t.Fatalf("the next counter: %d %s", r.Status, r.Body)
		}

		// A second passkey can go while the password is there.
		other := newSoftKey(t, true)
		otherID := other.register(t, c, access, "")["id"].(string)
		if r := c.bearer(http.MethodDelete, "/v1/me/passkeys/"+otherID, access, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete a passkey: %d %s", r.Status, r.Body)
		}
		if r := c.bearer(http.MethodDelete, "/v1/me/passkeys/"+otherID, access, nil); r.Status != http.StatusNotFound {
			t.Fatalf("delete it again: %d %s", r.Status, r.Body)
		}
		assertAudit(t, f.env, userID, "passkey_deleted")

		// Without a password (an account made without one), the last
		// passkey is the last way to sign in: it stays.
		openStore(t, f.env).exec(t, `UPDATE users SET hashed_password = '' WHERE CAST(id AS TEXT) = $1`, userID)
		if r := c.bearer(http.MethodDelete, "/v1/me/passkeys/"+pkID, access, nil); r.Status != http.StatusConflict || r.Code(t) != "last_sign_in_method" {
			t.Fatalf("delete the last way to sign in: %d %s", r.Status, r.Body)
		}
		if n := len(elems[map[string]any](c.getOK(t, "/v1/me/passkeys", access)["passkeys"])); n != 1 {
			t.Fatalf("%d passkeys after a refused delete, want 1", n)
		}
		if r, _, _ := key.signIn(t, c, 3); r.Status != http.StatusOK {
			t.Fatalf("sign in with the only way left: %d %s", r.Status, r.Body)
		}
	})
}

// A passkey whose authenticator does not verify its user is one factor:
// an account with TOTP on then needs the code, and the session has
// proved both. With user verification it is two factors, enough for the
// step-up of sensitive changes.
func TestPasskeySignInWithMFA(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		u := enroll(t, f)
		presence := newSoftKey(t, false)
		pk := presence.register(t, c, u.access, "Security key")
		verifying := newSoftKey(t, true)
		verifying.register(t, c, u.access, "Phone")

		r, _, _ := presence.signIn(t, c, 1)
		if r.Status != http.StatusOK || r.JSON(t)["mfa_required"] != true {
			t.Fatalf("passkey without user verification, MFA on: %d %s", r.Status, r.Body)
		}
		r = c.post("/v1/login/mfa", map[string]string{"mfa_token": r.JSON(t)["mfa_token"].(string), "code": u.auth.next(t)})
		if r.Status != http.StatusOK {
			t.Fatalf("the code after the passkey: %d %s", r.Status, r.Body)
		}
		if amr := currentAMR(t, c, r.JSON(t)["access_token"].(string)); !slices.Equal(amr, []string{"hwk", "otp"}) {
			t.Errorf("amr after a passkey and a code: %v", amr)
		}

		r, _, _ = verifying.signIn(t, c, 1)
		if r.Status != http.StatusOK || r.JSON(t)["access_token"] == nil {
			t.Fatalf("passkey with user verification, MFA on: %d %s", r.Status, r.Body)
		}
		access := r.JSON(t)["access_token"].(string)
		if r := c.bearer(http.MethodPost, "/v1/me/mfa/recovery-codes", access, map[string]string{}); r.Status != http.StatusOK {
			t.Fatalf("new recovery codes from a passkey session, no code: %d %s", r.Status, r.Body)
		}

		// Deleting a passkey takes the step-up: a code sent is checked
		// even from a session that proved a second factor; without one,
		// that session suffices.
		path := "/v1/me/passkeys/" + pk["id"].(string)
		if r := c.bearer(http.MethodDelete, path, access, map[string]string{"code": "aaaa-bbbb-cccc-dddd"}); r.Status != http.StatusForbidden || r.Code(t) != "invalid_code" {
			t.Fatalf("delete with a wrong code: %d %s", r.Status, r.Body)
		}
		if r := c.bearer(http.MethodDelete, path, access, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete from a passkey session with user verification: %d %s", r.Status, r.Body)
		}
	})
}

// Forged and malformed answers are 4xx, never a fault.
func TestPasskeyHostileAnswers(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		c := f.c
		_, access, _ := f.signedIn(t)
		key := newSoftKey(t, true)
		key.register(t, c, access, "")

		id, options := ceremony(t, c.post("/v1/login/passkey/begin", nil))
		// Another key with the same credential id: the signature fails.
		forger := newSoftKey(t, true)
		forger.cred.ID = key.cred.ID
		forger.auth.Options.UserHandle = key.auth.Options.UserHandle
		if r := c.post("/v1/login/passkey/finish", map[string]any{"challenge_id": id, "credential": forger.answer(t, options, 9)}); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credential" {
			t.Fatalf("a forged signature: %d %s", r.Status, r.Body)
		}
		for name, body := range map[string]any{
			"unknown challenge":  map[string]any{"challenge_id": "00000000-0000-4000-8000-000000000000", "credential": map[string]any{"id": "x"}},
			"not a uuid":         map[string]any{"challenge_id": "nope", "credential": map[string]any{"id": "x"}},
			"no credential":      map[string]any{"challenge_id": id},
			"credential garbage": map[string]any{"challenge_id": "", "credential": "AAAA"},
		} {
			if r := c.post("/v1/login/passkey/finish", body); r.Status < 400 || r.Status >= 500 {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		// A garbled answer to a live challenge.
		id, _ = ceremony(t, c.post("/v1/login/passkey/begin", nil))
		garbage := map[string]any{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": map[string]any{"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}
		if r := c.post("/v1/login/passkey/finish", map[string]any{"challenge_id": id, "credential": garbage}); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credential" {
			t.Fatalf("a garbled answer: %d %s", r.Status, r.Body)
		}
		// Another origin: a phishing site relaying the challenge.
		id, options = ceremony(t, c.post("/v1/login/passkey/begin", nil))
		opts, _ := virtualwebauthn.ParseAssertionOptions(options)
		key.cred.Counter = 5
		phished := virtualwebauthn.CreateAssertionResponse(virtualwebauthn.RelyingParty{ID: testRP.ID, Origin: "https://gatehouse.test.evil.example"}, key.auth, key.cred, *opts)
		if r := c.post("/v1/login/passkey/finish", map[string]any{"challenge_id": id, "credential": json.RawMessage(phished)}); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credential" {
			t.Fatalf("an answer from another origin: %d %s", r.Status, r.Body)
		}
		// A registration challenge does not finish a sign-in.
		regID, _ := ceremony(t, c.bearer(http.MethodPost, "/v1/me/passkeys/register/begin", access, nil))
		if r := c.post("/v1/login/passkey/finish", map[string]any{"challenge_id": regID, "credential": key.answer(t, options, 6)}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_challenge" {
			t.Fatalf("a registration challenge at the sign-in: %d %s", r.Status, r.Body)
		}
	})
}

// GATEHOUSE_WEBAUTHN_RP_ID names the public URL's host or a domain it is
// under, never an IP address or another site.
func TestConfigWebAuthnRPID(t *testing.T) {
	t.Parallel()
	for rpID, ok := range map[string]bool{
		"auth.example.com": true, "example.com": true, " Example.COM ": true,
		"other.example": false, "xample.com": false, "sub.auth.example.com": false, "127.0.0.1": false,
	} {
		_, err := LoadConfig(map[string]string{"GATEHOUSE_PUBLIC_URL": "https://auth.example.com", "GATEHOUSE_WEBAUTHN_RP_ID": rpID})
		if ok && err != nil {
			t.Errorf("%q: %v", rpID, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "GATEHOUSE_WEBAUTHN_RP_ID")) {
			t.Errorf("%q: %v, want an error naming the variable", rpID, err)
		}
	}
}

// A public URL with an IP address serves everything but passkeys, which
// need a domain name: serve says so at start, and their ceremonies say so.
func TestPasskeysNeedADomainName(t *testing.T) {
	t.Parallel()
	f := newPublicFixture(t, onSQLite)
	if !strings.Contains(f.inst.Logs.String(), "passkeys are off") {
		t.Errorf("serve did not warn that passkeys are off:\n%s", f.inst.Logs)
	}
	if r := f.c.post("/v1/login/passkey/begin", nil); r.Status != http.StatusNotFound || r.Code(t) != "passkeys_unavailable" {
		t.Fatalf("passkey sign-in on an IP address: %d %s", r.Status, r.Body)
	}
}
