package main

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// refreshOnce posts a refresh and returns the answer.
func refreshOnce(c *client, refresh string) response {
	return c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh})
}

// Several tabs refreshing with one token at once all stay signed in: the
// 12 concurrent refreshes all succeed with one successor (and each a fresh
// access token), one rotation happened, and afterwards exactly one refresh
// token of the session is live. A repeat within the grace after that
// successor was itself rotated follows to the live token. The store never
// holds a successor in plain text.
func TestConcurrentRefreshesShareOneSuccessor(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixture(t, st) // the default grace, 10s
		_, _, refresh := f.signedIn(t)

		const tabs = 12
		answers := atOnce(tabs, func(int) response { return refreshOnce(f.c, refresh) })
		var successor string
		accessTokens := map[string]bool{}
		for i, r := range answers {
			if r.Status != http.StatusOK {
				t.Fatalf("tab %d: %d %s", i, r.Status, r.Body)
			}
			pair := r.JSON(t)
			got := pair["refresh_token"].(string)
			if successor == "" {
				successor = got
			}
			if got != successor || got == refresh {
				t.Fatalf("tab %d got another refresh token than tab 0", i)
			}
			accessTokens[pair["access_token"].(string)] = true
		}
		if len(accessTokens) != tabs {
			t.Errorf("%d distinct access tokens for %d tabs, want each its own", len(accessTokens), tabs)
		}
		for a := range accessTokens {
			if me := f.c.bearer(http.MethodGet, "/v1/me", a, nil); me.Status != http.StatusOK {
				t.Fatalf("/v1/me with a tab's access token: %d %s", me.Status, me.Body)
			}
		}
		db := openStore(t, f.env)
		if n := db.count(t, `SELECT count(*) FROM refresh_tokens WHERE used_at IS NULL`); n != 1 {
			t.Fatalf("%d live refresh tokens after the tabs, want exactly 1", n)
		}
		if n := db.count(t, `SELECT count(*) FROM refresh_tokens`); n != 2 {
			t.Fatalf("%d refresh tokens, want 2: one rotation for %d tabs", n, tabs)
		}
		assertNoPlainSuccessor(t, db, successor)

		// The successor rotates as usual; the first token, still within its
		// grace, now stands for the live one.
		r := refreshOnce(f.c, successor)
		if r.Status != http.StatusOK {
			t.Fatalf("refresh with the successor: %d %s", r.Status, r.Body)
		}
		live := r.JSON(t)["refresh_token"].(string)
		r = refreshOnce(f.c, refresh)
		if r.Status != http.StatusOK || r.JSON(t)["refresh_token"] != live {
			t.Fatalf("the first token again, within the grace: %d %s; want the live token", r.Status, r.Body)
		}
		if n := db.count(t, `SELECT count(*) FROM refresh_tokens WHERE used_at IS NULL`); n != 1 {
			t.Fatalf("%d live refresh tokens, want exactly 1", n)
		}
		assertNoPlainSuccessor(t, db, live)
		ss := f.c.bearer(http.MethodGet, "/v1/me/sessions", r.JSON(t)["access_token"].(string), nil).JSON(t)["sessions"].([]any)
		if len(ss) != 1 {
			t.Fatalf("sessions: %v, want the one", ss)
		}
	})
}

// assertNoPlainSuccessor checks that no column of any refresh token holds
// secret, as text or as its bytes.
func assertNoPlainSuccessor(t *testing.T, db storeDB, secret string) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	hexCol := func(col string) string {
		if db.kind == storeSQLite {
			return "lower(hex(" + col + "))"
		}
		return "encode(" + col + ", 'hex')"
	}
	dump := strings.Join(db.texts(t, `SELECT `+hexCol("token_hash")+` || ':' || CAST(session_id AS TEXT) || ':' || COALESCE(`+hexCol("successor_sealed")+`, '')
		|| ':' || COALESCE(`+db.bytesAsText("successor_sealed")+`, '') FROM refresh_tokens`), "\n")
	if !strings.Contains(dump, ":") || strings.Count(dump, "\n") < 1 {
		t.Fatalf("refresh token dump looks empty: %q", dump)
	}
	for _, needle := range []string{secret, hex.EncodeToString([]byte(secret)), hex.EncodeToString(raw)} {
		if strings.Contains(dump, needle) {
			t.Fatalf("the refresh token table holds a successor in plain text:\n%s", dump)
		}
	}
}

// After the grace a repeat is reuse: the session is revoked (its live
// token and access tokens stop working), the event is audited, and the
// sealed successor is gone.
func TestRefreshRepeatAfterTheGraceRevokes(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixtureWith(t, st, map[string]string{"GATEHOUSE_REFRESH_REUSE_GRACE": "1s"})
		_, _, refresh := f.signedIn(t)
		r := refreshOnce(f.c, refresh)
		if r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		pair := r.JSON(t)
		successor, access := pair["refresh_token"].(string), pair["access_token"].(string)
		db := openStore(t, f.env)
		if n := db.count(t, `SELECT count(*) FROM refresh_tokens WHERE successor_sealed IS NOT NULL`); n != 1 {
			t.Fatalf("%d sealed successors during the grace, want 1", n)
		}
		id := userID(t, f.c, access)

		time.Sleep(1100 * time.Millisecond)
		if r := refreshOnce(f.c, refresh); r.Status != http.StatusUnauthorized || r.Code(t) != "invalid_token" {
			t.Fatalf("repeat after the grace: %d %s", r.Status, r.Body)
		}
		if r := refreshOnce(f.c, successor); r.Status != http.StatusUnauthorized {
			t.Fatalf("the successor after reuse: %d %s", r.Status, r.Body)
		}
		if me := f.c.bearer(http.MethodGet, "/v1/me", access, nil); me.Status != http.StatusUnauthorized {
			t.Fatalf("/v1/me after reuse: %d", me.Status)
		}
		if n := db.count(t, `SELECT count(*) FROM refresh_tokens WHERE successor_sealed IS NOT NULL`); n != 0 {
			t.Fatalf("%d sealed successors after the grace, want none", n)
		}
		assertAudit(t, f.env, id, "refresh_reuse_detected")
	})
}
