package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// cli runs one gatehouse command against env and returns its stdout.
func cli(t testing.TB, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runWith(context.Background(), args, env, procIO{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut})
	if err != nil {
		t.Logf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

// mustCLI is cli that fails the test on an error.
func mustCLI(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	out, err := cli(t, env, "", args...)
	if err != nil {
		t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// adminKey makes an admin key with the command line, as an operator does.
func adminKey(t *testing.T, env map[string]string, name string) string {
	t.Helper()
	key := strings.TrimSpace(mustCLI(t, env, "admin-keys", "create", name))
	if !strings.HasPrefix(key, "gha_") || len(key) != 4+43 {
		t.Fatalf("admin-keys create printed %q", key)
	}
	return key
}

// adminClient calls the admin listener with a key; responses are checked
// against the admin contract.
type adminClient struct {
	*client
	key string
}

func newAdminClient(t *testing.T, inst *instance, key string) adminClient {
	t.Helper()
	if inst.AdminURL == "" {
		t.Fatal("the instance has no admin listener")
	}
	c := newClient(t, inst)
	c.base, c.contract = inst.AdminURL, adminContract
	return adminClient{client: c, key: key}
}

func (a adminClient) call(method, path string, body any) response {
	a.t.Helper()
	h := map[string]string{}
	if a.key != "" {
		h["Authorization"] = "Bearer " + a.key
	}
	return a.do(method, path, body, h)
}

// adminFixture is an instance with an admin key and a client for each side.
type adminFixture struct {
	fixture
	admin adminClient
}

func newAdminFixture(t *testing.T, st testStore) adminFixture {
	t.Helper()
	f := newFixture(t, st)
	return adminFixture{fixture: f, admin: newAdminClient(t, f.inst, adminKey(t, f.env, "e2e"))}
}

// userID is the id /v1/me reports for a signed-in user.
func userID(t *testing.T, c *client, access string) string {
	t.Helper()
	return c.getOK(t, "/v1/me", access)["user"].(map[string]any)["id"].(string)
}

// object is the JSON object under key of an admin answer ({"user": ...},
// {"client": ...}).
func object(t *testing.T, r response, key string) map[string]any {
	t.Helper()
	o, ok := r.JSON(t)[key].(map[string]any)
	if !ok {
		t.Fatalf("no %s in %s", key, r.Body)
	}
	return o
}

func adminUser(t *testing.T, r response) map[string]any {
	t.Helper()
	return object(t, r, "user")
}

func TestAdminListenerRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)

		// The public listener never serves the admin API.
		if r := f.c.do(http.MethodGet, "/admin/v1/users", nil, map[string]string{"Authorization": "Bearer " + f.admin.key}); r.Status != http.StatusNotFound || r.Code(t) != "not_found" {
			t.Fatalf("public /admin/v1/users: %d %s", r.Status, r.Body)
		}
		for name, key := range map[string]string{
			"no key":    "",
			"malformed": "not-a-key",
			"wrong key": "gha_" + strings.Repeat("A", 43),
		} {
			a := newAdminClient(t, f.inst, key)
			r := a.call(http.MethodGet, "/admin/v1/users", nil)
			if r.Status != http.StatusUnauthorized || r.Code(t) != "unauthorized" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		// A revoked key stops working at once.
		revoked := adminKey(t, f.env, "to-revoke")
		a := newAdminClient(t, f.inst, revoked)
		if r := a.call(http.MethodGet, "/admin/v1/users", nil); r.Status != http.StatusOK {
			t.Fatalf("fresh key: %d %s", r.Status, r.Body)
		}
		mustCLI(t, f.env, "admin-keys", "revoke", "to-revoke")
		if r := a.call(http.MethodGet, "/admin/v1/users", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("revoked key: %d %s", r.Status, r.Body)
		}
		if _, err := cli(t, f.env, "", "admin-keys", "create", "to-revoke"); err == nil {
			t.Error("a revoked key's name was given again")
		}
		list := mustCLI(t, f.env, "admin-keys", "list")
		if !strings.Contains(list, "e2e") || !strings.Contains(list, "to-revoke") || strings.Contains(list, "gha_") {
			t.Errorf("admin-keys list:\n%s", list)
		}

		for path, want := range map[string]int{
			"/admin/v1/users/" + "00000000-0000-4000-8000-000000000001": http.StatusNotFound,
			"/admin/v1/users/not-a-uuid":                                http.StatusNotFound,
			"/admin/v1/users?limit=0":                                   http.StatusBadRequest,
			"/admin/v1/users?limit=201":                                 http.StatusBadRequest,
			"/admin/v1/users?limit=ten":                                 http.StatusBadRequest,
			"/admin/v1/users?cursor=bogus":                              http.StatusBadRequest,
			"/admin/v1/audit?cursor=bogus":                              http.StatusBadRequest,
			"/admin/v1/audit?user_id=nope":                              http.StatusBadRequest,
			"/admin/v1/audit?limit=1000":                                http.StatusBadRequest,
		} {
			if r := f.admin.call(http.MethodGet, path, nil); r.Status != want {
				t.Errorf("GET %s: %d, want %d: %s", path, r.Status, want, r.Body)
			}
		}
		for _, c := range []struct{ method, path string }{
			{http.MethodPatch, "/admin/v1/users/00000000-0000-4000-8000-000000000001"},
			{http.MethodDelete, "/admin/v1/users/00000000-0000-4000-8000-000000000001"},
			{http.MethodDelete, "/admin/v1/users/00000000-0000-4000-8000-000000000001/sessions"},
			{http.MethodPost, "/admin/v1/users/00000000-0000-4000-8000-000000000001/unlock"},
		} {
			var body any
			if c.method == http.MethodPatch {
				body = map[string]bool{"disabled": true}
			}
			if r := f.admin.call(c.method, c.path, body); r.Status != http.StatusNotFound {
				t.Errorf("%s %s of an unknown user: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		// A body for the admin API is bounded and strict like the public one.
		if r := f.admin.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": randomEmail(), "role": "root"}); r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
			t.Errorf("unknown field: %d %s", r.Status, r.Body)
		}
	})
}

func TestDisablingEndsLiveTokensAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		addr, access, refresh := f.signedIn(t)
		id := userID(t, f.c, access)

		r := f.admin.call(http.MethodPatch, "/admin/v1/users/"+id, map[string]bool{"disabled": true})
		if r.Status != http.StatusOK || adminUser(t, r)["disabled"] != true || adminUser(t, r)["active_sessions"].(float64) != 0 {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		assertSessionEnded(t, f.c, access, refresh, "after disabling")
		// The flag is told only to someone with the password.
		if r := f.c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusForbidden || r.Code(t) != "account_disabled" {
			t.Errorf("login with the right password: %d %s", r.Status, r.Body)
		}
		if r := f.c.post("/v1/login", map[string]string{"email": addr, "password": "wrong password entirely"}); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_credentials" {
			t.Errorf("login with a wrong password: %d %s", r.Status, r.Body)
		}
		if r := f.admin.call(http.MethodPatch, "/admin/v1/users/"+id, map[string]bool{"disabled": false}); r.Status != http.StatusOK {
			t.Fatalf("enable: %d %s", r.Status, r.Body)
		}
		access, _ = login(t, f.c, addr, strongPassword)
		r = f.admin.call(http.MethodGet, "/admin/v1/users/"+id, nil)
		u := adminUser(t, r)
		if u["disabled"] != false || u["active_sessions"].(float64) != 1 || u["last_login_at"] == nil || u["email"] != addr {
			t.Errorf("after enabling and a login: %s", r.Body)
		}
		if r := f.admin.call(http.MethodPatch, "/admin/v1/users/"+id, map[string]bool{"mfa_enabled": true}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("mfa_enabled true: %d %s", r.Status, r.Body)
		}
		if r := f.admin.call(http.MethodDelete, "/admin/v1/users/"+id+"/sessions", nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke sessions: %d %s", r.Status, r.Body)
		}
		if r := f.c.bearer(http.MethodGet, "/v1/me", access, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("/v1/me after revoke-sessions: %d", r.Status)
		}
		// Every change names the key that made it.
		r = f.admin.call(http.MethodGet, "/admin/v1/audit?type=admin_user_updated&user_id="+id, nil)
		events, _ := r.JSON(t)["events"].([]any)
		if r.Status != http.StatusOK || len(events) != 2 { // disable, enable (mfa_enabled: true was refused)
			t.Fatalf("audit of the updates: %d %s", r.Status, r.Body)
		}
		for _, e := range events {
			if d := e.(map[string]any)["detail"].(map[string]any); d["actor"] != "e2e" {
				t.Errorf("event %v does not name the key", e)
			}
		}
	})
}

