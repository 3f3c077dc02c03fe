package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/app/admin"
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

// migrate runs `migrate up|down|status` on the store.
func migrate(ctx context.Context, s store, cmd string, stdout io.Writer) error {
	switch {
	case cmd == "up" && s.Kind == storeSQLite:
		return sqlite.MigrateUp(ctx, s.Path)
	case cmd == "up":
		return orRefusal(s.URL, postgres.MigrateUp(ctx, s.URL))
	case cmd == "down" && s.Kind == storeSQLite:
		return sqlite.MigrateDown(ctx, s.Path)
	case cmd == "down":
		return orRefusal(s.URL, postgres.MigrateDown(ctx, s.URL))
	case cmd == "status" && s.Kind == storeSQLite:
		return sqlite.MigrateStatus(ctx, s.Path, stdout)
	case cmd == "status":
		return orRefusal(s.URL, postgres.MigrateStatus(ctx, s.URL, stdout))
	}
	return errors.New("usage: gatehouse migrate up|down|status")
}

// auditVerify checks the hash chain of the store's audit trail.
func auditVerify(ctx context.Context, s store, stdout io.Writer) error {
	var trail admin.AuditTrail
	if s.Kind == storeSQLite {
		db, err := sqlite.Open(ctx, s.Path)
		if err != nil {
			return err
		}
		defer db.Close()
		trail = sqlite.NewAuditLog(db)
	} else {
		pool, err := postgres.NewPool(ctx, s.URL)
		if err != nil {
			return err
		}
		defer pool.Close()
		trail = postgres.NewAuditLog(pool)
	}
	n, err := admin.VerifyAuditChain(ctx, trail)
	if err != nil {
		return fmt.Errorf("audit chain broken: %w", err)
	}
	fmt.Fprintf(stdout, "audit chain ok: %d events\n", n)
	return nil
}

// backup writes a consistent copy of the embedded store to dest, also while
// serve runs. PostgreSQL has its own tools for that.
func backup(ctx context.Context, s store, dest string, stdout io.Writer) error {
	if s.Kind != storeSQLite {
		return errors.New("backup copies the embedded store; on PostgreSQL use pg_dump (for example: pg_dump --format=custom --file=gatehouse.dump \"$GATEHOUSE_DATABASE_URL\")")
	}
	if err := sqlite.Backup(ctx, s.Path, dest); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %s written to %s\n", s.Path, dest)
	// The sealed secrets in the copy open only with the secret key, which
	// the copy does not hold (on purpose: keep the two apart).
	fmt.Fprintln(stdout, "the secret key that opens its signing keys and TOTP secrets is not in it: keep a copy of GATEHOUSE_SECRET_KEY_FILE (or DATA_DIR/secret.key) apart from the backup, and restore with it")
	return nil
}
