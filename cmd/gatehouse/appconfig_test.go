package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gwire "github.com/gatehouse-auth/gatehouse/wire"
)

// mustWireConfig is the injector's input for cfg.
func mustWireConfig(t *testing.T, cfg Config) gwire.Config {
	t.Helper()
	w, err := wireConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestConfigAppNameAndURL: GATEHOUSE_APP_NAME defaults to Gatehouse and
// reaches the injector with GATEHOUSE_APP_URL; a name that cannot stand in
// a mail subject, or an app URL that is not an absolute http(s) URL, stops
// startup with an error naming the variable.
func TestConfigAppNameAndURL(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppName != "Gatehouse" || cfg.AppURL != "" {
		t.Errorf("defaults: APP_NAME %q, APP_URL %q; want Gatehouse and unset", cfg.AppName, cfg.AppURL)
	}
	if w := mustWireConfig(t, cfg); w.IssuerName != "" {
		t.Errorf("APP_NAME unset: the TOTP issuer is %q, want the public URL's host (\"\")", w.IssuerName)
	}

	cfg, err = LoadConfig(map[string]string{
		"GATEHOUSE_APP_NAME": "  Acme Cloud  ",
		"GATEHOUSE_APP_URL":  "https://app.example.com/welcome?from=auth",
	})
	if err != nil {
		t.Fatal(err)
	}
	w := mustWireConfig(t, cfg)
	if p := w.HTTP.Pages; p.AppName != "Acme Cloud" || p.AppURL != "https://app.example.com/welcome?from=auth" {
		t.Errorf("injector gets APP_NAME %q, APP_URL %q", p.AppName, p.AppURL)
	}
	if w.IssuerName != "Acme Cloud" {
		t.Errorf("APP_NAME set: the TOTP issuer is %q, want Acme Cloud", w.IssuerName)
	}
	if r := cfg.Redacted(); r["app_name"] != "Acme Cloud" || r["app_url"] != "https://app.example.com/welcome?from=auth" {
		t.Errorf("the logged config has app_name %v, app_url %v", r["app_name"], r["app_url"])
	}

	for name, values := range map[string][]string{
		"GATEHOUSE_APP_NAME": {" ", "Acme\r\nBcc: victim@example.com", "Acme\x00", strings.Repeat("n", 65)},
		"GATEHOUSE_APP_URL": {
			"app.example.com", "/welcome", "javascript:alert(1)", "ftp://app.example.com", "https://",
			"https://user:pw@app.example.com", "https://app.example.com/a b", "http://[::1",
		},
	} {
		for _, v := range values {
			_, err := LoadConfig(map[string]string{name: v})
			if err == nil || !strings.Contains(err.Error(), name+":") {
				t.Errorf("%s=%q: error %v, want one naming the variable", name, v, err)
			}
		}
	}
	for _, ok := range []string{"http://localhost:3000", "https://app.example.com", "https://example.com/app/#/home"} {
		if _, err := LoadConfig(map[string]string{"GATEHOUSE_APP_URL": ok}); err != nil {
			t.Errorf("GATEHOUSE_APP_URL=%q: %v", ok, err)
		}
	}
}

// TestConfigRefreshReuseGrace: GATEHOUSE_REFRESH_REUSE_GRACE defaults to
// 10s, 0s turns the grace off, and a negative grace or one over a minute
// stops startup with an error naming the variable.
func TestConfigRefreshReuseGrace(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]time.Duration{"": 10 * time.Second, "0s": 0, "2500ms": 2500 * time.Millisecond, "1m": time.Minute} {
		env := map[string]string{}
		if raw != "" {
			env["GATEHOUSE_REFRESH_REUSE_GRACE"] = raw
		}
		cfg, err := LoadConfig(env)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if got := time.Duration(mustWireConfig(t, cfg).RefreshReuseGrace); got != want {
			t.Errorf("%q: the injector gets %v, want %v", raw, got, want)
		}
		if r := cfg.Redacted(); r["refresh_reuse_grace"] != want.String() {
			t.Errorf("%q: the logged config has %v", raw, r["refresh_reuse_grace"])
		}
	}
	for _, bad := range []string{"-1s", "61s", "1h", "ten seconds"} {
		if _, err := LoadConfig(map[string]string{"GATEHOUSE_REFRESH_REUSE_GRACE": bad}); err == nil || !strings.Contains(err.Error(), "REFRESH_REUSE_GRACE") {
			t.Errorf("%q: error %v, want one naming the variable", bad, err)
		}
	}
}

// TestConfigLogNamesEveryVariable: the startup log of the configuration
// has an entry for every variable Config reads, durations with their unit.
func TestConfigLogNamesEveryVariable(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Redacted()
	for _, name := range knownEnv() {
		if _, ok := r[strings.ToLower(strings.TrimPrefix(name, envPrefix))]; !ok {
			t.Errorf("the logged config has no entry for %s", name)
		}
	}
	if len(r) != len(knownEnv()) {
		t.Errorf("the logged config has %d entries, Config reads %d variables", len(r), len(knownEnv()))
	}
	if r["hash_max_wait"] != "2s" || r["outbox_max_attempts"] != 150 {
		t.Errorf("hash_max_wait %v, outbox_max_attempts %v", r["hash_max_wait"], r["outbox_max_attempts"])
	}
}

