// Package maintenance holds Gatehouse's background upkeep: deleting expired
// rate-limit counters, pending registrations whose links have all expired,
// and sessions, one-time tokens and sent mail that ended longer ago than
// the retention period.
package maintenance

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
)

// RetentionPeriod is how long ended sessions, tokens and sent mail are kept.
type RetentionPeriod time.Duration

// Janitor runs the upkeep.
type Janitor struct {
	rl        app.RateLimiter
	retention app.Retention
	keep      time.Duration
	clock     app.Clock
	rep       app.ErrorReporter
}

// NewJanitor builds the janitor.
func NewJanitor(rl app.RateLimiter, retention app.Retention, keep RetentionPeriod, clock app.Clock, rep app.ErrorReporter) *Janitor {
	app.Require(map[string]any{"RateLimiter": rl, "Retention": retention, "Clock": clock, "ErrorReporter": rep})
	return &Janitor{rl: rl, retention: retention, keep: time.Duration(keep), clock: clock, rep: rep}
}

// RunOnce deletes expired counters, deletes the pending registrations
// whose last link has expired (at once: such a registration can never be
// verified, and holds nothing of anyone's), and sweeps what ended before
// now minus the retention period.
func (j *Janitor) RunOnce(ctx context.Context) (app.Swept, error) {
	if _, err := j.rl.DeleteExpired(ctx); err != nil {
		return app.Swept{}, err
	}
	now := j.clock.Now()
	n, err := j.retention.SweepRegistrations(ctx, now)
	if err != nil {
		return app.Swept{}, err
	}
	s, err := j.retention.Sweep(ctx, now.Add(-j.keep))
	s.Registrations = n
	return s, err
}

// Run cleans every interval until ctx ends; failures go to the reporter.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	app.Every(ctx, interval, j.rep, "retention sweep", func(ctx context.Context) error {
		_, err := j.RunOnce(ctx)
		return err
	})
}
