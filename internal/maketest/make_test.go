package maketest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// makeEnv is this process's environment without GATEHOUSE_* (a developer
// may have a DATABASE_URL exported; the tests set what they need) and
// without the variables of a make that runs these tests (`make test`),
// which would pass its flags and jobserver to the make started here.
func makeEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GATEHOUSE_") || k == "MAKEFLAGS" || k == "MFLAGS" || k == "MAKELEVEL" || k == "MAKEOVERRIDES" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// dryRun is `make -n target vars...`: the commands make would run.
func dryRun(t *testing.T, root string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-n"}, args...)...)
	cmd.Dir, cmd.Env = root, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// clusterSteps are the commands of the `db` target: starting a local
// cluster and creating the database.
var clusterSteps = regexp.MustCompile(`pg_ctlcluster|pg_isready|createdb|psql `)

// TestServeTargetsLeaveTheLocalClusterAlone reads what `make run` and
// `make run-postgres` would do. `run` (the embedded store) builds, then
// execs the binary, and never starts or creates a PostgreSQL database;
// neither does `run-postgres` when GATEHOUSE_DATABASE_URL names the
// database; without it, `run-postgres` prepares the local one.
func TestServeTargetsLeaveTheLocalClusterAlone(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	bin := filepath.Join(t.TempDir(), "gatehouse")

	run := dryRun(t, root, makeEnv(), "run", "BIN="+bin)
	lines := strings.Split(strings.TrimSpace(run), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "go build") || !strings.Contains(lines[0], "-o "+bin+" ./cmd/gatehouse") {
		t.Errorf("make run does not build %s first:\n%s", bin, run)
	}
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^exec '?` + regexp.QuoteMeta(bin) + `'? serve$`).MatchString(last) {
		t.Errorf("make run does not end by exec'ing the binary (the server must replace the shell); last command: %q", last)
	}
	if clusterSteps.MatchString(run) {
		t.Errorf("make run (the embedded store) touches a PostgreSQL cluster:\n%s", run)
	}

	withURL := dryRun(t, root, makeEnv("GATEHOUSE_DATABASE_URL=postgres://app@db.example:5432/gh?sslmode=disable"), "run-postgres", "BIN="+bin)
	if clusterSteps.MatchString(withURL) {
		t.Errorf("make run-postgres with GATEHOUSE_DATABASE_URL set starts or creates a local database:\n%s", withURL)
	}
	if strings.Contains(withURL, "GATEHOUSE_DATABASE_URL=") {
		t.Errorf("make run-postgres overrides the GATEHOUSE_DATABASE_URL it was given:\n%s", withURL)
	}
	if !strings.Contains(withURL, "exec '"+bin+"' serve") {
		t.Errorf("make run-postgres with GATEHOUSE_DATABASE_URL set does not exec the binary:\n%s", withURL)
	}

	local := dryRun(t, root, makeEnv(), "run-postgres", "BIN="+bin)
	if !strings.Contains(local, "createdb") || !strings.Contains(local, "GATEHOUSE_DATABASE_URL='postgres://") {
		t.Errorf("make run-postgres without GATEHOUSE_DATABASE_URL does not prepare and use the local database:\n%s", local)
	}
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its ')'.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// makeRun is one `make run` in progress.
type makeRun struct {
	cmd    *exec.Cmd
	server int // the server's PID
	bin    string
	exited chan error
	mu     sync.Mutex
	logs   strings.Builder
}

func (m *makeRun) logged() string { m.mu.Lock(); defer m.mu.Unlock(); return m.logs.String() }

// startMakeRun runs `make run` as a developer does (embedded store, here
// in a temporary data directory) until it serves, and finds the server:
// make's only child, the built binary itself (the recipe's shell exec'd
// it).
func startMakeRun(t *testing.T, root, bin string) *makeRun {
	t.Helper()
	m := &makeRun{bin: bin, exited: make(chan error, 1)}
	m.cmd = exec.Command("make", "--no-print-directory", "run", "BIN="+bin)
	m.cmd.Dir = root
	m.cmd.Env = makeEnv(
		"GATEHOUSE_DATA_DIR="+filepath.Join(t.TempDir(), "data"),
		"GATEHOUSE_HTTP_ADDR=127.0.0.1:0",
		"GATEHOUSE_ADMIN_ADDR=",
		"GATEHOUSE_SHUTDOWN_TIMEOUT=5s",
	)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // one group to clean up
	stderr, err := m.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	m.cmd.Stdout = io.Discard
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("make run: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL) })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			m.mu.Lock()
			m.logs.WriteString(line + "\n")
			m.mu.Unlock()
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
				addr <- entry.Addr
			}
		}
		m.exited <- m.cmd.Wait()
	}()

	var at string
	select {
	case at = <-addr:
	case err := <-m.exited:
		t.Fatalf("make run exited before serving: %v\n%s", err, m.logged())
	case <-time.After(5 * time.Minute): // a cold build cache compiles every dependency
		t.Fatalf("make run did not serve within 5 minutes\n%s", m.logged())
	}
	resp, err := http.Get("http://" + at + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	kids := children(t, m.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("make has %d child processes (%v), want exactly the server", len(kids), kids)
	}
	m.server = kids[0]
	exe, err := os.Readlink("/proc/" + strconv.Itoa(m.server) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(bin); exe != want && exe != bin {
		t.Fatalf("make's child is %s, not the built binary %s: the recipe's shell did not exec it", exe, bin)
	}
	return m
}

// waitExit waits for make to exit after a signal and checks that the
// server stopped in order and is gone.
func (m *makeRun) waitExit(t *testing.T, what string) error {
	t.Helper()
	var err error
	select {
	case err = <-m.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("make run still running 20s after %s\n%s", what, m.logged())
	}
	if !strings.Contains(m.logged(), `"msg":"stopped"`) {
		t.Fatalf("the server did not stop in order after %s:\n%s", what, m.logged())
	}
	if syscall.Kill(m.server, 0) == nil {
		t.Fatalf("the server (pid %d) still runs after %s", m.server, what)
	}
	return err
}

// TestMakeRunBuildsThenBecomesTheServer: `make run` builds, then becomes
// the server; SIGTERM to the server's PID stops it in order and make exits
// 0 with it. SIGTERM to make's own PID stops the server too (make passes
// it on and waits).
func TestMakeRunBuildsThenBecomesTheServer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc to find the server's PID")
	}
	t.Parallel()
	root := moduleRoot(t)
	bin := filepath.Join(t.TempDir(), "gatehouse")

	m := startMakeRun(t, root, bin)
	if err := syscall.Kill(m.server, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := m.waitExit(t, "SIGTERM to the server"); err != nil {
		t.Fatalf("make run after SIGTERM to the server: %v\n%s", err, m.logged())
	}

	m = startMakeRun(t, root, bin) // the build is cached now
	if err := syscall.Kill(m.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = m.waitExit(t, "SIGTERM to make") // make itself dies of the signal
}

// TestReadmeNamesTheToolchain: the README says which Go go.mod asks for
// (exactly) and that -race needs a C compiler.
func TestReadmeNamesTheToolchain(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "go " + string(m[1]); !strings.Contains(string(readme), "`"+want+"`") {
		t.Errorf("README does not name the Go version go.mod asks for (%q)", want)
	}
	if !regexp.MustCompile("`-race` needs [^.]*C compiler[^.]*`gcc`").Match(readme) {
		t.Error("README does not say that -race needs a C compiler (gcc)")
	}
}

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
	for _, want := range []string{" bench ", "-bin '" + bin + "'", "-stores 'sqlite'", "-for '3s'", "-c '8'", "-endpoints 'register,login,refresh,me,code,userinfo,oidc-refresh'", "-pg-url 'postgres://", "-pg-waits"} {
		if !strings.Contains(run, want) {
			t.Errorf("make bench runs %q, which lacks %q", run, want)
		}
	}
	if clusterSteps.MatchString(out) {
		t.Errorf("make bench starts or creates a database itself:\n%s", out)
	}
}

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
