package http

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The use cases of passkeys: a signed-in user's registration (a begin
// and a finish naming the begin's challenge), list, rename and delete,
// and the sign-in with a discoverable passkey, whose finish answers as
// /v1/login does.
type (
	PasskeyRegister interface {
		Begin(ctx context.Context, userID uuid.UUID, p appmfa.Proof, meta app.RequestMeta) (apppasskey.Begun, error)
		Finish(ctx context.Context, in apppasskey.FinishInput) (*passkey.Credential, error)
	}
	PasskeyList interface {
		Handle(ctx context.Context, userID uuid.UUID) ([]*passkey.Credential, error)
	}
	PasskeyRename interface {
		Handle(ctx context.Context, userID, id uuid.UUID, name string) (*passkey.Credential, error)
	}
	PasskeyDelete interface {
		Handle(ctx context.Context, userID, id uuid.UUID, p appmfa.Proof, meta app.RequestMeta) error
	}
	PasskeyLogin interface {
		Begin(ctx context.Context) (apppasskey.Begun, error)
		Finish(ctx context.Context, in apppasskey.LoginInput) (*session.LoginResult, error)
	}
)

// registerPasskeyRoutes registers the passkey ceremonies and the
// signed-in user's passkeys. The sign-in's begin counts against its own
// per-IP limit (limits.PasskeyBegin), the finish against that of
// /v1/login; the registration against that of the other changes of a
// signed-in user's credentials.
func (h *handlers) registerPasskeyRoutes(v1 fiber.Router) {
	v1.Post("/login/passkey/begin", h.limit(limits.PasskeyBegin), h.handlePasskeyLoginBegin)
	v1.Post("/login/passkey/finish", h.limit(limits.Login), withJSON(h.handlePasskeyLoginFinish))
	v1.Post("/me/passkeys/register/begin", h.auth, firstParty, h.limit(limits.Password), h.handlePasskeyRegisterBegin)
	v1.Post("/me/passkeys/register/finish", h.auth, firstParty, h.limit(limits.Password), withJSON(h.handlePasskeyRegisterFinish))
	v1.Get("/me/passkeys", h.auth, h.handlePasskeyList)
	v1.Patch("/me/passkeys/:id", h.auth, firstParty, h.limit(limits.Password), withJSON(h.handlePasskeyRename))
	v1.Delete("/me/passkeys/:id", h.auth, firstParty, h.limit(limits.Password), h.handlePasskeyDelete)
}

// firstParty lets through a caller signed in to the account itself, not
// an application's token (session.Principal.FirstParty).
func firstParty(c *fiber.Ctx) error {
	if err := principal(c).FirstParty(); err != nil {
		return err
	}
	return c.Next()
}

func (h *handlers) handlePasskeyLoginBegin(c *fiber.Ctx) error {
	return reply(c, renderBegun)(h.uc.PasskeyLogin.Begin(c.UserContext()))
}

func (h *handlers) handlePasskeyLoginFinish(c *fiber.Ctx, req *passkeyLoginRequest) error {
	return reply(c, renderLogin)(h.uc.PasskeyLogin.Finish(c.UserContext(), apppasskey.LoginInput{
		ChallengeID: req.ChallengeID, Credential: req.Credential, Meta: meta(c),
	}))
}

func (h *handlers) handlePasskeyRegisterBegin(c *fiber.Ctx) error {
	code, err := stepUpCode(c)
	if err != nil {
		return err
	}
	return reply(c, renderBegun)(h.uc.PasskeyRegister.Begin(c.UserContext(), principal(c).UserID, proof(c, code), meta(c)))
}

func (h *handlers) handlePasskeyRegisterFinish(c *fiber.Ctx, req *passkeyRegisterRequest) error {
	return reply(c, func(c *fiber.Ctx, p *passkey.Credential) error {
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"passkey": renderPasskey(p)})
	})(h.uc.PasskeyRegister.Finish(c.UserContext(), apppasskey.FinishInput{
		UserID: principal(c).UserID, ChallengeID: req.ChallengeID, Name: req.Name, Credential: req.Credential, Meta: meta(c),
	}))
}

func (h *handlers) handlePasskeyList(c *fiber.Ctx) error {
	return reply(c, func(c *fiber.Ctx, ps []*passkey.Credential) error {
		return c.JSON(fiber.Map{"passkeys": renderAll(ps, renderPasskey)})
	})(h.uc.PasskeyList.Handle(c.UserContext(), principal(c).UserID))
}

func (h *handlers) handlePasskeyRename(c *fiber.Ctx, req *passkeyRenameRequest) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return reply(c, func(c *fiber.Ctx, p *passkey.Credential) error {
		return c.JSON(fiber.Map{"passkey": renderPasskey(p)})
	})(h.uc.PasskeyRename.Handle(c.UserContext(), principal(c).UserID, id, req.Name))
}

func (h *handlers) handlePasskeyDelete(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	code, err := stepUpCode(c)
	if err != nil {
		return err
	}
	return noContent(c, h.uc.PasskeyDelete.Handle(c.UserContext(), principal(c).UserID, id, proof(c, code), meta(c)))
}

// stepUpCode reads the optional body of a passkey's begin or delete: none,
// or a JSON object holding the code of the step-up ({"code": "123456"}),
// read as strictly as any JSON body.
func stepUpCode(c *fiber.Ctx) (string, error) {
	if len(bytes.TrimSpace(c.Request().Body())) == 0 {
		return "", nil
	}
	var req stepUpRequest
	if err := DecodeJSON(c, &req); err != nil {
		return "", err
	}
	return req.Code, nil
}

// Request bodies of passkeys. The credential is the authenticator's
// answer as a browser serializes it (PublicKeyCredential.toJSON()), an
// object the WebAuthn adapter reads; a challenge id is a UUID (36
// characters).
type (
	passkeyLoginRequest struct {
		ChallengeID string          `json:"challenge_id" validate:"required,max=64"`
		Credential  json.RawMessage `json:"credential" validate:"required"`
	}
	passkeyRegisterRequest struct {
		ChallengeID string          `json:"challenge_id" validate:"required,max=64"`
		Name        *string         `json:"name" validate:"omitempty,max=256"`
		Credential  json.RawMessage `json:"credential" validate:"required"`
	}
	passkeyRenameRequest struct {
		Name string `json:"name" validate:"required,max=256"`
	}
)

// renderBegun answers a ceremony's begin: the challenge's id and the
// options for the authenticator, as the WebAuthn library renders them.
func renderBegun(c *fiber.Ctx, b apppasskey.Begun) error {
	NoStore(c)
	return c.JSON(fiber.Map{"challenge_id": b.ChallengeID.String(), "options": b.Options})
}

type passkeyResponse struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func renderPasskey(p *passkey.Credential) passkeyResponse {
	r := passkeyResponse{ID: p.ID().String(), Name: strings.Clone(p.Name()), CreatedAt: p.CreatedAt().UTC()}
	if at := p.LastUsedAt(); at != nil {
		u := at.UTC()
		r.LastUsedAt = &u
	}
	return r
}
