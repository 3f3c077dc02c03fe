package metrics

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
)

// Observer counts what the app layer reports (app.Observer, and the
// webhook deliveries' results) and passes every call of app.Observer on
// to next (the logging observer, which logs the dropped mails).
type Observer struct {
	m    *Metrics
	next app.Observer
}

var (
	_ app.Observer        = (*Observer)(nil)
	_ appwebhook.Observer = (*Observer)(nil)
)

// NewObserver builds the observer.
func NewObserver(m *Metrics, next app.Observer) *Observer {
	return &Observer{m: m, next: next}
}

// MailSkipped counts gatehouse_mail_skipped_total{kind,rule}.
func (o *Observer) MailSkipped(ctx context.Context, kind app.MailKind, addressDomain, rule string) {
	o.m.mailSkipped.WithLabelValues(name(string(kind)), name(rule)).Inc()
	o.next.MailSkipped(ctx, kind, addressDomain, rule)
}

// LoginResult counts gatehouse_logins_total{result}.
func (o *Observer) LoginResult(ctx context.Context, result app.LoginOutcome) {
	o.m.logins.WithLabelValues(name(string(result))).Inc()
	o.next.LoginResult(ctx, result)
}

// RateLimited counts gatehouse_rate_limited_total{rule}.
func (o *Observer) RateLimited(ctx context.Context, rule string) {
	o.m.limited.WithLabelValues(name(rule)).Inc()
	o.next.RateLimited(ctx, rule)
}

// MailResult counts gatehouse_mail_sent_total{kind,result}.
func (o *Observer) MailResult(ctx context.Context, kind app.MailKind, result app.MailOutcome) {
	o.m.mailSent.WithLabelValues(name(string(kind)), name(string(result))).Inc()
	o.next.MailResult(ctx, kind, result)
}

// RefreshReuseDetected counts gatehouse_refresh_reuse_detected_total.
func (o *Observer) RefreshReuseDetected(ctx context.Context) {
	o.m.refreshReuse.Inc()
	o.next.RefreshReuseDetected(ctx)
}

// DeliveryResult counts gatehouse_webhook_deliveries_total{event,result};
// an event type not among webhook.Types counts as "other".
func (o *Observer) DeliveryResult(_ context.Context, t webhook.Type, r appwebhook.Result) {
	event := "other"
	if t.Known() {
		event = string(t)
	}
	o.m.webhooks.WithLabelValues(event, name(string(r))).Inc()
}
