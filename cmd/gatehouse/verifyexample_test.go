package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildVerifyExample builds examples/verify into a directory of t's.
func buildVerifyExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "verify")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gatehouse-auth/gatehouse/examples/verify").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./examples/verify: %v\n%s", err, out)
	}
	return bin
}

// TestVerifyExampleAgainstTheServer runs the README's verifier example
// (examples/verify) against a real instance: a real access token passes
// with the instance's issuer and JWKS, and the same token with an altered
// payload is refused as a bad signature.
func TestVerifyExampleAgainstTheServer(t *testing.T) {
	t.Parallel()
	bin := buildVerifyExample(t)
	eachStore(t, func(t *testing.T, st testStore) {
		f := newFixture(t, st)
		addr := f.verifiedUser(t)
		access, _ := login(t, f.c, addr, strongPassword)

		verify := func(token string) (int, string, string) {
			t.Helper()
			cmd := exec.Command(bin, "-issuer", testPublicURL, "-jwks", f.inst.URL+"/.well-known/jwks.json", "-audience", "gatehouse", token)
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

		parts := strings.Split(access, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		forged := strings.Replace(string(payload), addr, "mallory@example.com", 1)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
		if code, _, errOut := verify(tampered); code != 1 || !strings.Contains(errOut, "bad signature") {
			t.Fatalf("a tampered token: exit %d: %s", code, errOut)
		}
	})
}
