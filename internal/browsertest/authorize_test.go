package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// callback is a client application's redirect URI: a server of the test
// that records the query of every request of /cb it receives (the browser
// asks it for other things too, such as /favicon.ico).
type callback struct {
	*httptest.Server
	mu  sync.Mutex
	got []url.Values
}

func startCallback(t *testing.T) *callback {
	t.Helper()
	cb := &callback{}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" {
			http.NotFound(w, r)
			return
		}
		cb.mu.Lock()
		cb.got = append(cb.got, r.URL.Query())
		cb.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>Back at the application</title><p>Back at the application."))
	}))
	t.Cleanup(cb.Close)
	return cb
}

// received is how many requests the redirect URI has received.
func (cb *callback) received() int {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return len(cb.got)
}

// last is the query of the newest request the redirect URI received.
func (cb *callback) last(t *testing.T) url.Values {
	t.Helper()
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if len(cb.got) == 0 {
		t.Fatal("the redirect URI received nothing")
	}
	return cb.got[len(cb.got)-1]
}

// relyingParty is a client application registered on srv, as x/oauth2
// sees it: a public client (no secret; PKCE) whose redirect URI is cb's /cb.
type relyingParty struct {
	srv *server
	cb  *callback
	cfg oauth2.Config
}

// registerClient registers a public client named name with the redirect
// URI of cb, as an operator does from the shell beside the running server
// (gatehouse clients create, the use case of the admin API), and returns
// it as a relying party asking for openid and email.
func (s *server) registerClient(t *testing.T, cb *callback, name string, consent bool) *relyingParty {
	t.Helper()
	args := []string{"--name", name, "--type", "public", "--redirect-uri", cb.URL + "/cb"}
	if consent {
		args = append(args, "--consent")
	}
	id, _ := s.createClient(t, args...)
	return &relyingParty{srv: s, cb: cb, cfg: oauth2.Config{
		ClientID:    id,
		Endpoint:    oauth2.Endpoint{AuthURL: s.URL + "/authorize", TokenURL: s.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: cb.URL + "/cb", Scopes: []string{"openid", "email"},
	}}
}

// request is the address of a new authorization request of rp with state
// and opts, and the PKCE verifier of its challenge.
func (rp *relyingParty) request(state string, opts ...oauth2.AuthCodeOption) (authURL, verifier string) {
	verifier = oauth2.GenerateVerifier()
	return rp.cfg.AuthCodeURL(state, append(opts, oauth2.S256ChallengeOption(verifier))...), verifier
}

// landed checks that the tab ended at the client's redirect URI and that
// the redirect carried state and the issuer (RFC 9207), and returns its
// query.
func (rp *relyingParty) landed(t *testing.T, tb *tab, state string) url.Values {
	t.Helper()
	if loc := run(t, tb, chromedp.Location()); !strings.HasPrefix(loc, rp.cfg.RedirectURL+"?") {
		t.Fatalf("the browser is at %s, not at the client's redirect URI; the page says %q", pathOf(loc), tb.text(t, "body"))
	}
	q := rp.cb.last(t)
	if q.Get("state") != state || q.Get("iss") != rp.srv.URL {
		t.Fatalf("the redirect to the client carries state %q and iss %q, want %q and %q", q.Get("state"), q.Get("iss"), state, rp.srv.URL)
	}
	return q
}

// landedWithCode is landed for a redirect with a code (and no error); it
// returns the code.
func (rp *relyingParty) landedWithCode(t *testing.T, tb *tab, state string) string {
	t.Helper()
	q := rp.landed(t, tb, state)
	if q.Get("code") == "" || q.Has("error") {
		t.Fatalf("the redirect to the client carries no code: error %q (%s)", q.Get("error"), q.Get("error_description"))
	}
	return q.Get("code")
}

// exchange redeems code at the token endpoint with x/oauth2 and the PKCE
// verifier, and checks that the access token works at /v1/me as the user
// with email.
func (rp *relyingParty) exchange(t *testing.T, code, verifier, email string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := rp.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	if idt, _ := tok.Extra("id_token").(string); idt == "" || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("the token response lacks a token: id_token %t, access_token %t, refresh_token %t", idt != "", tok.AccessToken != "", tok.RefreshToken != "")
	}
	var me struct {
		User struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	if err := json.Unmarshal(rp.srv.mustCall(t, http.StatusOK, http.MethodGet, "/v1/me", tok.AccessToken, nil).Body, &me); err != nil || me.User.Email != email {
		t.Fatalf("/v1/me with the access token: %+v (%v), want %s", me, err, email)
	}
}

// freshTab opens a tab in a browser without cookies: no session, no
// CSRF token, nothing another subtest left.
func freshTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	tb := newTab(t, browser, false)
	if _, err := chromedp.Call(tb.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatalf("clear the cookies: %v", err)
	}
	return tb
}

