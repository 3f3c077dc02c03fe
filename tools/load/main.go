// Command load is a small load generator for a local Gatehouse. It was
// written to measure the whole server process's memory while many logins
// arrive at once (issue 4: peak memory must stay near HASH_CONCURRENCY ×
// argon2 memory, not concurrency × argon2 memory) and also measures the
// cheap, token-based endpoints.
//
// It optionally registers -users accounts (-setup), then drives one
// endpoint (-endpoint login, refresh or me) from -concurrency workers that
// all start at the same instant: either -requests in total, or closed loop
// for a fixed time (-for). For refresh and me each worker first logs in once
// (warm-up, not measured). It prints the status counts, throughput, latency
// percentiles and, with -pid, the server's peak resident memory sampled from
// /proc/PID/status and its CPU time per request from /proc/PID/stat; with
// -db-pid also the database's CPU time per request.
//
// Three subcommands build on it: `load bench` (make bench: private stores,
// servers of its own, every endpoint, one table per store; bench.go),
// `load seed` (a million accounts or ten million audit events in seconds;
// seed.go) and `load probe` (the audit append and the rate-limit counters
// measured through the stores' adapters; probe.go).
//
// It only ever talks to a loopback address: any other host in -url, -db or
// -pg-url is refused. See README.md in this directory for usage and
// docs/performance.md for the recorded measurements.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	endpointLogin    = "login"
	endpointRefresh  = "refresh"
	endpointMe       = "me"
	endpointRegister = "register"
	endpointForgot   = "forgot"
)

// endpoints are the endpoints the tool loads.
var endpoints = []string{endpointLogin, endpointRefresh, endpointMe, endpointRegister, endpointForgot, endpointCode, endpointUserinfo, endpointOIDCRefresh}

// perRequest reports whether an endpoint's requests stand alone, each with
// its own index (login, register, forgot), rather than following a token
// chain per worker after a warm-up login (refresh, me).
func perRequest(endpoint string) bool {
	return endpoint == endpointLogin || endpoint == endpointRegister || endpoint == endpointForgot
}

type config struct {
	baseURL          string
	endpoint         string
	users            int
	concurrency      int
	requests         int
	forDur           time.Duration
	duration         time.Duration
	requestTimeout   time.Duration
	pid              int
	dbPid            int
	setup            bool
	setupConcurrency int
	wrongRatio       float64
	emailPrefix      string
	emailDomain      string
	resetHWM         bool
	// sharedPassword, when set, is every account's password (accounts
	// made by the seed command share one precomputed hash); otherwise
	// account i has password(i).
	sharedPassword string
	// spoofIPs sends each forgot request with its own X-Forwarded-For
	// address (10.x.y.z from the request index), so that a server trusting
	// the loopback proxy keys its per-IP counters by distinct clients.
	spoofIPs bool
	// tag makes the addresses of -endpoint register and forgot unique to
	// this run.
	tag string
	// sessions is how many sessions the warm-up of refresh and me opens
	// (0: one per worker); the workers share them out and me uses each
	// worker's in turn.
	sessions int
	// scatter spreads the accounts used over all -users (a hash of the
	// request or worker index) instead of taking them in order, so that a
	// large seeded table is read all over, not only at its start.
	scatter bool
	// parent, when set, ends the run early (a bench interrupted).
	parent context.Context
	// quiet leaves out the per-run report of fire's warm-up.
	quiet bool
	// clientID and redirectURI are the OpenID Connect endpoints' client:
	// public, first-party (no consent page), registered for redirectURI.
	clientID, redirectURI string
	// set tells which flags were given on the command line.
	set map[string]bool
}

// subcommands define each subcommand's flags on a flag set of its own and
// return what runs once they are parsed.
var subcommands = map[string]func(fs *flag.FlagSet) func(ctx context.Context) error{
	"bench": benchFlags, "seed": seedFlags, "probe": probeFlags,
}

