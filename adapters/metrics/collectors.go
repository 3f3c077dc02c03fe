package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/storage"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

// The outbox and webhook gauges read the store (app.Outbox.Stats,
// appwebhook.Deliveries.OldestPending): at most once per OutboxCacheTTL
// whatever the number of scrapers (concurrent scrapes share one read),
// and never for longer than OutboxStatsTimeout.
const (
	OutboxCacheTTL     = 5 * time.Second
	OutboxStatsTimeout = 2 * time.Second
)

// cached is a value read from the store, kept for ttl.
type cached[T any] struct {
	read         func(context.Context) (T, error)
	clock        app.Clock
	timeout, ttl time.Duration

	mu  sync.Mutex // held while reading, so concurrent scrapes share a read
	at  time.Time  // when v and err were read; zero: never
	v   T
	err error
}

// get returns the cached value, read anew once the cache is older than
// ttl, and the time to measure ages at.
func (c *cached[T]) get() (T, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.at.IsZero() || now.Sub(c.at) >= c.ttl || now.Before(c.at) {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		c.v, c.err = c.read(ctx)
		cancel()
		c.at = now
	}
	return c.v, now, c.err
}

// ageAt is the age of oldest at now in seconds; 0 for the zero time
// (nothing pending).
func ageAt(oldest, now time.Time) float64 {
	if oldest.IsZero() {
		return 0
	}
	return max(now.Sub(oldest).Seconds(), 0)
}

// outboxCollector serves gatehouse_outbox_pending and
// gatehouse_outbox_oldest_pending_age_seconds from a cached Stats.
type outboxCollector struct {
	stats        *cached[app.OutboxStats]
	pending, age *prometheus.Desc
}

func newOutboxCollector(outbox app.Outbox, clock app.Clock, timeout, ttl time.Duration) *outboxCollector {
	return &outboxCollector{
		stats: &cached[app.OutboxStats]{read: outbox.Stats, clock: clock, timeout: timeout, ttl: ttl},
		pending: prometheus.NewDesc(namespace+"_outbox_pending",
			"Outbox messages neither sent nor given up (claimed and retrying ones included); the count stops at "+itoa(app.OutboxStatsCap)+", so that reading it stays cheap.",
			nil, nil),
		age: prometheus.NewDesc(namespace+"_outbox_oldest_pending_age_seconds",
			"Age of the oldest pending outbox message (of the "+itoa(app.OutboxStatsCap)+" due first, when more are pending); 0 when none is pending.",
			nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.age
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	st, now, err := c.stats.get()
	if err != nil {
		// Left out of this scrape; promhttp counts the failure.
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, ageAt(st.OldestPending, now))
}

// webhookCollector serves gatehouse_webhook_oldest_undelivered_seconds
// from a cached OldestPending.
type webhookCollector struct {
	oldest *cached[time.Time]
	age    *prometheus.Desc
}

func newWebhookCollector(deliveries appwebhook.Deliveries, clock app.Clock, timeout, ttl time.Duration) *webhookCollector {
	return &webhookCollector{
		oldest: &cached[time.Time]{read: deliveries.OldestPending, clock: clock, timeout: timeout, ttl: ttl},
		age: prometheus.NewDesc(namespace+"_webhook_oldest_undelivered_seconds",
			"Age of the oldest webhook delivery neither delivered nor given up; 0 when none is pending.",
			nil, nil),
	}
}

func (c *webhookCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.age }

func (c *webhookCollector) Collect(ch chan<- prometheus.Metric) {
	oldest, now, err := c.oldest.get()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.age, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, ageAt(oldest, now))
}

// PoolStats is one connection pool's statistics at a moment.
type PoolStats = storage.ConnStats

// Pool names a connection pool and reads its statistics.
type Pool = storage.ConnGroup

// Pools are the store's connection pools (storage.Store.Conns).
type Pools = []Pool

// poolCollector serves gatehouse_db_pool_* for every pool, labelled with
// its name. Reading pool statistics costs no query.
type poolCollector struct {
	pools                        Pools
	acquired, idle, total, max   *prometheus.Desc
	acquires, waits, waitSeconds *prometheus.Desc
}

func newPoolCollector(pools Pools) *poolCollector {
	d := func(n, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_db_pool_"+n, help, []string{"pool"}, nil)
	}
	return &poolCollector{
		pools:       pools,
		acquired:    d("acquired_connections", "Connections of the pool in use now."),
		idle:        d("idle_connections", "Idle connections of the pool."),
		total:       d("total_connections", "Open connections of the pool (in use, idle and, for PostgreSQL, being opened)."),
		max:         d("max_connections", "Most connections the pool opens (0: no bound)."),
		acquires:    d("acquires_total", "Connections taken from the pool (PostgreSQL pools only)."),
		waits:       d("waits_total", "Acquires that had to wait because no idle connection was there."),
		waitSeconds: d("wait_seconds_total", "Time the acquires that had to wait spent waiting."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.acquires, c.waits, c.waitSeconds} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools {
		s := p.Stats()
		gauge := func(d *prometheus.Desc, v int) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), p.Name)
		}
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, p.Name)
		}
		gauge(c.acquired, s.Acquired)
		gauge(c.idle, s.Idle)
		gauge(c.total, s.Total)
		gauge(c.max, s.Max)
		if s.Acquires >= 0 {
			counter(c.acquires, float64(s.Acquires))
		}
		counter(c.waits, float64(s.Waits))
		counter(c.waitSeconds, s.WaitTime.Seconds())
	}
}
