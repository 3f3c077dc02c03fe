package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/argon2id"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the embedded store's driver
)

// seedPassword is the password of every account the seed command makes: one
// argon2id hash is computed and stored for all of them, so that a million
// accounts take seconds, not hours, and every one of them can log in.
const seedPassword = "load test seeded password xyz"

// seedOpts are the seed command's settings.
type seedOpts struct {
	target      string // postgres://... or sqlite:PATH
	users       int
	first       int // index of the first account (load<first>@...)
	audit       int
	emailPrefix string
	emailDomain string
	params      argon2id.Params
	hash        string // precomputed; empty = computed from params
}

// seedFlags defines the seed subcommand's flags.
func seedFlags(fs *flag.FlagSet) func(ctx context.Context) error {
	var o seedOpts
	fs.StringVar(&o.target, "db", "", "the store: a postgres:// URL (loopback host only) or sqlite:PATH of an embedded store's file; migrated already (gatehouse migrate up)")
	fs.IntVar(&o.users, "users", 0, "accounts to add: <prefix><NNNN>@<domain>, verified, password "+fmt.Sprintf("%q", seedPassword))
	fs.IntVar(&o.first, "first", 0, "index of the first account added (to add more to an earlier seed)")
	fs.IntVar(&o.audit, "audit", 0, "audit events to append, continuing the hash chain from its last record")
	fs.StringVar(&o.emailPrefix, "email-prefix", "load", "accounts are <prefix><NNNN>@<domain>")
	fs.StringVar(&o.emailDomain, "email-domain", "example.com", "domain of the accounts' email addresses")
	params := argon2Flags(fs, "of the one precomputed hash (the server's, so that logins need no rehash)")
	return func(ctx context.Context) error {
		o.params = params()
		return seed(ctx, o, os.Stdout)
	}
}

