package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/argon2id"
	"github.com/jackc/pgx/v5"
)

// buildGatehouse builds the server binary into a temporary directory.
func buildGatehouse(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// benchURL is the PostgreSQL server the tests create their databases on.
func benchURL() string {
	if u := os.Getenv("GATEHOUSE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var (
	rowLine   = regexp.MustCompile(`^(register|login|refresh|me|code|userinfo|oidc-refresh)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+(-|[\d.]+)\s+(-|[\d.]+)\s+([\d.]+)\s+([\d.]+)$`)
	storeLine = regexp.MustCompile(`^store (postgres|sqlite): (?:database (\S+) \(created|embedded store in (\S+) \(removed).*, server pid (\d+)$`)
)

// TestBenchPrintsTheTableAndCleansUp runs the bench machinery briefly (one
// second per endpoint, two clients, cheap argon2id) on both stores and
// checks the shape of what it prints, not the figures: a heading with the
// machine and the measured argon2id limit, and per store one row per
// endpoint with every column, the login ratio and the peak RSS; and that
// afterwards the servers are gone, the data directories removed and the
// PostgreSQL database dropped.
func TestBenchPrintsTheTableAndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs it for about 20 s")
	}
	var out bytes.Buffer
	o := benchOpts{
		bin: buildGatehouse(t), stores: []string{storeSQLite, storePostgres}, endpoints: benchEndpoints,
		forDur: time.Second, concurrency: 2, users: 20, pgURL: benchURL(),
		params:   argon2id.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1},
		logLevel: "warn", hashFor: 100 * time.Millisecond, settle: 2 * time.Second,
	}
	if err := runBench(context.Background(), o, &out); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	text := out.String()
	t.Log("\n" + text)
	lines := strings.Split(text, "\n")
	if !strings.HasPrefix(lines[0], "gatehouse bench: ") || !strings.Contains(lines[0], "CPUs") || !strings.Contains(lines[0], "load average") {
		t.Errorf("first line names no machine: %q", lines[0])
	}
	if !regexp.MustCompile(`argon2id m=1024 KiB t=1 p=1: one hash [\d.]+ ms CPU .*argon2 limit = \d+ cores / [\d.]+ ms = [\d.]+ hashes/s`).MatchString(text) {
		t.Errorf("no argon2 limit line:\n%s", text)
	}
	type seen struct {
		rows            []string
		ratio, rss      bool
		where, pid, hdr string
	}
	stores := map[string]*seen{}
	var cur *seen
	for _, l := range lines {
		if m := storeLine.FindStringSubmatch(l); m != nil {
			cur = &seen{where: m[2] + m[3], pid: m[4]}
			stores[m[1]] = cur
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case strings.HasPrefix(l, "endpoint "):
			cur.hdr = strings.Join(strings.Fields(l), " ")
		case rowLine.MatchString(l):
			m := rowLine.FindStringSubmatch(l)
			cur.rows = append(cur.rows, m[1])
			if n, _ := strconv.Atoi(m[2]); n == 0 {
				t.Errorf("no %s requests: %q", m[1], l)
			}
			// The OpenID Connect rows mint their codes and tokens as they
			// go: an error there is the tool's, not the machine's.
			if oidcEndpoint(m[1]) && m[7] != "0" {
				t.Errorf("%s errors: %q\n%s", m[1], l, text)
			}
			if inProcess := m[9] == "-"; inProcess != (cur == stores[storeSQLite]) || (m[10] == "-") != inProcess {
				t.Errorf("db columns of %q: the embedded store has none, PostgreSQL both", l)
			}
		case regexp.MustCompile(`^login: [\d.]+/s = [\d.]+ of the argon2 limit \([\d.]+ hashes/s: one hash [\d.]+ ms CPU, .*\)$`).MatchString(l):
			cur.ratio = true
		case regexp.MustCompile(`^peak RSS of the server: [\d.]+ MiB$`).MatchString(l):
			cur.rss = true
		}
	}
	for _, st := range o.stores {
		s := stores[st]
		if s == nil {
			t.Fatalf("no table for %s:\n%s", st, text)
		}
		if s.hdr != "endpoint requests req/s p50 ms p99 ms max ms errors server db cluster faults peak RSS" {
			t.Errorf("%s: header %q", st, s.hdr)
		}
		if strings.Join(s.rows, ",") != "register,login,refresh,me,code,userinfo,oidc-refresh" || !s.ratio || !s.rss {
			t.Errorf("%s: rows %v, login ratio %v, peak RSS %v:\n%s", st, s.rows, s.ratio, s.rss, text)
		}
		pid, _ := strconv.Atoi(s.pid)
		if pid == 0 || syscall.Kill(pid, 0) == nil {
			t.Errorf("%s: the server (pid %s) still runs", st, s.pid)
		}
		switch st {
		case storeSQLite:
			if _, err := os.Stat(s.where); !os.IsNotExist(err) {
				t.Errorf("the embedded store's directory %s is still there (%v)", s.where, err)
			}
		case storePostgres:
			conn, err := pgx.Connect(context.Background(), benchURL())
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname = $1`, s.where).Scan(&n); err != nil || n != 0 {
				t.Errorf("database %s: %d left (%v)", s.where, n, err)
			}
			_ = conn.Close(context.Background())
		}
	}
}

// The bench and seed refuse what is not theirs to touch.
func TestBenchValidates(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gatehouse")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	good := func() benchOpts {
		return benchOpts{bin: bin, stores: []string{storePostgres}, endpoints: benchEndpoints, forDur: time.Second, concurrency: 1, users: 1,
			pgURL: "postgres://postgres@127.0.0.1:5432/postgres", params: argon2id.DefaultParams, hashFor: time.Second}
	}
	o := good()
	if err := o.validate(); err != nil {
		t.Fatalf("good options: %v", err)
	}
	for name, f := range map[string]func(*benchOpts){
		"remote database": func(o *benchOpts) { o.pgURL = "postgres://postgres@db.example.com/postgres" },
		"no host":         func(o *benchOpts) { o.pgURL = "postgres:///postgres" },
		"unknown store":   func(o *benchOpts) { o.stores = []string{"mysql"} },
		"unknown endpoint": func(o *benchOpts) {
			o.endpoints = []string{"logout"}
		},
		"no binary": func(o *benchOpts) { o.bin = filepath.Join(t.TempDir(), "none") },
		"zero time": func(o *benchOpts) { o.forDur = 0 },
		"bad cost":  func(o *benchOpts) { o.params.MemoryKiB = 0 },
	} {
		o := good()
		f(&o)
		if err := o.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := seed(context.Background(), seedOpts{target: "postgres://postgres@192.0.2.1/x", users: 1, hash: "h"}, &bytes.Buffer{}); err == nil {
		t.Error("seed: a remote database accepted")
	}
}
