package browsertest

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
)

// oauth2ProxyBin is the oauth2-proxy binary that `make oauth2-proxy`
// builds from the version tools/oauth2-proxy pins (.ci/run does before the
// tests). Without it the test is skipped, except under CI=true, where it
// fails.
func oauth2ProxyBin(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "bin", "oauth2-proxy")
	if _, err := os.Stat(bin); err != nil {
		if inCI() {
			t.Fatalf("oauth2-proxy is not built (%v) and CI=true: .ci/run runs `make oauth2-proxy`", err)
		}
		t.Skipf("oauth2-proxy is not built (%v): run `make oauth2-proxy`", err)
	}
	return bin
}

// upstream is the application behind the proxy: its page (/) shows the
// address the proxy forwards, and it records each one it was sent there;
// any other path (the browser's /favicon.ico) is 404.
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	emails []string
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		email := r.Header.Get("X-Forwarded-Email")
		u.mu.Lock()
		u.emails = append(u.emails, email)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Upstream</title><p id=email>%s</p>", html.EscapeString(email))
	}))
	t.Cleanup(u.Close)
	return u
}

// seen is the forwarded addresses of the requests for / so far.
func (u *upstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.emails...)
}

// startOAuth2Proxy runs oauth2-proxy on addr with args, waits until its
// /ping answers 200, and stops it with SIGTERM when the test ends. Its log
// is printed when the test failed.
func startOAuth2Proxy(t *testing.T, bin, addr string, args ...string) {
	t.Helper()
	var log lockedBuffer
	cmd := exec.Command(bin, append([]string{"--http-address=" + addr}, args...)...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start oauth2-proxy: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		if t.Failed() {
			t.Logf("oauth2-proxy log:\n%s", log.String())
		}
	})

	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("oauth2-proxy exited before it was ready: %v\n%s", waitErr, log.String())
		default:
		}
		res, err := client.Get("http://" + addr + "/ping")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauth2-proxy's /ping did not answer 200 within 30s (last: %v)\n%s", describe(res, err), log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOAuth2Proxy: oauth2-proxy, with Gatehouse as its OpenID Connect
// provider (a confidential client, PKCE S256), protects an application,
// with Gatehouse on each store. In a browser, the application's address
// leads to Gatehouse's sign-in page; after signing in there the browser
// lands on the application, which is sent the user's address in
// X-Forwarded-Email. Signing out through the proxy on to Gatehouse's
// end-session ends both sessions: the application's address leads to the
// sign-in page again.
func TestOAuth2Proxy(t *testing.T) {
	requireChromium(t)
	bin := oauth2ProxyBin(t)
	for _, st := range []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string {
			return []string{"GATEHOUSE_DATABASE_URL=" + pgtest.NewEmptyDatabase(t)}
		}},
	} {
		t.Run(st.name, func(t *testing.T) {
			// The database first: it is dropped after the server stops.
			srv := startServer(t, append(st.env(t), "GATEHOUSE_APP_NAME="+appName)...)
			signInThroughProxy(t, srv, bin)
		})
	}
}

// signInThroughProxy runs oauth2-proxy in front of an application with srv
// as its provider, and signs in and out through it in a browser of its own.
func signInThroughProxy(t *testing.T, srv *server, bin string) {
	const email, password = "olga@example.com", "copper kettles sing at dawn"
	srv.verifiedUser(t, email, password)
	browser := startBrowser(t)
	app := startUpstream(t)

	proxyAddr := freeAddr(t)
	proxyURL := "http://" + proxyAddr
	id, secret := srv.createClient(t, "--name", "Intranet", "--type", "confidential",
		"--redirect-uri", proxyURL+"/oauth2/callback",
		"--post-logout-redirect-uri", proxyURL+"/")
	srvHost := strings.TrimPrefix(srv.URL, "http://")
	startOAuth2Proxy(t, bin, proxyAddr,
		"--provider=oidc",
		"--oidc-issuer-url="+srv.URL,
		"--client-id="+id,
		"--client-secret="+secret,
		"--redirect-url="+proxyURL+"/oauth2/callback",
		"--upstream="+app.URL,
		"--email-domain=*",
		"--code-challenge-method=S256",
		"--skip-provider-button",
		"--cookie-secret=0123456789abcdef0123456789abcdef",
		"--cookie-secure=false",
		// The sign-out may send the browser on to Gatehouse.
		"--whitelist-domain="+srvHost,
	)

	tb := newTab(t, browser, false)
	tb.open(t, proxyURL+"/")
	if loc := run(t, tb, chromedp.Location()); pathOf(loc) != "/sign-in" || !strings.HasPrefix(loc, srv.URL) {
		t.Fatalf("the application's address led to %s, want Gatehouse's sign-in page", pathOf(loc))
	}
	if got := app.seen(); len(got) != 0 {
		t.Fatalf("the application was reached before the user signed in: %q", got)
	}
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	res, _ := tb.clickThrough(t, `form button[type=submit]`)
	if loc := run(t, tb, chromedp.Location()); res.Status != http.StatusOK || loc != proxyURL+"/" {
		t.Fatalf("after signing in the browser is at %s (%d), want the application at %s", loc, res.Status, proxyURL+"/")
	}
	if shown := tb.text(t, `#email`); shown != email {
		t.Errorf("the application's page shows %q, want %q", shown, email)
	}
	if got := app.seen(); len(got) != 1 || got[0] != email {
		t.Errorf("the application was sent X-Forwarded-Email %q, want [%q]", got, email)
	}
	tb.screenshot(t, "oauth2-proxy-upstream")

	// Sign out: the proxy drops its cookie and sends the browser to
	// Gatehouse's end-session, which asks (the browser has no id_token to
	// show) and, once confirmed, returns it to the application's address.
	endSession := srv.URL + "/end-session?" + url.Values{"client_id": {id}, "post_logout_redirect_uri": {proxyURL + "/"}}.Encode()
	tb.open(t, proxyURL+"/oauth2/sign_out?"+url.Values{"rd": {endSession}}.Encode())
	if loc := run(t, tb, chromedp.Location()); pathOf(loc) != "/end-session" || !strings.HasPrefix(loc, srv.URL) {
		t.Fatalf("the sign-out led to %s, want Gatehouse's end-session", loc)
	}
	tb.clickThrough(t, `form button[type=submit]`)
	if loc := run(t, tb, chromedp.Location()); pathOf(loc) != "/sign-in" || !strings.HasPrefix(loc, srv.URL) {
		t.Fatalf("after signing out the browser is at %s, want Gatehouse's sign-in page", loc)
	}
	if got := app.seen(); len(got) != 1 {
		t.Errorf("the application was reached after the sign-out: %q", got)
	}
}
