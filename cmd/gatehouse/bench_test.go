package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
)

// BenchmarkBearerPath is GET /v1/me on the wired server, on PostgreSQL,
// through real HTTP: the path whose cost `make bench` reports. It is the
// profile's source for docs/performance.md:
//
//	go test -run '^$' -bench BearerPath -cpuprofile /tmp/me.prof ./cmd/gatehouse
//	go tool pprof -top -focus 'fasthttp|fiber' cmd/gatehouse.test /tmp/me.prof
//
// The client runs in the same process: focus the profile on the server's
// frames (fasthttp, fiber, the adapters), as above.
func BenchmarkBearerPath(b *testing.B) {
	for _, st := range []testStore{onPostgres, onSQLite} {
		b.Run(string(st), func(b *testing.B) { benchBearerPath(b, st, "/v1/me") })
	}
}

// BenchmarkUserinfoPath is GET /userinfo of the OpenID Connect provider on
// the wired server, through real HTTP, as BenchmarkBearerPath: the bearer
// check every access token gets (here one of /v1/login, which userinfo
// accepts like a client's), then the claims. `make bench` measures it with
// a client's token (endpoint userinfo).
//
//	go test -run '^$' -bench UserinfoPath ./cmd/gatehouse
func BenchmarkUserinfoPath(b *testing.B) {
	for _, st := range []testStore{onPostgres, onSQLite} {
		b.Run(string(st), func(b *testing.B) { benchBearerPath(b, st, "/userinfo") })
	}
}

// benchBearerPath GETs path with one user's access token from 8 clients.
func benchBearerPath(b *testing.B, st testStore, path string) {
	base, client := benchServer(b, st, map[string]string{
		"GATEHOUSE_ARGON2_MEMORY_KIB": "1024",
		"GATEHOUSE_ARGON2_ITERATIONS": "1",
	}, nil)
	post := benchPost(b, client, base)
	creds := fmt.Sprintf(`{"email":"bench@example.com","password":%q}`, strongPassword)
	post("/v1/register", creds)
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(post("/v1/login", creds), &pair); err != nil {
		b.Fatal(err)
	}
	measured(b, 4, func() func() bool { // with GOMAXPROCS 2: 8 clients, as make bench
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
		return func() bool {
			resp, err := client.Do(req)
			return answered(b, "GET "+path, resp, err, http.StatusOK)
		}
	})
}

// BenchmarkLoginPath is POST /v1/login on the wired server at the default
// argon2id cost, through real HTTP from 32 clients (as make bench at c=32):
// the source of the login profile in docs/performance.md.
//
//	go test -run '^$' -bench LoginPath/sqlite -benchtime 300x -cpuprofile /tmp/login.prof ./cmd/gatehouse
//	go tool pprof -top cmd/gatehouse.test /tmp/login.prof
//
// serve's derived memory settings apply to the whole test process, as to
// the binary (the client's share of the heap is small beside the hashes).
func BenchmarkLoginPath(b *testing.B) {
	for _, st := range []testStore{onPostgres, onSQLite} {
		b.Run(string(st), func(b *testing.B) { benchLoginPath(b, st) })
	}
}

func benchLoginPath(b *testing.B, st testStore) {
	// serve's memory settings, as the binary applies them (restored after)
	b.Cleanup(func() { applyMemory(memorySettings{Limit: math.MaxInt64, GCPercent: 100}) })
	benchLogins(b, st, map[string]string{"GATEHOUSE_HASH_MAX_WAIT": "1m"}, applyMemory, 16) // with GOMAXPROCS 2: 32 clients
}

// BenchmarkLoginRequest is POST /v1/login as BenchmarkLoginPath, but at
// the cheapest argon2id cost (1 MiB, one pass) from 8 clients: what a
// login costs beside its hash (HTTP, JSON, the store's round trips, the
// access token), which the default cost's hash would drown.
//
//	go test -run '^$' -bench LoginRequest -count 5 ./cmd/gatehouse
func BenchmarkLoginRequest(b *testing.B) {
	for _, st := range []testStore{onPostgres, onSQLite} {
		b.Run(string(st), func(b *testing.B) {
			benchLogins(b, st, map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "1024", "GATEHOUSE_ARGON2_ITERATIONS": "1"}, nil, 4) // 8 clients
		})
	}
}

// benchLogins logs one account in over and over from parallelism ×
// GOMAXPROCS clients, on a server with the benchmarks' settings plus
// extra, as measured measures.
func benchLogins(b *testing.B, st testStore, extra map[string]string, setMemory func(memorySettings), parallelism int) {
	base, client := benchServer(b, st, extra, setMemory)
	post := benchPost(b, client, base)
	creds := fmt.Sprintf(`{"email":"bench@example.com","password":%q}`, strongPassword)
	post("/v1/register", creds)
	measured(b, parallelism, func() func() bool {
		return func() bool {
			resp, err := client.Post(base+"/v1/login", "application/json", strings.NewReader(creds))
			return answered(b, "POST /v1/login", resp, err, http.StatusOK)
		}
	})
}

