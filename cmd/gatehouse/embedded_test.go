package main

// What the embedded store adds, end to end: one serving process per
// database file, data (users, sessions, the signing key) kept across
// restarts, mail written as files when no SMTP server is configured,
// online backups, and readiness. Where a behaviour is natural on
// PostgreSQL too (restarts, mail files, backup's answer) the test runs on
// both stores.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// sqlitePath is the embedded database file of an environment.
func sqlitePath(t *testing.T, env map[string]string) string {
	t.Helper()
	s := storeOf(t, env)
	if s.Kind != storeSQLite {
		t.Fatalf("the environment's store is %s, not the embedded one", s.Kind)
	}
	return s.Path
}

// mailDirOf is where an instance without SMTP writes its mail.
func mailDirOf(env map[string]string) string {
	return filepath.Join(env["GATEHOUSE_DATA_DIR"], "mail")
}

// mailFile is one mail an instance wrote to its mail directory, parsed
// like a mail the SMTP test server received.
type mailFile struct {
	Name string // the file name
	Path string
	smtptest.Message
}

// mailFileName is <UTC time>-<kind>-<mail id>.eml.
var mailFileName = regexp.MustCompile(`^(\d{8}T\d{6}\.\d{9}Z)-([a-z_]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.eml$`)

// readMailFiles lists the mail files in dir in the order of their names,
// parsed; files being written (dot-prefixed temporaries) are left out.
func readMailFiles(t *testing.T, dir string) []mailFile {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []mailFile
	for _, e := range entries { // ReadDir sorts by name
		if strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mailFile{Name: e.Name(), Path: p, Message: parseMailFile(t, p, raw)})
	}
	return out
}

// parseMailFile reads the recipients, subject and text and HTML parts of
// an RFC 5322 message.
func parseMailFile(t *testing.T, path string, raw []byte) smtptest.Message {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s is not a mail: %v", path, err)
	}
	m := smtptest.Message{Data: raw, Header: msg.Header}
	to, err := msg.Header.AddressList("To")
	if err != nil {
		t.Fatalf("%s: To: %v", path, err)
	}
	for _, a := range to {
		m.To = append(m.To, a.Address)
	}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("%s: Subject: %v", path, err)
	}
	var walk func(contentType string, body io.Reader)
	walk = func(contentType string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(contentType)
		if err != nil {
			t.Fatalf("%s: Content-Type %q: %v", path, contentType, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextPart() // undoes quoted-printable
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				walk(p.Header.Get("Content-Type"), p)
			}
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		text := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch {
		case mt == "text/plain" && m.Text == "":
			m.Text = text
		case mt == "text/html" && m.HTML == "":
			m.HTML = text
		}
	}
	walk(msg.Header.Get("Content-Type"), msg.Body)
	return m
}

