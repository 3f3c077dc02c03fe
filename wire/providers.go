// Package wire assembles Gatehouse at compile time with Google Wire: one
// provider set per concern, wire.Bind from concrete types to the app ports,
// and one injector per mode in wire.go (serve, the operators' commands).
// wire_gen.go is generated and committed.
//
// The store comes in opened, as one storage.Store whatever store it is;
// what startup decides (which store and mailer, where the secret key comes
// from, warnings, defaults) cmd decides before it calls an injector.
// Providers are plain constructors, so that leaving Wire would cost little.
package wire

import (
	"context"
	"fmt"
	nethttp "net/http"

	"github.com/gatehouse-auth/gatehouse/adapters/argon2id"
	"github.com/gatehouse-auth/gatehouse/adapters/commonpw"
	httpadapter "github.com/gatehouse-auth/gatehouse/adapters/http"
	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/adapters/logging"
	"github.com/gatehouse-auth/gatehouse/adapters/metrics"
	"github.com/gatehouse-auth/gatehouse/adapters/passhash"
	"github.com/gatehouse-auth/gatehouse/adapters/secretbox"
	"github.com/gatehouse-auth/gatehouse/adapters/strength"
	"github.com/gatehouse-auth/gatehouse/adapters/system"
	"github.com/gatehouse-auth/gatehouse/adapters/totp"
	upstreamadapter "github.com/gatehouse-auth/gatehouse/adapters/upstream"
	"github.com/gatehouse-auth/gatehouse/adapters/webauthn"
	webhookadapter "github.com/gatehouse-auth/gatehouse/adapters/webhook"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/maintenance"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/app/outbox"
	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	appupstream "github.com/gatehouse-auth/gatehouse/app/upstream"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/wire"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"go.uber.org/zap"
)

// Config is what the injector needs, already parsed, validated and shaped
// by cmd into the adapters' own configurations. Same-typed values have
// their own named types (session.RefreshTTL, ...).
type Config struct {
	PublicURL string
	// IssuerName is GATEHOUSE_APP_NAME when it is set: authenticator apps
	// list TOTP codes under it; "" = the public URL's host.
	IssuerName        string
	HTTP              httpadapter.Config // Requests is the metrics' (set here)
	JWT               jwt.Config
	Keys              keys.Config
	RefreshTTL        session.RefreshTTL
	IdleTimeout       session.IdleTimeout
	StepUpMaxAge      appmfa.StepUpMaxAge   // how long after a code a session may make sensitive changes without one
	RefreshReuseGrace app.RefreshReuseGrace // a rotated refresh token presented again this soon gets its successor
	VerificationTTL   account.VerificationTTL
	RequireVerified   app.RequireVerifiedEmail
	PasswordMinLength int
	Argon2            argon2id.Options // Observer is the metrics' (set here)
	// Firebase, when set, is the Firebase project whose scrypt hashes
	// users may be imported with.
	Firebase *passhash.Firebase
	Limits   limits.Policy
	Outbox   outbox.Config
	Webhooks appwebhook.Config
	// WebhookAllowPrivate lets webhook endpoints reach addresses that are
	// not public.
	WebhookAllowPrivate appwebhook.AllowPrivate
	Retention           maintenance.RetentionPeriod // ended sessions, tokens and sent mail are kept this long
	InviteTTL           admin.InviteTTL             // how long an invitation's set-password link works
	// Version is the binary's version, shown in the operators' status.
	Version admin.Version
	// WebAuthnRPID is GATEHOUSE_WEBAUTHN_RP_ID: the relying party id of
	// passkeys; "" = the public URL's host.
	WebAuthnRPID string
	// Upstream are the upstream sign-in providers
	// (GATEHOUSE_UPSTREAM_PROVIDERS_FILE, read and checked); none is
	// fine.
	Upstream []upstreamadapter.ProviderConfig
}

// Gatehouse is the assembled service.
type Gatehouse struct {
	HTTP     *fiber.App
	Admin    AdminHTTP
	Outbox   *outbox.Worker
	Webhooks *appwebhook.Worker
	Janitor  *maintenance.Janitor
	Keys     *keys.Ring // run it to follow key changes
}

// AdminHTTP is the admin listener's Fiber app (a type of its own, so that
// Wire tells it from the public one).
type AdminHTTP struct{ *fiber.App }

