package archtest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// No Docker engine runs in CI, so these tests read docker-compose.yml,
// .env.example and the Dockerfile and check the properties the deployment
// depends on. The compose file may use any of compose's equivalent syntaxes
// (list or map environment, short or long port and volume syntax).

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	EnvFile     any            `yaml:"env_file"`
	Environment any            `yaml:"environment"`
	Healthcheck map[string]any `yaml:"healthcheck"`
	Volumes     []any          `yaml:"volumes"`
	Ports       []any          `yaml:"ports"`
	DependsOn   any            `yaml:"depends_on"`
	ReadOnly    bool           `yaml:"read_only"`
	CapDrop     []string       `yaml:"cap_drop"`
	SecurityOpt []string       `yaml:"security_opt"`
	MemLimit    any            `yaml:"mem_limit"`
	Deploy      struct {
		Resources struct {
			Limits struct {
				Memory any `yaml:"memory"`
			} `yaml:"limits"`
		} `yaml:"resources"`
	} `yaml:"deploy"`
}

func loadCompose(t *testing.T, root string) composeFile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(src, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func service(t *testing.T, c composeFile, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml: no service %q", name)
	}
	return s
}

// envFiles lists env_file entries: a string, a list of strings, or a list of
// {path: ...} objects.
func envFiles(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			switch e := e.(type) {
			case string:
				out = append(out, e)
			case map[string]any:
				if p, ok := e["path"].(string); ok {
					out = append(out, p)
				}
			}
		}
		return out
	}
	return nil
}

// environment reads a map or a list of KEY=VALUE entries.
func environment(v any) map[string]string {
	out := map[string]string{}
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			out[k] = fmt.Sprint(val)
		}
	case []any:
		for _, e := range v {
			k, val, _ := strings.Cut(fmt.Sprint(e), "=")
			out[k] = val
		}
	}
	return out
}

type port struct{ hostIP, published, target string }

// ports reads short ("8080:8080", "127.0.0.1:8080:8080/tcp",
// "[::1]:8080:8080", 8080) and long ({target: 8080, published: 8080,
// host_ip: 127.0.0.1}) port syntax. hostIP is "" when the port is
// published on every interface.
func ports(list []any) []port {
	var out []port
	for _, p := range list {
		switch p := p.(type) {
		case map[string]any:
			hostIP := ""
			if h, ok := p["host_ip"]; ok {
				hostIP = fmt.Sprint(h)
			}
			out = append(out, port{hostIP: hostIP, published: fmt.Sprint(p["published"]), target: fmt.Sprint(p["target"])})
		default:
			s, _, _ := strings.Cut(fmt.Sprint(p), "/")
			hostIP := ""
			if strings.HasPrefix(s, "[") { // [IPv6]:published:target
				if end := strings.Index(s, "]"); end > 0 {
					hostIP, s = s[1:end], strings.TrimPrefix(s[end+1:], ":")
				}
			}
			parts := strings.Split(s, ":")
			target := parts[len(parts)-1]
			published := ""
			if len(parts) >= 2 {
				published = parts[len(parts)-2]
			}
			if len(parts) >= 3 {
				hostIP = parts[0]
			}
			out = append(out, port{hostIP: hostIP, published: published, target: target})
		}
	}
	return out
}

func publishes(list []any, target string) bool {
	for _, p := range ports(list) {
		if p.target == target && p.published != "" && p.published != "<nil>" {
			return true
		}
	}
	return false
}

// volumeMounts maps a volume source to its target, from short
// ("pgdata:/var/lib/postgresql/data") or long syntax.
func volumeMounts(list []any) map[string]string {
	out := map[string]string{}
	for _, v := range list {
		switch v := v.(type) {
		case string:
			parts := strings.Split(v, ":")
			if len(parts) >= 2 {
				out[parts[0]] = parts[1]
			}
		case map[string]any:
			out[fmt.Sprint(v["source"])] = fmt.Sprint(v["target"])
		}
	}
	return out
}

// dependsOn maps a dependency to its condition ("" for the list syntax,
// which does not wait for health).
func dependsOn(v any) map[string]string {
	out := map[string]string{}
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			out[fmt.Sprint(e)] = ""
		}
	case map[string]any:
		for name, spec := range v {
			cond := ""
			if m, ok := spec.(map[string]any); ok {
				cond, _ = m["condition"].(string)
			}
			out[name] = cond
		}
	}
	return out
}

