// Package wire assembles Gatehouse at compile time with Google Wire: one
// provider set per adapter, wire.Bind from concrete types to the app ports,
// and the injector in wire.go. wire_gen.go is generated and committed.
//
// Providers are plain constructors, so that leaving Wire would cost little.
package wire

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/argon2id"
	"github.com/gatehouse-auth/gatehouse/adapters/commonpw"
	httpadapter "github.com/gatehouse-auth/gatehouse/adapters/http"
	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/adapters/logging"
	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
	"github.com/gatehouse-auth/gatehouse/adapters/metrics"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/secretbox"
	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/adapters/strength"
	"github.com/gatehouse-auth/gatehouse/adapters/system"
	"github.com/gatehouse-auth/gatehouse/adapters/totp"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/maintenance"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/outbox"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gofiber/fiber/v2"
	"github.com/google/wire"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// Config is what the injector needs, already parsed and validated by cmd.
// Same-typed values have their own named types (session.RefreshTTL, ...).
type Config struct {
	DatabaseURL string // PostgreSQL (BuildPostgres)
	SQLitePath  string // the embedded store's file (BuildSQLite)
	MailDir     string // where mail is written without SMTP
	PublicURL   string
	AppName     string // names the product in the hosted pages and the mail; "" = Gatehouse
	AppURL      string // linked from the pages after a successful verification or reset; "" = none
	// IssuerName is GATEHOUSE_APP_NAME when it is set: authenticator apps
	// list TOTP codes under it; "" = the public URL's host.
	IssuerName        string
	HTTP              httpadapter.Config
	SMTPURL           string // empty: the development file mailer
	MailFrom          string
	JWTPrivateKeyFile string // empty: generated once and kept in the store
	JWT               jwt.Config
	RefreshTTL        session.RefreshTTL
	IdleTimeout       session.IdleTimeout
	StepUpMaxAge      appmfa.StepUpMaxAge   // how long after a code a session may make sensitive changes without one
	RefreshReuseGrace app.RefreshReuseGrace // a rotated refresh token presented again this soon gets its successor
	VerificationTTL   account.VerificationTTL
	RequireVerified   app.RequireVerifiedEmail
	PasswordMinLength int
	Argon2            argon2id.Options
	Limits            limits.Policy
	Outbox            outbox.Config
	Retention         maintenance.RetentionPeriod // ended sessions, tokens and sent mail are kept this long
	InviteTTL         admin.InviteTTL             // how long an invitation's set-password link works
	// JWTPreviousKeyFiles stay published beside JWTPrivateKeyFile's key.
	JWTPreviousKeyFiles []string
	// SecretKeyFile holds the key that seals secrets at rest; empty: a
	// key generated once (embedded store: SecretKeyPath; PostgreSQL: kept
	// in the database).
	SecretKeyFile string
	SecretKeyPath string // where the embedded store keeps a generated secret key
	// KeyPublishDelay is how long a rotated key is published before it
	// signs; KeyRefresh how often every instance reads the key ring.
	KeyPublishDelay time.Duration
	KeyRefresh      time.Duration
	// Version is the binary's version, shown in the operators' status.
	Version admin.Version
}

// Gatehouse is the assembled service.
type Gatehouse struct {
	HTTP    *fiber.App
	Admin   AdminHTTP
	Outbox  *outbox.Worker
	Janitor *maintenance.Janitor
	Keys    *keys.Ring // run it to follow key changes
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
	SigningKeys *keys.Ring
}

// ProvidePool opens the pool; the cleanup closes it.
func ProvidePool(ctx context.Context, cfg Config) (*pgxpool.Pool, func(), error) {
	pool, err := postgres.NewPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	return pool, pool.Close, nil
}

// ProvideRateLimiter binds the shared counters to the pool.
func ProvideRateLimiter(pool *pgxpool.Pool) app.RateLimiter { return postgres.NewRateLimiter(pool) }

// ProvideAuditTrail binds the audit reader to the pool.
func ProvideAuditTrail(pool *pgxpool.Pool) app.AuditTrail { return postgres.NewAuditLog(pool) }