// Operator is what the command line's operator commands drive: the same
// use cases as the admin API.
type Operator struct {
	Users       *admin.Users
	Keys        *admin.Keys
	Audit       *admin.Audit
	Clients     *admin.Clients
	Webhooks    *appwebhook.Endpoints
	SigningKeys *keys.Ring
}

// SecretKey is the key that seals secrets at rest, as cmd found it.
type SecretKey []byte

// StoreSet is the opened store, whichever it is: its ports are the
// fields of storage.Store.
var StoreSet = wire.NewSet(
	wire.FieldsOf(new(*storage.Store), "Tx", "Repos", "Limiter", "Settings", "Retention", "AuditTrail", "Info", "Ready", "Conns", "Deliveries"),
	wire.FieldsOf(new(app.Repos), "Users", "Sessions", "Tokens", "Outbox", "Audit", "AdminKeys", "SigningKeys", "MFA", "Clients", "Grants", "Webhooks", "Passkeys", "Upstream"),
)

// SystemSet is the clock, ids and randomness.
var SystemSet = wire.NewSet(
	wire.Value(system.Clock{}),
	wire.Bind(new(app.Clock), new(system.Clock)),
	wire.Value(system.IDs{}),
	wire.Bind(new(app.IDGenerator), new(system.IDs)),
	system.Random,
)

// ProvideHasher builds the bounded argon2id hasher (obs hears how its
// slots are used) and the verifiers of imported hashes around it.
func ProvideHasher(cfg Config, obs argon2id.Observer) (*passhash.Hasher, error) {
	opts := cfg.Argon2
	opts.Observer = obs
	native, err := argon2id.New(opts)
	if err != nil {
		return nil, err
	}
	return passhash.New(native, cfg.Firebase)
}

// ProvidePolicy builds the password policy with the shipped common list
// and the guess estimator.
func ProvidePolicy(cfg Config, list *commonpw.List, est strength.Estimator) user.PasswordPolicy {
	return user.PasswordPolicy{MinLength: cfg.PasswordMinLength, IsCommon: list.Contains, Estimate: est.Estimate}
}

// PasswordSet is hashing and policy.
var PasswordSet = wire.NewSet(
	ProvideHasher,
	wire.Bind(new(app.PasswordHasher), new(*passhash.Hasher)),
	wire.Bind(new(app.ImportedHashChecker), new(*passhash.Hasher)),
	commonpw.New,
	strength.New,
	ProvidePolicy,
)

// ProvideSealer seals with the secret key, once it is known to be the key
// the stored secrets were sealed with (a wrong one stops startup).
func ProvideSealer(ctx context.Context, key SecretKey, settings keys.Settings, clock app.Clock) (app.Sealer, error) {
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	if err := keys.CheckSecretKey(ctx, settings, box, clock); err != nil {
		return nil, err
	}
	return box, nil
}

// ProvideRing builds the key ring and reads it once, so that the signer
// has its keys before anything is served.
func ProvideRing(ctx context.Context, kc keys.Config, tx app.TxManager, store app.SigningKeyRing, sealer app.Sealer, tokens keys.KeyInstaller, clock app.Clock, rep app.ErrorReporter) (*keys.Ring, error) {
	r := keys.NewRing(keys.RingDeps{Tx: tx, Store: store, Sealer: sealer, Tokens: tokens, Clock: clock, Reporter: rep, Config: kc})
	if err := r.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return r, nil
}

// TokenSet is access-token signing.
var TokenSet = wire.NewSet(
	ProvideSealer,
	wire.FieldsOf(new(Config), "JWT", "Keys"),
	jwt.NewWithoutKeys,
	wire.Bind(new(session.TokenIssuer), new(*jwt.Tokens)),
	wire.Bind(new(session.TokenVerifier), new(*jwt.Tokens)),
	wire.Bind(new(keys.KeyInstaller), new(*jwt.Tokens)),
	ProvideRing,
)

// ProvideLinks builds the mail links from the public URL.
func ProvideLinks(cfg Config) (app.Links, error) { return app.NewLinks(cfg.PublicURL) }

// LoggingSet is what tells operators of background failures and dropped
// mail (the logging observer is the metrics observer's next).
var LoggingSet = wire.NewSet(
	logging.NewReporter,
	wire.Bind(new(app.ErrorReporter), new(*logging.Reporter)),
	logging.NewObserver,
)

// ProvideObserver counts what the app layer reports, then logs it.
func ProvideObserver(m *metrics.Metrics, log *logging.Observer) *metrics.Observer {
	return metrics.NewObserver(m, log)
}

