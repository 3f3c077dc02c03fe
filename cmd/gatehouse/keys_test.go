package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/jwt"
)

// verifiedUserOn registers and verifies a fresh address through c.
func (f fixture) verifiedUserOn(t *testing.T, c *client) string {
	t.Helper()
	addr := randomEmail()
	registerVerified(t, c, f.smtp, addr)
	return addr
}

// keyEnv is an instance configuration that rotates fast: a key signs two
// seconds after it is published, and instances read the ring every second.
func keyEnv(f *fixture) map[string]string {
	env := f.env
	env["GATEHOUSE_KEY_PUBLISH_DELAY"] = "2s"
	env["GATEHOUSE_KEY_REFRESH_INTERVAL"] = "1s"
	return env
}

// jwksKIDs lists the kids of an instance's JWKS.
func jwksKIDs(t *testing.T, c *client) []string {
	t.Helper()
	r := c.do(http.MethodGet, "/.well-known/jwks.json", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
			X   string `json:"x"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.KID)
	}
	slices.Sort(kids)
	return kids
}

// kidOf is the kid in a token's header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.KID
}

// eventually polls cond every 100 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type keyListEntry struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Source    string `json:"source"`
	Published bool   `json:"published"`
}

func keysList(t *testing.T, env map[string]string) map[string]keyListEntry {
	t.Helper()
	var list []keyListEntry
	if err := json.Unmarshal([]byte(mustCLI(t, env, "keys", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]keyListEntry{}
	for _, k := range list {
		out[k.ID] = k
	}
	return out
}

// The rotation an operator runs, end to end: a token signed before it
// keeps working, the new key is published at once and signs after the
// delay, and retiring the old key refuses its tokens and drops it from the
// JWKS. On PostgreSQL two instances follow the rotation and exactly one
// promotion is recorded; the embedded store has one serving process.
func TestKeyRotationEndToEnd(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixture(t, st)
		f.inst.stop() // restarted below with fast key settings
		env := keyEnv(&f)
		a := start(t, env)
		ca := newClient(t, a)
		instances := []*client{ca}
		if st == onPostgres {
			instances = append(instances, newClient(t, start(t, env)))
		}
		addr := randomEmail()
		registerVerified(t, ca, f.smtp, addr)
		oldAccess, _ := login(t, ca, addr, strongPassword)
		k1 := kidOf(t, oldAccess)
		for _, c := range instances {
			if got := jwksKIDs(t, c); !slices.Equal(got, []string{k1}) {
				t.Fatalf("JWKS before rotation %v, want [%s]", got, k1)
			}
		}

		var rotated struct {
			ID         string    `json:"id"`
			State      string    `json:"state"`
			ActivateAt time.Time `json:"activate_at"`
		}
		if err := json.Unmarshal([]byte(mustCLI(t, env, "keys", "rotate", "--json")), &rotated); err != nil {
			t.Fatal(err)
		}
		k2 := rotated.ID
		if k2 == "" || k2 == k1 || rotated.State != "next" {
			t.Fatalf("rotate printed %+v", rotated)
		}
		if _, err := cli(t, env, "", "keys", "rotate"); err == nil {
			t.Fatal("a second rotation while one is pending was accepted")
		}
		both := []string{k1, k2}
		slices.Sort(both)
		for _, c := range instances {
			eventually(t, 5*time.Second, "the next key is published", func() bool { return slices.Equal(jwksKIDs(t, c), both) })
		}
		if got := keysList(t, env); got[k1].State != "current" || got[k2].State != "next" || !got[k2].Published {
			t.Fatalf("keys list during the delay: %+v", got)
		}

		// Every instance has the next key (its JWKS shows it), so from its
		// activation time every instance signs with it, promoted or not.
		time.Sleep(time.Until(rotated.ActivateAt) + 50*time.Millisecond)
		for _, c := range instances {
			if access, _ := login(t, c, addr, strongPassword); kidOf(t, access) != k2 {
				t.Fatalf("after the delay tokens carry %s, want %s", kidOf(t, access), k2)
			}
		}
		for _, c := range instances {
			if r := c.bearer(http.MethodGet, "/v1/me", oldAccess, nil); r.Status != http.StatusOK {
				t.Fatalf("a token of the retired, still published key: %d %s", r.Status, r.Body)
			}
			if got := jwksKIDs(t, c); !slices.Equal(got, both) {
				t.Fatalf("JWKS after the promotion %v, want both until the old tokens expire", got)
			}
		}
		eventually(t, 5*time.Second, "the promotion is recorded", func() bool { return keysList(t, env)[k2].State == "current" })
		if got := keysList(t, env); got[k1].State != "retired" || !got[k1].Published {
			t.Fatalf("keys list after the promotion: %+v", got)
		}
		db := openStore(t, env)
		if n := db.count(t, `SELECT count(*) FROM audit_events WHERE event_type = 'key_promoted'`); n != 1 {
			t.Fatalf("%d promotions recorded, want exactly 1", n)
		}
		if n := db.count(t, `SELECT count(*) FROM audit_events WHERE event_type = 'key_rotated'`); n != 1 {
			t.Fatalf("%d rotations recorded, want 1", n)
		}

		// Retired by hand (compromised): refused and unpublished at once.
		mustCLI(t, env, "keys", "retire", k1)
		for _, c := range instances {
			eventually(t, 5*time.Second, "the retired key's tokens are refused", func() bool {
				return c.bearer(http.MethodGet, "/v1/me", oldAccess, nil).Status == http.StatusUnauthorized
			})
			if got := jwksKIDs(t, c); !slices.Equal(got, []string{k2}) {
				t.Fatalf("JWKS after retire %v, want [%s]", got, k2)
			}
		}
		if n := db.count(t, `SELECT count(*) FROM audit_events WHERE event_type = 'key_retired'`); n != 1 {
			t.Fatalf("%d retirements recorded, want 1", n)
		}
		if _, err := cli(t, env, "", "keys", "retire", k1); err == nil {
			t.Fatal("retiring an unpublished key again succeeded")
		}
		if out, err := cli(t, env, "", "audit", "verify"); err != nil {
			t.Fatalf("audit verify: %v %s", err, out)
		}

		// The operators' status names the keys by id and state.
		admin := newAdminClient(t, a, adminKey(t, env, "status"))
		r := admin.call(http.MethodGet, "/admin/v1/status", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status: %d %s", r.Status, r.Body)
		}
		var status struct {
			Store         string         `json:"store"`
			SchemaVersion int            `json:"schema_version"`
			Version       string         `json:"version"`
			SigningKeys   []keyListEntry `json:"signing_keys"`
		}
		if err := json.Unmarshal(r.Body, &status); err != nil {
			t.Fatal(err)
		}
		if status.Store != string(st) || status.SchemaVersion < 7 || status.Version == "" || len(status.SigningKeys) == 0 {
			t.Fatalf("status %s", r.Body)
		}
		if bytes.Contains(r.Body, []byte("sealed")) || bytes.Contains(r.Body, []byte("seed")) {
			t.Fatalf("status shows key material: %s", r.Body)
		}
	})
}

// publicKeysOf are the public keys an instance publishes.
func publicKeysOf(t *testing.T, c *client) []ed25519.PublicKey {
	t.Helper()
	r := c.do(http.MethodGet, "/.well-known/jwks.json", nil, nil)
	var doc struct {
		Keys []struct {
			X string `json:"x"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	var out []ed25519.PublicKey
	for _, k := range doc.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// holdsSeedOf reports whether any 32 bytes of blob are the seed of one of
// pubs: key material in the clear, whatever the encoding around it.
func holdsSeedOf(blob []byte, pubs []ed25519.PublicKey) bool {
	for i := 0; i+ed25519.SeedSize <= len(blob); i++ {
		pub := ed25519.NewKeyFromSeed(blob[i : i+ed25519.SeedSize]).Public().(ed25519.PublicKey)
		for _, p := range pubs {
			if pub.Equal(p) {
				return true
			}
		}
	}
	return false
}

// Signing keys are sealed at rest: a dump of the key tables holds no seed
// of a published key (found by deriving the public key of every 32-byte
// window). The plain key an earlier version kept is sealed at start and
// keeps signing. A wrong secret key stops startup with a clear error.
func TestSigningKeysAreSealedAtRest(t *testing.T) {
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixture(t, st)
		env := f.env
		secret := filepath.Join(t.TempDir(), "secret.key")
		if err := os.WriteFile(secret, []byte(mustCLI(t, env, "keygen", "--secret")), 0o600); err != nil {
			t.Fatal(err)
		}
		f.inst.stop()
		env["GATEHOUSE_SECRET_KEY_FILE"] = secret
		// The first instance ran without the file: its generated key
		// (a file beside the embedded store, a row in PostgreSQL) sealed
		// the ring. The operator now sets a file of their own: another key.
		for _, args := range [][]string{{"serve"}, {"keys", "list"}} {
			if _, err := cli(t, env, "", args...); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SECRET_KEY_FILE") {
				t.Fatalf("%s with a secret key other than the one the ring was sealed with: %v", args[0], err)
			}
		}

		// A fresh store with the file from the start, upgraded from an
		// earlier version's plain key.
		env = baseEnv(t, st, f.smtp)
		env["GATEHOUSE_SECRET_KEY_FILE"] = secret
		inst := start(t, env)
		c := newClient(t, inst)
		before := publicKeysOf(t, c)
		inst.stop()
		db := openStore(t, env)
		plainSeed := bytes.Repeat([]byte{0x42}, ed25519.SeedSize)
		plainKID, _ := jwt.Thumbprint(ed25519.NewKeyFromSeed(plainSeed).Public().(ed25519.PublicKey))
		if _, err := db.ExecContext(db.ctx(t), `DELETE FROM signing_key_ring`); err != nil {
			t.Fatal(err)
		}
		created := "now()"
		if db.kind == storeSQLite {
			created = "0"
		}
		if _, err := db.ExecContext(db.ctx(t), `INSERT INTO signing_keys (id, private_key, created_at) VALUES ('current', $1, `+created+`)`, plainSeed); err != nil {
			t.Fatal(err)
		}
		inst = start(t, env)
		c = newClient(t, inst)
		addr := f.verifiedUserOn(t, c)
		access, _ := login(t, c, addr, strongPassword)
		if kidOf(t, access) != plainKID {
			t.Fatalf("after the upgrade tokens carry %s, want the earlier version's key %s", kidOf(t, access), plainKID)
		}
		if n := db.count(t, `SELECT count(*) FROM signing_keys`); n != 0 {
			t.Fatalf("the plain key is still stored (%d rows)", n)
		}
		mustCLI(t, env, "keys", "rotate")
		pubs := append(publicKeysOf(t, c), before...)
		pubs = append(pubs, ed25519.NewKeyFromSeed(plainSeed).Public().(ed25519.PublicKey))
		var dump []byte
		for _, table := range []string{"signing_key_ring", "signing_keys", "settings"} {
			rows, _ := db.dump(t, table)
			dump = append(dump, rows...)
		}
		if n := db.count(t, `SELECT count(*) FROM signing_key_ring`); n != 2 {
			t.Fatalf("ring has %d keys, want 2", n)
		}
		if holdsSeedOf(dump, pubs) {
			t.Fatal("the key tables hold a signing key in the clear")
		}
		if bytes.Contains(dump, plainSeed) {
			t.Fatal("the earlier version's plain seed is still stored")
		}
	})
}

