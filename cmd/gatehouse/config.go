package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caarlos0/env/v11"
	"github.com/gatehouse-auth/gatehouse/adapters/passhash"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// envPrefix prefixes every variable.
const envPrefix = "GATEHOUSE_"

// Config is every GATEHOUSE_ variable, parsed once at startup.
type Config struct {
	DatabaseURL string `env:"DATABASE_URL"` // empty or sqlite:PATH = embedded store
	DataDir     string `env:"DATA_DIR" envDefault:"./data"`
	// HTTPAddr defaults to loopback, so a development serve is reachable
	// from this machine only; ":8080" (the container image sets it) listens
	// on every interface.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	// AdminAddr is the admin listener (admin API; empty = off). It
	// defaults to loopback: put it on a network only behind a firewall.
	AdminAddr string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:8081"`
	// AdminHosts are more names the admin listener answers for (its
	// address and localhost always): a request with another Host is 421.
	// The compose file publishes it on the host's loopback and names
	// localhost,127.0.0.1.
	AdminHosts []string `env:"ADMIN_HOSTS" envSeparator:","`
	// MetricsTokenFile holds a bearer token that /metrics takes besides
	// an admin key (needed when the admin listener is off loopback).
	MetricsTokenFile string `env:"METRICS_TOKEN_FILE"`

	PublicURL string `env:"PUBLIC_URL" envDefault:"http://localhost:8080"`
	// WebAuthnRPID is the relying party id of passkeys: the public URL's
	// host, or a domain it is under (passkeys then work on its other
	// subdomains too). Unset: the public URL's host.
	WebAuthnRPID string `env:"WEBAUTHN_RP_ID"`
	// UpstreamProvidersFile is the YAML file of the upstream sign-in
	// providers (README "Upstream sign-in"); unset: none.
	UpstreamProvidersFile string `env:"UPSTREAM_PROVIDERS_FILE"`
	// AppName names the product in the hosted pages and the mail; AppURL,
	// when set, is linked from the pages after a successful verification
	// or reset ("Continue to <AppName>").
	AppName string `env:"APP_NAME" envDefault:"Gatehouse"`
	AppURL  string `env:"APP_URL"`

	SMTPURL  string `env:"SMTP_URL"`
	MailFrom string `env:"MAIL_FROM" envDefault:"Gatehouse <no-reply@localhost>"`

	JWTPrivateKeyFile string `env:"JWT_PRIVATE_KEY_FILE"`
	// JWTPreviousKeyFiles stay published (verify only) beside the key
	// file's key: the operator's rotation.
	JWTPreviousKeyFiles []string `env:"JWT_PREVIOUS_KEY_FILES" envSeparator:","`
	// SecretKeyFile holds the 32-byte key (base64, as `keygen --secret`
	// prints it) that seals generated signing keys and TOTP secrets.
	SecretKeyFile string `env:"SECRET_KEY_FILE"`
	// KeyPublishDelay is how long a rotated key is published before it
	// signs; KeyRefreshInterval how often each instance reads the keys.
	KeyPublishDelay    time.Duration `env:"KEY_PUBLISH_DELAY" envDefault:"10m"`
	KeyRefreshInterval time.Duration `env:"KEY_REFRESH_INTERVAL" envDefault:"10s"`
	JWTAudience        string        `env:"JWT_AUDIENCE" envDefault:"gatehouse"`
	AccessTokenTTL     time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m"`
	RefreshTokenTTL    time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`
	SessionIdle        time.Duration `env:"SESSION_IDLE_TIMEOUT" envDefault:"168h"`
	StepUpMaxAge       time.Duration `env:"STEP_UP_MAX_AGE" envDefault:"15m"`
	VerifyTokenTTL     time.Duration `env:"VERIFICATION_TOKEN_TTL" envDefault:"24h"`
	ResetTokenTTL      time.Duration `env:"RESET_TOKEN_TTL" envDefault:"30m"`
	InviteTokenTTL     time.Duration `env:"INVITE_TOKEN_TTL" envDefault:"72h"`

	// RefreshReuseGrace: a rotated refresh token presented again this soon
	// gets the same successor (several tabs); 0s turns it off.
	RefreshReuseGrace time.Duration `env:"REFRESH_REUSE_GRACE" envDefault:"10s"`

	RequireVerifiedEmail bool `env:"REQUIRE_VERIFIED_EMAIL" envDefault:"true"`
	PasswordMinLength    int  `env:"PASSWORD_MIN_LENGTH" envDefault:"15"`

	Argon2MemoryKiB   uint32        `env:"ARGON2_MEMORY_KIB" envDefault:"19456"`
	Argon2Iterations  uint32        `env:"ARGON2_ITERATIONS" envDefault:"2"`
	Argon2Parallelism uint8         `env:"ARGON2_PARALLELISM" envDefault:"1"`
	HashConcurrency   int           `env:"HASH_CONCURRENCY"` // 0 = number of CPUs
	HashMaxWait       time.Duration `env:"HASH_MAX_WAIT" envDefault:"2s"`

	// The Firebase project whose scrypt password hashes users may be
	// imported with (its Password Hash Parameters); off without the
	// signer key's file.
	FirebaseSignerKeyFile string `env:"FIREBASE_SIGNER_KEY_FILE"`
	FirebaseSaltSeparator string `env:"FIREBASE_SALT_SEPARATOR"`
	FirebaseRounds        int    `env:"FIREBASE_ROUNDS" envDefault:"8"`
	FirebaseMemCost       int    `env:"FIREBASE_MEM_COST" envDefault:"14"`

	AutoMigrate bool `env:"AUTO_MIGRATE" envDefault:"true"`

	RateLimitDisabled      bool   `env:"RATE_LIMIT_DISABLED" envDefault:"false"`
	RateLimitAuth          string `env:"RATE_LIMIT_AUTH" envDefault:"30/5m"`
	RateLimitRefresh       string `env:"RATE_LIMIT_REFRESH" envDefault:"150/5m"`
	RateLimitTokenClient   string `env:"RATE_LIMIT_TOKEN_CLIENT" envDefault:"3000/5m"`
	RateLimitMail          string `env:"RATE_LIMIT_MAIL" envDefault:"3/1h"`
	RateLimitLoginFailures string `env:"RATE_LIMIT_LOGIN_FAILURES" envDefault:"10/15m"`
	LoginLockoutThreshold  int    `env:"LOGIN_LOCKOUT_THRESHOLD" envDefault:"100"`
	RateLimitMFAFailures   string `env:"RATE_LIMIT_MFA_FAILURES" envDefault:"10/15m"`
	MFALockoutThreshold    int    `env:"MFA_LOCKOUT_THRESHOLD" envDefault:"100"`

	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:","`
	CORSOrigins    []string `env:"CORS_ORIGINS" envSeparator:","`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"json"`

	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	OutboxMaxAttempts int           `env:"OUTBOX_MAX_ATTEMPTS" envDefault:"150"`
	Retention         time.Duration `env:"RETENTION" envDefault:"720h"`

	// WebhookAllowPrivate lets webhook endpoints reach loopback, private
	// and link-local addresses.
	WebhookAllowPrivate bool `env:"WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`

	// Derived, checked values.
	trustedPrefixes []netip.Prefix
	limitPolicy     limits.Policy
	store           store
	unknownEnv      []unknownVar // GATEHOUSE_ variables nothing reads (envcheck.go); serve warns
	appNameSet      bool         // GATEHOUSE_APP_NAME is set: it names the service in authenticator apps too
}

