package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// a real line (bash), field 10 = 101, fields 14-17 = 7 3 120 45
	line := "12049 (bash) S 12047 12047 9867 0 -1 4194304 101 0 0 0 7 3 120 45 20 0 1 0 442128 3133440 417 18446744073709551615 0 0 0 0\n"
	s, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{pid: 12049, ppid: 12047, minflt: 101, utime: 7, stime: 3, cutime: 120, cstime: 45}
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}

	// the command may contain spaces and parentheses
	s, err = parseProcStat("77 (postgres: a (b) c) S 1 77 77 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0")
	if err != nil {
		t.Fatal(err)
	}
	if s.pid != 77 || s.ppid != 1 || s.utime != 250 || s.stime != 50 {
		t.Fatalf("comm with spaces: got %+v", s)
	}

	for _, bad := range []string{
		"",
		"12 bash S 1 2 3",
		"12 (bash) S 1 2 3 4 5", // too short
		"x (bash) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0",       // pid
		"12 (bash) S 1 1 1 0 -1 0 0 0 0 0 one 1 0 0 20 0 1 0",    // utime
		"12 (bash) S ppid 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 0", // ppid
	} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q): want an error", bad)
		}
	}
}

func TestReadOwnProcStat(t *testing.T) {
	if _, err := readProcStat(1); err != nil {
		t.Skip("no /proc:", err)
	}
	// burn a little CPU so that the reading is not trivially zero
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0.0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x += math.Sqrt(x + 1)
	}
	after, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.ticks < before.ticks {
		t.Fatalf("CPU went backwards: %d -> %d", before.ticks, after.ticks)
	}
	s, err := readProcStat(os.Getpid())
	if err != nil || s.pid != os.Getpid() || s.ppid != os.Getppid() {
		t.Fatalf("own stat %+v, %v", s, err)
	}
	// the test binary is a child of "go test" (or of the shell)
	if tree, err := treeCPU(os.Getppid()); err != nil || tree.children < 1 {
		t.Fatalf("treeCPU(parent) = %+v, %v; want at least this process as a child", tree, err)
	}
}

func TestCPUSampleMs(t *testing.T) {
	a, b := cpuSample{ticks: 1250}, cpuSample{ticks: 1000}
	if got := a.msSince(b); got != 2500 {
		t.Fatalf("250 ticks at %d Hz = %v ms, want 2500", clockTicks, got)
	}
}

