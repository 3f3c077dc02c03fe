package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// The guide's Node example (examples/oidc-node, openid-client) against a
// real instance, on each store: as a confidential client it prints an
// authorization URL with PKCE, state and nonce; the browser signs in and
// the URL it lands on goes to the script, which redeems the code, checks
// the id_token, reads userinfo, refreshes, and prints an end-session URL
// that signs the browser out and ends the grant.
func TestIntegrateNodeExample(t *testing.T) {
	cmdline := nodeExample(t, "oidc-node", "signin.mjs", "openid-client")
	eachStore(t, func(t *testing.T, st testStore) {
		f := newPublicFixture(t, st)
		addr, access, _ := f.signedIn(t)
		b := newBrowser(t, f.inst.URL)

		// The app's pages: nothing but a landing place for the browser.
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "back at the app") }))
		t.Cleanup(app.Close)
		r := f.admin.call(http.MethodPost, "/admin/v1/clients", map[string]any{"name": "Node app", "type": "confidential",
			"redirect_uris": []string{app.URL + "/callback"}, "post_logout_redirect_uris": []string{app.URL + "/"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		clientID := object(t, r, "client")["client_id"].(string)

		cmd := exec.Command(cmdline[0], cmdline[1:]...)
		cmd.Env = append(cmd.Environ(), "ISSUER="+f.inst.URL, "CLIENT_ID="+clientID, "CLIENT_SECRET="+r.JSON(t)["client_secret"].(string),
			"REDIRECT_URI="+app.URL+"/callback", "POST_LOGOUT_REDIRECT_URI="+app.URL+"/")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		lines := startLines(t, cmd)
		lines.Buffer(nil, 1<<20)
		line := func(what string) string {
			t.Helper()
			if !lines.Scan() {
				t.Fatalf("the script printed no %s: %v\n%s", what, lines.Err(), stderr.String())
			}
			return lines.Text()
		}

		authURL, err := url.Parse(line("authorization URL"))
		if err != nil {
			t.Fatal(err)
		}
		q := authURL.Query()
		if authURL.Scheme+"://"+authURL.Host+authURL.Path != f.inst.URL+"/authorize" || q.Get("client_id") != clientID ||
			q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" {
			t.Fatalf("the authorization URL %s", authURL)
		}
		at, _ := b.walk(authURL.String(), url.Values{"email": {addr}, "password": {strongPassword}})
		if !strings.HasPrefix(at, app.URL+"/callback?") {
			t.Fatalf("the browser landed on %s", at)
		}
		if _, err := io.WriteString(stdin, at+"\n"); err != nil {
			t.Fatal(err)
		}

		var out struct {
			Claims   map[string]any `json:"id_token_claims"`
			Userinfo map[string]any `json:"userinfo"`
			Refresh  struct {
				NewAccess  bool `json:"new_access_token"`
				NewRefresh bool `json:"new_refresh_token"`
				ExpiresIn  int  `json:"expires_in"`
			} `json:"refresh"`
			EndSession string `json:"end_session_url"`
		}
		if err := json.Unmarshal([]byte(line("result")), &out); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("the script: %v\n%s", err, stderr.String())
		}
		if c := out.Claims; c["iss"] != f.inst.URL || fmt.Sprint(c["aud"]) != "["+clientID+"]" || c["email"] != addr || c["nonce"] != q.Get("nonce") || c["sid"] == nil {
			t.Errorf("the id_token's claims %v", c)
		}
		if u := out.Userinfo; u["sub"] != out.Claims["sub"] || u["email"] != addr {
			t.Errorf("userinfo %v", u)
		}
		if r := out.Refresh; !r.NewAccess || !r.NewRefresh || r.ExpiresIn <= 0 {
			t.Errorf("the refresh %+v", r)
		}

		// The API login, the browser's session and the Node app's grant.
		sessions := func() int {
			return len(f.c.bearer(http.MethodGet, "/v1/me/sessions", access, nil).JSON(t)["sessions"].([]any))
		}
		if n := sessions(); n != 3 {
			t.Fatalf("%d sessions before the end-session URL, want 3", n)
		}
		end, err := url.Parse(out.EndSession)
		if err != nil {
			t.Fatal(err)
		}
		if end.Scheme+"://"+end.Host+end.Path != f.inst.URL+"/end-session" || end.Query().Get("id_token_hint") == "" {
			t.Fatalf("the end-session URL %s://%s%s has an id_token_hint: %t", end.Scheme, end.Host, end.Path, end.Query().Has("id_token_hint"))
		}
		if at, page := b.walk(end.String(), nil); !strings.HasPrefix(at, app.URL+"/?state="+end.Query().Get("state")) || page != "back at the app" {
			t.Fatalf("after the end-session URL: %s %s", at, page)
		}
		if _, page := b.get("/sign-in"); strings.Contains(page, "You are signed in") {
			t.Fatal("the end-session URL left the Gatehouse session")
		}
		if n := sessions(); n != 1 {
			t.Fatalf("%d sessions after the end-session URL, want 1 (the API login's)", n)
		}
	})
}
