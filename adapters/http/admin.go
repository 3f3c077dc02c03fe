package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/google/uuid"
	"go.uber.org/zap"
)

// AdminUseCases are what the admin listener's routes call.
type AdminUseCases struct {
	Users AdminUsers
	Audit AdminAudit
	Keys  AdminKeys
	// Clients registers the applications that sign users in.
	Clients AdminClients
	// Webhooks are the endpoints that hear of users and sessions.
	Webhooks AdminWebhooks
	// Status is the operators' status of the instance and its store.
	Status AdminStatus
	// Ready reports whether the database answers.
	Ready func(ctx context.Context) error
	// Metrics serves GET /metrics (the Prometheus text format); nil: no
	// such route.
	Metrics nethttp.Handler
}

// AdminUsers are an operator's reads and changes of accounts.
type AdminUsers interface {
	List(ctx context.Context, in admin.ListInput) ([]admin.UserView, string, error)
	Get(ctx context.Context, id uuid.UUID) (admin.UserView, error)
	Create(ctx context.Context, a admin.Actor, in admin.CreateInput) (admin.UserView, error)
	Update(ctx context.Context, a admin.Actor, id uuid.UUID, p admin.Patch) (admin.UserView, error)
	Delete(ctx context.Context, a admin.Actor, id uuid.UUID) error
	RevokeSessions(ctx context.Context, a admin.Actor, id uuid.UUID) (int, error)
	Unlock(ctx context.Context, a admin.Actor, id uuid.UUID) error
}

// AdminAudit reads the audit trail, newest first; AdminKeys answers the
// name of an admin key, or domain.ErrUnauthorized.
type (
	AdminAudit interface {
		Query(ctx context.Context, in admin.AuditInput) ([]audit.Record, string, error)
	}
	AdminKeys interface {
		Authenticate(ctx context.Context, presented string) (string, error)
	}
	AdminStatus interface {
		Get(ctx context.Context) (admin.StatusView, error)
	}
)

// NewAdminServer builds the admin listener's Fiber app: the same edge
// (problem+json errors, request ids, security headers, access log, body
// limit) as the public app, the probes, and /admin/v1 behind admin keys.
// The public app has none of these routes. CORS is always closed here
// (cfg.CORSOrigins is for the public API): the admin API is for operators
// and their scripts, not for browsers. Every answer is Cache-Control:
// no-store.
//
// Every route, the probes and /metrics included, answers only requests
// whose Host is the listener's own address, "localhost" or a name of
// cfg.Admin.Hosts (else 421): a web page whose name an attacker points at
// this address (DNS rebinding) gets nothing. /metrics needs a bearer
// (cfg.Admin.MetricsToken or an admin key) unless the listener is on
// loopback.
func NewAdminServer(cfg Config, log *zap.Logger, uc AdminUseCases) *fiber.App {
	cfg.CORSOrigins = nil
	a := NewApp(cfg, log)
	a.Use(hostCheck(newHostRule(cfg.Admin)), before(NoStore))
	adminRoutes(a, uc, metricsAuth(cfg.Admin, uc.Keys))
	Finish(a)
	return a
}

const actorKey = "gatehouse.admin_actor"

// errAdminUnauthorized is every refusal of an admin key. Its code is
// domain.ErrUnauthorized's, so the error handler adds WWW-Authenticate.
var errAdminUnauthorized = &domain.Error{Kind: domain.KindUnauthorized, Code: domain.ErrUnauthorized.Code, Message: "A valid admin key is required."}

// requireAdminKey authenticates an admin key; every refusal is the same
// 401 unauthorized.
func requireAdminKey(k AdminKeys) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, ok := bearerToken(c)
		if !ok {
			return errAdminUnauthorized
		}
		name, err := k.Authenticate(c.UserContext(), tok)
		if errors.Is(err, domain.ErrUnauthorized) {
			return errAdminUnauthorized
		} else if err != nil {
			return err // the store is down: 503, not a refusal
		}
		c.Locals(actorKey, admin.Actor{Name: name, Meta: meta(c)})
		return c.Next()
	}
}

func actor(c *fiber.Ctx) admin.Actor {
	a, _ := c.Locals(actorKey).(admin.Actor)
	return a
}

