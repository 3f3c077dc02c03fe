package http

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/token"
)

type stubAdminClients struct {
	CreateFn       func(ctx context.Context, a admin.Actor, s client.Settings) (*client.Client, token.Secret, error)
	ListFn         func(ctx context.Context) ([]*client.Client, error)
	GetFn          func(ctx context.Context, id string) (*client.Client, error)
	UpdateFn       func(ctx context.Context, a admin.Actor, id string, s client.Settings) (*client.Client, error)
	DeleteFn       func(ctx context.Context, a admin.Actor, id string) error
	RotateSecretFn func(ctx context.Context, a admin.Actor, id string) (token.Secret, error)
}

func (s *stubAdminClients) Create(ctx context.Context, a admin.Actor, set client.Settings) (*client.Client, token.Secret, error) {
	return s.CreateFn(ctx, a, set)
}
func (s *stubAdminClients) List(ctx context.Context) ([]*client.Client, error) { return s.ListFn(ctx) }
func (s *stubAdminClients) Get(ctx context.Context, id string) (*client.Client, error) {
	return s.GetFn(ctx, id)
}
func (s *stubAdminClients) Update(ctx context.Context, a admin.Actor, id string, set client.Settings) (*client.Client, error) {
	return s.UpdateFn(ctx, a, id, set)
}
func (s *stubAdminClients) Delete(ctx context.Context, a admin.Actor, id string) error {
	return s.DeleteFn(ctx, a, id)
}
func (s *stubAdminClients) RotateSecret(ctx context.Context, a admin.Actor, id string) (token.Secret, error) {
	return s.RotateSecretFn(ctx, a, id)
}

