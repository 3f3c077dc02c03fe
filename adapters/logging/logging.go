// Package logging is the zap adapter of the ports that tell operators what
// no caller hears: failures of background work and dropped mail.
package logging

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"go.uber.org/zap"
)

// Reporter logs the failures of background work (app.ErrorReporter).
type Reporter struct{ log *zap.Logger }

// NewReporter builds the reporter.
func NewReporter(log *zap.Logger) *Reporter { return &Reporter{log: log} }

// ReportError logs err at error level.
func (r *Reporter) ReportError(_ context.Context, what string, err error) {
	r.log.Error("background work failed", zap.String("what", what), zap.Error(err))
}

// Observer logs what operators watch (app.Observer): the dropped mails.
// Login results, limit hits and delivery results are counted by metrics,
// not logged here: each has its audit event, access-log line or error
// report already.
type Observer struct{ log *zap.Logger }

var _ app.Observer = (*Observer)(nil)

// NewObserver builds the observer.
func NewObserver(log *zap.Logger) *Observer { return &Observer{log: log} }

// MailSkipped logs a dropped mail at info level: the kind, the domain of
// the address and the rule, never the address itself or a link.
func (o *Observer) MailSkipped(_ context.Context, kind app.MailKind, addressDomain, rule string) {
	o.log.Info("mail skipped: per-address limit reached",
		zap.String("kind", string(kind)), zap.String("address_domain", addressDomain), zap.String("rule", rule))
}

// LoginResult logs nothing (see Observer).
func (o *Observer) LoginResult(context.Context, app.LoginOutcome) {}

// RateLimited logs nothing (see Observer).
func (o *Observer) RateLimited(context.Context, string) {}

// MailResult logs nothing (see Observer).
func (o *Observer) MailResult(context.Context, app.MailKind, app.MailOutcome) {}

// RefreshReuseDetected logs nothing: the audit trail has the session.
func (o *Observer) RefreshReuseDetected(context.Context) {}
