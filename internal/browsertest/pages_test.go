package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The product the pages are configured for: GATEHOUSE_APP_NAME, and a
// GATEHOUSE_PASSWORD_MIN_LENGTH other than the default, to see that both
// reach the pages.
const (
	appName   = "Acme Browsertest"
	minLength = 18
	maxLength = 128 // the domain's user.MaxPasswordLength
)

// TestHostedPages runs every hosted page in headless Chromium against the
// real binary: each flow with JavaScript off (the forms must work as plain
// HTML), and each page with JavaScript on to see its CSP block inline script.
func TestHostedPages(t *testing.T) {
	requireChromium(t)
	app := startApp(t)
	srv := startServer(t,
		"GATEHOUSE_APP_NAME="+appName,
		"GATEHOUSE_APP_URL="+app.url,
		fmt.Sprintf("GATEHOUSE_PASSWORD_MIN_LENGTH=%d", minLength),
	)
	browser := startBrowser(t)

	t.Run("verify-email", func(t *testing.T) {
		const email, password = "vera@example.com", "plum orchard quietly hums"
		link := srv.register(t, email, password)
		srv.prefetch(t, link) // a mail scanner opens the link first
		if subj := srv.subjects(t, email); len(subj) != 1 || !strings.Contains(subj[0], appName) {
			t.Errorf("verification mail subjects = %q, want one naming %q", subj, appName)
		}

		if st, _ := srv.login(t, email, password); st != http.StatusUnauthorized {
			t.Fatalf("login before verification = %d, want 401", st)
		}

		tb := newTab(t, browser, false)
		res := tb.open(t, link)
		want := formPage{
			title:  "Verify your email",
			token:  tokenOf(t, link),
			fields: []string{"password"},
		}
		checkFormPage(t, tb, res, want)
		checkAppName(t, tb)
		checkPasswordRule(t, tb)
		tb.screenshot(t, "verify-email")

		// A mistyped password for a live link is the form again, with the
		// token of the link, saying the password is not that registration's
		// (only the link's holder sees it), and where else to go.
		res = tb.fill(t, "password", "a mistyped passphrase", "/verify-email")
		want.status, want.wantError = http.StatusBadRequest, true
		checkFormPage(t, tb, res, want)
		checkErrorLinks(t, tb)
		if msg := tb.text(t, `.err`); !strings.Contains(msg, "This password is not the one chosen at the registration that sent this link") || strings.Contains(msg, "expired") {
			t.Errorf("the refusal of a mistyped password says %q", msg)
		}
		checkPasswordCleared(t, tb)
		tb.screenshot(t, "verify-email-refused")

		res = tb.fill(t, "password", password, "/verify-email")
		checkResultPage(t, tb, res, http.StatusOK, "Your email address is verified")
		tb.screenshot(t, "verify-email-result")

		if st, _ := srv.login(t, email, password); st != http.StatusOK {
			t.Errorf("login after verifying on the page = %d, want 200", st)
		}
		checkContinue(t, tb, app, "verified")
		tb.requireScripts(t, false) // JavaScript stayed off through every navigation

		// The used link, opened again, says so at once: no form, the way on.
		dead := newTab(t, browser, false)
		res = dead.open(t, link)
		checkDeadLinkPage(t, dead, res, "This link has expired or was already used")
		dead.screenshot(t, "verify-email-used-link")
		res = dead.follow(t, `a[href="./resend-verification"]`, "/resend-verification")
		checkFormPage(t, dead, res, formPage{title: "Get a new verification link", fields: []string{"email"}})
	})

	t.Run("forgot-and-reset-password", func(t *testing.T) {
		const email, password, newPassword = "rosa@example.com", "amber kettle sings at dawn", "seven quiet lanterns drift"
		srv.verifiedUser(t, email, password)

		tb := newTab(t, browser, false)
		res := tb.open(t, srv.URL+"/forgot-password")
		checkFormPage(t, tb, res, formPage{title: "Reset your password", fields: []string{"email"}})
		tb.screenshot(t, "forgot-password")

		res = tb.fill(t, "email", email, "/forgot-password")
		checkResultPage(t, tb, res, http.StatusAccepted, "If an account exists for that address")
		tb.screenshot(t, "forgot-password-result")

		link := srv.awaitLink(t, email, "/reset-password")
		srv.prefetch(t, link)
		res = tb.open(t, link)
		checkFormPage(t, tb, res, formPage{
			title:  "Choose a new password",
			token:  tokenOf(t, link),
			fields: []string{"password"},
		})
		checkPasswordRule(t, tb)
		if rule := tb.text(t, `#password-rule`); !strings.Contains(rule, "before the @") {
			t.Errorf("the rule %q does not say that the email's local part is refused", rule)
		}
		tb.screenshot(t, "reset-password")

		// A password the policy refuses (long enough for the length limit,
		// but it holds the address's local part): the form comes back with
		// the reason in plain words, the same token and an empty field.
		res = tb.fill(t, "password", "my name is rosa, truly", "/reset-password")
		if res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("reset with a refused password = %d, want 422", res.Status)
		}
		checkFormPage(t, tb, res, formPage{
			title:     "Choose a new password",
			token:     tokenOf(t, link),
			fields:    []string{"password"},
			status:    http.StatusUnprocessableEntity,
			wantError: true,
		})
		if msg := tb.text(t, `.err`); !strings.Contains(msg, "contains the part of your email address before the @") || strings.Contains(msg, "password_contains_email") {
			t.Errorf("the refusal says %q, want the rule in plain words", msg)
		}
		checkPasswordCleared(t, tb)
		tb.screenshot(t, "reset-password-refused")

		res = tb.fill(t, "password", newPassword, "/reset-password")
		checkResultPage(t, tb, res, http.StatusOK, "Your password was changed")
		tb.screenshot(t, "reset-password-result")

		if st, _ := srv.login(t, email, newPassword); st != http.StatusOK {
			t.Errorf("login with the new password = %d, want 200", st)
		}
		if st, _ := srv.login(t, email, password); st != http.StatusUnauthorized {
			t.Errorf("login with the old password = %d, want 401", st)
		}
		checkContinue(t, tb, app, "reset")
		tb.requireScripts(t, false)
	})

	t.Run("invalid-link", func(t *testing.T) {
		// A reset link that is unknown (or expired, or used: one answer)
		// says so on opening, before any password is typed, and links on,
		// to a new reset link and to the resend-verification page, which
		// open.
		tb := newTab(t, browser, false)
		res := tb.open(t, srv.URL+"/reset-password?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		checkDeadLinkPage(t, tb, res, "This link cannot reset a password")
		checkErrorLinks(t, tb)
		tb.screenshot(t, "reset-password-invalid-link")

		res = tb.follow(t, `a[href="./resend-verification"]`, "/resend-verification")
		checkFormPage(t, tb, res, formPage{title: "Get a new verification link", fields: []string{"email"}})
		tb.requireScripts(t, false)
	})

	t.Run("not-found", func(t *testing.T) {
		// A mangled link is a page a browser shows (404 text/html), with
		// the way on, not raw problem JSON.
		tb := newTab(t, browser, false)
		res := tb.open(t, srv.URL+"/verify-emai?token=AAAA")
		if res.Status != http.StatusNotFound || !strings.HasPrefix(res.MimeType, "text/html") {
			t.Fatalf("GET of an unknown path = %d %s, want 404 text/html", res.Status, res.MimeType)
		}
		checkHostedHeaders(t, res.Headers)
		if msg := tb.text(t, `[role=status]`); !strings.Contains(msg, "There is no page at this address") {
			t.Errorf("the 404 page says %q", msg)
		}
		checkErrorLinks(t, tb)
		tb.screenshot(t, "not-found")
		res = tb.follow(t, `a[href="./forgot-password"]`, "/forgot-password")
		checkFormPage(t, tb, res, formPage{title: "Reset your password", fields: []string{"email"}})
	})

	t.Run("resend-verification", func(t *testing.T) {
		const email, password = "rene@example.com", "walnut harbor bells at noon"
		first := srv.register(t, email, password)

		tb := newTab(t, browser, false)
		res := tb.open(t, srv.URL+"/resend-verification")
		checkFormPage(t, tb, res, formPage{title: "Get a new verification link", fields: []string{"email"}})
		checkAppName(t, tb)
		tb.screenshot(t, "resend-verification")

		// The answer is the same whether or not the address has an account
		// waiting for verification.
		var answers []string
		for _, addr := range []string{"nobody.here@example.com", email} {
			tb.open(t, srv.URL+"/resend-verification")
			res = tb.fill(t, "email", addr, "/resend-verification")
			checkResultPage(t, tb, res, http.StatusAccepted, "If an account for that address waits for verification, we sent a new link")
			answers = append(answers, tb.text(t, `body`))
		}
		if answers[0] != answers[1] {
			t.Errorf("the answers differ by address:\n%s\n---\n%s", answers[0], answers[1])
		}
		tb.screenshot(t, "resend-verification-result")

		// The new link verifies the address with the registration's password.
		link := srv.awaitNewLink(t, email, "/verify-email", first)
		res = tb.open(t, link)
		checkFormPage(t, tb, res, formPage{title: "Verify your email", token: tokenOf(t, link), fields: []string{"password"}})
		res = tb.fill(t, "password", password, "/verify-email")
		checkResultPage(t, tb, res, http.StatusOK, "Your email address is verified")
		if st, _ := srv.login(t, email, password); st != http.StatusOK {
			t.Errorf("login after verifying with the resent link = %d, want 200", st)
		}
		tb.requireScripts(t, false)
	})

	t.Run("pages-without-a-token", func(t *testing.T) {
		// The page of a mail's link opened without its token shows no form
		// that can only fail: it says where the link is and links to the
		// page that mails a new one, which opens.
		for _, tc := range []struct{ path, title, link, linkTitle string }{
			{"/verify-email", "Verify your email", "./resend-verification", "Get a new verification link"},
			{"/reset-password", "Choose a new password", "./forgot-password", "Reset your password"},
		} {
			t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
				tb := newTab(t, browser, false)
				res := tb.open(t, srv.URL+tc.path)
				if res.Status != http.StatusOK || !strings.HasPrefix(res.MimeType, "text/html") {
					t.Fatalf("GET %s = %d %s, want 200 text/html", tc.path, res.Status, res.MimeType)
				}
				checkHostedHeaders(t, res.Headers)
				if h1 := tb.text(t, `h1`); h1 != tc.title {
					t.Errorf("heading = %q, want %q", h1, tc.title)
				}
				if n := tb.count(t, `form`); n != 0 {
					t.Errorf("the page has %d forms, want none", n)
				}
				if n := tb.count(t, `.err`); n != 0 {
					t.Errorf("the page shows an error: %q", tb.text(t, `.err`))
				}
				if msg := tb.text(t, `[role=status].info`); !strings.Contains(msg, "Open the link in that mail") {
					t.Errorf("the page says %q, want where the link is", msg)
				}
				tb.screenshot(t, "no-token"+strings.ReplaceAll(tc.path, "/", "-"))
				res = tb.follow(t, `a[href="`+tc.link+`"]`, strings.TrimPrefix(tc.link, "."))
				checkFormPage(t, tb, res, formPage{title: tc.linkTitle, fields: []string{"email"}})
				tb.requireScripts(t, false)
			})
		}
	})

	t.Run("confirm-email", func(t *testing.T) {
		const oldEmail, newEmail, password = "otto@example.com", "otto.new@example.com", "copper meadow hears rain"
		srv.verifiedUser(t, oldEmail, password)
		st, access := srv.login(t, oldEmail, password)
		if st != http.StatusOK {
			t.Fatalf("login = %d, want 200", st)
		}
		srv.mustCall(t, http.StatusAccepted, http.MethodPost, "/v1/me/email", access,
			map[string]string{"new_email": newEmail, "password": password})
		link := srv.awaitLink(t, newEmail, "/confirm-email")
		srv.prefetch(t, link)

		tb := newTab(t, browser, false)
		res := tb.open(t, link)
		checkFormPage(t, tb, res, formPage{token: tokenOf(t, link)})
		tb.screenshot(t, "confirm-email")

		// The contract is POST /v1/me/email/confirm {token}; should the
		// page ask for the password as well, give it.
		if tb.count(t, `form input[type=password]`) > 0 {
			tb.do(t, chromedp.SendKeys(chromedp.CSS(`form input[type=password]`), password))
		}
		res = tb.submit(t, "/confirm-email")
		checkResultPage(t, tb, res, http.StatusOK, "")
		tb.screenshot(t, "confirm-email-result")

		if st, _ := srv.login(t, newEmail, password); st != http.StatusOK {
			t.Errorf("login with the new address = %d, want 200", st)
		}
		if st, _ := srv.login(t, oldEmail, password); st != http.StatusUnauthorized {
			t.Errorf("login with the old address = %d, want 401", st)
		}
		tb.requireScripts(t, false)
	})

	t.Run("csp-blocks-inline-script", func(t *testing.T) {
		tb := newTab(t, browser, true)

		// The probe itself, on a page without a CSP: the inline script runs
		// and nothing is reported, so a blocked script below is the CSP's doing.
		tb.requireScripts(t, true)
		if got := injectInlineScript(t, tb); got.Inline != "number" || len(got.Violations) != 0 {
			t.Fatalf("without a CSP: inline script ran = %v, violations %+v; want it to run unreported", got.Inline == "number", got.Violations)
		}

		for _, path := range []string{
			"/verify-email?token=browsertest",
			"/verify-email",
			"/forgot-password",
			"/resend-verification",
			"/reset-password?token=browsertest",
			"/reset-password",
			"/confirm-email?token=browsertest",
		} {
			t.Run(strings.TrimPrefix(strings.Replace(path, "?token=", "-with-", 1), "/"), func(t *testing.T) {
				res := tb.open(t, srv.URL+path)
				want := http.StatusOK
				if strings.Contains(path, "?token=") {
					want = http.StatusGone // a made-up link: the dead-link page
				}
				if res.Status != int64(want) || !strings.HasPrefix(res.MimeType, "text/html") {
					t.Fatalf("GET %s = %d %s, want %d text/html", pathOf(path), res.Status, res.MimeType, want)
				}
				checkCSP(t, res.Headers)
				got := injectInlineScript(t, tb)
				if got.Inline != "undefined" {
					t.Errorf("an inline <script> ran (window.__inline is a %s): the CSP does not block it", got.Inline)
				}
				if len(got.Violations) == 0 {
					t.Fatal("no securitypolicyviolation event for the inline <script>")
				}
				v := got.Violations[0]
				if !strings.HasPrefix(v.Directive, "script-src") || v.Disposition != "enforce" || v.Blocked != "inline" {
					t.Errorf("violation = %+v, want an enforced script-src violation of an inline script", v)
				}
			})
		}
	})
}