func registered(t *testing.T, typ client.Type) *client.Client {
	t.Helper()
	name := "Wiki"
	c, err := client.New("c-1", client.Settings{Name: &name, Type: &typ, RedirectURIs: &[]string{"https://wiki.example.com/cb"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAdminCreateClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clients.CreateFn = func(_ context.Context, a admin.Actor, s client.Settings) (*client.Client, token.Secret, error) {
		checkActor(t, a)
		if *s.Name != "Wiki" || *s.Type != client.Confidential || !slices.Equal(*s.RedirectURIs, []string{"https://wiki.example.com/cb"}) ||
			s.GrantTypes != nil || s.Scopes != nil || *s.Consent != true || s.IDTokenAlg != nil {
			t.Errorf("settings %+v", s)
		}
		return registered(t, client.Confidential), "ghc_secret", nil
	}
	res, body := do(t, f.admin, adminReq("POST", "/admin/v1/clients", `{"name":"Wiki","type":"confidential","redirect_uris":["https://wiki.example.com/cb"],"consent":true}`))
	m := decodeJSON(t, res, body, 201)
	if res.Header.Get("Location") != "/admin/v1/clients/c-1" || m["client_secret"] != "ghc_secret" {
		t.Fatalf("Location %q, body %s", res.Header.Get("Location"), body)
	}
	c := m["client"].(map[string]any)
	want := map[string]any{
		"client_id": "c-1", "name": "Wiki", "type": "confidential", "consent": false, "id_token_signed_response_alg": "RS256",
		"token_endpoint_auth_method": "client_secret_basic", "created_at": "2025-03-14T15:09:26Z", "updated_at": "2025-03-14T15:09:26Z",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	if l, _ := c["post_logout_redirect_uris"].([]any); l == nil || len(l) != 0 {
		t.Errorf("post_logout_redirect_uris = %v, want []", c["post_logout_redirect_uris"])
	}
	if len(c) != len(want)+4 {
		t.Errorf("client has %d fields: %v", len(c), c)
	}

	// A public client has no secret in the answer.
	f.clients.CreateFn = func(context.Context, admin.Actor, client.Settings) (*client.Client, token.Secret, error) {
		return registered(t, client.Public), "", nil
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/clients", `{"name":"Wiki","type":"public","redirect_uris":["https://wiki.example.com/cb"]}`))
	m = decodeJSON(t, res, body, 201)
	if _, ok := m["client_secret"]; ok || m["client"].(map[string]any)["token_endpoint_auth_method"] != "none" {
		t.Fatalf("body %s", body)
	}
}

func TestAdminClientRequestsRefusedBeforeTheUseCase(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // the stub's funcs are nil: a call would panic
	for _, body := range []string{
		`{"name":"Wiki","secret":"mine"}`,             // unknown field
		`{"name":"Wiki","redirect_uris":"https://x"}`, // not a list
		`{"name":"` + strings.Repeat("n", 401) + `"}`,
	} {
		res, b := do(t, f.admin, adminReq("POST", "/admin/v1/clients", body))
		if res.StatusCode != 400 && res.StatusCode != 422 {
			t.Errorf("%s: status %d, body %s", body, res.StatusCode, b)
		}
	}
	res, _ := do(t, f.admin, request("GET", "/admin/v1/clients", ""))
	if res.StatusCode != 401 {
		t.Errorf("without an admin key: %d", res.StatusCode)
	}
}

func TestAdminClientRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clients.ListFn = func(context.Context) ([]*client.Client, error) {
		return []*client.Client{registered(t, client.Public)}, nil
	}
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/clients", ""))
	if l, _ := decodeJSON(t, res, body, 200)["clients"].([]any); len(l) != 1 {
		t.Fatalf("list body %s", body)
	}

	f.clients.GetFn = func(_ context.Context, id string) (*client.Client, error) {
		if id != "c-1" {
			return nil, client.ErrNotFound
		}
		return registered(t, client.Public), nil
	}
	res, body = do(t, f.admin, adminReq("GET", "/admin/v1/clients/c-1", ""))
	if decodeJSON(t, res, body, 200)["client"].(map[string]any)["client_id"] != "c-1" {
		t.Fatalf("get body %s", body)
	}
	res, body = do(t, f.admin, adminReq("GET", "/admin/v1/clients/nope", ""))
	if decodeJSON(t, res, body, 404)["code"] != "not_found" {
		t.Fatalf("unknown client: %s", body)
	}

	f.clients.UpdateFn = func(_ context.Context, a admin.Actor, id string, s client.Settings) (*client.Client, error) {
		checkActor(t, a)
		if id != "c-1" || s.Name != nil || !slices.Equal(*s.Scopes, []string{"openid"}) {
			t.Errorf("update %s %+v", id, s)
		}
		return nil, domain.Validation(domain.FieldError{Field: "scopes", Code: "invalid_scope", Message: "no"})
	}
	res, body = do(t, f.admin, adminReq("PATCH", "/admin/v1/clients/c-1", `{"scopes":["openid"],"name":null}`))
	if decodeJSON(t, res, body, 422)["code"] != "validation_failed" {
		t.Fatalf("refused update: %s", body)
	}

	f.clients.DeleteFn = func(_ context.Context, a admin.Actor, id string) error {
		checkActor(t, a)
		if id != "c-1" {
			return client.ErrNotFound
		}
		return nil
	}
	if res, body := do(t, f.admin, adminReq("DELETE", "/admin/v1/clients/c-1", "")); res.StatusCode != 204 {
		t.Fatalf("delete: %d %s", res.StatusCode, body)
	}

	f.clients.RotateSecretFn = func(_ context.Context, a admin.Actor, id string) (token.Secret, error) {
		checkActor(t, a)
		if id == "pub" {
			return "", client.ErrPublic
		}
		return "ghc_new", nil
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/clients/c-1/secret", ""))
	if m := decodeJSON(t, res, body, 200); m["client_secret"] != "ghc_new" || len(m) != 1 {
		t.Fatalf("rotate: %s", body)
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/clients/pub/secret", ""))
	if decodeJSON(t, res, body, 409)["code"] != "public_client" {
		t.Fatalf("rotate a public client: %s", body)
	}
}