// ProvideRetention binds the retention sweep to the pool.
func ProvideRetention(pool *pgxpool.Pool) app.Retention { return postgres.NewRetention(pool) }

// PostgresSet is the PostgreSQL storage adapter.
var PostgresSet = wire.NewSet(
	ProvidePool,
	postgres.NewTxManager,
	wire.Bind(new(app.TxManager), new(*postgres.TxManager)),
	// Repositories bound to the pool: reads and single statements outside
	// a use-case transaction.
	postgres.NewPoolRepos,
	wire.FieldsOf(new(app.Repos), "Users", "Sessions", "Tokens", "Outbox", "Audit", "AdminKeys", "SigningKeys", "MFA"),
	ProvideAuditTrail,
	ProvideRateLimiter,
	ProvideSettings,
	ProvideSecretKey,
	ProvideStoreInfo,
	ProvideRetention,
	ProvideReady,
	ProvidePoolMetrics,
)

// ProvidePoolMetrics shows the pool's statistics in the metrics.
func ProvidePoolMetrics(pool *pgxpool.Pool) metrics.Pools {
	return metrics.Pools{metrics.PgxPool("postgres", pool)}
}

// ProvideStoreInfo describes the PostgreSQL store.
func ProvideStoreInfo(pool *pgxpool.Pool) app.StoreInfo { return postgres.NewStoreInfo(pool) }

// ProvideSettings binds the shared settings to the pool.
func ProvideSettings(pool *pgxpool.Pool) app.Settings { return postgres.NewSettings(pool) }

// SecretKey is the key that seals secrets at rest.
type SecretKey []byte

// ProvideSecretKey reads GATEHOUSE_SECRET_KEY_FILE or, without it, the key
// kept in the database (made once), with a warning.
func ProvideSecretKey(ctx context.Context, cfg Config, settings app.Settings, ring app.SigningKeyRing, clock app.Clock, log *zap.Logger) (SecretKey, error) {
	if cfg.SecretKeyFile != "" {
		return secretbox.ReadKeyFile(cfg.SecretKeyFile)
	}
	log.Warn("GATEHOUSE_SECRET_KEY_FILE is not set: the key that seals signing keys and TOTP secrets is kept in the database, so a database dump holds everything needed to read them. Set GATEHOUSE_SECRET_KEY_FILE in production (see SECURITY.md).")
	return keys.StoredSecretKey(ctx, settings, ring, clock, secretbox.NewKey)
}

// ProvideReady is the readiness probe: the database answers.
func ProvideReady(pool *pgxpool.Pool) func(context.Context) error {
	return func(ctx context.Context) error { return postgres.Ping(ctx, pool) }
}

// ProvideSQLite opens the embedded store's file; the cleanup closes it.
func ProvideSQLite(ctx context.Context, cfg Config) (*sqlite.DB, func(), error) {
	db, err := sqlite.Open(ctx, cfg.SQLitePath)
	if err != nil {
		return nil, nil, err
	}
	return db, func() { _ = db.Close() }, nil
}

// ProvideSQLiteRateLimiter binds the counters to the embedded store.
func ProvideSQLiteRateLimiter(db *sqlite.DB) app.RateLimiter { return sqlite.NewRateLimiter(db) }

// ProvideSQLiteAuditTrail binds the audit reader to the embedded store.
func ProvideSQLiteAuditTrail(db *sqlite.DB) app.AuditTrail { return sqlite.NewAuditLog(db) }

// ProvideSQLiteRetention binds the retention sweep to the embedded store.
func ProvideSQLiteRetention(db *sqlite.DB) app.Retention { return sqlite.NewRetention(db) }

// ProvideSQLiteStoreInfo describes the embedded store.
func ProvideSQLiteStoreInfo(db *sqlite.DB) app.StoreInfo { return sqlite.NewStoreInfo(db) }

// ProvideSQLiteSettings binds the shared settings to the embedded store.
func ProvideSQLiteSettings(db *sqlite.DB) app.Settings { return sqlite.NewSettings(db) }

