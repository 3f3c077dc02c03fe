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

// keyEnv is an instance configuration that rotates fast: a key signs four
// seconds after it is published (room for the checks made meanwhile on a
// busy machine), and instances read the ring every second.
func keyEnv(f *fixture) map[string]string {
	env := f.env
	env["GATEHOUSE_KEY_PUBLISH_DELAY"] = "4s"
	env["GATEHOUSE_KEY_REFRESH_INTERVAL"] = "1s"
	return env
}

// jwksKey is a key of the JWKS, either kind.
type jwksKey struct {
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Kty string `json:"kty"`
	Use string `json:"use"`
	X   string `json:"x"` // OKP
	N   string `json:"n"` // RSA
}

// jwksKeys are the keys of an instance's JWKS.
func jwksKeys(t *testing.T, c *client) []jwksKey {
	t.Helper()
	r := c.do(http.MethodGet, "/.well-known/jwks.json", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	// Verifiers may cache the keys (a new key is published before it signs).
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("jwks Cache-Control %q", cc)
	}
	var doc struct {
		Keys []jwksKey `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Keys
}

// jwksKIDs lists the kids of the keys of alg in an instance's JWKS.
func jwksKIDs(t *testing.T, c *client, alg string) []string {
	t.Helper()
	var kids []string
	for _, k := range jwksKeys(t, c) {
		if k.Alg == alg {
			kids = append(kids, k.KID)
		}
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
	Alg       string `json:"alg"`
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

// currentOf is the kid of the current key of alg in a keys list.
func currentOf(t *testing.T, list map[string]keyListEntry, alg string) string {
	t.Helper()
	for _, k := range list {
		if k.Alg == alg && k.State == "current" {
			return k.ID
		}
	}
	t.Fatalf("no current %s key in %+v", alg, list)
	return ""
}

// The rotation an operator runs, end to end: a token signed before it
// keeps working, the new keys (one per algorithm) are published at once
// and sign after the delay, and retiring an old key refuses its tokens
// and drops it from the JWKS. On PostgreSQL two instances follow the
// rotation and exactly one promotion per algorithm is recorded; the
// embedded store has one serving process.
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
		r1 := currentOf(t, keysList(t, env), "RS256")
		for _, c := range instances {
			if got := jwksKIDs(t, c, "EdDSA"); !slices.Equal(got, []string{k1}) {
				t.Fatalf("EdDSA keys of the JWKS before rotation %v, want [%s]", got, k1)
			}
			if got := jwksKIDs(t, c, "RS256"); !slices.Equal(got, []string{r1}) {
				t.Fatalf("RS256 keys of the JWKS before rotation %v, want [%s]", got, r1)
			}
		}

		var rotated []struct {
			ID         string    `json:"id"`
			Alg        string    `json:"alg"`
			State      string    `json:"state"`
			ActivateAt time.Time `json:"activate_at"`
		}
		if err := json.Unmarshal([]byte(mustCLI(t, env, "keys", "rotate", "--json")), &rotated); err != nil {
			t.Fatal(err)
		}
		if len(rotated) != 2 || rotated[0].Alg != "EdDSA" || rotated[1].Alg != "RS256" {
			t.Fatalf("rotate printed %+v, want a key of each algorithm", rotated)
		}
		k2, r2 := rotated[0].ID, rotated[1].ID
		for _, k := range rotated {
			if k.ID == "" || k.ID == k1 || k.ID == r1 || k.State != "next" {
				t.Fatalf("rotate printed %+v", rotated)
			}
		}
		if _, err := cli(t, env, "", "keys", "rotate"); err == nil {
			t.Fatal("a second rotation while one is pending was accepted")
		}
		both, bothRS := sorted(k1, k2), sorted(r1, r2)
		for _, c := range instances {
			eventually(t, 5*time.Second, "the next keys are published", func() bool {
				return slices.Equal(jwksKIDs(t, c, "EdDSA"), both) && slices.Equal(jwksKIDs(t, c, "RS256"), bothRS)
			})
		}
		if got := keysList(t, env); got[k1].State != "current" || got[k2].State != "next" || !got[k2].Published ||
			got[r1].State != "current" || got[r2].State != "next" || got[r2].Alg != "RS256" {
			t.Fatalf("keys list during the delay: %+v", got)
		}

		// Every instance has the next key (its JWKS shows it), so from its
		// activation time every instance signs with it, promoted or not.
		time.Sleep(time.Until(rotated[0].ActivateAt) + 50*time.Millisecond)
		for _, c := range instances {
			if access, _ := login(t, c, addr, strongPassword); kidOf(t, access) != k2 {
				t.Fatalf("after the delay tokens carry %s, want %s", kidOf(t, access), k2)
			}
		}
		for _, c := range instances {
			if r := c.bearer(http.MethodGet, "/v1/me", oldAccess, nil); r.Status != http.StatusOK {
				t.Fatalf("a token of the retired, still published key: %d %s", r.Status, r.Body)
			}
			if got := jwksKIDs(t, c, "EdDSA"); !slices.Equal(got, both) {
				t.Fatalf("JWKS after the promotion %v, want both until the old tokens expire", got)
			}
		}
		eventually(t, 5*time.Second, "the promotions are recorded", func() bool {
			l := keysList(t, env)
			return l[k2].State == "current" && l[r2].State == "current"
		})
		if got := keysList(t, env); got[k1].State != "retired" || !got[k1].Published || got[r1].State != "retired" || !got[r1].Published {
			t.Fatalf("keys list after the promotion: %+v", got)
		}
		db := openStore(t, env)
		if n := db.count(t, `SELECT count(*) FROM audit_events WHERE event_type = 'key_promoted'`); n != 2 {
			t.Fatalf("%d promotions recorded, want exactly 1 per algorithm", n)
		}
		if n := db.count(t, `SELECT count(*) FROM audit_events WHERE event_type = 'key_rotated'`); n != 2 {
			t.Fatalf("%d rotations recorded, want 1 per algorithm", n)
		}

		// Retired by hand (compromised): refused and unpublished at once;
		// a key of either algorithm.
		mustCLI(t, env, "keys", "retire", k1)
		for _, c := range instances {
			eventually(t, 5*time.Second, "the retired key's tokens are refused", func() bool {
				return c.bearer(http.MethodGet, "/v1/me", oldAccess, nil).Status == http.StatusUnauthorized
			})
			if got := jwksKIDs(t, c, "EdDSA"); !slices.Equal(got, []string{k2}) {
				t.Fatalf("JWKS after retire %v, want [%s]", got, k2)
			}
		}
		mustCLI(t, env, "keys", "retire", r1)
		for _, c := range instances {
			eventually(t, 5*time.Second, "the retired RS256 key leaves the JWKS", func() bool {
				return slices.Equal(jwksKIDs(t, c, "RS256"), []string{r2})
			})
		}
		if n := db.count(t, `SELECT count(*) FROM audit_events WHERE event_type = 'key_retired'`); n != 2 {
			t.Fatalf("%d retirements recorded, want 2", n)
		}
		if _, err := cli(t, env, "", "keys", "retire", k1); err == nil {
			t.Fatal("retiring an unpublished key again succeeded")
		}
		if out, err := cli(t, env, "", "audit", "verify"); err != nil {
			t.Fatalf("audit verify: %v %s", err, out)
		}
		if out := mustCLI(t, env, "keys", "list"); !strings.Contains(out, "ALG") || !strings.Contains(out, r2) || !strings.Contains(out, "RS256") {
			t.Fatalf("keys list shows no algorithm column:\n%s", out)
		}

		// The operators' status names the keys by id, algorithm and state.
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
		if status.Store != string(st) || status.SchemaVersion < 12 || status.Version == "" || len(status.SigningKeys) == 0 {
			t.Fatalf("status %s", r.Body)
		}
		for _, k := range status.SigningKeys {
			if k.ID == r2 && (k.Alg != "RS256" || k.State != "current") || k.ID == k2 && (k.Alg != "EdDSA" || k.State != "current") {
				t.Fatalf("status shows %+v", k)
			}
		}
		if bytes.Contains(r.Body, []byte("sealed")) || bytes.Contains(r.Body, []byte("seed")) {
			t.Fatalf("status shows key material: %s", r.Body)
		}
	})
}

// sorted is kids in order.
func sorted(kids ...string) []string {
	slices.Sort(kids)
	return kids
}

// publicKeysOf are the Ed25519 public keys an instance publishes.
func publicKeysOf(t *testing.T, c *client) []ed25519.PublicKey {
	t.Helper()
	var out []ed25519.PublicKey
	for _, k := range jwksKeys(t, c) {
		if k.Kty != "OKP" {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// rsaModuliOf are the moduli of the RSA keys an instance publishes: the
// private key's DER holds its modulus, so a dump that holds none of them
// holds no RSA private key in the clear.
func rsaModuliOf(t *testing.T, c *client) [][]byte {
	t.Helper()
	var out [][]byte
	for _, k := range jwksKeys(t, c) {
		if k.Kty != "RSA" {
			continue
		}
		n, err := base64.RawURLEncoding.DecodeString(k.N)
		if err != nil || len(n) != 256 {
			t.Fatalf("the RSA modulus of %s is %d bytes (%v), want 256", k.KID, len(n), err)
		}
		out = append(out, n)
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
// of a published Ed25519 key (found by deriving the public key of every
// 32-byte window) and no modulus of a published RSA key (which its private
// key's DER holds). The plain key an earlier version kept is sealed at
// start and keeps signing. A wrong secret key stops startup with a clear
// error.
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
		env["GATEHOUSE_KEY_REFRESH_INTERVAL"] = "1s" // publishes the rotated keys below at once
		inst := start(t, env)
		c := newClient(t, inst)
		before, beforeRSA := publicKeysOf(t, c), rsaModuliOf(t, c)
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
		eventually(t, 5*time.Second, "the rotated keys are published", func() bool {
			return len(publicKeysOf(t, c)) == 2 && len(rsaModuliOf(t, c)) == 2
		})
		pubs := append(publicKeysOf(t, c), before...)
		pubs = append(pubs, ed25519.NewKeyFromSeed(plainSeed).Public().(ed25519.PublicKey))
		var dump []byte
		for _, table := range []string{"signing_key_ring", "signing_keys", "settings"} {
			rows, _ := db.dump(t, table)
			dump = append(dump, rows...)
		}
		if n := db.count(t, `SELECT count(*) FROM signing_key_ring`); n != 4 {
			t.Fatalf("ring has %d keys, want 4 (a current and a next key of each algorithm)", n)
		}
		if holdsSeedOf(dump, pubs) {
			t.Fatal("the key tables hold a signing key in the clear")
		}
		moduli := append(rsaModuliOf(t, c), beforeRSA...)
		if len(moduli) != 3 {
			t.Fatalf("%d RSA keys published, want 3 (before, current, next)", len(moduli))
		}
		for _, n := range moduli {
			if bytes.Contains(dump, n) {
				t.Fatal("the key tables hold an RSA signing key in the clear")
			}
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

// With a key file, the rotation of the EdDSA keys is the operator's: keys
// retire of a file's key says how, and GATEHOUSE_JWT_PREVIOUS_KEY_FILES
// keeps old keys published. The RS256 keys rotate in the store as without
// the file.
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
	if got := jwksKIDs(t, c, "EdDSA"); len(got) != 2 {
		t.Fatalf("JWKS %v, want the new and the previous key", got)
	}
	access, _ := login(t, c, addr, strongPassword)
	if kidOf(t, access) == kidOf(t, oldAccess) {
		t.Fatal("still signing with the previous key")
	}
	_, err := cli(t, env, "", "keys", "retire", kidOf(t, access))
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_JWT_PREVIOUS_KEY_FILES") {
		t.Fatalf("keys retire of the file's key: %v", err)
	}
	// A key id may start with "-" (base64url): retire takes it as an id,
	// not as a flag, with or without "--" before it.
	for _, args := range [][]string{{"keys", "retire", "-not-a-key"}, {"keys", "retire", "--", "-not-a-key"}} {
		if _, err := cli(t, env, "", args...); err == nil || !strings.Contains(err.Error(), "No published signing key has this id") {
			t.Fatalf("gatehouse %v: %v", args, err)
		}
	}

	// The RS256 keys stay in the store: keys rotate rotates them alone,
	// and says that the EdDSA key is the file's.
	out := mustCLI(t, env, "keys", "rotate")
	if !strings.Contains(out, "published RS256 key") || strings.Contains(out, "published EdDSA") || !strings.Contains(out, "GATEHOUSE_JWT_PRIVATE_KEY_FILE") {
		t.Fatalf("keys rotate with key files printed:\n%s", out)
	}
	list := keysList(t, env)
	if len(list) != 4 || list[kidOf(t, access)].Source != "file" || list[kidOf(t, access)].Alg != "EdDSA" || list[kidOf(t, oldAccess)].State != "retired" {
		t.Fatalf("keys list with files: %+v", list)
	}
	rsCurrent := currentOf(t, list, "RS256")
	if k := list[rsCurrent]; k.Source != "database" {
		t.Fatalf("the RS256 key with key files: %+v", k)
	}
	if got := jwksKIDs(t, c, "RS256"); !slices.Contains(got, rsCurrent) {
		t.Fatalf("RS256 keys of the JWKS %v, want %s among them", got, rsCurrent)
	}
}
