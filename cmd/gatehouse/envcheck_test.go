package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestLevenshtein(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"abc", "abc", 0},
		{"kitten", "sitting", 3}, {"ACCES_TOKEN_TTL", "ACCESS_TOKEN_TTL", 1},
		{"LOGLEVEL", "LOG_LEVEL", 1}, {"flaw", "lawn", 2}, {"ça", "ca", 1},
	} {
		if got := levenshtein(c.a, c.b); got != c.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestKnownEnvIsConfigsEnvTags(t *testing.T) {
	t.Parallel()
	known := knownEnv()
	typ := reflect.TypeOf(Config{})
	tagged := 0
	for i := 0; i < typ.NumField(); i++ {
		if typ.Field(i).Tag.Get("env") != "" {
			tagged++
		}
	}
	if len(known) != tagged {
		t.Fatalf("knownEnv has %d names, Config has %d env tags: %v", len(known), tagged, known)
	}
	for _, want := range []string{"GATEHOUSE_ACCESS_TOKEN_TTL", "GATEHOUSE_DATABASE_URL", "GATEHOUSE_SHUTDOWN_TIMEOUT", "GATEHOUSE_HTTP_ADDR"} {
		found := false
		for _, k := range known {
			found = found || k == want
		}
		if !found {
			t.Errorf("knownEnv lacks %s: %v", want, known)
		}
	}
	if envDefault("HTTP_ADDR") != "127.0.0.1:8080" || envDefault("SHUTDOWN_TIMEOUT") != "15s" {
		t.Errorf("envDefault: HTTP_ADDR=%q SHUTDOWN_TIMEOUT=%q", envDefault("HTTP_ADDR"), envDefault("SHUTDOWN_TIMEOUT"))
	}
}

func TestUnknownEnvSuggestsTheClosestKnownName(t *testing.T) {
	t.Parallel()
	got := unknownEnv(map[string]string{
		envPrefix + "ACCES_TOKEN_TTL": "1m", // a typo
		envPrefix + "LOGLEVEL":        "debug",
		envPrefix + "SMTP_ULR":        "smtp://x",
		envPrefix + "FROBNICATE":      "1", // nothing near it
		"GATEHOUSE_ACCESS_TOKEN_TTL":  "15m",
		"GATEHOUSE_TEST_DATABASE_URL": "postgres://x", // tests only
		"GATEHOUSE_TEST_RUN_MAIN":     "1",
		"PATH":                        "/bin",
		"gatehouse_log_level":         "x", // not our prefix
	})
	want := []unknownVar{
		{envPrefix + "ACCES_TOKEN_TTL", "GATEHOUSE_ACCESS_TOKEN_TTL"},
		{envPrefix + "FROBNICATE", ""},
		{envPrefix + "LOGLEVEL", "GATEHOUSE_LOG_LEVEL"},
		{envPrefix + "SMTP_ULR", "GATEHOUSE_SMTP_URL"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("unknownEnv = %v, want %v", got, want)
	}
	if s := got[0].String(); s != envPrefix+"ACCES_TOKEN_TTL (did you mean GATEHOUSE_ACCESS_TOKEN_TTL?)" {
		t.Errorf("String() = %q", s)
	}
	if s := got[1].String(); s != envPrefix+"FROBNICATE" {
		t.Errorf("String() without a suggestion = %q", s)
	}
}

// testOnlyEnv are the GATEHOUSE_ variables that only tests read. Those that
// reach serve (set in the environment of test runs and of the processes
// tests start) begin with testEnvPrefix, which serve does not warn about;
// the others are read by test helper processes that never serve.
var testOnlyEnv = map[string]bool{
	"GATEHOUSE_TEST_DATABASE_URL":  true, // adapters/postgres/pgtest: the server tests make databases on
	"GATEHOUSE_TEST_RUN_MAIN":      true, // cmd/gatehouse tests: re-enter main() in a child process
	"GATEHOUSE_TEST_ARGS":          true, // ... with these arguments
	"GATEHOUSE_SQLITE_LOCK_HELPER": true, // adapters/sqlite tests: the lock-holding helper process
	"GATEHOUSE_BENCH_UNBOUNDED":    true, // adapters/argon2id: opt-in benchmark
}

// The misspelt names in these tests are written envPrefix+"..." so that
// TestEveryGatehouseVariableInTheTreeIsKnown does not find them.

// TestEveryGatehouseVariableInTheTreeIsKnown: every GATEHOUSE_ name that
// code, scripts or the compose file mention is either read by Config or
// listed as test-only, so serve never warns about a variable the project
// itself sets, and a variable read outside Config cannot appear unnoticed.
func TestEveryGatehouseVariableInTheTreeIsKnown(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, k := range knownEnv() {
		known[k] = true
	}
	name := regexp.MustCompile(`GATEHOUSE_[A-Z0-9][A-Z0-9_]*[A-Z0-9]`)
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(base, ".") && base != ".ci" || base == "bin" || base == "data" || base == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(base, ".go") && base != "Makefile" && base != "Dockerfile" && base != "docker-compose.yml" && base != "run" && base != ".env.example" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range name.FindAllString(string(src), -1) {
			if !known[n] && !testOnlyEnv[n] {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s mentions %s, which Config does not read and testOnlyEnv does not list", rel, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestServeWarnsOnceAboutUnknownVariables: serve logs one warning naming
// every unknown GATEHOUSE_ variable with its closest known name, and none
// about the test harness's own variables or when there is nothing unknown.
// The embedded store only: the check runs before any store is opened.
func TestServeWarnsOnceAboutUnknownVariables(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, onSQLite, nil)
	env[envPrefix+"ACCES_TOKEN_TTL"] = "1m"
	env[envPrefix+"FROBNICATE"] = "yes"
	env["GATEHOUSE_TEST_DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/postgres" // read by tests only
	inst := start(t, env)

	var warnings []string
	for _, line := range strings.Split(inst.Logs.String(), "\n") {
		if strings.Contains(line, "unknown GATEHOUSE_ variables") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 {
		t.Fatalf("%d warnings about unknown variables, want 1:\n%s", len(warnings), inst.Logs)
	}
	w := warnings[0]
	for _, want := range []string{
		`"level":"warn"`,
		envPrefix + "ACCES_TOKEN_TTL (did you mean GATEHOUSE_ACCESS_TOKEN_TTL?), " + envPrefix + "FROBNICATE",
		`"variables":["` + envPrefix + `ACCES_TOKEN_TTL","` + envPrefix + `FROBNICATE"]`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warning lacks %s:\n%s", want, w)
		}
	}
	if strings.Contains(w, "GATEHOUSE_TEST_DATABASE_URL") {
		t.Errorf("warning names the test-only GATEHOUSE_TEST_DATABASE_URL:\n%s", w)
	}

	clean := start(t, baseEnv(t, onSQLite, nil))
	if strings.Contains(clean.Logs.String(), "unknown GATEHOUSE_ variables") {
		t.Errorf("a warning with only known variables set:\n%s", clean.Logs)
	}
}
