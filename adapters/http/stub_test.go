package http

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Stubs of the use cases the routes call: each method runs its func field,
// so a test says what the use case answers and sees what it was asked. A
// stub whose field is nil panics when called, which the app answers 500:
// a route that must not reach its use case leaves the field nil.

type stubVerifyEmail struct {
	HandleFn func(ctx context.Context, raw, password string, meta app.RequestMeta) (*user.User, error)
}

func (s *stubVerifyEmail) Handle(ctx context.Context, raw, password string, meta app.RequestMeta) (*user.User, error) {
	return s.HandleFn(ctx, raw, password, meta)
}

type stubLinkState struct {
	LiveFn func(ctx context.Context, raw string, purpose token.Purpose) (bool, error)
}

func (s *stubLinkState) Live(ctx context.Context, raw string, purpose token.Purpose) (bool, error) {
	return s.LiveFn(ctx, raw, purpose)
}

func (s *stubLinkState) VerifyNeedsPassword(context.Context, string) bool { return true }

// stubDo stands for a use case of one input and no result, stubCall for
// one of one input and a result.
type (
	stubDo[In any] struct {
		HandleFn func(ctx context.Context, in In) error
	}
	stubCall[In, Out any] struct {
		HandleFn func(ctx context.Context, in In) (Out, error)
	}
)

func (s *stubDo[In]) Handle(ctx context.Context, in In) error {
	return s.HandleFn(ctx, in)
}

func (s *stubCall[In, Out]) Handle(ctx context.Context, in In) (Out, error) {
	return s.HandleFn(ctx, in)
}

// The use cases of that shape; stubMailByAddress stands for Forgot and
// ResendVerification.
type (
	stubMailByAddress  = stubDo[string]
	stubChangeEmail    = stubDo[account.ChangeEmailInput]
	stubChangePassword = stubDo[password.ChangeInput]
	stubMFADisable     = stubDo[appmfa.DisableInput]
	stubAuthenticate   = stubCall[string, session.Principal]
	stubLoginMFA       = stubCall[session.LoginMFAInput, *session.TokenPair]
	stubMFAStart       = stubCall[appmfa.StartInput, appmfa.Enrollment]
	stubListSessions   = stubCall[session.Principal, []session.View]
	stubListConsents   = stubCall[session.Principal, []oauth.ConsentView]
)

type stubRevokeConsent struct {
	HandleFn func(ctx context.Context, p session.Principal, clientID string, meta app.RequestMeta) error
}

func (s *stubRevokeConsent) Handle(ctx context.Context, p session.Principal, clientID string, meta app.RequestMeta) error {
	return s.HandleFn(ctx, p, clientID, meta)
}

type stubDeleteAccount struct {
	HandleFn func(ctx context.Context, userID uuid.UUID, password string, p appmfa.Proof, meta app.RequestMeta) error
}

func (s *stubDeleteAccount) Handle(ctx context.Context, userID uuid.UUID, password string, p appmfa.Proof, meta app.RequestMeta) error {
	return s.HandleFn(ctx, userID, password, p, meta)
}

type stubConfirmEmail struct {
	HandleFn func(ctx context.Context, raw string, keep uuid.UUID, meta app.RequestMeta) (*user.User, error)
}

func (s *stubConfirmEmail) Handle(ctx context.Context, raw string, keep uuid.UUID, meta app.RequestMeta) (*user.User, error) {
	return s.HandleFn(ctx, raw, keep, meta)
}

type stubResetPassword struct {
	HandleFn func(ctx context.Context, raw, newPassword string, meta app.RequestMeta) error
}

func (s *stubResetPassword) Handle(ctx context.Context, raw, newPassword string, meta app.RequestMeta) error {
	return s.HandleFn(ctx, raw, newPassword, meta)
}

type stubMFAConfirm struct {
	HandleFn func(ctx context.Context, userID, sessionID uuid.UUID, code string, meta app.RequestMeta) ([]mfa.RecoveryCode, error)
}

func (s *stubMFAConfirm) Handle(ctx context.Context, userID, sessionID uuid.UUID, code string, meta app.RequestMeta) ([]mfa.RecoveryCode, error) {
	return s.HandleFn(ctx, userID, sessionID, code, meta)
}

type stubMFARegenerate struct {
	HandleFn func(ctx context.Context, userID uuid.UUID, p appmfa.Proof, meta app.RequestMeta) ([]mfa.RecoveryCode, error)
}

func (s *stubMFARegenerate) Handle(ctx context.Context, userID uuid.UUID, p appmfa.Proof, meta app.RequestMeta) ([]mfa.RecoveryCode, error) {
	return s.HandleFn(ctx, userID, p, meta)
}

// stubIPLimiter lets every request through while CheckIPFn is nil.
type stubIPLimiter struct {
	CheckIPFn func(ctx context.Context, e limits.Endpoint, ip string) error
}

func (s *stubIPLimiter) CheckIP(ctx context.Context, e limits.Endpoint, ip string) error {
	if s.CheckIPFn == nil {
		return nil
	}
	return s.CheckIPFn(ctx, e, ip)
}

