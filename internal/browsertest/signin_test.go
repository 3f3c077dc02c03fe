package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// signIn fills the sign-in form of the tab's page and submits it.
func signIn(t *testing.T, tb *tab, email, password string) {
	t.Helper()
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#email"), email))
	sendForm(t, tb, "password", password)
}

// sendForm types value into the field with the id field and submits the
// form to /sign-in, which answers a page (a refusal, the code step) or
// 303 to the signed-in page.
func sendForm(t *testing.T, tb *tab, field, value string) {
	t.Helper()
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#"+field), value))
	_, docs := tb.clickThrough(t, `form button[type=submit]`)
	if len(docs) == 0 || docs[0].Method != "POST" || pathOf(docs[0].URL) != "/sign-in" {
		t.Fatalf("the form sent %d documents, first %+v; want a POST of /sign-in", len(docs), docs)
	}
	if len(docs) == 2 && (docs[1].Method != "GET" || pathOf(docs[1].URL) != "/sign-in") || len(docs) > 2 {
		t.Fatalf("after the POST the browser went on to %d documents; want at most a GET of /sign-in", len(docs)-1)
	}
}

// otherSessions lists the ids of the user's live sessions but the one of
// access, through the API.
func (s *server) otherSessions(t *testing.T, access string) []string {
	t.Helper()
	var out struct {
		Sessions []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(s.mustCall(t, http.StatusOK, http.MethodGet, "/v1/me/sessions", access, nil).Body, &out); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range out.Sessions {
		if !x.Current {
			ids = append(ids, x.ID)
		}
	}
	return ids
}

// enrollTOTP turns TOTP on for the verified user email through the API
// and returns what makes the code of a time. The code of now is spent on
// the confirmation: a sign-in uses the next time step's.
func (s *server) enrollTOTP(t *testing.T, email, password string) func(at time.Time) string {
	t.Helper()
	_, access := s.login(t, email, password)
	var enrolled struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(s.mustCall(t, http.StatusOK, http.MethodPost, "/v1/me/mfa/totp", access, map[string]string{"password": password}).Body, &enrolled); err != nil {
		t.Fatal(err)
	}
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(enrolled.Secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	s.mustCall(t, http.StatusOK, http.MethodPost, "/v1/me/mfa/totp/confirm", access, map[string]string{"code": code(time.Now())})
	return code
}

// withUser starts a server named appName with a verified user, and a
// browser.
func withUser(t *testing.T, email, password string) (*server, context.Context) {
	t.Helper()
	requireChromium(t)
	srv := startServer(t, "GATEHOUSE_APP_NAME="+appName)
	srv.verifiedUser(t, email, password)
	return srv, startBrowser(t)
}

// TestHostedSignIn: a user signs in on /sign-in in a browser without
// JavaScript, is shown as signed in, has the browser's session in the
// session list, is signed out when that session is revoked, signs in
// again and signs out with the button. A wrong password says so and signs
// nothing in.
func TestHostedSignIn(t *testing.T) {
	const email, password = "sofia@example.com", "tangerine harbor lights at dusk"
	srv, browser := withUser(t, email, password)

	tb := newTab(t, browser, false)
	res := tb.open(t, srv.URL+"/sign-in")
	checkHostedHeaders(t, res.Headers)
	checkAppName(t, tb)
	if tb.count(t, `a[href="./sign-up"]`) != 1 || tb.count(t, `a[href="./forgot-password"]`) != 1 || tb.count(t, `input[name=csrf]`) != 1 {
		t.Fatal("the sign-in page lacks its links or its CSRF field")
	}
	tb.screenshot(t, "sign-in")

	signIn(t, tb, email, "not the password at all")
	if msg := tb.text(t, `[role=status]`); !strings.Contains(msg, "The email or password is incorrect") {
		t.Fatalf("a wrong password says %q", msg)
	}
	checkPasswordCleared(t, tb)
	tb.do(t, chromedp.Clear(chromedp.CSS("#email")))
	signIn(t, tb, email, password)
	if body := tb.text(t, "body"); !strings.Contains(body, "You are signed in to "+appName+" as "+email) {
		t.Fatalf("after sign-in the page says %q", body)
	}
	tb.screenshot(t, "signed-in")

	// The browser's session is one of the user's sessions; revoking it
	// signs the browser out.
	_, access := srv.login(t, email, password)
	browserSessions := srv.otherSessions(t, access)
	if len(browserSessions) != 1 {
		t.Fatalf("the user has %d sessions beside the API's, want the browser's", len(browserSessions))
	}
	srv.mustCall(t, http.StatusNoContent, http.MethodDelete, "/v1/me/sessions/"+browserSessions[0], access, nil)
	tb.open(t, srv.URL+"/sign-in")
	if tb.count(t, `#password`) != 1 {
		t.Fatalf("the browser is still signed in after its session was revoked: %q", tb.text(t, "body"))
	}
	signIn(t, tb, email, password)

	// The sign-out button ends the browser's session.
	res, req := tb.click(t, `form[action="./sign-out"] button`)
	if req.Method != "POST" || res.Status != http.StatusOK || !strings.Contains(tb.text(t, "body"), "You are signed out of "+appName) {
		t.Fatalf("sign-out: %s, %d %q", req.Method, res.Status, tb.text(t, "body"))
	}
	tb.open(t, srv.URL+"/sign-in")
	if tb.count(t, `#password`) != 1 {
		t.Fatal("after signing out the sign-in page does not ask for the password")
	}
}

// TestHostedSignInWithCode: an account with TOTP is asked for the code on
// a second page; a wrong code says so, the right one signs in.
func TestHostedSignInWithCode(t *testing.T) {
	const email, password = "tomas@example.com", "copper kettle sings at seven"
	srv, browser := withUser(t, email, password)
	code := srv.enrollTOTP(t, email, password)

	tb := newTab(t, browser, false)
	tb.open(t, srv.URL+"/sign-in")
	signIn(t, tb, email, password)
	if tb.count(t, `input[name=code][autocomplete=one-time-code]`) != 1 || tb.count(t, `input[name=mfa_token]`) != 1 {
		t.Fatalf("no code page after the password: %q", tb.text(t, "body"))
	}
	tb.screenshot(t, "sign-in-code")
	sendForm(t, tb, "code", "000000")
	if msg := tb.text(t, `[role=status]`); !strings.Contains(msg, "This code is not right") {
		t.Fatalf("a wrong code says %q", msg)
	}
	tb.do(t, chromedp.Clear(chromedp.CSS("#code")))
	sendForm(t, tb, "code", code(time.Now().Add(30*time.Second)))
	if body := tb.text(t, "body"); !strings.Contains(body, "You are signed in to "+appName+" as "+email) {
		t.Fatalf("after the code the page says %q", body)
	}
}

// TestHostedSignUp: /sign-up registers, the verification mail's page
// verifies, and the new account signs in.
func TestHostedSignUp(t *testing.T) {
	requireChromium(t)
	srv := startServer(t, "GATEHOUSE_APP_NAME="+appName, "GATEHOUSE_PASSWORD_MIN_LENGTH=18")
	browser := startBrowser(t)
	const email, password = "noor@example.com", "velvet compass points north"
	tb := newTab(t, browser, false)
	tb.open(t, srv.URL+"/sign-in")
	tb.follow(t, `a[href="./sign-up"]`, "/sign-up")
	checkPasswordRule(t, tb)
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#email"), email))
	res := tb.fill(t, "password", password, "/sign-up")
	checkResultPage(t, tb, res, http.StatusAccepted, "We sent a mail to "+email+".")
	link := srv.awaitLink(t, email, "/verify-email")
	tb.open(t, link)
	tb.fill(t, "password", password, "/verify-email")
	tb.open(t, srv.URL+"/sign-in")
	signIn(t, tb, email, password)
	if body := tb.text(t, "body"); !strings.Contains(body, "You are signed in to "+appName+" as "+email) {
		t.Fatalf("after sign-up and verification the sign-in page says %q", body)
	}
}
