package browsertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// TestAccountPage: a user opens /account signed out, signs in and is back
// on it; with JavaScript on adds a passkey with the browser's (virtual)
// authenticator, renames and deletes it; then, with JavaScript on and
// off, ends another session, changes the password and sets up TOTP,
// seeing the recovery codes. Without JavaScript the passkey button stays
// hidden and the page says why.
func TestAccountPage(t *testing.T) {
	requireChromium(t)
	srv := startLocalhostServer(t, "GATEHOUSE_APP_NAME="+appName)
	browser := startBrowser(t)

	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("js=%v", js), func(t *testing.T) {
			email, password := fmt.Sprintf("account-%v@example.com", js), "quiet lanterns over the harbor"
			srv.verifiedUser(t, email, password)
			tb := newTab(t, browser, js)
			signInThroughAccount(t, srv, tb, email, password)
			if js {
				accountPasskeys(t, tb)
				accountScriptMissing(t, srv, tb)
			} else if tb.count(t, `#passkey-add:not([hidden])`) != 0 || !strings.Contains(tb.text(t, "#passkey-nojs"), "needs JavaScript") {
				t.Error("without JavaScript the passkey button shows, or the page does not say it needs JavaScript")
			}
			accountForms(t, srv, tb, email, password)
			phoneScreenshot(t, tb, fmt.Sprintf("account-phone-js-%v", js))

			// Signed out, the next sign-in in this browser starts afresh.
			tb.click(t, `form[action="./sign-out"] button[type=submit]`)
			if body := tb.text(t, "body"); !strings.Contains(body, "You are signed out") {
				t.Fatalf("sign-out says %q", body)
			}
		})
	}
}

// accountScriptMissing: when webauthn.js does not load, the page asks
// for a reload instead of claiming JavaScript is off.
func accountScriptMissing(t *testing.T, srv *server, tb *tab) {
	t.Helper()
	block := func(patterns ...*network.BlockPattern) {
		if _, err := chromedp.Call(tb.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns}); err != nil {
			t.Fatalf("block URLs: %v", err)
		}
	}
	block(&network.BlockPattern{URLPattern: "*://*:*/assets/webauthn.js", Block: true})
	tb.open(t, srv.URL+"/account")
	note := tb.text(t, "#passkey-nojs")
	block()
	if !strings.Contains(note, "could not load. Reload the page") || tb.count(t, `#passkey-add:not([hidden])`) != 0 {
		t.Errorf("without webauthn.js the passkey note says %q", note)
	}
	tb.open(t, srv.URL+"/account")
}

// signInThroughAccount opens /account signed out, which leads to the
// sign-in page, signs in there and checks that the browser is back on the
// account page.
func signInThroughAccount(t *testing.T, srv *server, tb *tab, email, password string) {
	t.Helper()
	tb.open(t, srv.URL+"/account")
	if loc := run(t, tb, chromedp.Location()); pathOf(loc) != "/sign-in" {
		t.Fatalf("signed out, /account leads to %s", loc)
	}
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	_, docs := tb.clickThrough(t, `form button[type=submit]`)
	if len(docs) != 2 || docs[0].Method != "POST" || pathOf(docs[0].URL) != "/sign-in" || pathOf(docs[1].URL) != "/account" {
		t.Fatalf("the sign-in made %d document requests, want a POST of /sign-in and a GET of /account", len(docs))
	}
	checkAppName(t, tb)
	if body := tb.text(t, "body"); !strings.Contains(body, "Signed in as "+email) || !strings.Contains(body, "(this browser)") {
		t.Fatalf("the account page says %q", body)
	}
}

// accountPost submits the account page's form whose op is op (and, when
// id is not "", whose id is id) and returns the page's status message.
func accountPost(t *testing.T, tb *tab, op, id string) string {
	t.Helper()
	css := `form:has(input[name=op][value="` + op + `"])`
	if id != "" {
		css += `:has(input[name=id][value="` + id + `"])`
	}
	_, req := tb.click(t, css+` button[type=submit]`)
	if req.Method != "POST" || pathOf(req.URL) != "/account" {
		t.Fatalf("the %s form sent a %s of %s, want a POST of /account", op, req.Method, req.URL)
	}
	return tb.text(t, `[role=status]`)
}

