package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/sqlite"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
)

// The probe subcommand measures two store operations whose cost must not
// grow with the size of their table, through the stores' own adapters (the
// code the server runs): the audit append (one chain, serialized), and the
// rate-limit counters under a spray of distinct keys while the janitor's
// delete of expired counters runs.

type probeOpts struct {
	target       string
	auditAppends int
	concurrency  int
	rlKeys       int
	rlWindow     time.Duration
	janitorEvery time.Duration
}

// probeFlags defines the probe subcommand's flags.
func probeFlags(fs *flag.FlagSet) func(ctx context.Context) error {
	var o probeOpts
	fs.StringVar(&o.target, "db", "", "the store: a postgres:// URL (loopback host only) or sqlite:PATH; migrated already")
	fs.IntVar(&o.auditAppends, "audit-appends", 0, "audit events to append through the store's AuditLog (they stay: the chain is intact)")
	fs.IntVar(&o.concurrency, "c", 8, "concurrent callers")
	fs.IntVar(&o.rlKeys, "ratelimit-keys", 0, "distinct rate-limit keys to hit once each (RateLimiter.Hit) while a janitor deletes expired counters")
	fs.DurationVar(&o.rlWindow, "window", 5*time.Second, "the window of the sprayed counters (they expire after it)")
	fs.DurationVar(&o.janitorEvery, "janitor", 2*time.Second, "how often the janitor of the spray runs DeleteExpired, as the server's does every 5 minutes")
	return func(ctx context.Context) error { return probe(ctx, o, os.Stdout) }
}

// probeStore is a store opened through its adapter.
type probeStore struct {
	repos app.Repos
	rl    app.RateLimiter
	count func(ctx context.Context, table string) (int, error)
	close func()
}

func openProbeStore(ctx context.Context, target string) (*probeStore, error) {
	if path, ok := strings.CutPrefix(target, "sqlite:"); ok {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		cnt, err := openSQLite(path)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		return &probeStore{
			repos: sqlite.NewPoolRepos(db), rl: sqlite.NewRateLimiter(db),
			count: countWith(cnt.QueryRowContext),
			close: func() { _ = cnt.Close(); _ = db.Close() },
		}, nil
	}
	if err := checkPostgresURL(target); err != nil {
		return nil, err
	}
	pool, err := postgres.NewPool(ctx, target)
	if err != nil {
		return nil, err
	}
	return &probeStore{
		repos: postgres.NewPoolRepos(pool), rl: postgres.NewRateLimiter(pool),
		count: countWith(pool.QueryRow),
		close: pool.Close,
	}, nil
}

// countWith counts the rows of a table with a store's one-row query.
func countWith[R interface{ Scan(dest ...any) error }](queryRow func(ctx context.Context, sql string, args ...any) R) func(ctx context.Context, table string) (int, error) {
	return func(ctx context.Context, table string) (n int, err error) {
		err = queryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n)
		return n, err
	}
}

func probe(ctx context.Context, o probeOpts, w io.Writer) error {
	if err := firstFailed(
		check{o.target == "", "probe: -db is required"},
		check{o.auditAppends <= 0 && o.rlKeys <= 0, "probe: nothing to do (-audit-appends, -ratelimit-keys)"},
		check{o.concurrency < 1, "probe: -c must be at least 1"},
	); err != nil {
		return err
	}
	s, err := openProbeStore(ctx, o.target)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer s.close()
	if o.auditAppends > 0 {
		if err := probeAudit(ctx, s, o, w); err != nil {
			return fmt.Errorf("probe: audit: %w", err)
		}
	}
	if o.rlKeys > 0 {
		if err := probeRateLimits(ctx, s, o, w); err != nil {
			return fmt.Errorf("probe: rate limits: %w", err)
		}
	}
	return nil
}

// probeAudit appends o.auditAppends events, first one at a time, then from
// o.concurrency callers, and reports the latency of each.
func probeAudit(ctx context.Context, s *probeStore, o probeOpts, w io.Writer) error {
	rows, err := s.count(ctx, "audit_events")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "audit_events: %d rows before\n", rows)
	for _, c := range []int{1, o.concurrency} {
		lat, elapsed, err := spray(ctx, o.auditAppends, c, func(ctx context.Context, i int) error {
			return s.repos.Audit.Append(ctx, audit.Event{Type: audit.LoginSucceeded, IP: "192.0.2.7", UserAgent: "gatehouse-load-probe", At: time.Now()})
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  append, %d caller(s): %d in %s = %.0f/s; latency %s\n", c, len(lat), elapsed.Round(time.Millisecond),
			float64(len(lat))/elapsed.Seconds(), latencies(lat))
	}
	return nil
}