type stubAdminUsers struct {
	ListFn           func(ctx context.Context, in admin.ListInput) ([]admin.UserView, string, error)
	GetFn            func(ctx context.Context, id uuid.UUID) (admin.UserView, error)
	CreateFn         func(ctx context.Context, a admin.Actor, in admin.CreateInput) (admin.UserView, error)
	UpdateFn         func(ctx context.Context, a admin.Actor, id uuid.UUID, p admin.Patch) (admin.UserView, error)
	DeleteFn         func(ctx context.Context, a admin.Actor, id uuid.UUID) error
	RevokeSessionsFn func(ctx context.Context, a admin.Actor, id uuid.UUID) (int, error)
	UnlockFn         func(ctx context.Context, a admin.Actor, id uuid.UUID) error
}

func (s *stubAdminUsers) List(ctx context.Context, in admin.ListInput) ([]admin.UserView, string, error) {
	return s.ListFn(ctx, in)
}

func (s *stubAdminUsers) Get(ctx context.Context, id uuid.UUID) (admin.UserView, error) {
	return s.GetFn(ctx, id)
}

func (s *stubAdminUsers) Create(ctx context.Context, a admin.Actor, in admin.CreateInput) (admin.UserView, error) {
	return s.CreateFn(ctx, a, in)
}

func (s *stubAdminUsers) Update(ctx context.Context, a admin.Actor, id uuid.UUID, p admin.Patch) (admin.UserView, error) {
	return s.UpdateFn(ctx, a, id, p)
}

func (s *stubAdminUsers) Delete(ctx context.Context, a admin.Actor, id uuid.UUID) error {
	return s.DeleteFn(ctx, a, id)
}

func (s *stubAdminUsers) RevokeSessions(ctx context.Context, a admin.Actor, id uuid.UUID) (int, error) {
	return s.RevokeSessionsFn(ctx, a, id)
}

func (s *stubAdminUsers) Unlock(ctx context.Context, a admin.Actor, id uuid.UUID) error {
	return s.UnlockFn(ctx, a, id)
}

type stubAdminAudit struct {
	QueryFn func(ctx context.Context, in admin.AuditInput) ([]audit.Record, string, error)
}

func (s *stubAdminAudit) Query(ctx context.Context, in admin.AuditInput) ([]audit.Record, string, error) {
	return s.QueryFn(ctx, in)
}

type stubAdminKeys struct {
	AuthenticateFn func(ctx context.Context, presented string) (string, error)
}

func (s *stubAdminKeys) Authenticate(ctx context.Context, presented string) (string, error) {
	return s.AuthenticateFn(ctx, presented)
}

// The OpenID Connect provider's use cases.

type stubAuthorizer struct {
	ClientFn   func(ctx context.Context, clientID, redirectURI string) (*client.Client, error)
	BeginFn    func(ctx context.Context, c *client.Client, in oauth.AuthorizeInput) (*oauth.Outcome, error)
	ContinueFn func(ctx context.Context, requestID uuid.UUID, browser string, meta app.RequestMeta) (*oauth.Outcome, error)
	ConsentFn  func(ctx context.Context, requestID uuid.UUID, browser string, allow bool, meta app.RequestMeta) (*oauth.Outcome, error)
}

func (s *stubAuthorizer) Client(ctx context.Context, clientID, redirectURI string) (*client.Client, error) {
	return s.ClientFn(ctx, clientID, redirectURI)
}

func (s *stubAuthorizer) Begin(ctx context.Context, c *client.Client, in oauth.AuthorizeInput) (*oauth.Outcome, error) {
	return s.BeginFn(ctx, c, in)
}

func (s *stubAuthorizer) Continue(ctx context.Context, requestID uuid.UUID, browser string, meta app.RequestMeta) (*oauth.Outcome, error) {
	return s.ContinueFn(ctx, requestID, browser, meta)
}

func (s *stubAuthorizer) Consent(ctx context.Context, requestID uuid.UUID, browser string, allow bool, meta app.RequestMeta) (*oauth.Outcome, error) {
	return s.ConsentFn(ctx, requestID, browser, allow, meta)
}

type stubExchange = stubCall[oauth.ExchangeInput, *oauth.Grant]

type stubGrantRefresher struct {
	GrantFn func(ctx context.Context, clientID, raw string, meta app.RequestMeta) (*session.TokenPair, error)
}

func (s *stubGrantRefresher) Grant(ctx context.Context, clientID, raw string, meta app.RequestMeta) (*session.TokenPair, error) {
	return s.GrantFn(ctx, clientID, raw, meta)
}

type stubClientAuth struct {
	HandleFn func(ctx context.Context, clientID, secret string, meta app.RequestMeta) (*client.Client, error)
}

func (s *stubClientAuth) Handle(ctx context.Context, clientID, secret string, meta app.RequestMeta) (*client.Client, error) {
	return s.HandleFn(ctx, clientID, secret, meta)
}

type stubIDTokens struct {
	SignJWTFn func(alg signingkey.Algorithm, claims any) (string, error)
}

func (s *stubIDTokens) SignJWT(alg signingkey.Algorithm, claims any) (string, error) {
	return s.SignJWTFn(alg, claims)
}