// mailFileTo waits for the n-th mail file (1-based, in name order) to
// addr and returns it.
func mailFileTo(t *testing.T, dir, addr string, n int) mailFile {
	t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		var got []mailFile
		for _, f := range readMailFiles(t, dir) {
			if slices.ContainsFunc(f.To, func(to string) bool { return strings.EqualFold(to, addr) }) {
				got = append(got, f)
			}
		}
		if len(got) >= n {
			return got[n-1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail file #%d to %s in %s within 25s", n, addr, dir)
	return mailFile{}
}

// TestMailGoesToFilesWithoutSMTP: without GATEHOUSE_SMTP_URL every mail is
// an .eml file in GATEHOUSE_DATA_DIR/mail (directory 0700, files 0600)
// whose name sorts by time and shows the kind; the whole account life
// (register, verify with the mailed token and the password, login,
// refresh, forgot, reset, login) works through those files alone; the log
// names each file and holds neither a link nor a token.
func TestMailGoesToFilesWithoutSMTP(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		env := baseEnv(t, st, nil)
		inst := start(t, env)
		c := newClient(t, inst)
		dir := mailDirOf(env)
		addr := randomEmail()

		if r := c.post("/v1/register", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		verifyMail := mailFileTo(t, dir, addr, 1)
		vt := tokenFrom(t, verifyMail.Message, "/verify-email")
		if r := c.post("/v1/verify-email", map[string]string{"token": vt, "password": strongPassword}); r.Status != http.StatusOK {
			t.Fatalf("verify with the token from the file: %d %s", r.Status, r.Body)
		}
		_, refresh := login(t, c, addr, strongPassword)
		r := c.post("/v1/token/refresh", map[string]string{"refresh_token": refresh})
		if r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		if me := c.bearer(http.MethodGet, "/v1/me", r.JSON(t)["access_token"].(string), nil); me.Status != http.StatusOK {
			t.Fatalf("me with the refreshed token: %d %s", me.Status, me.Body)
		}
		if r := c.post("/v1/password/forgot", map[string]string{"email": addr}); r.Status != http.StatusAccepted {
			t.Fatalf("forgot: %d %s", r.Status, r.Body)
		}
		resetMail := mailFileTo(t, dir, addr, 2)
		rt := tokenFrom(t, resetMail.Message, "/reset-password")
		const newPassword = "a new passphrase from a mail file"
		if r := c.post("/v1/password/reset", map[string]string{"token": rt, "password": newPassword}); r.Status != http.StatusNoContent {
			t.Fatalf("reset with the token from the file: %d %s", r.Status, r.Body)
		}
		if r := c.post("/v1/login", map[string]string{"email": addr, "password": strongPassword}); r.Status != http.StatusUnauthorized {
			t.Fatalf("old password after the reset: %d", r.Status)
		}
		login(t, c, addr, newPassword)
		mailFileTo(t, dir, addr, 3) // the password-changed notice

		// The files: private, named by time and kind, in the order the
		// mails were caused.
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("mail directory %s: %v, mode %v, want 0700", dir, err, fi.Mode().Perm())
		}
		files := readMailFiles(t, dir)
		var kinds, times []string
		for _, f := range files {
			fi, err := os.Stat(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", f.Name, fi.Mode().Perm())
			}
			m := mailFileName.FindStringSubmatch(f.Name)
			if m == nil {
				t.Fatalf("mail file name %q is not <time>-<kind>-<id>.eml", f.Name)
			}
			if m[2] != mailKind(f.Message) {
				t.Errorf("%s: the name says %s, the subject %q", f.Name, m[2], f.Subject)
			}
			times, kinds = append(times, m[1]), append(kinds, m[2])
		}
		if want := []string{"verify_email", "reset_password", "password_changed"}; !slices.Equal(kinds, want) {
			t.Fatalf("mail files in name order: %v, want %v", kinds, want)
		}
		if !slices.IsSorted(times) {
			t.Fatalf("times in the names are not in order: %v", times)
		}
		if first, err := time.Parse("20060102T150405.000000000Z", times[0]); err != nil || time.Since(first) > time.Minute || time.Since(first) < 0 {
			t.Fatalf("time in the first name %q: %v (%v ago)", times[0], err, time.Since(first))
		}

		// The log names every file and holds no link or token.
		if err := inst.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		log := inst.Logs.String()
		for _, f := range files {
			if !strings.Contains(log, f.Path) {
				t.Errorf("the log does not name %s", f.Path)
			}
		}
		if !strings.Contains(log, "GATEHOUSE_SMTP_URL is not set") {
			t.Errorf("no startup warning that mail is not delivered")
		}
		assertNotInLog(t, log, secretSet{
			"verification token": vt, "reset token": rt,
			"verification link": testPublicURL + "/verify-email?token=", "reset link": testPublicURL + "/reset-password?token=",
		})
	})
}

// TestSecondServeOnTheSameFileIsRefused: the embedded store belongs to one
// serving process. A second serve on the same file, found through the
// same data directory or named with sqlite:PATH, fails at once, never
// listens, and says that embedded mode is one process and that several
// instances need PostgreSQL; the first serve goes on serving. Embedded
// store only: several instances on one PostgreSQL database are the
// normal deployment (TestTwoInstancesShareTokensAndReuseDetection).
func TestSecondServeOnTheSameFileIsRefused(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, onSQLite, nil)
	first := start(t, env)
	named := maps.Clone(env)
	named["GATEHOUSE_DATABASE_URL"] = "sqlite:" + filepath.Join(env["GATEHOUSE_DATA_DIR"], "gatehouse.db")
	for name, e := range map[string]map[string]string{"same data directory": env, "sqlite:PATH": named} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		began := time.Now()
		err := run(ctx, []string{"serve"}, e, io.Discard, io.Discard, func(addr string) {
			t.Errorf("%s: a second serve listened on %s", name, addr)
		})
		cancel()
		if err == nil {
			t.Fatalf("%s: a second serve on the same file started", name)
		}
		if msg := err.Error(); !strings.Contains(msg, "embedded mode is one process") || !strings.Contains(msg, "PostgreSQL") || !errors.Is(err, sqlite.ErrInUse) {
			t.Errorf("%s: error %q does not say that embedded mode is one process and to use PostgreSQL", name, msg)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("%s: the refusal took %v", name, d)
		}
	}
	if r := newClient(t, first).do(http.MethodGet, "/readyz", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("the first serve after the refused ones: readyz %d %s", r.Status, r.Body)
	}
}

