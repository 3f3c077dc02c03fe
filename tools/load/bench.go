package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/argon2id"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"
)

// The bench subcommand (make bench): for each store, a private database, a
// server of its own on 127.0.0.1, each endpoint closed loop for a fixed
// time, and one table per store. Everything it starts it stops, and
// everything it creates it removes, also when interrupted.

const (
	storePostgres = "postgres"
	storeSQLite   = "sqlite"
)

// benchOpts are the bench subcommand's settings.
type benchOpts struct {
	bin         string
	stores      []string
	endpoints   []string
	forDur      time.Duration
	concurrency int
	users       int
	pgURL       string // a maintenance database of the PostgreSQL server, loopback
	params      argon2id.Params
	logLevel    string
	hashFor     time.Duration // how long to measure argon2id
	settle      time.Duration // longest wait for the server to go idle between endpoints
	pgWaits     bool          // sample what the server's PostgreSQL backends wait for
	sessions    int           // sessions of me's warm-up (0: one per client)
}

// benchEndpoints are the endpoints make bench runs, in order.
var benchEndpoints = []string{endpointRegister, endpointLogin, endpointRefresh, endpointMe, endpointCode, endpointUserinfo, endpointOIDCRefresh}

// benchFlags defines the bench subcommand's flags.
func benchFlags(fs *flag.FlagSet) func(ctx context.Context) error {
	var o benchOpts
	stores := fs.String("stores", storePostgres+","+storeSQLite, "stores to run on, in order: postgres, sqlite")
	endpoints := fs.String("endpoints", strings.Join(benchEndpoints, ","), "endpoints to load, in order: "+strings.Join(endpoints, ", "))
	fs.StringVar(&o.bin, "bin", "bin/gatehouse", "the gatehouse binary to run")
	fs.DurationVar(&o.forDur, "for", 10*time.Second, "closed loop time per endpoint")
	fs.IntVar(&o.concurrency, "c", 8, "concurrent clients (closed loop, no think time)")
	fs.IntVar(&o.users, "users", 1000, "accounts seeded before the server starts (one shared argon2id hash); logins spread over them")
	fs.StringVar(&o.pgURL, "pg-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"a maintenance database of the PostgreSQL server (loopback only); its role must be allowed to create databases")
	params := argon2Flags(fs, "of the servers (and of the measured hash)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "GATEHOUSE_LOG_LEVEL of the servers (their log goes to a file in the temporary directory)")
	fs.DurationVar(&o.hashFor, "hash-for", 2*time.Second, "how long to hash, one at a time, to measure the CPU time of one argon2id hash")
	fs.DurationVar(&o.settle, "settle", 15*time.Second, "longest wait, between endpoints, for the server's CPU to go idle (mail of the registrations)")
	fs.IntVar(&o.sessions, "sessions", 0, "me (and refresh): sessions opened by the warm-up, each a login of another seeded account; me's clients cycle through them (0 = one per client)")
	fs.BoolVar(&o.pgWaits, "pg-waits", false, "PostgreSQL: sample pg_stat_activity every 10 ms during each endpoint and print what the server's backends were doing (CPU, or the wait event: locks, WAL, client)")
	return func(ctx context.Context) error {
		o.stores, o.endpoints, o.params = splitList(*stores), splitList(*endpoints), params()
		return runBench(ctx, o, os.Stdout)
	}
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (o *benchOpts) validate() error {
	if len(o.stores) == 0 {
		return errors.New("bench: -stores is empty")
	}
	for _, s := range o.stores {
		if s != storePostgres && s != storeSQLite {
			return fmt.Errorf("bench: unknown store %q (postgres, sqlite)", s)
		}
	}
	if len(o.endpoints) == 0 {
		return errors.New("bench: -endpoints is empty")
	}
	for _, e := range o.endpoints {
		if !slices.Contains(endpoints, e) {
			return fmt.Errorf("bench: unknown endpoint %q (%s)", e, strings.Join(endpoints, ", "))
		}
	}
	if err := firstFailed(
		check{o.forDur <= 0, "bench: -for must be positive"},
		check{o.concurrency < 1, "bench: -c must be at least 1"},
		check{o.users < 1, "bench: -users must be at least 1"},
		check{o.sessions < 0, "bench: -sessions must not be negative"},
		check{o.hashFor <= 0, "bench: -hash-for must be positive"},
	); err != nil {
		return err
	}
	if err := o.params.Validate(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if slices.Contains(o.stores, storePostgres) {
		if err := checkPostgresURL(o.pgURL); err != nil {
			return fmt.Errorf("bench: -pg-url: %w", err)
		}
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return fmt.Errorf("bench: -bin %s: not a file (make build)", o.bin)
	}
	o.bin = bin
	return nil
}

// benchRow is one endpoint's line of a store's table.
type benchRow struct {
	endpoint                 string
	requests                 int
	elapsed                  time.Duration
	p50, p99, max            time.Duration
	errors                   int
	errorsBy                 string
	serverMs                 float64 // CPU ms per request
	faults                   float64 // the server's minor page faults per request
	dbMs, clusterMs          float64 // -1: not applicable (embedded store)
	backends                 int
	peakRSSKiB               int64
	relogins                 int
	serverCores, clusterCore float64
	waits                    string // -pg-waits: what the backends did
}

func (r benchRow) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// storeResult is one store's run.
type storeResult struct {
	store string
	where string // the database or data directory, for the heading
	rows  []benchRow
	// hash is argon2id measured again right before login (the server
	// idle), the limit login is compared with.
	hash hashCost
}

// runBench measures argon2id, then runs every store in turn and prints
// their tables to w.
func runBench(ctx context.Context, o benchOpts, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	fmt.Fprintf(w, "gatehouse bench: %s\n", machineLine())
	fmt.Fprintf(w, "  c=%d clients, closed loop, %s per endpoint; %d seeded accounts; servers on 127.0.0.1 with GATEHOUSE_RATE_LIMIT_DISABLED=true, log level %s\n",
		o.concurrency, o.forDur, o.users, o.logLevel)
	hash, err := measureArgon2(ctx, o.params, o.hashFor)
	if err != nil {
		return err
	}
	cores := runtime.NumCPU()
	limit := float64(cores) / hash.perHash.Seconds()
	fmt.Fprintf(w, "  argon2id m=%d KiB t=%d p=%d: one hash %.1f ms CPU (%d hashes in %s, %.1f ms wall each); argon2 limit = %d cores / %.1f ms = %.1f hashes/s\n",
		o.params.MemoryKiB, o.params.Iterations, o.params.Parallelism, ms(hash.perHash), hash.n, hash.wall.Round(time.Millisecond),
		ms(hash.wall)/float64(hash.n), cores, ms(hash.perHash), limit)
	seedHash, err := seedHash(o.params)
	if err != nil {
		return err
	}
	var failed []error
	for _, st := range o.stores {
		if ctx.Err() != nil {
			break
		}
		res, err := runStore(ctx, o, st, seedHash, w)
		if res != nil {
			printStore(w, o, res, limit)
		}
		if err != nil {
			fmt.Fprintf(w, "store %s: %v\n", st, err)
			failed = append(failed, fmt.Errorf("%s: %w", st, err))
		}
	}
	if ctx.Err() != nil {
		return errors.New("bench: interrupted (servers stopped, databases dropped)")
	}
	return errors.Join(failed...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// machineLine names the CPU, the number of cores, the kernel, Go and the
// load average at the start.
func machineLine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s, load average %s", runtime.NumCPU(), model,
		strings.TrimSpace(string(kernel)), runtime.Version(), loadAvg())
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

type hashCost struct {
	perHash time.Duration // CPU time of one hash
	wall    time.Duration
	n       int
}

// measureArgon2 hashes one at a time for about d (at least 3 hashes) and
// returns the process's CPU time per hash (getrusage: user + system, the
// garbage collector's work on the 19 MiB each hash allocates included).
func measureArgon2(ctx context.Context, p argon2id.Params, d time.Duration) (hashCost, error) {
	salt := make([]byte, argon2id.SaltLength)
	pw := []byte(seedPassword)
	argon2.IDKey(pw, salt, p.Iterations, p.MemoryKiB, p.Parallelism, argon2id.KeyLength) // warm up
	before, err := selfCPU()
	if err != nil {
		return hashCost{}, err
	}
	start := time.Now()
	n := 0
	for n < 3 || time.Since(start) < d {
		if ctx.Err() != nil {
			return hashCost{}, ctx.Err()
		}
		salt[0] = byte(n)
		argon2.IDKey(pw, salt, p.Iterations, p.MemoryKiB, p.Parallelism, argon2id.KeyLength)
		n++
	}
	wall := time.Since(start)
	after, err := selfCPU()
	if err != nil {
		return hashCost{}, err
	}
	return hashCost{perHash: (after - before) / time.Duration(n), wall: wall, n: n}, nil
}

// selfCPU is this process's user + system CPU time.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// server is one gatehouse serve started by the bench.
type server struct {
	cmd    *exec.Cmd
	url    string
	logs   string // the log file
	exited chan struct{}
	err    error // set when exited is closed
}

// startServer runs bin serve with env until it answers /readyz.
func startServer(ctx context.Context, bin string, env []string, port int, logFile string) (*server, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches the bench only; it stops the server itself
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	s := &server{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: logFile, exited: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		f.Close()
		close(s.exited)
	}()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := checkReady(client, s.url); err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("the server exited before it was ready (%v):\n%s", s.err, tail(logFile, 20))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("the server was not ready within 2 minutes:\n%s", tail(logFile, 20))
		}
	}
}

// stop sends SIGTERM (graceful shutdown) and, after 20 s, SIGKILL.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// benchEnv is this process's environment without any GATEHOUSE_ variable,
// plus the bench's own.
func benchEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// runStore runs every endpoint on a store of its own: a fresh PostgreSQL
// database (created here, dropped at the end) or an embedded store in a
// fresh temporary directory (removed at the end).
func runStore(ctx context.Context, o benchOpts, store, hash string, w io.Writer) (res *storeResult, err error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"GATEHOUSE_DATA_DIR":            filepath.Join(dir, "data"),
		"GATEHOUSE_HTTP_ADDR":           fmt.Sprintf("127.0.0.1:%d", port),
		"GATEHOUSE_ADMIN_ADDR":          "",
		"GATEHOUSE_PUBLIC_URL":          fmt.Sprintf("http://127.0.0.1:%d", port),
		"GATEHOUSE_RATE_LIMIT_DISABLED": "true",
		"GATEHOUSE_LOG_LEVEL":           o.logLevel,
		"GATEHOUSE_SHUTDOWN_TIMEOUT":    "5s",
		"GATEHOUSE_ARGON2_MEMORY_KIB":   strconv.FormatUint(uint64(o.params.MemoryKiB), 10),
		"GATEHOUSE_ARGON2_ITERATIONS":   strconv.FormatUint(uint64(o.params.Iterations), 10),
		"GATEHOUSE_ARGON2_PARALLELISM":  strconv.FormatUint(uint64(o.params.Parallelism), 10),
	}
	res = &storeResult{store: store}
	var pg *pgBench
	seedTarget := "sqlite:" + filepath.Join(dir, "data", "gatehouse.db")
	if store == storePostgres {
		if pg, err = createBenchDatabase(ctx, o.pgURL); err != nil {
			return nil, err
		}
		defer func() {
			if dropErr := pg.drop(); dropErr != nil {
				err = errors.Join(err, dropErr)
			}
		}()
		env["GATEHOUSE_DATABASE_URL"] = pg.url
		seedTarget = pg.url
		res.where = "database " + pg.name + " (created for this run, dropped at the end)"
	} else {
		res.where = "embedded store in " + dir + " (removed at the end)"
	}
	environ := benchEnv(env)

	migrate := exec.CommandContext(ctx, o.bin, "migrate", "up")
	migrate.Env = environ
	if out, err := migrate.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gatehouse migrate up: %v\n%s", err, out)
	}
	clientID := ""
	if slices.ContainsFunc(o.endpoints, oidcEndpoint) {
		if clientID, err = createBenchClient(ctx, o.bin, environ); err != nil {
			return nil, err
		}
	}
	seedStart := time.Now()
	if err := seed(ctx, seedOpts{target: seedTarget, users: o.users, emailPrefix: "load", emailDomain: "example.com", hash: hash}, io.Discard); err != nil {
		return nil, err
	}
	seeded := time.Since(seedStart)
	if pg != nil {
		// write the seed's dirty pages out now, not during a measurement
		// (needs a superuser or pg_checkpoint; skipped otherwise)
		_, _ = pg.admin.Exec(ctx, `CHECKPOINT`)
	}
	srv, err := startServer(ctx, o.bin, environ, port, filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(w, "\nstore %s: %s, server pid %d\n", store, res.where, srv.pid())
	fmt.Fprintf(w, "  seeded %d accounts in %s", o.users, seeded.Round(time.Millisecond))
	if o.sessions > 0 {
		fmt.Fprintf(w, "; me cycles through %d sessions of as many accounts", max(o.sessions, o.concurrency))
	}
	fmt.Fprintln(w)
	if pg != nil {
		defer pg.close()
	}

	tag := randomHex(3)
	for _, ep := range o.endpoints {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		waitIdle(ctx, srv.pid(), o.settle)
		if ep == endpointLogin {
			if res.hash, err = measureArgon2(ctx, o.params, o.hashFor); err != nil {
				return res, err
			}
		}
		row, err := runEndpoint(ctx, o, srv, pg, ep, tag, clientID)
		if err != nil {
			return res, fmt.Errorf("%s: %w\nserver log:\n%s", ep, err, tail(srv.logs, 10))
		}
		res.rows = append(res.rows, row)
	}
	return res, nil
}

// waitIdle waits, at most max, until the server used no more than one
// clock tick of CPU in 300 ms (a registration's mail is written after its
// answer; the next endpoint should not pay for it).
func waitIdle(ctx context.Context, pid int, max time.Duration) {
	deadline := time.Now().Add(max)
	prev, err := processCPU(pid)
	for err == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(300 * time.Millisecond)
		var cur cpuSample
		if cur, err = processCPU(pid); err != nil || cur.ticks-prev.ticks <= 1 {
			return
		}
		prev = cur
	}
}

// createBenchClient registers, through the CLI, the client of the OpenID
// Connect endpoints: public, first-party (no consent page), its redirect
// URI the tool's; it returns the client's id.
func createBenchClient(ctx context.Context, bin string, environ []string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "clients", "create", "--json", "--name", "Bench", "--type", "public", "--redirect-uri", defaultRedirectURI)
	cmd.Env = environ
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("gatehouse clients create: %v\n%s", err, stderr.Bytes())
	}
	var created struct {
		Client struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.Client.ClientID == "" {
		return "", fmt.Errorf("gatehouse clients create: unexpected output %q (%v)", out, err)
	}
	return created.Client.ClientID, nil
}