// formPage is what a hosted page with a form must show.
type formPage struct {
	title     string   // the h1 (and <title> prefix); "" = any non-empty heading
	token     string   // the hidden token field's value; "" = no token field
	fields    []string // visible inputs by name, each with its label
	status    int      // the HTTP status; 0 = 200
	wantError bool     // the form comes back with an error message (.err)
}

// checkFormPage checks the response and the rendered form of a hosted page.
func checkFormPage(t *testing.T, tb *tab, res *network.Response, want formPage) {
	t.Helper()
	status := want.status
	if status == 0 {
		status = http.StatusOK
	}
	if res.Status != int64(status) || !strings.HasPrefix(res.MimeType, "text/html") {
		t.Fatalf("%s = %d %s, want %d text/html", pathOf(res.URL), res.Status, res.MimeType, status)
	}
	checkHostedHeaders(t, res.Headers)
	switch n := tb.count(t, `.err`); {
	case want.wantError && n == 0:
		t.Error("the form came back without an error message (.err)")
	case want.wantError:
		t.Logf("the page says: %q", tb.text(t, `.err`))
	case n != 0:
		t.Errorf("the form shows an error: %q", tb.text(t, `.err`))
	}

	h1 := tb.text(t, `h1`)
	switch {
	case want.title == "" && h1 == "":
		t.Error("the page has no heading")
	case want.title != "" && h1 != want.title:
		t.Errorf("heading = %q, want %q", h1, want.title)
	}
	if title := run(t, tb, chromedp.Title()); title == "" || (want.title != "" && !strings.HasPrefix(title, want.title)) {
		t.Errorf("<title> = %q, want it to start with %q", title, want.title)
	}
	if n := tb.count(t, `form[method=post i]`); n != 1 {
		t.Fatalf("the page has %d POST forms, want 1", n)
	}
	if n := tb.count(t, `script`); n != 0 {
		t.Errorf("the page has %d <script> elements; the hosted pages need none", n)
	}
	if want.token != "" {
		got := run(t, tb, chromedp.Value(chromedp.CSS(`form input[type=hidden][name=token]`), chromedp.NodeReady))
		if got != want.token {
			t.Errorf("hidden token field = %q, want the token of the link", got)
		}
	}
	for _, name := range want.fields {
		sel := `form input[name=` + name + `]`
		tb.do(t, chromedp.WaitVisible(chromedp.CSS(sel)))
		id := run(t, tb, chromedp.AttributeValue(chromedp.CSS(sel), "id", chromedp.NodeReady))
		if !id.Exists || tb.count(t, `label[for="`+id.Value+`"]`) != 1 {
			t.Errorf("the field %q has no label", name)
		}
	}
	tb.do(t, chromedp.WaitVisible(chromedp.CSS(`form button[type=submit]`)))
}