// adminHandlers are the admin API's routes, one method each.
type adminHandlers struct{ uc AdminUseCases }

// adminRoutes registers the probes and the admin API; scrapes of /metrics
// pass metricsGuard first.
func adminRoutes(a *fiber.App, uc AdminUseCases, metricsGuard fiber.Handler) {
	probes(a, uc.Ready)
	// Beside the probes and outside /admin/v1: a scraper carries the
	// metrics token (or an admin key) when the listener is off loopback.
	if uc.Metrics != nil {
		a.Get("/metrics", metricsGuard, serveHTTP(uc.Metrics))
	}

	h := adminHandlers{uc}
	v1 := a.Group("/admin/v1", requireAdminKey(uc.Keys))
	v1.Get("/status", h.handleStatus)
	v1.Get("/users", h.handleListUsers)
	v1.Post("/users", withJSON(h.handleCreateUser))
	v1.Get("/users/:id", h.handleGetUser)
	v1.Patch("/users/:id", withJSON(h.handleUpdateUser))
	v1.Delete("/users/:id", h.userAction(AdminUsers.Delete))
	v1.Delete("/users/:id/sessions", h.userAction(func(u AdminUsers, ctx context.Context, a admin.Actor, id uuid.UUID) error {
		_, err := u.RevokeSessions(ctx, a, id)
		return err
	}))
	v1.Post("/users/:id/unlock", h.userAction(AdminUsers.Unlock))
	v1.Get("/audit", h.handleAudit)
	registerClientRoutes(v1, h)
	registerWebhookRoutes(v1, h)
}

func (h adminHandlers) handleStatus(c *fiber.Ctx) error {
	return reply(c, func(c *fiber.Ctx, st admin.StatusView) error { return c.JSON(st) })(h.uc.Status.Get(c.UserContext()))
}

func (h adminHandlers) handleListUsers(c *fiber.Ctx) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	views, next, err := h.uc.Users.List(c.UserContext(), admin.ListInput{Email: strings.Clone(c.Query("email")), Cursor: strings.Clone(c.Query("cursor")), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"users": renderAll(views, RenderAdminUser), "next_cursor": nullable(next)})
}

func (h adminHandlers) handleCreateUser(c *fiber.Ctx, req *createUserRequest) error {
	in, err := req.input()
	if err != nil {
		return err
	}
	v, err := h.uc.Users.Create(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/admin/v1/users/" + v.User.ID().String())
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"user": RenderAdminUser(v)})
}

func (h adminHandlers) handleGetUser(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return reply(c, renderAdminUserBody)(h.uc.Users.Get(c.UserContext(), id))
}

func (h adminHandlers) handleUpdateUser(c *fiber.Ctx, req *patchUserRequest) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return reply(c, renderAdminUserBody)(h.uc.Users.Update(c.UserContext(), actor(c), id, admin.Patch{Disabled: req.Disabled, EmailVerified: req.EmailVerified, MFAEnabled: req.MFAEnabled}))
}

func renderAdminUserBody(c *fiber.Ctx, v admin.UserView) error {
	return c.JSON(fiber.Map{"user": RenderAdminUser(v)})
}

// userAction is a route that has the admin use case act on the user of the
// path, and answers 204.
func (h adminHandlers) userAction(act func(u AdminUsers, ctx context.Context, a admin.Actor, id uuid.UUID) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		return noContent(c, act(h.uc.Users, c.UserContext(), actor(c), id))
	}
}

func (h adminHandlers) handleAudit(c *fiber.Ctx) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	in := admin.AuditInput{Type: strings.Clone(c.Query("type")), Cursor: strings.Clone(c.Query("cursor")), Limit: limit}
	if raw := c.Query("user_id"); raw != "" {
		if in.UserID, err = uuid.Parse(raw); err != nil {
			return domain.InvalidRequest(domain.FieldError{Field: "user_id", Code: "invalid_id", Message: "user_id must be a user id (UUID)."})
		}
	}
	recs, next, err := h.uc.Audit.Query(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"events": renderAll(recs, renderAuditEvent), "next_cursor": nullable(next)})
}

