// Command load is a small login load generator for a local Gatehouse, used to
// measure the whole server process's memory while many logins arrive at once
// (issue 4: peak memory must stay near HASH_CONCURRENCY × argon2 memory, not
// concurrency × argon2 memory).
//
// It optionally registers -users accounts (-setup), then fires -requests
// logins from -concurrency workers that all start at the same instant, and
// prints the status counts, throughput, latency percentiles and, with -pid,
// the server's peak resident memory sampled from /proc/PID/status.
//
// It only ever talks to a loopback address: any other host in -url is refused.
// See README.md in this directory for usage and recorded measurements.
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	baseURL          string
	users            int
	concurrency      int
	requests         int
	duration         time.Duration
	requestTimeout   time.Duration
	pid              int
	setup            bool
	setupConcurrency int
	wrongRatio       float64
	emailPrefix      string
	emailDomain      string
	resetHWM         bool
}

func main() {
	var c config
	flag.StringVar(&c.baseURL, "url", "http://127.0.0.1:8080", "Gatehouse base URL (loopback only)")
	flag.IntVar(&c.users, "users", 200, "accounts used (and registered with -setup)")
	flag.IntVar(&c.concurrency, "concurrency", 200, "concurrent login workers")
	flag.IntVar(&c.requests, "requests", 1000, "total login requests")
	flag.DurationVar(&c.duration, "duration", 5*time.Minute, "stop the login phase after this long even if -requests are not all sent")
	flag.DurationVar(&c.requestTimeout, "request-timeout", 60*time.Second, "client timeout of one request")
	flag.IntVar(&c.pid, "pid", 0, "server pid: sample /proc/PID/status VmRSS and VmHWM every 20ms (0 = off)")
	flag.BoolVar(&c.setup, "setup", false, "register the accounts first (log in then needs GATEHOUSE_REQUIRE_VERIFIED_EMAIL=false)")
	flag.IntVar(&c.setupConcurrency, "setup-concurrency", 2, "concurrent registrations during -setup")
	flag.Float64Var(&c.wrongRatio, "wrong-ratio", 0, "fraction of logins sent with a wrong password, 0 to 1")
	flag.StringVar(&c.emailPrefix, "email-prefix", "load", "accounts are <prefix><NNNN>@<domain>")
	flag.StringVar(&c.emailDomain, "email-domain", "example.com", "domain of the accounts' email addresses")
	flag.BoolVar(&c.resetHWM, "reset-hwm", true, "with -pid, reset the server's VmHWM (write 5 to /proc/PID/clear_refs) before the login phase")
	flag.Parse()

	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func (c *config) validate() error {
	u, err := url.Parse(c.baseURL)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url: scheme must be http or https, got %q", u.Scheme)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-url: refusing non-loopback host %q; this tool only targets a local server", host)
	}
	c.baseURL = strings.TrimRight(u.String(), "/")
	switch {
	case c.users < 1:
		return errors.New("-users must be at least 1")
	case c.concurrency < 1:
		return errors.New("-concurrency must be at least 1")
	case c.requests < 0:
		return errors.New("-requests must not be negative")
	case c.duration <= 0:
		return errors.New("-duration must be positive")
	case c.setupConcurrency < 1:
		return errors.New("-setup-concurrency must be at least 1")
	case c.wrongRatio < 0 || c.wrongRatio > 1:
		return errors.New("-wrong-ratio must be between 0 and 1")
	case c.pid < 0:
		return errors.New("-pid must not be negative")
	}
	return nil
}

