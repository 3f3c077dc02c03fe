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
	outbox   app.Outbox
	tx       app.TxManager
	mailer   Mailer
	clock    app.Clock
	ids      app.IDGenerator
	rnd      io.Reader
	links    app.Links
	reporter app.ErrorReporter
	obs      app.Observer
	cfg      Config
}

// NewWorker builds a worker. outbox works outside any transaction; obs
// hears how each delivery attempt ended.
func NewWorker(outbox app.Outbox, tx app.TxManager, mailer Mailer, clock app.Clock, ids app.IDGenerator, rnd io.Reader, links app.Links, reporter app.ErrorReporter, obs app.Observer, cfg Config) *Worker {
	app.Require(map[string]any{"Outbox": outbox, "TxManager": tx, "Mailer": mailer, "Clock": clock, "IDGenerator": ids, "Random": rnd, "ErrorReporter": reporter, "Observer": obs})
	if cfg.Batch < 1 {
		cfg.Batch = 1
	}
	if cfg.MaxAttempts < 1 {
		cfg.MaxAttempts = 1
	}
	return &Worker{outbox: outbox, tx: tx, mailer: mailer, clock: clock, ids: ids, rnd: rnd, links: links, reporter: reporter, obs: obs, cfg: cfg}
}

// Run delivers until ctx ends. A full batch is followed at once by the
// next; otherwise the worker waits PollInterval.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.reporter.ReportError(ctx, "outbox claim", err)
		}
		if n == w.cfg.Batch {
			t.Reset(0)
		} else {
			t.Reset(w.cfg.PollInterval)
		}
	}
}

// RunOnce claims one batch and processes it; it returns how many messages
// it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	msgs, err := w.outbox.Claim(ctx, w.clock.Now(), w.cfg.Batch, w.cfg.Lease)
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
		sendCtx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
		err = w.mailer.Send(sendCtx, m.OutboundMail)
		cancel()
		if err == nil {
			err = w.outbox.MarkSent(ctx, m.ID, w.clock.Now())
		}
	}
	if err == nil {
		w.obs.MailResult(ctx, m.Kind, app.MailSent)
		return
	}
	if ctx.Err() != nil {
		// On shutdown the lease runs out and another worker retries.
		return
	}
	giveUp := m.Attempts >= w.cfg.MaxAttempts || errors.Is(err, ErrPermanent)
	if giveUp {
		w.obs.MailResult(ctx, m.Kind, app.MailFailed)
	} else {
		w.obs.MailResult(ctx, m.Kind, app.MailRetry)
	}
	next := w.clock.Now().Add(w.Backoff(m.Attempts))
	w.reporter.ReportError(ctx, "outbox deliver "+string(m.Kind), err)
	if ferr := w.outbox.MarkFailed(ctx, m.ID, err.Error(), next, giveUp); ferr != nil {
		w.reporter.ReportError(ctx, "outbox mark failed", ferr)
	}
}

// Backoff is the wait before retry number attempt (1-based): BaseBackoff
// doubled per attempt, capped at MaxBackoff.
func (w *Worker) Backoff(attempt int) time.Duration {
	d := w.cfg.BaseBackoff
	for i := 1; i < attempt && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}

// resolve turns an address-only request into a mail to the stored address
// of a matching user, or into nothing; in one transaction with marking the
// request done, so a request is resolved exactly once.
func (w *Worker) resolve(ctx context.Context, m app.OutboxMessage) error {
	email, err := user.ParseEmail(m.To)
	if err != nil {
		// Validated when recorded; a row that does not parse is dropped.
		return w.outbox.MarkSent(ctx, m.ID, w.clock.Now())
	}
	return w.tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := w.clock.Now()
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
				if err := app.AddVerificationToken(ctx, r, w.ids, w.rnd, w.links, u, "", now, w.cfg.VerifyTTL); err != nil {
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
			secret, err := app.IssuePasswordLink(ctx, r, w.rnd, u.ID(), token.PurposeResetPassword, now, w.cfg.ResetTTL)
			if err != nil {
				return err
			}
			if err := r.Outbox.Enqueue(ctx, app.OutboundMail{
				ID: w.ids.NewID(), Kind: app.MailResetPassword, To: u.Email().String(), UserID: u.ID(),
				Data: app.LinkMailData(w.links.ResetPassword(secret), w.cfg.ResetTTL),
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
