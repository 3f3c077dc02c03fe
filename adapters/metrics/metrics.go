// Package metrics is the Prometheus adapter: one private registry holding
// Gatehouse's metric families (HTTP requests, password-hash slots, login
// results, limit hits, mail, the outbox queue, the database pools) and the
// Go and process collectors, served in the Prometheus text format by
// Handler on the admin listener.
//
// Every label value comes from a small fixed set: route templates (never
// raw paths), method names, status codes, and the names the app layer
// reports (login results, limit rules, mail kinds). What does not look like
// such a name is counted as "other", so that no caller can grow the series
// without bound.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every family of Gatehouse's own.
const namespace = "gatehouse"

// Metrics is the registry and the families the adapters and the app layer
// feed. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	hashesInFlight prometheus.Gauge
	hashWait       prometheus.Histogram
	logins         *prometheus.CounterVec
	limited        *prometheus.CounterVec
	mailSkipped    *prometheus.CounterVec
	mailSent       *prometheus.CounterVec
	refreshReuse   prometheus.Counter
	tokens         *prometheus.CounterVec
	webhooks       *prometheus.CounterVec
}

// loginOutcomes and mailOutcomes are known in advance: their series start
// at zero, so that rates and ratios exist before the first event.
var (
	loginOutcomes = []app.LoginOutcome{
		app.LoginSuccess, app.LoginInvalidCredentials,
		app.LoginDisabled, app.LoginRateLimited, app.LoginLocked,
		app.LoginMFARequired, app.LoginInvalidCode,
	}
	mailOutcomes = []app.MailOutcome{app.MailSent, app.MailRetry, app.MailFailed}
	mailKinds    = []app.MailKind{
		app.MailVerifyEmail, app.MailAlreadyRegistered, app.MailResetPassword,
		app.MailPasswordChanged, app.MailInvite, app.MailAccountDeleted,
		app.MailConfirmEmailChange, app.MailEmailChangeRequested,
		app.MailMFAEnabled, app.MailMFADisabled, app.MailRecoveryCodeUsed,
		app.ResetRequest, app.VerifyRequest,
	}
)

// HashWaitBuckets are the bounds of gatehouse_password_hash_wait_seconds:
// most calls find a free slot at once; a wait near the hasher's MaxWait
// (2 s by default) ends in 503 overloaded.
var HashWaitBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5}

// New builds the registry: the Go and process collectors, the families fed
// through the methods of Metrics and Observer, the outbox gauges (read
// through outbox.Stats at most once per OutboxCacheTTL, with a timeout), the
// webhook gauge (read through deliveries the same way) and the gauges and
// counters of pools.
func New(outbox app.Outbox, deliveries appwebhook.Deliveries, clock app.Clock, pools Pools) (*Metrics, error) {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route template (\"unmatched\" when no route matched), method and status code, on both listeners.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time from receiving an HTTP request to its answer, by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		hashesInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "password_hashes_in_flight",
			Help: "Password hashes and verifications running now (each holds one of the hasher's slots).",
		}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "password_hash_wait_seconds",
			Help:    "Time a password hash or verification waited for a free slot, whether it got one or gave up (503 overloaded).",
			Buckets: HashWaitBuckets,
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "logins_total",
			Help: "Logins (password or passkey) by result: success, invalid_credentials (an unknown address, a wrong password, or an address not verified yet: the API tells them apart no more; or a passkey that does not verify), disabled, rate_limited, locked, mfa_required (the first step of an MFA login), invalid_code (a wrong second factor).",
		}, []string{"result"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limited_total",
			Help: "Requests refused and mails dropped by a rate limit, by rule (login_ip, login_account_ip, login_account, mfa_code_account, mfa_code_locked, mail_address, register_ip, ...).",
		}, []string{"rule"}),
		mailSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "mail_skipped_total",
			Help: "Mails not sent because a per-address limit was used up, by mail kind and rule.",
		}, []string{"kind", "rule"}),
		mailSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "mail_sent_total",
			Help: "Outbox delivery attempts by kind and result: sent, retry (failed, tried again later), failed (given up). Address-only requests (reset_request, verify_request) count as sent when resolved.",
		}, []string{"kind", "result"}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "refresh_reuse_detected_total",
			Help: "Rotated refresh tokens presented again: each revoked its session (a copied token, or a client that lost a response).",
		}),
	}
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "webhook_deliveries_total",
		Help: "Webhook delivery attempts by event type and result: delivered (a 2xx), retry (failed, tried again later), failed (given up a day after the event).",
	}, []string{"event", "result"})
	for _, t := range webhook.Types {
		for _, r := range []appwebhook.Result{appwebhook.Delivered, appwebhook.Retry, appwebhook.Failed} {
			m.webhooks.WithLabelValues(string(t), string(r))
		}
	}
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "oauth_token_requests_total",
		Help: "Token endpoint requests by grant type (authorization_code, refresh_token, client_credentials, other) and result (success, or the OAuth error code answered: invalid_client, invalid_grant, ...; rate_limited).",
	}, []string{"grant_type", "result"})
	for _, r := range loginOutcomes {
		m.logins.WithLabelValues(string(r))
	}
	for _, k := range mailKinds {
		for _, r := range mailOutcomes {
			m.mailSent.WithLabelValues(string(k), string(r))
		}
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.hashesInFlight, m.hashWait,
		m.logins, m.limited, m.mailSkipped, m.mailSent, m.refreshReuse, m.tokens, m.webhooks,
		newOutboxCollector(outbox, clock, OutboxStatsTimeout, OutboxCacheTTL),
		newWebhookCollector(deliveries, clock, OutboxStatsTimeout, OutboxCacheTTL),
		newPoolCollector(pools),
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Registry is the private registry (for tests and further collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (gzipped when
// the scraper accepts it), at most 4 scrapes at once (503 beyond). A collector that fails (the
// outbox gauges while the store does not answer) is left out of the
// answer and counted in promhttp_metric_handler_errors_total; the rest is
// served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.reg, // counts failed collections in promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
		// No Timeout: the listener's write timeout bounds a scrape, and
		// the outbox read has its own.
	}))
}

// ObserveRequest counts an answered HTTP request. route is the matched
// route template or "unmatched"; method one of the standard methods or
// "other" (the HTTP adapter bounds both).
func (m *Metrics) ObserveRequest(route, method string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
}

// TokenRequest counts a token endpoint request; the HTTP adapter bounds
// both labels to fixed names.
func (m *Metrics) TokenRequest(grantType, result string) {
	m.tokens.WithLabelValues(grantType, result).Inc()
}

// SlotAcquired, SlotRefused and SlotReleased implement argon2id.Observer.
func (m *Metrics) SlotAcquired(wait time.Duration) {
	m.hashWait.Observe(wait.Seconds())
	m.hashesInFlight.Inc()
}

// SlotRefused counts a wait that ended without a slot.
func (m *Metrics) SlotRefused(wait time.Duration) { m.hashWait.Observe(wait.Seconds()) }

// SlotReleased ends a hash in flight.
func (m *Metrics) SlotReleased() { m.hashesInFlight.Dec() }

// name keeps a label value the app layer reports when it looks like one of
// its fixed names (lower-case letters, digits and underscores, at most 40),
// and gives "other" for anything else.
func name(s string) string {
	if len(s) == 0 || len(s) > 40 {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return "other"
		}
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
