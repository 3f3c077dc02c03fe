package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
)

// importBenchUsers is how many users one run of BenchmarkUsersImport
// imports.
const importBenchUsers = 50000

// BenchmarkUsersImport is `gatehouse users import` of importBenchUsers
// users with bcrypt hashes into a fresh store of each kind (a private
// PostgreSQL database, an embedded store in a temporary directory): the
// figure of docs/performance.md, in users/s. `make bench` runs it
// (bench-import):
//
//	go test -run '^$' -bench UsersImport -benchtime 1x ./cmd/gatehouse
func BenchmarkUsersImport(b *testing.B) {
	for _, st := range []testStore{onPostgres, onSQLite} {
		b.Run(string(st), func(b *testing.B) { benchUsersImport(b, st) })
	}
}

func benchUsersImport(b *testing.B, st testStore) {
	dir := b.TempDir()
	file := filepath.Join(dir, "users.jsonl")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	const hash = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	for i := range importBenchUsers {
		fmt.Fprintf(w, `{"email":"import-%07d@example.com","email_verified":true,"password_hash":%q,"created_at":"2020-01-02T03:04:05Z"}`+"\n", i, hash)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	var elapsed, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		env := map[string]string{"GATEHOUSE_DATA_DIR": b.TempDir(), "GATEHOUSE_LOG_LEVEL": "warn"}
		if st == onPostgres {
			env["GATEHOUSE_DATABASE_URL"] = pgtest.NewEmptyDatabase(b)
		}
		if _, errOut, err := transferCLI(env, "migrate", "up"); err != nil {
			b.Fatalf("migrate: %v\n%s", err, errOut)
		}
		b.StartTimer()
		start, cpuStart := time.Now(), processCPU(b)
		out, errOut, err := transferCLI(env, "users", "import", file)
		elapsed += time.Since(start)
		cpu += processCPU(b) - cpuStart
		if err != nil || !strings.Contains(out, fmt.Sprintf("created: %d\n", importBenchUsers)) {
			b.Fatalf("import: %v\n%s\n%s", err, out, errOut)
		}
	}
	b.ReportMetric(float64(importBenchUsers*b.N)/elapsed.Seconds(), "users/s")
	// The command's own CPU (the whole embedded store; PostgreSQL's
	// server apart): what a busy machine's wall clock hides.
	b.ReportMetric(float64(importBenchUsers*b.N)/cpu.Seconds(), "users/cpu-s")
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