func TestDeletedAccountsLeaveAnIntactAuditTrailAndAFreeAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		addr, access, refresh := f.signedIn(t)
		id := userID(t, f.c, access)

		if r := f.c.bearer(http.MethodDelete, "/v1/me", access, map[string]string{"password": "not my password at all"}); r.Status != http.StatusForbidden {
			t.Fatalf("delete with a wrong password: %d %s", r.Status, r.Body)
		}
		if r := f.c.bearer(http.MethodDelete, "/v1/me", access, map[string]string{"password": strongPassword}); r.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if m := mailTo(t, f.smtp, addr, 2); !strings.Contains(m.Subject, "deleted") {
			t.Errorf("second mail %q, want the deletion notice", m.Subject)
		}
		assertSessionEnded(t, f.c, access, refresh, "after deletion")
		if r := f.admin.call(http.MethodGet, "/admin/v1/users/"+id, nil); r.Status != http.StatusNotFound {
			t.Errorf("admin show after deletion: %d", r.Status)
		}
		db := openStore(t, f.env)
		for _, q := range []string{
			`SELECT count(*) FROM users WHERE id = $1`,
			`SELECT count(*) FROM sessions WHERE user_id = $1`,
			`SELECT count(*) FROM one_time_tokens WHERE user_id = $1`,
		} {
			if n := db.count(t, q, id); n != 0 {
				t.Errorf("%s = %d after deletion", q, n)
			}
		}
		if n := db.count(t, `SELECT count(*) FROM audit_events WHERE user_id = $1`, id); n < 4 {
			t.Errorf("audit rows of the deleted user: %d, want them kept", n)
		}
		assertAudit(t, f.env, id, "registered", "login_succeeded", "account_deleted")
		if out := mustCLI(t, f.env, "audit", "verify"); !strings.Contains(out, "ok") {
			t.Errorf("audit verify: %s", out)
		}
		// The address is free again.
		if r := f.c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("register again: %d %s", r.Status, r.Body)
		}
		tok := tokenFrom(t, mailTo(t, f.smtp, addr, 3), "/verify-email")
		if r := f.c.post("/v1/verify-email", map[string]string{"token": tok, "password": strongPassword}); r.Status != http.StatusOK {
			t.Fatalf("verify again: %d %s", r.Status, r.Body)
		}
		login(t, f.c, addr, strongPassword)

		// An operator's deletion works the same, and is audited by key.
		_, otherAccess, _ := f.signedIn(t)
		otherID := userID(t, f.c, otherAccess)
		if r := f.admin.call(http.MethodDelete, "/admin/v1/users/"+otherID, nil); r.Status != http.StatusNoContent {
			t.Fatalf("admin delete: %d %s", r.Status, r.Body)
		}
		if r := f.c.bearer(http.MethodGet, "/v1/me", otherAccess, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("/v1/me after admin deletion: %d", r.Status)
		}
		assertAudit(t, f.env, otherID, "admin_user_deleted")
		mustCLI(t, f.env, "audit", "verify")
	})
}

