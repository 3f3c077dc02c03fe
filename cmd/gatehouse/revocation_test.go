package main

import (
	"net/http"
	"testing"
)

// TestRevocationReachesEveryInstanceOnTheNextRequest: two instances on one
// PostgreSQL database; both have accepted (and so remember, see the
// verified-token cache of adapters/jwt) three access tokens of one user.
// Logout on A, a session revoked on A and the account disabled through
// A's admin API are each refused by B on the very next request, with no
// wait: the bearer check reads the session and the user on every request
// (app.SessionRepository.ForBearer); only the token's signature check is
// remembered.
func TestRevocationReachesEveryInstanceOnTheNextRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, onPostgres)
	a, ca, cb := f.inst, f.c, newClient(t, start(t, f.env))
	addr := f.verifiedUser(t)
	var access [3]string
	for i := range access {
		access[i], _ = login(t, ca, addr, strongPassword)
	}
	me := func(c *client, tok string) int { return c.bearer(http.MethodGet, "/v1/me", tok, nil).Status }
	for round := range 3 { // accepted, then remembered, on both instances
		for i, tok := range access {
			for name, c := range map[string]*client{"A": ca, "B": cb} {
				if s := me(c, tok); s != http.StatusOK {
					t.Fatalf("round %d: token %d on %s: %d", round, i, name, s)
				}
			}
		}
	}

	// Logout on A: B refuses that token on its next request.
	if r := ca.bearer(http.MethodPost, "/v1/logout", access[0], nil); r.Status != http.StatusNoContent {
		t.Fatalf("logout on A: %d %s", r.Status, r.Body)
	}
	if s := me(cb, access[0]); s != http.StatusUnauthorized {
		t.Fatalf("B after logout on A: %d, want 401 at once", s)
	}
	if s := me(cb, access[1]); s != http.StatusOK {
		t.Fatalf("B, another session after logout on A: %d", s)
	}

	// One session revoked on A (DELETE /v1/me/sessions/{id} from another
	// session): B refuses it next.
	r := ca.bearer(http.MethodGet, "/v1/me/sessions", access[1], nil)
	if r.Status != http.StatusOK {
		t.Fatalf("sessions: %d %s", r.Status, r.Body)
	}
	var victim string
	for _, s := range r.JSON(t)["sessions"].([]any) {
		if m := s.(map[string]any); m["current"] == true {
			victim = m["id"].(string)
		}
	}
	if r := ca.bearer(http.MethodDelete, "/v1/me/sessions/"+victim, access[2], nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke on A: %d %s", r.Status, r.Body)
	}
	if s := me(cb, access[1]); s != http.StatusUnauthorized {
		t.Fatalf("B after the session was revoked on A: %d, want 401 at once", s)
	}
	if s := me(cb, access[2]); s != http.StatusOK {
		t.Fatalf("B, the revoking session: %d", s)
	}

	// The account disabled through A's admin API: B refuses its last
	// token next, and so does A.
	id := userID(t, ca, access[2])
	admin := newAdminClient(t, a, adminKey(t, f.env, "revocation"))
	if r := admin.call(http.MethodPatch, "/admin/v1/users/"+id, map[string]bool{"disabled": true}); r.Status != http.StatusOK {
		t.Fatalf("disable on A: %d %s", r.Status, r.Body)
	}
	if s := me(cb, access[2]); s != http.StatusUnauthorized {
		t.Fatalf("B after the account was disabled on A: %d, want 401 at once", s)
	}
	if s := me(ca, access[2]); s != http.StatusUnauthorized {
		t.Fatalf("A after disabling: %d", s)
	}
}
