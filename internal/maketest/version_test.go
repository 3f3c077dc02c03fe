package maketest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeBuildStampsTheVersion: a `make build` binary says which commit it
// was built from (git describe and the full revision), never "(devel)".
func TestMakeBuildStampsTheVersion(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing to stamp", err)
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("make", "--no-print-directory", "build", "BIN="+bin)
	build.Dir, build.Env = root, makeEnv()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("gatehouse version: %v", err)
	}
	got := strings.TrimSpace(string(out))
	rev := strings.TrimSpace(string(head))
	if strings.Contains(got, "(devel)") || !strings.Contains(got, "(commit "+rev+")") {
		t.Errorf("gatehouse version = %q, want git describe's version and (commit %s)", got, rev)
	}
}