func TestEmailChangeNeedsTheNewMailbox(t *testing.T) {
	eachFixture(t, func(t *testing.T, f fixture) {
		addr, access, _ := f.signedIn(t)
		other, _ := login(t, f.c, addr, strongPassword)
		taken := f.verifiedUser(t)
		newAddr := randomEmail()

		// A taken address gets the same answer and no mail.
		if r := f.c.bearer(http.MethodPost, "/v1/me/email", access, map[string]string{"new_email": taken, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("change to a taken address: %d %s", r.Status, r.Body)
		}
		if r := f.c.bearer(http.MethodPost, "/v1/me/email", access, map[string]string{"new_email": newAddr, "password": "wrong wrong wrong"}); r.Status != http.StatusForbidden {
			t.Fatalf("change with a wrong password: %d %s", r.Status, r.Body)
		}
		if r := f.c.bearer(http.MethodPost, "/v1/me/email", access, map[string]string{"new_email": newAddr, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("change: %d %s", r.Status, r.Body)
		}
		link := mailTo(t, f.smtp, newAddr, 1)
		tok := tokenFrom(t, link, "/confirm-email")
		notice := mailTo(t, f.smtp, addr, 3) // verification, notice of the taken try, this notice
		if !strings.Contains(notice.Subject, "email address") {
			t.Errorf("notice to the old address: %q", notice.Subject)
		}
		for _, m := range f.smtp.Messages() {
			for _, to := range m.To {
				if strings.EqualFold(to, taken) && strings.Contains(m.Subject, "Confirm") {
					t.Errorf("a confirmation link went to the taken address %s", taken)
				}
			}
		}
		// Nothing changes until the link is used; the page only shows a form.
		if r := f.c.do(http.MethodGet, "/confirm-email?token="+url.QueryEscape(tok), nil, nil); r.Status != http.StatusOK {
			t.Fatalf("confirm page: %d", r.Status)
		}
		if r := f.c.bearer(http.MethodGet, "/v1/me", access, nil); r.JSON(t)["user"].(map[string]any)["email"] != addr {
			t.Fatalf("address changed before confirmation: %s", r.Body)
		}
		r := f.c.bearer(http.MethodPost, "/v1/me/email/confirm", access, map[string]string{"token": tok})
		if r.Status != http.StatusOK || r.JSON(t)["user"].(map[string]any)["email"] != newAddr {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		if r := f.c.post("/v1/me/email/confirm", map[string]string{"token": tok}); r.Status != http.StatusBadRequest || r.Code(t) != "invalid_token" {
			t.Errorf("second use of the link: %d %s", r.Status, r.Body)
		}
		// The session that confirmed lives on; every other one is revoked.
		if r := f.c.bearer(http.MethodGet, "/v1/me", access, nil); r.Status != http.StatusOK {
			t.Errorf("confirming session: %d", r.Status)
		}
		if r := f.c.bearer(http.MethodGet, "/v1/me", other, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("other session after the change: %d", r.Status)
		}
		login(t, f.c, newAddr, strongPassword)
		if r := f.c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusUnauthorized {
			t.Errorf("login with the old address: %d", r.Status)
		}
	})
}

func TestAdminCreateListAndInvite(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		prefix := strings.TrimSuffix(randomEmail(), "@example.com")
		withPw := prefix + "-a@example.com"
		r := f.admin.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": withPw, "password": strongPassword, "email_verified": true})
		if r.Status != http.StatusCreated || adminUser(t, r)["email_verified"] != true {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		if loc := r.Header.Get("Location"); loc != "/admin/v1/users/"+adminUser(t, r)["id"].(string) {
			t.Errorf("Location %q", loc)
		}
		login(t, f.c, withPw, strongPassword)
		if r := f.admin.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": withPw, "password": strongPassword}); r.Status != http.StatusConflict || r.Code(t) != "email_taken" {
			t.Errorf("create again: %d %s", r.Status, r.Body)
		}
		if r := f.admin.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": prefix + "-weak@example.com", "password": "short"}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("weak password: %d %s", r.Status, r.Body)
		}

		invited := prefix + "-b@example.com"
		if r := f.admin.call(http.MethodPost, "/admin/v1/users", map[string]any{"email": invited}); r.Status != http.StatusCreated {
			t.Fatalf("invite: %d %s", r.Status, r.Body)
		}
		tok := tokenFrom(t, mailTo(t, f.smtp, invited, 1), "/accept-invite")
		if r := f.c.post("/v1/password/reset", map[string]string{"token": tok, "password": strongPassword}); r.Status != http.StatusNoContent {
			t.Fatalf("set the invited password: %d %s", r.Status, r.Body)
		}
		login(t, f.c, invited, strongPassword)

		// Newest first, a prefix of the address, one page at a time.
		r = f.admin.call(http.MethodGet, "/admin/v1/users?limit=1&email="+url.QueryEscape(strings.ToUpper(prefix)), nil)
		body := r.JSON(t)
		users := body["users"].([]any)
		if r.Status != http.StatusOK || len(users) != 1 || users[0].(map[string]any)["email"] != invited || body["next_cursor"] == nil {
			t.Fatalf("page 1: %d %s", r.Status, r.Body)
		}
		r = f.admin.call(http.MethodGet, "/admin/v1/users?limit=1&email="+url.QueryEscape(prefix)+"&cursor="+url.QueryEscape(body["next_cursor"].(string)), nil)
		body = r.JSON(t)
		users = body["users"].([]any)
		if len(users) != 1 || users[0].(map[string]any)["email"] != withPw {
			t.Fatalf("page 2: %s", r.Body)
		}
		if body["next_cursor"] != nil {
			r = f.admin.call(http.MethodGet, "/admin/v1/users?limit=1&email="+url.QueryEscape(prefix)+"&cursor="+url.QueryEscape(body["next_cursor"].(string)), nil)
			if n := len(r.JSON(t)["users"].([]any)); n != 0 {
				t.Fatalf("page 3 has %d users", n)
			}
		}
		r = f.admin.call(http.MethodGet, "/admin/v1/audit?type=admin_user_created&limit=200", nil)
		found := 0
		for _, e := range r.JSON(t)["events"].([]any) {
			if d := e.(map[string]any)["detail"].(map[string]any); strings.HasPrefix(d["email"].(string), prefix) && d["actor"] == "e2e" {
				found++
			}
		}
		if found != 2 {
			t.Errorf("admin_user_created events for the two accounts: %d\n%s", found, r.Body)
		}
	})
}