// runEndpoint loads one endpoint for o.forDur and measures it; clientID is
// the OpenID Connect endpoints' client.
func runEndpoint(ctx context.Context, o benchOpts, srv *server, pg *pgBench, ep, tag, clientID string) (row benchRow, _ error) {
	c := config{
		baseURL: srv.url, endpoint: ep, users: o.users, concurrency: o.concurrency, forDur: o.forDur,
		duration: time.Hour, requestTimeout: 30 * time.Second, setupConcurrency: 1,
		emailPrefix: "load", emailDomain: "example.com", sharedPassword: seedPassword,
		scatter: true, tag: tag, parent: ctx, quiet: true, sessions: o.sessions, set: map[string]bool{},
		clientID: clientID, redirectURI: defaultRedirectURI,
	}
	if err := c.validate(); err != nil {
		return benchRow{}, err
	}
	var (
		srvBefore, srvAfter    cpuSample
		dbBefore, dbAfter      pgCPU
		srvErr, dbErr, waitErr error
		waits                  *waitSampler
		waitReport             string
	)
	onStart := func() {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", srv.pid()), []byte("5"), 0)
		srvBefore, srvErr = processCPU(srv.pid())
		if pg != nil {
			dbBefore, dbErr = pg.cpu(ctx)
		}
		if pg != nil && o.pgWaits {
			// the measured phase only: not the warm-up logins
			waits, waitErr = startWaitSampler(ctx, pg, 10*time.Millisecond)
		}
	}
	onStop := func() {
		if srvErr == nil {
			srvAfter, srvErr = processCPU(srv.pid())
		}
		if pg != nil && dbErr == nil {
			dbAfter, dbErr = pg.cpu(ctx)
		}
		if waits != nil {
			waitReport = waits.stop()
		}
	}
	sampler := startSampler(srv.pid(), 20*time.Millisecond)
	r, err := fire(newClient(c), c, onStart, onStop)
	peak, end := sampler.stop()
	if err == nil && waitErr != nil {
		err = fmt.Errorf("-pg-waits: %w", waitErr)
	}
	defer func() { row.waits = waitReport }()
	if err != nil {
		return benchRow{}, err
	}
	if srvErr != nil {
		return benchRow{}, fmt.Errorf("server CPU: %w", srvErr)
	}
	if dbErr != nil {
		return benchRow{}, fmt.Errorf("database CPU: %w", dbErr)
	}
	s := r.main
	want := http.StatusOK
	if ep == endpointRegister || ep == endpointForgot {
		want = http.StatusAccepted
	}
	row = benchRow{
		endpoint: ep, requests: s.sent, elapsed: r.elapsed,
		p50: pct(s.latencies, 0.50), p99: pct(s.latencies, 0.99), max: pct(s.latencies, 1),
		errors: s.sent - s.statuses[want], dbMs: -1, clusterMs: -1,
		peakRSSKiB: max(peak.rssKiB, end.hwmKiB), relogins: r.relogin.sent,
	}
	if row.errors > 0 {
		byCode := map[string]int{}
		for k, v := range s.counts {
			if k != strconv.Itoa(want) {
				byCode[k] = v
			}
		}
		row.errorsBy = formatCounts(byCode)
	}
	if s.sent > 0 {
		srvMs := srvAfter.msSince(srvBefore)
		row.serverMs = srvMs / float64(s.sent)
		row.faults = float64(srvAfter.minflt-srvBefore.minflt) / float64(s.sent)
		row.serverCores = srvMs / 1000 / r.elapsed.Seconds()
		if pg != nil {
			row.dbMs = dbAfter.backendsMsSince(dbBefore) / float64(s.sent)
			cl := dbAfter.cluster.msSince(dbBefore.cluster)
			row.clusterMs = cl / float64(s.sent)
			row.clusterCore = cl / 1000 / r.elapsed.Seconds()
			row.backends = len(dbAfter.backends)
		}
	}
	return row, nil
}