// ProvideSQLiteSecretKey reads GATEHOUSE_SECRET_KEY_FILE or, without it,
// the key file beside the database, with a warning. The file is made
// (once, mode 0600) only for a database that holds no sealed secret yet.
func ProvideSQLiteSecretKey(ctx context.Context, cfg Config, settings app.Settings, ring app.SigningKeyRing, log *zap.Logger) (SecretKey, error) {
	if cfg.SecretKeyFile != "" {
		return secretbox.ReadKeyFile(cfg.SecretKeyFile)
	}
	key, err := keys.KeptSecretKey(ctx, settings, ring, secretbox.KeyFile{Path: cfg.SecretKeyPath})
	if err != nil {
		return nil, err
	}
	log.Warn("GATEHOUSE_SECRET_KEY_FILE is not set: the key that seals signing keys and TOTP secrets is kept in a file beside the database; back it up with the database, apart from it.",
		zap.String("secret_key_path", cfg.SecretKeyPath))
	return key, nil
}

// ProvideSQLiteReady is the readiness probe: the file answers.
func ProvideSQLiteReady(db *sqlite.DB) func(context.Context) error { return db.Ping }

// SQLiteSet is the embedded storage adapter: the same ports on one file.
var SQLiteSet = wire.NewSet(
	ProvideSQLite,
	sqlite.NewTxManager,
	wire.Bind(new(app.TxManager), new(*sqlite.TxManager)),
	sqlite.NewPoolRepos,
	wire.FieldsOf(new(app.Repos), "Users", "Sessions", "Tokens", "Outbox", "Audit", "AdminKeys", "SigningKeys", "MFA"),
	ProvideSQLiteAuditTrail,
	ProvideSQLiteRateLimiter,
	ProvideSQLiteSettings,
	ProvideSQLiteSecretKey,
	ProvideSQLiteStoreInfo,
	ProvideSQLiteRetention,
	ProvideSQLiteReady,
	ProvideSQLitePoolMetrics,
)

// ProvideSQLitePoolMetrics shows the writer's and the readers' pool
// statistics in the metrics.
func ProvideSQLitePoolMetrics(db *sqlite.DB) metrics.Pools {
	return metrics.Pools{
		metrics.SQLPool("sqlite_writer", func() sql.DBStats { w, _ := db.PoolStats(); return w }),
		metrics.SQLPool("sqlite_readers", func() sql.DBStats { _, r := db.PoolStats(); return r }),
	}
}

// SystemSet is the clock, ids and randomness.
var SystemSet = wire.NewSet(
	wire.Value(system.Clock{}),
	wire.Bind(new(app.Clock), new(system.Clock)),
	wire.Value(system.IDs{}),
	wire.Bind(new(app.IDGenerator), new(system.IDs)),
	system.Random,
)

// ProvideHasher builds the bounded argon2id hasher; obs hears how its
// slots are used.
func ProvideHasher(cfg Config, obs argon2id.Observer) (app.PasswordHasher, error) {
	opts := cfg.Argon2
	opts.Observer = obs
	return argon2id.New(opts)
}

// ProvidePolicy builds the password policy with the shipped common list
// and the guess estimator.
func ProvidePolicy(cfg Config, list app.CommonPasswords, est app.PasswordEstimator) user.PasswordPolicy {
	return user.PasswordPolicy{MinLength: cfg.PasswordMinLength, IsCommon: list.Contains, Estimate: est.Estimate}
}

// PasswordSet is hashing and policy.
var PasswordSet = wire.NewSet(
	ProvideHasher,
	commonpw.New,
	wire.Bind(new(app.CommonPasswords), new(*commonpw.List)),
	strength.New,
	wire.Bind(new(app.PasswordEstimator), new(strength.Estimator)),
	ProvidePolicy,
)

// ProvideSealer seals with the secret key, once it is known to be the key
// the stored secrets were sealed with (a wrong one stops startup).
func ProvideSealer(ctx context.Context, key SecretKey, settings app.Settings, clock app.Clock) (app.Sealer, error) {
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	if err := keys.CheckSecretKey(ctx, settings, box, clock); err != nil {
		return nil, err
	}
	return box, nil
}

