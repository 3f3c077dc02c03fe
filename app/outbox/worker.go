// Package outbox delivers the mail outbox: it claims due messages, sends
// them through the Mailer, retries with exponential backoff and resolves
// the address-only requests (password reset, verification resend) that the
// request path records without looking anything up.
package outbox

//go:generate go tool mockgen -destination=../mock/outbox.go -package=mock github.com/gatehouse-auth/gatehouse/app/outbox Mailer

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

// Config tunes delivery.
type Config struct {
	PollInterval time.Duration // how often an idle worker looks for due mail
	Batch        int           // messages claimed at once
	Lease        time.Duration // a claimed message is invisible to others this long
	SendTimeout  time.Duration // one SMTP conversation at most
	BaseBackoff  time.Duration // first retry after this long
	MaxBackoff   time.Duration // backoff cap
	MaxAttempts  int           // then the message is given up, keeping its last error
	VerifyTTL    time.Duration
	ResetTTL     time.Duration
}

// DefaultConfig delivers within about a second and retries after 10 s,
// 20 s, 40 s ... up to 10 minutes apart, for about a day.
func DefaultConfig() Config {
	return Config{
		// The lease outlasts a whole batch of slow sends (Batch ×
		// SendTimeout), so no other worker takes a message still in hand.
		PollInterval: 500 * time.Millisecond, Batch: 10, Lease: 5 * time.Minute, SendTimeout: 20 * time.Second,
		BaseBackoff: 10 * time.Second, MaxBackoff: 10 * time.Minute, MaxAttempts: 150,
		VerifyTTL: 24 * time.Hour, ResetTTL: 30 * time.Minute,
	}
}

// Worker is the delivery loop. Any number of workers may run, in one
// process or many: claims skip locked rows and lease what they take.
type Worker struct {
	d WorkerDeps
}

// WorkerDeps are what Worker needs. Outbox works outside any transaction;
// Observer hears how each delivery attempt ended.
type WorkerDeps struct {
	Outbox   app.Outbox
	Tx       app.TxManager
	Mailer   Mailer
	Clock    app.Clock
	IDs      app.IDGenerator
	Random   io.Reader
	Links    app.Links
	Reporter app.ErrorReporter
	Observer app.Observer
	Config   Config
}

// NewWorker builds a worker.
func NewWorker(d WorkerDeps) *Worker {
	if d.Config.Batch < 1 {
		d.Config.Batch = 1
	}
	if d.Config.MaxAttempts < 1 {
		d.Config.MaxAttempts = 1
	}
	return &Worker{d: d}
}

// Run delivers until ctx ends. A full batch is followed at once by the
// next; otherwise the worker waits PollInterval.
func (w *Worker) Run(ctx context.Context) {
	app.Drain(ctx, w.d.Config.PollInterval, nil, w.d.Reporter, "outbox claim", func(ctx context.Context) (bool, error) {
		n, err := w.RunOnce(ctx)
		return n == w.d.Config.Batch, err
	})
}

// RunOnce claims one batch and processes it; it returns how many messages
// it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	msgs, err := w.d.Outbox.Claim(ctx, w.d.Clock.Now(), w.d.Config.Batch, w.d.Config.Lease)
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		w.process(ctx, m)
	}
	return len(msgs), nil
}

