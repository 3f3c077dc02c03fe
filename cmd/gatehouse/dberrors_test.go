package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/jackc/pgx/v5/pgconn"
)

// testServer is the URL of the PostgreSQL server the tests use, parsed.
func testServer(t *testing.T) *url.URL {
	t.Helper()
	raw := os.Getenv(pgtest.EnvURL)
	if raw == "" {
		raw = pgtest.DefaultURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL for this test", pgtest.EnvURL)
	}
	return u
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// serveOn runs serve against dbURL (the embedded store's files in a
// temporary directory are not involved) and returns its error and how
// long it took, with at most limit to give up.
func serveOn(t *testing.T, dbURL string, limit time.Duration) (time.Duration, *syncBuffer, error) {
	t.Helper()
	env := map[string]string{
		"GATEHOUSE_DATABASE_URL": dbURL,
		"GATEHOUSE_DATA_DIR":     t.TempDir(),
		"GATEHOUSE_HTTP_ADDR":    "127.0.0.1:0",
		"GATEHOUSE_ADMIN_ADDR":   "",
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	logs := &syncBuffer{}
	began := time.Now()
	err := run(ctx, []string{"serve"}, env, io.Discard, logs, func(string) { t.Error("serve listened") })
	return time.Since(began), logs, err
}

// TestServeFailsFastWhenTheDatabaseDoesNotExist: on a server that answers
// but has no such database, serve stops at once (not after a minute of
// retries) and says how to create it.
func TestServeFailsFastWhenTheDatabaseDoesNotExist(t *testing.T) {
	t.Parallel()
	u := testServer(t)
	name := randomName("gatehouse_missing_")
	u.Path = "/" + name
	took, logs, err := serveOn(t, u.String(), 30*time.Second)
	if err == nil {
		t.Fatal("serve started on a database that does not exist")
	}
	cfg, perr := pgconn.ParseConfig(u.String())
	if perr != nil {
		t.Fatal(perr)
	}
	want := fmt.Sprintf("createdb -h %s -p %d -U %s %s", cfg.Host, cfg.Port, cfg.User, name)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "3D000") {
		t.Fatalf("error does not say how to create the database (%q):\n%v", want, err)
	}
	if took > 10*time.Second {
		t.Fatalf("took %v to give up: it retried", took)
	}
	if strings.Contains(logs.String(), "retrying") {
		t.Fatalf("serve retried a missing database:\n%s", logs)
	}
	// The same hint from `migrate` and from serve without AUTO_MIGRATE.
	env := map[string]string{"GATEHOUSE_DATABASE_URL": u.String(), "GATEHOUSE_HTTP_ADDR": "127.0.0.1:0", "GATEHOUSE_ADMIN_ADDR": "", "GATEHOUSE_DATA_DIR": t.TempDir()}
	if err := run(context.Background(), []string{"migrate", "status"}, env, io.Discard, io.Discard, nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("migrate status: %v", err)
	}
	env["GATEHOUSE_AUTO_MIGRATE"] = "false"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := run(ctx, []string{"serve"}, env, io.Discard, io.Discard, nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("serve with GATEHOUSE_AUTO_MIGRATE=false: %v", err)
	}
}

// TestServeFailsFastForAnUnknownRole: a role the server does not know is
// refused for good (28000 with trust authentication, 28P01 where the
// server asks for a password); serve says so at once.
func TestServeFailsFastForAnUnknownRole(t *testing.T) {
	t.Parallel()
	u := testServer(t)
	role := randomName("gatehouse_nobody_")
	u.User = url.UserPassword(role, "not-the-password")
	took, logs, err := serveOn(t, u.String(), 30*time.Second)
	if err == nil {
		t.Fatal("serve started as a role that does not exist")
	}
	msg := err.Error()
	if !strings.Contains(msg, role) || !(strings.Contains(msg, "28000") || strings.Contains(msg, "28P01")) {
		t.Fatalf("error does not name the refused role and its SQLSTATE:\n%v", err)
	}
	if strings.Contains(msg, "not-the-password") {
		t.Fatalf("error leaks the password: %v", err)
	}
	if took > 10*time.Second || strings.Contains(logs.String(), "retrying") {
		t.Fatalf("took %v, retried: %s", took, logs)
	}
}

// startingServer plays a PostgreSQL server that is starting up: it answers
// every startup message with FATAL 57P03 cannot_connect_now.
func startingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(c)
				var n uint32
				if binary.Read(r, binary.BigEndian, &n) != nil || n < 8 || n > 10000 {
					return
				}
				if _, err := io.CopyN(io.Discard, r, int64(n-4)); err != nil {
					return
				}
				fields := "SFATAL\x00VFATAL\x00C57P03\x00Mthe database system is starting up\x00\x00"
				msg := []byte{'E', 0, 0, 0, 0}
				binary.BigEndian.PutUint32(msg[1:], uint32(4+len(fields)))
				_, _ = c.Write(append(msg, fields...))
			}(c)
		}
	}()
	return ln.Addr().String()
}

// TestServeKeepsWaitingForAStartingDatabase: a server still starting
// (57P03) or not listening yet is waited for, as before.
func TestServeKeepsWaitingForAStartingDatabase(t *testing.T) {
	t.Parallel()
	closed := freePort(t)
	for name, c := range map[string]struct{ addr, logged string }{
		"starting up":        {startingServer(t), "57P03"},
		"connection refused": {"127.0.0.1:" + closed, "connection refused"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbURL := "postgres://postgres@" + c.addr + "/gatehouse?sslmode=disable&connect_timeout=2"
			_, logs, err := serveOn(t, dbURL, 3*time.Second)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("serve gave up instead of waiting: %v\n%s", err, logs)
			}
			if !strings.Contains(logs.String(), "database not ready for migrations, retrying") || !strings.Contains(logs.String(), c.logged) {
				t.Fatalf("no retry in the log:\n%s", logs)
			}
		})
	}
}
