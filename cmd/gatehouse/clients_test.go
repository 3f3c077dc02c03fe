package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var clientSecretPattern = regexp.MustCompile(`^ghc_[A-Za-z0-9_-]{43}$`)

// The client registrations through the admin API and the command line,
// on each store: what is registered, changed, rotated and deleted, and
// what is refused.
func TestClientRegistration(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		a := f.admin

		r := a.call(http.MethodPost, "/admin/v1/clients", map[string]any{
			"name": "Wiki", "type": "confidential", "redirect_uris": []string{"https://wiki.example.com/cb", "http://127.0.0.1/cb"},
		})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		secret, _ := r.JSON(t)["client_secret"].(string)
		web := object(t, r, "client")
		id := web["client_id"].(string)
		if !clientSecretPattern.MatchString(secret) || r.Header.Get("Location") != "/admin/v1/clients/"+id ||
			web["token_endpoint_auth_method"] != "client_secret_basic" || web["id_token_signed_response_alg"] != "RS256" {
			t.Fatalf("create: Location %q, body %s", r.Header.Get("Location"), r.Body)
		}

		// The command line sees it and registers the same way.
		var listed struct {
			Clients []struct {
				ClientID string `json:"client_id"`
			} `json:"clients"`
		}
		if err := json.Unmarshal([]byte(mustCLI(t, f.env, "clients", "list", "--json")), &listed); err != nil || len(listed.Clients) != 1 || listed.Clients[0].ClientID != id {
			t.Fatalf("clients list --json: %+v (%v)", listed, err)
		}
		out := mustCLI(t, f.env, "clients", "create", "--name", "Dashboard", "--type", "public",
			"--redirect-uri", "https://dash.example.com/cb", "--post-logout-redirect-uri", "https://dash.example.com/", "--json")
		var created struct {
			Client map[string]any `json:"client"`
			Secret *string        `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(out), &created); err != nil || created.Secret != nil || created.Client["token_endpoint_auth_method"] != "none" {
			t.Fatalf("clients create --json printed %s (%v)", out, err)
		}
		spa := created.Client["client_id"].(string)
		if r := a.call(http.MethodGet, "/admin/v1/clients/"+spa, nil); r.Status != http.StatusOK || object(t, r, "client")["name"] != "Dashboard" {
			t.Fatalf("get the client the command line made: %d %s", r.Status, r.Body)
		}
		if r := a.call(http.MethodGet, "/admin/v1/clients", nil); r.Status != http.StatusOK || len(r.JSON(t)["clients"].([]any)) != 2 {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}

		// Changes: what is named changes, the rules hold for the result.
		r = a.call(http.MethodPatch, "/admin/v1/clients/"+id, map[string]any{"consent": true, "scopes": []string{"openid", "email"}, "name": nil})
		if c := object(t, r, "client"); r.Status != http.StatusOK || c["consent"] != true || c["name"] != "Wiki" || len(c["scopes"].([]any)) != 2 {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		for name, body := range map[string]map[string]any{
			"http off loopback":  {"redirect_uris": []string{"http://wiki.example.com/cb"}},
			"fragment":           {"redirect_uris": []string{"https://wiki.example.com/cb#x"}},
			"type change":        {"type": "public"},
			"implicit":           {"grant_types": []string{"implicit"}},
			"unknown scope":      {"scopes": []string{"openid", "admin"}},
			"no redirect at all": {"redirect_uris": []string{}},
		} {
			if r := a.call(http.MethodPatch, "/admin/v1/clients/"+id, body); r.Status != http.StatusUnprocessableEntity || r.Code(t) != "validation_failed" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		if r := a.call(http.MethodPost, "/admin/v1/clients", map[string]any{"name": "svc", "type": "public", "grant_types": []string{"client_credentials"}}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("public client_credentials client: %d %s", r.Status, r.Body)
		}
		if r := a.call(http.MethodPost, "/admin/v1/clients", map[string]any{"name": "svc", "type": "confidential", "client_secret": "mine"}); r.Status != http.StatusBadRequest {
			t.Errorf("a chosen secret: %d %s", r.Status, r.Body)
		}

		// Secrets: a new one each rotation; a public client has none.
		r = a.call(http.MethodPost, "/admin/v1/clients/"+id+"/secret", nil)
		rotated, _ := r.JSON(t)["client_secret"].(string)
		if r.Status != http.StatusOK || !clientSecretPattern.MatchString(rotated) || rotated == secret {
			t.Fatalf("rotate: %d %s", r.Status, r.Body)
		}
		cliSecret := strings.TrimSpace(mustCLI(t, f.env, "clients", "rotate-secret", id))
		if !clientSecretPattern.MatchString(cliSecret) || cliSecret == rotated {
			t.Fatalf("clients rotate-secret printed %q", cliSecret)
		}
		if r := a.call(http.MethodPost, "/admin/v1/clients/"+spa+"/secret", nil); r.Status != http.StatusConflict || r.Code(t) != "public_client" {
			t.Fatalf("rotate a public client's secret: %d %s", r.Status, r.Body)
		}
		if strings.Contains(mustCLI(t, f.env, "clients", "show", id), "ghc_") {
			t.Fatal("clients show printed a secret")
		}

		// Delete: gone for the API and the command line.
		if r := a.call(http.MethodDelete, "/admin/v1/clients/"+id, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		for _, p := range []string{"/admin/v1/clients/" + id, "/admin/v1/clients/" + strings.Repeat("x", 300)} {
			if r := a.call(http.MethodGet, p, nil); r.Status != http.StatusNotFound || r.Code(t) != "not_found" {
				t.Errorf("get %s: %d %s", p, r.Status, r.Body)
			}
		}
		if _, err := cli(t, f.env, "", "clients", "show", id); err == nil {
			t.Error("clients show found a deleted client")
		}

		// The audit trail names the client and the actor of each change.
		r = a.call(http.MethodGet, "/admin/v1/audit?limit=200", nil)
		var seen []string
		for _, e := range r.JSON(t)["events"].([]any) {
			ev := e.(map[string]any)
			d := ev["detail"].(map[string]any)
			if d["client_id"] == id {
				seen = append(seen, ev["type"].(string)+"/"+d["actor"].(string))
			}
		}
		slices.Reverse(seen)
		want := []string{"client_created/e2e", "client_changed/e2e", "client_secret_rotated/e2e", "client_secret_rotated/cli", "client_deleted/e2e"}
		if !slices.Equal(seen, want) {
			t.Fatalf("audit of the client: %v, want %v", seen, want)
		}
	})
}