// ProvideMetricsHandler serves the registry on the admin listener.
func ProvideMetricsHandler(m *metrics.Metrics) nethttp.Handler { return m.Handler() }

// MetricsSet is the Prometheus registry, fed by the app layer (Observer),
// the hasher's slots and both HTTP apps, and served at the admin
// listener's /metrics. The store provides the pools.
var MetricsSet = wire.NewSet(
	metrics.New,
	ProvideObserver,
	wire.Bind(new(app.Observer), new(*metrics.Observer)),
	wire.Bind(new(argon2id.Observer), new(*metrics.Metrics)),
	wire.Bind(new(httpadapter.RequestObserver), new(*metrics.Metrics)),
	ProvideMetricsHandler,
)

// OperatorSet is the operators' use cases, which the command line runs on
// their own.
var OperatorSet = wire.NewSet(
	wire.FieldsOf(new(Config), "InviteTTL", "Limits"),
	LoggingSet,
	MetricsSet,
	ProvideLinks,
	limits.NewObservedGuard,
	admin.NewUsers, wire.Struct(new(admin.UsersDeps), "*"),
	admin.NewAudit,
	admin.NewKeys,
	admin.NewClients, wire.Struct(new(admin.ClientsDeps), "*"),
	WebhookSet,
	TokenSet,
)

// ProvideWebhookSender is the HTTP sender, refusing connections to
// addresses that are not public unless allowed.
func ProvideWebhookSender(cfg Config) *webhookadapter.Sender {
	return webhookadapter.NewSender(cfg.WebhookAllowPrivate)
}

// WebhookSet is the webhook endpoints' use cases and their adapters.
var WebhookSet = wire.NewSet(
	wire.FieldsOf(new(Config), "WebhookAllowPrivate"),
	wire.Value(webhookadapter.Resolver{}),
	wire.Bind(new(appwebhook.Resolver), new(webhookadapter.Resolver)),
	appwebhook.NewEndpoints, wire.Struct(new(appwebhook.EndpointsDeps), "*"),
)

// AppSet is the use cases.
var AppSet = wire.NewSet(
	wire.FieldsOf(new(Config), "RefreshTTL", "IdleTimeout", "StepUpMaxAge", "RefreshReuseGrace", "VerificationTTL", "RequireVerified", "Retention", "Version", "Outbox", "Webhooks"),
	OperatorSet,
	admin.NewStatus,
	limits.NewPasswordCheck,
	account.NewRegister, wire.Struct(new(account.RegisterDeps), "*"),
	account.NewDeleteAccount,
	account.NewChangeEmail, wire.Struct(new(account.ChangeEmailDeps), "*"),
	account.NewConfirmEmailChange,
	account.NewVerifyEmail,
	account.NewLinkState,
	account.NewResendVerification,
	session.NewLogin, wire.Struct(new(session.LoginDeps), "*"),
	session.NewRefresh, wire.Struct(new(session.RefreshDeps), "*"),
	session.NewLogout,
	session.NewRevoke,
	session.NewList,
	session.NewAuthenticate,
	wire.Bind(new(oauth.BrowserAuth), new(*session.Authenticate)),
	oauth.NewAuthorize, wire.Struct(new(oauth.AuthorizeDeps), "*"),
	oauth.NewExchange, wire.Struct(new(oauth.ExchangeDeps), "*"),
	oauth.NewClientAuth,
	oauth.NewClientToken,
	oauth.NewRevokeToken,
	oauth.NewIntrospect,
	oauth.NewEndSession,
	oauth.NewListConsents,
	oauth.NewRevokeConsent,
	wire.Bind(new(oauth.BearerAuth), new(*session.Authenticate)),
	wire.Bind(new(oauth.SessionEnder), new(*session.Logout)),
	password.NewForgot,
	password.NewReset,
	password.NewChange, wire.Struct(new(password.ChangeDeps), "*"),
	MFASet,
	PasskeySet,
	UpstreamSet,
	outbox.NewWorker, wire.Struct(new(outbox.WorkerDeps), "*"),
	ProvideWebhookSender,
	wire.Bind(new(appwebhook.Sender), new(*webhookadapter.Sender)),
	wire.Bind(new(appwebhook.Observer), new(*metrics.Observer)),
	appwebhook.NewWorker, wire.Struct(new(appwebhook.WorkerDeps), "*"),
	maintenance.NewJanitor,
)

// ProvideTOTP is the RFC 6238 code generator (github.com/pquerna/otp).
func ProvideTOTP() appmfa.TOTP { return totp.New() }