// serveHTTP runs a net/http handler as a route. The handler's request
// context is the request's user context (with its deadline), not the
// fasthttp RequestCtx the adaptor would pass: a context derived from that
// one races with the server's shutdown.
func serveHTTP(h nethttp.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		return adaptor.HTTPHandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			h.ServeHTTP(w, r.WithContext(ctx))
		})(c)
	}
}

// pathID is the :id of the path (a user's, a session's); what is not a
// UUID names nothing (404).
func pathID(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return uuid.Nil, domain.ErrNotFound
	}
	return id, nil
}

// queryInt reads an optional integer query parameter: nil when absent,
// which the use cases take for the default; an explicit 0 is passed on,
// so that only absence means the default.
func queryInt(c *fiber.Ctx, name string) (*int, error) {
	raw := c.Query(name)
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(raw)
	switch {
	case errors.Is(err, strconv.ErrRange):
		n = -1 // far out of range: the use case says which range
	case err != nil:
		return nil, domain.InvalidRequest(domain.FieldError{Field: name, Code: "not_an_integer", Message: name + " must be an integer."})
	}
	return &n, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// createUserRequest is an operator's new account. Without password (or
// password_hash, a hash from another system) it is an invitation; either
// sent empty is refused rather than taken for one, so a script whose
// variable is unset does not invite by accident.
type createUserRequest struct {
	Email         string  `json:"email" validate:"required,max=320"`
	Password      *string `json:"password" validate:"omitnil,max=1024"`
	PasswordHash  *string `json:"password_hash" validate:"omitnil,max=4096"`
	EmailVerified bool    `json:"email_verified"`
}

func (r *createUserRequest) input() (admin.CreateInput, error) {
	in := admin.CreateInput{Email: r.Email, EmailVerified: r.EmailVerified}
	for _, f := range []struct {
		name  string
		given *string
		to    *string
	}{{"password", r.Password, &in.Password}, {"password_hash", r.PasswordHash, &in.PasswordHash}} {
		if f.given == nil {
			continue
		}
		if *f.given == "" {
			return in, domain.Validation(domain.FieldError{Field: f.name, Code: "empty", Message: "Leave " + f.name + " out to send an invitation; it cannot be empty."})
		}
		*f.to = *f.given
	}
	return in, nil
}

type patchUserRequest struct {
	Disabled      *bool `json:"disabled"`
	EmailVerified *bool `json:"email_verified"`
	MFAEnabled    *bool `json:"mfa_enabled"`
}

// AdminUser is a user as operators see it: in the admin API's answers and
// in the command line's (gatehouse users ... --json and its table).
type AdminUser struct {
	userResponse
	Disabled       bool       `json:"disabled"`
	Locked         bool       `json:"locked"`
	LastLoginAt    *time.Time `json:"last_login_at"`
	MFAEnabled     bool       `json:"mfa_enabled"`
	ActiveSessions int        `json:"active_sessions"`
}

// RenderAdminUser is the AdminUser of an admin use case's view.
func RenderAdminUser(v admin.UserView) AdminUser {
	var last *time.Time
	if t := v.User.LastLoginAt(); t != nil {
		u := t.UTC()
		last = &u
	}
	return AdminUser{
		userResponse: renderUser(v.User), Disabled: !v.User.Active(), Locked: v.Locked,
		LastLoginAt: last, MFAEnabled: v.MFAEnabled, ActiveSessions: v.ActiveSessions,
	}
}

type auditEventResponse struct {
	Seq        int64             `json:"seq"`
	Type       string            `json:"type"`
	UserID     *string           `json:"user_id"`
	IP         string            `json:"ip"`
	UserAgent  string            `json:"user_agent"`
	OccurredAt time.Time         `json:"occurred_at"`
	Detail     map[string]string `json:"detail"`
}

func renderAuditEvent(r audit.Record) auditEventResponse {
	e := r.Event
	out := auditEventResponse{Seq: r.Seq, Type: string(e.Type), IP: e.IP, UserAgent: e.UserAgent, OccurredAt: e.At.UTC(), Detail: e.Detail}
	if e.UserID != uuid.Nil {
		id := e.UserID.String()
		out.UserID = &id
	}
	if out.Detail == nil {
		out.Detail = map[string]string{}
	}
	return out
}