// ProvideTokens builds the access-token signer and verifier; its keys come
// from the ring.
func ProvideTokens(cfg Config, clock app.Clock, ids app.IDGenerator) (app.AccessTokens, error) {
	return jwt.NewWithoutKeys(cfg.JWT, clock, ids)
}

// ProvideRing builds the key ring and reads it once, so that the signer
// has its keys before anything is served.
func ProvideRing(ctx context.Context, cfg Config, tx app.TxManager, store app.SigningKeyRing, sealer app.Sealer, tokens app.AccessTokens, clock app.Clock, rep app.ErrorReporter) (*keys.Ring, error) {
	leeway := cfg.JWT.Leeway
	if leeway == 0 {
		leeway = jwt.DefaultLeeway
	}
	kc := keys.Config{PublishDelay: cfg.KeyPublishDelay, TokenLife: cfg.JWT.TTL + leeway, Lag: cfg.KeyRefresh}
	if cfg.JWTPrivateKeyFile != "" {
		files, err := loadKeyFiles(tokens, cfg.JWTPrivateKeyFile, cfg.JWTPreviousKeyFiles)
		if err != nil {
			return nil, err
		}
		kc.Files = files
	}
	r := keys.NewRing(tx, store, sealer, tokens, clock, rep, kc)
	if err := r.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return r, nil
}

func loadKeyFiles(tokens app.AccessTokens, current string, previous []string) (*keys.FileKeys, error) {
	priv, err := jwt.LoadPrivateKeyFile(current)
	if err != nil {
		return nil, err
	}
	k, err := tokens.KeyOf(priv.Seed())
	if err != nil {
		return nil, err
	}
	files := &keys.FileKeys{Current: k}
	for _, p := range previous {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pub, err := jwt.LoadPublicKeyFile(p)
		if err != nil {
			return nil, err
		}
		kid, err := jwt.Thumbprint(pub)
		if err != nil {
			return nil, err
		}
		files.Previous = append(files.Previous, keys.PublicKey{KID: kid, Key: pub})
	}
	return files, nil
}

// TokenSet is access-token signing.
var TokenSet = wire.NewSet(ProvideSealer, ProvideTokens, ProvideRing)

// ProvideMailer picks SMTP when configured, else the development file
// mailer (which warns at startup). Either names the product cfg.AppName.
func ProvideMailer(cfg Config, log *zap.Logger) (app.Mailer, error) {
	r, err := mailer.NewNamedRenderer(cfg.AppName)
	if err != nil {
		return nil, err
	}
	if cfg.SMTPURL == "" {
		log.Warn("GATEHOUSE_SMTP_URL is not set: mail is NOT delivered; each mail is written as an .eml file instead. For development only.", zap.String("mail_dir", cfg.MailDir))
		return mailer.NewFile(cfg.MailDir, cfg.MailFrom, log, mailer.WithFileRenderer(r))
	}
	sc, err := mailer.ParseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	return mailer.NewSMTP(sc, cfg.MailFrom, mailer.WithRenderer(r))
}

// MailerSet is mail delivery.
var MailerSet = wire.NewSet(ProvideMailer)

// ProvideLinks builds the mail links from the public URL.
func ProvideLinks(cfg Config) (app.Links, error) { return app.NewLinks(cfg.PublicURL) }

// ProvideGuard builds the abuse-protection policy; what it refuses is
// counted, and dropped mail logged.
func ProvideGuard(rl app.RateLimiter, cfg Config, obs app.Observer) *limits.Guard {
	return limits.NewObservedGuard(rl, cfg.Limits, obs)
}

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
// listener's /metrics. The store's set provides the pools.
var MetricsSet = wire.NewSet(
	metrics.New,
	ProvideObserver,
	wire.Bind(new(app.Observer), new(*metrics.Observer)),
	wire.Bind(new(argon2id.Observer), new(*metrics.Metrics)),
	wire.Bind(new(httpadapter.RequestObserver), new(*metrics.Metrics)),
	ProvideMetricsHandler,
)