// checkResultPage checks the page a form post answered: its status, its
// headers and, when wantMsg is not "", that its status message says it.
func checkResultPage(t *testing.T, tb *tab, res *network.Response, wantStatus int, wantMsg string) {
	t.Helper()
	if res.Status != int64(wantStatus) || !strings.HasPrefix(res.MimeType, "text/html") {
		msg := ""
		if tb.count(t, `[role=status]`) > 0 {
			msg = tb.text(t, `[role=status]`)
		}
		t.Fatalf("the form post answered %d %s (%q), want %d text/html", res.Status, res.MimeType, msg, wantStatus)
	}
	checkHostedHeaders(t, res.Headers)
	if tb.count(t, `[role=status].ok`) != 1 {
		t.Fatalf("the result page has no success message ([role=status].ok); body: %q", tb.text(t, `body`))
	}
	if msg := tb.text(t, `[role=status]`); !strings.Contains(msg, wantMsg) {
		t.Errorf("result message = %q, want it to say %q", msg, wantMsg)
	}
	if n := tb.count(t, `.err`); n != 0 {
		t.Errorf("the result page shows %d errors: %q", n, tb.text(t, `.err`))
	}
}

// checkDeadLinkPage checks the page of a link that can no longer be used,
// opened from the mail: 410 at once, the reason, and no form.
func checkDeadLinkPage(t *testing.T, tb *tab, res *network.Response, wantMsg string) {
	t.Helper()
	if res.Status != http.StatusGone || !strings.HasPrefix(res.MimeType, "text/html") {
		t.Fatalf("opening a dead link = %d %s, want 410 text/html", res.Status, res.MimeType)
	}
	checkHostedHeaders(t, res.Headers)
	if msg := tb.text(t, `[role=status].err`); !strings.Contains(msg, wantMsg) {
		t.Errorf("the dead link's page says %q, want %q", msg, wantMsg)
	}
	if n := tb.count(t, `form`); n != 0 {
		t.Errorf("the page has %d forms; a dead link needs none", n)
	}
}