// printStore prints one store's table, the argon2 ratio and the peak RSS.
func printStore(w io.Writer, o benchOpts, res *storeResult, limit float64) {
	if len(res.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "%-12s %9s %9s %9s %9s %9s %7s %10s %10s %10s %9s %9s\n",
		"endpoint", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "server", "db", "cluster", "faults", "peak RSS")
	fmt.Fprintf(w, "%-12s %9s %9s %9s %9s %9s %7s %10s %10s %10s %9s %9s\n",
		"", "", "", "", "", "", "", "ms/req", "ms/req", "ms/req", "/req", "MiB")
	var peak int64
	for _, r := range res.rows {
		db, cl := "-", "-"
		if r.dbMs >= 0 {
			db, cl = fmt.Sprintf("%.3f", r.dbMs), fmt.Sprintf("%.3f", r.clusterMs)
		}
		fmt.Fprintf(w, "%-12s %9d %9.1f %9.2f %9.2f %9.2f %7d %10.3f %10s %10s %9.1f %9.1f\n",
			r.endpoint, r.requests, r.rate(), ms(r.p50), ms(r.p99), ms(r.max), r.errors, r.serverMs, db, cl, r.faults, float64(r.peakRSSKiB)/1024)
		peak = max(peak, r.peakRSSKiB)
	}
	for _, r := range res.rows {
		if r.errors > 0 {
			fmt.Fprintf(w, "  %s errors: %s\n", r.endpoint, r.errorsBy)
		}
		if r.relogins > 0 {
			fmt.Fprintf(w, "  %s: %d re-logins during the measured phase (their CPU is in the figures)\n", r.endpoint, r.relogins)
		}
		if r.waits != "" {
			fmt.Fprintf(w, "  %s backends: %s\n", r.endpoint, r.waits)
		}
	}
	for _, r := range res.rows {
		if r.endpoint == endpointLogin && res.hash.n > 0 {
			here := float64(runtime.NumCPU()) / res.hash.perHash.Seconds()
			fmt.Fprintf(w, "login: %.1f/s = %.2f of the argon2 limit (%.1f hashes/s: one hash %.1f ms CPU, measured again right before login; %.2f of the limit measured at the start)\n",
				r.rate(), r.rate()/here, here, ms(res.hash.perHash), r.rate()/limit)
		}
	}
	fmt.Fprintf(w, "peak RSS of the server: %.1f MiB\n", float64(peak)/1024)
	if res.store == storePostgres {
		fmt.Fprintln(w, "server = the gatehouse process (/proc/PID/stat utime+stime; faults = its minor page faults); db = the PostgreSQL backends of the server's connections"+
			" (pg_stat_activity of the bench database); cluster = every process of the PostgreSQL server (postmaster and children,"+
			" WAL writer and checkpointer included, and anything else using that server meanwhile)")
	} else {
		fmt.Fprintln(w, "server = the gatehouse process, which runs the embedded database too (/proc/PID/stat utime+stime; faults = its minor page faults)")
	}
}

