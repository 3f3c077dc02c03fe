package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// registerPasskey registers a passkey of the tab's virtual authenticator
// for the verified user email through the JSON API, from the page the tab
// shows (a sign-in page of the server, whose origin the passkey is bound
// to and which loads the WebAuthn helpers), as an application of that
// origin would.
func (s *server) registerPasskey(t *testing.T, tb *tab, email, password string) {
	t.Helper()
	_, access := s.login(t, email, password)
	js := fmt.Sprintf(`(async () => {
	const wa = window.gatehouseWebAuthn;
	const headers = {"Content-Type": "application/json", "Authorization": "Bearer " + %q};
	let res = await fetch("./v1/me/passkeys/register/begin", {method: "POST", headers});
	if (!res.ok) return "begin: " + res.status + " " + await res.text();
	const begun = await res.json();
	let cred;
	try {
		cred = await navigator.credentials.create({publicKey: wa.creationOptions(begun.options.publicKey)});
	} catch (e) {
		return "create: " + e.name + ": " + e.message;
	}
	res = await fetch("./v1/me/passkeys/register/finish", {method: "POST", headers,
		body: JSON.stringify({challenge_id: begun.challenge_id, name: "Test key", credential: wa.credentialJSON(cred)})});
	return res.ok ? "ok" : "finish: " + res.status + " " + await res.text();
})()`, access)
	if got := run(t, tb, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise)); got != "ok" {
		t.Fatalf("register a passkey through the API: %s", got)
	}
}

// jsTab opens a tab with JavaScript on, in a browser without cookies, and
// gives it a virtual authenticator that verifies its user (see
// addAuthenticator).
func jsTab(t *testing.T, browser context.Context) (*tab, webauthn.AuthenticatorID) {
	t.Helper()
	tb := newTab(t, browser, true)
	if _, err := chromedp.Call(tb.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatalf("clear the cookies: %v", err)
	}
	return tb, tb.addAuthenticator(t, true)
}

// openSignInOffering opens the sign-in page of authURL and checks that
// it offers passkeys: the email field asks the autofill for them, and the
// page began the autofill's conditional request.
func openSignInOffering(t *testing.T, tb *tab, authURL string) {
	t.Helper()
	openSignIn(t, tb, authURL)
	if got := tb.attr(t, `#email`, "autocomplete"); got != "username webauthn" {
		t.Errorf("the email field's autocomplete is %q, want username webauthn", got)
	}
	checkConditional(t, tb)
}

