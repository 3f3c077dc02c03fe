package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// transferCLI runs a gatehouse command and returns its stdout, its stderr
// and its error.
func transferCLI(env map[string]string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := runWith(context.Background(), args, env, procIO{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut})
	return out.String(), errOut.String(), err
}

// hashVector is a password and its hash in a format users arrive with.
type hashVector struct {
	Format, Password, Hash string
}

// importVectors are one hash of each format: those of the hasher's tests
// (made by the formats' own code, adapters/passhash/testdata), Go's
// bcrypt, and Firebase's published sample user.
func importVectors(t *testing.T) []hashVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "adapters", "passhash", "testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all []hashVector
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	var out []hashVector
	seen := map[string]bool{}
	for _, v := range all {
		if !seen[v.Format] {
			seen[v.Format] = true
			out = append(out, v)
		}
	}
	b, err := bcrypt.GenerateFromPassword([]byte(strongPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return append(out,
		hashVector{Format: "bcrypt", Password: strongPassword, Hash: "$2y$" + string(b[4:])},
		hashVector{Format: "firebase-scrypt", Password: "user1password",
			Hash: "$firebase-scrypt$42xEC+ixf3L2lw==$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="})
}

// firebaseEnv is the configuration of Firebase's published sample
// project, its signer key in a file of dir.
func firebaseEnv(t *testing.T, dir string) map[string]string {
	t.Helper()
	key := filepath.Join(dir, "firebase.key")
	if err := os.WriteFile(key, []byte("jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"GATEHOUSE_FIREBASE_SIGNER_KEY_FILE": key, "GATEHOUSE_FIREBASE_SALT_SEPARATOR": "Bw==", "GATEHOUSE_FIREBASE_ROUNDS": "8", "GATEHOUSE_FIREBASE_MEM_COST": "14"}
}

// exported reads an export file: each address's line.
func exported(t *testing.T, path string) map[string]transferRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]transferRecord{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r transferRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out[r.Email] = r
	}
	return out
}

// Users arrive with hashes of every format from a file whose bad lines
// fail by number; a second run skips what the first stored; each user
// logs in with their old password, after which the stored hash is
// argon2id; an export holds every user with the stored hash and imports
// again.
func TestUsersImportLoginAndExport(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		dir := t.TempDir()
		f := newFixtureWith(t, st, firebaseEnv(t, dir))
		vs := importVectors(t)
		emails := make([]string, len(vs))
		var lines []string
		for i, v := range vs {
			emails[i] = randomEmail()
			rec, _ := json.Marshal(map[string]any{"email": emails[i], "email_verified": true, "password_hash": v.Hash, "created_at": "2021-03-04T05:06:07Z"})
			lines = append(lines, string(rec))
		}
		bad := len(lines)
		lines = append(lines,
			`{"email": "broken`,
			``,
			fmt.Sprintf(`{"email": %q, "email_verified": true, "password_hash": "md5$abc$def"}`, randomEmail()),
			`{"email": "not an address", "password_hash": "$2b$04$abc"}`,
			fmt.Sprintf(`{"email": %q, "password_hash": "$2b$17$abcdefghijklmnopqrstuuNqGj3WcXjq8ZbXtwlfmXyBnZfPRIj6W"}`, randomEmail()),
			fmt.Sprintf(`{"email": %q, "email_verified": "yes", "password_hash": "$2b$04$abc"}`, randomEmail()),
		)
		file := filepath.Join(dir, "users.jsonl")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}

		out, errOut, err := transferCLI(f.env, "users", "import", file)
		if err == nil {
			t.Fatal("an import with bad lines succeeded")
		}
		if !strings.Contains(out, fmt.Sprintf("created: %d\n", len(vs))) || !strings.Contains(out, "failed: 5\n") {
			t.Fatalf("import said:\n%s\n%s", out, errOut)
		}
		// Failures by line number (1-based; the blank line is no failure).
		for _, n := range []int{bad + 1, bad + 3, bad + 4, bad + 5, bad + 6} {
			if !strings.Contains(errOut, fmt.Sprintf("line %d: ", n)) {
				t.Errorf("no failure reported for line %d:\n%s", n, errOut)
			}
		}
		if !strings.Contains(errOut, "no accepted format") || !strings.Contains(errOut, "bcrypt cost 17 is over 16") {
			t.Errorf("the failures do not say why:\n%s", errOut)
		}
		if strings.Contains(errOut, "\r") {
			t.Errorf("progress drawn as a bar on a pipe:\n%q", errOut)
		}

		// Resumable: a second run skips every stored address.
		out, _, _ = transferCLI(f.env, "users", "import", "--json", file)
		var sum importSummary
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("import --json printed %q: %v", out, err)
		}
		if sum.Created != 0 || sum.Skipped != len(vs) || sum.Failed != 5 || sum.Failures[0].Line != bad+1 {
			t.Fatalf("second run = %+v; want every user skipped", sum)
		}

		// Each logs in with the old password (a wrong one is refused),
		// and the first login leaves an argon2id hash behind.
		for i, v := range vs {
			if r := f.c.post("/v1/login", map[string]string{"email": emails[i], "password": v.Password + "!"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("%s: a wrong password: %d %s", v.Format, r.Status, r.Body)
			}
			login(t, f.c, emails[i], v.Password)
		}
		export := filepath.Join(dir, "export.jsonl")
		if out := mustCLI(t, f.env, "users", "export", export); !strings.Contains(out, "exported: ") {
			t.Fatalf("export said %q", out)
		}
		if fi, err := os.Stat(export); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("export file: %v, mode %v; want 0600", err, fi.Mode().Perm())
		}
		got := exported(t, export)
		for i, v := range vs {
			r, ok := got[emails[i]]
			if !ok || !strings.HasPrefix(r.PasswordHash, "$argon2id$v=19$m=1024,t=1,p=1$") || !r.EmailVerified || r.CreatedAt == nil || r.CreatedAt.Format("2006-01-02T15:04:05Z") != "2021-03-04T05:06:07Z" {
				t.Fatalf("%s: exported %+v, want the argon2id hash of the upgrade and the imported times", v.Format, r)
			}
		}
		if _, _, err := transferCLI(f.env, "users", "export", export); err == nil {
			t.Fatal("export overwrote an existing file")
		}

		// Leaving and coming back: the export imports as it is.
		mustCLI(t, f.env, "users", "delete", emails[0])
		out, _, err = transferCLI(f.env, "users", "import", export)
		if err != nil || !strings.Contains(out, "created: 1\n") {
			t.Fatalf("re-import of the export: %v\n%s", err, out)
		}
		login(t, f.c, emails[0], vs[0].Password)
	})
}

