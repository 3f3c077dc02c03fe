package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// nodeExample is the command that runs script of examples/dir in Node;
// its packages (pkg among them) are those `npm ci` installs there (.ci/run
// does). Without node or the packages the test is skipped, except under
// CI=true, where it fails.
func nodeExample(t *testing.T, dir, script, pkg string) []string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", "..", "examples", dir))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(abs, "node_modules", pkg, "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("examples/%s cannot run (%v): install node and run npm ci there", dir, err)
		}
		t.Skipf("examples/%s cannot run (%v): install node and run `npm ci` in %s", dir, err, abs)
	}
	return []string{node, filepath.Join(abs, script)}
}

// TestVerifyExampleAgainstTheServer runs the README's verifier examples
// (examples/verify in Go, examples/verify-node with jose) against a real
// instance, with the same flags: a real access token passes with the
// instance's issuer and JWKS and its claims show amr; -require-amr otp
// refuses that password-only token; the token with an altered payload is
// refused as a bad signature.
func TestVerifyExampleAgainstTheServer(t *testing.T) {
	t.Parallel()
	for _, ex := range []struct {
		name   string
		cmd    func(t *testing.T) []string
		badSig string
	}{
		{"go", func(t *testing.T) []string { return []string{buildExample(t, "verify")} }, "bad signature"},
		{"node", func(t *testing.T) []string { return nodeExample(t, "verify-node", "verify.mjs", "jose") }, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"},
	} {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			cmdline := ex.cmd(t)
			eachFixture(t, func(t *testing.T, f fixture) {
				addr, access, _ := f.signedIn(t)

				verify := func(token string, flags ...string) (int, string, string) {
					t.Helper()
					args := append(slices.Clone(cmdline[1:]), "--issuer", testPublicURL, "--jwks", f.inst.URL+"/.well-known/jwks.json", "--audience", "gatehouse")
					cmd := exec.Command(cmdline[0], append(append(args, flags...), token)...)
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					_ = cmd.Run()
					return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
				}

				code, out, errOut := verify(access)
				if code != 0 {
					t.Fatalf("a real access token: exit %d: %s", code, errOut)
				}
				var claims map[string]any
				if err := json.Unmarshal([]byte(out), &claims); err != nil || claims["email"] != addr || claims["iss"] != testPublicURL {
					t.Fatalf("claims %v (%v): %s", claims, err, out)
				}
				if amr, _ := json.Marshal(claims["amr"]); string(amr) != `["pwd"]` {
					t.Fatalf("the claims show amr %s, want [\"pwd\"] (a password login): %s", amr, out)
				}
				if code, _, errOut := verify(access, "--require-amr", "otp"); code != 1 || !strings.Contains(errOut, "amr lacks a required method") {
					t.Fatalf("a password-only token with --require-amr otp: exit %d: %s", code, errOut)
				}
				if code, _, errOut := verify(access, "--require-amr", "pwd"); code != 0 {
					t.Fatalf("--require-amr pwd: exit %d: %s", code, errOut)
				}

				parts := strings.Split(access, ".")
				payload, err := base64.RawURLEncoding.DecodeString(parts[1])
				if err != nil {
					t.Fatal(err)
				}
				forged := strings.Replace(string(payload), addr, "mallory@example.com", 1)
				tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
				if code, _, errOut := verify(tampered); code != 1 || !strings.Contains(errOut, ex.badSig) {
					t.Fatalf("a tampered token: exit %d: %s", code, errOut)
				}
			})
		})
	}
}