// latencies is p50/p99/max of unsorted latencies.
func latencies(lat []time.Duration) string {
	slices.Sort(lat)
	return fmt.Sprintf("p50 %s p99 %s max %s", pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1))
}

// spray calls fn n times (i = 0..n-1) from c goroutines and returns each
// call's latency, in call order of i.
func spray(ctx context.Context, n, c int, fn func(ctx context.Context, i int) error) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var (
		mu     sync.Mutex
		failed error
	)
	start := time.Now()
	parallel(n, c, func(i int) bool {
		if ctx.Err() != nil {
			return false
		}
		t := time.Now()
		err := fn(ctx, i)
		lat[i] = time.Since(t)
		if err != nil {
			mu.Lock()
			failed = errors.Join(failed, err)
			mu.Unlock()
		}
		return err == nil
	})
	if failed == nil {
		failed = ctx.Err()
	}
	return lat, time.Since(start), failed
}

type janitorRun struct {
	at      time.Duration
	rows    int // in the table before
	deleted int
	took    time.Duration
}

// probeRateLimits hits o.rlKeys distinct keys once each from o.concurrency
// callers, with a janitor calling DeleteExpired every o.janitorEvery, and
// reports the Hit latency per tenth of the spray, each janitor run, and at
// the end one DeleteExpired of a backlog as large as the spray (a janitor
// that ran late).
func probeRateLimits(ctx context.Context, s *probeStore, o probeOpts, w io.Writer) error {
	tag := randomHex(3)
	start := time.Now()
	var (
		runs []janitorRun
		done = make(chan struct{})
		jwg  sync.WaitGroup
		jerr error
	)
	janitor := func() (janitorRun, error) {
		r := janitorRun{at: time.Since(start)}
		var err error
		if r.rows, err = s.count(ctx, "rate_limits"); err != nil {
			return r, err
		}
		t := time.Now()
		r.deleted, err = s.rl.DeleteExpired(ctx)
		r.took = time.Since(t)
		return r, err
	}
	jwg.Go(func() {
		t := time.NewTicker(o.janitorEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r, err := janitor()
				if err != nil {
					jerr = err
					return
				}
				runs = append(runs, r)
			}
		}
	})
	lat, elapsed, err := spray(ctx, o.rlKeys, o.concurrency, func(ctx context.Context, i int) error {
		_, _, err := s.rl.Hit(ctx, fmt.Sprintf("probe:%s:ip:198.51.%d.%d:%d", tag, (i>>8)&0xff, i&0xff, i), 10, o.rlWindow)
		return err
	})
	close(done)
	jwg.Wait()
	if err != nil {
		return err
	}
	if jerr != nil {
		return jerr
	}
	fmt.Fprintf(w, "rate limits: %d distinct keys hit once each by %d callers in %s = %.0f/s (window %s, janitor every %s)\n",
		o.rlKeys, o.concurrency, elapsed.Round(time.Millisecond), float64(o.rlKeys)/elapsed.Seconds(), o.rlWindow, o.janitorEvery)
	tenth := max(1, len(lat)/10)
	for k := 0; k*tenth < len(lat); k++ {
		part := slices.Clone(lat[k*tenth : min(len(lat), (k+1)*tenth)])
		fmt.Fprintf(w, "  keys %7d-%-7d Hit %s\n", k*tenth, k*tenth+len(part)-1, latencies(part))
	}
	for _, r := range runs {
		fmt.Fprintf(w, "  janitor at %5.1fs: %d rows, deleted %d expired in %s\n", r.at.Seconds(), r.rows, r.deleted, r.took.Round(time.Microsecond))
	}
	// A late janitor: everything the spray left expires, then one run.
	time.Sleep(o.rlWindow + time.Second)
	r, err := janitor()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  late janitor: %d rows, deleted %d expired in %s\n", r.rows, r.deleted, r.took.Round(time.Microsecond))
	return nil
}
