package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database file at path to dest
// with VACUUM INTO: one read transaction, so the copy is the state of one
// commit, taken while writes go on (WAL readers do not block the writer,
// nor are blocked by it); it works beside a running server and takes no
// serve lock. The copy is compacted, holds no WAL, and is an ordinary
// database file that Open and MigrateStatus accept.
//
// dest must not exist: Backup never overwrites a file. The copy is created
// with mode 0600 (it holds password hashes and the signing key), its
// directory with 0700 when missing, and it is synced to disk before Backup
// returns. On failure no partial copy is left behind.
func Backup(ctx context.Context, path, dest string) (err error) {
	src, err := existing(path)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	out, err := absPath(dest)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	// Created here, exclusively: an existing dest is refused, even one
	// appearing concurrently, and the mode is ours. VACUUM INTO accepts an
	// empty file.
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("sqlite: backup: %s already exists; refusing to overwrite it", out)
	}
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(out)
			_ = os.Remove(out + "-journal")
		}
	}()

	db, err := sql.Open("sqlite", dsn(src, nil))
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	db.SetMaxOpenConns(1)
	_, err = db.ExecContext(ctx, `VACUUM INTO $1`, out)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", src, translate(err, nil))
	}
	if err := os.Chmod(out, 0o600); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncPath(out); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	// The directory entry too, so that the copy survives a power loss.
	_ = syncPath(filepath.Dir(out))
	return nil
}

// Backup writes a consistent copy of the database to dest (see the
// function Backup); writes go on meanwhile.
func (d *DB) Backup(ctx context.Context, dest string) error { return Backup(ctx, d.path, dest) }

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}