// TestRestartKeepsUsersSessionsAndSigningKey: serve stops and starts again
// on the same store; users, sessions and the signing key are still there:
// an access token from before the restart still works on /v1/me, a
// refresh token from before still refreshes, the password still logs in,
// and the JWKS is the same. On the embedded store the second serve names
// the file with sqlite:PATH, its default place in the data directory.
func TestRestartKeepsUsersSessionsAndSigningKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixture(t, st)
		env, first, c := f.env, f.inst, f.c
		addr, access, refresh := f.signedIn(t)
		jwks := c.do(http.MethodGet, "/.well-known/jwks.json", nil, nil)
		if err := first.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}

		again := maps.Clone(env)
		if st == onSQLite {
			path := filepath.Join(env["GATEHOUSE_DATA_DIR"], "gatehouse.db")
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("embedded database %s: %v, mode %v, want 0600", path, err, fi.Mode().Perm())
			}
			again["GATEHOUSE_DATABASE_URL"] = "sqlite:" + path
		}
		c2 := clientAt(c, start(t, again))
		if me := c2.bearer(http.MethodGet, "/v1/me", access, nil); me.Status != http.StatusOK {
			t.Fatalf("access token from before the restart: %d %s", me.Status, me.Body)
		}
		if j := c2.do(http.MethodGet, "/.well-known/jwks.json", nil, nil); string(j.Body) != string(jwks.Body) {
			t.Fatalf("the signing key changed with the restart:\n%s\n%s", jwks.Body, j.Body)
		}
		r := c2.post("/v1/token/refresh", map[string]string{"refresh_token": refresh})
		if r.Status != http.StatusOK {
			t.Fatalf("refresh token from before the restart: %d %s", r.Status, r.Body)
		}
		if me := c2.bearer(http.MethodGet, "/v1/me", r.JSON(t)["access_token"].(string), nil); me.Status != http.StatusOK {
			t.Fatalf("access token refreshed after the restart: %d %s", me.Status, me.Body)
		}
		login(t, c2, addr, strongPassword)
	})
}

// TestBackupWhileServing: on the embedded store, `gatehouse backup PATH`
// beside a running serve writes a private file that is a valid database
// holding the users, refuses to overwrite it, and serve goes on; another
// serve started on the copy lets the user log in. On PostgreSQL backup
// refuses and points at pg_dump.
func TestBackupWhileServing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixture(t, st)
		addr := f.verifiedUser(t)
		dest := filepath.Join(t.TempDir(), "backups", "gatehouse-copy.db")
		var out bytes.Buffer
		err := run(context.Background(), []string{"backup", dest}, f.env, &out, io.Discard, nil)
		if st == onPostgres {
			if err == nil || !strings.Contains(err.Error(), "pg_dump") {
				t.Fatalf("backup on PostgreSQL: %v, want a refusal naming pg_dump", err)
			}
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Fatalf("backup on PostgreSQL left %s (%v)", dest, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		if !strings.Contains(out.String(), dest) {
			t.Errorf("backup output %q does not name %s", out.String(), dest)
		}
		if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("backup file %s: %v, mode %v, want 0600", dest, err, fi.Mode().Perm())
		}
		copyDB := openSQLiteFile(t, dest)
		if ok := copyDB.text(t, `PRAGMA integrity_check`); ok != "ok" {
			t.Fatalf("integrity_check of the backup: %s", ok)
		}
		if n := copyDB.count(t, `SELECT count(*) FROM users WHERE email = $1 AND is_verified = 1`, addr); n != 1 {
			t.Fatalf("the backup holds %d verified users %s, want 1", n, addr)
		}
		if err := run(context.Background(), []string{"backup", dest}, f.env, io.Discard, io.Discard, nil); err == nil {
			t.Fatal("backup overwrote an existing file")
		}
		login(t, f.c, addr, strongPassword) // serve went on
		if err := copyDB.Close(); err != nil {
			t.Fatal(err)
		}

		// The copy is a store serve runs on: a restore is a copy back,
		// with the secret key it was sealed under (not in the copy).
		if !strings.Contains(out.String(), "secret key") {
			t.Errorf("backup output %q does not say the secret key is not in it", out.String())
		}
		restored := baseEnv(t, onSQLite, nil)
		restored["GATEHOUSE_DATABASE_URL"] = "sqlite:" + dest
		if _, err := cli(t, restored, "", "keys", "list"); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SECRET_KEY_FILE") {
			t.Fatalf("a restore without the secret key: %v", err)
		}
		restored["GATEHOUSE_SECRET_KEY_FILE"] = filepath.Join(f.env["GATEHOUSE_DATA_DIR"], "secret.key")
		login(t, newClient(t, start(t, restored)), addr, strongPassword)
	})
}

// TestReadyzOnTheEmbeddedStore: on the embedded store /readyz and /healthz
// answer 200, and the log names the store's file at its default place.
// The sqlite counterpart of TestReadyzFollowsTheDatabase.
func TestReadyzOnTheEmbeddedStore(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, onSQLite, nil)
	inst := start(t, env)
	c := newClient(t, inst)
	for _, p := range []string{"/readyz", "/healthz"} {
		if r := c.do(http.MethodGet, p, nil, nil); r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, r.Status, r.Body)
		}
	}
	path := sqlitePath(t, env)
	if want := filepath.Join(env["GATEHOUSE_DATA_DIR"], "gatehouse.db"); path != want {
		t.Fatalf("store path %s, want %s", path, want)
	}
	if !strings.Contains(inst.Logs.String(), `"kind":"sqlite","path":"`+path+`"`) {
		t.Fatalf("the log does not name the embedded store's file %s:\n%s", path, inst.Logs)
	}
}