// checkHostedHeaders checks the security headers every hosted page carries.
func checkHostedHeaders(t *testing.T, h network.Headers) {
	t.Helper()
	checkCSP(t, h)
	if got := header(h, "X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if got := header(h, "Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q, want no-referrer (the URL holds a token)", got)
	}
}

// checkCSP checks that the page's Content-Security-Policy allows no inline
// script: the directive that governs <script> elements (script-src-elem,
// else script-src, else default-src) must be there without 'unsafe-inline'.
// It also wants frame-ancestors 'none'.
func checkCSP(t *testing.T, h network.Headers) {
	t.Helper()
	raw := header(h, "Content-Security-Policy")
	if raw == "" {
		t.Error("no Content-Security-Policy header")
		return
	}
	for _, policy := range strings.Split(raw, "\n") { // one per header line; each must hold
		dirs := map[string][]string{}
		for _, d := range strings.Split(policy, ";") {
			f := strings.Fields(strings.ToLower(d))
			if len(f) > 0 {
				if _, dup := dirs[f[0]]; !dup { // the first one counts
					dirs[f[0]] = f[1:]
				}
			}
		}
		var name string
		for _, n := range []string{"script-src-elem", "script-src", "default-src"} {
			if _, ok := dirs[n]; ok {
				name = n
				break
			}
		}
		if name == "" {
			t.Errorf("CSP %q restricts no script (no script-src or default-src)", policy)
			continue
		}
		for _, src := range dirs[name] {
			if src == "'unsafe-inline'" || src == "*" || src == "data:" {
				t.Errorf("CSP %q allows inline script: %s has %s", policy, name, src)
			}
		}
		if fa := dirs["frame-ancestors"]; len(fa) != 1 || fa[0] != "'none'" {
			t.Errorf("CSP %q: frame-ancestors = %q, want 'none'", policy, fa)
		}
	}
}

