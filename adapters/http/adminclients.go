package http

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gofiber/fiber/v2"
)

// AdminClients are an operator's registrations of the applications that
// sign users in.
type AdminClients interface {
	Create(ctx context.Context, a admin.Actor, s client.Settings) (*client.Client, token.Secret, error)
	List(ctx context.Context) ([]*client.Client, error)
	Get(ctx context.Context, id string) (*client.Client, error)
	Update(ctx context.Context, a admin.Actor, id string, s client.Settings) (*client.Client, error)
	Delete(ctx context.Context, a admin.Actor, id string) error
	RotateSecret(ctx context.Context, a admin.Actor, id string) (token.Secret, error)
}

func registerClientRoutes(v1 fiber.Router, h adminHandlers) {
	v1.Get("/clients", h.handleListClients)
	v1.Post("/clients", withJSON(h.handleCreateClient))
	v1.Get("/clients/:client_id", h.handleGetClient)
	v1.Patch("/clients/:client_id", withJSON(h.handleUpdateClient))
	v1.Delete("/clients/:client_id", h.handleDeleteClient)
	v1.Post("/clients/:client_id/secret", h.handleRotateClientSecret)
}

func clientID(c *fiber.Ctx) string { return strings.Clone(c.Params("client_id")) }

func (h adminHandlers) handleListClients(c *fiber.Ctx) error {
	return reply(c, func(c *fiber.Ctx, cs []*client.Client) error {
		return c.JSON(fiber.Map{"clients": renderAll(cs, RenderClient)})
	})(h.uc.Clients.List(c.UserContext()))
}

func (h adminHandlers) handleCreateClient(c *fiber.Ctx, req *clientRequest) error {
	cl, secret, err := h.uc.Clients.Create(c.UserContext(), actor(c), req.settings())
	if err != nil {
		return err
	}
	body := fiber.Map{"client": RenderClient(cl)}
	if secret != "" {
		body["client_secret"] = secret.Reveal()
	}
	c.Location("/admin/v1/clients/" + cl.ID)
	return c.Status(fiber.StatusCreated).JSON(body)
}

func (h adminHandlers) handleGetClient(c *fiber.Ctx) error {
	return reply(c, renderClientBody)(h.uc.Clients.Get(c.UserContext(), clientID(c)))
}

func (h adminHandlers) handleUpdateClient(c *fiber.Ctx, req *clientRequest) error {
	return reply(c, renderClientBody)(h.uc.Clients.Update(c.UserContext(), actor(c), clientID(c), req.settings()))
}

func (h adminHandlers) handleDeleteClient(c *fiber.Ctx) error {
	return noContent(c, h.uc.Clients.Delete(c.UserContext(), actor(c), clientID(c)))
}

func (h adminHandlers) handleRotateClientSecret(c *fiber.Ctx) error {
	return reply(c, func(c *fiber.Ctx, s token.Secret) error {
		return c.JSON(fiber.Map{"client_secret": s.Reveal()})
	})(h.uc.Clients.RotateSecret(c.UserContext(), actor(c), clientID(c)))
}

func renderClientBody(c *fiber.Ctx, cl *client.Client) error {
	return c.JSON(fiber.Map{"client": RenderClient(cl)})
}

// clientRequest is a registration (POST) or a change (PATCH: what is left
// out, or null, stays as it is). The domain checks every value; the
// validate tags only bound the work before it does.
type clientRequest struct {
	Name                   *string               `json:"name" validate:"omitnil,max=400"`
	Type                   *client.Type          `json:"type" validate:"omitnil,max=20"`
	RedirectURIs           *[]string             `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string             `json:"post_logout_redirect_uris"`
	GrantTypes             *[]client.Grant       `json:"grant_types"`
	Scopes                 *[]string             `json:"scopes"`
	Consent                *bool                 `json:"consent"`
	IDTokenAlg             *signingkey.Algorithm `json:"id_token_signed_response_alg" validate:"omitnil,max=20"`
}

func (r *clientRequest) settings() client.Settings {
	return client.Settings{
		Name: r.Name, Type: r.Type, RedirectURIs: r.RedirectURIs, PostLogoutRedirectURIs: r.PostLogoutRedirectURIs,
		GrantTypes: r.GrantTypes, Scopes: r.Scopes, Consent: r.Consent, IDTokenAlg: r.IDTokenAlg,
	}
}

// Client is a registered client as operators see it: in the admin API's
// answers and in the command line's (gatehouse clients ... --json). Its
// secret is never part of it.
type Client struct {
	ClientID                string               `json:"client_id"`
	Name                    string               `json:"name"`
	Type                    client.Type          `json:"type"`
	RedirectURIs            []string             `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string             `json:"post_logout_redirect_uris"`
	GrantTypes              []client.Grant       `json:"grant_types"`
	Scopes                  []string             `json:"scopes"`
	Consent                 bool                 `json:"consent"`
	IDTokenAlg              signingkey.Algorithm `json:"id_token_signed_response_alg"`
	TokenEndpointAuthMethod string               `json:"token_endpoint_auth_method"`
	CreatedAt               time.Time            `json:"created_at"`
	UpdatedAt               time.Time            `json:"updated_at"`
}

// RenderClient is the Client of a registration. token_endpoint_auth_method
// tells a relying party how to authenticate: client_secret_basic for a
// confidential client (client_secret_post is accepted too), none for a
// public one.
func RenderClient(c *client.Client) Client {
	method := "none"
	if c.Type == client.Confidential {
		method = "client_secret_basic"
	}
	return Client{
		ClientID: c.ID, Name: c.Name, Type: c.Type, RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes), Consent: c.Consent, IDTokenAlg: c.IDTokenAlg,
		TokenEndpointAuthMethod: method, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

// nonNil renders a missing list as [] rather than null.
func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}
