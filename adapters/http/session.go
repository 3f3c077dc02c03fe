package http

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The use cases of sign-in and of the signed-in user's sessions. Login
// answers a token pair, or the token of the second step when MFA is on.
type (
	Login interface {
		Handle(ctx context.Context, in session.LoginInput) (*session.LoginResult, error)
	}
	Refresh interface {
		Handle(ctx context.Context, raw string, meta app.RequestMeta) (*session.TokenPair, error)
	}
	Logout interface {
		Handle(ctx context.Context, p session.Principal, meta app.RequestMeta) error
	}
	ListSessions interface {
		Handle(ctx context.Context, p session.Principal) ([]session.View, error)
	}
	RevokeSession interface {
		Handle(ctx context.Context, p session.Principal, id uuid.UUID, meta app.RequestMeta) error
	}
)

// registerSessionRoutes registers sign-in, refresh, sign-out and the
// signed-in user's sessions.
func (h *handlers) registerSessionRoutes(v1 fiber.Router) {
	v1.Post("/login", h.limit(limits.Login), withJSON(h.handleLogin))
	v1.Post("/token/refresh", h.limit(limits.Refresh), withJSON(h.handleRefresh))
	v1.Post("/logout", h.auth, h.handleLogout)
	v1.Get("/me/sessions", h.auth, h.handleListSessions)
	v1.Delete("/me/sessions/:id", h.auth, h.limit(limits.Password), h.handleRevokeSession)
}

func (h *handlers) handleLogin(c *fiber.Ctx, req *credentialsRequest) error {
	return reply(c, renderLogin)(h.uc.Login.Handle(c.UserContext(), session.LoginInput{Email: req.Email, Password: req.Password, Meta: meta(c)}))
}

func (h *handlers) handleRefresh(c *fiber.Ctx, req *refreshRequest) error {
	return reply(c, renderPair)(h.uc.Refresh.Handle(c.UserContext(), req.RefreshToken, meta(c)))
}

func (h *handlers) handleLogout(c *fiber.Ctx) error {
	return noContent(c, h.uc.Logout.Handle(c.UserContext(), principal(c), meta(c)))
}

func (h *handlers) handleListSessions(c *fiber.Ctx) error {
	return reply(c, renderOwnList("sessions", renderSession))(h.uc.ListSessions.Handle(c.UserContext(), principal(c)))
}

func (h *handlers) handleRevokeSession(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return noContent(c, h.uc.RevokeSession.Handle(c.UserContext(), principal(c), id, meta(c)))
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token" validate:"required,max=128"`
}

type sessionResponse struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
	// AMR and AuthTime: how, and when, the session last authenticated.
	AMR      []string  `json:"amr"`
	AuthTime time.Time `json:"auth_time"`
	// ClientID is the application a grant (a session of an OpenID Connect
	// client) belongs to; absent on any other session.
	ClientID string `json:"client_id,omitempty"`
}

func renderSession(v session.View) sessionResponse {
	s := v.Session
	return sessionResponse{
		ID: s.ID().String(), CreatedAt: s.CreatedAt().UTC(), LastUsedAt: s.LastUsedAt().UTC(), ExpiresAt: s.ExpiresAt().UTC(),
		UserAgent: s.UserAgent(), IP: s.IP(), Current: v.Current, AMR: s.AMR(), AuthTime: s.AuthTime().UTC(),
		ClientID: s.ClientID(),
	}
}
