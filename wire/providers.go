// Package wire assembles Gatehouse at compile time with Google Wire: one
// provider set per adapter, wire.Bind from concrete types to the app ports,
// and the injector in wire.go. wire_gen.go is generated and committed.
//
// Providers are plain constructors, so that leaving Wire would cost little.
package wire

import (
	"context"
	"crypto/ed25519"
	"io"

	"github.com/gatehouse-auth/gatehouse/adapters/argon2id"
	"github.com/gatehouse-auth/gatehouse/adapters/commonpw"
	httpadapter "github.com/gatehouse-auth/gatehouse/adapters/http"
	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/adapters/logging"
	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/adapters/system"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/maintenance"
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
	DatabaseURL       string // PostgreSQL (BuildPostgres)
	SQLitePath        string // the embedded store's file (BuildSQLite)
	MailDir           string // where mail is written without SMTP
	PublicURL         string
	HTTP              httpadapter.Config
	SMTPURL           string // empty: the development file mailer
	MailFrom          string
	JWTPrivateKeyFile string // empty: generated once and kept in the store
	JWT               jwt.Config
	RefreshTTL        session.RefreshTTL
	IdleTimeout       session.IdleTimeout
	VerificationTTL   account.VerificationTTL
	RequireVerified   app.RequireVerifiedEmail
	PasswordMinLength int
	Argon2            argon2id.Options
	Limits            limits.Policy
	Outbox            outbox.Config
	Retention         maintenance.RetentionPeriod // ended sessions, tokens and sent mail are kept this long
	InviteTTL         admin.InviteTTL             // how long an invitation's set-password link works
}

// Gatehouse is the assembled service.
type Gatehouse struct {
	HTTP    *fiber.App
	Admin   AdminHTTP
	Outbox  *outbox.Worker
	Janitor *maintenance.Janitor
}

// AdminHTTP is the admin listener's Fiber app (a type of its own, so that
// Wire tells it from the public one).
type AdminHTTP struct{ *fiber.App }

// Operator is what the command line's operator commands drive: the same
// use cases as the admin API.
type Operator struct {
	Users *admin.Users
	Keys  *admin.Keys
	Audit *admin.Audit
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
	wire.FieldsOf(new(app.Repos), "Users", "Sessions", "Outbox", "Audit", "AdminKeys"),
	ProvideAuditTrail,
	ProvideRateLimiter,
	ProvideSigningKeyStore,
	ProvideRetention,
	ProvideReady,
)