func TestPct(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Second)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Second}, {0.9, 90 * time.Second}, {0.99, 99 * time.Second}, {1, 100 * time.Second}, {0, time.Second}} {
		if got := pct(d, tc.p); got != tc.want {
			t.Errorf("pct(1..100s, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := pct([]time.Duration{3 * time.Second}, 0.99); got != 3*time.Second {
		t.Errorf("one element: %v", got)
	}
	if got := pct(nil, 0.5); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestRoundDur(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		4191234567 * time.Nanosecond: 4191 * time.Millisecond,
		1234567 * time.Nanosecond:    1230 * time.Microsecond,
		523456 * time.Nanosecond:     523 * time.Microsecond,
	} {
		if got := roundDur(in); got != want {
			t.Errorf("roundDur(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, h := range []string{"127.0.0.1", "127.1.2.3", "::1", "localhost", "LocalHost"} {
		if err := checkLoopback(h); err != nil {
			t.Errorf("%q: %v", h, err)
		}
	}
	for _, h := range []string{"", "10.0.0.1", "192.168.1.1", "example.com", "localhost.example.com", "0.0.0.0", "::", "::ffff:8.8.8.8"} {
		if err := checkLoopback(h); err == nil {
			t.Errorf("%q: want refused", h)
		}
	}
}

func validConfig() config {
	return config{baseURL: "http://127.0.0.1:8080", endpoint: endpointLogin, users: 1, concurrency: 1, requests: 1,
		duration: time.Minute, requestTimeout: time.Second, setupConcurrency: 1, set: map[string]bool{}}
}

func TestValidate(t *testing.T) {
	ok := []func(*config){
		func(*config) {},
		func(c *config) { c.baseURL = "http://[::1]:18090/" },
		func(c *config) { c.endpoint = endpointRefresh },
		func(c *config) { c.endpoint = endpointMe; c.forDur = time.Second },
		func(c *config) { c.forDur = time.Second; c.wrongRatio = 0.5 },
		func(c *config) { c.endpoint = endpointCode; c.clientID = "bench" },
		func(c *config) { c.endpoint = endpointOIDCRefresh; c.clientID = "bench" },
	}
	for i, f := range ok {
		c := validConfig()
		f(&c)
		if err := c.validate(); err != nil {
			t.Errorf("ok case %d: %v", i, err)
		}
	}
	bad := []func(*config){
		func(c *config) { c.baseURL = "http://10.0.0.1:8080" },
		func(c *config) { c.baseURL = "ftp://127.0.0.1" },
		func(c *config) { c.endpoint = "logout" },
		func(c *config) { c.forDur = -time.Second },
		func(c *config) { c.forDur = time.Second; c.set["requests"] = true },
		func(c *config) { c.forDur = time.Second; c.set["duration"] = true },
		func(c *config) { c.endpoint = endpointMe; c.wrongRatio = 0.1 },
		func(c *config) { c.dbPid = -1 },
		func(c *config) { c.endpoint = endpointUserinfo }, // no client
	}
	for i, f := range bad {
		c := validConfig()
		f(&c)
		if err := c.validate(); err == nil {
			t.Errorf("bad case %d: want an error", i)
		}
	}
	c := validConfig()
	c.baseURL = "http://localhost:18090/"
	if err := c.validate(); err != nil || c.baseURL != "http://localhost:18090" {
		t.Errorf("trailing slash: %q, %v", c.baseURL, err)
	}
}

func TestIsWrongRatio(t *testing.T) {
	n := 0
	for i := range 10000 {
		if isWrong(i, 0.3) {
			n++
		}
	}
	if n < 2800 || n > 3200 {
		t.Fatalf("%d of 10000 wrong, want about 3000", n)
	}
	if isWrong(5, 0) {
		t.Fatal("ratio 0 picked one")
	}
}

// fakeServer is a loopback stand-in for Gatehouse: login hands out a pair,
// refresh rotates it (a spent or unknown token is 401), and every
// expireEvery-th GET /v1/me answers 401 as if the access token expired.
type fakeServer struct {
	mu          sync.Mutex
	n           int
	live        map[string]bool // refresh tokens not yet used
	access      map[string]bool
	logins      int
	meCalls     int
	expireEvery int
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pair := func() {
		f.n++
		a, rt := fmt.Sprintf("a%d", f.n), fmt.Sprintf("r%d", f.n)
		f.access[a], f.live[rt] = true, true
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": a, "refresh_token": rt, "token_type": "Bearer"})
	}
	unauthorized := func() {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":"unauthorized"}`)
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /readyz":
	case "POST /v1/login":
		f.logins++
		pair()
	case "POST /v1/token/refresh":
		var req struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if !f.live[req.RefreshToken] {
			unauthorized()
			return
		}
		delete(f.live, req.RefreshToken)
		pair()
	case "GET /v1/me":
		f.meCalls++
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !f.access[tok] || (f.expireEvery > 0 && f.meCalls%f.expireEvery == 0) {
			delete(f.access, tok)
			unauthorized()
			return
		}
		_, _ = io.WriteString(w, `{"user":{}}`)
	default:
		http.NotFound(w, r)
	}
}

func startFake(t *testing.T, expireEvery int) (*fakeServer, *http.Client, config) {
	f := &fakeServer{live: map[string]bool{}, access: map[string]bool{}, expireEvery: expireEvery}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := validConfig()
	c.baseURL = srv.URL
	c.users, c.concurrency = 2, 4
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	return f, srv.Client(), c
}

func TestFireRefreshCount(t *testing.T) {
	f, client, c := startFake(t, 0)
	c.endpoint, c.requests = endpointRefresh, 200
	started, stopped := false, false
	r, err := fire(client, c, func() { started = true }, func() { stopped = true })
	if err != nil {
		t.Fatal(err)
	}
	if !started || !stopped {
		t.Fatal("onStart/onStop not called")
	}
	if r.main.sent != 200 || r.main.statuses[200] != 200 {
		t.Fatalf("sent %d, statuses %v", r.main.sent, r.main.statuses)
	}
	if r.relogin.sent != 0 || f.logins != c.concurrency {
		t.Fatalf("re-logins %d, server logins %d; want 0 and one per worker", r.relogin.sent, f.logins)
	}
	if len(r.main.latencies) != 200 {
		t.Fatalf("%d latencies", len(r.main.latencies))
	}
}

func TestFireRefreshBrokenChain(t *testing.T) {
	f, client, c := startFake(t, 0)
	c.endpoint, c.requests = endpointRefresh, 100
	// break every chain once right after the warm-up
	r, err := fire(client, c, func() {
		f.mu.Lock()
		clear(f.live)
		f.mu.Unlock()
	}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if r.main.statuses[401] != c.concurrency || r.main.statuses[200] != 100-c.concurrency {
		t.Fatalf("statuses %v, want %d×401 and the rest 200", r.main.statuses, c.concurrency)
	}
	if r.relogin.sent != c.concurrency || r.relogin.statuses[200] != c.concurrency {
		t.Fatalf("re-logins %v", r.relogin.counts)
	}
}

func TestFireMeFor(t *testing.T) {
	_, client, c := startFake(t, 10)
	c.endpoint, c.forDur = endpointMe, 300*time.Millisecond
	start := time.Now()
	r, err := fire(client, c, func() {}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a -for 300ms run took %s", took)
	}
	if r.elapsed < c.forDur {
		t.Fatalf("elapsed %s < -for", r.elapsed)
	}
	// every 401 is followed by one re-login, except one at the very end
	// of a worker's run
	n401 := r.main.statuses[401]
	if r.main.sent < 20 || n401 == 0 || r.relogin.sent > n401 || r.relogin.sent < n401-c.concurrency {
		t.Fatalf("sent %d, statuses %v, re-logins %d: want a re-login after each 401",
			r.main.sent, r.main.statuses, r.relogin.sent)
	}
}

func TestFireLoginFor(t *testing.T) {
	f, client, c := startFake(t, 0)
	c.forDur = 200 * time.Millisecond
	r, err := fire(client, c, func() {}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if r.main.sent == 0 || r.main.sent != f.logins || r.main.statuses[200] != r.main.sent {
		t.Fatalf("sent %d, server logins %d, statuses %v", r.main.sent, f.logins, r.main.statuses)
	}
}

func TestWarmUpFailsOn401(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":"invalid_credentials"}`)
	}))
	defer srv.Close()
	c := validConfig()
	c.baseURL, c.endpoint = srv.URL, endpointMe
	_, err := fire(srv.Client(), c, func() {}, func() {})
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_REQUIRE_VERIFIED_EMAIL=false") {
		t.Fatalf("got %v", err)
	}
}