// seed adds o.users accounts and o.audit audit events to the store o.target.
func seed(ctx context.Context, o seedOpts, w interface{ Write([]byte) (int, error) }) error {
	if err := firstFailed(
		check{o.target == "", "seed: -db is required"},
		check{o.users < 0 || o.audit < 0 || o.first < 0, "seed: -users, -audit and -first must not be negative"},
		check{o.users == 0 && o.audit == 0, "seed: nothing to do (-users and -audit are 0)"},
	); err != nil {
		return err
	}
	if o.users > 0 && o.hash == "" {
		h, err := seedHash(o.params)
		if err != nil {
			return err
		}
		o.hash = h
	}
	var s seeder
	if path, ok := strings.CutPrefix(o.target, "sqlite:"); ok {
		if path == "" {
			return errors.New("seed: sqlite: needs the file's path (sqlite:PATH)")
		}
		db, err := openSQLite(path)
		if err != nil {
			return err
		}
		defer func() {
			// fold the WAL into the file, as a store that has lived a while
			_, _ = db.ExecContext(context.WithoutCancel(ctx), `PRAGMA wal_checkpoint(TRUNCATE)`)
			_ = db.Close()
		}()
		s = sqliteSeeder{db}
	} else {
		if err := checkPostgresURL(o.target); err != nil {
			return fmt.Errorf("seed: -db: %w", err)
		}
		conn, err := pgx.Connect(ctx, o.target)
		if err != nil {
			return fmt.Errorf("seed: connect: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		s = postgresSeeder{conn}
	}
	if o.users > 0 {
		start := time.Now()
		if err := s.users(ctx, o); err != nil {
			return fmt.Errorf("seed: users: %w", err)
		}
		fmt.Fprintf(w, "seed: %d users (%s … %s, password %q) in %s\n", o.users,
			seedEmail(o, o.first), seedEmail(o, o.first+o.users-1), seedPassword, time.Since(start).Round(time.Millisecond))
	}
	if o.audit > 0 {
		start := time.Now()
		last, err := s.audit(ctx, o.audit)
		if err != nil {
			return fmt.Errorf("seed: audit: %w", err)
		}
		fmt.Fprintf(w, "seed: %d audit events (chain continued up to seq %d) in %s\n", o.audit, last, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// argon2Flags defines -argon2-memory-kib, -argon2-iterations and
// -argon2-parallelism on fs, the server's argon2id cost and defaults; of
// says whose cost they set. The returned func reads them once parsed.
func argon2Flags(fs *flag.FlagSet, of string) func() argon2id.Params {
	mem := fs.Uint("argon2-memory-kib", uint(argon2id.DefaultParams.MemoryKiB), "GATEHOUSE_ARGON2_MEMORY_KIB "+of)
	it := fs.Uint("argon2-iterations", uint(argon2id.DefaultParams.Iterations), "GATEHOUSE_ARGON2_ITERATIONS "+of)
	par := fs.Uint("argon2-parallelism", uint(argon2id.DefaultParams.Parallelism), "GATEHOUSE_ARGON2_PARALLELISM "+of)
	return func() argon2id.Params {
		return argon2id.Params{MemoryKiB: uint32(*mem), Iterations: uint32(*it), Parallelism: uint8(*par)}
	}
}

// seedHash is the one argon2id hash (PHC string) of seedPassword, made by
// the server's own hasher so that its format is the server's.
func seedHash(p argon2id.Params) (string, error) {
	h, err := argon2id.New(argon2id.Options{Params: p, MaxConcurrent: 1})
	if err != nil {
		return "", fmt.Errorf("seed: argon2id: %w", err)
	}
	return h.Hash(context.Background(), user.NormalizePassword(seedPassword))
}

func seedEmail(o seedOpts, i int) string { return accountEmail(o.emailPrefix, o.emailDomain, i) }

// seedUser is one account: a random id, an address that is already
// normalized (lower case ASCII), created a microsecond after the previous
// one so that the users' list order is defined.
type seedUser struct {
	id    uuid.UUID
	email string
	at    time.Time
}

func seedUsers(o seedOpts, base time.Time, i int) seedUser {
	return seedUser{id: uuid.New(), email: strings.ToLower(seedEmail(o, o.first+i)), at: base.Add(time.Duration(i) * time.Microsecond)}
}

// seedEvent is audit event i: a login of a made-up user from a documentation
// address, with storable fields (whole microseconds, UTC, short ASCII), so
// that what is stored is exactly what was hashed into the chain.
func seedEvent(base time.Time, i int64) audit.Event {
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[8:], uint64(i%100000)+1)
	id[6], id[8] = 0x40|id[6]&0x0f, 0x80|id[8]&0x3f
	types := [...]audit.Type{audit.LoginSucceeded, audit.LoginFailed, audit.Registered, audit.Logout}
	return audit.Event{
		Type:      types[i%int64(len(types))],
		UserID:    id,
		IP:        fmt.Sprintf("192.0.2.%d", i%250+1),
		UserAgent: "gatehouse-load-seed",
		At:        base.Add(time.Duration(i) * time.Millisecond).UTC().Truncate(time.Microsecond),
	}
}

type seeder interface {
	users(ctx context.Context, o seedOpts) error
	// audit appends n events and returns the last seq.
	audit(ctx context.Context, n int) (int64, error)
}

// auditLockKey is the PostgreSQL store's advisory lock of the audit chain
// (adapters/postgres): holding it, no server appends meanwhile.
const auditLockKey int64 = 0x67682d6175646974

type postgresSeeder struct{ conn *pgx.Conn }

// users copies the accounts in with COPY, in one transaction.
func (s postgresSeeder) users(ctx context.Context, o seedOpts) error {
	base := time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.conn.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "email", "hashed_password", "is_active", "is_verified", "created_at", "updated_at", "verified_at"},
		pgx.CopyFromSlice(o.users, func(i int) ([]any, error) {
			u := seedUsers(o, base, i)
			return []any{u.id, u.email, o.hash, true, true, u.at, u.at, u.at}, nil
		}))
	if err != nil {
		return err
	}
	// As a table that has lived a while: hint bits set, visibility map
	// and statistics up to date.
	_, err = s.conn.Exec(ctx, `VACUUM (ANALYZE) users`)
	return err
}

// audit continues the chain under the store's own advisory lock, with COPY,
// in one transaction.
func (s postgresSeeder) audit(ctx context.Context, n int) (int64, error) {
	var last int64
	err := pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
			return err
		}
		var (
			seq  int64
			prev []byte
		)
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
		if errors.Is(err, pgx.ErrNoRows) {
			seq, prev = 0, make([]byte, sha256.Size)
		} else if err != nil {
			return err
		}
		base := time.Now().UTC().Add(-time.Duration(n) * time.Millisecond)
		empty := json.RawMessage(`{}`)
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit_events"},
			[]string{"seq", "event_type", "user_id", "ip", "user_agent", "occurred_at", "detail", "prev_hash", "hash"},
			pgx.CopyFromSlice(n, func(i int) ([]any, error) {
				e := seedEvent(base, int64(i))
				seq++
				hash := audit.Chain(prev, seq, e)
				row := []any{seq, string(e.Type), e.UserID, e.IP, e.UserAgent, e.At, empty, prev, hash}
				prev = hash
				return row, nil
			}))
		last = seq
		return err
	})
	if err != nil {
		return 0, err
	}
	_, err = s.conn.Exec(ctx, `VACUUM (ANALYZE) audit_events`)
	return last, err
}

