package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gatehouse-auth/gatehouse/internal/upstreamtest"
	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

// upstreamFixture is an instance with three upstream providers: "corp"
// (OpenID Connect, trust_email), "social" (the same provider, its word
// on addresses not trusted) and "github" (the preset, against a fake of
// GitHub, trust_email).
type upstreamFixture struct {
	fixture
	op *upstreamtest.Provider
	gh *upstreamtest.Provider
}

func newUpstreamFixture(t *testing.T, st testStore) upstreamFixture {
	t.Helper()
	op := upstreamtest.NewOIDC(t, "gatehouse", "op-secret")
	gh := upstreamtest.NewGitHub(t, "gh-client", "gh-secret")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	opSecret, ghSecret := write("op-secret", "op-secret\n"), write("gh-secret", "gh-secret")
	file := write("providers.yaml", fmt.Sprintf(`providers:
  - id: corp
    name: Corp
    issuer: %[1]s
    client_id: gatehouse
    client_secret_file: %[2]s
    trust_email: true
  - id: social
    name: Social
    issuer: %[1]s
    client_id: gatehouse
    client_secret_file: %[2]s
  - id: github
    name: GitHub
    preset: github
    client_id: gh-client
    client_secret_file: %[3]s
    trust_email: true
    auth_url: %[4]s/login/oauth/authorize
    token_url: %[4]s/login/oauth/access_token
    api_url: %[4]s/api
`, op.URL, opSecret, ghSecret, gh.URL))
	return upstreamFixture{fixture: newFixtureWith(t, st, map[string]string{"GATEHOUSE_UPSTREAM_PROVIDERS_FILE": file}), op: op, gh: gh}
}

// toProvider starts the round trip at provider id in b and follows the
// provider's redirect (it approves at once), returning the callback path
// and query the provider sent the browser back to, untaken.
func toProvider(t *testing.T, b *browser, id string) string {
	t.Helper()
	return toProviderFor(t, b, id, "")
}

