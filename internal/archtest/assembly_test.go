package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// The composition root stays thin: wire/ takes the store as one
// storage.Store and calls adapters' constructors, so it imports no store
// adapter and no database driver; cmd/ picks and opens a store through its
// adapter and holds no SQL. Test files are not checked.

// storeInternals are what wire/ must not import: the store adapters (the
// store reaches wire/ as a storage.Store) and the database drivers.
var storeInternals = []struct{ prefix, what string }{
	{"adapters/postgres", "a store adapter: the store reaches wire/ opened, as a storage.Store"},
	{"adapters/sqlite", "a store adapter: the store reaches wire/ opened, as a storage.Store"},
	{"database/sql", "a database API belongs in the store adapters"},
	{"github.com/jackc/pgx", "a database driver (pgx) belongs in adapters/postgres"},
	{"modernc.org/sqlite", "a database driver belongs in adapters/sqlite"},
}

// checkWireImport returns why wire/ may not import imp, or "".
func checkWireImport(module, imp string) string {
	for _, f := range storeInternals {
		p := f.prefix
		if strings.HasPrefix(p, "adapters/") {
			p = module + "/" + p
		}
		if within(imp, p) {
			return "wire/ must not import " + f.what
		}
	}
	return ""
}

// sqlText matches a string that reads as an SQL statement.
var sqlText = regexp.MustCompile(`(?is)\b(select\b.+\bfrom|insert\s+into|update\s+\w+\s+set|delete\s+from|create\s+(table|index)|alter\s+table|drop\s+table)\b`)

// sqlDrivers are imports that mean SQL is run right there.
var sqlDrivers = []string{"database/sql", "github.com/jackc/pgx", "modernc.org/sqlite"}

// scanComposition walks wire/ and cmd/ of the module in fsys and returns
// every breach: an import of a store's internals in wire/, SQL (an SQL
// string or a database API) in cmd/.
func scanComposition(fsys fs.FS, module string) ([]violation, map[string]int, error) {
	var out []violation
	counted, err := eachGoFile(fsys, []string{"wire", "cmd"}, parser.SkipObjectResolution, func(layer, p string, f *ast.File, fset *token.FileSet) error {
		if layer == "wire" {
			return eachImport(p, f, func(imp string) {
				if reason := checkWireImport(module, imp); reason != "" {
					out = append(out, violation{File: p, Import: imp, Reason: reason})
				}
			})
		}
		err := eachImport(p, f, func(imp string) {
			for _, d := range sqlDrivers {
				if within(imp, d) {
					out = append(out, violation{File: p, Import: imp, Reason: "cmd/ must not run SQL: a store's adapter does"})
				}
			}
		})
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && sqlText.MatchString(s) {
				out = append(out, violation{File: p, Import: fmt.Sprintf("line %d: %.40s", fset.Position(lit.Pos()).Line, s), Reason: "cmd/ must not hold SQL: a store's adapter does"})
			}
			return true
		})
		return err
	})
	return sorted(out), counted, err
}

func TestCompositionRootIsThin(t *testing.T) { checkTree(t, scanComposition, "wire", "cmd") }

// TestScanCompositionFindsViolations plants each breach in an in-memory
// tree: this is the check failing on purpose.
func TestScanCompositionFindsViolations(t *testing.T) {
	const m = "example.com/gh"
	file := func(pkg, body string, imports ...string) *fstest.MapFile {
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\nimport (\n", pkg)
		for _, imp := range imports {
			fmt.Fprintf(&b, "\t_ %q\n", imp)
		}
		b.WriteString(")\n" + body)
		return &fstest.MapFile{Data: []byte(b.String())}
	}
	fsys := fstest.MapFS{
		"wire/providers.go":      file("wire", "", m+"/adapters/argon2id", m+"/app/storage", "github.com/jackc/pgx/v5/pgxpool"),
		"wire/wire_gen.go":       file("wire", "", m+"/adapters/sqlite"),
		"wire/x_test.go":         file("wire", "", "database/sql"),
		"cmd/gh/main.go":         file("main", "const q = `SELECT id FROM users WHERE email = $1`\n", m+"/wire", m+"/adapters/postgres"),
		"cmd/gh/store.go":        file("main", "var s = \"select the store\"\n", "database/sql"),
		"cmd/gh/store_test.go":   file("main", "const q = \"DELETE FROM users\"\n"),
		"cmd/gh/testdata/x.go":   file("x", "const q = \"INSERT INTO users\"\n"),
		"cmd/gh/help.go":         file("main", "const usage = \"migrate up|down|status\"\n"),
		"adapters/postgres/a.go": file("postgres", "const q = \"DELETE FROM users\"\n", "github.com/jackc/pgx/v5"),
	}
	got, counted, err := scanComposition(fsys, m)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cmd/gh/main.go: line 7: SELECT id FROM users WHERE email = $1",
		"cmd/gh/store.go: database/sql",
		"wire/providers.go: github.com/jackc/pgx/v5/pgxpool",
		"wire/wire_gen.go: " + m + "/adapters/sqlite",
	}
	var gotS []string
	for _, v := range got {
		gotS = append(gotS, v.File+": "+v.Import)
		if v.Reason == "" {
			t.Errorf("%v has no reason", v)
		}
	}
	if strings.Join(gotS, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(gotS, "\n"), strings.Join(want, "\n"))
	}
	if counted["wire"] != 2 || counted["cmd"] != 3 {
		t.Errorf("files checked = %v, want wire 2, cmd 3", counted)
	}
}
