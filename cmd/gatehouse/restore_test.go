package main

// Backup and restore, as the README documents them: the test runs the
// README's own shell blocks (with `gatehouse` being this test binary
// re-entering main), restores a store without its secret key (every
// command and serve refuse, name the key file, and make no key), then with
// it (the user logs in with the password and a TOTP code).

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app/keys"
)

// readmeBlock is the README's ```sh block whose first line is "# "+title.
func readmeBlock(t *testing.T, title string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```sh\n# " + regexp.QuoteMeta(title) + "[^\n]*\n(.*?)```")
	m := re.FindSubmatch(raw)
	if m == nil {
		t.Fatalf("README has no ```sh block titled %q", title)
	}
	return string(m[1])
}

// runReadmeBlock runs a README block with bash in dir; `gatehouse` on its
// PATH is this test binary running main(). env is the whole GATEHOUSE_
// environment the block sees, plus its own variables.
func runReadmeBlock(t *testing.T, title, dir string, env map[string]string) {
	t.Helper()
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nGATEHOUSE_TEST_RUN_MAIN=1 GATEHOUSE_TEST_ARGS=\"$*\" exec '" + os.Args[0] + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "gatehouse"), []byte(wrapper), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", readmeBlock(t, title))
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GATEHOUSE_") {
			continue
		}
		if strings.HasPrefix(kv, "PATH=") {
			kv = "PATH=" + bin + string(os.PathListSeparator) + strings.TrimPrefix(kv, "PATH=")
		}
		cmd.Env = append(cmd.Env, kv)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README block %q: %v\n%s", title, err, out)
	}
}

// restoredEnv is env without the original's store, data directory and
// key file, plus set.
func restoredEnv(t *testing.T, env map[string]string, set map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range env {
		switch k {
		case "GATEHOUSE_DATABASE_URL", "GATEHOUSE_DATA_DIR", "GATEHOUSE_SECRET_KEY_FILE":
		default:
			out[k] = v
		}
	}
	for k, v := range set {
		out[k] = v
	}
	return out
}

// assertRefusedWithoutKey: serve and every command that opens the store
// exit with an error naming expected (where the key should be), and no
// file appears there.
func assertRefusedWithoutKey(t *testing.T, env map[string]string, expected string) {
	t.Helper()
	for _, args := range [][]string{{"keys", "list"}, {"users", "list"}, {"admin-keys", "list"}, {"serve"}} {
		_, err := cli(t, env, "", args...)
		if err == nil || !strings.Contains(err.Error(), expected) {
			t.Fatalf("gatehouse %s on a store restored without its key: %v; want an error naming %s", strings.Join(args, " "), err, expected)
		}
		if strings.HasPrefix(expected, "/") {
			if _, err := os.Stat(expected); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("gatehouse %s made %s (%v)", strings.Join(args, " "), expected, err)
			}
		}
	}
}

// loginWithTOTP logs u in on inst with the password and a fresh code.
func loginWithTOTP(t *testing.T, inst *instance, u mfaUser) {
	t.Helper()
	c := newClient(t, inst)
	tok := passwordStep(t, c, u.addr, strongPassword)
	if r := codeStep(c, tok, u.auth.next(t)); r.Status != http.StatusOK {
		t.Fatalf("second factor on the restored store: %d %s", r.Status, r.Body)
	}
}

func TestBackupAndRestoreAsDocumented(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to run the README's blocks")
	}
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		work, backups := t.TempDir(), t.TempDir()
		f := newFixtureWith(t, onSQLite, map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(work, "data")})
		u := enroll(t, f)
		// The block runs from the directory that holds data/, with the
		// default data directory.
		env := restoredEnv(t, f.env, map[string]string{"BACKUP": backups})
		runReadmeBlock(t, "backup, embedded store", work, env)

		// Restored without the key: refused, nothing made.
		bare := t.TempDir()
		if err := os.MkdirAll(filepath.Join(bare, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(backups, "gatehouse.db"), filepath.Join(bare, "data", "gatehouse.db"))
		assertRefusedWithoutKey(t, restoredEnv(t, f.env, map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(bare, "data")}), filepath.Join(bare, "data", "secret.key"))

		// Restored as documented: the user logs in with the second factor.
		f.inst.stop()
		into := t.TempDir()
		runReadmeBlock(t, "restore, embedded store", into, env)
		loginWithTOTP(t, start(t, restoredEnv(t, f.env, map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(into, "data")})), u)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("pg_dump"); err != nil {
			t.Fatal("pg_dump and psql are needed (postgresql-client)")
		}
		backups := t.TempDir()
		keyFile := filepath.Join(t.TempDir(), "secret.key")
		if err := os.WriteFile(keyFile, []byte(mustCLI(t, nil, "keygen", "--secret")), 0o600); err != nil {
			t.Fatal(err)
		}
		f := newFixtureWith(t, onPostgres, map[string]string{"GATEHOUSE_SECRET_KEY_FILE": keyFile})
		u := enroll(t, f)
		restored := pgtest.NewEmptyDatabase(t)
		runReadmeBlock(t, "backup, PostgreSQL", t.TempDir(), map[string]string{
			"BACKUP": backups, "GATEHOUSE_DATABASE_URL": dbOf(f.env), "GATEHOUSE_SECRET_KEY_FILE": keyFile,
		})
		runReadmeBlock(t, "restore, PostgreSQL", t.TempDir(), map[string]string{"BACKUP": backups, "RESTORED_URL": restored})

		// Restored without the key file: refused, naming it, making none;
		// nor is a key made in the database when the variable is unset.
		missing := filepath.Join(t.TempDir(), "secret.key")
		assertRefusedWithoutKey(t, restoredEnv(t, f.env, map[string]string{"GATEHOUSE_DATABASE_URL": restored, "GATEHOUSE_SECRET_KEY_FILE": missing}), missing)
		unset := restoredEnv(t, f.env, map[string]string{"GATEHOUSE_DATABASE_URL": restored})
		assertRefusedWithoutKey(t, unset, "secret_key")
		var missingErr *keys.MissingSecretKeyError
		if _, err := cli(t, unset, "", "keys", "list"); !errors.As(err, &missingErr) {
			t.Fatalf("keys list without any key: %v, want the missing-key error", err)
		}
		if n := openStore(t, unset).count(t, `SELECT count(*) FROM settings WHERE name = 'secret_key'`); n != 0 {
			t.Fatalf("a secret key was made in the restored database (%d rows)", n)
		}

		// Restored with it: the user logs in with the second factor.
		loginWithTOTP(t, start(t, restoredEnv(t, f.env, map[string]string{"GATEHOUSE_DATABASE_URL": restored, "GATEHOUSE_SECRET_KEY_FILE": filepath.Join(backups, "secret.key")})), u)
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
