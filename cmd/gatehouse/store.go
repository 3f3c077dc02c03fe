package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/secretbox"
	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/adapters/system"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/keys"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	gwire "github.com/gatehouse-auth/gatehouse/wire"
	"go.uber.org/zap"
)

// logField is the store as a log field.
func (s store) logField() zap.Field {
	where := zap.String("url", redactURL(s.URL))
	if s.Kind == storeSQLite {
		where = zap.String("path", s.Path)
	}
	return zap.Dict("store", zap.String("kind", string(s.Kind)), where)
}

// storage is the configured store's adapter: the one place that picks a
// store. Adding a store is its adapter package, its migrations, one case
// here, and the contract suite. MigrateUp waits up to migrateWait for a
// database server that is still starting, telling log of each retry.
func (c Config) storage(migrateWait time.Duration, log *zap.Logger) storage.Adapter {
	switch c.store.Kind {
	case storeSQLite:
		return sqlite.Config{Path: c.store.Path, SecretKeyFile: filepath.Join(c.DataDir, secretKeyFile)}
	default:
		return postgres.Config{URL: c.store.URL, MigrateWait: migrateWait, Log: log}
	}
}

// openStoreAndKey opens the store and finds the key that seals its secrets:
// what both injectors take besides the configuration. The caller closes
// the store.
func openStoreAndKey(ctx context.Context, cfg Config, a storage.Adapter, log *zap.Logger) (*storage.Store, gwire.SecretKey, error) {
	st, err := a.Open(ctx)
	if err != nil {
		return nil, nil, a.Explain(err)
	}
	key, err := secretKey(ctx, cfg, st, log)
	if err != nil {
		st.Close()
		return nil, nil, a.Explain(err)
	}
	return st, key, nil
}

// secretKey reads GATEHOUSE_SECRET_KEY_FILE or, without it, the key the
// store keeps, with a warning: PostgreSQL keeps it in the database (made
// once); the embedded store in a file beside the database, made (once,
// mode 0600) only for a database that holds no sealed secret yet.
func secretKey(ctx context.Context, cfg Config, st *storage.Store, log *zap.Logger) (gwire.SecretKey, error) {
	if cfg.SecretKeyFile != "" {
		return secretbox.ReadKeyFile(cfg.SecretKeyFile)
	}
	if st.SecretKeyFile == "" {
		log.Warn("GATEHOUSE_SECRET_KEY_FILE is not set: the key that seals signing keys and TOTP secrets is kept in the database, so a database dump holds everything needed to read them. Set GATEHOUSE_SECRET_KEY_FILE in production (see SECURITY.md).")
		return keys.StoredSecretKey(ctx, st.Settings, st.Repos.SigningKeys, system.Clock{}, secretbox.NewKey)
	}
	key, err := keys.KeptSecretKey(ctx, st.Settings, st.Repos.SigningKeys, secretbox.KeyFile{Path: st.SecretKeyFile})
	if err != nil {
		return nil, err
	}
	log.Warn("GATEHOUSE_SECRET_KEY_FILE is not set: the key that seals signing keys and TOTP secrets is kept in a file beside the database; back it up with the database, apart from it.",
		zap.String("secret_key_path", st.SecretKeyFile))
	return key, nil
}

// migrate runs `migrate up|down|status` on the store.
func migrate(ctx context.Context, a storage.Adapter, cmd string, stdout io.Writer) error {
	switch cmd {
	case "up":
		return a.MigrateUp(ctx)
	case "down":
		return a.MigrateDown(ctx)
	case "status":
		return a.MigrateStatus(ctx, stdout)
	}
	return errors.New("usage: gatehouse migrate up|down|status")
}

// auditVerify checks the hash chain of the store's audit trail.
func auditVerify(ctx context.Context, a storage.Adapter, stdout io.Writer) error {
	st, err := a.Open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := admin.VerifyAuditChain(ctx, st.AuditTrail)
	if err != nil {
		return fmt.Errorf("audit chain broken: %w", err)
	}
	fmt.Fprintf(stdout, "audit chain ok: %d events\n", n)
	return nil
}

// backup writes a consistent copy of the store to dest, also while serve
// runs (the embedded store; PostgreSQL has its own tools for that).
func backup(ctx context.Context, a storage.Adapter, from, dest string, stdout io.Writer) error {
	if err := a.Backup(ctx, dest); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %s written to %s\n", from, dest)
	// The sealed secrets in the copy open only with the secret key, which
	// the copy does not hold (on purpose: keep the two apart).
	fmt.Fprintln(stdout, "the secret key that opens its signing keys and TOTP secrets is not in it: keep a copy of GATEHOUSE_SECRET_KEY_FILE (or DATA_DIR/secret.key) apart from the backup, and restore with it")
	return nil
}