// pgBench is the bench's own PostgreSQL database and a connection to the
// maintenance database that created it.
type pgBench struct {
	admin *pgx.Conn
	name  string
	url   string
}

// createBenchDatabase creates gatehouse_bench_<random> on the server of
// maintenanceURL.
func createBenchDatabase(ctx context.Context, maintenanceURL string) (*pgBench, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(cctx, maintenanceURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at -pg-url: %w (is it running? pg_isready -h 127.0.0.1)", err)
	}
	name := "gatehouse_bench_" + randomHex(6)
	if _, err := admin.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		_ = admin.Close(context.Background())
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, _ := url.Parse(maintenanceURL)
	u.Path = "/" + name
	return &pgBench{admin: admin, name: name, url: u.String()}, nil
}

// drop drops the database (its connections closed by force), with a
// context of its own: it runs also when the bench was interrupted.
func (p *pgBench) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if p.admin.IsClosed() {
		c, err := pgx.Connect(ctx, p.maintenanceURL())
		if err != nil {
			return fmt.Errorf("drop database %s: %w", p.name, err)
		}
		p.admin = c
	}
	defer p.close()
	if _, err := p.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{p.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", p.name, err)
	}
	return nil
}

func (p *pgBench) close() { _ = p.admin.Close(context.Background()) }

