package http

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.uber.org/zap"
)

// UseCases are what the routes call; the HTTP layer holds no logic of its
// own beyond decoding, rendering and per-IP throttling.
type UseCases struct {
	Register      *account.Register
	VerifyEmail   *account.VerifyEmail
	LinkState     *account.LinkState // what a mailed link's page shows on GET
	Resend        *account.ResendVerification
	Login         *session.Login
	LoginMFA      *session.LoginMFA
	Refresh       *session.Refresh
	Logout        *session.Logout
	Authenticate  *session.Authenticate
	ListSessions  *session.List
	RevokeSession *session.Revoke
	Forgot        *password.Forgot
	Reset         *password.Reset
	Change        *password.Change
	DeleteAccount *account.DeleteAccount
	ChangeEmail   *account.ChangeEmail
	ConfirmEmail  *account.ConfirmEmailChange
	MFAStart      *mfa.Start
	MFAConfirm    *mfa.Confirm
	MFADisable    *mfa.Disable
	MFARegenerate *mfa.Regenerate
	Guard         *limits.Guard
	Tokens        KeyPublisher
	// Ready reports whether the database answers.
	Ready func(ctx context.Context) error
}

// KeyPublisher publishes the public keys of the access tokens.
type KeyPublisher interface {
	// JWKS is the JSON Web Key Set document of the public keys.
	JWKS() []byte
}

// NewServer builds the Fiber app with every route.
func NewServer(cfg Config, log *zap.Logger, uc UseCases) *fiber.App {
	a := NewApp(cfg, log)
	Routes(a, uc, cfg.Pages)
	Finish(a, newPageSite(cfg.Pages).notFound)
	return a
}