// interpolation matches compose variable references (${VAR}, ${VAR:-x},
// ${VAR:?msg}, $VAR) but not the escaped $$VAR; group 2 is the name.
var interpolation = regexp.MustCompile(`(^|[^$])\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// interpolated reports whether a compose value takes its content from the
// environment or the .env file.
func interpolated(s string) bool { return interpolation.MatchString(s) }

func TestComposeServices(t *testing.T) {
	root, _ := moduleRoot(t)
	c := loadCompose(t, root)
	for _, name := range []string{"db", "mailpit", "gatehouse"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml: service %q is missing", name)
		}
	}
}

func TestComposeDB(t *testing.T) {
	root, _ := moduleRoot(t)
	c := loadCompose(t, root)
	db := service(t, c, "db")

	if !strings.HasPrefix(db.Image, "postgres:15") {
		t.Errorf("db image = %q, want postgres:15", db.Image)
	}

	if db.Healthcheck == nil {
		t.Error("db has no healthcheck")
	} else {
		if test := fmt.Sprint(db.Healthcheck["test"]); !strings.Contains(test, "pg_isready") {
			t.Errorf("db healthcheck test = %s, want it to run pg_isready", test)
		}
		for _, k := range []string{"interval", "timeout", "retries"} {
			if _, ok := db.Healthcheck[k]; !ok {
				t.Errorf("db healthcheck has no %s", k)
			}
		}
	}

	if target, ok := volumeMounts(db.Volumes)["pgdata"]; !ok {
		t.Error("db does not mount the pgdata volume")
	} else if target != "/var/lib/postgresql/data" {
		t.Errorf("pgdata is mounted on %s, want /var/lib/postgresql/data", target)
	}
	if _, ok := c.Volumes["pgdata"]; !ok {
		t.Error("volume pgdata is not declared under top-level volumes")
	}

	// Credentials come from .env: either env_file: .env, or ${...} in every
	// credential set in environment. Never a literal password in the file.
	fromEnvFile := false
	for _, f := range envFiles(db.EnvFile) {
		if filepath.Base(f) == ".env" {
			fromEnvFile = true
		}
	}
	env := environment(db.Environment)
	for _, k := range []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} {
		v, set := env[k]
		switch {
		case set && !interpolated(v):
			t.Errorf("db environment sets %s to a literal %q; take it from .env with ${%s}", k, v, k)
		case !set && !fromEnvFile:
			t.Errorf("db gets no %s: use env_file: .env or %s: ${%s}", k, k, k)
		}
	}
}

func TestComposeMailpit(t *testing.T) {
	root, _ := moduleRoot(t)
	mp := service(t, loadCompose(t, root), "mailpit")
	if !strings.HasPrefix(mp.Image, "axllent/mailpit") {
		t.Errorf("mailpit image = %q, want axllent/mailpit", mp.Image)
	}
	for _, p := range []string{"1025", "8025"} {
		if !publishes(mp.Ports, p) {
			t.Errorf("mailpit does not publish port %s (ports: %v)", p, mp.Ports)
		}
	}
}

func TestComposeGatehouse(t *testing.T) {
	root, _ := moduleRoot(t)
	gh := service(t, loadCompose(t, root), "gatehouse")

	if gh.Build == nil {
		t.Error("gatehouse has no build: it must be built from the Dockerfile")
	}

	deps := dependsOn(gh.DependsOn)
	if cond, ok := deps["db"]; !ok {
		t.Error("gatehouse does not depend on db")
	} else if cond != "service_healthy" {
		t.Errorf("gatehouse depends on db with condition %q, want service_healthy", cond)
	}
	if _, ok := deps["mailpit"]; !ok {
		t.Error("gatehouse does not depend on mailpit")
	}

	env := environment(gh.Environment)
	if smtp := env["GATEHOUSE_SMTP_URL"]; !strings.Contains(smtp, "mailpit:1025") {
		t.Errorf("GATEHOUSE_SMTP_URL = %q, want it to point at mailpit:1025", smtp)
	}
	dbURL := env["GATEHOUSE_DATABASE_URL"]
	if !strings.Contains(dbURL, "@db:") || !strings.Contains(dbURL, "sslmode=disable") {
		t.Errorf("GATEHOUSE_DATABASE_URL = %q, want postgres://...@db:5432/...?sslmode=disable", dbURL)
	}
	if !strings.Contains(dbURL, "${POSTGRES_PASSWORD") {
		t.Errorf("GATEHOUSE_DATABASE_URL = %q, want the password from .env (${POSTGRES_PASSWORD})", dbURL)
	}

	if !publishes(gh.Ports, "8080") {
		t.Errorf("gatehouse does not publish port 8080 (ports: %v)", gh.Ports)
	}
}

// readEnvFile reads KEY=VALUE lines, skipping blanks and comments.
func readEnvFile(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: line %q is not KEY=VALUE", p, line)
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEnvExample(t *testing.T) {
	root, _ := moduleRoot(t)
	env := readEnvFile(t, filepath.Join(root, ".env.example"))
	for _, k := range []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} {
		if env[k] == "" {
			t.Errorf(".env.example does not set %s", k)
		}
	}

	// Every variable the compose file interpolates is documented in .env.example.
	src, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range interpolation.FindAllStringSubmatch(string(src), -1) {
		if _, ok := env[m[2]]; !ok {
			t.Errorf("docker-compose.yml uses ${%s}, which .env.example does not set", m[2])
		}
	}

	// The real .env holds secrets and must never be committed.
	ignore, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	ignored := false
	for _, line := range strings.Split(string(ignore), "\n") {
		if l := strings.TrimSpace(line); l == ".env" || l == "/.env" {
			ignored = true
		}
	}
	if !ignored {
		t.Error(".gitignore does not ignore .env")
	}
}

func TestDockerfile(t *testing.T) {
	root, _ := moduleRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	instrs := dockerInstructions(string(src))

	lastFrom, froms := -1, 0
	for i, in := range instrs {
		if in.op == "FROM" {
			froms++
			lastFrom = i
		}
	}
	if froms < 2 {
		t.Fatalf("Dockerfile has %d FROM lines, want a multi-stage build (at least 2)", froms)
	}
	if !strings.Contains(string(src), "CGO_ENABLED=0") {
		t.Error("Dockerfile does not build with CGO_ENABLED=0 (static binary)")
	}

	// The final stage runs as a non-root user: an explicit non-root USER, or a
	// :nonroot base image that no later USER overrides.
	final := instrs[lastFrom:]
	image := strings.Fields(final[0].args)[0]
	nonRoot := strings.HasSuffix(image, ":nonroot")
	for _, in := range final[1:] {
		if in.op != "USER" {
			continue
		}
		user, _, _ := strings.Cut(in.args, ":")
		nonRoot = user != "root" && user != "0"
	}
	if !nonRoot {
		t.Errorf("the final stage (FROM %s) runs as root; add USER 65532 or use a :nonroot image", image)
	}

	exposes := false
	for _, in := range final {
		if in.op != "EXPOSE" {
			continue
		}
		for _, p := range strings.Fields(in.args) {
			if p == "8080" || p == "8080/tcp" {
				exposes = true
			}
		}
	}
	if !exposes {
		t.Error("the final stage does not EXPOSE 8080")
	}
}

// TestComposeHelpers pins the syntax variants the checks above accept.
func TestComposeHelpers(t *testing.T) {
	var doc struct {
		Ports []any `yaml:"ports"`
		Dep   any   `yaml:"dep"`
		Env   any   `yaml:"env"`
		Files any   `yaml:"files"`
		Vols  []any `yaml:"vols"`
	}
	src := `
ports: ["8080:8080", "127.0.0.1:1025:1025/tcp", 9000, {target: 8025, published: "8025"}]
dep: [db]
env: ["A=1", "B=${X:-y}"]
files: [{path: .env, required: true}]
vols: [{type: volume, source: pgdata, target: /data}]
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"8080", "1025", "8025"} {
		if !publishes(doc.Ports, p) {
			t.Errorf("publishes(%s) = false", p)
		}
	}
	if publishes(doc.Ports, "9000") {
		t.Error("a bare container port is not published to a fixed host port")
	}
	if cond, ok := dependsOn(doc.Dep)["db"]; !ok || cond != "" {
		t.Errorf("dependsOn list = %q, %v", cond, ok)
	}
	if env := environment(doc.Env); env["A"] != "1" || !interpolated(env["B"]) {
		t.Errorf("environment = %v", env)
	}
	if interpolated("a$$literal") || !interpolated("$VAR") {
		t.Error("interpolated: $$ is an escaped dollar, $VAR is interpolation")
	}
	if f := envFiles(doc.Files); len(f) != 1 || f[0] != ".env" {
		t.Errorf("envFiles = %v", f)
	}
	if v := volumeMounts(doc.Vols); v["pgdata"] != "/data" {
		t.Errorf("volumeMounts = %v", v)
	}

	var hosts struct {
		Ports []any `yaml:"ports"`
	}
	if err := yaml.Unmarshal([]byte(`ports: ["8080:8080", "127.0.0.1:1025:1025/tcp", "[::1]:8025:8025", {target: 9000, published: 9000, host_ip: 127.0.0.1}, {target: 9001, published: 9001}]`), &hosts); err != nil {
		t.Fatal(err)
	}
	wantHosts := []port{{"", "8080", "8080"}, {"127.0.0.1", "1025", "1025"}, {"::1", "8025", "8025"}, {"127.0.0.1", "9000", "9000"}, {"", "9001", "9001"}}
	if got := ports(hosts.Ports); !slices.Equal(got, wantHosts) {
		t.Errorf("ports = %v, want %v", got, wantHosts)
	}
	for v, want := range map[any]int64{"256m": 256 << 20, "1g": 1 << 30, "512MB": 512 << 20, 268435456: 256 << 20, "300MiB": 300 << 20} {
		if got, err := parseBytes(v); err != nil || got != want {
			t.Errorf("parseBytes(%v) = %d, %v; want %d", v, got, err, want)
		}
	}
	if _, err := parseBytes("lots"); err == nil {
		t.Error("parseBytes accepted lots")
	}
	in := dockerInstructions("# c\nFROM a AS b\n\nRUN --mount=x \\\n    go build \\\n    ./cmd\nUSER 1\n")
	if len(in) != 3 || in[1] != (instr{"RUN", "--mount=x go build ./cmd"}) || in[2].op != "USER" {
		t.Errorf("dockerInstructions = %q", in)
	}
}