// The Firebase project's parameters are checked at startup, each error
// naming its variable, and reach the hasher decoded.
func TestConfigFirebase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "firebase.key")
	const signerKey = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
	if err := os.WriteFile(keyFile, []byte(signerKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if mustWireConfig(t, cfg).Firebase != nil {
		t.Fatal("Firebase parameters without the variables")
	}
	cfg, err = LoadConfig(map[string]string{"GATEHOUSE_FIREBASE_SIGNER_KEY_FILE": keyFile, "GATEHOUSE_FIREBASE_SALT_SEPARATOR": "Bw==", "GATEHOUSE_FIREBASE_ROUNDS": "7"})
	if err != nil {
		t.Fatal(err)
	}
	fb := mustWireConfig(t, cfg).Firebase
	if fb == nil || len(fb.SignerKey) != 64 || string(fb.SaltSeparator) != "\x07" || fb.Rounds != 7 || fb.MemCost != 14 {
		t.Fatalf("Firebase parameters %+v", fb)
	}
	if r := cfg.Redacted(); r["firebase_signer_key_file"] != keyFile {
		t.Errorf("the logged config names %v, want the file", r["firebase_signer_key_file"])
	}
	for name, env := range map[string]map[string]string{
		"FIREBASE_ROUNDS":           {"GATEHOUSE_FIREBASE_ROUNDS": "33"},
		"FIREBASE_MEM_COST":         {"GATEHOUSE_FIREBASE_MEM_COST": "21"},
		"FIREBASE_SALT_SEPARATOR":   {"GATEHOUSE_FIREBASE_SIGNER_KEY_FILE": keyFile, "GATEHOUSE_FIREBASE_SALT_SEPARATOR": "not base64!"},
		"FIREBASE_SALT_SEPARATOR ":  {"GATEHOUSE_FIREBASE_SIGNER_KEY_FILE": keyFile},
		"FIREBASE_SALT_SEPARATOR  ": {"GATEHOUSE_FIREBASE_SALT_SEPARATOR": "Bw=="},
	} {
		if _, err := LoadConfig(env); err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%v: error %v, want one naming %s", env, err, name)
		}
	}
	badKey := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(badKey, []byte("not base64!"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{badKey, filepath.Join(dir, "missing.key")} {
		cfg, err := LoadConfig(map[string]string{"GATEHOUSE_FIREBASE_SIGNER_KEY_FILE": path, "GATEHOUSE_FIREBASE_SALT_SEPARATOR": "Bw=="})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wireConfig(cfg); err == nil || !strings.Contains(err.Error(), "FIREBASE_SIGNER_KEY_FILE") {
			t.Errorf("%s: error %v, want one naming GATEHOUSE_FIREBASE_SIGNER_KEY_FILE", path, err)
		}
	}
}

// A providers file that cannot work stops startup with an error naming the
// variable, the provider and the field; a good one reaches the wiring.
func TestUpstreamProvidersFileIsCheckedAtStartup(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret, empty := write("secret", "s3cret\n"), write("empty", "\n")
	for name, c := range map[string]struct{ yaml, want string }{
		"missing file":  {"", "no such file"},
		"empty secret":  {"providers:\n- {id: corp, name: Corp, issuer: 'https://sso.example', client_id: c, client_secret_file: '" + empty + "'}\n", "is empty"},
		"plain http":    {"providers:\n- {id: corp, name: Corp, issuer: 'http://sso.example', client_id: c, client_secret_file: '" + secret + "'}\n", "https"},
		"unknown field": {"providers:\n- {id: corp, name: Corp, issuer: 'https://sso.example', client_id: c, client_secret: x}\n", "client_secret"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "missing.yaml")
			if c.yaml != "" {
				path = write(strings.ReplaceAll(name, " ", "-")+".yaml", c.yaml)
			}
			cfg, err := LoadConfig(map[string]string{"GATEHOUSE_UPSTREAM_PROVIDERS_FILE": path})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wireConfig(cfg); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_UPSTREAM_PROVIDERS_FILE") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming GATEHOUSE_UPSTREAM_PROVIDERS_FILE and saying %q", err, c.want)
			}
		})
	}
	cfg, err := LoadConfig(map[string]string{"GATEHOUSE_UPSTREAM_PROVIDERS_FILE": write("good.yaml",
		"providers:\n- {id: corp, name: Corp, issuer: 'https://sso.example', client_id: c, client_secret_file: '"+secret+"'}\n")})
	if err != nil {
		t.Fatal(err)
	}
	wc, err := wireConfig(cfg)
	if err != nil || len(wc.Upstream) != 1 || wc.Upstream[0].ID != "corp" {
		t.Fatalf("wireConfig = %+v, %v", wc.Upstream, err)
	}
}
