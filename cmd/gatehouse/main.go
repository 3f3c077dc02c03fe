// Command gatehouse is the Gatehouse authentication service.
//
//	gatehouse serve                       run the HTTP API, hosted pages and mail worker
//	gatehouse migrate up|down|status      manage the database schema
//	gatehouse audit verify                check the audit trail's hash chain
//	gatehouse backup PATH                 copy the embedded database, also while serve runs
//	gatehouse keygen [--secret]           print a new Ed25519 signing key (PEM), or a secret key
//	gatehouse healthcheck                 exit 0 when the local serve is ready (GET /readyz)
//	gatehouse users ...                   manage accounts (the admin API's use cases)
//	gatehouse admin-keys ...              make, list and revoke admin API keys
//	gatehouse clients ...                 register the applications that sign users in
//	gatehouse webhooks ...                the endpoints that hear of users and sessions
//	gatehouse keys list|rotate|retire     the signing keys' lifecycle
//	gatehouse version                     the version and commit of this binary
//
// Configuration comes from GATEHOUSE_* environment variables (see README).
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/argon2id"
	httpadapter "github.com/gatehouse-auth/gatehouse/adapters/http"
	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
	"github.com/gatehouse-auth/gatehouse/adapters/mailer"
	upstreamadapter "github.com/gatehouse-auth/gatehouse/adapters/upstream"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/maintenance"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/outbox"
	"github.com/gatehouse-auth/gatehouse/app/session"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	gwire "github.com/gatehouse-auth/gatehouse/wire"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const usage = `usage: gatehouse <command>

commands:
  serve                    run the service (HTTP API, hosted pages, mail worker)
  migrate up|down|status   apply, roll back one, or list database migrations
  audit verify             check the hash chain of the audit trail
  backup PATH              write a consistent copy of the embedded database to PATH
  keygen                   print a new Ed25519 private key (PEM) for GATEHOUSE_JWT_PRIVATE_KEY_FILE
  keygen --secret          print a new secret key (base64) for GATEHOUSE_SECRET_KEY_FILE
  keys list|rotate|retire ID
                           the signing keys and their rotation (run "gatehouse keys" for details)
  version                  print the version of this binary
  healthcheck              exit 0 if the local serve answers GET /readyz with 200 (for container healthchecks)
  users list|show|create|disable|enable|delete|verify|unlock|disable-mfa|revoke-sessions
                           manage accounts (run "gatehouse users" for details)
  admin-keys create NAME|list|revoke NAME
                           manage the keys of the admin API
  clients list|show|create|update|delete|rotate-secret
                           register the applications that sign users in (run "gatehouse clients" for details)
  webhooks list|create|delete|rotate-secret
                           the endpoints that hear of users and sessions (run "gatehouse webhooks" for details)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := runWith(ctx, os.Args[1:], environ(), procIO{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, setMemory: applyMemory})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", describe(err))
		os.Exit(1)
	}
}

// describe is err as the command line prints it: a refusal names each
// field it refused and why.
func describe(err error) string {
	var de *domain.Error
	if !errors.As(err, &de) || len(de.Fields) == 0 {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(err.Error())
	for _, f := range de.Fields {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
	}
	return b.String()
}

func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// listening is where serve listens.
type listening struct {
	HTTP  string
	Admin string // "" when the admin listener is off
}

// procIO is the program's standard streams and, for tests, a hook that
// receives the listening addresses once serve accepts requests.
type procIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	onListening    func(listening)
	// setMemory applies serve's derived memory settings to the runtime
	// (applyMemory); nil leaves the process's settings as they are.
	setMemory func(memorySettings)
}

// runWith is the whole program.
func runWith(ctx context.Context, args []string, env map[string]string, p procIO) error {
	stdout, stderr := p.stdout, p.stderr
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	if args[0] == "keygen" {
		switch {
		case len(args) == 1:
			return keygen(stdout)
		case len(args) == 2 && args[1] == "--secret":
			return keygenSecret(stdout)
		}
		return errors.New("usage: gatehouse keygen [--secret]")
	}
	if args[0] == "healthcheck" { // reads GATEHOUSE_HTTP_ADDR only; never opens the store
		return healthcheck(ctx, env, args[1:])
	}
	if args[0] == "version" || args[0] == "--version" {
		_, err := fmt.Fprintln(stdout, binaryVersion())
		return err
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := LoadConfig(env)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, cfg, env, p)
	case "users":
		return usersCommand(ctx, cfg, args[1:], p)
	case "admin-keys":
		return adminKeysCommand(ctx, cfg, args[1:], p)
	case "clients":
		return clientsCommand(ctx, cfg, args[1:], p)
	case "webhooks":
		return webhooksCommand(ctx, cfg, args[1:], p)
	case "keys":
		return keysCommand(ctx, cfg, args[1:], p)
	case "migrate":
		if len(args) != 2 {
			return errors.New("usage: gatehouse migrate up|down|status")
		}
		return migrate(ctx, cfg.storage(0, nil), args[1], stdout)
	case "audit":
		if len(args) != 2 || args[1] != "verify" {
			return errors.New("usage: gatehouse audit verify")
		}
		return auditVerify(ctx, cfg.storage(0, nil), stdout)
	case "backup":
		if len(args) != 2 || args[1] == "" {
			return errors.New("usage: gatehouse backup PATH")
		}
		return backup(ctx, cfg.storage(0, nil), cfg.store.Path, args[1], stdout)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func keygen(w io.Writer) error {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	pem, err := jwt.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	_, err = w.Write(pem)
	return err
}

func newLogger(cfg Config, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder // "15s", not 15
	var enc zapcore.Encoder
	if cfg.LogFormat == "console" {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel)), nil
}

// wireConfig turns the parsed environment into the injector's input: the
// adapters' and use cases' own configurations, with the signing-key files
// read (serve adds the metrics token).
func wireConfig(c Config) (gwire.Config, error) {
	jc := jwt.Config{Issuer: c.PublicURL, Audience: c.JWTAudience, TTL: c.AccessTokenTTL}
	kc := keys.Config{PublishDelay: c.KeyPublishDelay, TokenLife: c.AccessTokenTTL + jwt.DefaultLeeway, Lag: c.KeyRefreshInterval}
	if c.JWTPrivateKeyFile != "" {
		var err error
		if kc.Files, err = loadKeyFiles(c.JWTPrivateKeyFile, c.JWTPreviousKeyFiles); err != nil {
			return gwire.Config{}, err
		}
	}
	firebase, err := readFirebase(c)
	if err != nil {
		return gwire.Config{}, err
	}
	var providers []upstreamadapter.ProviderConfig
	if c.UpstreamProvidersFile != "" {
		if providers, err = upstreamadapter.LoadFile(c.UpstreamProvidersFile); err != nil {
			return gwire.Config{}, fmt.Errorf("GATEHOUSE_UPSTREAM_PROVIDERS_FILE: %w", err)
		}
	}
	ob := outbox.DefaultConfig()
	ob.MaxAttempts = c.OutboxMaxAttempts
	ob.VerifyTTL = c.VerifyTokenTTL
	ob.ResetTTL = c.ResetTokenTTL
	return gwire.Config{
		PublicURL:  c.PublicURL,
		IssuerName: issuerName(c),
		HTTP: httpadapter.Config{
			PublicURL: c.PublicURL, TrustedProxies: c.trustedPrefixes, CORSOrigins: trimAll(c.CORSOrigins),
			Pages: httpadapter.PageConfig{AppName: c.AppName, AppURL: c.AppURL, PasswordMinLength: c.PasswordMinLength},
			Admin: httpadapter.AdminConfig{Addr: c.AdminAddr, Hosts: trimAll(c.AdminHosts)},
		},
		JWT:               jc,
		Keys:              kc,
		RefreshTTL:        session.RefreshTTL(c.RefreshTokenTTL),
		IdleTimeout:       session.IdleTimeout(c.SessionIdle),
		StepUpMaxAge:      appmfa.StepUpMaxAge(c.StepUpMaxAge),
		RefreshReuseGrace: app.RefreshReuseGrace(c.RefreshReuseGrace),
		VerificationTTL:   account.VerificationTTL(c.VerifyTokenTTL),
		RequireVerified:   app.RequireVerifiedEmail(c.RequireVerifiedEmail),
		PasswordMinLength: c.PasswordMinLength,
		Argon2: argon2id.Options{
			Params:        argon2id.Params{MemoryKiB: c.Argon2MemoryKiB, Iterations: c.Argon2Iterations, Parallelism: c.Argon2Parallelism},
			MaxConcurrent: c.HashConcurrency,
			MaxWait:       c.HashMaxWait,
		},
		Firebase:  firebase,
		Limits:    c.limitPolicy,
		Outbox:    ob,
		Webhooks:  appwebhook.DefaultConfig(),
		Retention: maintenance.RetentionPeriod(c.Retention),
		InviteTTL: admin.InviteTTL(c.InviteTokenTTL),
		Version:   admin.Version(binaryVersion()),
		// Private addresses: refused at creation and when connecting.
		WebhookAllowPrivate: appwebhook.AllowPrivate(c.WebhookAllowPrivate),

		WebAuthnRPID: c.WebAuthnRPID,
		Upstream:     providers,
	}, nil
}

// loadKeyFiles reads GATEHOUSE_JWT_PRIVATE_KEY_FILE's key and the public
// keys of GATEHOUSE_JWT_PREVIOUS_KEY_FILES, which stay published beside it:
// the EdDSA keys (the RS256 keys stay in the store's ring).
func loadKeyFiles(current string, previous []string) (*keys.FileKeys, error) {
	priv, err := jwt.LoadPrivateKeyFile(current)
	if err != nil {
		return nil, err
	}
	files := &keys.FileKeys{Current: app.SigningKey{Alg: signingkey.EdDSA, Private: priv.Seed()}}
	if files.Current.KID, err = jwt.Thumbprint(priv.Public()); err != nil {
		return nil, err
	}
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

// newMailer is SMTP when GATEHOUSE_SMTP_URL is set, else the development
// file mailer, with a warning. Either names the product GATEHOUSE_APP_NAME.
func newMailer(c Config, log *zap.Logger) (outbox.Mailer, error) {
	r, err := mailer.NewNamedRenderer(c.AppName)
	if err != nil {
		return nil, err
	}
	if c.SMTPURL == "" {
		dir := filepath.Join(c.DataDir, "mail")
		log.Warn("GATEHOUSE_SMTP_URL is not set: mail is NOT delivered; each mail is written as an .eml file instead. For development only.", zap.String("mail_dir", dir))
		return mailer.NewFile(dir, c.MailFrom, log, mailer.WithFileRenderer(r))
	}
	sc, err := mailer.ParseSMTPURL(c.SMTPURL)
	if err != nil {
		return nil, err
	}
	return mailer.NewSMTP(sc, c.MailFrom, mailer.WithRenderer(r))
}

func trimAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimRight(strings.TrimSpace(s), "/"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func serve(ctx context.Context, cfg Config, env map[string]string, p procIO) (err error) {
	log, err := newLogger(cfg, p.stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// The OpenID Connect library logs through the process's slog default
	// (request details at info, refusals at warn). Gatehouse logs its own
	// requests and errors through log, so the library's lines would only
	// repeat them, possibly with request parameters: they are dropped.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	log.Info("starting gatehouse", zap.Any("config", cfg.Redacted()), cfg.store.logField())
	warnUnknownEnv(log, cfg.unknownEnv)
	warnOperatorSurfaces(log, cfg)
	wc, err := wireConfig(cfg)
	if err != nil {
		return err
	}
	if wc.HTTP.Admin.MetricsToken, err = readMetricsToken(cfg.MetricsTokenFile); err != nil {
		return err
	}
	setMemory(log, deriveMemory(env, wc.Argon2.MemoryBound()), wc.Argon2.MemoryBound(), p.setMemory)
	if cfg.RateLimitDisabled {
		log.Warn("GATEHOUSE_RATE_LIMIT_DISABLED is true: no rate limits are enforced. For benchmarks only.")
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil && net.ParseIP(u.Hostname()) != nil {
		log.Warn("GATEHOUSE_PUBLIC_URL has an IP address: passkeys are off (they need a domain name); the passkey endpoints answer 404 passkeys_unavailable.")
	}
	a := cfg.storage(time.Minute, log)
	release, err := a.Own()
	if err != nil {
		return err
	}
	defer release()
	if cfg.AutoMigrate {
		if err := a.MigrateUp(ctx); err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
	}
	st, key, err := openStoreAndKey(ctx, cfg, a, log)
	if err != nil {
		return err
	}
	defer st.Close()
	mail, err := newMailer(cfg, log)
	if err != nil {
		return err
	}
	g, err := gwire.BuildServer(ctx, wc, st, key, mail, log)
	if err != nil {
		return a.Explain(err)
	}

	ln, err := listen("HTTP_ADDR", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	at := listening{HTTP: ln.Addr().String()}
	var aln net.Listener
	if cfg.AdminAddr != "" {
		if aln, err = listen("ADMIN_ADDR", cfg.AdminAddr); err != nil {
			_ = ln.Close()
			return err
		}
		at.Admin = aln.Addr().String()
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- g.HTTP.Listener(ln) }()
	if aln != nil {
		go func() { serveErr <- g.Admin.Listener(aln) }()
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); g.Outbox.Run(bg) }()
	go func() { defer wg.Done(); g.Webhooks.Run(bg) }()
	go func() { defer wg.Done(); g.Janitor.Run(bg, 5*time.Minute) }()
	go func() { defer wg.Done(); g.Keys.Run(bg, cfg.KeyRefreshInterval) }()

	log.Info("listening", zap.String("addr", at.HTTP), zap.String("admin_addr", at.Admin))
	if p.onListening != nil {
		p.onListening(at)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down", zap.Duration("timeout", cfg.ShutdownTimeout))
	case err = <-serveErr:
		log.Error("http server stopped", zap.Error(err))
	}
	// Stop accepting and drain in-flight requests, then the workers, then
	// (deferred) the pool and the log.
	if shutErr := g.HTTP.ShutdownWithTimeout(cfg.ShutdownTimeout); shutErr != nil {
		log.Warn("http shutdown", zap.Error(shutErr))
	}
	if aln != nil {
		if shutErr := g.Admin.ShutdownWithTimeout(cfg.ShutdownTimeout); shutErr != nil {
			log.Warn("admin http shutdown", zap.Error(shutErr))
		}
	}
	stopBG()
	wg.Wait()
	log.Info("stopped")
	return err
}

// listen opens the listener of one GATEHOUSE_ address variable. Its errors
// name the variable; an address another program holds also says how to
// move it (the public listener's links follow GATEHOUSE_PUBLIC_URL).
func listen(variable, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	name := envPrefix + variable
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	how := "set " + name + " to a free address, e.g. " + name + "=127.0.0.1:8091, or to empty to turn the admin listener off"
	if variable == "HTTP_ADDR" {
		how = "set " + name + " to a free address and " + envPrefix + "PUBLIC_URL to match, e.g. " +
			name + "=127.0.0.1:8090 " + envPrefix + "PUBLIC_URL=http://localhost:8090"
	}
	return nil, fmt.Errorf("%s: %s is already in use by another program; %s", name, addr, how)
}

// issuerName is the name authenticator apps list TOTP codes under:
// GATEHOUSE_APP_NAME when it is set, else "" (the public URL's host).
func issuerName(c Config) string {
	if c.appNameSet {
		return c.AppName
	}
	return ""
}
