package http

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/metrics"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/mock/gomock"
)

// requestCounts reads gatehouse_http_requests_total as "METHOD route
// status" -> count.
func requestCounts(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "gatehouse_http_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			l := labels(s)
			out[l["method"]+" "+l["route"]+" "+l["status"]] = s.GetCounter().GetValue()
		}
	}
	return out
}

func labels(s *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range s.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// Both apps count their requests by route template, never by raw path: a
// user id, a token or a 404 spray leaves no trace in a label. /metrics is
// served by the admin app only.
func TestMetricsByRouteTemplate(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	outbox := mock.NewMockOutbox(ctrl)
	outbox.EXPECT().Stats(gomock.Any()).Return(app.OutboxStats{Pending: 3, OldestPending: t0.Add(-90 * time.Second)}, nil).AnyTimes()
	deliveries := mock.NewMockWebhookDeliveries(ctrl)
	deliveries.EXPECT().OldestPending(gomock.Any()).Return(t0.Add(-30*time.Second), nil).AnyTimes()
	m, err := metrics.New(outbox, deliveries, fixedClock{t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ready := func(context.Context) error { return nil }
	deadLinks := &stubLinkState{LiveFn: func(context.Context, string, token.Purpose) (bool, error) { return false, nil }}
	public := NewServer(Config{Requests: m}, nil, UseCases{Ready: ready, LinkState: deadLinks})
	admin := NewAdminServer(Config{Requests: m, Admin: testAdminConfig}, nil, AdminUseCases{Ready: ready, Metrics: m.Handler()})

	const id = "0d6c1b9e-5c1f-4a43-9e7a-3f4f0e0c2b11"
	for _, c := range []struct {
		app          string
		method, path string
		status       int
	}{
		{"public", "GET", "/healthz", 200},
		{"public", "GET", "/healthz", 200},
		{"public", "GET", "/metrics", 404},
		{"public", "DELETE", "/v1/me/sessions/" + id, 401},
		{"public", "GET", "/v1/users/" + id + "/tokens/eyJhbGciOiJFZERTQSJ9.e30.sig", 404},
		{"public", "GET", "/verify-email?token=secret-token-value", 410},
		{"public", "BREW", "/healthz", 405},
		{"admin", "GET", "/readyz", 200},
		{"admin", "GET", "/admin/v1/users/" + id, 401},
		{"admin", "PUT", "/metrics", 405},
		{"admin", "GET", "/wp-login.php?user=someone@example.com", 404},
	} {
		a := public
		if c.app == "admin" {
			a = admin
		}
		if res, body := do(t, a, request(c.method, c.path, "")); res.StatusCode != c.status {
			t.Fatalf("%s %s %s: %d %s", c.app, c.method, c.path, res.StatusCode, body)
		}
	}

	got := requestCounts(t, m)
	for key, n := range map[string]float64{
		"GET /healthz 200":               2,
		"GET unmatched 404":              3, // /metrics on the public app, the unknown paths
		"DELETE /v1/me/sessions/:id 401": 1,
		"GET /verify-email 410":          1,
		"OTHER unmatched 405":            1,
		"GET /readyz 200":                1,
		"GET /admin/v1 401":              1, // refused by the key check, before routing within /admin/v1
		"PUT unmatched 405":              1,
	} {
		if got[key] != n {
			t.Errorf("requests %q = %v, want %v (all: %v)", key, got[key], n, got)
		}
	}
	if len(got) != 8 {
		t.Errorf("series %v", got)
	}

	res, body := do(t, admin, request("GET", "/metrics", ""))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /metrics: %d %v\n%s", res.StatusCode, res.Header, body)
	}
	text := string(body)
	for _, want := range []string{
		`gatehouse_http_requests_total{method="DELETE",route="/v1/me/sessions/:id",status="401"} 1`,
		`gatehouse_http_request_duration_seconds_count{method="GET",route="/healthz"} 2`,
		`gatehouse_outbox_pending 3`,
		`gatehouse_outbox_oldest_pending_age_seconds 90`,
		`gatehouse_logins_total{result="success"} 0`,
		"\ngo_goroutines ",
		"\nprocess_start_time_seconds ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, leak := range []*regexp.Regexp{regexp.MustCompile(id), regexp.MustCompile(`eyJ|secret-token|example\.com|wp-login|BREW`)} {
		if loc := leak.FindStringIndex(text); loc != nil {
			t.Errorf("/metrics shows %q", text[max(0, loc[0]-80):loc[1]])
		}
	}
	// The scrape itself is counted once it is answered.
	if got := requestCounts(t, m)["GET /metrics 200"]; got != 1 {
		t.Errorf("GET /metrics counted %v times", got)
	}
}

// Without a handler the admin app has no /metrics either.
func TestNoMetricsWithoutHandler(t *testing.T) {
	t.Parallel()
	a := NewAdminServer(Config{Admin: testAdminConfig}, nil, AdminUseCases{Ready: func(context.Context) error { return nil }})
	res, body := do(t, a, request("GET", "/metrics", ""))
	decodeProblem(t, res, body, 404, "not_found")
}
