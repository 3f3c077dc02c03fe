package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"runtime"
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
	base, client := benchServer(b, st, cheapestHash, nil)
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
			benchLogins(b, st, cheapestHash, nil, 4) // 8 clients
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
			base, client := benchServer(b, st, cheapestHash, nil)
			post := benchPost(b, client, base)
			creds := fmt.Sprintf(`{"email":"bench@example.com","password":%q}`, strongPassword)
			post("/v1/register", creds)
			// Each request is a browser's first sign-in: its CSRF cookie
			// and token, no session cookie.
			browser := benchBrowser(b, client)
			form := benchSignInForm(b, browser, base).Encode()
			u, _ := url.Parse(base)
			cookies := browser.Jar.Cookies(u)
			first := *browser
			first.Jar = nil                     // keeps no session cookie
			measured(b, 4, func() func() bool { // 8 clients
				return func() bool {
					req, _ := http.NewRequest(http.MethodPost, base+"/sign-in", strings.NewReader(form))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					for _, ck := range cookies {
						req.AddCookie(ck)
					}
					resp, err := first.Do(req)
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
	measuredOn(b, nil, parallelism, newClient)
}

// measuredOn is measured on the store of env: on PostgreSQL it reports
// besides the CPU time per request of the database's backends
// (db-cpu-ns/op, see backends), so that server+database is their sum.
func measuredOn(b *testing.B, env map[string]string, parallelism int, newClient func() func() bool) {
	b.SetParallelism(parallelism)
	var (
		db       backends
		dbBefore map[int]time.Duration
	)
	dbURL := env["GATEHOUSE_DATABASE_URL"]
	if dbURL != "" {
		db = openBackends(b, dbURL)
	}
	b.ResetTimer()
	cpuStart := processCPU(b)
	if dbURL != "" {
		dbBefore = db.cpu(b)
	}
	defer func() {
		b.ReportMetric(float64((processCPU(b)-cpuStart).Nanoseconds())/float64(b.N), "cpu-ns/op")
		if dbURL != "" {
			b.ReportMetric(float64(since(dbBefore, db.cpu(b)).Nanoseconds())/float64(b.N), "db-cpu-ns/op")
		}
	}()
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
	return benchServe(b, benchEnv(b, st, extra), setMemory)
}

// benchEnv is the environment of benchServer's serve (and of the
// commands run on its store).
func benchEnv(b *testing.B, st testStore, extra map[string]string) map[string]string {
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
	return env
}

// benchServe runs serve in this process with env as benchServer does.
func benchServe(b *testing.B, env map[string]string, setMemory func(memorySettings)) (string, *http.Client) {
	b.Helper()
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

// cheapestHash is the benchmarks' argon2id cost where the hash is not
// what is measured: 1 MiB, one pass.
var cheapestHash = map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "1024", "GATEHOUSE_ARGON2_ITERATIONS": "1"}

// BenchmarkCodeExchange is the OpenID Connect token endpoint's code
// exchange (POST /token, grant_type=authorization_code with PKCE, scope
// openid: a new grant with its refresh token and an id_token, RS256 as by
// default or EdDSA) for a public first-party client, from 8 clients, beside
// BenchmarkRefreshRequest. The codes are minted before the timer starts
// by a signed-in browser's GET /authorize; they live 60 s, so give a
// count that is redeemed well within it:
//
//	go test -run '^$' -bench 'CodeExchange|RefreshRequest' -benchtime 2000x -count 3 ./cmd/gatehouse
func BenchmarkCodeExchange(b *testing.B) {
	for _, st := range []testStore{onPostgres, onSQLite} {
		for _, alg := range []string{"RS256", "EdDSA"} {
			b.Run(string(st)+"/"+alg, func(b *testing.B) { benchCodeExchange(b, st, alg) })
		}
	}
}

// benchCodeExchange is BenchmarkCodeExchange on st, for a client whose
// id_tokens are signed with alg.
func benchCodeExchange(b *testing.B, st testStore, alg string) {
	env := benchEnv(b, st, cheapestHash)
	base, client := benchServe(b, env, nil)
	post := benchPost(b, client, base)
	creds := fmt.Sprintf(`{"email":"bench@example.com","password":%q}`, strongPassword)
	post("/v1/register", creds)
	const redirectURI = "http://127.0.0.1/cb"
	var created struct {
		Client struct {
			ID string `json:"client_id"`
		} `json:"client"`
	}
	out := mustCLI(b, env, "clients", "create", "--json", "--name", "Bench", "--type", "public", "--redirect-uri", redirectURI, "--id-token-alg", alg)
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		b.Fatalf("clients create: %v %s", err, out)
	}
	browser := benchSignIn(b, client, base)
	type code struct{ code, verifier string }
	codes := make(chan code, b.N)
	for i := range b.N {
		verifier := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "verifier-%040d", i))
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{"client_id": {created.Client.ID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
		resp, err := browser.Get(base + "/authorize?" + q.Encode())
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" {
			b.Fatalf("authorize: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		codes <- code{loc.Query().Get("code"), verifier}
	}
	close(codes)
	measuredOn(b, env, 4, func() func() bool { // 8 clients
		return func() bool {
			c := <-codes
			form := url.Values{"grant_type": {"authorization_code"}, "code": {c.code}, "redirect_uri": {redirectURI},
				"client_id": {created.Client.ID}, "code_verifier": {c.verifier}}
			resp, err := client.PostForm(base+"/token", form)
			return answered(b, "POST /token", resp, err, http.StatusOK)
		}
	})
}

// benchSignIn signs the benchmarks' account in on the hosted sign-in page
// and returns that browser.
func benchSignIn(b *testing.B, client *http.Client, base string) *http.Client {
	b.Helper()
	browser := benchBrowser(b, client)
	resp, err := browser.PostForm(base+"/sign-in", benchSignInForm(b, browser, base))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return browser
}

// benchBrowser is a browser over client's transport: it keeps cookies and
// does not follow redirects.
func benchBrowser(b *testing.B, client *http.Client) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	return &http.Client{Transport: client.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// benchSignInForm opens the sign-in page in browser, which sets its CSRF
// cookie, and returns the benchmarks' account's sign-in form with the
// page's CSRF token.
func benchSignInForm(b *testing.B, browser *http.Client, base string) url.Values {
	b.Helper()
	resp, err := browser.Get(base + "/sign-in")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		b.Fatalf("no CSRF field on the sign-in page: %s", page)
	}
	return url.Values{"email": {"bench@example.com"}, "password": {strongPassword}, "csrf": {string(m[1])}}
}

// BenchmarkRefreshRequest is POST /v1/token/refresh from 8 clients, each
// following its own rotation chain from a login made before the timer
// starts: the /v1 side of BenchmarkCodeExchange.
func BenchmarkRefreshRequest(b *testing.B) {
	for _, st := range []testStore{onPostgres, onSQLite} {
		b.Run(string(st), func(b *testing.B) {
			env := benchEnv(b, st, cheapestHash)
			base, client := benchServe(b, env, nil)
			post := benchPost(b, client, base)
			creds := fmt.Sprintf(`{"email":"bench@example.com","password":%q}`, strongPassword)
			post("/v1/register", creds)
			const parallelism = 4 // 8 clients
			chains := make(chan string, parallelism*runtime.GOMAXPROCS(0))
			for range cap(chains) {
				chains <- refreshTokenOf(b, post("/v1/login", creds))
			}
			measuredOn(b, env, parallelism, func() func() bool {
				token := <-chains
				return func() bool {
					body, _ := json.Marshal(map[string]string{"refresh_token": token})
					resp, err := client.Post(base+"/v1/token/refresh", "application/json", bytes.NewReader(body))
					if err != nil || resp.StatusCode != http.StatusOK {
						return answered(b, "POST /v1/token/refresh", resp, err, http.StatusOK)
					}
					data, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						b.Error(err)
						return false
					}
					token = refreshTokenOf(b, data)
					return token != ""
				}
			})
		})
	}
}

// refreshTokenOf is the refresh token of a token pair's JSON ("" and the
// benchmark failed when it has none).
func refreshTokenOf(b *testing.B, pair []byte) string {
	var p struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(pair, &p); err != nil || p.RefreshToken == "" {
		b.Errorf("no refresh token in %s (%v)", pair, err)
	}
	return p.RefreshToken
}