// Routes registers the API, the hosted pages (as pc configures them) and
// the probes.
func Routes(a *fiber.App, uc UseCases, pc PageConfig) {
	probes(a, uc.Ready)
	a.Get("/.well-known/jwks.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(uc.Tokens.JWKS())
	})

	v1 := a.Group("/v1")
	v1.Post("/register", limitIP(uc.Guard, limits.Register), withJSON(func(c *fiber.Ctx, req *credentialsRequest) error {
		if err := uc.Register.Handle(c.UserContext(), account.RegisterInput{Email: req.Email, Password: req.Password, Meta: meta(c)}); err != nil {
			return err
		}
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "verification_sent"})
	}))
	v1.Post("/verify-email", limitIP(uc.Guard, limits.VerifyEmail), withJSON(func(c *fiber.Ctx, req *tokenPasswordRequest) error {
		u, err := uc.VerifyEmail.Handle(c.UserContext(), req.Token, req.Password, meta(c))
		if err != nil {
			return err
		}
		NoStore(c)
		return c.JSON(fiber.Map{"user": renderUser(u)})
	}))
	v1.Post("/verify-email/resend", limitIP(uc.Guard, limits.Resend), withJSON(func(c *fiber.Ctx, req *emailRequest) error {
		if err := uc.Resend.Handle(c.UserContext(), req.Email); err != nil {
			return err
		}
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "verification_sent"})
	}))
	v1.Post("/login", limitIP(uc.Guard, limits.Login), withJSON(func(c *fiber.Ctx, req *credentialsRequest) error {
		res, err := uc.Login.Handle(c.UserContext(), session.LoginInput{Email: req.Email, Password: req.Password, Meta: meta(c)})
		if err != nil {
			return err
		}
		return renderLogin(c, res)
	}))
	v1.Post("/token/refresh", limitIP(uc.Guard, limits.Refresh), withJSON(func(c *fiber.Ctx, req *refreshRequest) error {
		pair, err := uc.Refresh.Handle(c.UserContext(), req.RefreshToken, meta(c))
		if err != nil {
			return err
		}
		return renderPair(c, pair)
	}))
	v1.Post("/password/forgot", limitIP(uc.Guard, limits.Forgot), withJSON(func(c *fiber.Ctx, req *emailRequest) error {
		if err := uc.Forgot.Handle(c.UserContext(), req.Email); err != nil {
			return err
		}
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "reset_sent"})
	}))
	v1.Post("/password/reset", limitIP(uc.Guard, limits.Reset), withJSON(func(c *fiber.Ctx, req *tokenPasswordRequest) error {
		if err := uc.Reset.Handle(c.UserContext(), req.Token, req.Password, meta(c)); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}))

	auth := requireAuth(uc.Authenticate)
	v1.Post("/logout", auth, func(c *fiber.Ctx) error {
		if err := uc.Logout.Handle(c.UserContext(), principal(c), meta(c)); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	// The bearer check read the account and its second-factor state in
	// its one query; /v1/me shows them without another.
	v1.Get("/me", auth, func(c *fiber.Ctx) error {
		p := principal(c)
		NoStore(c)
		return c.JSON(fiber.Map{"user": meUserResponse{userResponse: renderUser(p.User), MFAEnabled: p.MFAEnabled}})
	})
	v1.Get("/me/sessions", auth, func(c *fiber.Ctx) error {
		views, err := uc.ListSessions.Handle(c.UserContext(), principal(c))
		if err != nil {
			return err
		}
		out := make([]sessionResponse, 0, len(views))
		for _, v := range views {
			out = append(out, renderSession(v))
		}
		NoStore(c)
		return c.JSON(fiber.Map{"sessions": out})
	})
	v1.Delete("/me/sessions/:id", auth, func(c *fiber.Ctx) error {
		id, err := uuid.Parse(c.Params("id"))
		if err != nil {
			return domain.ErrNotFound
		}
		if err := uc.RevokeSession.Handle(c.UserContext(), principal(c), id, meta(c)); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	mfaRoutes(v1, uc, auth)
	v1.Post("/me/password", auth, limitIP(uc.Guard, limits.Password), withJSON(func(c *fiber.Ctx, req *changePasswordRequest) error {
		p := principal(c)
		err := uc.Change.Handle(c.UserContext(), password.ChangeInput{
			UserID: p.UserID, SessionID: p.SessionID, CurrentPassword: req.CurrentPassword, NewPassword: req.NewPassword, Proof: proof(c, req.Code), Meta: meta(c),
		})
		if err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}))

	v1.Delete("/me", auth, limitIP(uc.Guard, limits.Password), withJSON(func(c *fiber.Ctx, req *deleteAccountRequest) error {
		if err := uc.DeleteAccount.Handle(c.UserContext(), principal(c).UserID, req.Password, proof(c, req.Code), meta(c)); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}))
	v1.Post("/me/email", auth, limitIP(uc.Guard, limits.Password), withJSON(func(c *fiber.Ctx, req *changeEmailRequest) error {
		err := uc.ChangeEmail.Handle(c.UserContext(), account.ChangeEmailInput{UserID: principal(c).UserID, NewEmail: req.NewEmail, Password: req.Password, Proof: proof(c, req.Code), Meta: meta(c)})
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "confirmation_sent"})
	}))
	// The link's token is the proof; a bearer is optional. When a valid one
	// comes with it, that session survives the change (every other one is
	// revoked); a missing or refused bearer is ignored, never a 401.
	v1.Post("/me/email/confirm", limitIP(uc.Guard, limits.VerifyEmail), optionalAuth(uc.Authenticate), withJSON(func(c *fiber.Ctx, req *tokenRequest) error {
		u, err := uc.ConfirmEmail.Handle(c.UserContext(), req.Token, principal(c).SessionID, meta(c))
		if err != nil {
			return err
		}
		NoStore(c)
		return c.JSON(fiber.Map{"user": renderUser(u)})
	}))

	pages(a, uc, pc)
}

// probes registers the liveness and readiness probes; ready reports
// whether the database answers.
func probes(a *fiber.App, ready func(ctx context.Context) error) {
	a.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	a.Get("/readyz", func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			return domain.Unavailable(err)
		}
		return c.JSON(fiber.Map{"status": "ready"})
	})
}

// withJSON decodes the JSON body into a fresh Req (strictly, see
// DecodeJSON) before fn runs.
func withJSON[Req any](fn func(c *fiber.Ctx, req *Req) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req Req
		if err := DecodeJSON(c, &req); err != nil {
			return err
		}
		return fn(c, &req)
	}
}

// Request bodies. Lengths (in characters) are bounded before any work, on
// top of the 8 KiB body limit: an email is at most 254 bytes once
// normalized (320 allows for surrounding space), a password at most 128
// code points after NFKC (1024 leaves room for forms that normalize
// shorter), a token 43 characters.
type credentialsRequest struct {
	Email    string `json:"email" validate:"required,max=320"`
	Password string `json:"password" validate:"required,max=1024"`
}

type emailRequest struct {
	Email string `json:"email" validate:"required,max=320"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token" validate:"required,max=128"`
}

// tokenPasswordRequest is the body of verify-email (the password chosen at
// the registration that sent the link) and of password reset (the new
// password).
type tokenPasswordRequest struct {
	Token    string `json:"token" validate:"required,max=128"`
	Password string `json:"password" validate:"required,max=1024"`
}

// tokenRequest is the body of the email-change confirmation.
type tokenRequest struct {
	Token string `json:"token" validate:"required,max=128"`
}

// passwordRequest is the body of the start of an MFA enrollment.
type passwordRequest struct {
	Password string `json:"password" validate:"required,max=1024"`
}