// inlineScriptResult is what injectInlineScript saw.
type inlineScriptResult struct {
	Inline     string `json:"inline"` // typeof window.__inline after the insert
	Violations []struct {
		Directive   string `json:"directive"`
		Disposition string `json:"disposition"`
		Blocked     string `json:"blocked"`
	} `json:"violations"`
}

// injectInlineScript inserts an inline <script> into the page, as an
// injection would, and reports whether it ran and which CSP violations the
// page saw, waiting up to 2 s for the (asynchronous) violation event.
func injectInlineScript(t *testing.T, tb *tab) inlineScriptResult {
	t.Helper()
	const js = `new Promise((resolve) => {
	const violations = [];
	document.addEventListener('securitypolicyviolation', (e) => {
		violations.push({directive: e.effectiveDirective, disposition: e.disposition, blocked: e.blockedURI});
	});
	const s = document.createElement('script');
	s.textContent = 'window.__inline = 1';
	document.body.appendChild(s);
	const started = Date.now();
	(function wait() {
		if (violations.length > 0 || typeof window.__inline !== 'undefined' || Date.now() - started > 2000) {
			resolve({inline: typeof window.__inline, violations});
		} else {
			setTimeout(wait, 10);
		}
	})();
})`
	return run(t, tb, chromedp.Evaluate[inlineScriptResult](js, chromedp.EvalAwaitPromise))
}