// waitLocation waits up to 10 s for the tab to arrive at an address that
// starts with prefix, as after navigations the page starts by itself.
func waitLocation(t *testing.T, tb *tab, prefix string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		loc := run(t, tb, chromedp.Location())
		if strings.HasPrefix(loc, prefix) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tab is at %s after 10s, want %s…; the page says %q", pathOf(loc), prefix, tb.text(t, "body"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantAMR checks that the tab landed at the client's redirect URI with a
// code for state, redeems it with the PKCE verifier, and checks the amr
// claim of the id_token, verified as a relying party verifies it
// (signature, issuer, audience, expiry) against the server's discovery
// document and keys.
func (rp *relyingParty) wantAMR(t *testing.T, tb *tab, state, verifier string, want ...string) {
	t.Helper()
	code := rp.landedWithCode(t, tb, state)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := rp.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	provider, err := oidc.NewProvider(ctx, rp.srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: rp.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify the id_token: %v", err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.AMR, want) {
		t.Fatalf("id_token amr = %v, want %v", claims.AMR, want)
	}
}

// signInWithPasskey makes the verified user email, opens in a tab with
// an authenticator the sign-in page of a new authorization request of rp
// with state, and registers a passkey of the user there; it returns the
// tab, its authenticator and the request's PKCE verifier. The passkey is
// registered once the page is open: the page's conditional request, begun
// with no passkey to offer, then waits as for a user who has not picked
// one (Chromium's virtual authenticator answers it at once when it holds
// a passkey as the page loads), so the button must abort it to ask for
// the passkey in its own dialog.
func (rp *relyingParty) signInWithPasskey(t *testing.T, browser context.Context, email, password, state string) (*tab, webauthn.AuthenticatorID, string) {
	t.Helper()
	rp.srv.verifiedUser(t, email, password)
	tb, id := jsTab(t, browser)
	authURL, verifier := rp.request(state)
	openSignInOffering(t, tb, authURL)
	rp.srv.registerPasskey(t, tb, email, password)
	return tb, id, verifier
}

// TestPasskeySignIn drives the passkey sign-in of the hosted page in
// Chromium with a virtual authenticator, on a server whose public URL is
// http://localhost:<port> (passkeys need a domain name), for a relying
// party's authorization request: a passkey registered through the API
// signs the user in with the button and no password (amr hwk+user in the
// id_token), the button aborting the autofill's conditional request; an
// authenticator that cannot verify its user leads a TOTP account to the
// code page (amr hwk+otp); the autofill's conditional request signs in by
// itself once the authenticator answers (Chromium's virtual authenticator
// picks the passkey as a user picking it from the autofill would); a
// passkey deleted on the server is refused with words that say what to
// do; and without JavaScript the page hides the button and the password
// form works as before.
func TestPasskeySignIn(t *testing.T) {
	requireChromium(t)
	srv := startLocalhostServer(t, "GATEHOUSE_APP_NAME="+appName)
	browser := startBrowser(t)
	cb := startCallback(t)
	rp := srv.registerClient(t, cb, "Passkey Notes", false)

	t.Run("button with user verification", func(t *testing.T) {
		tb, _, verifier := rp.signInWithPasskey(t, browser, "pia@example.com", "lantern over the quiet fjord", "pk-verified")
		tb.screenshot(t, "sign-in-passkey")
		_, docs := tb.clickThrough(t, `#passkey-sign-in`)
		wantPaths(t, docs, "POST /sign-in", "GET /authorize", "GET /cb")
		rp.wantAMR(t, tb, "pk-verified", verifier, "hwk", "user")
	})

	t.Run("no user verification asks a TOTP account for the code", func(t *testing.T) {
		const email, password = "oskar@example.com", "seven gulls above the ferry"
		tb, id, verifier := rp.signInWithPasskey(t, browser, email, password, "pk-code")
		code := srv.enrollTOTP(t, email, password)
		tb.dropUserVerification(t, id)

		_, docs := tb.clickThrough(t, `#passkey-sign-in`)
		wantPaths(t, docs, "POST /sign-in")
		if tb.count(t, `input[name=code][autocomplete=one-time-code]`) != 1 || tb.count(t, `input[name=mfa_token]`) != 1 {
			t.Fatalf("no code page after a passkey without user verification: %q", tb.text(t, "body"))
		}
		tb.do(t, chromedp.SendKeys(chromedp.CSS("#code"), code(time.Now().Add(30*time.Second))))
		_, docs = tb.clickThrough(t, `form button[type=submit]`)
		wantPaths(t, docs, "POST /sign-in", "GET /authorize", "GET /cb")
		rp.wantAMR(t, tb, "pk-code", verifier, "hwk", "otp")
	})

	t.Run("conditional UI", func(t *testing.T) {
		const email, password = "ines@example.com", "a kite above the salt flats"
		srv.verifiedUser(t, email, password)
		tb, _ := jsTab(t, browser)
		tb.open(t, srv.URL+"/sign-in")
		srv.registerPasskey(t, tb, email, password)

		authURL, verifier := rp.request("pk-autofill")
		tb.open(t, authURL)
		waitLocation(t, tb, rp.cfg.RedirectURL+"?")
		rp.wantAMR(t, tb, "pk-autofill", verifier, "hwk", "user")
	})

	t.Run("refused passkey", func(t *testing.T) {
		const email, password = "runa@example.com", "pebbles under the tidal bridge"
		tb, id, _ := rp.signInWithPasskey(t, browser, email, password, "pk-refused")
		// The passkey is deleted on the server; the authenticator still
		// offers it.
		_, access := srv.login(t, email, password)
		var list struct {
			Passkeys []struct {
				ID string `json:"id"`
			} `json:"passkeys"`
		}
		if err := json.Unmarshal(srv.mustCall(t, http.StatusOK, http.MethodGet, "/v1/me/passkeys", access, nil).Body, &list); err != nil || len(list.Passkeys) != 1 {
			t.Fatalf("the user has %d passkeys, want 1", len(list.Passkeys))
		}
		srv.mustCall(t, http.StatusNoContent, http.MethodDelete, "/v1/me/passkeys/"+list.Passkeys[0].ID, access, nil)
		if n := len(tb.credentials(t, id)); n != 1 {
			t.Fatalf("the authenticator holds %d passkeys, want the deleted one", n)
		}
		// From here on the tab is a browser without the autofill for
		// passkeys: Chromium's virtual authenticator would answer the
		// refusal page's conditional request with the same passkey at
		// once, and again, where a user would pick nothing.
		if _, err := chromedp.Call(tb.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `PublicKeyCredential.isConditionalMediationAvailable = async () => false;`,
		}); err != nil {
			t.Fatal(err)
		}

		res, docs := tb.clickThrough(t, `#passkey-sign-in`)
		wantPaths(t, docs, "POST /sign-in")
		if msg := tb.text(t, `[role=status]`); res.Status != http.StatusUnauthorized || !strings.Contains(msg, "This passkey was not recognised. Sign in with your password, or try another passkey.") {
			t.Fatalf("a deleted passkey: %d %q", res.Status, msg)
		}
		if tb.count(t, `form[action="./sign-in"] input[name=pending]`) != 2 || tb.count(t, `#password`) != 1 {
			t.Fatalf("the refusal lost the pending request or the password form: %q", tb.text(t, "body"))
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		const email, password = "jonas@example.com", "cedar smoke and evening rain"
		srv.verifiedUser(t, email, password)
		tb := freshTab(t, browser)
		res := tb.open(t, srv.URL+"/sign-in")
		checkHostedHeaders(t, res.Headers)
		if tb.count(t, `#passkey-sign-in[hidden]`) != 1 {
			t.Fatal("without JavaScript the passkey button is not hidden")
		}
		signIn(t, tb, email, password)
		if body := tb.text(t, "body"); !strings.Contains(body, "You are signed in to "+appName+" as "+email) {
			t.Fatalf("after the password sign-in the page says %q", body)
		}
	})
}

// checkConditional checks that the sign-in page began a conditional
// passkey request (the email field's autofill) as it loaded.
func checkConditional(t *testing.T, tb *tab) {
	t.Helper()
	const began = `new Promise((resolve) => {
	const started = Date.now();
	(function wait() {
		const seen = performance.getEntriesByType("resource").some((e) => e.name.endsWith("/sign-in/passkey/begin"));
		if (seen || Date.now() - started > 5000) resolve(seen); else setTimeout(wait, 20);
	})();
})`
	if !run(t, tb, chromedp.Evaluate[bool](began, chromedp.EvalAwaitPromise)) {
		t.Error("the sign-in page began no conditional passkey request as it loaded")
	}
}
