package http

import (
	"context"
	"encoding/base64"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The use cases of the second factor. LoginMFA is the second login step
// (the token of the first and a code); MFAConfirm turns TOTP on with a
// first code and hands out recovery codes.
type (
	LoginMFA interface {
		Handle(ctx context.Context, in session.LoginMFAInput) (*session.TokenPair, error)
	}
	MFAStart interface {
		Handle(ctx context.Context, in appmfa.StartInput) (appmfa.Enrollment, error)
	}
	MFAConfirm interface {
		Handle(ctx context.Context, userID, sessionID uuid.UUID, code string, meta app.RequestMeta) ([]mfa.RecoveryCode, error)
	}
	MFADisable interface {
		Handle(ctx context.Context, in appmfa.DisableInput) error
	}
	MFARegenerate interface {
		Handle(ctx context.Context, userID uuid.UUID, p appmfa.Proof, meta app.RequestMeta) ([]mfa.RecoveryCode, error)
	}
)

// registerMFARoutes registers the second login step and the signed-in
// user's management of the second factor. Every answer that shows a secret
// (the TOTP secret, recovery codes, tokens) is Cache-Control: no-store.
func (h *handlers) registerMFARoutes(v1 fiber.Router) {
	v1.Post("/login/mfa", h.limit(limits.LoginMFA), withJSON(h.handleLoginMFA))
	v1.Post("/me/mfa/totp", h.auth, h.limit(limits.Password), withJSON(h.handleMFAStart))
	v1.Post("/me/mfa/totp/confirm", h.auth, h.limit(limits.Password), withJSON(h.handleMFAConfirm))
	v1.Delete("/me/mfa/totp", h.auth, h.limit(limits.Password), withJSON(h.handleMFADisable))
	v1.Post("/me/mfa/recovery-codes", h.auth, h.limit(limits.Password), withJSON(h.handleMFARegenerate))
}

func (h *handlers) handleLoginMFA(c *fiber.Ctx, req *loginMFARequest) error {
	return reply(c, renderPair)(h.uc.LoginMFA.Handle(c.UserContext(), session.LoginMFAInput{Token: req.MFAToken, Code: req.Code, Meta: meta(c)}))
}

func (h *handlers) handleMFAStart(c *fiber.Ctx, req *passwordRequest) error {
	return reply(c, func(c *fiber.Ctx, e appmfa.Enrollment) error {
		NoStore(c)
		return c.JSON(fiber.Map{"secret": e.Secret, "otpauth_uri": e.URI, "qr_png": base64.StdEncoding.EncodeToString(e.QRPNG)})
	})(h.uc.MFAStart.Handle(c.UserContext(), appmfa.StartInput{UserID: principal(c).UserID, Password: req.Password, Meta: meta(c)}))
}

func (h *handlers) handleMFAConfirm(c *fiber.Ctx, req *codeRequest) error {
	p := principal(c)
	return reply(c, renderRecoveryCodes)(h.uc.MFAConfirm.Handle(c.UserContext(), p.UserID, p.SessionID, req.Code, meta(c)))
}

func (h *handlers) handleMFADisable(c *fiber.Ctx, req *passwordStepUpRequest) error {
	return noContent(c, h.uc.MFADisable.Handle(c.UserContext(), appmfa.DisableInput{UserID: principal(c).UserID, Password: req.Password, Proof: proof(c, req.Code), Meta: meta(c)}))
}

func (h *handlers) handleMFARegenerate(c *fiber.Ctx, req *stepUpRequest) error {
	return reply(c, renderRecoveryCodes)(h.uc.MFARegenerate.Handle(c.UserContext(), principal(c).UserID, proof(c, req.Code), meta(c)))
}

// passwordRequest is the body of the start of an MFA enrollment.
type passwordRequest struct {
	Password string `json:"password" validate:"required,max=1024"`
}

// Request bodies of the second factor. A code is a TOTP code (six digits,
// spaces allowed) or a recovery code (16 characters, dashes and spaces
// allowed); 64 characters leave room for either as typed.
type loginMFARequest struct {
	MFAToken string `json:"mfa_token" validate:"required,max=128"`
	Code     string `json:"code" validate:"required,max=64"`
}

type codeRequest struct {
	Code string `json:"code" validate:"required,max=64"`
}

// stepUpRequest is the body of new recovery codes: a code, which a
// session that proved a second factor recently may leave out (step-up).
type stepUpRequest struct {
	Code string `json:"code" validate:"omitempty,max=64"`
}

// mfaRequiredResponse is the answer of a right password on an account with
// MFA on: no token pair, only the token of the second step.
type mfaRequiredResponse struct {
	MFARequired bool   `json:"mfa_required"`
	MFAToken    string `json:"mfa_token"`
}

func renderLogin(c *fiber.Ctx, r *session.LoginResult) error {
	if r.MFARequired() {
		NoStore(c)
		return c.JSON(mfaRequiredResponse{MFARequired: true, MFAToken: r.MFAToken.Reveal()})
	}
	return renderPair(c, r.TokenPair)
}

func renderRecoveryCodes(c *fiber.Ctx, codes []mfa.RecoveryCode) error {
	NoStore(c)
	return c.JSON(fiber.Map{"recovery_codes": revealAll(codes)})
}
