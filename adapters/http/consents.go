package http

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gofiber/fiber/v2"
)

// The use cases of the signed-in user's consents: what they allowed the
// clients that ask, and taking it back.
type (
	ListConsents interface {
		Handle(ctx context.Context, p session.Principal) ([]oauth.ConsentView, error)
	}
	RevokeConsent interface {
		Handle(ctx context.Context, p session.Principal, clientID string, meta app.RequestMeta) error
	}
)

// registerConsentRoutes registers the signed-in user's consents.
func (h *handlers) registerConsentRoutes(v1 fiber.Router) {
	v1.Get("/me/consents", h.auth, h.handleListConsents)
	v1.Delete("/me/consents/:client_id", h.auth, h.handleRevokeConsent)
}

func (h *handlers) handleListConsents(c *fiber.Ctx) error {
	return reply(c, renderOwnList("consents", renderConsent))(h.uc.ListConsents.Handle(c.UserContext(), principal(c)))
}

func (h *handlers) handleRevokeConsent(c *fiber.Ctx) error {
	return noContent(c, h.uc.RevokeConsent.Handle(c.UserContext(), principal(c), clientID(c), meta(c)))
}

type consentResponse struct {
	ClientID string `json:"client_id"`
	// ClientName is null once the client was deleted.
	ClientName *string   `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
}

func renderConsent(v oauth.ConsentView) consentResponse {
	r := consentResponse{ClientID: v.Consent.ClientID, Scopes: v.Consent.Scopes, GrantedAt: v.Consent.GivenAt.UTC()}
	if r.Scopes == nil {
		r.Scopes = []string{}
	}
	if v.ClientName != "" {
		r.ClientName = &v.ClientName
	}
	return r
}
