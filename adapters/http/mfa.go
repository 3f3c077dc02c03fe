package http

import (
	"encoding/base64"

	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gofiber/fiber/v2"
)

// mfaRoutes registers the second login step and the signed-in user's
// management of the second factor. Every answer that shows a secret (the
// TOTP secret, recovery codes, tokens) is Cache-Control: no-store.
func mfaRoutes(v1 fiber.Router, uc UseCases, auth fiber.Handler) {
	v1.Post("/login/mfa", limitIP(uc.Guard, limits.LoginMFA), withJSON(func(c *fiber.Ctx, req *loginMFARequest) error {
		pair, err := uc.LoginMFA.Handle(c.UserContext(), session.LoginMFAInput{Token: req.MFAToken, Code: req.Code, Meta: meta(c)})
		if err != nil {
			return err
		}
		return renderPair(c, pair)
	}))
	v1.Post("/me/mfa/totp", auth, limitIP(uc.Guard, limits.Password), withJSON(func(c *fiber.Ctx, req *passwordRequest) error {
		e, err := uc.MFAStart.Handle(c.UserContext(), appmfa.StartInput{UserID: principal(c).UserID, Password: req.Password, Meta: meta(c)})
		if err != nil {
			return err
		}
		NoStore(c)
		return c.JSON(fiber.Map{"secret": e.Secret, "otpauth_uri": e.URI, "qr_png": base64.StdEncoding.EncodeToString(e.QRPNG)})
	}))
	v1.Post("/me/mfa/totp/confirm", auth, limitIP(uc.Guard, limits.Password), withJSON(func(c *fiber.Ctx, req *codeRequest) error {
		p := principal(c)
		codes, err := uc.MFAConfirm.Handle(c.UserContext(), p.UserID, p.SessionID, req.Code, meta(c))
		if err != nil {
			return err
		}
		return renderRecoveryCodes(c, codes)
	}))
	v1.Delete("/me/mfa/totp", auth, limitIP(uc.Guard, limits.Password), withJSON(func(c *fiber.Ctx, req *disableMFARequest) error {
		err := uc.MFADisable.Handle(c.UserContext(), appmfa.DisableInput{UserID: principal(c).UserID, Password: req.Password, Proof: proof(c, req.Code), Meta: meta(c)})
		if err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}))
	v1.Post("/me/mfa/recovery-codes", auth, limitIP(uc.Guard, limits.Password), withJSON(func(c *fiber.Ctx, req *stepUpRequest) error {
		codes, err := uc.MFARegenerate.Handle(c.UserContext(), principal(c).UserID, proof(c, req.Code), meta(c))
		if err != nil {
			return err
		}
		return renderRecoveryCodes(c, codes)
	}))
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

type disableMFARequest struct {
	Password string `json:"password" validate:"required,max=1024"`
	Code     string `json:"code" validate:"omitempty,max=64"`
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
	out := make([]string, len(codes))
	for i, code := range codes {
		out[i] = code.Reveal()
	}
	NoStore(c)
	return c.JSON(fiber.Map{"recovery_codes": out})
}

// meUserResponse is the signed-in user as /v1/me shows them: the public
// user and whether a second factor is on.
type meUserResponse struct {
	userResponse
	MFAEnabled bool `json:"mfa_enabled"`
}