// maintenanceURL is the URL of the server's postgres database, for a
// connection of the bench's own beside the bench database.
func (p *pgBench) maintenanceURL() string {
	return strings.Replace(p.url, "/"+p.name, "/postgres", 1)
}

// pgCPU is a CPU reading of the PostgreSQL server: each backend of the
// bench database, and the whole cluster.
type pgCPU struct {
	backends map[int]int64 // pid -> utime+stime ticks
	cluster  cpuSample
}

// cpu reads the backends of the bench database (pg_stat_activity, client
// backends) and the whole server: the postmaster (the backends' parent)
// and all its children.
func (p *pgBench) cpu(ctx context.Context) (pgCPU, error) {
	rows, err := p.admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`, p.name)
	if err != nil {
		return pgCPU{}, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return pgCPU{}, err
	}
	out := pgCPU{backends: map[int]int64{}}
	postmaster := 0
	for _, pid := range pids {
		s, err := readProcStat(int(pid))
		if err != nil {
			continue // gone meanwhile
		}
		out.backends[int(pid)] = s.utime + s.stime
		postmaster = s.ppid
	}
	if postmaster == 0 {
		var self int32
		if err := p.admin.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&self); err != nil {
			return pgCPU{}, err
		}
		s, err := readProcStat(int(self))
		if err != nil {
			return pgCPU{}, fmt.Errorf("the PostgreSQL server's processes are not visible in /proc (is it on this machine?): %w", err)
		}
		postmaster = s.ppid
	}
	if out.cluster, err = treeCPU(postmaster); err != nil {
		return pgCPU{}, err
	}
	return out, nil
}

// backendsMsSince is the CPU time the backends used since before: a
// backend that appeared meanwhile counts whole (it started during the
// phase); one that exited meanwhile is lost (pgx keeps its connections for
// far longer than a run).
func (a pgCPU) backendsMsSince(before pgCPU) float64 {
	var ticks int64
	for pid, t := range a.backends {
		ticks += t - before.backends[pid]
	}
	return float64(ticks) * 1000 / clockTicks
}

// waitSampler samples, on a connection of its own, what the bench
// database's client backends are doing: running (CPU) or waiting, and on
// what (pg_stat_activity.wait_event_type and wait_event).
type waitSampler struct {
	conn    *pgx.Conn
	end     func()
	counts  map[string]int
	samples int
}

func startWaitSampler(ctx context.Context, pg *pgBench, every time.Duration) (*waitSampler, error) {
	conn, err := pgx.Connect(ctx, pg.maintenanceURL())
	if err != nil {
		return nil, err
	}
	w := &waitSampler{conn: conn, counts: map[string]int{}}
	w.end = sampleEvery(every, func() {
		rows, err := conn.Query(ctx, `SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, '')
			FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`, pg.name)
		if err != nil {
			return
		}
		defer rows.Close()
		w.samples++
		for rows.Next() {
			var state, typ, ev string
			if rows.Scan(&state, &typ, &ev) != nil {
				continue
			}
			switch {
			case state == "idle":
				w.counts["idle"]++
			case strings.HasPrefix(state, "idle in transaction"):
				w.counts["in a transaction, waiting for the server's next statement"]++
			case typ == "":
				w.counts["CPU"]++
			default:
				w.counts[typ+":"+ev]++
			}
		}
	})
	return w, nil
}

// stop ends sampling and describes the busy samples, largest share first.
func (w *waitSampler) stop() string {
	w.end()
	_ = w.conn.Close(context.Background())
	busy := 0
	keys := make([]string, 0, len(w.counts))
	for k, n := range w.counts {
		if k != "idle" {
			busy += n
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return w.counts[b] - w.counts[a] })
	parts := []string{fmt.Sprintf("%d samples, %.1f of %d connections busy on average", w.samples,
		float64(busy)/float64(max(w.samples, 1)), postgres.DefaultMaxConns)}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", k, 100*float64(w.counts[k])/float64(max(busy, 1))))
	}
	return strings.Join(parts, ", ")
}