func TestAdminUnlockLiftsALockout(t *testing.T) {
	eachFixtureWith(t, map[string]string{"GATEHOUSE_LOGIN_LOCKOUT_THRESHOLD": "3"}, func(t *testing.T, f fixture) {
		c := f.c
		a := newAdminClient(t, f.inst, adminKey(t, f.env, "unlocker"))
		addr, access, _ := f.signedIn(t)
		id := userID(t, c, access)
		for i := 0; i < 3; i++ {
			c.post("/v1/login", map[string]string{"email": addr, "password": "wrong wrong wrong"})
		}
		if r := c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusTooManyRequests {
			t.Fatalf("login while locked: %d %s", r.Status, r.Body)
		}
		if r := a.call(http.MethodGet, "/admin/v1/users/"+id, nil); adminUser(t, r)["locked"] != true {
			t.Fatalf("locked account shows %s", r.Body)
		}
		if r := a.call(http.MethodPost, "/admin/v1/users/"+id+"/unlock", nil); r.Status != http.StatusNoContent {
			t.Fatalf("unlock: %d %s", r.Status, r.Body)
		}
		login(t, c, addr, strongPassword)
		assertAudit(t, f.env, id, "admin_user_unlocked")
	})
}

func TestUsersCommandDrivesTheSameUseCases(t *testing.T) {
	eachFixture(t, func(t *testing.T, f fixture) {
		addr, access, _ := f.signedIn(t)

		var shown struct {
			Users []userJSON `json:"users"`
		}
		if err := json.Unmarshal([]byte(mustCLI(t, f.env, "users", "show", addr, "--json")), &shown); err != nil || len(shown.Users) != 1 || shown.Users[0].ActiveSessions != 1 {
			t.Fatalf("users show --json: %+v, %v", shown, err)
		}
		id := shown.Users[0].ID
		if out := mustCLI(t, f.env, "users", "list", "--email", strings.Split(addr, "@")[0]); !strings.Contains(out, addr) || !strings.Contains(out, "EMAIL") {
			t.Errorf("users list:\n%s", out)
		}
		mustCLI(t, f.env, "users", "disable", id)
		if r := f.c.bearer(http.MethodGet, "/v1/me", access, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("/v1/me after users disable: %d", r.Status)
		}
		mustCLI(t, f.env, "users", "enable", addr)
		access, _ = login(t, f.c, addr, strongPassword)
		if out := mustCLI(t, f.env, "users", "revoke-sessions", addr); !strings.Contains(out, "sessions_revoked: 1") {
			t.Errorf("revoke-sessions: %q", out)
		}
		if r := f.c.bearer(http.MethodGet, "/v1/me", access, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("/v1/me after users revoke-sessions: %d", r.Status)
		}
		mustCLI(t, f.env, "users", "unlock", addr)

		created := randomEmail()
		if _, err := cli(t, f.env, strongPassword+"\n", "users", "create", created, "--verified", "--password-stdin"); err != nil {
			t.Fatal(err)
		}
		login(t, f.c, created, strongPassword)
		invited := randomEmail()
		mustCLI(t, f.env, "users", "create", invited)
		mustCLI(t, f.env, "users", "verify", invited)
		tokenFrom(t, mailTo(t, f.smtp, invited, 1), "/accept-invite")

		mustCLI(t, f.env, "users", "delete", addr)
		if _, err := cli(t, f.env, "", "users", "show", addr); err == nil {
			t.Error("users show of a deleted user succeeded")
		}
		assertAudit(t, f.env, id, "admin_user_updated", "admin_sessions_revoked", "admin_user_unlocked", "admin_user_deleted")
		if _, err := cli(t, f.env, "", "users", "frobnicate", addr); err == nil {
			t.Error("an unknown users command succeeded")
		}
	})
}

// TestUsersCommandRefusesFlagsItDoesNotTake: each users command has its
// own flags; one that belongs to another command is a usage error, before
// any store is opened.
func TestUsersCommandRefusesFlagsItDoesNotTake(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GATEHOUSE_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{"users", "show", "someone@example.com", "--password-stdin"},
		{"users", "list", "--verified"},
		{"users", "create", "someone@example.com", "--limit", "5"},
		{"keys", "list", "--verified"},
	} {
		var stderr strings.Builder
		err := run(context.Background(), args, env, io.Discard, &stderr, nil)
		if err == nil || !strings.Contains(err.Error(), "flag provided but not defined") {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
		if !strings.Contains(stderr.String(), "Usage of "+args[0]) {
			t.Errorf("%v: no usage on stderr: %q", args, stderr.String())
		}
	}
}
