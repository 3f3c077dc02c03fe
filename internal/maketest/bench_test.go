package maketest

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchTargetBuildsThenRunsTheLoadTool reads what `make bench` would
// do: build the server and the load tool, then run the tool's bench
// against that very binary, with the settings passed through (the bench
// itself is tested in tools/load). It never touches the local cluster's
// own databases: the tool creates and drops its own.
func TestBenchTargetBuildsThenRunsTheLoadTool(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	bin := filepath.Join(t.TempDir(), "gatehouse")
	out := dryRun(t, root, makeEnv(), "bench", "BIN="+bin, "BENCH_FOR=3s", "BENCH_STORES=sqlite", "BENCH_FLAGS=-pg-waits")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "go build") || !strings.Contains(lines[0], "-o "+bin+" ./cmd/gatehouse") {
		t.Fatalf("make bench does not build %s first:\n%s", bin, out)
	}
	if !strings.Contains(out, "go build -o bin/gatehouse-load ./tools/load") {
		t.Errorf("make bench does not build the load tool:\n%s", out)
	}
	run := strings.Join(lines[2:], " ")
	for _, want := range []string{" bench ", "-bin '" + bin + "'", "-stores 'sqlite'", "-for '3s'", "-c '8'", "-endpoints 'register,login,refresh,me'", "-pg-url 'postgres://", "-pg-waits"} {
		if !strings.Contains(run, want) {
			t.Errorf("make bench runs %q, which lacks %q", run, want)
		}
	}
	if clusterSteps.MatchString(out) {
		t.Errorf("make bench starts or creates a database itself:\n%s", out)
	}
}
