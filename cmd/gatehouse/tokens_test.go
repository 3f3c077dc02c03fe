package main

// Links and addresses, end to end on each store: an invitation outlives a
// reset requested for its address; a stranger's pending registration does
// not keep an address from its owner; failures counted under an address
// before it was verified do not lock its owner out.

import (
	"net/http"
	"strings"
	"testing"
)

// An anonymous forgot for an invited address sends a reset link and leaves
// the invitation working: the invited user sets the password on the
// invitation page, which speaks of an invitation, and that kills the
// reset link (setting a password kills every other link).
func TestForgotLeavesTheInvitationWorking(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		invited := randomEmail()
		if r := f.admin.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": invited}); r.Status != http.StatusCreated {
			t.Fatalf("invite: %d %s", r.Status, r.Body)
		}
		invite := tokenFrom(t, mailTo(t, f.smtp, invited, 1), "/accept-invite")

		stranger := newClient(t, f.inst)
		if r := stranger.post("/v1/password/forgot", map[string]string{"email": invited}); r.Status != http.StatusAccepted {
			t.Fatalf("forgot: %d %s", r.Status, r.Body)
		}
		reset := tokenFrom(t, mailTo(t, f.smtp, invited, 2), "/reset-password")

		page := f.c.do(http.MethodGet, "/accept-invite?token="+invite, nil, nil)
		if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "Set your password") || !strings.Contains(string(page.Body), "Welcome to") {
			t.Fatalf("invitation page: %d %s", page.Status, page.Body)
		}
		done := f.c.form("/accept-invite", map[string]string{"token": invite, "password": strongPassword})
		if done.Status != http.StatusOK || !strings.Contains(string(done.Body), "Your password is set; you can sign in.") || strings.Contains(string(done.Body), "changed") {
			t.Fatalf("invitation accepted after a forgot: %d %s", done.Status, done.Body)
		}
		login(t, f.c, invited, strongPassword)
		if r := f.c.post("/v1/password/reset", map[string]string{"token": reset, "password": strongPassword + " again"}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Errorf("the reset link after the invitation set the password: %d %s", r.Status, r.Body)
		}
		if again := f.c.form("/accept-invite", map[string]string{"token": invite, "password": strongPassword}); again.Status != http.StatusBadRequest {
			t.Errorf("the invitation worked twice: %d", again.Status)
		}
		me := f.admin.call(http.MethodGet, "/admin/v1/users?email="+urlQueryEscape(invited), nil)
		if users := me.JSON(t)["users"].([]any); len(users) != 1 || users[0].(map[string]any)["email_verified"] != true {
			t.Errorf("the accepted invitation did not verify the address: %s", me.Body)
		}
	})
}

