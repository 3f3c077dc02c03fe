package archtest

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// The dependency rule (README, "Architecture"): arrows point inward only,
// adapters/* -> app -> domain, and no adapter imports another (adapters/internal,
// the code the adapters share, is no adapter). cmd/ and wire/ see everything;
// what they may not hold (a store's internals in wire/, SQL in cmd/)
// assembly_test.go checks.
//
// Only non-test .go files are checked: a test may pull in helpers (for example
// internal/smtptest, or a contract suite) that production code must not.
// Generated mocks (app/mock) and the test fakes in app/internal/apptest are test support that imports gomock,
// so they are skipped too. Build constraints are ignored on purpose: a file
// behind a build tag must obey the rule as well.

// violation is one import that breaks the rule.
type violation struct {
	File   string // slash path relative to the module root
	Import string
	Reason string
}

func (v violation) String() string {
	return fmt.Sprintf("%s imports %q: %s", v.File, v.Import, v.Reason)
}

// allowedThirdParty are the tiny pure helpers the inner layers may use.
func isPureHelper(imp string) bool {
	return imp == "github.com/google/uuid" ||
		imp == "golang.org/x/text" || strings.HasPrefix(imp, "golang.org/x/text/")
}

// isStdlib reports whether imp is a standard-library path: its first element
// has no dot (and it is not the module itself, which always has one here).
func isStdlib(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// within reports whether imp is pkg or one of its sub-packages.
func within(imp, pkg string) bool {
	return imp == pkg || strings.HasPrefix(imp, pkg+"/")
}

// forbiddenInApp are named in the error message when app/ imports them, so the
// failure says which outer-layer dependency leaked in.
var forbiddenInApp = []struct{ prefix, what string }{
	{"github.com/gofiber", "HTTP framework (Fiber) belongs in adapters/http"},
	{"github.com/jackc/pgx", "database driver (pgx) belongs in adapters/postgres"},
	{"go.uber.org/zap", "logger (zap) belongs in adapters and app decorators wired from outside"},
	{"github.com/google/wire", "Wire belongs in wire/"},
}

// checkImport applies the dependency rule to one import of a package. dir is
// the package directory relative to the module root, in slash form
// ("domain/user", "adapters/postgres/pgtest"). It returns the reason the
// import is forbidden, or "" when it is allowed.
func checkImport(module, dir, imp string) string {
	top, rest, _ := strings.Cut(dir, "/")
	switch top {
	case "domain":
		switch {
		case isStdlib(imp), isPureHelper(imp), within(imp, module+"/domain"):
			return ""
		case within(imp, module):
			return "domain/ may import only domain/ of this module"
		default:
			return "domain/ may import only the standard library, github.com/google/uuid and golang.org/x/text"
		}
	case "app":
		switch {
		case isStdlib(imp), isPureHelper(imp), within(imp, module+"/domain"), within(imp, module+"/app"):
			return ""
		case within(imp, module+"/adapters"):
			return "app/ must not import adapters: declare a port in app/ and let the adapter implement it"
		case within(imp, module+"/wire"), within(imp, module+"/cmd"):
			return "app/ must not import the composition root (wire/, cmd/)"
		case within(imp, module):
			return "app/ may import only domain/ and app/ of this module"
		}
		for _, f := range forbiddenInApp {
			if within(imp, f.prefix) {
				return "app/ must not import infrastructure: " + f.what
			}
		}
		return "app/ may import only the standard library, github.com/google/uuid, golang.org/x/text, domain/ and app/"
	case "adapters":
		self, _, _ := strings.Cut(rest, "/")
		switch {
		case within(imp, module+"/wire"), within(imp, module+"/cmd"):
			return "adapters must not import the composition root (wire/, cmd/)"
		case within(imp, module+"/adapters/"+self):
			return ""
		case within(imp, module+"/adapters/internal"):
			return "" // code the adapters share (the SQL of both stores); no adapter of its own
		case within(imp, module+"/adapters"):
			return fmt.Sprintf("adapter %q must not import another adapter; depend on an app/ port instead", self)
		}
		return ""
	}
	return ""
}

// skipDir reports whether a directory holds no code the rule applies to.
func skipDir(dir string) bool {
	base := path.Base(dir)
	if base == "testdata" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
		return true
	}
	// Generated gomock doubles of the app ports: test support, may import gomock.
	return dir == "app/mock" || dir == "app/internal/apptest"
}