// Without GATEHOUSE_SECRET_KEY_FILE the embedded store makes its secret
// key once, as a 0600 file in the data directory, and warns.
func TestEmbeddedStoreMakesItsSecretKeyFile(t *testing.T) {
	f := newFixture(t, onSQLite)
	path := filepath.Join(f.env["GATEHOUSE_DATA_DIR"], "secret.key")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", st, err)
	}
	if !strings.Contains(f.inst.Logs.String(), "GATEHOUSE_SECRET_KEY_FILE is not set") {
		t.Fatal("no warning about the generated secret key")
	}
	first, _ := os.ReadFile(path)
	f.inst.stop()
	start(t, f.env)
	again, _ := os.ReadFile(path)
	if !bytes.Equal(first, again) {
		t.Fatal("the secret key changed on restart")
	}
}

// With a key file, rotation is the operator's: keys rotate says how, and
// GATEHOUSE_JWT_PREVIOUS_KEY_FILES keeps old keys published.
func TestKeyFilesLeaveRotationToTheOperator(t *testing.T) {
	f := newFixture(t, onSQLite)
	f.inst.stop()
	dir := t.TempDir()
	oldFile, newFile := filepath.Join(dir, "old.pem"), filepath.Join(dir, "new.pem")
	for _, p := range []string{oldFile, newFile} {
		if err := os.WriteFile(p, []byte(mustCLI(t, f.env, "keygen")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := f.env
	env["GATEHOUSE_JWT_PRIVATE_KEY_FILE"] = oldFile
	inst := start(t, env)
	c := newClient(t, inst)
	addr := f.verifiedUserOn(t, c)
	oldAccess, _ := login(t, c, addr, strongPassword)
	inst.stop()

	env["GATEHOUSE_JWT_PRIVATE_KEY_FILE"] = newFile
	env["GATEHOUSE_JWT_PREVIOUS_KEY_FILES"] = oldFile
	inst = start(t, env)
	c = newClient(t, inst)
	if r := c.bearer(http.MethodGet, "/v1/me", oldAccess, nil); r.Status != http.StatusOK {
		t.Fatalf("a token of the previous key file: %d %s", r.Status, r.Body)
	}
	if got := jwksKIDs(t, c); len(got) != 2 {
		t.Fatalf("JWKS %v, want the new and the previous key", got)
	}
	access, _ := login(t, c, addr, strongPassword)
	if kidOf(t, access) == kidOf(t, oldAccess) {
		t.Fatal("still signing with the previous key")
	}
	_, err := cli(t, env, "", "keys", "rotate")
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_JWT_PREVIOUS_KEY_FILES") {
		t.Fatalf("keys rotate with key files: %v", err)
	}
	list := keysList(t, env)
	if len(list) != 2 || list[kidOf(t, access)].Source != "file" || list[kidOf(t, oldAccess)].State != "retired" {
		t.Fatalf("keys list with files: %+v", list)
	}
}
