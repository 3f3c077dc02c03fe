package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// backends reads the CPU time of the PostgreSQL server's backends that
// serve one database: the database's own share of a benchmark on it. The
// server must run on this machine (its processes under /proc); the
// connection it asks with is left out. What the server does for every
// database (its WAL writer, checkpointer, autovacuum) is not counted.
type backends struct{ db *sql.DB }

// openBackends connects to dbURL to list its backends.
func openBackends(b *testing.B, dbURL string) backends {
	b.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { _ = db.Close() })
	return backends{db}
}

// cpu is the CPU time each backend of the database has used so far, by
// process id.
func (s backends) cpu(b *testing.B) map[int]time.Duration {
	b.Helper()
	rows, err := s.db.QueryContext(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		if t, ok := procCPU(pid); ok { // else it ended meanwhile
			out[pid] = t
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// since is the CPU the backends used between the readings before and
// now: a backend that started in between counts whole.
func since(before, now map[int]time.Duration) time.Duration {
	var total time.Duration
	for pid, t := range now {
		total += t - before[pid]
	}
	return total
}

// procCPU is the user and system CPU time of process pid (fields 14 and
// 15 of /proc/<pid>/stat, after the command in parentheses).
func procCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(raw[i+1:])) // from field 3, the state
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}
