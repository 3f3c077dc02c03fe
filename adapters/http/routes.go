package http

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"go.uber.org/zap"
)

// UseCases are what the routes call; the HTTP layer holds no logic of its
// own beyond decoding, rendering and per-IP throttling. Each field is the
// one need of a route, declared beside the routes that call it; the use
// cases of app/ satisfy them as they are.
type UseCases struct {
	Register      Register
	VerifyEmail   VerifyEmail
	LinkState     LinkState // what a mailed link's page shows on GET
	Resend        ResendVerification
	Login         Login
	LoginMFA      LoginMFA
	Refresh       Refresh
	Logout        Logout
	Authenticate  Authenticate
	Browser       BrowserSessions
	ListSessions  ListSessions
	RevokeSession RevokeSession
	ListConsents  ListConsents
	RevokeConsent RevokeConsent
	Forgot        Forgot
	Reset         ResetPassword
	Change        ChangePassword
	DeleteAccount DeleteAccount
	ChangeEmail   ChangeEmail
	ConfirmEmail  ConfirmEmail
	MFAStart      MFAStart
	MFAConfirm    MFAConfirm
	MFADisable    MFADisable
	MFARegenerate MFARegenerate
	// Passkeys.
	PasskeyRegister PasskeyRegister
	PasskeyList     PasskeyList
	PasskeyRename   PasskeyRename
	PasskeyDelete   PasskeyDelete
	PasskeyLogin    PasskeyLogin
	// Upstream sign-in, and the signed-in user's identities.
	Upstream   UpstreamSignIn
	Identities IdentityList
	Unlink     IdentityUnlink
	Guard      IPLimiter
	Tokens     JWKSource
	// The OpenID Connect provider.
	Authorize    Authorizer
	Exchange     CodeExchanger
	RefreshGrant GrantRefresher
	ClientAuth   ClientAuthenticator
	IDTokens     IDTokenSigner
	ClientTokens ClientTokens
	RevokeToken  TokenRevoker
	Introspect   Introspector
	EndSession   SessionEnder
	IDTokenKeys  oidc.KeySet
	// Ready reports whether the database answers.
	Ready func(ctx context.Context) error
}

// What every route may need: Authenticate reads the principal of a bearer
// access token (or refuses it), IPLimiter counts a request against the
// per-IP limit of its endpoint, JWKSource is the key set that verifies
// access tokens.
type (
	Authenticate interface {
		Handle(ctx context.Context, bearer string) (session.Principal, error)
	}
	IPLimiter interface {
		CheckIP(ctx context.Context, e limits.Endpoint, ip string) error
	}
	JWKSource interface{ JWKS() []byte }
)

// NewServer builds the Fiber app with every route.
func NewServer(cfg Config, log *zap.Logger, uc UseCases) *fiber.App {
	a := NewApp(cfg, log)
	cfg.Pages.SecureCookies = cfg.Pages.SecureCookies || cfg.https()
	cfg.Pages.Issuer = strings.TrimRight(strings.TrimSpace(cfg.PublicURL), "/")
	Routes(a, uc, cfg.Pages, cfg.Requests)
	Finish(a, newPageSite(cfg.Pages).notFound)
	return a
}

// handlers are the routes of the v1 API, one method each, grouped by
// resource (account.go, session.go, password.go, mfa.go, passkey.go,
// upstream.go).
type handlers struct {
	uc   UseCases
	auth fiber.Handler // requires a valid bearer
}

// Routes registers the API, the hosted pages (as pc configures them) and
// the probes.
func Routes(a *fiber.App, uc UseCases, pc PageConfig, obs RequestObserver) {
	probes(a, uc.Ready)
	a.Get("/.well-known/jwks.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(uc.Tokens.JWKS())
	})

	h := &handlers{uc: uc, auth: requireAuth(uc.Authenticate)}
	v1 := a.Group("/v1")
	h.registerAccountRoutes(v1)
	h.registerSessionRoutes(v1)
	h.registerConsentRoutes(v1)
	h.registerPasswordRoutes(v1)
	h.registerMFARoutes(v1)
	h.registerPasskeyRoutes(v1)
	h.registerIdentityRoutes(v1)
	registerAssets(a)
	registerPageRoutes(a, uc, pc)
	registerOIDCRoutes(a, uc, pc.Issuer, obs)
}

// limit counts the request against the per-IP limit of endpoint.
func (h *handlers) limit(e limits.Endpoint) fiber.Handler {
	return limitIP(h.uc.Guard, e, func(_ *fiber.Ctx, err error) error { return err })
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

// tokenPasswordRequest is the body of verify-email (the password chosen at
// the registration that sent the link) and of password reset (the new
// password).
type tokenPasswordRequest struct {
	Token    string `json:"token" validate:"required,max=128"`
	Password string `json:"password" validate:"required,max=1024"`
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

// renderAll renders each item of a list; an empty list is [], never null.
func renderAll[T, R any](items []T, render func(T) R) []R {
	out := make([]R, 0, len(items))
	for _, it := range items {
		out = append(out, render(it))
	}
	return out
}

// renderOwnList answers with what the signed-in user lists of their own,
// {key: [each item rendered]}, not to be cached.
func renderOwnList[T, R any](key string, render func(T) R) func(*fiber.Ctx, []T) error {
	return func(c *fiber.Ctx, items []T) error {
		NoStore(c)
		return c.JSON(fiber.Map{key: renderAll(items, render)})
	}
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

// limitIP counts the request against the per-IP limit of endpoint;
// refuse answers a request over it.
func limitIP(g IPLimiter, e limits.Endpoint, refuse func(c *fiber.Ctx, err error) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := g.CheckIP(c.UserContext(), e, ClientIP(c)); err != nil {
			return refuse(c, err)
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
func requireAuth(a Authenticate) fiber.Handler { return authenticate(a, false) }

// optionalAuth is requireAuth for a route that also serves anonymous
// callers: a valid bearer sets the principal; a missing, malformed or
// refused one leaves the zero principal (uuid.Nil ids) and the request
// goes on. Only a failure to check a presented token (the database down)
// fails the request, so a caller whose token is good is never treated as
// anonymous by accident.
func optionalAuth(a Authenticate) fiber.Handler { return authenticate(a, true) }

func authenticate(a Authenticate, optional bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var p session.Principal
		err := error(domain.ErrUnauthorized)
		if tok, ok := bearerToken(c); ok {
			p, err = a.Handle(c.UserContext(), tok)
		}
		switch {
		case err == nil:
			c.Locals(principalKey, p)
		case optional && kindOf(err) == domain.KindUnauthorized:
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