// scan walks domain/, app/ and adapters/ of the module in fsys (rooted at the
// module root) and returns every import that breaks the rule, sorted, plus
// how many files it looked at per layer.
func scan(fsys fs.FS, module string) ([]violation, map[string]int, error) {
	var out []violation
	counted, err := eachGoFile(fsys, []string{"domain", "app", "adapters"}, parser.ImportsOnly, func(_, p string, f *ast.File, _ *token.FileSet) error {
		return eachImport(p, f, func(imp string) {
			if reason := checkImport(module, path.Dir(p), imp); reason != "" {
				out = append(out, violation{File: p, Import: imp, Reason: reason})
			}
		})
	})
	return sorted(out), counted, err
}

// eachGoFile parses every non-test .go file under each layer of fsys (a
// layer that does not exist yet is skipped, as are skipDir's directories)
// with mode, hands it to fn, and counts the files per layer.
func eachGoFile(fsys fs.FS, layers []string, mode parser.Mode, fn func(layer, p string, f *ast.File, fset *token.FileSet) error) (map[string]int, error) {
	counted := map[string]int{}
	fset := token.NewFileSet()
	for _, layer := range layers {
		err := fs.WalkDir(fsys, layer, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == layer {
					return fs.SkipDir // a layer that does not exist yet has nothing to break
				}
				return err
			}
			if d.IsDir() {
				if p != layer && skipDir(p) {
					return fs.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			src, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			f, err := parser.ParseFile(fset, p, src, mode)
			if err != nil {
				return err
			}
			counted[layer]++
			return fn(layer, p, f, fset)
		})
		if err != nil {
			return nil, err
		}
	}
	return counted, nil
}

// eachImport calls fn with every import path of f (a file at p).
func eachImport(p string, f *ast.File, fn func(imp string)) error {
	for _, spec := range f.Imports {
		imp, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			return fmt.Errorf("%s: bad import %s", p, spec.Path.Value)
		}
		fn(imp)
	}
	return nil
}