// BenchmarkSignInRequest is the hosted sign-in page's POST /sign-in (a
// browser's form with its CSRF token and cookie, no authorization request
// pending) as BenchmarkLoginRequest posts /v1/login: same cost, clients
// and account, to set the two beside each other.
//
//	go test -run '^$' -bench 'SignInRequest|LoginRequest' -count 5 ./cmd/gatehouse
func BenchmarkSignInRequest(b *testing.B) {
	for _, st := range []testStore{onPostgres, onSQLite} {
		b.Run(string(st), func(b *testing.B) {
			base, client := benchServer(b, st, map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "1024", "GATEHOUSE_ARGON2_ITERATIONS": "1"}, nil)
			post := benchPost(b, client, base)
			creds := fmt.Sprintf(`{"email":"bench@example.com","password":%q}`, strongPassword)
			post("/v1/register", creds)
			// The sign-in page sets the browser's CSRF cookie and puts
			// its token in the form.
			resp, err := client.Get(base + "/sign-in")
			if err != nil {
				b.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := csrfField.FindSubmatch(page)
			if m == nil || len(resp.Cookies()) != 1 {
				b.Fatalf("sign-in page: %d cookies, %s", len(resp.Cookies()), page)
			}
			cookie := resp.Cookies()[0]
			form := url.Values{"email": {"bench@example.com"}, "password": {strongPassword}, "csrf": {string(m[1])}}.Encode()
			// The answer is a redirect to the signed-in page, not followed.
			noFollow := *client
			noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			measured(b, 4, func() func() bool { // 8 clients
				return func() bool {
					req, _ := http.NewRequest(http.MethodPost, base+"/sign-in", strings.NewReader(form))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.AddCookie(cookie)
					resp, err := noFollow.Do(req)
					return answered(b, "POST /sign-in", resp, err, http.StatusSeeOther)
				}
			})
		})
	}
}

// measured runs the benchmark's requests from parallelism × GOMAXPROCS
// clients (newClient makes one: a function that sends one request and
// tells whether it was answered as it should be), and beside the wall
// time reports the process's CPU time per request (cpu-ns/op: server and
// clients, the embedded store included, a PostgreSQL server's own CPU
// not), which a busy machine's wall clock hides.
func measured(b *testing.B, parallelism int, newClient func() func() bool) {
	b.SetParallelism(parallelism)
	b.ResetTimer()
	cpuStart := processCPU(b)
	defer func() { b.ReportMetric(float64((processCPU(b)-cpuStart).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
	b.RunParallel(func(pb *testing.PB) {
		send := newClient()
		for pb.Next() {
			if !send() {
				return
			}
		}
	})
}

// answered reads the answer of one request of a benchmark to its end
// and closes it; a failed request, or one that did not answer status
// want, fails the benchmark (what names the request).
func answered(b *testing.B, what string, resp *http.Response, err error, want int) bool {
	if err != nil {
		b.Error(err)
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("%s: %d", what, resp.StatusCode)
		return false
	}
	return true
}

// benchServer runs serve in this process on a fresh store with the
// benchmarks' settings plus extra, and returns its base URL and a client;
// setMemory is procIO's.
func benchServer(b *testing.B, st testStore, extra map[string]string, setMemory func(memorySettings)) (string, *http.Client) {
	b.Helper()
	env := map[string]string{
		"GATEHOUSE_DATA_DIR":               b.TempDir(),
		"GATEHOUSE_HTTP_ADDR":              "127.0.0.1:0",
		"GATEHOUSE_ADMIN_ADDR":             "",
		"GATEHOUSE_PUBLIC_URL":             testPublicURL,
		"GATEHOUSE_LOG_LEVEL":              "warn",
		"GATEHOUSE_RATE_LIMIT_DISABLED":    "true",
		"GATEHOUSE_REQUIRE_VERIFIED_EMAIL": "false",
		"GATEHOUSE_SHUTDOWN_TIMEOUT":       "5s",
	}
	maps.Copy(env, extra)
	if st == onPostgres {
		env["GATEHOUSE_DATABASE_URL"] = pgtest.NewEmptyDatabase(b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() {
		p := procIO{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, onListening: func(l listening) { ready <- l }, setMemory: setMemory}
		done <- runWith(ctx, []string{"serve"}, env, p)
	}()
	var at listening
	select {
	case at = <-ready:
	case err := <-done:
		b.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		b.Fatal("serve did not listen")
	}
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	return "http://" + at.HTTP, &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
}

// benchPost posts a JSON body and returns the answer's body; anything but
// a 2xx fails the benchmark.
func benchPost(b *testing.B, client *http.Client, base string) func(path, body string) []byte {
	return func(path, body string) []byte {
		resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, data)
		}
		return data
	}
}