// toProviderFor is toProvider for the pending authorization request
// pending ("" for none).
func toProviderFor(t *testing.T, b *browser, id, pending string) string {
	t.Helper()
	start := "/sign-in/upstream/" + id
	if pending != "" {
		start += "?pending=" + pending
	}
	if status, body := b.get(start); status != http.StatusSeeOther {
		t.Fatalf("start at %s: %d %s", id, status, body)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(b.lastLocation)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound || !strings.HasPrefix(back.String(), testPublicURL+"/sign-in/upstream/"+id+"/callback?") {
		t.Fatalf("provider answered %d, back to %q", res.StatusCode, res.Header.Get("Location"))
	}
	return back.Path + "?" + back.RawQuery
}

// upstreamSignIn is the whole round trip at provider id in b; it answers
// the callback's status and page.
func upstreamSignIn(t *testing.T, b *browser, id string) (int, string) {
	t.Helper()
	return b.get(toProvider(t, b, id))
}

// wantSignedInAs fails unless b's session is addr's.
func wantSignedInAs(t *testing.T, b *browser, addr string) {
	t.Helper()
	if status, body := b.get("/sign-in"); status != http.StatusOK || !strings.Contains(body, "You are signed in") || !strings.Contains(body, addr) {
		t.Fatalf("after the sign-in, /sign-in: %d %s", status, body)
	}
}

// unlinkField finds the identity id of the account page's first Unlink form.
var unlinkField = regexp.MustCompile(`name="op" value="unlink"><input type="hidden" name="id" value="([0-9a-f-]{36})"`)

func TestUpstreamSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newUpstreamFixture(t, st)

		t.Run("the sign-in page offers each provider", func(t *testing.T) {
			_, body := newBrowser(t, f.inst.URL).get("/sign-in")
			for _, want := range []string{`href="./sign-in/upstream/corp">Continue with Corp`, `href="./sign-in/upstream/github">Continue with GitHub`} {
				if !strings.Contains(body, want) {
					t.Errorf("sign-in page lacks %s:\n%s", want, body)
				}
			}
			if status, body := newBrowser(t, f.inst.URL).get("/sign-in/upstream/nobody"); status != http.StatusNotFound || !strings.Contains(body, "sign-in provider") {
				t.Errorf("an unknown provider: %d %s", status, body)
			}
		})

		t.Run("a first sign-in with a trusted verified address makes the account", func(t *testing.T) {
			addr := randomEmail()
			f.op.SetUser(upstreamtest.User{Subject: "corp-" + addr, Email: addr, EmailVerified: true})
			b := newBrowser(t, f.inst.URL)
			if status, body := upstreamSignIn(t, b, "corp"); status != http.StatusSeeOther || b.lastLocation != "../../../sign-in" {
				t.Fatalf("callback: %d %q %s", status, b.lastLocation, body)
			}
			wantSignedInAs(t, b, addr)
			// Again: the identity signs in the same account.
			b2 := newBrowser(t, f.inst.URL)
			if status, _ := upstreamSignIn(t, b2, "corp"); status != http.StatusSeeOther {
				t.Fatalf("second sign-in: %d", status)
			}
			wantSignedInAs(t, b2, addr)
			// The account has no password: the password login refuses it
			// as a wrong password, never with a 500.
			r := f.c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword})
			if r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credentials" {
				t.Fatalf("password login of an upstream account: %d %s", r.Status, r.Body)
			}
		})

		t.Run("an untrusted address gets the verification mail first", func(t *testing.T) {
			addr := randomEmail()
			f.op.SetUser(upstreamtest.User{Subject: "social-" + addr, Email: addr, EmailVerified: true})
			b := newBrowser(t, f.inst.URL)
			if status, body := upstreamSignIn(t, b, "social"); status != http.StatusAccepted || !strings.Contains(body, "cannot be used until the address is verified") {
				t.Fatalf("callback: %d %s", status, body)
			}
			tok := tokenFrom(t, mailNth(t, f.smtp, addr, 1, "erif"), "/verify-email")
			if status, body := upstreamSignIn(t, b, "social"); status != http.StatusForbidden || !strings.Contains(body, "not verified yet") {
				t.Fatalf("before verification: %d %s", status, body)
			}
			if status, body := b.get("/verify-email?token=" + tok); status != http.StatusOK || strings.Contains(body, `name="password"`) {
				t.Fatalf("verification page of an account without a password: %d %s", status, body)
			}
			if status, body := b.post("/verify-email", url.Values{"token": {tok}}, true); status >= 400 {
				t.Fatalf("verify: %d %s", status, body)
			}
			if status, body := upstreamSignIn(t, b, "social"); status != http.StatusSeeOther {
				t.Fatalf("after verification: %d %s", status, body)
			}
			wantSignedInAs(t, b, addr)
		})

		t.Run("an existing account is reached only by a trusted verified address", func(t *testing.T) {
			addr := f.verifiedUser(t)
			for _, c := range []struct {
				provider string
				verified bool
			}{{"social", true}, {"corp", false}} {
				f.op.SetUser(upstreamtest.User{Subject: "x-" + c.provider + addr, Email: addr, EmailVerified: c.verified})
				b := newBrowser(t, f.inst.URL)
				if status, body := upstreamSignIn(t, b, c.provider); status != http.StatusConflict || !strings.Contains(body, "first sign in to that account") {
					t.Fatalf("%s, email_verified %v: %d %s", c.provider, c.verified, status, body)
				}
				if _, body := b.get("/sign-in"); strings.Contains(body, "You are signed in") {
					t.Fatalf("%s, email_verified %v signed in", c.provider, c.verified)
				}
			}
			f.op.SetUser(upstreamtest.User{Subject: "trusted-" + addr, Email: addr, EmailVerified: true})
			b := newBrowser(t, f.inst.URL)
			if status, body := upstreamSignIn(t, b, "corp"); status != http.StatusSeeOther {
				t.Fatalf("trusted and verified: %d %s", status, body)
			}
			wantSignedInAs(t, b, addr)
		})

		t.Run("signed in, the round trip links the identity; the API lists and unlinks it", func(t *testing.T) {
			addr := f.verifiedUser(t)
			b := newBrowser(t, f.inst.URL)
			if status, body := b.post("/sign-in", url.Values{"email": {addr}, "password": {strongPassword}}, true); status != http.StatusSeeOther {
				t.Fatalf("password sign-in: %d %s", status, body)
			}
			f.op.SetUser(upstreamtest.User{Subject: "link-" + addr, Email: "elsewhere-" + addr, EmailVerified: false})
			if status, body := upstreamSignIn(t, b, "social"); status != http.StatusOK || !strings.Contains(body, "is linked to your account") {
				t.Fatalf("link: %d %s", status, body)
			}
			access, _ := login(t, f.c, addr, strongPassword)
			ids := elems[map[string]any](f.c.getOK(t, "/v1/me/identities", access)["identities"])
			if len(ids) != 1 || ids[0]["provider"] != "social" || ids[0]["provider_name"] != "Social" || ids[0]["email"] != "elsewhere-"+addr {
				t.Fatalf("identities %v", ids)
			}
			// The linked identity now signs in to the account.
			b2 := newBrowser(t, f.inst.URL)
			if status, _ := upstreamSignIn(t, b2, "social"); status != http.StatusSeeOther {
				t.Fatalf("sign-in with the linked identity: %d", status)
			}
			wantSignedInAs(t, b2, addr)
			if r := f.c.bearer(http.MethodDelete, "/v1/me/identities/"+ids[0]["id"].(string), access, nil); r.Status != http.StatusNoContent {
				t.Fatalf("unlink: %d %s", r.Status, r.Body)
			}
			if got := elems[map[string]any](f.c.getOK(t, "/v1/me/identities", access)["identities"]); len(got) != 0 {
				t.Fatalf("after unlink: %v", got)
			}
		})

		t.Run("a reset gives an upstream account a password, and its identity may then be unlinked", func(t *testing.T) {
			addr := randomEmail()
			f.op.SetUser(upstreamtest.User{Subject: "last-" + addr, Email: addr, EmailVerified: true})
			b := newBrowser(t, f.inst.URL)
			if status, _ := upstreamSignIn(t, b, "corp"); status != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", status)
			}
			// The account page lists the identity and offers the other
			// providers; unlinking the last way to sign in is refused
			// readably, pointing to the reset that sets a password.
			status, page := b.get("/account")
			if status != http.StatusOK || !strings.Contains(page, `id="linked"`) || !strings.Contains(page, `href="./sign-in/upstream/github">Link GitHub`) ||
				strings.Contains(page, `>Link Corp`) {
				t.Fatalf("account page: %d %s", status, page)
			}
			m := unlinkField.FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no Unlink form on the account page: %s", page)
			}
			if status, page := b.post("/account", url.Values{"op": {"unlink"}, "id": {m[1]}}, true); status != http.StatusConflict ||
				!strings.Contains(page, "your last way to sign in") || !strings.Contains(page, `href="./forgot-password"`) {
				t.Fatalf("unlinking the last way to sign in on the account page: %d %s", status, page)
			}
			// No password: the reset sets one, then the API can sign in.
			f.c.post("/v1/password/forgot", map[string]string{"email": addr})
			tok := tokenFrom(t, mailNth(t, f.smtp, addr, 1, "assword"), "/reset-password")
			if r := f.c.post("/v1/password/reset", map[string]string{"token": tok, "password": strongPassword}); r.Status >= 300 {
				t.Fatalf("reset: %d %s", r.Status, r.Body)
			}
			access, _ := login(t, f.c, addr, strongPassword)
			ids := elems[map[string]any](f.c.getOK(t, "/v1/me/identities", access)["identities"])
			if len(ids) != 1 {
				t.Fatalf("identities %v", ids)
			}
			if r := f.c.bearer(http.MethodDelete, "/v1/me/identities/"+ids[0]["id"].(string), access, nil); r.Status != http.StatusNoContent {
				t.Fatalf("unlink with a password set: %d %s", r.Status, r.Body)
			}
		})

		t.Run("state of another browser, a replayed callback and a wrong nonce are refused", func(t *testing.T) {
			addr := randomEmail()
			f.op.SetUser(upstreamtest.User{Subject: "csrf-" + addr, Email: addr, EmailVerified: true})
			attacker, victim := newBrowser(t, f.inst.URL), newBrowser(t, f.inst.URL)
			callback := toProvider(t, attacker, "corp")
			if status, body := victim.get(callback); status != http.StatusBadRequest || !strings.Contains(body, "another browser") {
				t.Fatalf("another browser's callback: %d %s", status, body)
			}
			if _, body := victim.get("/sign-in"); strings.Contains(body, "You are signed in") {
				t.Fatal("login CSRF signed the victim in")
			}
			b := newBrowser(t, f.inst.URL)
			callback = toProvider(t, b, "corp")
			if status, _ := b.get(callback); status != http.StatusSeeOther {
				t.Fatalf("callback: %d", status)
			}
			if status, _ := b.get(callback); status != http.StatusBadRequest {
				t.Fatalf("replayed callback: %d", status)
			}
			// The callback of one provider does not answer another's flow.
			b = newBrowser(t, f.inst.URL)
			callback = toProvider(t, b, "corp")
			if status, _ := b.get(strings.Replace(callback, "/upstream/corp/", "/upstream/social/", 1)); status != http.StatusBadRequest {
				t.Fatalf("mix-up: %d", status)
			}
			f.op.SetWrongNonce(true)
			defer f.op.SetWrongNonce(false)
			if status, body := upstreamSignIn(t, newBrowser(t, f.inst.URL), "corp"); status != http.StatusUnauthorized || !strings.Contains(body, "could not be verified") {
				t.Fatalf("wrong nonce: %d %s", status, body)
			}
		})

		t.Run("the provider's error is told", func(t *testing.T) {
			b := newBrowser(t, f.inst.URL)
			callback := toProvider(t, b, "corp")
			u, _ := url.Parse(callback)
			q := u.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			if status, body := b.get(u.Path + "?" + q.Encode()); status != http.StatusBadRequest || !strings.Contains(body, "access_denied") {
				t.Fatalf("error=access_denied: %d %s", status, body)
			}
		})

		t.Run("a user with TOTP is asked for the code after the provider", func(t *testing.T) {
			mu := enroll(t, f.fixture)
			f.op.SetUser(upstreamtest.User{Subject: "totp-" + mu.addr, Email: mu.addr, EmailVerified: true})
			b := newBrowser(t, f.inst.URL)
			status, body := upstreamSignIn(t, b, "corp")
			m := regexp.MustCompile(`name="mfa_token" value="([^"]+)"`).FindStringSubmatch(body)
			if status != http.StatusOK || m == nil || !strings.Contains(body, `action="../../../sign-in"`) {
				t.Fatalf("callback of a TOTP user: %d %s", status, body)
			}
			if _, body := b.get("/sign-in"); strings.Contains(body, "You are signed in") {
				t.Fatal("signed in before the code")
			}
			if status, body := b.post("/sign-in", url.Values{"mfa_token": {m[1]}, "code": {mu.auth.next(t)}}, true); status != http.StatusSeeOther {
				t.Fatalf("code step: %d %s", status, body)
			}
			wantSignedInAs(t, b, mu.addr)
		})

		t.Run("an authorization request waits through the round trip; its id_token says amr swk", func(t *testing.T) {
			af := adminFixture{fixture: f.fixture, admin: newAdminClient(t, f.inst, adminKey(t, f.env, "e2e-"+uuid.NewString()[:8]))}
			app := newRP(t, af, map[string]any{"name": "Wiki", "type": "confidential", "redirect_uris": []string{"https://wiki.example.com/cb"}})
			addr := randomEmail()
			f.op.SetUser(upstreamtest.User{Subject: "rp-" + addr, Email: addr, EmailVerified: true})
			b := newBrowser(t, f.inst.URL)
			verifier := oauth2.GenerateVerifier()
			authURL := app.config.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))
			if status, _ := b.get(strings.TrimPrefix(authURL, testPublicURL)); status != http.StatusSeeOther {
				t.Fatalf("authorize: %d", status)
			}
			toSignIn, err := url.Parse(b.lastLocation)
			pending := toSignIn.Query().Get("pending")
			if err != nil || pending == "" {
				t.Fatalf("authorize sent the browser to %q", b.lastLocation)
			}
			if status, body := b.get(toProviderFor(t, b, "corp", pending)); status != http.StatusSeeOther || b.lastLocation != "../../../authorize?pending="+pending {
				t.Fatalf("callback: %d to %q %s", status, b.lastLocation, body)
			}
			if status, _ := b.get("/authorize?pending=" + pending); status != http.StatusSeeOther || !strings.HasPrefix(b.lastLocation, "https://wiki.example.com/cb?") {
				t.Fatalf("back into the request: %d to %q", status, b.lastLocation)
			}
			back, _ := url.Parse(b.lastLocation)
			_, idt, _ := app.exchange(t, back.Query().Get("code"), verifier)
			var claims struct {
				Email string   `json:"email"`
				AMR   []string `json:"amr"`
			}
			if err := idt.Claims(&claims); err != nil || claims.Email != addr || strings.Join(claims.AMR, " ") != "swk" || idt.Nonce != "nonce-1" {
				t.Fatalf("id_token: %+v %v", claims, err)
			}
		})

		t.Run("the GitHub preset", func(t *testing.T) {
			addr := randomEmail()
			f.gh.SetUser(upstreamtest.User{Subject: "90210", Email: addr, EmailVerified: true})
			b := newBrowser(t, f.inst.URL)
			if status, body := upstreamSignIn(t, b, "github"); status != http.StatusSeeOther {
				t.Fatalf("callback: %d %s", status, body)
			}
			wantSignedInAs(t, b, addr)
		})
	})
}