func main() {
	if len(os.Args) > 1 {
		if define, ok := subcommands[os.Args[1]]; ok {
			exitOn(runSubcommand(flag.NewFlagSet(os.Args[1], flag.ContinueOnError), os.Args[2:], define))
			return
		}
	}
	var c config
	flag.StringVar(&c.baseURL, "url", "http://127.0.0.1:8080", "Gatehouse base URL (loopback only)")
	flag.StringVar(&c.endpoint, "endpoint", endpointLogin, "what to load: login (POST /v1/login), refresh (POST /v1/token/refresh), me (GET /v1/me), register (POST /v1/register, a new address each), forgot (POST /v1/password/forgot, a new address each), "+
		"code (GET /authorize then POST /token, a new code each), userinfo (GET /userinfo) or oidc-refresh (POST /token, refresh_token grant)")
	flag.StringVar(&c.clientID, "client-id", "", "code, userinfo, oidc-refresh: a public client without consent (gatehouse clients create --type public --redirect-uri URI)")
	flag.StringVar(&c.redirectURI, "redirect-uri", defaultRedirectURI, "code, userinfo, oidc-refresh: a redirect URI the client registered")
	flag.IntVar(&c.users, "users", 200, "accounts used (and registered with -setup)")
	flag.IntVar(&c.concurrency, "concurrency", 200, "concurrent workers")
	flag.IntVar(&c.requests, "requests", 1000, "total requests (0 = only -setup); not with -for")
	flag.DurationVar(&c.forDur, "for", 0, "closed loop: every worker sends requests back to back for this long (instead of -requests)")
	flag.DurationVar(&c.duration, "duration", 5*time.Minute, "stop the -requests phase after this long even if not all are sent (not used with -for)")
	flag.DurationVar(&c.requestTimeout, "request-timeout", 60*time.Second, "client timeout of one request")
	flag.IntVar(&c.pid, "pid", 0, "server pid: sample /proc/PID/status VmRSS and VmHWM every 20ms and report CPU ms/req (0 = off)")
	flag.IntVar(&c.dbPid, "db-pid", 0, "database pid (e.g. the postgres postmaster): report its CPU ms/req, children included (0 = off)")
	flag.BoolVar(&c.setup, "setup", false, "register the accounts first (log in then needs GATEHOUSE_REQUIRE_VERIFIED_EMAIL=false)")
	flag.IntVar(&c.setupConcurrency, "setup-concurrency", 2, "concurrent registrations during -setup")
	flag.Float64Var(&c.wrongRatio, "wrong-ratio", 0, "fraction of logins sent with a wrong password, 0 to 1 (-endpoint login only)")
	flag.StringVar(&c.emailPrefix, "email-prefix", "load", "accounts are <prefix><NNNN>@<domain>")
	flag.StringVar(&c.emailDomain, "email-domain", "example.com", "domain of the accounts' email addresses")
	flag.BoolVar(&c.resetHWM, "reset-hwm", true, "with -pid, reset the server's VmHWM (write 5 to /proc/PID/clear_refs) before the measured phase")
	flag.StringVar(&c.sharedPassword, "password", "", "every account's password (accounts made by `load seed`: "+seedPassword+"); empty = account i has its own")
	flag.IntVar(&c.sessions, "sessions", 0, "refresh, me: sessions the warm-up opens (each with a login of its own account), shared out among the workers; me cycles through them (0 = one per worker)")
	flag.BoolVar(&c.spoofIPs, "spoof-ips", false, "-endpoint forgot: send each request with its own X-Forwarded-For address (the server must trust 127.0.0.1 as a proxy)")
	flag.Parse()
	c.set = map[string]bool{}
	flag.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	exitOn(run(c))
}

// exitOn ends the program with status 1 when err is not nil.
func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// runSubcommand parses a subcommand's flags, defined on fs (it takes no
// other arguments), and runs it until it ends or SIGINT or SIGTERM: a run
// cut short still stops its servers and drops its databases.
func runSubcommand(fs *flag.FlagSet, args []string, define func(fs *flag.FlagSet) func(ctx context.Context) error) error {
	run := define(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	return run(ctx)
}

// checkLoopback refuses every host but localhost and loopback IP literals.
func checkLoopback(host string) error {
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing non-loopback host %q; this tool only targets a local server", host)
}

func (c *config) validate() error {
	u, err := url.Parse(c.baseURL)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url: scheme must be http or https, got %q", u.Scheme)
	}
	if err := checkLoopback(u.Hostname()); err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	c.baseURL = strings.TrimRight(u.String(), "/")
	if err := firstFailed(
		check{!slices.Contains(endpoints, c.endpoint),
			fmt.Sprintf("-endpoint must be one of %s, got %q", strings.Join(endpoints, ", "), c.endpoint)},
		check{oidcEndpoint(c.endpoint) && c.clientID == "", "-endpoint " + c.endpoint + " needs -client-id (a public client without consent, registered for -redirect-uri)"},
		check{c.users < 1, "-users must be at least 1"},
		check{c.concurrency < 1, "-concurrency must be at least 1"},
		check{c.requests < 0, "-requests must not be negative"},
		check{c.forDur < 0, "-for must not be negative"},
		check{c.forDur > 0 && c.set["requests"], "-for and -requests exclude each other: -for runs for a fixed time, -requests sends a fixed count"},
		check{c.forDur > 0 && c.set["duration"], "-duration is the hard stop of a -requests run; with -for the run stops at -for (plus the in-flight requests)"},
		check{c.duration <= 0, "-duration must be positive"},
		check{c.requestTimeout <= 0, "-request-timeout must be positive"},
		check{c.setupConcurrency < 1, "-setup-concurrency must be at least 1"},
		check{c.wrongRatio < 0 || c.wrongRatio > 1, "-wrong-ratio must be between 0 and 1"},
		check{c.wrongRatio > 0 && c.endpoint != endpointLogin, "-wrong-ratio only applies to -endpoint login"},
		check{c.pid < 0, "-pid must not be negative"},
		check{c.dbPid < 0, "-db-pid must not be negative"},
		check{c.sessions < 0, "-sessions must not be negative"},
		check{c.spoofIPs && c.endpoint != endpointForgot, "-spoof-ips only applies to -endpoint forgot"},
	); err != nil {
		return err
	}
	if c.tag == "" {
		c.tag = randomHex(3)
	}
	return nil
}