// openSignIn opens authURL and checks that the authorization request
// asks for the sign-in: the form, carrying the pending request.
func openSignIn(t *testing.T, tb *tab, authURL string) {
	t.Helper()
	if res := tb.open(t, authURL); res.Status != http.StatusOK || pathOf(res.URL) != "/sign-in" {
		t.Fatalf("the authorization request answers %d at %s, want the sign-in page", res.Status, pathOf(res.URL))
	}
	if tb.count(t, `form[action="./sign-in"] input[name=pending]`) == 0 || tb.count(t, `#password`) != 1 {
		t.Fatalf("the sign-in page of the request has no form with the pending request: %q", tb.text(t, "body"))
	}
}

// paths are the method and path of each document request of docs.
func paths(docs []*network.Request) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.Method+" "+pathOf(d.URL))
	}
	return out
}

// wantPaths fails unless the document requests docs went exactly the way
// of want ("POST /sign-in", "GET /authorize", ...).
func wantPaths(t *testing.T, docs []*network.Request, want ...string) {
	t.Helper()
	if got := paths(docs); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("the browser went %v, want %v", got, want)
	}
}

// signInFor fills the sign-in form of a pending request and submits it.
func signInFor(t *testing.T, tb *tab, email, password string) []*network.Request {
	t.Helper()
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	_, docs := tb.clickThrough(t, `form button[type=submit]`)
	return docs
}

