package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildExample builds examples/name into a directory of t's.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gatehouse-auth/gatehouse/examples/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./examples/%s: %v\n%s", name, err, out)
	}
	return bin
}

// startLines starts cmd and reads its standard output line by line; the
// process is killed when the test ends.
func startLines(t *testing.T, cmd *exec.Cmd) *bufio.Scanner {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return bufio.NewScanner(out)
}

// freeAddr is a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// walk follows the browser from raw through every redirect, on any host,
// answering Gatehouse's sign-in page with signIn, and returns the last
// URL and its body.
func (b *browser) walk(raw string, signIn url.Values) (string, string) {
	b.t.Helper()
	for range 12 {
		req, err := http.NewRequest(http.MethodGet, raw, nil)
		if err != nil {
			b.t.Fatal(err)
		}
		status, body := b.send(req)
		loc := b.lastLocation
		if status < 300 || status > 399 {
			if status != http.StatusOK {
				b.t.Fatalf("GET %s: %d %s", raw, status, body)
			}
			return raw, body
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		if strings.HasPrefix(next.String(), b.base+"/sign-in?") && signIn != nil {
			form := url.Values{"pending": {next.Query().Get("pending")}}
			for k, v := range signIn {
				form[k] = v
			}
			if status, body := b.post("/sign-in", form, true); status != http.StatusSeeOther {
				b.t.Fatalf("sign-in: %d %s", status, body)
			}
			next, _ = url.Parse(b.base + "/authorize?pending=" + next.Query().Get("pending"))
		}
		raw = next.String()
	}
	b.t.Fatal("too many redirects")
	return "", ""
}

// The guide's Go examples against a real instance, on each store: the
// server-rendered web app (a confidential client) signs in, shows the
// user and signs out of Gatehouse too; the CLI (a public client on a
// loopback redirect) signs in and prints the user.
func TestIntegrateExamples(t *testing.T) {
	webapp, cli := buildExample(t, "oidc-webapp"), buildExample(t, "oidc-cli")
	eachStore(t, func(t *testing.T, st testStore) {
		f := newPublicFixture(t, st)
		addr, _, _ := f.signedIn(t)
		issuer := f.inst.URL
		b := newBrowser(t, issuer)
		credentials := url.Values{"email": {addr}, "password": {strongPassword}}

		t.Run("webapp", func(t *testing.T) {
			listen := freeAddr(t)
			home := "http://" + listen + "/"
			r := f.admin.call(http.MethodPost, "/admin/v1/clients", map[string]any{"name": "Web app", "type": "confidential",
				"redirect_uris": []string{home + "callback"}, "post_logout_redirect_uris": []string{home}})
			if r.Status != http.StatusCreated {
				t.Fatalf("register: %d %s", r.Status, r.Body)
			}
			cmd := exec.Command(webapp)
			cmd.Env = append(cmd.Environ(), "ISSUER="+issuer, "CLIENT_ID="+object(t, r, "client")["client_id"].(string),
				"CLIENT_SECRET="+r.JSON(t)["client_secret"].(string), "REDIRECT_URL="+home+"callback", "LISTEN="+listen)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			waitListening(t, listen)

			if at, page := b.walk(home+"login", credentials); at != home || !strings.Contains(page, "Signed in as "+addr) {
				t.Fatalf("after signing in: %s %s", at, page)
			}
			if at, page := b.walk(home+"logout", nil); at != home || !strings.Contains(page, "Sign in") {
				t.Fatalf("after signing out: %s %s", at, page)
			}
			if _, page := b.get("/sign-in"); strings.Contains(page, "You are signed in") {
				t.Fatal("the web app's sign-out left the Gatehouse session")
			}
		})

		t.Run("client credentials", func(t *testing.T) {
			r := f.admin.call(http.MethodPost, "/admin/v1/clients", map[string]any{"name": "Service", "type": "confidential",
				"redirect_uris": []string{"https://svc.example.com/cb"}, "grant_types": []string{"client_credentials"}})
			if r.Status != http.StatusCreated {
				t.Fatalf("register: %d %s", r.Status, r.Body)
			}
			id, secret := object(t, r, "client")["client_id"].(string), r.JSON(t)["client_secret"].(string)
			out := runGuideSnippet(t, "curl -s -u", issuer, "CLIENT_ID="+id, "CLIENT_SECRET="+secret)
			var tok map[string]any
			if err := json.Unmarshal(out, &tok); err != nil || tok["access_token"] == nil || tok["token_type"] != "Bearer" {
				t.Fatalf("the guide's curl printed %s (%v)", out, err)
			}
		})

		t.Run("cli", func(t *testing.T) {
			r := f.admin.call(http.MethodPost, "/admin/v1/clients", map[string]any{"name": "CLI", "type": "public", "redirect_uris": []string{"http://127.0.0.1/callback"}})
			if r.Status != http.StatusCreated {
				t.Fatalf("register: %d %s", r.Status, r.Body)
			}
			cmd := exec.Command(cli)
			cmd.Env = append(cmd.Environ(), "ISSUER="+issuer, "CLIENT_ID="+object(t, r, "client")["client_id"].(string))
			lines := startLines(t, cmd)
			if !lines.Scan() {
				t.Fatal("the CLI printed no URL")
			}
			if _, page := b.walk(lines.Text(), credentials); !strings.Contains(page, "Signed in") {
				t.Fatalf("the CLI's callback: %s", page)
			}
			if !lines.Scan() || !strings.HasSuffix(lines.Text(), " "+addr) {
				t.Fatalf("the CLI printed %q", lines.Text())
			}
		})
	})
}

// waitListening waits until something accepts connections at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens at %s", addr)
}