// check is one rule of a command's settings: failed, and the message that
// says so.
type check struct {
	failed bool
	msg    string
}

// firstFailed is the message of the first failed check as an error, or nil.
func firstFailed(checks ...check) error {
	for _, c := range checks {
		if c.failed {
			return errors.New(c.msg)
		}
	}
	return nil
}

// newClient is the tool's HTTP client: no proxy, keep-alive connections
// for every worker.
func newClient(c config) *http.Client {
	return &http.Client{
		Timeout: c.requestTimeout,
		Transport: &http.Transport{
			Proxy:               nil, // never route through a proxy
			MaxIdleConns:        c.concurrency + c.setupConcurrency,
			MaxIdleConnsPerHost: c.concurrency + c.setupConcurrency,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

func run(c config) error {
	if err := c.validate(); err != nil {
		return err
	}
	client := newClient(c)
	if err := checkReady(client, c.baseURL); err != nil {
		return err
	}
	if c.pid != 0 {
		if _, err := readMem(c.pid); err != nil {
			return fmt.Errorf("-pid: %w", err)
		}
		if _, err := processCPU(c.pid); err != nil {
			return fmt.Errorf("-pid: %w", err)
		}
	}
	if c.dbPid != 0 {
		if _, err := treeCPU(c.dbPid); err != nil {
			return fmt.Errorf("-db-pid: %w", err)
		}
	}

	if c.setup {
		if err := setup(client, c); err != nil {
			return err
		}
	}
	if c.forDur == 0 && c.requests == 0 {
		return nil
	}

	var (
		sampler             *memSampler
		baseline            mem
		srvBefore, srvAfter cpuSample
		dbBefore, dbAfter   cpuSample
		srvCPUErr, dbCPUErr error
	)
	// onStart runs after the warm-up, right before the workers are
	// released; onStop right after the last one finished.
	onStart := func() {
		if c.pid != 0 {
			if c.resetHWM {
				if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", c.pid), []byte("5"), 0); err != nil {
					fmt.Fprintf(os.Stderr, "load: could not reset VmHWM (%v); VmHWM is then the peak since the server started\n", err)
				}
			}
			baseline, _ = readMem(c.pid)
			sampler = startSampler(c.pid, 20*time.Millisecond)
			srvBefore, srvCPUErr = processCPU(c.pid)
		}
		if c.dbPid != 0 {
			dbBefore, dbCPUErr = treeCPU(c.dbPid)
		}
	}
	onStop := func() {
		if c.pid != 0 && srvCPUErr == nil {
			srvAfter, srvCPUErr = processCPU(c.pid)
		}
		if c.dbPid != 0 && dbCPUErr == nil {
			dbAfter, dbCPUErr = treeCPU(c.dbPid)
		}
	}

	res, err := fire(client, c, onStart, onStop)
	if err != nil {
		return err
	}

	var peak, end mem
	if sampler != nil {
		peak, end = sampler.stop()
	}
	res.print(os.Stdout, c)
	if c.pid != 0 || c.dbPid != 0 {
		incl := ""
		if !perRequest(c.endpoint) {
			incl = "re-logins included, "
		}
		fmt.Printf("CPU time of the measured phase (utime+stime from /proc/PID/stat at %d ticks/s; %sdivided by the %d measured requests):\n",
			clockTicks, incl, res.main.sent)
		if c.pid != 0 {
			printCPU(os.Stdout, "server CPU ms/req", fmt.Sprintf("pid %d", c.pid), srvBefore, srvAfter, srvCPUErr, res)
		}
		if c.dbPid != 0 {
			printCPU(os.Stdout, "db CPU ms/req", fmt.Sprintf("pid %d + %d children", c.dbPid, dbAfter.children), dbBefore, dbAfter, dbCPUErr, res)
		}
	}
	if sampler != nil {
		fmt.Printf("server memory (pid %d, /proc/%d/status, sampled every 20ms):\n", c.pid, c.pid)
		fmt.Printf("  VmRSS before measured phase: %s\n", mib(baseline.rssKiB))
		fmt.Printf("  VmRSS peak (sampled):        %s (%d samples)\n", mib(peak.rssKiB), sampler.samples)
		fmt.Printf("  VmHWM at end:                %s\n", mib(end.hwmKiB))
		fmt.Printf("  VmRSS at end:                %s\n", mib(end.rssKiB))
		fmt.Printf("  peak - before:               %s\n", mib(max(peak.rssKiB, end.hwmKiB)-baseline.rssKiB))
	}
	return nil
}

func printCPU(w io.Writer, name, who string, before, after cpuSample, err error, r *results) {
	if err != nil {
		fmt.Fprintf(w, "  %s: unavailable (%v)\n", name, err)
		return
	}
	ms := after.msSince(before)
	perReq := 0.0
	if r.main.sent > 0 {
		perReq = ms / float64(r.main.sent)
	}
	cores := 0.0
	if e := r.elapsed.Seconds(); e > 0 {
		cores = ms / 1000 / e
	}
	fmt.Fprintf(w, "  %-18s %.3f  (%s: %.0f ms in %s = %.2f cores)\n",
		name+":", perReq, who, ms, r.elapsed.Round(time.Millisecond), cores)
}

func checkReady(client *http.Client, base string) error {
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		return fmt.Errorf("server not reachable: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: status %d", resp.StatusCode)
	}
	return nil
}

func (c config) email(i int) string { return accountEmail(c.emailPrefix, c.emailDomain, i) }

// accountEmail is account i's address: <prefix><NNNN>@<domain>, as both
// the seed command and the load make and use them.
func accountEmail(prefix, domain string, i int) string {
	return fmt.Sprintf("%s%04d@%s", prefix, i, domain)
}

func password(i int) string { return fmt.Sprintf("load test password number %04d xyz", i) }

// passwordOf is account i's password: the shared one when set.
func (c config) passwordOf(i int) string {
	if c.sharedPassword != "" {
		return c.sharedPassword
	}
	return password(i)
}

// freshEmail is the address of request i of -endpoint register or forgot:
// unique to this run (c.tag), never one of the -users accounts.
func (c config) freshEmail(i int) string {
	return fmt.Sprintf("%s-%s-%d@%s", c.emailPrefix, c.tag, i, c.emailDomain)
}

// spoofedIP is request i's X-Forwarded-For address with -spoof-ips:
// 10.0.0.0/8 from i, distinct for 16 million requests.
func spoofedIP(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
}

// wrongPassword differs from password(i) but passes the same policy.
func wrongPassword(i int) string { return fmt.Sprintf("load test password number %04d abc", i) }

type outcome struct {
	status     int    // 0 = transport error
	code       string // problem "code" of an error response
	retryAfter string
	latency    time.Duration
	err        error
}

// send sends one request (a JSON body unless body is nil, a bearer token
// unless bearer is empty, an X-Forwarded-For header unless forwardedFor is
// empty), reads the whole response and returns it with its body.
func send(ctx context.Context, client *http.Client, method, u, bearer, forwardedFor string, body any) (outcome, []byte) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return outcome{err: err}, nil
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return outcome{err: err}, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	return roundTrip(client, req, problemCode)
}