// appServer stands for the application of GATEHOUSE_APP_URL: it records
// the visits the "Continue to" links make.
type appServer struct {
	url string // GATEHOUSE_APP_URL

	mu     sync.Mutex
	visits []appVisit
}

type appVisit struct {
	uri     string
	referer string
}

func startApp(t *testing.T) *appServer {
	t.Helper()
	a := &appServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.visits = append(a.visits, appVisit{uri: r.URL.RequestURI(), referer: r.Referer()})
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>The app</title><h1>Welcome to the app</h1>`)
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL + "/welcome?from=gatehouse"
	return a
}

// welcomes are the visits of the app URL's page so far.
func (a *appServer) welcomes() []appVisit {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []appVisit
	for _, v := range a.visits {
		if strings.HasPrefix(v.uri, "/welcome") {
			out = append(out, v)
		}
	}
	return out
}

// checkContinue checks the success page's "Continue to <app name>" link
// and follows it: the app's page opens, and the app learns nothing of the
// page it came from (no Referer).
func checkContinue(t *testing.T, tb *tab, app *appServer, what string) {
	t.Helper()
	if n := tb.count(t, `a.continue`); n != 1 {
		t.Fatalf("the %s page has %d continue links, want 1", what, n)
	}
	if text := tb.text(t, `a.continue`); text != "Continue to "+appName {
		t.Errorf("the continue link says %q, want %q", text, "Continue to "+appName)
	}
	if href := tb.attr(t, `a.continue`, "href"); href != app.url {
		t.Errorf("the continue link goes to %q, want GATEHOUSE_APP_URL %q", href, app.url)
	}
	before := len(app.welcomes())
	res := tb.follow(t, `a.continue`, app.url)
	if res.Status != http.StatusOK {
		t.Fatalf("the app's page answered %d", res.Status)
	}
	if h1 := tb.text(t, `h1`); h1 != "Welcome to the app" {
		t.Errorf("after the continue link the tab shows %q", h1)
	}
	visits := app.welcomes()
	if len(visits) != before+1 {
		t.Fatalf("the app saw %d visits, want %d", len(visits), before+1)
	}
	if ref := visits[len(visits)-1].referer; ref != "" {
		t.Errorf("the app got Referer %q; the hosted pages send none", ref)
	}
	tb.screenshot(t, what+"-continue")
}

// checkAppName checks that the page names the product GATEHOUSE_APP_NAME,
// in its title and above the heading, and never "Gatehouse".
func checkAppName(t *testing.T, tb *tab) {
	t.Helper()
	if title := run(t, tb, chromedp.Title()); !strings.HasSuffix(title, " · "+appName) {
		t.Errorf("<title> = %q, want it to end with %q", title, " · "+appName)
	}
	if name := tb.text(t, `.app`); name != appName {
		t.Errorf("the page names the product %q, want %q", name, appName)
	}
	if body := tb.text(t, `html`); strings.Contains(body, "Gatehouse") {
		t.Errorf("the page still says Gatehouse: %q", body)
	}
}

// checkPasswordRule checks that the password field carries the configured
// minimum and the domain's maximum, and that the page states them.
func checkPasswordRule(t *testing.T, tb *tab) {
	t.Helper()
	if got := tb.attr(t, `#password`, "minlength"); got != fmt.Sprint(minLength) {
		t.Errorf("minlength = %q, want %d (GATEHOUSE_PASSWORD_MIN_LENGTH)", got, minLength)
	}
	if got := tb.attr(t, `#password`, "maxlength"); got != fmt.Sprint(maxLength) {
		t.Errorf("maxlength = %q, want %d", got, maxLength)
	}
	if got := tb.attr(t, `#password`, "aria-describedby"); got != "password-rule" {
		t.Errorf("aria-describedby = %q, want the rule's id", got)
	}
	rule := tb.text(t, `#password-rule`)
	if !strings.Contains(rule, fmt.Sprintf("at least %d and at most %d characters", minLength, maxLength)) {
		t.Errorf("the rule says %q, want the minimum %d and the maximum %d", rule, minLength, maxLength)
	}
}

// checkErrorLinks checks that a page about a link that did not work links
// to the pages that mail a new one.
func checkErrorLinks(t *testing.T, tb *tab) {
	t.Helper()
	for _, href := range []string{"./forgot-password", "./resend-verification"} {
		if n := tb.count(t, `a[href="`+href+`"]`); n != 1 {
			t.Errorf("the page has %d links to %s, want 1", n, href)
		}
	}
}