// storeKind names a store adapter.
type storeKind string

const (
	storePostgres storeKind = "postgres"
	storeSQLite   storeKind = "sqlite"
)

// store is where the data lives, from GATEHOUSE_DATABASE_URL: unset or
// "sqlite:" is the embedded store's file in the data directory,
// "sqlite:PATH" that file, postgres:// a PostgreSQL server.
type store struct {
	Kind storeKind
	URL  string // PostgreSQL
	Path string // SQLite file
}

// maxAppName bounds GATEHOUSE_APP_NAME, in characters (mailer.MaxProductLength).
const maxAppName = 64

// sqliteFile is the embedded database's file name in the data directory.
const sqliteFile = "gatehouse.db"

// secretKeyFile is where the embedded store keeps a generated secret key
// (in the data directory) when GATEHOUSE_SECRET_KEY_FILE is not set.
const secretKeyFile = "secret.key"

// LoadConfig reads the environment (the process environment, environ(), in
// production; a map of its own in tests).
// Every error names the variable it is about.
func LoadConfig(environ map[string]string) (Config, error) {
	var c Config
	err := env.ParseWithOptions(&c, env.Options{Prefix: envPrefix, Environment: environ})
	if err != nil {
		return Config{}, namedEnvError(err)
	}
	// The env library fills an empty value with the default; an empty
	// GATEHOUSE_ADMIN_ADDR means the admin listener is off.
	if v, set := environ[envPrefix+"ADMIN_ADDR"]; set && strings.TrimSpace(v) == "" {
		c.AdminAddr = ""
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	c.unknownEnv = unknownEnv(environ)
	_, c.appNameSet = environ[envPrefix+"APP_NAME"]
	return c, nil
}

// namedEnvError rewrites the library's per-field errors so that each names
// the environment variable instead of the Go field.
func namedEnvError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	t := reflect.TypeOf(Config{})
	msgs := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				msgs = append(msgs, fmt.Sprintf("%s%s: invalid value: %v", envPrefix, name, pe.Err))
				continue
			}
		}
		msgs = append(msgs, e.Error())
	}
	return errors.New(strings.Join(msgs, "; "))
}