// The guide's Go and JavaScript snippets are lines of its examples,
// verbatim, and its oauth2-proxy command line uses only flags the browser
// test runs it with: a snippet that no longer matches the code that runs
// in CI fails here.
func TestIntegrateGuideQuotesTheExamples(t *testing.T) {
	guide := readRepoFile(t, "docs", "integrate.md")
	for lang, files := range map[string][]string{
		"go": {"examples/oidc-webapp/main.go", "examples/oidc-cli/main.go"},
		"js": {"examples/oidc-spa/app.js", "examples/oidc-node/signin.mjs"},
	} {
		blocks := strings.Split(guide, "```"+lang+"\n")[1:]
		if len(blocks) < 2 {
			t.Fatalf("the guide shows no %s snippets", lang)
		}
		for _, b := range blocks {
			snippet, _, ok := strings.Cut(b, "```")
			if !ok {
				t.Fatalf("an unclosed %s snippet: %s", lang, b)
			}
			found := false
			for _, f := range files {
				found = found || strings.Contains(readRepoFile(t, strings.Split(f, "/")...), snippet)
			}
			if !found {
				t.Errorf("the guide's %s snippet is in no example:\n%s", lang, snippet)
			}
		}
	}
	proxyTest := readRepoFile(t, "internal", "browsertest", "proxy_test.go")
	_, cmdline, ok := strings.Cut(guide, "oauth2-proxy --http-address")
	if !ok {
		t.Fatal("the guide has no oauth2-proxy command line")
	}
	cmdline, _, _ = strings.Cut(cmdline, "```")
	for _, f := range strings.Fields(cmdline) {
		if name, _, _ := strings.Cut(f, "="); strings.HasPrefix(name, "--") && !strings.Contains(proxyTest, `"`+name) {
			t.Errorf("the guide's oauth2-proxy flag %s is not one the test runs", name)
		}
	}
}

// readRepoFile reads a file of the repository by its path elements.
func readRepoFile(t *testing.T, elem ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", ".."}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runGuideSnippet runs the guide's sh snippet that starts with prefix,
// with the guide's example issuer replaced by issuer and env set, and
// returns its standard output.
func runGuideSnippet(t *testing.T, prefix, issuer string, env ...string) []byte {
	t.Helper()
	guide := readRepoFile(t, "docs", "integrate.md")
	for _, b := range strings.Split(guide, "```sh\n")[1:] {
		snippet, _, _ := strings.Cut(b, "```")
		if !strings.HasPrefix(snippet, prefix) {
			continue
		}
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(snippet, "https://auth.example.com", issuer))
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("the guide's snippet %q: %v", snippet, err)
		}
		return out
	}
	t.Fatalf("the guide has no sh snippet starting %q", prefix)
	return nil
}