// roundTrip sends req, reads the whole response and returns it with its
// body; the code of an error answer is what errorCode reads in its body.
func roundTrip(client *http.Client, req *http.Request, errorCode func(body []byte) string) (outcome, []byte) {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return outcome{err: err, latency: time.Since(start)}, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	o := outcome{status: resp.StatusCode, latency: time.Since(start), retryAfter: resp.Header.Get("Retry-After"), err: err}
	if resp.StatusCode >= 400 {
		o.code = errorCode(data)
	}
	return o, data
}

// problemCode is the "code" of a problem+json body ("" when it has none).
func problemCode(body []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Code
}

// post sends one JSON request and reads the whole response.
func post(ctx context.Context, client *http.Client, u string, body any) outcome {
	o, _ := send(ctx, client, http.MethodPost, u, "", "", body)
	return o
}

// tokenPair is what the tool keeps of a login or refresh response; for the
// OpenID Connect endpoints also the signed-in browser the tokens came
// through.
type tokenPair struct {
	access, refresh string
	browser         *http.Client
}

// parsePair reads the token pair of a 200 login or refresh response.
func parsePair(data []byte) (tokenPair, error) {
	var p struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return tokenPair{}, fmt.Errorf("token pair response: %w", err)
	}
	if p.AccessToken == "" || p.RefreshToken == "" {
		return tokenPair{}, errors.New("token pair response without access_token or refresh_token")
	}
	return tokenPair{access: p.AccessToken, refresh: p.RefreshToken}, nil
}