func (w *Worker) process(ctx context.Context, m app.OutboxMessage) {
	var err error
	switch m.Kind {
	case app.ResetRequest, app.VerifyRequest:
		err = w.resolve(ctx, m)
	default:
		sendCtx, cancel := context.WithTimeout(ctx, w.d.Config.SendTimeout)
		err = w.d.Mailer.Send(sendCtx, m.OutboundMail)
		cancel()
		if err == nil {
			err = w.d.Outbox.MarkSent(ctx, m.ID, w.d.Clock.Now())
		}
	}
	if err == nil {
		w.d.Observer.MailResult(ctx, m.Kind, app.MailSent)
		return
	}
	if ctx.Err() != nil {
		// On shutdown the lease runs out and another worker retries.
		return
	}
	giveUp := m.Attempts >= w.d.Config.MaxAttempts || errors.Is(err, ErrPermanent)
	if giveUp {
		w.d.Observer.MailResult(ctx, m.Kind, app.MailFailed)
	} else {
		w.d.Observer.MailResult(ctx, m.Kind, app.MailRetry)
	}
	next := w.d.Clock.Now().Add(w.Backoff(m.Attempts))
	w.d.Reporter.ReportError(ctx, "outbox deliver "+string(m.Kind), err)
	if ferr := w.d.Outbox.MarkFailed(ctx, m.ID, err.Error(), next, giveUp); ferr != nil {
		w.d.Reporter.ReportError(ctx, "outbox mark failed", ferr)
	}
}

// Backoff is the wait before retry number attempt (1-based): BaseBackoff
// doubled per attempt, capped at MaxBackoff.
func (w *Worker) Backoff(attempt int) time.Duration {
	d := w.d.Config.BaseBackoff
	for i := 1; i < attempt && d < w.d.Config.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.d.Config.MaxBackoff)
}

// resolve turns an address-only request into a mail to the stored address
// of a matching user, or into nothing; in one transaction with marking the
// request done, so a request is resolved exactly once.
func (w *Worker) resolve(ctx context.Context, m app.OutboxMessage) error {
	email, err := user.ParseEmail(m.To)
	if err != nil {
		// Validated when recorded; a row that does not parse is dropped.
		return w.d.Outbox.MarkSent(ctx, m.ID, w.d.Clock.Now())
	}
	return w.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := w.d.Clock.Now()
		u, err := r.Users.ByEmail(ctx, email)
		switch {
		case errors.Is(err, user.ErrNotFound):
		case err != nil:
			return err
		case !u.Active():
		case m.Kind == app.VerifyRequest && !u.Verified():
			// A resent link verifies with the account's password.
			if u, err = r.Users.ByIDForChange(ctx, u.ID()); err != nil {
				return err
			}
			if u.Active() && !u.Verified() {
				if err := app.AddVerificationToken(ctx, r, w.d.IDs, w.d.Random, w.d.Links, u, "", now, w.d.Config.VerifyTTL); err != nil {
					return err
				}
			}
		case m.Kind == app.ResetRequest:
			if u, err = r.Users.ByIDForChange(ctx, u.ID()); err != nil {
				return err
			}
			if !u.Active() {
				return r.Outbox.MarkSent(ctx, m.ID, now)
			}
			secret, err := app.IssuePasswordLink(ctx, r, w.d.Random, u.ID(), token.PurposeResetPassword, now, w.d.Config.ResetTTL)
			if err != nil {
				return err
			}
			if err := r.Outbox.Enqueue(ctx, app.OutboundMail{
				ID: w.d.IDs.NewID(), Kind: app.MailResetPassword, To: u.Email().String(), UserID: u.ID(),
				Data: app.LinkMailData(w.d.Links.ResetPassword(secret), w.d.Config.ResetTTL),
			}, now); err != nil {
				return err
			}
			if err := r.Outbox.MarkSent(ctx, m.ID, now); err != nil {
				return err
			}
			return r.Audit.Append(ctx, audit.Event{Type: audit.PasswordResetRequest, UserID: u.ID(), At: now})
		}
		return r.Outbox.MarkSent(ctx, m.ID, now)
	})
}

// ErrPermanent marks a delivery error that no retry can fix (a mail that
// cannot be rendered, an address the server refuses for good). The outbox
// worker gives such a message up at once.
var ErrPermanent = errors.New("permanent delivery failure")

// Mailer delivers one rendered mail of a kind. Implementations render the
// templates for m.Kind with m.Data, and wrap errors that retrying cannot
// fix with ErrPermanent.
type Mailer interface {
	Send(ctx context.Context, m app.OutboundMail) error
}
