package http

import (
	"context"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

type stubAdminWebhooks struct {
	CreateFn       func(ctx context.Context, a admin.Actor, url string, events []webhook.Type) (webhook.Endpoint, token.Secret, error)
	ListFn         func(ctx context.Context) ([]appwebhook.View, error)
	DeleteFn       func(ctx context.Context, a admin.Actor, id uuid.UUID) error
	RotateSecretFn func(ctx context.Context, a admin.Actor, id uuid.UUID) (token.Secret, error)
}

func (s *stubAdminWebhooks) Create(ctx context.Context, a admin.Actor, url string, events []webhook.Type) (webhook.Endpoint, token.Secret, error) {
	return s.CreateFn(ctx, a, url, events)
}
func (s *stubAdminWebhooks) List(ctx context.Context) ([]appwebhook.View, error) {
	return s.ListFn(ctx)
}
func (s *stubAdminWebhooks) Delete(ctx context.Context, a admin.Actor, id uuid.UUID) error {
	return s.DeleteFn(ctx, a, id)
}
func (s *stubAdminWebhooks) RotateSecret(ctx context.Context, a admin.Actor, id uuid.UUID) (token.Secret, error) {
	return s.RotateSecretFn(ctx, a, id)
}

var hookID = uuid.MustParse("6f2b0c4e-1d3a-4b5c-9e8f-7a6b5c4d3e2f")

func TestAdminCreateWebhook(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.hooks.CreateFn = func(_ context.Context, a admin.Actor, url string, events []webhook.Type) (webhook.Endpoint, token.Secret, error) {
		checkActor(t, a)
		if url != "https://app.example.com/hooks" || !slices.Equal(events, []webhook.Type{webhook.UserCreated, webhook.UserDeleted}) {
			t.Errorf("create %q %v", url, events)
		}
		return webhook.Endpoint{ID: hookID, URL: url, Events: events, CreatedAt: t0}, "whsec_c2VjcmV0", nil
	}
	res, body := do(t, f.admin, adminReq("POST", "/admin/v1/webhooks", `{"url":"https://app.example.com/hooks","events":["user.created","user.deleted"]}`))
	m := decodeJSON(t, res, body, 201)
	w := m["webhook"].(map[string]any)
	if m["secret"] != "whsec_c2VjcmV0" || w["id"] != hookID.String() || w["url"] != "https://app.example.com/hooks" ||
		w["created_at"] != "2025-03-14T15:09:26Z" || len(w["events"].([]any)) != 2 || len(w) != 4 {
		t.Fatalf("body %s", body)
	}

	f.hooks.CreateFn = func(context.Context, admin.Actor, string, []webhook.Type) (webhook.Endpoint, token.Secret, error) {
		return webhook.Endpoint{}, "", domain.Validation(domain.FieldError{Field: "url", Code: "private_address", Message: "no"})
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/webhooks", `{"url":"http://10.0.0.1/","events":["user.created"]}`))
	if decodeJSON(t, res, body, 422)["code"] != "validation_failed" {
		t.Fatalf("refused: %s", body)
	}
}

func TestAdminWebhookRequestsRefusedBeforeTheUseCase(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // the stub's funcs are nil: a call would panic
	for _, body := range []string{
		`{"url":"https://x","events":["user.created"],"secret":"mine"}`, // unknown field
		`{"url":"https://x","events":"user.created"}`,                   // not a list
		`{"url":5,"events":[]}`,
	} {
		res, b := do(t, f.admin, adminReq("POST", "/admin/v1/webhooks", body))
		if res.StatusCode != 400 {
			t.Errorf("%s: status %d, body %s", body, res.StatusCode, b)
		}
	}
	for _, path := range []string{"/admin/v1/webhooks/nope", "/admin/v1/webhooks/nope/secret"} {
		method := "DELETE"
		if path != "/admin/v1/webhooks/nope" {
			method = "POST"
		}
		res, b := do(t, f.admin, adminReq(method, path, ""))
		if decodeJSON(t, res, b, 404)["code"] != "not_found" {
			t.Errorf("%s %s: %s", method, path, b)
		}
	}
}

func TestAdminWebhookRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.hooks.ListFn = func(context.Context) ([]appwebhook.View, error) {
		return []appwebhook.View{{
			Endpoint:       webhook.Endpoint{ID: hookID, URL: "https://app.example.com/hooks", Events: []webhook.Type{webhook.UserCreated}, CreatedAt: t0},
			RecentFailures: []webhook.Failure{{MessageID: "msg_1", Event: webhook.UserCreated, At: t0, Error: "503 Service Unavailable"}},
		}}, nil
	}
	res, body := do(t, f.admin, adminReq("GET", "/admin/v1/webhooks", ""))
	l, _ := decodeJSON(t, res, body, 200)["webhooks"].([]any)
	if len(l) != 1 {
		t.Fatalf("list body %s", body)
	}
	fails := l[0].(map[string]any)["recent_failures"].([]any)
	if len(fails) != 1 || fails[0].(map[string]any)["error"] != "503 Service Unavailable" || fails[0].(map[string]any)["message_id"] != "msg_1" {
		t.Errorf("list body %s", body)
	}

	f.hooks.DeleteFn = func(_ context.Context, a admin.Actor, id uuid.UUID) error {
		checkActor(t, a)
		if id != hookID {
			return webhook.ErrNotFound
		}
		return nil
	}
	if res, _ := do(t, f.admin, adminReq("DELETE", "/admin/v1/webhooks/"+hookID.String(), "")); res.StatusCode != 204 {
		t.Errorf("delete: %d", res.StatusCode)
	}
	res, body = do(t, f.admin, adminReq("DELETE", "/admin/v1/webhooks/"+uuid.NewString(), ""))
	if decodeJSON(t, res, body, 404)["code"] != "not_found" {
		t.Errorf("delete unknown: %s", body)
	}

	f.hooks.RotateSecretFn = func(_ context.Context, a admin.Actor, id uuid.UUID) (token.Secret, error) {
		checkActor(t, a)
		return "whsec_bmV3", nil
	}
	res, body = do(t, f.admin, adminReq("POST", "/admin/v1/webhooks/"+hookID.String()+"/secret", ""))
	if m := decodeJSON(t, res, body, 200); m["secret"] != "whsec_bmV3" || len(m) != 1 {
		t.Errorf("rotate: %s", body)
	}
}
