package http

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	dsession "github.com/gatehouse-auth/gatehouse/domain/session"
)

func TestListConsents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	given := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	f.listConsents.HandleFn = func(_ context.Context, p session.Principal) ([]oauth.ConsentView, error) {
		if p.UserID != userID || p.SessionID != sessionID {
			t.Errorf("asked for %+v; want the bearer's", p)
		}
		return []oauth.ConsentView{
			{Consent: &grant.Consent{UserID: userID, ClientID: "app", Scopes: []string{"openid", "email"}, GivenAt: given}, ClientName: "The App"},
			{Consent: &grant.Consent{UserID: userID, ClientID: "gone", GivenAt: given.Add(-time.Hour)}},
		}, nil
	}
	res, body := do(t, f.public, request("GET", "/v1/me/consents", "", "Authorization", "Bearer good-jwt"))
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, Cache-Control %q: %s", res.StatusCode, res.Header.Get("Cache-Control"), body)
	}
	const want = `{"consents":[` +
		`{"client_id":"app","client_name":"The App","scopes":["openid","email"],"granted_at":"2026-03-01T11:00:00Z"},` +
		`{"client_id":"gone","client_name":null,"scopes":[],"granted_at":"2026-03-01T10:00:00Z"}]}`
	if string(body) != want {
		t.Fatalf("body\n %s\nwant\n %s", body, want)
	}
}

func TestConsentsNeedABearer(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // the consent use cases unset: reaching one is a 500
	for _, r := range []struct{ method, path string }{{"GET", "/v1/me/consents"}, {"DELETE", "/v1/me/consents/app"}} {
		res, body := do(t, f.public, request(r.method, r.path, "", "Authorization", "Bearer forged"))
		decodeProblem(t, res, body, 401, "unauthorized")
	}
}

func TestRevokeConsent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var asked []string
	f.revokeConsent.HandleFn = func(_ context.Context, p session.Principal, clientID string, m app.RequestMeta) error {
		if p.UserID != userID || m.IP == "" {
			t.Errorf("asked for %+v, meta %+v; want the bearer's user and the request's meta", p, m)
		}
		asked = append(asked, clientID)
		if clientID != "app" {
			return domain.ErrNotFound
		}
		return nil
	}
	res, body := do(t, f.public, request("DELETE", "/v1/me/consents/app", "", "Authorization", "Bearer good-jwt"))
	if res.StatusCode != 204 || len(body) != 0 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	res, body = do(t, f.public, request("DELETE", "/v1/me/consents/other", "", "Authorization", "Bearer good-jwt"))
	decodeProblem(t, res, body, 404, "not_found")
	if len(asked) != 2 || asked[0] != "app" || asked[1] != "other" {
		t.Fatalf("asked %q", asked)
	}
}

// A grant is listed with the client it belongs to; any other session
// has no client_id at all, and its fields are as before.
func TestListSessionsNamesTheClientOfAGrant(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := dsession.Rehydrate(userID, userID, t0.Add(-time.Hour), t0.Add(-time.Minute), t0.Add(time.Hour), nil, "app-agent", "192.0.2.9")
	g.RehydrateGrant("app", []string{"openid"}, sessionID)
	f.listSessions.HandleFn = func(_ context.Context, p session.Principal) ([]session.View, error) {
		return []session.View{{Session: g}, {Session: liveSession, Current: true}}, nil
	}
	res, body := do(t, f.public, request("GET", "/v1/me/sessions", "", "Authorization", "Bearer good-jwt"))
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var got struct{ Sessions []map[string]any }
	if err := json.Unmarshal(body, &got); err != nil || len(got.Sessions) != 2 {
		t.Fatalf("body %s: %v", body, err)
	}
	if got.Sessions[0]["client_id"] != "app" {
		t.Errorf("grant: client_id %v, want app", got.Sessions[0]["client_id"])
	}
	if _, ok := got.Sessions[1]["client_id"]; ok {
		t.Errorf("a session of no client shows client_id: %v", got.Sessions[1])
	}
	for _, k := range []string{"id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current", "amr", "auth_time"} {
		for i, s := range got.Sessions {
			if _, ok := s[k]; !ok {
				t.Errorf("session %d lacks %q: %v", i, k, s)
			}
		}
	}
}
