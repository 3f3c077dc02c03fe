// Package maintenance holds Gatehouse's background upkeep: deleting expired
// rate-limit counters, pending registrations whose links have all expired,
// and sessions, one-time tokens, sent mail, authorization requests and
// authorization codes that ended longer ago than the retention period.
package maintenance

//go:generate go tool mockgen -destination=../mock/maintenance.go -package=mock github.com/gatehouse-auth/gatehouse/app/maintenance Retention

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
)

// RetentionPeriod is how long ended sessions, tokens, sent mail,
// authorization requests and codes are kept.
type RetentionPeriod time.Duration

// Janitor runs the upkeep.
type Janitor struct {
	rl        app.RateLimiter
	retention Retention
	grants    app.GrantRepository
	keep      time.Duration
	grace     time.Duration
	clock     app.Clock
	ids       app.IDGenerator
	rep       app.ErrorReporter
}

// NewJanitor builds the janitor. grace is the refresh reuse grace: the
// sealed successors of refresh tokens rotated longer ago are erased.
func NewJanitor(rl app.RateLimiter, retention Retention, grants app.GrantRepository, keep RetentionPeriod, grace app.RefreshReuseGrace, clock app.Clock, ids app.IDGenerator, rep app.ErrorReporter) *Janitor {
	return &Janitor{rl: rl, retention: retention, grants: grants, keep: time.Duration(keep), grace: time.Duration(grace), clock: clock, ids: ids, rep: rep}
}

// ForgetSuccessors erases the sealed successors whose reuse grace is over.
func (j *Janitor) ForgetSuccessors(ctx context.Context) (int, error) {
	return j.retention.ForgetRefreshSuccessors(ctx, j.clock.Now().Add(-j.grace))
}

// RunOnce deletes expired counters, deletes the pending registrations
// whose last link has expired (at once: such a registration can never be
// verified, and holds nothing of anyone's), telling of each with
// user.deleted as it told of it with user.created, and sweeps what ended before
// now minus the retention period, authorization requests and codes last.
// A used code is kept that long too, so that a replay of it within the
// period still finds, and revokes, the grant its redemption made.
func (j *Janitor) RunOnce(ctx context.Context) (Swept, error) {
	if _, err := j.rl.DeleteExpired(ctx); err != nil {
		return Swept{}, err
	}
	now := j.clock.Now()
	n, err := j.retention.SweepRegistrations(ctx, now, func(deleted []*user.User) []webhook.Event {
		return sweptEvents(j.ids, now, deleted)
	})
	if err != nil {
		return Swept{}, err
	}
	cutoff := now.Add(-j.keep)
	s, err := j.retention.Sweep(ctx, cutoff)
	s.Registrations = n
	if err != nil {
		return s, err
	}
	s.Grants, err = j.grants.Sweep(ctx, cutoff)
	return s, err
}

// sweptEvents are user.deleted about each of the pending registrations
// deleted, as they were, at now. None has a second factor: a sign-in
// ends a registration's pending state, so no swept account ever signed in
// to confirm one.
func sweptEvents(ids app.IDGenerator, now time.Time, deleted []*user.User) []webhook.Event {
	events := make([]webhook.Event, len(deleted))
	for i, u := range deleted {
		events[i] = webhook.New(ids.NewID(), webhook.UserDeleted, u, false, now)
	}
	return events
}

// Run cleans every interval until ctx ends; failures go to the reporter.
// Sealed refresh successors are erased more often, every grace (when that
// is shorter), so that none outlives its grace by much more than the grace
// itself.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	every := interval
	if j.grace > 0 && j.grace < every {
		every = j.grace
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.Every(ctx, every, j.rep, "refresh successor sweep", func(ctx context.Context) error {
			_, err := j.ForgetSuccessors(ctx)
			return err
		})
	}()
	app.Every(ctx, interval, j.rep, "retention sweep", func(ctx context.Context) error {
		_, err := j.RunOnce(ctx)
		return err
	})
	<-done
}

// Swept counts what one retention sweep deleted.
type Swept struct {
	Sessions, Tokens, Mail int
	// Webhooks counts the webhook deliveries deleted, delivered or given
	// up.
	Webhooks int
	// Registrations counts the pending registrations deleted
	// (SweepRegistrations).
	Registrations int
	// Grants counts the authorization requests and codes deleted
	// (GrantRepository.Sweep).
	Grants int
}

// Retention deletes what ended long ago.
type Retention interface {
	// Sweep deletes sessions that expired or were revoked before cutoff
	// (with their refresh tokens), one-time tokens, MFA login tokens,
	// passkey challenges and upstream round trips that expired before
	// cutoff (all counted in
	// Swept.Tokens), and mail and webhook deliveries sent or given up that
	// were created before cutoff.
	// It deletes a bounded batch of each per call; the next call goes on.
	// The audit trail is never swept.
	Sweep(ctx context.Context, cutoff time.Time) (Swept, error)
	// SweepRegistrations deletes the accounts that are pending
	// registrations (user.PendingRegistration) and have no one-time link
	// left that works at now (every link used or expired, or none ever
	// sent), with everything stored for them as UserRepository.Delete
	// does, and returns how many it deleted. In the same transaction it
	// records the webhook events told makes of the accounts deleted (as
	// they were), as app.EventLog.Publish records them. An account the
	// check passes is deleted only as the check stands when the delete
	// commits. It deletes a bounded batch per call; the next call goes on.
	SweepRegistrations(ctx context.Context, now time.Time, told func(deleted []*user.User) []webhook.Event) (int, error)
	// ForgetRefreshSuccessors erases the sealed successors of refresh
	// tokens rotated before rotatedBefore (their reuse grace is over) and
	// returns how many; a bounded batch per call, like Sweep.
	ForgetRefreshSuccessors(ctx context.Context, rotatedBefore time.Time) (int, error)
}