// The admin API takes a hash instead of a password; an unknown format is
// 422 naming the accepted ones, an absurd cost 422 too.
func TestAdminCreateWithPasswordHash(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st testStore) {
		f := newAdminFixture(t, st)
		b, err := bcrypt.GenerateFromPassword([]byte(strongPassword), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		addr := randomEmail()
		if r := f.admin.call("POST", "/admin/v1/users", map[string]any{"email": addr, "password_hash": string(b), "email_verified": true}); r.Status != http.StatusCreated {
			t.Fatalf("create with a bcrypt hash: %d %s", r.Status, r.Body)
		}
		login(t, f.c, addr, strongPassword)

		for hash, code := range map[string]string{
			"{SSHA}abcdef": "unsupported_hash_format",
			"$2b$31$abcdefghijklmnopqrstuuNqGj3WcXjq8ZbXtwlfmXyBnZfPRIj6W": "invalid_password_hash",
			"$scrypt$ln=24,r=8,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5":        "invalid_password_hash",
		} {
			r := f.admin.call("POST", "/admin/v1/users", map[string]any{"email": randomEmail(), "password_hash": hash})
			m := r.JSON(t)
			errs, _ := m["errors"].([]any)
			if r.Status != http.StatusUnprocessableEntity || m["code"] != "validation_failed" || len(errs) != 1 {
				t.Fatalf("%s: %d %s", hash, r.Status, r.Body)
			}
			e := errs[0].(map[string]any)
			if e["field"] != "password_hash" || e["code"] != code {
				t.Fatalf("%s: error %v, want %s on password_hash", hash, e, code)
			}
			if code == "unsupported_hash_format" && !strings.Contains(e["message"].(string), "bcrypt ($2a$, $2b$, $2y$)") {
				t.Fatalf("the message does not name the accepted formats: %v", e["message"])
			}
		}
	})
}