// instr is one Dockerfile instruction, its continuation lines joined.
type instr struct{ op, args string }

// dockerInstructions parses a Dockerfile: comments and blank lines dropped,
// lines ending in a backslash joined with the next.
func dockerInstructions(src string) []instr {
	var instrs []instr
	pending := ""
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || line == "" && pending == "" {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += strings.TrimSpace(cont) + " "
			continue
		}
		line = strings.TrimSpace(pending + line)
		pending = ""
		if line == "" {
			continue
		}
		op, args, _ := strings.Cut(line, " ")
		instrs = append(instrs, instr{strings.ToUpper(op), strings.TrimSpace(args)})
	}
	return instrs
}

// goVersion is the Go the module builds with: go.mod's toolchain line if
// it has one, else its go line.
func goVersion(t *testing.T, root string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^toolchain go(\S+)$`).FindSubmatch(src); m != nil {
		return string(m[1])
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

// TestDockerfileBuild: the builder image is the Go go.mod asks for, exactly,
// and the build keeps Go's module and build caches in BuildKit cache mounts.
func TestDockerfileBuild(t *testing.T) {
	root, _ := moduleRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(src), "\n"); !strings.HasPrefix(first, "# syntax=docker/dockerfile:1") {
		t.Errorf("the Dockerfile's first line is %q, want the # syntax=docker/dockerfile:1 directive (RUN --mount needs it)", first)
	}
	want := "golang:" + goVersion(t, root)
	var builder string
	var build, download *instr
	instrs := dockerInstructions(string(src))
	for i, in := range instrs {
		switch {
		case in.op == "FROM" && strings.HasPrefix(in.args, "golang:"):
			builder = strings.Fields(in.args)[0]
		case in.op == "RUN" && strings.Contains(in.args, "go build"):
			build = &instrs[i]
		case in.op == "RUN" && strings.Contains(in.args, "go mod download"):
			download = &instrs[i]
		}
	}
	if builder != want {
		t.Errorf("builder image %q, want %q (go.mod's Go version)", builder, want)
	}
	mounts := func(in *instr, target string) bool {
		return in != nil && regexp.MustCompile(`--mount=type=cache,(\S+,)?target=`+regexp.QuoteMeta(target)+`(,|\s)`).MatchString(in.args+" ")
	}
	if !mounts(build, "/root/.cache/go-build") || !mounts(build, "/go/pkg/mod") {
		t.Errorf("the go build step does not mount the build cache and the module cache: RUN %v", build)
	}
	if !mounts(download, "/go/pkg/mod") {
		t.Errorf("the go mod download step does not mount the module cache: RUN %v", download)
	}
}

// TestComposeImagesPinned: every image names a version, never latest.
func TestComposeImagesPinned(t *testing.T) {
	root, _ := moduleRoot(t)
	pinned := regexp.MustCompile(`^[^:@\s]+(:v?[0-9]+\.[0-9]+[0-9A-Za-z.+_-]*)?(@sha256:[0-9a-f]{64})?$`)
	for name, s := range loadCompose(t, root).Services {
		if s.Image == "" {
			continue
		}
		_, tag, hasTag := strings.Cut(s.Image, ":")
		if !pinned.MatchString(s.Image) || !hasTag && !strings.Contains(s.Image, "@sha256:") || strings.HasPrefix(tag, "latest") {
			t.Errorf("service %s: image %q is not pinned to a version (name:MAJOR.MINOR[.PATCH] or @sha256:)", name, s.Image)
		}
	}
}

// TestComposePortsOnLoopback: every published port is bound to loopback,
// so `docker compose up` exposes nothing (the mail UI, with its live links,
// above all) beyond this machine.
func TestComposePortsOnLoopback(t *testing.T) {
	root, _ := moduleRoot(t)
	for name, s := range loadCompose(t, root).Services {
		for _, p := range ports(s.Ports) {
			if p.published == "" || p.published == "<nil>" {
				continue
			}
			if p.hostIP != "127.0.0.1" && p.hostIP != "::1" {
				t.Errorf("service %s publishes %s on %q, want 127.0.0.1 (\"127.0.0.1:%s:%s\")", name, p.published, p.hostIP, p.published, p.target)
			}
		}
	}
}

// TestComposeGatehouseHealthcheck: compose probes the service with the
// binary's own healthcheck subcommand (the image has no shell or curl).
func TestComposeGatehouseHealthcheck(t *testing.T) {
	root, _ := moduleRoot(t)
	gh := service(t, loadCompose(t, root), "gatehouse")
	if gh.Healthcheck == nil {
		t.Fatal("gatehouse has no healthcheck")
	}
	test, _ := gh.Healthcheck["test"].([]any)
	if got := fmt.Sprint(test); got != "[CMD /gatehouse healthcheck]" {
		t.Errorf("gatehouse healthcheck test = %s, want [\"CMD\", \"/gatehouse\", \"healthcheck\"]", got)
	}
	for _, k := range []string{"interval", "timeout", "retries", "start_period"} {
		if _, ok := gh.Healthcheck[k]; !ok {
			t.Errorf("gatehouse healthcheck has no %s", k)
		}
	}
}

// parseBytes reads a compose byte value: 268435456, "256m", "1g", "512MB".
func parseBytes(v any) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(fmt.Sprint(v)))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a byte size", fmt.Sprint(v))
	}
	return n * mult, nil
}

// idleMiB is the resident memory of a warmed-up server beside its password
// hashes (measured: 44 MiB after start, 97 MiB after 200 registrations; see
// the comment at mem_limit in docker-compose.yml).
const idleMiB = 100

// TestComposeGatehouseHardening: the service runs with a read-only root
// filesystem, no capabilities, no privilege escalation, and a memory limit
// sized from the argon2 bound: at least idle + 2 × HASH_CONCURRENCY ×
// ARGON2_MEMORY_KIB (Go's collector lets the heap reach about twice what is
// live), and not so far above it that it bounds nothing.
func TestComposeGatehouseHardening(t *testing.T) {
	root, _ := moduleRoot(t)
	gh := service(t, loadCompose(t, root), "gatehouse")
	if !gh.ReadOnly {
		t.Error("gatehouse: read_only is not true")
	}
	if !slices.Contains(gh.CapDrop, "ALL") {
		t.Errorf("gatehouse: cap_drop = %v, want [ALL]", gh.CapDrop)
	}
	if !slices.Contains(gh.SecurityOpt, "no-new-privileges:true") && !slices.Contains(gh.SecurityOpt, "no-new-privileges") {
		t.Errorf("gatehouse: security_opt = %v, want [no-new-privileges:true]", gh.SecurityOpt)
	}

	env := environment(gh.Environment)
	hc, err := strconv.Atoi(env["GATEHOUSE_HASH_CONCURRENCY"])
	if err != nil || hc < 1 {
		t.Fatalf("gatehouse: GATEHOUSE_HASH_CONCURRENCY = %q; set it (the default, the number of CPUs, is the host's in a container) so that the memory limit can be sized", env["GATEHOUSE_HASH_CONCURRENCY"])
	}
	argon2KiB := int64(0)
	if v, ok := env["GATEHOUSE_ARGON2_MEMORY_KIB"]; ok {
		argon2KiB, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("GATEHOUSE_ARGON2_MEMORY_KIB = %q", v)
		}
	} else {
		cfg, err := os.ReadFile(filepath.Join(root, "cmd", "gatehouse", "config.go"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`env:"ARGON2_MEMORY_KIB" envDefault:"([0-9]+)"`).FindSubmatch(cfg)
		if m == nil {
			t.Fatal("cmd/gatehouse/config.go: no envDefault for ARGON2_MEMORY_KIB")
		}
		argon2KiB, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}

	limit := gh.MemLimit
	if limit == nil {
		limit = gh.Deploy.Resources.Limits.Memory
	}
	if limit == nil {
		t.Fatal("gatehouse has no memory limit (mem_limit or deploy.resources.limits.memory)")
	}
	got, err := parseBytes(limit)
	if err != nil {
		t.Fatal(err)
	}
	need := int64(idleMiB)<<20 + 2*int64(hc)*argon2KiB<<10
	if got < need || got > 2*need {
		t.Errorf("gatehouse memory limit %d MiB, want between %d and %d MiB (idle %d MiB + 2 × %d hashes × %d KiB, at most twice that)",
			got>>20, need>>20, 2*need>>20, idleMiB, hc, argon2KiB)
	}
}

// TestComposeOperatorSurface: both listeners take the container's
// interfaces (the binary's defaults are its loopback, which the host cannot
// reach), the admin listener is published on the host's loopback only, and
// it accepts the Host names a client on the host sends. The image itself
// listens on every interface too, since its healthcheck and a plain
// `docker run -p` depend on it.
func TestComposeOperatorSurface(t *testing.T) {
	root, _ := moduleRoot(t)
	gh := service(t, loadCompose(t, root), "gatehouse")
	env := environment(gh.Environment)
	for variable, port := range map[string]string{"GATEHOUSE_HTTP_ADDR": "8080", "GATEHOUSE_ADMIN_ADDR": "8081"} {
		host, p, ok := strings.Cut(env[variable], ":")
		if !ok || p != port || host != "" && host != "0.0.0.0" {
			t.Errorf("gatehouse: %s = %q, want \":%s\" (every interface of the container)", variable, env[variable], port)
		}
		if !publishes(gh.Ports, port) {
			t.Errorf("gatehouse does not publish %s's port %s (ports: %v)", variable, port, gh.Ports)
		}
	}
	hosts := strings.Split(env["GATEHOUSE_ADMIN_HOSTS"], ",")
	if !slices.Contains(hosts, "localhost") || !slices.Contains(hosts, "127.0.0.1") {
		t.Errorf("gatehouse: GATEHOUSE_ADMIN_HOSTS = %q, want localhost,127.0.0.1 (the Host a client on the host sends)", env["GATEHOUSE_ADMIN_HOSTS"])
	}

	src, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ENV GATEHOUSE_HTTP_ADDR=:8080$`).Match(src) {
		t.Error("the Dockerfile does not set ENV GATEHOUSE_HTTP_ADDR=:8080 (the binary's default is loopback)")
	}
}
