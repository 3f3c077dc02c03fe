package http

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// AdminWebhooks are an operator's webhook endpoints.
type AdminWebhooks interface {
	Create(ctx context.Context, a admin.Actor, url string, events []webhook.Type) (webhook.Endpoint, token.Secret, error)
	List(ctx context.Context) ([]appwebhook.View, error)
	Delete(ctx context.Context, a admin.Actor, id uuid.UUID) error
	RotateSecret(ctx context.Context, a admin.Actor, id uuid.UUID) (token.Secret, error)
}

func registerWebhookRoutes(v1 fiber.Router, h adminHandlers) {
	v1.Get("/webhooks", h.handleListWebhooks)
	v1.Post("/webhooks", withJSON(h.handleCreateWebhook))
	v1.Delete("/webhooks/:id", h.handleDeleteWebhook)
	v1.Post("/webhooks/:id/secret", h.handleRotateWebhookSecret)
}

// webhookRequest is a new endpoint. The use case checks every value; the
// validate tags only bound the work before it does.
type webhookRequest struct {
	URL    string         `json:"url" validate:"max=2000"`
	Events []webhook.Type `json:"events" validate:"max=50,dive,max=100"`
}

func (h adminHandlers) handleCreateWebhook(c *fiber.Ctx, req *webhookRequest) error {
	e, secret, err := h.uc.Webhooks.Create(c.UserContext(), actor(c), req.URL, req.Events)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"webhook": RenderWebhook(appwebhook.View{Endpoint: e}).Webhook, "secret": secret.Reveal()})
}

func (h adminHandlers) handleListWebhooks(c *fiber.Ctx) error {
	return reply(c, func(c *fiber.Ctx, vs []appwebhook.View) error {
		return c.JSON(fiber.Map{"webhooks": renderAll(vs, RenderWebhook)})
	})(h.uc.Webhooks.List(c.UserContext()))
}

func (h adminHandlers) handleDeleteWebhook(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	return noContent(c, h.uc.Webhooks.Delete(c.UserContext(), actor(c), id))
}

func (h adminHandlers) handleRotateWebhookSecret(c *fiber.Ctx) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	return reply(c, func(c *fiber.Ctx, s token.Secret) error {
		return c.JSON(fiber.Map{"secret": s.Reveal()})
	})(h.uc.Webhooks.RotateSecret(c.UserContext(), actor(c), id))
}

// webhookID is the endpoint id of the path; one that is not a UUID names
// no endpoint.
func webhookID(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return uuid.Nil, webhook.ErrNotFound
	}
	return id, nil
}

// Webhook is an endpoint as operators see it: in the admin API's answers
// and in the command line's (gatehouse webhooks ... --json). Its secret
// is never part of it.
type Webhook struct {
	ID        uuid.UUID      `json:"id"`
	URL       string         `json:"url"`
	Events    []webhook.Type `json:"events"`
	CreatedAt time.Time      `json:"created_at"`
}

// WebhookFailure is a delivery whose last attempt failed.
type WebhookFailure struct {
	MessageID string       `json:"message_id"`
	Event     webhook.Type `json:"event"`
	At        time.Time    `json:"at"`
	Error     string       `json:"error"`
}

// WebhookView is a Webhook in the list: with its recent failures.
type WebhookView struct {
	Webhook
	RecentFailures []WebhookFailure `json:"recent_failures"`
}

// RenderWebhook is the WebhookView of an endpoint.
func RenderWebhook(v appwebhook.View) WebhookView {
	fs := make([]WebhookFailure, len(v.RecentFailures))
	for i, f := range v.RecentFailures {
		fs[i] = WebhookFailure{MessageID: f.MessageID, Event: f.Event, At: f.At.UTC(), Error: f.Error}
	}
	return WebhookView{
		Webhook:        Webhook{ID: v.ID, URL: v.URL, Events: nonNil(v.Events), CreatedAt: v.CreatedAt.UTC()},
		RecentFailures: fs,
	}
}
