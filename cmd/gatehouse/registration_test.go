package main

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// strangerPassword is what a stranger types when registering someone
// else's address.
const strangerPassword = "a stranger picked this passphrase"

// TestRegistrationNeverChangesAnAccountUnderARace: the owner verifies the
// address while a stranger registers it a dozen times at once, again and
// again. However the requests interleave, the stranger's password never
// logs in and the owner's always does. Mail limits are off, so every
// registration of the stranger does its full work.
func TestRegistrationNeverChangesAnAccountUnderARace(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, map[string]string{"GATEHOUSE_RATE_LIMIT_DISABLED": "true"}, func(t *testing.T, f fixture) {
		smtp, owner, stranger := f.smtp, f.c, newClient(t, f.inst)
		const rounds, strangers = 50, 12
		// The owner registers the addresses of all rounds first, so that
		// the rounds wait for the outbox once, not once each.
		addrs := make([]string, rounds)
		for round := range rounds {
			addrs[round] = randomEmail()
			if r := owner.post("/v1/register", map[string]string{"email": addrs[round], "password": strongPassword}); r.Status != http.StatusAccepted {
				t.Fatalf("round %d: owner register: %d %s", round, r.Status, r.Body)
			}
		}
		for round, addr := range addrs {
			tok := tokenFrom(t, mailTo(t, smtp, addr, 1), "/verify-email")
			// the owner's verification (answer 0) among the stranger's registrations
			verified := atOnce(1+strangers, func(i int) response {
				if i == 0 {
					return owner.post("/v1/verify-email", map[string]string{"token": tok, "password": strongPassword})
				}
				return stranger.post("/v1/register", map[string]string{"email": addr, "password": strangerPassword})
			})[0]
			if verified.Status != http.StatusOK {
				t.Fatalf("round %d: owner verify: %d %s", round, verified.Status, verified.Body)
			}
			if r := stranger.post("/v1/login", map[string]string{"email": addr, "password": strangerPassword}); r.Status != http.StatusUnauthorized {
				t.Fatalf("round %d: the stranger's password logs in: %d %s", round, r.Status, r.Body)
			}
			login(t, owner, addr, strongPassword)
		}
	})
}

// TestRegisterThenLoginRevealsNothing: a stranger registers an address with
// a password of their own and logs in with it. Verified, unverified and
// unknown addresses give identical answers to both requests (status and
// body, request id aside).
func TestRegisterThenLoginRevealsNothing(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		verified := f.verifiedUser(t)
		unverified := randomEmail()
		if r := f.c.post("/v1/register", map[string]string{"email": unverified, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("owner register: %d", r.Status)
		}
		unknown := randomEmail()
		stranger := newClient(t, f.inst)
		type answer struct {
			RegisterStatus int
			RegisterBody   string
			LoginStatus    int
			LoginBody      map[string]any
		}
		answers := map[string]answer{}
		for name, addr := range map[string]string{"verified": verified, "unverified": unverified, "unknown": unknown} {
			reg := stranger.post("/v1/register", map[string]string{"email": addr, "password": strangerPassword})
			in := stranger.post("/v1/login", map[string]string{"email": addr, "password": strangerPassword})
			answers[name] = answer{reg.Status, string(reg.Body), in.Status, problemWithoutRequestID(t, in)}
		}
		want := answers["unknown"]
		if want.RegisterStatus != http.StatusAccepted || want.LoginStatus != http.StatusUnauthorized || want.LoginBody["code"] != "invalid_credentials" {
			t.Fatalf("unknown address: %+v", want)
		}
		for name, got := range answers {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s address answers\n%+v\nunknown address answers\n%+v", name, got, want)
			}
		}
		// And the owners keep their accounts: the verified one logs in, the
		// unverified one verifies with the link and password of their own
		// registration.
		login(t, f.c, verified, strongPassword)
		tok := tokenFrom(t, mailTo(t, f.smtp, unverified, 1), "/verify-email")
		if r := f.c.post("/v1/verify-email", map[string]string{"token": tok, "password": strongPassword}); r.Status != http.StatusOK {
			t.Fatalf("owner verify: %d %s", r.Status, r.Body)
		}
		login(t, f.c, unverified, strongPassword)
	})
}

// TestOwnerClickingAStrangersLinkDoesNotGiveTheStrangerTheAccount: the
// stranger registers first, the owner registers too; the owner clicks the
// stranger's link (the first mail) with the owner's password, is told to use
// the link of their own registration, does so, and owns the account; the
// stranger's link is dead afterwards.
func TestOwnerClickingAStrangersLinkDoesNotGiveTheStrangerTheAccount(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		addr := randomEmail()
		stranger := newClient(t, f.inst)
		stranger.post("/v1/register", map[string]string{"email": addr, "password": strangerPassword})
		strangersLink := tokenFrom(t, mailTo(t, f.smtp, addr, 1), "/verify-email")
		f.c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword})
		ownersLink := tokenFrom(t, mailTo(t, f.smtp, addr, 2), "/verify-email")

		page := f.c.form("/verify-email", map[string]string{"token": strangersLink, "password": strongPassword})
		if page.Status != http.StatusBadRequest || !strings.Contains(string(page.Body), "This password is not the one chosen at the registration that sent this link") {
			t.Fatalf("owner on the stranger's link: %d %s", page.Status, page.Body)
		}
		if page := f.c.form("/verify-email", map[string]string{"token": ownersLink, "password": strongPassword}); page.Status != http.StatusOK {
			t.Fatalf("owner on their own link: %d %s", page.Status, page.Body)
		}
		if r := stranger.post("/v1/verify-email", map[string]string{"token": strangersLink, "password": strangerPassword}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Fatalf("the stranger's link after the owner verified: %d %s", r.Status, r.Body)
		}
		if r := stranger.post("/v1/login", map[string]string{"email": addr, "password": strangerPassword}); r.Status != http.StatusUnauthorized {
			t.Fatalf("stranger login: %d", r.Status)
		}
		login(t, f.c, addr, strongPassword)
	})
}