// login logs account u in with its right password and, on 200, returns
// its token pair.
func login(ctx context.Context, client *http.Client, c config, u int) (outcome, tokenPair, bool) {
	o, data := send(ctx, client, http.MethodPost, c.baseURL+"/v1/login", "", "",
		map[string]string{"email": c.email(u), "password": c.passwordOf(u)})
	return pairAnswer(o, data)
}

// pairAnswer is the token pair of a 200 answer o with body data, and
// whether there is one; a body that holds none is o's error.
func pairAnswer(o outcome, data []byte) (outcome, tokenPair, bool) {
	if o.status != http.StatusOK {
		return o, tokenPair{}, false
	}
	tp, err := parsePair(data)
	if err != nil {
		o.err = err
		return o, tokenPair{}, false
	}
	return o, tp, true
}

// retryWait is how long to wait before retrying after o: Retry-After on
// 429 and 503 (1s without one), 100ms otherwise.
func retryWait(o outcome) time.Duration {
	if o.status != http.StatusServiceUnavailable && o.status != http.StatusTooManyRequests {
		return 100 * time.Millisecond
	}
	if s, err := strconv.Atoi(o.retryAfter); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

// retried calls send until it is answered with neither 429 nor 503, at
// most 20 times, waiting retryWait after each of those answers.
func retried(ctx context.Context, send func() outcome) outcome {
	var o outcome
	for range 20 {
		o = send()
		if o.status != http.StatusServiceUnavailable && o.status != http.StatusTooManyRequests {
			break
		}
		sleepCtx(ctx, retryWait(o))
	}
	return o
}

// parallel calls fn(i) for i = 0..n-1 from c goroutines, each taking the
// next index in turn; a goroutine stops early when fn returns false.
func parallel(n, c int, fn func(i int) bool) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range c {
		wg.Go(func() {
			for {
				if i := int(next.Add(1)) - 1; i >= n || !fn(i) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// sleepCtx sleeps d, or less if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// setup registers every account, retrying 429 and 503 after Retry-After
// (at most 20 times per account).
func setup(client *http.Client, c config) error {
	start := time.Now()
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		failed error
	)
	parallel(c.users, c.setupConcurrency, func(i int) bool {
		o := retried(context.Background(), func() outcome {
			return post(context.Background(), client, c.baseURL+"/v1/register",
				map[string]string{"email": c.email(i), "password": password(i)})
		})
		mu.Lock()
		defer mu.Unlock()
		counts[label(o)]++
		if o.status != http.StatusAccepted && failed == nil {
			failed = fmt.Errorf("register %s: %s", c.email(i), label(o))
		}
		return true
	})
	fmt.Printf("setup: registered %d accounts in %s: %s\n", c.users, time.Since(start).Round(time.Millisecond), formatCounts(counts))
	return failed
}

func label(o outcome) string {
	if o.status == 0 {
		return "error"
	}
	if o.code != "" {
		return fmt.Sprintf("%d %s", o.status, o.code)
	}
	return strconv.Itoa(o.status)
}

// sessionCount is how many sessions the warm-up opens: one per worker, or
// -sessions when that is more.
func (c config) sessionCount() int { return max(c.concurrency, c.sessions) }

// account is the account of request (or worker) i: i mod users, or with
// scatter a hash of i mod users.
func (c config) account(i int) int {
	if !c.scatter {
		return i % c.users
	}
	return int(splitmix(uint64(i)) % uint64(c.users))
}

// splitmix is the splitmix64 finalizer of i.
func splitmix(i uint64) uint64 {
	z := i + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// isWrong deterministically picks about wrongRatio of the request indexes,
// spread independently of the account index (splitmix64 of i).
func isWrong(i int, ratio float64) bool {
	if ratio <= 0 {
		return false
	}
	return float64(splitmix(uint64(i))>>11)/float64(1<<53) < ratio
}

// stats accumulates outcomes; each worker has its own, merged at the end.
type stats struct {
	sent        int
	counts      map[string]int
	statuses    map[int]int
	latencies   []time.Duration // of the requests that got a response
	retryAfters map[string]int
	firstErr    error
}

func newStats() *stats {
	return &stats{counts: map[string]int{}, statuses: map[int]int{}, retryAfters: map[string]int{}}
}

func (s *stats) add(o outcome) {
	s.sent++
	s.counts[label(o)]++
	s.statuses[o.status]++
	if o.err != nil && s.firstErr == nil {
		s.firstErr = o.err
	}
	if o.status != 0 {
		s.latencies = append(s.latencies, o.latency)
	}
	if o.status == http.StatusServiceUnavailable || o.status == http.StatusTooManyRequests {
		ra := o.retryAfter
		if ra == "" {
			ra = "(none)"
		}
		s.retryAfters[ra]++
	}
}

func (s *stats) merge(o *stats) {
	s.sent += o.sent
	for k, v := range o.counts {
		s.counts[k] += v
	}
	for k, v := range o.statuses {
		s.statuses[k] += v
	}
	for k, v := range o.retryAfters {
		s.retryAfters[k] += v
	}
	s.latencies = append(s.latencies, o.latencies...)
	if s.firstErr == nil {
		s.firstErr = o.firstErr
	}
}

type results struct {
	elapsed  time.Duration
	main     *stats // the -endpoint requests of the measured phase
	relogin  *stats // logins of refresh/me workers during the measured phase
	timedOut bool   // -requests run stopped by -duration
}

// oneRequest sends request i of a per-request endpoint: a login with
// account i mod users (a wrong password for about -wrong-ratio of them), a
// registration or a forgot-password request for a new address.
func (c config) oneRequest(ctx context.Context, client *http.Client, i int) outcome {
	switch c.endpoint {
	case endpointRegister:
		return post(ctx, client, c.baseURL+"/v1/register",
			map[string]string{"email": c.freshEmail(i), "password": password(i)})
	case endpointForgot:
		xff := ""
		if c.spoofIPs {
			xff = spoofedIP(i)
		}
		o, _ := send(ctx, client, http.MethodPost, c.baseURL+"/v1/password/forgot", "", xff,
			map[string]string{"email": c.freshEmail(i)})
		return o
	}
	u := c.account(i)
	pw := c.passwordOf(u)
	if isWrong(i, c.wrongRatio) {
		pw = wrongPassword(u)
	}
	return post(ctx, client, c.baseURL+"/v1/login", map[string]string{"email": c.email(u), "password": pw})
}

// warmUp logs every worker in once with account w mod users, retrying 429
// and 503 after Retry-After (at most 20 times per worker).
func warmUp(client *http.Client, c config) ([]tokenPair, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	start := time.Now()
	n := c.sessionCount()
	var (
		tokens = make([]tokenPair, n)
		errs   = make([]error, n)
		outs   = make([]outcome, n)
	)
	parallel(n, c.concurrency, func(w int) bool {
		u := c.account(w)
		ok := false
		o := retried(ctx, func() outcome {
			o, tp, k := chainStart(ctx, client, c, u)
			tokens[w], ok = tp, k
			return o
		})
		outs[w] = o
		if ok {
			return true
		}
		errs[w] = fmt.Errorf("warm-up login as %s: %s", c.email(u), label(o))
		if o.err != nil {
			errs[w] = fmt.Errorf("%w: %v", errs[w], o.err)
		}
		if o.status == http.StatusUnauthorized {
			errs[w] = fmt.Errorf("%w (accounts registered with -setup? the server must run with GATEHOUSE_REQUIRE_VERIFIED_EMAIL=false)", errs[w])
		}
		return true
	})
	counts := map[string]int{}
	for _, o := range outs {
		counts[label(o)]++
	}
	if !c.quiet {
		fmt.Printf("warm-up: %d logins (not measured) in %s: %s\n",
			n, time.Since(start).Round(time.Millisecond), formatCounts(counts))
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// fire runs the measured phase: c.concurrency workers, released together,
// send -endpoint requests until c.requests are sent (or -duration passes)
// or, with -for, back to back until -for has passed. For refresh and me
// every worker logs in once before (warm-up, not measured). onStart runs
// right before the release, onStop right after the last worker finished.
func fire(client *http.Client, c config, onStart, onStop func()) (*results, error) {
	var tokens []tokenPair
	if !perRequest(c.endpoint) {
		var err error
		if tokens, err = warmUp(client, c); err != nil {
			return nil, err
		}
	}
	var (
		next     atomic.Int64
		gate     = make(chan struct{})
		wg       sync.WaitGroup
		mains    = make([]*stats, c.concurrency)
		relogins = make([]*stats, c.concurrency)
		// set before the gate opens
		ctx      context.Context
		cancel   context.CancelFunc
		deadline time.Time
	)
	// more reports whether a worker may start another request and, in a
	// -requests run, claims its index.
	more := func() (int, bool) {
		if ctx.Err() != nil {
			return 0, false
		}
		i := int(next.Add(1)) - 1
		if c.forDur > 0 {
			return i, time.Now().Before(deadline)
		}
		return i, i < c.requests
	}
	for w := range c.concurrency {
		mains[w], relogins[w] = newStats(), newStats()
		wg.Go(func() {
			st, rl := mains[w], relogins[w]
			<-gate
			if perRequest(c.endpoint) {
				for {
					i, ok := more()
					if !ok {
						return
					}
					st.add(c.oneRequest(ctx, client, i))
				}
			}
			// the sessions of this worker: w, w+concurrency, ... (one
			// unless -sessions); me uses them in turn
			var slots []int
			for k := w; k < len(tokens); k += c.concurrency {
				slots = append(slots, k)
			}
			lost := make([]bool, len(slots))
			cur := 0
			for {
				slot := slots[cur]
				u, tp := c.account(slot), tokens[slot]
				// a broken chain or an expired access token: log in again
				for lost[cur] {
					if ctx.Err() != nil || (c.forDur > 0 && !time.Now().Before(deadline)) {
						return
					}
					o, ntp, ok := chainStart(ctx, client, c, u)
					rl.add(o)
					if ok {
						tp, lost[cur] = ntp, false
						break
					}
					wait := retryWait(o)
					if c.forDur > 0 {
						wait = min(wait, max(time.Until(deadline), time.Millisecond))
					}
					sleepCtx(ctx, wait)
				}
				if _, ok := more(); !ok {
					return
				}
				switch c.endpoint {
				case endpointRefresh:
					o, data := send(ctx, client, http.MethodPost, c.baseURL+"/v1/token/refresh", "", "",
						map[string]string{"refresh_token": tp.refresh})
					switch o.status {
					case http.StatusOK:
						if ntp, err := parsePair(data); err == nil {
							tp = ntp
						} else {
							o.err, lost[cur] = err, true
						}
					case http.StatusTooManyRequests, http.StatusServiceUnavailable:
						// not consumed: retry the same token
					default:
						// 401 (chain broken) or unknown state (transport
						// error, 5xx): the token may be spent
						lost[cur] = true
					}
					st.add(o)
				case endpointMe:
					o, _ := send(ctx, client, http.MethodGet, c.baseURL+"/v1/me", tp.access, "", nil)
					if o.status == http.StatusUnauthorized {
						lost[cur] = true
					}
					st.add(o)
				default:
					var o outcome
					o, tp, lost[cur] = oidcStep(ctx, client, c, tp)
					st.add(o)
				}
				tokens[slot] = tp
				if c.endpoint == endpointMe {
					cur = (cur + 1) % len(slots)
				}
			}
		})
	}
	parent := c.parent
	if parent == nil {
		parent = context.Background()
	}
	if c.forDur > 0 {
		// in-flight requests at the deadline finish (bounded by
		// -request-timeout); only new ones are not started
		ctx, cancel = context.WithCancel(parent)
	} else {
		ctx, cancel = context.WithTimeout(parent, c.duration)
	}
	defer cancel()
	onStart()
	start := time.Now()
	deadline = start.Add(c.forDur)
	close(gate)
	wg.Wait()
	r := &results{
		elapsed:  time.Since(start),
		main:     newStats(),
		relogin:  newStats(),
		timedOut: c.forDur == 0 && ctx.Err() != nil,
	}
	onStop()
	for w := range c.concurrency {
		r.main.merge(mains[w])
		r.relogin.merge(relogins[w])
	}
	sort.Slice(r.main.latencies, func(a, b int) bool { return r.main.latencies[a] < r.main.latencies[b] })
	sort.Slice(r.relogin.latencies, func(a, b int) bool { return r.relogin.latencies[a] < r.relogin.latencies[b] })
	return r, nil
}

func (r *results) print(w io.Writer, c config) {
	s := r.main
	mode := map[bool]string{true: " (stopped by -duration)", false: ""}[r.timedOut]
	if c.forDur > 0 {
		mode = fmt.Sprintf(" (closed loop, -for %s)", c.forDur)
	}
	wrong := ""
	if c.endpoint == endpointLogin {
		wrong = fmt.Sprintf(" wrong-ratio %.2f,", c.wrongRatio)
	}
	fmt.Fprintf(w, "%s: %d requests, %d workers, %d accounts,%s %s%s\n",
		c.endpoint, s.sent, c.concurrency, c.users, wrong, r.elapsed.Round(time.Millisecond), mode)
	fmt.Fprintf(w, "  status 200: %d  401: %d  429: %d  503: %d  other: %d  transport errors: %d\n",
		s.statuses[200], s.statuses[401], s.statuses[429], s.statuses[503],
		s.sent-s.statuses[200]-s.statuses[401]-s.statuses[429]-s.statuses[503]-s.statuses[0], s.statuses[0])
	fmt.Fprintf(w, "  by code: %s\n", formatCounts(s.counts))
	if len(s.retryAfters) > 0 {
		fmt.Fprintf(w, "  Retry-After on 429/503: %s\n", formatCounts(s.retryAfters))
	}
	if s.firstErr != nil {
		fmt.Fprintf(w, "  first error: %v\n", s.firstErr)
	}
	if e := r.elapsed.Seconds(); e > 0 {
		fmt.Fprintf(w, "  throughput: %.1f req/s\n", float64(s.sent)/e)
	}
	if n := len(s.latencies); n > 0 {
		fmt.Fprintf(w, "  latency: p50 %s  p90 %s  p99 %s  max %s\n",
			pct(s.latencies, 0.50), pct(s.latencies, 0.90), pct(s.latencies, 0.99),
			roundDur(s.latencies[n-1]))
	}
	if !perRequest(c.endpoint) {
		if rl := r.relogin; rl.sent == 0 {
			fmt.Fprintf(w, "  re-logins: 0\n")
		} else {
			fmt.Fprintf(w, "  re-logins: %d (%s), latency p50 %s  max %s\n", rl.sent, formatCounts(rl.counts),
				pct(rl.latencies, 0.50), pct(rl.latencies, 1))
			if rl.firstErr != nil {
				fmt.Fprintf(w, "  first re-login error: %v\n", rl.firstErr)
			}
		}
	}
}

// pct is the nearest-rank percentile of sorted (0 if it is empty), rounded
// by roundDur.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(p*float64(len(sorted))+0.999999) - 1
	k = max(0, min(k, len(sorted)-1))
	return roundDur(sorted[k])
}

// roundDur keeps three or so significant digits: milliseconds from 1s up
// (as the login numbers always were), 10µs from 1ms, else microseconds.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func formatCounts[K comparable](m map[K]int) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%v=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

type mem struct{ rssKiB, hwmKiB int64 }

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// readMem reads VmRSS and VmHWM (kB) from /proc/pid/status.
func readMem(pid int) (mem, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, err
	}
	var m mem
	for line := range strings.SplitSeq(string(data), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.rssKiB
		case "VmHWM":
			dst = &m.hwmKiB
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return mem{}, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		*dst = n
	}
	return m, nil
}

// sampleEvery calls sample at once and then every d on a goroutine of its
// own; the returned stop ends it and returns once the last call has.
func sampleEvery(d time.Duration, sample func()) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-stopped }
}

type memSampler struct {
	end     func()
	peak    mem
	samples int
	pid     int
}

func startSampler(pid int, every time.Duration) *memSampler {
	s := &memSampler{pid: pid}
	s.end = sampleEvery(every, func() {
		if m, err := readMem(pid); err == nil {
			s.samples++
			s.peak.rssKiB = max(s.peak.rssKiB, m.rssKiB)
			s.peak.hwmKiB = max(s.peak.hwmKiB, m.hwmKiB)
		}
	})
	return s
}

// stop ends sampling and returns the sampled peak and a final reading.
func (s *memSampler) stop() (peak, end mem) {
	s.end()
	end, _ = readMem(s.pid)
	return s.peak, end
}
