package http

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The use cases of sign-up and of the signed-in user's account.
// VerifyEmail takes the password chosen at the registration that sent the
// link; ConfirmEmail signs out every session but keep.
type (
	Register interface {
		Handle(ctx context.Context, in account.RegisterInput) error
	}
	ResendVerification interface {
		Handle(ctx context.Context, rawEmail string) error
	}
	ChangeEmail interface {
		Handle(ctx context.Context, in account.ChangeEmailInput) error
	}
	VerifyEmail interface {
		Handle(ctx context.Context, raw, password string, meta app.RequestMeta) (*user.User, error)
	}
	DeleteAccount interface {
		Handle(ctx context.Context, userID uuid.UUID, password string, p appmfa.Proof, meta app.RequestMeta) error
	}
	ConfirmEmail interface {
		Handle(ctx context.Context, raw string, keep uuid.UUID, meta app.RequestMeta) (*user.User, error)
	}
)

// registerAccountRoutes registers sign-up, verification and the signed-in
// user's account.
func (h *handlers) registerAccountRoutes(v1 fiber.Router) {
	v1.Post("/register", h.limit(limits.Register), withJSON(h.handleRegister))
	v1.Post("/verify-email", h.limit(limits.VerifyEmail), withJSON(h.handleVerifyEmail))
	v1.Post("/verify-email/resend", h.limit(limits.Resend), withJSON(h.handleResendVerification))
	v1.Get("/me", h.auth, h.handleMe)
	v1.Delete("/me", h.auth, h.limit(limits.Password), withJSON(h.handleDeleteAccount))
	v1.Post("/me/email", h.auth, h.limit(limits.Password), withJSON(h.handleChangeEmail))
	// The link's token is the proof; a bearer is optional. When a valid one
	// comes with it, that session survives the change (every other one is
	// revoked); a missing or refused bearer is ignored, never a 401.
	v1.Post("/me/email/confirm", h.limit(limits.VerifyEmail), optionalAuth(h.uc.Authenticate), withJSON(h.handleConfirmEmail))
}

func (h *handlers) handleRegister(c *fiber.Ctx, req *credentialsRequest) error {
	in := account.RegisterInput{Email: req.Email, Password: req.Password, Meta: meta(c)}
	return accepted(c, h.uc.Register.Handle(c.UserContext(), in), "verification_sent")
}

func (h *handlers) handleVerifyEmail(c *fiber.Ctx, req *tokenPasswordRequest) error {
	return reply(c, renderUserBody)(h.uc.VerifyEmail.Handle(c.UserContext(), req.Token, req.Password, meta(c)))
}

func (h *handlers) handleResendVerification(c *fiber.Ctx, req *emailRequest) error {
	return accepted(c, h.uc.Resend.Handle(c.UserContext(), req.Email), "verification_sent")
}

// handleMe shows the signed-in user: the bearer check read the account and
// its second-factor state in its one query, so no other is made.
func (h *handlers) handleMe(c *fiber.Ctx) error {
	p := principal(c)
	NoStore(c)
	return c.JSON(fiber.Map{"user": meUserResponse{userResponse: renderUser(p.User), MFAEnabled: p.MFAEnabled}})
}

func (h *handlers) handleDeleteAccount(c *fiber.Ctx, req *passwordStepUpRequest) error {
	return noContent(c, h.uc.DeleteAccount.Handle(c.UserContext(), principal(c).UserID, req.Password, proof(c, req.Code), meta(c)))
}

func (h *handlers) handleChangeEmail(c *fiber.Ctx, req *changeEmailRequest) error {
	in := account.ChangeEmailInput{UserID: principal(c).UserID, NewEmail: req.NewEmail, Password: req.Password, Proof: proof(c, req.Code), Meta: meta(c)}
	return accepted(c, h.uc.ChangeEmail.Handle(c.UserContext(), in), "confirmation_sent")
}

func (h *handlers) handleConfirmEmail(c *fiber.Ctx, req *tokenRequest) error {
	return reply(c, renderUserBody)(h.uc.ConfirmEmail.Handle(c.UserContext(), req.Token, principal(c).SessionID, meta(c)))
}

// accepted answers err, or when nil the 202 of a request whose work goes
// on by mail: status says what was sent.
func accepted(c *fiber.Ctx, err error, status string) error {
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": status})
}

// reply answers the error of a use case, or when it is nil the result as
// render writes it: reply(c, render)(uc.Handle(...)).
func reply[T any](c *fiber.Ctx, render func(*fiber.Ctx, T) error) func(T, error) error {
	return func(v T, err error) error {
		if err != nil {
			return err
		}
		return render(c, v)
	}
}

// noContent answers err, or when nil 204.
func noContent(c *fiber.Ctx, err error) error {
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// renderUserBody answers {"user": u}, not to be cached.
func renderUserBody(c *fiber.Ctx, u *user.User) error {
	NoStore(c)
	return c.JSON(fiber.Map{"user": renderUser(u)})
}

// tokenRequest is the body of the email-change confirmation.
type tokenRequest struct {
	Token string `json:"token" validate:"required,max=128"`
}

// passwordStepUpRequest is the body of deleting the account and of
// turning MFA off. The sensitive changes take an optional code (see the
// second factor's request bodies): on an account with MFA on, it steps the
// request up when the session has not proved a second factor recently.
type passwordStepUpRequest struct {
	Password string `json:"password" validate:"required,max=1024"`
	Code     string `json:"code" validate:"omitempty,max=64"`
}

type changeEmailRequest struct {
	NewEmail string `json:"new_email" validate:"required,max=320"`
	Password string `json:"password" validate:"required,max=1024"`
	Code     string `json:"code" validate:"omitempty,max=64"`
}

// meUserResponse is the signed-in user as /v1/me shows them: the public
// user and whether a second factor is on.
type meUserResponse struct {
	userResponse
	MFAEnabled bool `json:"mfa_enabled"`
}
