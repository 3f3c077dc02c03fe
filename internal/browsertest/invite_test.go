package browsertest

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// invite makes an account for email without a password, as an operator
// does from the shell beside the running server: an invitation is mailed.
func (s *server) invite(t *testing.T, email string) {
	t.Helper()
	cmd := exec.Command(gatehouseBin, "users", "create", email)
	cmd.Env = s.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gatehouse users create %s: %v\n%s", email, err, out)
	}
}

// TestInvitationPage: the link of an invitation opens a page in the words
// of an invitation ("Set your password", a welcome to the app), not those
// of a reset, in a browser with JavaScript off; a mail scanner's GET
// consumes nothing; after the post the page says the password is set and
// the user can sign in, not that it was changed or that sessions ended.
func TestInvitationPage(t *testing.T) {
	requireChromium(t)
	srv := startServer(t, "GATEHOUSE_APP_NAME="+appName, "GATEHOUSE_PASSWORD_MIN_LENGTH=18")
	browser := startBrowser(t)
	const email, password = "ines@example.com", "lilac ferry crosses at noon"
	srv.invite(t, email)
	link := srv.awaitLink(t, email, "/accept-invite")
	srv.prefetch(t, link)

	tb := newTab(t, browser, false)
	res := tb.open(t, link)
	checkFormPage(t, tb, res, formPage{title: "Set your password", token: tokenOf(t, link), fields: []string{"password"}})
	checkAppName(t, tb)
	checkPasswordRule(t, tb)
	body := tb.text(t, `body`)
	if !strings.Contains(body, "Welcome to "+appName) {
		t.Errorf("the invitation page does not welcome the user to %s: %q", appName, body)
	}
	if strings.Contains(strings.ToLower(body), "new password") {
		t.Errorf("the invitation page speaks of a new password: %q", body)
	}
	if label := tb.text(t, `label[for=password]`); label != "Password" {
		t.Errorf("the field is labelled %q, want Password", label)
	}
	tb.screenshot(t, "accept-invite")

	res = tb.fill(t, "password", password, "/accept-invite")
	checkResultPage(t, tb, res, http.StatusOK, "Your password is set; you can sign in.")
	if msg := tb.text(t, `[role=status]`); strings.Contains(msg, "changed") || strings.Contains(msg, "signed out") {
		t.Errorf("the invitation result says %q", msg)
	}
	tb.screenshot(t, "accept-invite-result")
	if st, _ := srv.login(t, email, password); st != http.StatusOK {
		t.Errorf("login with the invitation's password = %d, want 200", st)
	}
}