type sqliteSeeder struct{ db *sql.DB }

// openSQLite opens an embedded store's file for seeding (one connection,
// write transactions BEGIN IMMEDIATE).
func openSQLite(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("seed: %w (migrate the store first: gatehouse migrate up)", err)
	}
	q := url.Values{"_pragma": {"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)"}, "_txlock": {"immediate"}}
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// insertBatches runs one transaction of multi-row INSERTs of rows rows,
// batch rows per statement; row(i) gives row i's values. before, when not
// nil, runs first in the transaction.
func insertBatches(ctx context.Context, db *sql.DB, before func(*sql.Tx) error, head string, cols, rows, batch int, row func(i int) []any) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if before != nil {
		if err := before(tx); err != nil {
			return err
		}
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	var stmt *sql.Stmt
	stmtRows := 0
	args := make([]any, 0, batch*cols)
	for done := 0; done < rows; {
		k := min(batch, rows-done)
		if stmt == nil || k != stmtRows {
			if stmt != nil {
				_ = stmt.Close()
			}
			if stmt, err = tx.PrepareContext(ctx, head+" VALUES "+strings.TrimSuffix(strings.Repeat(one+",", k), ",")); err != nil {
				return err
			}
			stmtRows = k
		}
		args = args[:0]
		for j := range k {
			args = append(args, row(done+j)...)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
		done += k
	}
	if stmt != nil {
		_ = stmt.Close()
	}
	return tx.Commit()
}

// users inserts the accounts in one transaction of batched INSERTs.
func (s sqliteSeeder) users(ctx context.Context, o seedOpts) error {
	base := time.Now().UTC().Truncate(time.Microsecond)
	err := insertBatches(ctx, s.db, nil,
		`INSERT INTO users (id, email, hashed_password, is_active, is_verified, created_at, updated_at, verified_at)`,
		8, o.users, 500, func(i int) []any {
			u := seedUsers(o, base, i)
			us := u.at.UnixMicro()
			return []any{u.id.String(), u.email, o.hash, 1, 1, us, us, us}
		})
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `ANALYZE users`)
	return err
}

// audit continues the chain in one write transaction: BEGIN IMMEDIATE
// takes the store's only writer, so nothing appends meanwhile.
func (s sqliteSeeder) audit(ctx context.Context, n int) (int64, error) {
	var (
		first int64
		prev  []byte
	)
	readLast := func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&first, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			first, prev = 0, make([]byte, sha256.Size)
			return nil
		}
		return err
	}
	base := time.Now().UTC().Add(-time.Duration(n) * time.Millisecond)
	err := insertBatches(ctx, s.db, readLast,
		`INSERT INTO audit_events (seq, event_type, user_id, ip, user_agent, occurred_at, detail, prev_hash, hash)`,
		9, n, 500, func(i int) []any {
			e := seedEvent(base, int64(i))
			sq := first + int64(i) + 1
			hash := audit.Chain(prev, sq, e)
			row := []any{sq, string(e.Type), e.UserID.String(), e.IP, e.UserAgent, e.At.UnixMicro(), "{}", prev, hash}
			prev = hash
			return row
		})
	if err != nil {
		return 0, err
	}
	_, err = s.db.ExecContext(ctx, `ANALYZE audit_events`)
	return first + int64(n), err
}

// checkPostgresURL accepts only a postgres:// URL whose host is loopback.
func checkPostgresURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("want a postgres:// URL")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("the URL names no host; give 127.0.0.1 (this tool only talks to loopback addresses)")
	}
	if err := checkLoopback(host); err != nil {
		return err
	}
	if h := u.Query().Get("host"); h != "" && !strings.HasPrefix(h, "/") {
		if err := checkLoopback(h); err != nil {
			return err
		}
	}
	return nil
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