// A stranger's pending registration of an address does not block a user's
// change to it: the link goes to the address, confirming it moves the
// account there and kills the pending registration, whose verification
// link no longer works.
func TestPendingRegistrationDoesNotBlockAnEmailChange(t *testing.T) {
	eachFixture(t, func(t *testing.T, f fixture) {
		wanted := randomEmail()
		const strangersPassword = "a stranger's own long passphrase"
		stranger := newClient(t, f.inst)
		if r := stranger.post("/v1/register", map[string]string{"email": wanted, "password": strangersPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("stranger's registration: %d %s", r.Status, r.Body)
		}
		strangersLink := tokenFrom(t, mailTo(t, f.smtp, wanted, 1), "/verify-email")

		_, access, _ := f.signedIn(t)
		id := userID(t, f.c, access)
		if r := f.c.bearer(http.MethodPost, "/v1/me/email", access, map[string]string{"new_email": wanted, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("change: %d %s", r.Status, r.Body)
		}
		confirm := tokenFrom(t, mailTo(t, f.smtp, wanted, 2), "/confirm-email")
		if r := f.c.bearer(http.MethodPost, "/v1/me/email/confirm", access, map[string]string{"token": confirm}); r.Status != http.StatusOK {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		if r := stranger.post("/v1/verify-email", map[string]string{"token": strangersLink, "password": strangersPassword}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Fatalf("the stranger verified the taken-over address: %d %s", r.Status, r.Body)
		}
		moved, _ := login(t, f.c, wanted, strongPassword)
		if got := userID(t, f.c, moved); got != id {
			t.Fatalf("the address belongs to %s, want the user who moved there (%s)", got, id)
		}
		if r := stranger.post("/v1/login", map[string]string{"email": wanted, "password": strangersPassword}); r.Status != http.StatusUnauthorized {
			t.Fatalf("the stranger's password logs in: %d %s", r.Status, r.Body)
		}
		assertAudit(t, f.env, id, "email_changed")
	})
}

// A stranger verifying a pending registration races a user confirming a
// move to its address: exactly one wins, the other gets its plain refusal
// (invalid_token, or email_taken), never a 5xx, and the address ends with
// the winner.
func TestPendingRegistrationRacesAnEmailChange(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, map[string]string{"GATEHOUSE_RATE_LIMIT_DISABLED": "true"}, func(t *testing.T, f fixture) {
		smtp, owner, stranger := f.smtp, f.c, newClient(t, f.inst)
		const strangersPassword = "a stranger's own long passphrase"
		const rounds = 6
		addrs := make([]string, rounds)
		for i := range addrs {
			addrs[i] = randomEmail()
			if r := stranger.post("/v1/register", map[string]string{"email": addrs[i], "password": strangersPassword}); r.Status != http.StatusAccepted {
				t.Fatalf("round %d: stranger's registration: %d %s", i, r.Status, r.Body)
			}
		}
		current := randomEmail()
		registerVerified(t, owner, smtp, current)
		access, _ := login(t, owner, current, strongPassword)
		id := userID(t, owner, access)
		wins := map[string]int{}
		for i, addr := range addrs {
			strangersLink := tokenFrom(t, mailTo(t, smtp, addr, 1), "/verify-email")
			if r := owner.bearer(http.MethodPost, "/v1/me/email", access, map[string]string{"new_email": addr, "password": strongPassword}); r.Status != http.StatusAccepted {
				t.Fatalf("round %d: change: %d %s", i, r.Status, r.Body)
			}
			confirm := tokenFrom(t, mailTo(t, smtp, addr, 2), "/confirm-email")
			both := atOnce(2, func(i int) response {
				if i == 0 {
					return stranger.post("/v1/verify-email", map[string]string{"token": strangersLink, "password": strangersPassword})
				}
				return owner.bearer(http.MethodPost, "/v1/me/email/confirm", access, map[string]string{"token": confirm})
			})
			verified, confirmed := both[0], both[1]
			switch {
			case confirmed.Status == http.StatusOK && verified.Status == http.StatusBadRequest && verified.Code(t) == "invalid_token":
				wins["change"]++
				current = addr
				if r := stranger.post("/v1/login", map[string]string{"email": addr, "password": strangersPassword}); r.Status != http.StatusUnauthorized {
					t.Fatalf("round %d: the stranger's password logs in after the move: %d", i, r.Status)
				}
			case verified.Status == http.StatusOK && confirmed.Status == http.StatusConflict && confirmed.Code(t) == "email_taken":
				wins["verification"]++
				login(t, stranger, addr, strangersPassword)
			default:
				t.Fatalf("round %d: verify %d %s; confirm %d %s; want exactly one to win", i, verified.Status, verified.Body, confirmed.Status, confirmed.Body)
			}
			moved, _ := login(t, owner, current, strongPassword)
			if got := userID(t, owner, moved); got != id {
				t.Fatalf("round %d: %s belongs to %s, want %s", i, current, got, id)
			}
		}
		t.Logf("wins: %v", wins)
	})
}

// Failed logins counted under an address before it had an account do not
// hold its owner back: once the address is verified, the owner logs in at
// once from the very IP the failures came from.
func TestVerificationClearsEarlierLoginFailures(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, testLimits(), func(t *testing.T, f fixture) {
		smtp, c := f.smtp, f.c
		addr := randomEmail()
		for i := 1; i <= testFailureLimit; i++ {
			if r := c.post("/v1/login", map[string]string{"email": addr, "password": "not the password at all"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d before the account existed: %d %s", i, r.Status, r.Body)
			}
		}
		assertRateLimited(t, "a login for the address from that IP", c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}))
		registerVerified(t, c, smtp, addr)
		login(t, c, addr, strongPassword)
	})
}