// ProvideSigningKeyStore binds the key store to the pool.
func ProvideSigningKeyStore(pool *pgxpool.Pool) app.SigningKeyStore {
	return postgres.NewSigningKeyStore(pool)
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

// ProvideSQLiteSigningKeyStore binds the key store to the embedded store.
func ProvideSQLiteSigningKeyStore(db *sqlite.DB) app.SigningKeyStore {
	return sqlite.NewSigningKeyStore(db)
}

// ProvideSQLiteReady is the readiness probe: the file answers.
func ProvideSQLiteReady(db *sqlite.DB) func(context.Context) error { return db.Ping }

// SQLiteSet is the embedded storage adapter: the same ports on one file.
var SQLiteSet = wire.NewSet(
	ProvideSQLite,
	sqlite.NewTxManager,
	wire.Bind(new(app.TxManager), new(*sqlite.TxManager)),
	sqlite.NewPoolRepos,
	wire.FieldsOf(new(app.Repos), "Users", "Sessions", "Outbox", "Audit", "AdminKeys"),
	ProvideSQLiteAuditTrail,
	ProvideSQLiteRateLimiter,
	ProvideSQLiteSigningKeyStore,
	ProvideSQLiteRetention,
	ProvideSQLiteReady,
)

// SystemSet is the clock, ids and randomness.
var SystemSet = wire.NewSet(
	wire.Value(system.Clock{}),
	wire.Bind(new(app.Clock), new(system.Clock)),
	wire.Value(system.IDs{}),
	wire.Bind(new(app.IDGenerator), new(system.IDs)),
	system.Random,
)

// ProvideHasher builds the bounded argon2id hasher.
func ProvideHasher(cfg Config) (app.PasswordHasher, error) {
	return argon2id.New(cfg.Argon2)
}

// ProvidePolicy builds the password policy with the shipped common list.
func ProvidePolicy(cfg Config, list app.CommonPasswords) user.PasswordPolicy {
	return user.PasswordPolicy{MinLength: cfg.PasswordMinLength, IsCommon: list.Contains}
}

// PasswordSet is hashing and policy.
var PasswordSet = wire.NewSet(
	ProvideHasher,
	commonpw.New,
	wire.Bind(new(app.CommonPasswords), new(*commonpw.List)),
	ProvidePolicy,
)

// ProvideSigningKey loads the key file, or the key kept in the database
// (made by the first instance that needed one).
func ProvideSigningKey(ctx context.Context, cfg Config, store app.SigningKeyStore) (ed25519.PrivateKey, error) {
	if cfg.JWTPrivateKeyFile != "" {
		return jwt.LoadPrivateKeyFile(cfg.JWTPrivateKeyFile)
	}
	seed, err := store.GetOrCreate(ctx, jwt.GenerateSeed)
	if err != nil {
		return nil, err
	}
	return jwt.KeyFromSeed(seed)
}

// ProvideTokens builds the access-token signer and verifier.
func ProvideTokens(key ed25519.PrivateKey, cfg Config, clock app.Clock, ids app.IDGenerator) (app.AccessTokens, error) {
	return jwt.New(key, cfg.JWT, clock, ids)
}

// TokenSet is access-token signing.
var TokenSet = wire.NewSet(ProvideSigningKey, ProvideTokens)

// ProvideMailer picks SMTP when configured, else the development file
// mailer (which warns at startup).
func ProvideMailer(cfg Config, log *zap.Logger) (app.Mailer, error) {
	if cfg.SMTPURL == "" {
		log.Warn("GATEHOUSE_SMTP_URL is not set: mail is NOT delivered; each mail is written as an .eml file instead. For development only.", zap.String("mail_dir", cfg.MailDir))
		return mailer.NewFile(cfg.MailDir, cfg.MailFrom, log)
	}
	sc, err := mailer.ParseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	return mailer.NewSMTP(sc, cfg.MailFrom)
}

// MailerSet is mail delivery.
var MailerSet = wire.NewSet(ProvideMailer)

// ProvideLinks builds the mail links from the public URL.
func ProvideLinks(cfg Config) (app.Links, error) { return app.NewLinks(cfg.PublicURL) }

// ProvideGuard builds the abuse-protection policy; dropped mail is logged.
func ProvideGuard(rl app.RateLimiter, cfg Config, obs app.Observer) *limits.Guard {
	return limits.NewObservedGuard(rl, cfg.Limits, obs)
}

// LoggingSet is what tells operators of background failures and dropped mail.
var LoggingSet = wire.NewSet(
	logging.NewReporter,
	wire.Bind(new(app.ErrorReporter), new(*logging.Reporter)),
	logging.NewObserver,
	wire.Bind(new(app.Observer), new(*logging.Observer)),
)

// ProvideWorker builds the outbox worker.
func ProvideWorker(ob app.Outbox, tx app.TxManager, m app.Mailer, clock app.Clock, ids app.IDGenerator, rnd io.Reader, links app.Links, rep app.ErrorReporter, cfg Config) *outbox.Worker {
	return outbox.NewWorker(ob, tx, m, clock, ids, rnd, links, rep, cfg.Outbox)
}

// OperatorSet is the operators' use cases, which the command line runs on
// their own.
var OperatorSet = wire.NewSet(
	wire.FieldsOf(new(Config), "InviteTTL"),
	LoggingSet,
	ProvideLinks,
	ProvideGuard,
	admin.NewUsers,
	admin.NewAudit,
	admin.NewKeys,
)

// AppSet is the use cases.
var AppSet = wire.NewSet(
	wire.FieldsOf(new(Config), "RefreshTTL", "IdleTimeout", "VerificationTTL", "RequireVerified", "Retention"),
	OperatorSet,
	limits.NewPasswordCheck,
	account.NewRegister,
	account.NewDeleteAccount,
	account.NewChangeEmail,
	account.NewConfirmEmailChange,
	account.NewVerifyEmail,
	account.NewResendVerification,
	account.NewGetUser,
	session.NewLogin,
	session.NewRefresh,
	session.NewLogout,
	session.NewRevoke,
	session.NewList,
	session.NewAuthenticate,
	password.NewForgot,
	password.NewReset,
	password.NewChange,
	ProvideWorker,
	maintenance.NewJanitor,
)

// ProvideHTTP builds the Fiber app with every route.
func ProvideHTTP(cfg Config, log *zap.Logger, uc httpadapter.UseCases) *fiber.App {
	return httpadapter.NewServer(cfg.HTTP, log, uc)
}

// ProvideAdminHTTP builds the admin listener's Fiber app.
func ProvideAdminHTTP(cfg Config, log *zap.Logger, uc httpadapter.AdminUseCases) AdminHTTP {
	return AdminHTTP{httpadapter.NewAdminServer(cfg.HTTP, log, uc)}
}

// HTTPSet is the HTTP adapter: the public app and the admin app.
var HTTPSet = wire.NewSet(
	wire.Struct(new(httpadapter.UseCases), "*"),
	ProvideHTTP,
	wire.Struct(new(httpadapter.AdminUseCases), "*"),
	ProvideAdminHTTP,
)
