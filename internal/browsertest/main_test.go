package browsertest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The binary under test and the browser that drives it, found once for the
// package by TestMain.
var (
	gatehouseBin string // the freshly built cmd/gatehouse
	chromiumPath string // "" when no Chromium binary is on PATH
)

// chromiumNames are the browser binaries looked for on PATH, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// inCI reports whether the tests run in CI, where a missing browser is a
// failure and not a reason to skip.
func inCI() bool { return os.Getenv("CI") == "true" }

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			chromiumPath = p
			break
		}
	}
	if chromiumPath == "" && !inCI() {
		// Every test skips; building the binary would be wasted time.
		return m.Run()
	}

	dir, err := os.MkdirTemp("", "gatehouse-browsertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := buildGatehouse(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	gatehouseBin = bin
	return m.Run()
}

// buildGatehouse builds ./cmd/gatehouse of this module into dir and returns
// the binary's path.
func buildGatehouse(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = filepath.Dir(gomod)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gatehouse: %w\n%s", err, buf.Bytes())
	}
	return bin, nil
}

// requireChromium skips the test when no browser was found outside CI, and
// fails it in CI.
func requireChromium(t *testing.T) {
	t.Helper()
	if chromiumPath != "" {
		return
	}
	if inCI() {
		t.Fatalf("chromium not found on PATH (looked for %s) and CI=true: .ci/run installs Debian's chromium package; the browser test must run in CI",
			strings.Join(chromiumNames, ", "))
	}
	t.Skip("chromium not found on PATH; install Debian's chromium package to run the browser test")
}