// ProvideIssuer names the service in otpauth:// URIs.
func ProvideIssuer(cfg Config, links app.Links) appmfa.Issuer {
	return appmfa.IssuerOf(cfg.IssuerName, links)
}

// MFASet is the second factor: its code checks, the enrollment use cases
// and the second login step. TOTP secrets are sealed by TokenSet's Sealer.
var MFASet = wire.NewSet(
	ProvideTOTP,
	ProvideIssuer,
	appmfa.NewVerifier,
	appmfa.NewAttempts,
	appmfa.NewStepUp,
	appmfa.NewStart, wire.Struct(new(appmfa.StartDeps), "*"),
	appmfa.NewConfirm, wire.Struct(new(appmfa.ConfirmDeps), "*"),
	appmfa.NewDisable, wire.Struct(new(appmfa.DisableDeps), "*"),
	appmfa.NewRegenerate,
	session.NewLoginMFA, wire.Struct(new(session.LoginMFADeps), "*"),
)

// ProvideRelyingParty is Gatehouse as a WebAuthn relying party: the id is
// GATEHOUSE_WEBAUTHN_RP_ID or the public URL's host, the one origin the
// public URL's, the name the one authenticator apps show for TOTP.
func ProvideRelyingParty(cfg Config, issuer appmfa.Issuer) (*webauthn.RelyingParty, error) {
	return webauthn.New(webauthn.Config{PublicURL: cfg.PublicURL, RPID: cfg.WebAuthnRPID, Name: string(issuer)})
}

// PasskeySet is passkeys: the WebAuthn relying party and the use cases of
// their ceremonies and management.
var PasskeySet = wire.NewSet(
	ProvideRelyingParty,
	wire.Bind(new(apppasskey.Ceremonies), new(*webauthn.RelyingParty)),
	wire.Struct(new(apppasskey.Deps), "*"),
	apppasskey.NewRegister,
	apppasskey.NewList,
	apppasskey.NewRename,
	apppasskey.NewDelete,
	apppasskey.NewLogin, wire.Struct(new(apppasskey.LoginDeps), "*"),
)

// ProvideUpstreamProviders is the upstream providers of the file, each
// with its redirect URI under the public URL.
func ProvideUpstreamProviders(cfg Config) *upstreamadapter.Providers {
	return upstreamadapter.New(cfg.Upstream, cfg.PublicURL, nil)
}

// UpstreamSet is upstream sign-in: the providers (x/oauth2 and go-oidc)
// and the use cases of the round trip and of the users' identities.
var UpstreamSet = wire.NewSet(
	ProvideUpstreamProviders,
	wire.Bind(new(appupstream.Providers), new(*upstreamadapter.Providers)),
	wire.Struct(new(appupstream.Deps), "*"),
	appupstream.NewSignIn, wire.Struct(new(appupstream.SignInDeps), "*"),
	appupstream.NewList,
	appupstream.NewUnlink,
)

// ProvideHTTP builds the Fiber app with every route.
func ProvideHTTP(cfg Config, log *zap.Logger, uc httpadapter.UseCases, reqs httpadapter.RequestObserver, rp *webauthn.RelyingParty) *fiber.App {
	hc := cfg.HTTP
	hc.Requests = reqs
	// The sign-in page offers passkeys when there is a relying party.
	hc.Pages.Passkeys = rp.Available()
	return httpadapter.NewServer(hc, log, uc)
}

// ProvideAdminHTTP builds the admin listener's Fiber app.
func ProvideAdminHTTP(cfg Config, log *zap.Logger, uc httpadapter.AdminUseCases, reqs httpadapter.RequestObserver) AdminHTTP {
	hc := cfg.HTTP
	hc.Requests = reqs
	return AdminHTTP{httpadapter.NewAdminServer(hc, log, uc)}
}

