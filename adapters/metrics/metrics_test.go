package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/metrics"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/mock/gomock"
)

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// clock is a settable app.Clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// emptyOutbox answers Stats with nothing pending.
func emptyOutbox(ctrl *gomock.Controller) *mock.MockOutbox {
	ob := mock.NewMockOutbox(ctrl)
	ob.EXPECT().Stats(gomock.Any()).Return(app.OutboxStats{}, nil).AnyTimes()
	return ob
}

func newMetrics(t *testing.T, ob app.Outbox, c app.Clock, pools metrics.Pools) *metrics.Metrics {
	t.Helper()
	deliveries := mock.NewMockWebhookDeliveries(gomock.NewController(t))
	deliveries.EXPECT().OldestPending(gomock.Any()).Return(time.Time{}, nil).AnyTimes()
	m, err := metrics.New(ob, deliveries, c, pools)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scrape gets the exposition through Handler.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %v\n%s", rec.Code, rec.Header(), rec.Body)
	}
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func has(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("exposition lacks %q", l)
		}
	}
}

// The names and help texts follow Prometheus' conventions (promlint), and
// every family of the spec is there from the first scrape, the bounded
// label sets already at zero.
func TestFamiliesFromTheStart(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	m := newMetrics(t, emptyOutbox(ctrl), &clock{t: t0}, metrics.Pools{{Name: "reader", Stats: func() metrics.PoolStats { return metrics.PoolStats{Acquires: -1} }}})
	m.ObserveRequest("/healthz", "GET", 200, time.Millisecond)
	m.SlotAcquired(0)
	m.SlotReleased()
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "gatehouse_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
	text := scrape(t, m)
	for _, fam := range []string{
		"gatehouse_http_requests_total", "gatehouse_http_request_duration_seconds",
		"gatehouse_password_hashes_in_flight", "gatehouse_password_hash_wait_seconds",
		"gatehouse_logins_total", "gatehouse_mail_sent_total", "gatehouse_outbox_pending", "gatehouse_outbox_oldest_pending_age_seconds",
		"gatehouse_db_pool_acquired_connections", "gatehouse_db_pool_idle_connections",
		"gatehouse_db_pool_total_connections", "gatehouse_db_pool_max_connections",
		"gatehouse_db_pool_waits_total", "gatehouse_db_pool_wait_seconds_total",
		"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total",
	} {
		if !strings.Contains(text, "\n# TYPE "+fam+" ") {
			t.Errorf("no family %s", fam)
		}
	}
	has(t, text,
		`gatehouse_logins_total{result="success"} 0`,
		`gatehouse_logins_total{result="locked"} 0`,
		`gatehouse_mail_sent_total{kind="verify_email",result="retry"} 0`,
		`gatehouse_outbox_pending 0`,
		`gatehouse_outbox_oldest_pending_age_seconds 0`,
		`gatehouse_password_hashes_in_flight 0`,
		`gatehouse_password_hash_wait_seconds_count 1`,
		`gatehouse_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
	)
	// The limit families have no series before the first hit (their rules
	// are not known here), so they are not shown yet.
	if strings.Contains(text, "gatehouse_rate_limited_total") || strings.Contains(text, "gatehouse_mail_skipped_total") {
		t.Error("a limit series before any hit")
	}
}

// The observer counts what the app layer reports and passes every call on.
func TestObserverCountsAndForwards(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	next := mock.NewMockObserver(ctrl)
	m := newMetrics(t, emptyOutbox(ctrl), &clock{t: t0}, nil)
	o := metrics.NewObserver(m, next)
	ctx := context.Background()
	gomock.InOrder(
		next.EXPECT().LoginResult(ctx, app.LoginInvalidCredentials).Times(2),
		next.EXPECT().LoginResult(ctx, app.LoginSuccess),
		next.EXPECT().RateLimited(ctx, "login_ip").Times(3),
		next.EXPECT().RateLimited(ctx, "mail_address"),
		next.EXPECT().MailSkipped(ctx, app.MailVerifyEmail, "example.com", "mail_address"),
		next.EXPECT().MailResult(ctx, app.MailResetPassword, app.MailRetry),
		next.EXPECT().MailResult(ctx, app.ResetRequest, app.MailSent),
		// Not a fixed name: counted as "other", still passed on as is.
		next.EXPECT().RateLimited(ctx, "login:pair:someone@example.com"),
		next.EXPECT().LoginResult(ctx, app.LoginOutcome("Mixed Case")),
		next.EXPECT().RefreshReuseDetected(ctx).Times(2),
	)
	o.LoginResult(ctx, app.LoginInvalidCredentials)
	o.LoginResult(ctx, app.LoginInvalidCredentials)
	o.LoginResult(ctx, app.LoginSuccess)
	for range 3 {
		o.RateLimited(ctx, "login_ip")
	}
	o.RateLimited(ctx, "mail_address")
	o.MailSkipped(ctx, app.MailVerifyEmail, "example.com", "mail_address")
	o.MailResult(ctx, app.MailResetPassword, app.MailRetry)
	o.MailResult(ctx, app.ResetRequest, app.MailSent)
	o.RateLimited(ctx, "login:pair:someone@example.com")
	o.LoginResult(ctx, app.LoginOutcome("Mixed Case"))
	o.RefreshReuseDetected(ctx)
	o.RefreshReuseDetected(ctx)

	text := scrape(t, m)
	has(t, text,
		`gatehouse_logins_total{result="invalid_credentials"} 2`,
		`gatehouse_logins_total{result="success"} 1`,
		`gatehouse_logins_total{result="other"} 1`,
		`gatehouse_rate_limited_total{rule="login_ip"} 3`,
		`gatehouse_rate_limited_total{rule="mail_address"} 1`,
		`gatehouse_rate_limited_total{rule="other"} 1`,
		`gatehouse_mail_skipped_total{kind="verify_email",rule="mail_address"} 1`,
		`gatehouse_mail_sent_total{kind="reset_password",result="retry"} 1`,
		`gatehouse_mail_sent_total{kind="reset_request",result="sent"} 1`,
		`gatehouse_refresh_reuse_detected_total 2`,
	)
	if strings.Contains(text, "example.com") || strings.Contains(text, "someone") {
		t.Error("an address reached a label")
	}
}

func TestWebhookMetrics(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	deliveries := mock.NewMockWebhookDeliveries(ctrl)
	deliveries.EXPECT().OldestPending(gomock.Any()).Return(t0.Add(-90*time.Second), nil)
	m, err := metrics.New(emptyOutbox(ctrl), deliveries, &clock{t: t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := metrics.NewObserver(m, mock.NewMockObserver(ctrl))
	ctx := context.Background()
	o.DeliveryResult(ctx, webhook.UserCreated, appwebhook.Delivered)
	o.DeliveryResult(ctx, webhook.UserCreated, appwebhook.Retry)
	o.DeliveryResult(ctx, webhook.UserCreated, appwebhook.Retry)
	o.DeliveryResult(ctx, webhook.SessionRevoked, appwebhook.Failed)
	has(t, scrape(t, m),
		`gatehouse_webhook_deliveries_total{event="user.created",result="delivered"} 1`,
		`gatehouse_webhook_deliveries_total{event="user.created",result="retry"} 2`,
		`gatehouse_webhook_deliveries_total{event="session.revoked",result="failed"} 1`,
		`gatehouse_webhook_deliveries_total{event="user.deleted",result="delivered"} 0`,
		`gatehouse_webhook_oldest_undelivered_seconds 90`,
	)
}

func TestHashSlots(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	m := newMetrics(t, emptyOutbox(ctrl), &clock{t: t0}, nil)
	m.SlotAcquired(0)
	m.SlotAcquired(30 * time.Millisecond)
	m.SlotRefused(2 * time.Second)
	has(t, scrape(t, m),
		`gatehouse_password_hashes_in_flight 2`,
		`gatehouse_password_hash_wait_seconds_count 3`,
		`gatehouse_password_hash_wait_seconds_bucket{le="0.001"} 1`,
		`gatehouse_password_hash_wait_seconds_bucket{le="0.05"} 2`,
		`gatehouse_password_hash_wait_seconds_bucket{le="1"} 2`,
		`gatehouse_password_hash_wait_seconds_bucket{le="2"} 3`,
	)
	m.SlotReleased()
	m.SlotReleased()
	has(t, scrape(t, m), `gatehouse_password_hashes_in_flight 0`)
}

// Scrapes read the store at most once per OutboxCacheTTL, each read bounded
// by OutboxStatsTimeout; a failed read leaves the outbox gauges out of the
// answer and serves the rest.
func TestOutboxGaugesAreCached(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	ob := mock.NewMockOutbox(ctrl)
	c := &clock{t: t0}
	m := newMetrics(t, ob, c, nil)
	deadline := func(ctx context.Context) {
		dl, ok := ctx.Deadline()
		if !ok || time.Until(dl) > metrics.OutboxStatsTimeout {
			t.Errorf("Stats without a deadline of at most %v: %v %v", metrics.OutboxStatsTimeout, dl, ok)
		}
	}
	gomock.InOrder(
		ob.EXPECT().Stats(gomock.Any()).DoAndReturn(func(ctx context.Context) (app.OutboxStats, error) {
			deadline(ctx)
			return app.OutboxStats{Pending: 7, OldestPending: t0.Add(-time.Minute)}, nil
		}),
		ob.EXPECT().Stats(gomock.Any()).Return(app.OutboxStats{}, errors.New("db down")),
		ob.EXPECT().Stats(gomock.Any()).Return(app.OutboxStats{Pending: app.OutboxStatsCap, OldestPending: t0}, nil),
	)
	has(t, scrape(t, m), `gatehouse_outbox_pending 7`, `gatehouse_outbox_oldest_pending_age_seconds 60`)
	// Within the TTL, many scrapes, one read; the age grows with the clock.
	c.advance(metrics.OutboxCacheTTL - time.Second)
	var (
		wg    sync.WaitGroup
		texts [4]*httptest.ResponseRecorder // Handler serves 4 at once
	)
	for i := range texts {
		wg.Go(func() {
			texts[i] = httptest.NewRecorder()
			m.Handler().ServeHTTP(texts[i], httptest.NewRequest("GET", "/metrics", nil))
		})
	}
	wg.Wait()
	for _, rec := range texts {
		has(t, rec.Body.String(), `gatehouse_outbox_pending 7`, `gatehouse_outbox_oldest_pending_age_seconds 64`)
	}

	c.advance(time.Second)
	text := scrape(t, m)
	if strings.Contains(text, "gatehouse_outbox_") {
		t.Errorf("outbox gauges served after a failed read:\n%s", text)
	}
	has(t, text, `gatehouse_logins_total{result="success"} 0`)
	// The failure is cached too: the store is not asked again at once. The
	// failed scrape before was counted.
	c.advance(time.Second)
	text = scrape(t, m)
	if strings.Contains(text, "gatehouse_outbox_pending ") {
		t.Error("failure not cached")
	}
	has(t, text, `promhttp_metric_handler_errors_total{cause="gathering"} 1`)

	c.advance(metrics.OutboxCacheTTL)
	has(t, scrape(t, m), `gatehouse_outbox_pending 100000`)
}

func TestPools(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	m := newMetrics(t, emptyOutbox(ctrl), &clock{t: t0}, metrics.Pools{
		{Name: "writer", Stats: func() metrics.PoolStats { // a pool that does not count acquires
			return metrics.PoolStats{Acquired: 1, Total: 1, Max: 1, Acquires: -1, Waits: 4, WaitTime: 1500 * time.Millisecond}
		}},
		{Name: "main", Stats: func() metrics.PoolStats {
			return metrics.PoolStats{Acquired: 3, Idle: 2, Total: 5, Max: 10, Acquires: 1234, Waits: 6, WaitTime: 250 * time.Millisecond}
		}},
	})
	text := scrape(t, m)
	has(t, text,
		`gatehouse_db_pool_acquired_connections{pool="writer"} 1`,
		`gatehouse_db_pool_idle_connections{pool="writer"} 0`,
		`gatehouse_db_pool_total_connections{pool="writer"} 1`,
		`gatehouse_db_pool_max_connections{pool="writer"} 1`,
		`gatehouse_db_pool_waits_total{pool="writer"} 4`,
		`gatehouse_db_pool_wait_seconds_total{pool="writer"} 1.5`,
		`gatehouse_db_pool_acquired_connections{pool="main"} 3`,
		`gatehouse_db_pool_idle_connections{pool="main"} 2`,
		`gatehouse_db_pool_total_connections{pool="main"} 5`,
		`gatehouse_db_pool_max_connections{pool="main"} 10`,
		`gatehouse_db_pool_acquires_total{pool="main"} 1234`,
		`gatehouse_db_pool_waits_total{pool="main"} 6`,
		`gatehouse_db_pool_wait_seconds_total{pool="main"} 0.25`,
	)
	// database/sql does not count acquires.
	if strings.Contains(text, `gatehouse_db_pool_acquires_total{pool="writer"}`) {
		t.Error("acquires of a database/sql pool")
	}
}
