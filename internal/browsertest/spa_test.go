package browsertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// createClient registers an OpenID Connect client as an operator does from
// the shell beside the running server (gatehouse clients create, the use
// case of the admin API) and returns its client_id and, for a confidential
// client, its secret; args are the settings of `gatehouse clients create`.
func (s *server) createClient(t *testing.T, args ...string) (id, secret string) {
	t.Helper()
	cmd := exec.Command(gatehouseBin, append([]string{"clients", "create", "--json"}, args...)...)
	cmd.Env = s.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gatehouse clients create %v: %v\n%s", args, err, stderr.String())
	}
	var created struct {
		Client struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.Client.ClientID == "" {
		t.Fatalf("gatehouse clients create printed %s (%v)", out, err)
	}
	return created.Client.ClientID, created.ClientSecret
}

// spaDir is examples/oidc-spa, with the packages `npm ci` installs there
// (.ci/run does). Without them the test is skipped, except under CI=true,
// where it fails.
func spaDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "oidc-spa"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oauth4webapi", "package.json")); err != nil {
		if inCI() {
			t.Fatalf("examples/oidc-spa cannot be served (%v): run npm ci there", err)
		}
		t.Skipf("examples/oidc-spa cannot be served (%v): run `npm ci` in %s", err, dir)
	}
	return dir
}

// pollStatus waits until the SPA's status line says one of final's
// prefixes, and returns it.
func pollStatus(t *testing.T, tb *tab, final ...string) string {
	t.Helper()
	prefixes, err := json.Marshal(final)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, tb, chromedp.Poll[string](`((s) => `+string(prefixes)+`.some((p) => s.startsWith(p)) && s)(document.querySelector('#status')?.textContent ?? '')`))
}

// TestSinglePageApp: examples/oidc-spa, served as its files are with a
// config.json naming the server and a public client, signs a user in in
// Chromium: the button goes to /authorize, the hosted sign-in sends the
// browser back to the app's page, the app redeems the code from the
// browser (a CORS request its origin is allowed) and shows the email
// userinfo gives. Its sign-out ends the Gatehouse session too.
func TestSinglePageApp(t *testing.T) {
	requireChromium(t)
	dir := spaDir(t)
	const email, password = "noor@example.com", "copper kites over the quiet bay"

	app := httptest.NewUnstartedServer(nil)
	origin := "http://" + app.Listener.Addr().String()
	srv := startServer(t, "GATEHOUSE_CORS_ORIGINS="+origin)
	clientID, _ := srv.createClient(t, "--name", "Single-page app", "--type", "public",
		"--redirect-uri", origin+"/", "--post-logout-redirect-uri", origin+"/")
	config, err := json.Marshal(map[string]string{"issuer": srv.URL, "client_id": clientID})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServer(http.Dir(dir)))
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(config)
	})
	app.Config.Handler = mux
	app.Start()
	t.Cleanup(app.Close)

	srv.verifiedUser(t, email, password)
	tb := newTab(t, startBrowser(t), true)
	tb.open(t, origin+"/")
	if got := pollStatus(t, tb, "Not signed in", "Sign-in failed"); got != "Not signed in" {
		t.Fatalf("the app's first page says %q", got)
	}

	if res, _ := tb.clickThrough(t, "#sign-in"); pathOf(res.URL) != "/sign-in" || !strings.HasPrefix(res.URL, srv.URL) {
		t.Fatalf("the sign-in button led to %s, want the hosted sign-in", pathOf(res.URL))
	}
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	if res, _ := tb.clickThrough(t, `form button[type=submit]`); !strings.HasPrefix(res.URL, origin+"/?") {
		t.Fatalf("after signing in the browser is at %s, want the app's page", pathOf(res.URL))
	}
	if got := pollStatus(t, tb, "Signed in as", "Sign-in failed"); got != "Signed in as "+email {
		t.Fatalf("the app says %q", got)
	}
	if at := run(t, tb, chromedp.Location()); at != origin+"/" {
		t.Errorf("the app's address is %s: the code stays in it", pathOf(at))
	}
	tb.screenshot(t, "spa-signed-in")

	if res, _ := tb.clickThrough(t, "#sign-out"); !strings.HasPrefix(res.URL, origin+"/") {
		t.Fatalf("the sign-out button led to %s, want the app's page", res.URL)
	}
	if got := pollStatus(t, tb, "Not signed in", "Sign-in failed"); got != "Not signed in" {
		t.Fatalf("after signing out the app says %q", got)
	}
	tb.open(t, srv.URL+"/sign-in")
	if body := tb.text(t, "body"); strings.Contains(body, "You are signed in") {
		t.Errorf("the app's sign-out left the Gatehouse session: %q", body)
	}
}