// The sensitive changes take an optional code (see the second factor's
// request bodies): on an account with MFA on, it steps the request up
// when the session has not proved a second factor recently.
type deleteAccountRequest struct {
	Password string `json:"password" validate:"required,max=1024"`
	Code     string `json:"code" validate:"omitempty,max=64"`
}

type changeEmailRequest struct {
	NewEmail string `json:"new_email" validate:"required,max=320"`
	Password string `json:"password" validate:"required,max=1024"`
	Code     string `json:"code" validate:"omitempty,max=64"`
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password" validate:"required,max=1024"`
	NewPassword     string `json:"new_password" validate:"required,max=1024"`
	Code            string `json:"code" validate:"omitempty,max=64"`
}

type userResponse struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
}

func renderUser(u *user.User) userResponse {
	return userResponse{ID: u.ID().String(), Email: u.Email().String(), EmailVerified: u.Verified(), CreatedAt: u.CreatedAt().UTC()}
}

type tokenPairResponse struct {
	AccessToken  string       `json:"access_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    int64        `json:"expires_in"`
	RefreshToken string       `json:"refresh_token"`
	User         userResponse `json:"user"`
}

func renderPair(c *fiber.Ctx, p *session.TokenPair) error {
	NoStore(c)
	return c.JSON(tokenPairResponse{
		AccessToken: p.AccessToken, TokenType: "Bearer", ExpiresIn: int64(p.ExpiresIn / time.Second),
		RefreshToken: p.RefreshToken.Reveal(), User: renderUser(p.User),
	})
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
}

func renderSession(v session.View) sessionResponse {
	s := v.Session
	return sessionResponse{
		ID: s.ID().String(), CreatedAt: s.CreatedAt().UTC(), LastUsedAt: s.LastUsedAt().UTC(), ExpiresAt: s.ExpiresAt().UTC(),
		UserAgent: s.UserAgent(), IP: s.IP(), Current: v.Current, AMR: s.AMR(), AuthTime: s.AuthTime().UTC(),
	}
}

// maxUserAgent bounds what is stored of a User-Agent header.
const maxUserAgent = 256

// meta copies what use cases need of the request; Fiber's strings point
// into reused buffers, so they are copied.
func meta(c *fiber.Ctx) app.RequestMeta {
	ua := c.Get(fiber.HeaderUserAgent)
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	ua = strings.ToValidUTF8(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, ua), "")
	return app.RequestMeta{IP: strings.Clone(ClientIP(c)), UserAgent: strings.Clone(ua)}
}

// limitIP counts the request against the per-IP limit of endpoint.
func limitIP(g *limits.Guard, e limits.Endpoint) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := g.CheckIP(c.UserContext(), e, ClientIP(c)); err != nil {
			return err
		}
		return c.Next()
	}
}

const principalKey = "gatehouse.principal"

// bearerToken is the token of an "Authorization: Bearer" header, bounded
// in length.
func bearerToken(c *fiber.Ctx) (string, bool) {
	scheme, tok, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 4096 {
		return "", false
	}
	return tok, true
}

// requireAuth verifies the bearer token and the liveness of its session.
func requireAuth(a *session.Authenticate) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, ok := bearerToken(c)
		if !ok {
			return domain.ErrUnauthorized
		}
		p, err := a.Handle(c.UserContext(), tok)
		if err != nil {
			return err
		}
		c.Locals(principalKey, p)
		return c.Next()
	}
}

// optionalAuth is requireAuth for a route that also serves anonymous
// callers: a valid bearer sets the principal; a missing, malformed or
// refused one leaves the zero principal (uuid.Nil ids) and the request
// goes on. Only a failure to check a presented token (the database down)
// fails the request, so a caller whose token is good is never treated as
// anonymous by accident.
func optionalAuth(a *session.Authenticate) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, ok := bearerToken(c)
		if !ok {
			return c.Next()
		}
		p, err := a.Handle(c.UserContext(), tok)
		var de *domain.Error
		switch {
		case err == nil:
			c.Locals(principalKey, p)
		case errors.As(err, &de) && de.Kind == domain.KindUnauthorized:
			// Refused: go on as an anonymous caller.
		default:
			return err
		}
		return c.Next()
	}
}

func principal(c *fiber.Ctx) session.Principal {
	p, _ := c.Locals(principalKey).(session.Principal)
	return p
}

// proof is what a request to a sensitive change brings for the step-up of
// an account with MFA on: the caller's session and the code of the body.
func proof(c *fiber.Ctx, code string) mfa.Proof {
	return mfa.Proof{Session: principal(c).Session, Code: code}
}