// sorted sorts violations by file, then import.
func sorted(out []violation) []violation {
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Import < out[j].Import
	})
	return out
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod and returns it with the module path declared there.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
					return dir, strings.Trim(strings.TrimSpace(rest), `"`)
				}
			}
			t.Fatalf("%s/go.mod has no module line", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func TestDependencyRule(t *testing.T) {
	counted := checkTree(t, scan, "domain", "app")
	t.Logf("checked %d domain, %d app, %d adapter files", counted["domain"], counted["app"], counted["adapters"])
}

// checkTree runs scan over the module and fails on each violation, and
// when one of the layers that must have files has none (a vacuous pass: a
// renamed directory, a broken walk).
func checkTree(t *testing.T, scan func(fs.FS, string) ([]violation, map[string]int, error), mustHave ...string) map[string]int {
	t.Helper()
	root, module := moduleRoot(t)
	violations, counted, err := scan(os.DirFS(root), module)
	if err != nil {
		t.Fatal(err)
	}
	for _, layer := range mustHave {
		if counted[layer] == 0 {
			t.Errorf("no Go files found under %s/: nothing was checked", layer)
		}
	}
	for _, v := range violations {
		t.Error(v)
	}
	return counted
}

// TestCheckImport shows the rule on single imports, so it is plain what would
// fail.
func TestCheckImport(t *testing.T) {
	const m = "github.com/gatehouse-auth/gatehouse"
	tests := []struct {
		dir, imp string
		ok       bool
	}{
		// domain: stdlib, uuid, x/text and domain/ only.
		{"domain/user", "time", true},
		{"domain/user", "crypto/subtle", true},
		{"domain/user", "github.com/google/uuid", true},
		{"domain/user", "golang.org/x/text/unicode/norm", true},
		{"domain/user", m + "/domain", true},
		{"domain", m + "/domain/user", true},
		{"domain/user", m + "/app", false},
		{"domain/user", m + "/adapters/postgres", false},
		{"domain/user", m + "/internal/smtptest", false},
		{"domain/user", "go.uber.org/zap", false},
		{"domain/user", "github.com/jackc/pgx/v5", false},
		{"domain/user", "github.com/google/uuidx", false},
		{"domain/user", "golang.org/x/crypto/argon2", false},
		// app: plus app/.
		{"app", m + "/domain/user", true},
		{"app/account", m + "/app", true},
		{"app/account", "github.com/google/uuid", true},
		{"app/account", "context", true},
		{"app/account", "github.com/gofiber/fiber/v2", false},
		{"app/account", "github.com/jackc/pgx/v5/pgconn", false},
		{"app/account", "go.uber.org/zap", false},
		{"app/account", "github.com/google/wire", false},
		{"app/account", m + "/adapters/http", false},
		{"app/account", m + "/wire", false},
		{"app/account", m + "/cmd/gatehouse", false},
		{"app/account", "go.uber.org/mock/gomock", false},
		{"app/storage", m + "/app", true},
		{"app/storage", "github.com/jackc/pgx/v5/pgxpool", false},
		{"app/storage", m + "/adapters/metrics", false},
		// adapters: anything but another adapter, wire/ or cmd/.
		{"adapters/postgres", "github.com/jackc/pgx/v5", true},
		{"adapters/postgres", m + "/app", true},
		{"adapters/postgres", m + "/domain/user", true},
		{"adapters/postgres", m + "/migrations", true},
		{"adapters/postgres", m + "/internal/smtptest", true},
		{"adapters/postgres", m + "/adapters/postgres/pgtest", true},
		{"adapters/postgres/pgtest", m + "/adapters/postgres", true},
		{"adapters/http", m + "/adapters/postgres", false},
		{"adapters/http/middleware", m + "/adapters/mailer", false},
		{"adapters/postgres", m + "/adapters/postgresx", false},
		{"adapters/sqlite", m + "/adapters/internal/sqlstore", true},
		{"adapters/internal/sqlstore", m + "/adapters/sqlite", false},
		{"adapters/mailer", m + "/wire", false},
		{"adapters/mailer", m + "/cmd/gatehouse", false},
		// The composition root is not checked.
		{"wire", m + "/adapters/postgres", true},
		{"cmd/gatehouse", m + "/adapters/http", true},
	}
	for _, tt := range tests {
		reason := checkImport(m, tt.dir, tt.imp)
		if got := reason == ""; got != tt.ok {
			t.Errorf("package %s importing %q: allowed = %v, want %v (reason %q)", tt.dir, tt.imp, got, tt.ok, reason)
		}
	}
}

// TestScanFindsViolations runs the whole checker over an in-memory tree with
// forbidden imports planted in it: this is the test failing on purpose.
func TestScanFindsViolations(t *testing.T) {
	const m = "example.com/gh"
	file := func(pkg string, imports ...string) *fstest.MapFile {
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\nimport (\n", pkg)
		for _, imp := range imports {
			fmt.Fprintf(&b, "\t_ %q\n", imp)
		}
		b.WriteString(")\n")
		return &fstest.MapFile{Data: []byte(b.String())}
	}
	fsys := fstest.MapFS{
		"go.mod":                        {Data: []byte("module " + m + "\n")},
		"domain/user/user.go":           file("user", "time", "github.com/google/uuid", m+"/domain"),
		"domain/user/bad.go":            file("user", "go.uber.org/zap"),
		"domain/user/user_test.go":      file("user", "github.com/jackc/pgx/v5"), // tests are not checked
		"domain/user/testdata/x.go":     file("x", "github.com/gofiber/fiber/v2"),
		"app/ports.go":                  file("app", "context", m+"/domain/user"),
		"app/account/register.go":       file("account", m+"/app", "github.com/jackc/pgx/v5", m+"/adapters/postgres"),
		"app/mock/ports.go":             file("mock", "go.uber.org/mock/gomock"),
		"adapters/http/server.go":       file("http", "github.com/gofiber/fiber/v2", m+"/app", m+"/adapters/postgres"),
		"adapters/postgres/db.go":       file("postgres", "github.com/jackc/pgx/v5", m+"/adapters/postgres/pgtest"),
		"adapters/postgres/pgtest/p.go": file("pgtest", m+"/migrations", m+"/internal/smtptest"),
		"adapters/mailer/smtp.go":       file("mailer", m+"/wire"),
		"adapters/mailer/smtp_test.go":  file("mailer", m+"/adapters/postgres/pgtest"),
	}
	got, counted, err := scan(fsys, m)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"adapters/http/server.go imports " + strconv.Quote(m+"/adapters/postgres"),
		"adapters/mailer/smtp.go imports " + strconv.Quote(m+"/wire"),
		"app/account/register.go imports " + strconv.Quote(m+"/adapters/postgres"),
		"app/account/register.go imports " + strconv.Quote("github.com/jackc/pgx/v5"),
		"domain/user/bad.go imports " + strconv.Quote("go.uber.org/zap"),
	}
	var gotS []string
	for _, v := range got {
		gotS = append(gotS, v.File+" imports "+strconv.Quote(v.Import))
		if v.Reason == "" {
			t.Errorf("%v has no reason", v)
		}
	}
	if strings.Join(gotS, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(gotS, "\n"), strings.Join(want, "\n"))
	}
	if counted["domain"] != 2 || counted["app"] != 2 || counted["adapters"] != 4 {
		t.Errorf("files checked per layer = %v, want domain 2, app 2, adapters 4", counted)
	}
	for _, v := range got {
		t.Logf("planted violation found: %v", v)
	}
}