// accountPasskeys adds a passkey on the account page with a virtual
// authenticator, renames it and deletes it.
func accountPasskeys(t *testing.T, tb *tab) {
	t.Helper()
	auth := tb.addAuthenticator(t, true)
	tb.do(t, chromedp.WaitVisible(`#passkey-add`), chromedp.SendKeys(chromedp.CSS("#passkey-name"), "Test key"))
	if tb.count(t, `#passkey-nojs:not([hidden])`) != 0 {
		t.Error("with JavaScript on, the page still says passkeys need it")
	}
	if _, req := tb.click(t, `#passkey-add`); pathOf(req.URL) != "/account" {
		t.Fatalf("after adding a passkey the page went to %s", req.URL)
	}
	if msg := tb.text(t, `[role=status]`); !strings.Contains(msg, "Your passkey was added") {
		t.Fatalf("after adding a passkey the page says %q (script status %q)", msg, tb.text(t, "#passkey-status"))
	}
	if n := len(tb.credentials(t, auth)); n != 1 {
		t.Fatalf("the authenticator holds %d credentials, want 1", n)
	}
	if got := tb.text(t, `#passkeys .items strong`); got != "Test key" {
		t.Fatalf("the passkey is listed as %q", got)
	}

	id := tb.attr(t, `form:has(input[value="passkey-rename"]) input[name=id]`, "value")
	tb.do(t, chromedp.Clear(chromedp.CSS("#name-"+id)), chromedp.SendKeys(chromedp.CSS("#name-"+id), "Renamed key"))
	if msg := accountPost(t, tb, "passkey-rename", id); !strings.Contains(msg, "now named “Renamed key”") {
		t.Fatalf("rename says %q", msg)
	}
	if got := tb.text(t, `#passkeys .items strong`); got != "Renamed key" {
		t.Fatalf("the renamed passkey is listed as %q", got)
	}
	if msg := accountPost(t, tb, "passkey-delete", id); !strings.Contains(msg, "The passkey was deleted") {
		t.Fatalf("delete says %q", msg)
	}
	if tb.count(t, `#passkeys .items`) != 0 || !strings.Contains(tb.text(t, "#passkeys"), "You have no passkeys yet") {
		t.Fatal("the deleted passkey is still listed")
	}
}

// accountForms ends another session of the user, changes the password
// and sets up TOTP on the account page.
func accountForms(t *testing.T, srv *server, tb *tab, email, password string) {
	t.Helper()
	// Another session, through the API: listed after a reload, then ended.
	_, access := srv.login(t, email, password)
	tb.open(t, srv.URL+"/account")
	other := tb.attr(t, `#sessions li:not(.current) input[name=id]`, "value")
	if msg := accountPost(t, tb, "revoke-session", other); !strings.Contains(msg, "that device is signed out") {
		t.Fatalf("ending a session says %q", msg)
	}
	if r := srv.call(t, http.MethodGet, "/v1/me", access, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the ended session's token still answers %d", r.Status)
	}

	next := password + " and a new verse"
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#current_password"), password), chromedp.SendKeys(chromedp.CSS("#new_password"), next))
	if msg := accountPost(t, tb, "password", ""); !strings.Contains(msg, "Your password was changed") {
		t.Fatalf("the password change says %q", msg)
	}
	if status, _ := srv.login(t, email, next); status != http.StatusOK {
		t.Fatalf("the new password signs in with %d", status)
	}

	tb.do(t, chromedp.SendKeys(chromedp.CSS("#totp-password"), next))
	if msg := accountPost(t, tb, "totp-start", ""); !strings.Contains(msg, "Scan the code") {
		t.Fatalf("the TOTP setup says %q", msg)
	}
	// The QR code shows: the page's policy allows its data: image.
	if w := run(t, tb, chromedp.Evaluate[int](`document.querySelector("img.qr").naturalWidth`)); w == 0 {
		t.Error("the QR code did not load")
	}
	secret := tb.text(t, "#totp-secret")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatalf("the secret %q: %v", secret, err)
	}
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#totp-code"), code))
	if msg := accountPost(t, tb, "totp-confirm", ""); !strings.Contains(msg, "Two-step sign-in is on") {
		t.Fatalf("the TOTP confirmation says %q", msg)
	}
	if n := tb.count(t, `#recovery-codes code`); n == 0 {
		t.Fatal("no recovery codes are shown")
	}
}

// phoneScreenshot takes a screenshot of the tab's page at a phone's width.
func phoneScreenshot(t *testing.T, tb *tab, name string) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true,
	}); err != nil {
		t.Fatalf("emulate a phone: %v", err)
	}
	defer func() {
		if _, err := chromedp.Call(tb.ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
			t.Fatalf("stop emulating a phone: %v", err)
		}
	}()
	if w := run(t, tb, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
		t.Errorf("at a phone's width the page is %dpx wide: it scrolls sideways", w)
	}
	tb.screenshot(t, name)
}