// TestOwnerCanAlwaysRecover: an attacker spends the address's reset-mail
// budget first. The per-address window is no longer than a reset link
// lives, so the owner's mailbox holds a working link all the while (the
// newest one the attacker caused), and once those links are dead the
// owner's own request sends a fresh one.
func TestOwnerCanAlwaysRecover(t *testing.T) {
	t.Parallel()
	const ttl = 6 * time.Second
	eachFixtureWith(t, map[string]string{"GATEHOUSE_RESET_TOKEN_TTL": ttl.String()}, func(t *testing.T, f fixture) {
		smtp, owner, attacker := f.smtp, f.c, newClient(t, f.inst)
		addr := randomEmail()
		registerVerified(t, owner, smtp, addr)

		forgot := func(c *client) {
			t.Helper()
			if r := c.post("/v1/password/forgot", map[string]string{"email": addr}); r.Status != http.StatusAccepted {
				t.Fatalf("forgot: %d %s", r.Status, r.Body)
			}
		}
		resets := func() int { return mailCounts(smtp, addr)["reset_password"] }

		// Round 1: the attacker spends the budget; the owner's request is
		// dropped, but the newest link in the mailbox works.
		for range 3 {
			forgot(attacker)
		}
		newest := tokenFrom(t, mailTo(t, smtp, addr, 1+3), "/reset-password") // after the verification mail
		forgot(owner)
		time.Sleep(time.Second) // the worker would have sent it by now
		if n := resets(); n != 3 {
			t.Fatalf("reset mails after the owner's dropped request: %d, want 3", n)
		}
		if r := owner.post("/v1/password/reset", map[string]string{"token": newest, "password": "the owner's first new passphrase"}); r.Status != http.StatusNoContent {
			t.Fatalf("owner resets with the newest link in the mailbox: %d %s", r.Status, r.Body)
		}

		// Round 2: once the window (and every link in it) is over, the
		// attacker spends it again; when those links have died, the window
		// has too, and the owner's next request sends a link that works.
		time.Sleep(ttl)
		for range 3 {
			forgot(attacker)
		}
		mailTo(t, smtp, addr, 1+3+1+3) // 3 resets, the "changed" notice, 3 resets
		time.Sleep(ttl)
		before := resets()
		forgot(owner)
		deadline := time.Now().Add(20 * time.Second)
		for resets() == before && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if resets() != before+1 {
			t.Fatalf("the owner's request after the attacker's links expired sent no mail (%d reset mails)", resets())
		}
		tok := tokenFrom(t, mailTo(t, smtp, addr, 1+3+1+3+1), "/reset-password")
		if r := owner.post("/v1/password/reset", map[string]string{"token": tok, "password": "the owner's second new passphrase"}); r.Status != http.StatusNoContent {
			t.Fatalf("owner resets with their own link: %d %s", r.Status, r.Body)
		}
		login(t, owner, addr, "the owner's second new passphrase")
	})
}

// TestPasswordChangeKillsOutstandingResetLinks: a reset link mailed before
// a password change no longer sets a password after it.
func TestPasswordChangeKillsOutstandingResetLinks(t *testing.T) {
	t.Parallel()
	eachFixture(t, func(t *testing.T, f fixture) {
		addr := f.verifiedUser(t)
		if r := f.c.post("/v1/password/forgot", map[string]string{"email": addr}); r.Status != http.StatusAccepted {
			t.Fatalf("forgot: %d", r.Status)
		}
		link := tokenFrom(t, mailTo(t, f.smtp, addr, 2), "/reset-password")
		access, _ := login(t, f.c, addr, strongPassword)
		const changed = "changed after the link was sent"
		if r := f.c.bearer(http.MethodPost, "/v1/me/password", access, map[string]string{"current_password": strongPassword, "new_password": changed}); r.Status != http.StatusNoContent {
			t.Fatalf("change: %d %s", r.Status, r.Body)
		}
		if r := f.c.post("/v1/password/reset", map[string]string{"token": link, "password": "set through an old reset link"}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Fatalf("old reset link after a change: %d %s", r.Status, r.Body)
		}
		login(t, f.c, addr, changed)
	})
}

// TestWithoutRequiredVerificationTheFirstRegistrationHoldsThePassword: with
// GATEHOUSE_REQUIRE_VERIFIED_EMAIL=false the first registration's password
// logs in at once, and a later registration only gets the owner a notice.
func TestWithoutRequiredVerificationTheFirstRegistrationHoldsThePassword(t *testing.T) {
	t.Parallel()
	eachFixtureWith(t, map[string]string{"GATEHOUSE_REQUIRE_VERIFIED_EMAIL": "false"}, func(t *testing.T, f fixture) {
		smtp, c, other := f.smtp, f.c, newClient(t, f.inst)
		addr := randomEmail()
		c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword})
		mailTo(t, smtp, addr, 1)
		login(t, c, addr, strongPassword)
		other.post("/v1/register", map[string]string{"email": addr, "password": strangerPassword})
		if m := mailTo(t, smtp, addr, 2); mailKind(m) != "already_registered" {
			t.Fatalf("second registration mailed %q, want the already-registered notice", m.Subject)
		}
		if r := other.post("/v1/login", map[string]string{"email": addr, "password": strangerPassword}); r.Status != http.StatusUnauthorized {
			t.Fatalf("later registration's password: %d", r.Status)
		}
		login(t, c, addr, strongPassword)
	})
}
