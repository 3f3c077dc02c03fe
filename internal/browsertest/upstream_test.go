package browsertest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/upstreamtest"
)

// TestUpstreamSignIn: a browser without JavaScript clicks "Continue with
// Corp" on /sign-in, goes through the provider (a test OpenID provider
// that approves at once) and lands back signed in, the account made from
// the provider's verified address.
func TestUpstreamSignIn(t *testing.T) {
	requireChromium(t)
	const email = "ines@example.com"
	op := upstreamtest.NewOIDC(t, "gatehouse", "op-secret")
	op.SetUser(upstreamtest.User{Subject: "ines-at-corp", Email: email, EmailVerified: true})
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	file := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(secret, []byte("op-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "providers:\n  - {id: corp, name: Corp, issuer: '" + op.URL + "', client_id: gatehouse, client_secret_file: '" + secret + "', trust_email: true}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "GATEHOUSE_APP_NAME="+appName, "GATEHOUSE_UPSTREAM_PROVIDERS_FILE="+file)
	tb := newTab(t, startBrowser(t), false)
	tb.open(t, srv.URL+"/sign-in")
	res, docs := tb.clickThrough(t, `a[href="./sign-in/upstream/corp"]`)
	var path []string
	for _, d := range docs {
		path = append(path, d.Method+" "+strings.TrimPrefix(pathOf(d.URL), srv.URL))
	}
	if res.Status != http.StatusOK || len(docs) != 4 || pathOf(docs[3].URL) != "/sign-in" {
		t.Fatalf("the click went through %v and ended %d; want the start, the provider, the callback and /sign-in", path, res.Status)
	}
	if body := tb.text(t, "body"); !strings.Contains(body, "You are signed in to "+appName+" as "+email) {
		t.Fatalf("after the round trip the page says %q", body)
	}
	if op.Redeemed() != 1 {
		t.Fatalf("the provider redeemed %d codes, want 1", op.Redeemed())
	}
	tb.screenshot(t, "upstream-signed-in")
}