// HTTPSet is the HTTP adapter over the use cases: the public app and the
// admin app. The routes depend on one small interface per use case; each
// is bound to the use case of AppSet that provides it (Wire wants a
// binding in the set of its provider, so AppSet comes in here).
var HTTPSet = wire.NewSet(
	AppSet,
	wire.Struct(new(httpadapter.UseCases), "*"),
	wire.Bind(new(httpadapter.Register), new(*account.Register)),
	wire.Bind(new(httpadapter.VerifyEmail), new(*account.VerifyEmail)),
	wire.Bind(new(httpadapter.LinkState), new(*account.LinkState)),
	wire.Bind(new(httpadapter.ResendVerification), new(*account.ResendVerification)),
	wire.Bind(new(httpadapter.DeleteAccount), new(*account.DeleteAccount)),
	wire.Bind(new(httpadapter.ChangeEmail), new(*account.ChangeEmail)),
	wire.Bind(new(httpadapter.ConfirmEmail), new(*account.ConfirmEmailChange)),
	wire.Bind(new(httpadapter.Login), new(*session.Login)),
	wire.Bind(new(httpadapter.LoginMFA), new(*session.LoginMFA)),
	wire.Bind(new(httpadapter.Refresh), new(*session.Refresh)),
	wire.Bind(new(httpadapter.Logout), new(*session.Logout)),
	wire.Bind(new(httpadapter.Authenticate), new(*session.Authenticate)),
	wire.Bind(new(httpadapter.BrowserSessions), new(*session.Authenticate)),
	wire.Bind(new(httpadapter.ListSessions), new(*session.List)),
	wire.Bind(new(httpadapter.RevokeSession), new(*session.Revoke)),
	wire.Bind(new(httpadapter.ListConsents), new(*oauth.ListConsents)),
	wire.Bind(new(httpadapter.RevokeConsent), new(*oauth.RevokeConsent)),
	wire.Bind(new(httpadapter.Forgot), new(*password.Forgot)),
	wire.Bind(new(httpadapter.ResetPassword), new(*password.Reset)),
	wire.Bind(new(httpadapter.ChangePassword), new(*password.Change)),
	wire.Bind(new(httpadapter.MFAStart), new(*appmfa.Start)),
	wire.Bind(new(httpadapter.MFAConfirm), new(*appmfa.Confirm)),
	wire.Bind(new(httpadapter.MFADisable), new(*appmfa.Disable)),
	wire.Bind(new(httpadapter.MFARegenerate), new(*appmfa.Regenerate)),
	wire.Bind(new(httpadapter.PasskeyRegister), new(*apppasskey.Register)),
	wire.Bind(new(httpadapter.PasskeyList), new(*apppasskey.List)),
	wire.Bind(new(httpadapter.PasskeyRename), new(*apppasskey.Rename)),
	wire.Bind(new(httpadapter.PasskeyDelete), new(*apppasskey.Delete)),
	wire.Bind(new(httpadapter.PasskeyLogin), new(*apppasskey.Login)),
	wire.Bind(new(httpadapter.UpstreamSignIn), new(*appupstream.SignIn)),
	wire.Bind(new(httpadapter.IdentityList), new(*appupstream.List)),
	wire.Bind(new(httpadapter.IdentityUnlink), new(*appupstream.Unlink)),
	wire.Bind(new(httpadapter.IPLimiter), new(*limits.Guard)),
	wire.Bind(new(httpadapter.JWKSource), new(*jwt.Tokens)),
	wire.Bind(new(httpadapter.Authorizer), new(*oauth.Authorize)),
	wire.Bind(new(httpadapter.CodeExchanger), new(*oauth.Exchange)),
	wire.Bind(new(httpadapter.GrantRefresher), new(*session.Refresh)),
	wire.Bind(new(httpadapter.ClientAuthenticator), new(*oauth.ClientAuth)),
	wire.Bind(new(httpadapter.IDTokenSigner), new(*jwt.Tokens)),
	wire.Bind(new(httpadapter.ClientTokens), new(*oauth.ClientToken)),
	wire.Bind(new(httpadapter.TokenRevoker), new(*oauth.RevokeToken)),
	wire.Bind(new(httpadapter.Introspector), new(*oauth.Introspect)),
	wire.Bind(new(httpadapter.SessionEnder), new(*oauth.EndSession)),
	wire.Bind(new(oidc.KeySet), new(*jwt.Tokens)),
	ProvideHTTP,
	wire.Struct(new(httpadapter.AdminUseCases), "*"),
	wire.Bind(new(httpadapter.AdminUsers), new(*admin.Users)),
	wire.Bind(new(httpadapter.AdminAudit), new(*admin.Audit)),
	wire.Bind(new(httpadapter.AdminKeys), new(*admin.Keys)),
	wire.Bind(new(httpadapter.AdminStatus), new(*admin.Status)),
	wire.Bind(new(httpadapter.AdminClients), new(*admin.Clients)),
	wire.Bind(new(httpadapter.AdminWebhooks), new(*appwebhook.Endpoints)),
	ProvideAdminHTTP,
)