func (c *Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(envPrefix+name+": "+format, args...))
	}
	// badIf is bad when failed.
	badIf := func(failed bool, name, format string, args ...any) {
		if failed {
			bad(name, format, args...)
		}
	}
	badIf(strings.TrimSpace(c.DataDir) == "", "DATA_DIR", "must not be empty")
	switch path, isSQLite := strings.CutPrefix(c.DatabaseURL, "sqlite:"); {
	case c.DatabaseURL == "" || isSQLite && path == "":
		c.store = store{Kind: storeSQLite, Path: filepath.Join(c.DataDir, sqliteFile)}
	case isSQLite:
		c.store = store{Kind: storeSQLite, Path: path}
	default:
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("DATABASE_URL", "must be a postgres:// URL, sqlite:PATH, or unset for the embedded store in GATEHOUSE_DATA_DIR")
		}
		c.store = store{Kind: storePostgres, URL: c.DatabaseURL}
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		bad("PUBLIC_URL", "must be an absolute http(s) URL without query")
	} else if c.WebAuthnRPID = strings.ToLower(strings.TrimSpace(c.WebAuthnRPID)); c.WebAuthnRPID != "" {
		host := strings.ToLower(u.Hostname())
		switch {
		case net.ParseIP(c.WebAuthnRPID) != nil:
			bad("WEBAUTHN_RP_ID", "must be a domain name, not an IP address")
		case host != c.WebAuthnRPID && !strings.HasSuffix(host, "."+c.WebAuthnRPID):
			bad("WEBAUTHN_RP_ID", "must be the host of GATEHOUSE_PUBLIC_URL (%s) or a domain it is under", host)
		}
	}
	c.AppName = strings.TrimSpace(c.AppName)
	switch {
	case c.AppName == "":
		bad("APP_NAME", "must not be blank")
	case utf8.RuneCountInString(c.AppName) > maxAppName:
		bad("APP_NAME", "must be at most %d characters", maxAppName)
	case strings.ContainsFunc(c.AppName, unicode.IsControl) || !utf8.ValidString(c.AppName):
		bad("APP_NAME", "must not contain control characters (it goes into mail subjects)")
	}
	if c.AppURL = strings.TrimSpace(c.AppURL); c.AppURL != "" {
		if u, err := url.Parse(c.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || strings.ContainsFunc(c.AppURL, unicode.IsSpace) {
			bad("APP_URL", "must be an absolute http(s) URL such as https://app.example.com, or unset")
		}
	}
	badIf(c.KeyPublishDelay < 0, "KEY_PUBLISH_DELAY", "must not be negative")
	// Every instance follows key changes within 30 s.
	badIf(c.KeyRefreshInterval < time.Second || c.KeyRefreshInterval > 30*time.Second, "KEY_REFRESH_INTERVAL", "must be between 1s and 30s")
	for _, h := range c.AdminHosts {
		if h = strings.TrimSpace(h); h == "" || strings.ContainsAny(h, "/@ \t") || strings.Contains(h, "://") {
			bad("ADMIN_HOSTS", "%q is not a host name such as admin.internal (comma-separated, no scheme or path)", h)
		}
	}
	badIf(len(c.JWTPreviousKeyFiles) > 0 && c.JWTPrivateKeyFile == "",
		"JWT_PREVIOUS_KEY_FILES", "is only used with GATEHOUSE_JWT_PRIVATE_KEY_FILE (generated keys rotate with `gatehouse keys rotate`)")
	badIf(c.PasswordMinLength < user.MinPasswordFloor || c.PasswordMinLength > user.MaxPasswordLength,
		"PASSWORD_MIN_LENGTH", "must be between %d and %d", user.MinPasswordFloor, user.MaxPasswordLength)
	badIf(c.RefreshReuseGrace < 0 || c.RefreshReuseGrace > session.MaxReuseGrace, "REFRESH_REUSE_GRACE", "must be between 0s (off) and %s", session.MaxReuseGrace)
	for name, d := range map[string]time.Duration{
		"ACCESS_TOKEN_TTL": c.AccessTokenTTL, "REFRESH_TOKEN_TTL": c.RefreshTokenTTL, "SESSION_IDLE_TIMEOUT": c.SessionIdle, "STEP_UP_MAX_AGE": c.StepUpMaxAge,
		"VERIFICATION_TOKEN_TTL": c.VerifyTokenTTL, "RESET_TOKEN_TTL": c.ResetTokenTTL, "INVITE_TOKEN_TTL": c.InviteTokenTTL, "SHUTDOWN_TIMEOUT": c.ShutdownTimeout, "HASH_MAX_WAIT": c.HashMaxWait, "RETENTION": c.Retention,
	} {
		badIf(d <= 0, name, "must be a positive duration")
	}
	badIf(c.Argon2MemoryKiB < 8*uint32(max(c.Argon2Parallelism, 1)) || c.Argon2MemoryKiB > 4*1024*1024, "ARGON2_MEMORY_KIB", "must be between 8×parallelism and 4194304")
	badIf(c.Argon2Iterations < 1 || c.Argon2Iterations > 100, "ARGON2_ITERATIONS", "must be between 1 and 100")
	badIf(c.Argon2Parallelism < 1, "ARGON2_PARALLELISM", "must be at least 1")
	badIf(c.HashConcurrency < 0, "HASH_CONCURRENCY", "must not be negative")
	badIf(c.FirebaseRounds < 1 || c.FirebaseRounds > passhash.MaxFirebaseRounds, "FIREBASE_ROUNDS", "must be between 1 and %d", passhash.MaxFirebaseRounds)
	badIf(c.FirebaseMemCost < 1 || c.FirebaseMemCost > passhash.MaxFirebaseMemCost, "FIREBASE_MEM_COST", "must be between 1 and %d", passhash.MaxFirebaseMemCost)
	if _, err := base64.StdEncoding.DecodeString(c.FirebaseSaltSeparator); err != nil {
		bad("FIREBASE_SALT_SEPARATOR", "must be base64, as the Firebase console shows it (base64_salt_separator)")
	}
	badIf(c.FirebaseSignerKeyFile == "" && c.FirebaseSaltSeparator != "", "FIREBASE_SALT_SEPARATOR", "is only used with GATEHOUSE_FIREBASE_SIGNER_KEY_FILE")
	badIf(c.FirebaseSignerKeyFile != "" && c.FirebaseSaltSeparator == "", "FIREBASE_SALT_SEPARATOR", "must be set with GATEHOUSE_FIREBASE_SIGNER_KEY_FILE (base64_salt_separator of the project's Password Hash Parameters)")
	badIf(c.OutboxMaxAttempts < 1, "OUTBOX_MAX_ATTEMPTS", "must be at least 1")
	badIf(c.LoginLockoutThreshold < 2, "LOGIN_LOCKOUT_THRESHOLD", "must be at least 2")
	badIf(c.MFALockoutThreshold < 2, "MFA_LOCKOUT_THRESHOLD", "must be at least 2")
	badIf(!slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel), "LOG_LEVEL", "must be debug, info, warn or error")
	badIf(c.LogFormat != "json" && c.LogFormat != "console", "LOG_FORMAT", "must be json or console")
	for _, p := range c.TrustedProxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				bad("TRUSTED_PROXIES", "%q is not a CIDR or an IP address", p)
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.trustedPrefixes = append(c.trustedPrefixes, prefix.Masked())
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(strings.TrimSpace(o)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("CORS_ORIGINS", "%q is not an origin like https://app.example.com", o)
		}
	}
	p := limits.DefaultPolicy()
	p.Disabled = c.RateLimitDisabled
	p.LockoutThreshold = c.LoginLockoutThreshold
	p.CodeLockoutThreshold = c.MFALockoutThreshold
	for name, dst := range map[string]struct {
		raw string
		to  *limits.Limit
	}{
		"RATE_LIMIT_AUTH": {c.RateLimitAuth, &p.Auth}, "RATE_LIMIT_REFRESH": {c.RateLimitRefresh, &p.Refresh},
		"RATE_LIMIT_MAIL": {c.RateLimitMail, &p.MailPerAddress}, "RATE_LIMIT_LOGIN_FAILURES": {c.RateLimitLoginFailures, &p.LoginFailures},
		"RATE_LIMIT_MFA_FAILURES": {c.RateLimitMFAFailures, &p.CodeFailures}, "RATE_LIMIT_TOKEN_CLIENT": {c.RateLimitTokenClient, &p.TokenPerClient},
	} {
		l, err := limits.ParseLimit(dst.raw)
		if err != nil {
			bad(name, "%v", err)
			continue
		}
		*dst.to = l
	}
	p.ResetLinkTTL = c.ResetTokenTTL
	c.limitPolicy = p
	return errors.Join(errs...)
}

// envFields yields each Config field that a variable sets, with the
// variable's name without envPrefix.
func envFields(yield func(name string, f reflect.StructField) bool) {
	for f := range reflect.TypeFor[Config]().Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" && !yield(name, f) {
			return
		}
	}
}

// Redacted is the configuration as it may be logged, one entry per
// variable (named as the variable, lower case, without the prefix), read
// through Config's env tags so that none is left out: durations as Go
// duration strings ("15s": a bare number would have no unit), and every
// _URL variable with its password and secret-looking query values
// replaced. Secrets themselves are only ever named by a file variable.
func (c Config) Redacted() map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(c)
	for name, f := range envFields {
		val := v.FieldByIndex(f.Index).Interface()
		switch x := val.(type) {
		case time.Duration:
			val = x.String()
		case string:
			if strings.HasSuffix(name, "_URL") {
				val = redactURL(x)
			}
		}
		out[strings.ToLower(name)] = val
	}
	return out
}

// redactURL hides the password of a URL; an unparsable value is hidden
// whole, since it may be a secret.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable, redacted]"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	changed := false
	for k := range q {
		if l := strings.ToLower(k); strings.Contains(l, "password") || strings.Contains(l, "secret") || strings.Contains(l, "key") {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