// ProvideWorker builds the outbox worker.
func ProvideWorker(ob app.Outbox, tx app.TxManager, m app.Mailer, clock app.Clock, ids app.IDGenerator, rnd io.Reader, links app.Links, rep app.ErrorReporter, obs app.Observer, cfg Config) *outbox.Worker {
	return outbox.NewWorker(ob, tx, m, clock, ids, rnd, links, rep, obs, cfg.Outbox)
}

// OperatorSet is the operators' use cases, which the command line runs on
// their own.
var OperatorSet = wire.NewSet(
	wire.FieldsOf(new(Config), "InviteTTL"),
	LoggingSet,
	MetricsSet,
	ProvideLinks,
	ProvideGuard,
	admin.NewUsers,
	admin.NewAudit,
	admin.NewKeys,
	TokenSet,
)

// AppSet is the use cases.
var AppSet = wire.NewSet(
	wire.FieldsOf(new(Config), "RefreshTTL", "IdleTimeout", "StepUpMaxAge", "RefreshReuseGrace", "VerificationTTL", "RequireVerified", "Retention", "Version"),
	OperatorSet,
	admin.NewStatus,
	limits.NewPasswordCheck,
	account.NewRegister,
	account.NewDeleteAccount,
	account.NewChangeEmail,
	account.NewConfirmEmailChange,
	account.NewVerifyEmail,
	account.NewLinkState,
	account.NewResendVerification,
	session.NewLogin,
	session.NewRefresh,
	session.NewLogout,
	session.NewRevoke,
	session.NewList,
	session.NewAuthenticate,
	password.NewForgot,
	password.NewReset,
	password.NewChange,
	MFASet,
	ProvideWorker,
	maintenance.NewJanitor,
)

// ProvideTOTP is the RFC 6238 code generator (github.com/pquerna/otp).
func ProvideTOTP() app.TOTP { return totp.New() }

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
	appmfa.NewStart,
	appmfa.NewConfirm,
	appmfa.NewDisable,
	appmfa.NewRegenerate,
	session.NewLoginMFA,
)

// ProvideHTTP builds the Fiber app with every route; the hosted pages get
// the product's name and URL and the password rule.
func ProvideHTTP(cfg Config, log *zap.Logger, uc httpadapter.UseCases, reqs httpadapter.RequestObserver) *fiber.App {
	hc := cfg.HTTP
	hc.Requests = reqs
	hc.Pages = httpadapter.PageConfig{AppName: cfg.AppName, AppURL: cfg.AppURL, PasswordMinLength: cfg.PasswordMinLength}
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
	wire.Bind(new(httpadapter.ListSessions), new(*session.List)),
	wire.Bind(new(httpadapter.RevokeSession), new(*session.Revoke)),
	wire.Bind(new(httpadapter.Forgot), new(*password.Forgot)),
	wire.Bind(new(httpadapter.ResetPassword), new(*password.Reset)),
	wire.Bind(new(httpadapter.ChangePassword), new(*password.Change)),
	wire.Bind(new(httpadapter.MFAStart), new(*appmfa.Start)),
	wire.Bind(new(httpadapter.MFAConfirm), new(*appmfa.Confirm)),
	wire.Bind(new(httpadapter.MFADisable), new(*appmfa.Disable)),
	wire.Bind(new(httpadapter.MFARegenerate), new(*appmfa.Regenerate)),
	wire.Bind(new(httpadapter.IPLimiter), new(*limits.Guard)),
	wire.Bind(new(httpadapter.JWKSource), new(app.AccessTokens)),
	ProvideHTTP,
	wire.Struct(new(httpadapter.AdminUseCases), "*"),
	wire.Bind(new(httpadapter.AdminUsers), new(*admin.Users)),
	wire.Bind(new(httpadapter.AdminAudit), new(*admin.Audit)),
	wire.Bind(new(httpadapter.AdminKeys), new(*admin.Keys)),
	wire.Bind(new(httpadapter.AdminStatus), new(*admin.Status)),
	ProvideAdminHTTP,
)