// TestAuthorize drives authorization requests of registered clients in a
// browser without JavaScript, from the address bar to the client's
// redirect URI: the hosted sign-in (password, then the code of an account
// with TOTP), the consent page, single sign-on and prompt=login, a
// sign-up that leads back into the request, and the error page of a
// request that names no registered client or redirect URI.
func TestAuthorize(t *testing.T) {
	requireChromium(t)
	srv := startServer(t, "GATEHOUSE_APP_NAME="+appName)
	browser := startBrowser(t)
	cb := startCallback(t)
	wiki := srv.registerClient(t, cb, "Wiki", false)

	// The code goes to the redirect URI with state and iss, and x/oauth2
	// redeems it with the PKCE verifier. A second request in the same
	// browser answers at once; prompt=login asks for the password again.
	t.Run("password, single sign-on, prompt=login", func(t *testing.T) {
		const email, password = "amara@example.com", "saffron lanterns drift upstream"
		srv.verifiedUser(t, email, password)
		tb := freshTab(t, browser)
		authURL, verifier := wiki.request("state-a")
		openSignIn(t, tb, authURL)
		tb.screenshot(t, "authorize-sign-in")
		wantPaths(t, signInFor(t, tb, email, password), "POST /sign-in", "GET /authorize", "GET /cb")
		wiki.exchange(t, wiki.landedWithCode(t, tb, "state-a"), verifier, email)

		authURL, _ = wiki.request("state-d")
		res := tb.open(t, authURL)
		if pathOf(res.URL) != "/cb" {
			t.Fatalf("a second request in a signed-in browser ends at %s, want the redirect URI at once", pathOf(res.URL))
		}
		wiki.landedWithCode(t, tb, "state-d")

		// auth_time has whole seconds, so a sign-in within the second a
		// request was made counts as made for it (grant.Request's
		// SignInFresh): this request is made in a later second than the
		// sign-in, whatever the speed of the machine.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		authURL, verifier = wiki.request("state-login", oauth2.SetAuthURLParam("prompt", "login"))
		openSignIn(t, tb, authURL)
		wantPaths(t, signInFor(t, tb, email, password), "POST /sign-in", "GET /authorize", "GET /cb")
		wiki.exchange(t, wiki.landedWithCode(t, tb, "state-login"), verifier, email)
	})

	// An account with TOTP is asked for the code after the password; the
	// request then goes on to the redirect URI.
	t.Run("code", func(t *testing.T) {
		const email, password = "bertil@example.com", "granite owls hum at midnight"
		srv.verifiedUser(t, email, password)
		code := srv.enrollTOTP(t, email, password)
		tb := freshTab(t, browser)
		authURL, _ := wiki.request("state-b")
		openSignIn(t, tb, authURL)
		wantPaths(t, signInFor(t, tb, email, password), "POST /sign-in")
		if tb.count(t, `input[name=code][autocomplete=one-time-code]`) != 1 || tb.count(t, `input[name=pending]`) != 1 {
			t.Fatalf("no code page for the pending request after the password: %q", tb.text(t, "body"))
		}
		tb.do(t, chromedp.SendKeys(chromedp.CSS("#code"), code(time.Now().Add(30*time.Second))))
		_, docs := tb.clickThrough(t, `form button[type=submit]`)
		wantPaths(t, docs, "POST /sign-in", "GET /authorize", "GET /cb")
		wiki.landedWithCode(t, tb, "state-b")
	})

	// A client registered with consent shows the consent page once: its
	// name and the scopes in words; Allow gives the code, and the next
	// request does not ask again. Deny (on the consent page of another
	// such client) sends access_denied.
	t.Run("consent", func(t *testing.T) {
		const email, password = "chidi@example.com", "marble kites over quiet bays"
		srv.verifiedUser(t, email, password)
		board := srv.registerClient(t, cb, "Pinboard", true)
		tb := freshTab(t, browser)
		authURL, verifier := board.request("state-c")
		openSignIn(t, tb, authURL)
		wantPaths(t, signInFor(t, tb, email, password), "POST /sign-in", "GET /authorize", "GET /consent")
		if title := tb.text(t, "h1"); title != "Allow access?" {
			t.Fatalf("after the sign-in the page is %q, want the consent page", title)
		}
		body := tb.text(t, "body")
		for _, want := range []string{"Pinboard asks to sign you in with your " + appName + " account (" + email + ")", "know who you are", "see your email address"} {
			if !strings.Contains(body, want) {
				t.Errorf("the consent page lacks %q: %q", want, body)
			}
		}
		tb.screenshot(t, "authorize-consent")
		_, docs := tb.clickThrough(t, `button[value=allow]`)
		wantPaths(t, docs, "POST /consent", "GET /cb")
		board.exchange(t, board.landedWithCode(t, tb, "state-c"), verifier, email)

		authURL, _ = board.request("state-c2")
		if res := tb.open(t, authURL); pathOf(res.URL) != "/cb" {
			t.Fatalf("a request after the consent ends at %s, want the redirect URI at once", pathOf(res.URL))
		}
		board.landedWithCode(t, tb, "state-c2")

		notes := srv.registerClient(t, cb, "Notes", true)
		authURL, _ = notes.request("state-deny")
		if res := tb.open(t, authURL); pathOf(res.URL) != "/consent" || !strings.Contains(tb.text(t, "body"), "Notes asks to sign you in") {
			t.Fatalf("a request of another client asking for consent ends at %s: %q", pathOf(res.URL), tb.text(t, "body"))
		}
		_, docs = tb.clickThrough(t, `button[value=deny]`)
		wantPaths(t, docs, "POST /consent", "GET /cb")
		if q := notes.landed(t, tb, "state-deny"); q.Get("error") != "access_denied" || q.Has("code") {
			t.Fatalf("Deny sends error %q, code %t; want access_denied and no code", q.Get("error"), q.Has("code"))
		}
	})

	// A sign-up from the sign-in page of a pending request: the mail, the
	// verification page, and from there back into the request and on to
	// the redirect URI with a code that x/oauth2 redeems.
	t.Run("sign-up", func(t *testing.T) {
		const email, password = "dalia@example.com", "cobalt herons fish at dawn"
		tb := freshTab(t, browser)
		authURL, verifier := wiki.request("state-e")
		openSignIn(t, tb, authURL)
		pending := tb.attr(t, `input[name=pending]`, "value")
		tb.follow(t, `a[href^="./sign-up"]`, "/sign-up")
		if got := tb.attr(t, `form[action="./sign-up"] input[name=pending]`, "value"); got != pending {
			t.Fatalf("the sign-up form carries the pending request %q, want %q", got, pending)
		}
		tb.do(t, chromedp.SendKeys(chromedp.CSS("#email"), email))
		res := tb.fill(t, "password", password, "/sign-up")
		checkResultPage(t, tb, res, http.StatusAccepted, "We sent a mail to "+email+".")

		link := srv.awaitLink(t, email, "/verify-email")
		srv.prefetch(t, link) // a mail scanner: it leads nowhere
		tb.open(t, link)
		tb.screenshot(t, "authorize-verify")
		tb.do(t, chromedp.SendKeys(chromedp.CSS("#password"), password))
		_, docs := tb.clickThrough(t, `form button[type=submit]`)
		wantPaths(t, docs, "POST /verify-email", "GET /authorize", "GET /cb")
		wiki.exchange(t, wiki.landedWithCode(t, tb, "state-e"), verifier, email)

		// The browser is signed in now: the next request answers at once.
		authURL, _ = wiki.request("state-e2")
		if res := tb.open(t, authURL); pathOf(res.URL) != "/cb" {
			t.Fatalf("a request after the sign-up ends at %s, want the redirect URI at once", pathOf(res.URL))
		}
		wiki.landedWithCode(t, tb, "state-e2")
	})

	// A request that names no registered client, or a redirect URI its
	// client did not register, is a page the user can read, and nothing
	// goes anywhere.
	t.Run("unknown client", func(t *testing.T) {
		tb := freshTab(t, browser)
		before := cb.received()
		for name, cfg := range map[string]oauth2.Config{
			"unknown client":        {ClientID: "no-such-client", Endpoint: wiki.cfg.Endpoint, RedirectURL: wiki.cfg.RedirectURL, Scopes: wiki.cfg.Scopes},
			"unregistered redirect": {ClientID: wiki.cfg.ClientID, Endpoint: wiki.cfg.Endpoint, RedirectURL: cb.URL + "/elsewhere", Scopes: wiki.cfg.Scopes},
		} {
			rp := relyingParty{srv: srv, cb: cb, cfg: cfg}
			authURL, _ := rp.request("state-f")
			res := tb.open(t, authURL)
			if res.Status != http.StatusBadRequest || pathOf(res.URL) != "/authorize" {
				t.Errorf("%s: %d at %s, want 400 and a page at /authorize", name, res.Status, pathOf(res.URL))
			}
			checkHostedHeaders(t, res.Headers)
			if title, msg := tb.text(t, "h1"), tb.text(t, `[role=status]`); title != "Cannot sign in" || !strings.Contains(msg, "The application") {
				t.Errorf("%s: the page says %q: %q", name, title, msg)
			}
		}
		tb.screenshot(t, "authorize-unknown-client")
		if n := cb.received(); n != before {
			t.Fatalf("the redirect URI received %d requests, want none", n-before)
		}
	})
}