func run(c config) error {
	if err := c.validate(); err != nil {
		return err
	}
	client := &http.Client{
		Timeout: c.requestTimeout,
		Transport: &http.Transport{
			Proxy:               nil, // never route through a proxy
			MaxIdleConns:        c.concurrency + c.setupConcurrency,
			MaxIdleConnsPerHost: c.concurrency + c.setupConcurrency,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	if err := checkReady(client, c.baseURL); err != nil {
		return err
	}
	if c.pid != 0 {
		if _, err := readMem(c.pid); err != nil {
			return fmt.Errorf("-pid: %w", err)
		}
	}

	if c.setup {
		if err := setup(client, c); err != nil {
			return err
		}
	}
	if c.requests == 0 {
		return nil
	}

	var (
		sampler  *memSampler
		baseline mem
	)
	if c.pid != 0 {
		if c.resetHWM {
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", c.pid), []byte("5"), 0); err != nil {
				fmt.Fprintf(os.Stderr, "load: could not reset VmHWM (%v); VmHWM is then the peak since the server started\n", err)
			}
		}
		baseline, _ = readMem(c.pid)
		sampler = startSampler(c.pid, 20*time.Millisecond)
	}

	res := fire(client, c)

	var peak, end mem
	if sampler != nil {
		peak, end = sampler.stop()
	}
	res.print(os.Stdout, c)
	if sampler != nil {
		fmt.Printf("server memory (pid %d, /proc/%d/status, sampled every 20ms):\n", c.pid, c.pid)
		fmt.Printf("  VmRSS before login phase: %s\n", mib(baseline.rssKiB))
		fmt.Printf("  VmRSS peak (sampled):     %s (%d samples)\n", mib(peak.rssKiB), sampler.samples)
		fmt.Printf("  VmHWM at end:             %s\n", mib(end.hwmKiB))
		fmt.Printf("  VmRSS at end:             %s\n", mib(end.rssKiB))
		fmt.Printf("  peak - before:            %s\n", mib(max(peak.rssKiB, end.hwmKiB)-baseline.rssKiB))
	}
	return nil
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

func (c config) email(i int) string {
	return fmt.Sprintf("%s%04d@%s", c.emailPrefix, i, c.emailDomain)
}

func password(i int) string { return fmt.Sprintf("load test password number %04d xyz", i) }

// wrongPassword differs from password(i) but passes the same policy.
func wrongPassword(i int) string { return fmt.Sprintf("load test password number %04d abc", i) }

type outcome struct {
	status     int    // 0 = transport error
	code       string // problem "code" of an error response
	retryAfter string
	latency    time.Duration
	err        error
}

// post sends one JSON request and reads the whole response.
func post(ctx context.Context, client *http.Client, u string, body any) outcome {
	b, err := json.Marshal(body)
	if err != nil {
		return outcome{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return outcome{err: err, latency: time.Since(start)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	o := outcome{status: resp.StatusCode, latency: time.Since(start), retryAfter: resp.Header.Get("Retry-After"), err: err}
	if resp.StatusCode >= 400 {
		var p struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(data, &p) == nil {
			o.code = p.Code
		}
	}
	return o
}

// setup registers every account, retrying 429 and 503 after Retry-After
// (at most 20 times per account).
func setup(client *http.Client, c config) error {
	start := time.Now()
	var (
		next   atomic.Int64
		mu     sync.Mutex
		counts = map[string]int{}
		failed error
		wg     sync.WaitGroup
	)
	for range c.setupConcurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= c.users {
					return
				}
				var o outcome
				for attempt := 0; attempt < 20; attempt++ {
					o = post(context.Background(), client, c.baseURL+"/v1/register",
						map[string]string{"email": c.email(i), "password": password(i)})
					if o.status != http.StatusServiceUnavailable && o.status != http.StatusTooManyRequests {
						break
					}
					wait := time.Second
					if s, err := strconv.Atoi(o.retryAfter); err == nil && s > 0 {
						wait = time.Duration(s) * time.Second
					}
					time.Sleep(wait)
				}
				mu.Lock()
				counts[label(o)]++
				if o.status != http.StatusAccepted && failed == nil {
					failed = fmt.Errorf("register %s: %s", c.email(i), label(o))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
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

// isWrong deterministically picks about wrongRatio of the request indexes,
// spread independently of the account index (splitmix64 of i).
func isWrong(i int, ratio float64) bool {
	if ratio <= 0 {
		return false
	}
	z := uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/float64(1<<53) < ratio
}

type results struct {
	elapsed     time.Duration
	sent        int
	counts      map[string]int
	statuses    map[int]int
	latencies   []time.Duration
	retryAfters map[string]int
	firstErr    error
	timedOut    bool
}

// fire sends c.requests logins from c.concurrency workers released together.
func fire(client *http.Client, c config) *results {
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	var (
		next  atomic.Int64
		gate  = make(chan struct{})
		wg    sync.WaitGroup
		per   = make([][]outcome, c.concurrency)
		start time.Time
	)
	for w := range c.concurrency {
		wg.Go(func() {
			<-gate
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= c.requests {
					return
				}
				u := i % c.users
				pw := password(u)
				if isWrong(i, c.wrongRatio) {
					pw = wrongPassword(u)
				}
				per[w] = append(per[w], post(ctx, client, c.baseURL+"/v1/login",
					map[string]string{"email": c.email(u), "password": pw}))
			}
		})
	}
	start = time.Now()
	close(gate)
	wg.Wait()
	r := &results{
		elapsed:     time.Since(start),
		counts:      map[string]int{},
		statuses:    map[int]int{},
		retryAfters: map[string]int{},
		timedOut:    ctx.Err() != nil,
	}
	for _, outs := range per {
		for _, o := range outs {
			r.sent++
			r.counts[label(o)]++
			r.statuses[o.status]++
			if o.err != nil && r.firstErr == nil {
				r.firstErr = o.err
			}
			if o.status != 0 {
				r.latencies = append(r.latencies, o.latency)
			}
			if o.status == http.StatusServiceUnavailable || o.status == http.StatusTooManyRequests {
				ra := o.retryAfter
				if ra == "" {
					ra = "(none)"
				}
				r.retryAfters[ra]++
			}
		}
	}
	sort.Slice(r.latencies, func(a, b int) bool { return r.latencies[a] < r.latencies[b] })
	return r
}

func (r *results) print(w io.Writer, c config) {
	fmt.Fprintf(w, "login: %d requests, %d workers, %d accounts, wrong-ratio %.2f, %s%s\n",
		r.sent, c.concurrency, c.users, c.wrongRatio, r.elapsed.Round(time.Millisecond),
		map[bool]string{true: " (stopped by -duration)", false: ""}[r.timedOut])
	fmt.Fprintf(w, "  status 200: %d  401: %d  429: %d  503: %d  other: %d  transport errors: %d\n",
		r.statuses[200], r.statuses[401], r.statuses[429], r.statuses[503],
		r.sent-r.statuses[200]-r.statuses[401]-r.statuses[429]-r.statuses[503]-r.statuses[0], r.statuses[0])
	fmt.Fprintf(w, "  by code: %s\n", formatCounts(r.counts))
	if len(r.retryAfters) > 0 {
		fmt.Fprintf(w, "  Retry-After on 429/503: %s\n", formatCounts(r.retryAfters))
	}
	if r.firstErr != nil {
		fmt.Fprintf(w, "  first error: %v\n", r.firstErr)
	}
	if s := r.elapsed.Seconds(); s > 0 {
		fmt.Fprintf(w, "  throughput: %.1f req/s\n", float64(r.sent)/s)
	}
	if n := len(r.latencies); n > 0 {
		fmt.Fprintf(w, "  latency: p50 %s  p90 %s  p99 %s  max %s\n",
			pct(r.latencies, 0.50), pct(r.latencies, 0.90), pct(r.latencies, 0.99),
			r.latencies[n-1].Round(time.Millisecond))
	}
}

// pct is the nearest-rank percentile of sorted.
func pct(sorted []time.Duration, p float64) time.Duration {
	k := int(p*float64(len(sorted))+0.999999) - 1
	k = max(0, min(k, len(sorted)-1))
	return sorted[k].Round(time.Millisecond)
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

type memSampler struct {
	done    chan struct{}
	stopped chan struct{}
	peak    mem
	samples int
	pid     int
}

func startSampler(pid int, every time.Duration) *memSampler {
	s := &memSampler{done: make(chan struct{}), stopped: make(chan struct{}), pid: pid}
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if m, err := readMem(pid); err == nil {
				s.samples++
				s.peak.rssKiB = max(s.peak.rssKiB, m.rssKiB)
				s.peak.hwmKiB = max(s.peak.hwmKiB, m.hwmKiB)
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends sampling and returns the sampled peak and a final reading.
func (s *memSampler) stop() (peak, end mem) {
	close(s.done)
	<-s.stopped
	end, _ = readMem(s.pid)
	return s.peak, end
}
