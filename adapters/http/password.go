package http

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gofiber/fiber/v2"
)

// The use cases of the password. ResetPassword takes the token of a reset
// or of an invitation link.
type (
	Forgot interface {
		Handle(ctx context.Context, rawEmail string) error
	}
	ResetPassword interface {
		Handle(ctx context.Context, raw, newPassword string, meta app.RequestMeta) error
	}
	ChangePassword interface {
		Handle(ctx context.Context, in password.ChangeInput) error
	}
)

// registerPasswordRoutes registers the reset by mail and the signed-in
// user's change of password.
func (h *handlers) registerPasswordRoutes(v1 fiber.Router) {
	v1.Post("/password/forgot", h.limit(limits.Forgot), withJSON(h.handleForgot))
	v1.Post("/password/reset", h.limit(limits.Reset), withJSON(h.handleReset))
	v1.Post("/me/password", h.auth, h.limit(limits.Password), withJSON(h.handleChangePassword))
}

func (h *handlers) handleForgot(c *fiber.Ctx, req *emailRequest) error {
	return accepted(c, h.uc.Forgot.Handle(c.UserContext(), req.Email), "reset_sent")
}

func (h *handlers) handleReset(c *fiber.Ctx, req *tokenPasswordRequest) error {
	return noContent(c, h.uc.Reset.Handle(c.UserContext(), req.Token, req.Password, meta(c)))
}

func (h *handlers) handleChangePassword(c *fiber.Ctx, req *changePasswordRequest) error {
	p := principal(c)
	in := password.ChangeInput{
		UserID: p.UserID, SessionID: p.SessionID, CurrentPassword: req.CurrentPassword, NewPassword: req.NewPassword, Proof: proof(c, req.Code), Meta: meta(c),
	}
	return noContent(c, h.uc.Change.Handle(c.UserContext(), in))
}

// changePasswordRequest takes the optional step-up code of the sensitive
// changes (see passwordStepUpRequest).
type changePasswordRequest struct {
	CurrentPassword string `json:"current_password" validate:"required,max=1024"`
	NewPassword     string `json:"new_password" validate:"required,max=1024"`
	Code            string `json:"code" validate:"omitempty,max=64"`
}
