package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/outbox"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

type fixture struct {
	*apptest.Ports
	w        *outbox.Worker
	ob       *mock.MockOutbox
	mailer   *mock.MockMailer
	reporter *mock.MockErrorReporter
	obs      *apptest.Observer
	cfg      outbox.Config

	// want is what the observer must have heard when the test ends.
	want []result
}

// result is one MailResult the observer heard.
type result struct {
	kind app.MailKind
	res  app.MailOutcome
}

func newWorker(t *testing.T, cfg outbox.Config) *fixture {
	p := apptest.NewPorts(t)
	f := &fixture{Ports: p, ob: mock.NewMockOutbox(p.Ctrl), mailer: mock.NewMockMailer(p.Ctrl),
		reporter: mock.NewMockErrorReporter(p.Ctrl), obs: &apptest.Observer{}, cfg: cfg}
	f.w = outbox.NewWorker(outbox.WorkerDeps{
		Outbox:   f.ob,
		Tx:       f.Tx,
		Mailer:   f.mailer,
		Clock:    apptest.NewClock(apptest.T0),
		IDs:      &apptest.IDs{},
		Random:   apptest.NewRand(t.Name()),
		Links:    apptest.Links(),
		Reporter: f.reporter,
		Observer: f.obs,
		Config:   cfg,
	})
	f.obs.HeardAtEnd(t, func() []string {
		var want []string
		for _, r := range f.want {
			want = append(want, "MailResult "+string(r.kind)+" "+string(r.res))
		}
		return want
	})
	return f
}

func (f *fixture) claim(msgs ...app.OutboxMessage) {
	f.ob.EXPECT().Claim(gomock.Any(), apptest.T0, f.cfg.Batch, f.cfg.Lease).Return(msgs, nil)
}

// claimOnly has the next claim return m alone, and wants the observer to
// hear its outcome.
func (f *fixture) claimOnly(m app.OutboxMessage, outcome app.MailOutcome) app.OutboxMessage {
	f.claim(m)
	f.want = []result{{m.Kind, outcome}}
	return m
}

// run claims and processes one batch, failing the test on an error.
func (f *fixture) run(t *testing.T) {
	t.Helper()
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func mail(kind app.MailKind, to string, attempts int) app.OutboxMessage {
	return app.OutboxMessage{
		OutboundMail: app.OutboundMail{ID: apptest.ID(900), Kind: kind, To: to, UserID: apptest.ID(100), Data: map[string]string{"link": "x"}},
		Attempts:     attempts, CreatedAt: apptest.T0.Add(-time.Minute),
	}
}

func TestRunOnceSendsAndMarksSent(t *testing.T) {
	f := newWorker(t, outbox.DefaultConfig())
	m1 := mail(app.MailVerifyEmail, "a@x.io", 1)
	m2 := mail(app.MailPasswordChanged, "b@x.io", 1)
	m2.ID = apptest.ID(901)
	f.claim(m1, m2)
	f.want = []result{{app.MailVerifyEmail, app.MailSent}, {app.MailPasswordChanged, app.MailSent}}
	gomock.InOrder(
		f.mailer.EXPECT().Send(gomock.Any(), m1.OutboundMail).DoAndReturn(func(ctx context.Context, _ app.OutboundMail) error {
			if dl, ok := ctx.Deadline(); !ok || dl.IsZero() {
				t.Error("send without a timeout")
			}
			return nil
		}),
		f.ob.EXPECT().MarkSent(gomock.Any(), m1.ID, apptest.T0).Return(nil),
		f.mailer.EXPECT().Send(gomock.Any(), m2.OutboundMail).Return(nil),
		f.ob.EXPECT().MarkSent(gomock.Any(), m2.ID, apptest.T0).Return(nil),
	)
	n, err := f.w.RunOnce(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
}

func TestRunOnceClaimFailure(t *testing.T) {
	f := newWorker(t, outbox.DefaultConfig())
	f.ob.EXPECT().Claim(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(nil, errors.New("db down"))
	if n, err := f.w.RunOnce(context.Background()); err == nil || n != 0 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
}

func TestMailerFailureSchedulesRetry(t *testing.T) {
	cfg := outbox.DefaultConfig()
	cfg.MaxAttempts = 5
	for _, c := range []struct {
		attempts int
		next     time.Duration
		giveUp   bool
	}{
		{1, 10 * time.Second, false},
		{3, 40 * time.Second, false},
		{4, 80 * time.Second, false},
		{5, 160 * time.Second, true},
		{6, 320 * time.Second, true},
	} {
		f := newWorker(t, cfg)
		outcome := app.MailRetry
		if c.giveUp {
			outcome = app.MailFailed
		}
		m := f.claimOnly(mail(app.MailResetPassword, "a@x.io", c.attempts), outcome)
		boom := errors.New("smtp: 451 try later")
		f.mailer.EXPECT().Send(gomock.Any(), gomock.Any()).Return(boom)
		f.reporter.EXPECT().ReportError(gomock.Any(), gomock.Any(), boom)
		f.ob.EXPECT().MarkFailed(gomock.Any(), m.ID, boom.Error(), apptest.T0.Add(c.next), c.giveUp).Return(nil)
		f.run(t)
	}
}

// A mail the server refuses for good is given up at its first attempt.
func TestPermanentFailureGivesUp(t *testing.T) {
	f := newWorker(t, outbox.DefaultConfig())
	m := f.claimOnly(mail(app.MailInvite, "a@x.io", 1), app.MailFailed)
	boom := fmt.Errorf("smtp: 550 no such user: %w", outbox.ErrPermanent)
	f.mailer.EXPECT().Send(gomock.Any(), gomock.Any()).Return(boom)
	f.reporter.EXPECT().ReportError(gomock.Any(), gomock.Any(), boom)
	f.ob.EXPECT().MarkFailed(gomock.Any(), m.ID, boom.Error(), gomock.Any(), true).Return(nil)
	f.run(t)
}

func TestMarkSentFailureCountsAsFailure(t *testing.T) {
	f := newWorker(t, outbox.DefaultConfig())
	m := f.claimOnly(mail(app.MailVerifyEmail, "a@x.io", 1), app.MailRetry)
	f.mailer.EXPECT().Send(gomock.Any(), gomock.Any()).Return(nil)
	f.ob.EXPECT().MarkSent(gomock.Any(), m.ID, apptest.T0).Return(errors.New("db"))
	f.reporter.EXPECT().ReportError(gomock.Any(), gomock.Any(), gomock.Any())
	f.ob.EXPECT().MarkFailed(gomock.Any(), m.ID, gomock.Any(), apptest.T0.Add(10*time.Second), false).Return(errors.New("db"))
	f.reporter.EXPECT().ReportError(gomock.Any(), "outbox mark failed", gomock.Any())
	f.run(t)
}

func TestShutdownLeavesMessageToLease(t *testing.T) {
	f := newWorker(t, outbox.DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	f.claim(mail(app.MailVerifyEmail, "a@x.io", 1))
	f.mailer.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, app.OutboundMail) error {
		cancel()
		return context.Canceled
	})
	// No MarkFailed, no report, no result.
	if _, err := f.w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBackoff(t *testing.T) {
	w := newWorker(t, outbox.DefaultConfig()).w
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 320 * time.Second, 10 * time.Minute, 10 * time.Minute}
	for i, d := range want {
		if got := w.Backoff(i + 1); got != d {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, d)
		}
	}
	for _, a := range []int{50, 150, 1 << 20} {
		if got := w.Backoff(a); got != 10*time.Minute {
			t.Errorf("Backoff(%d) = %v, want the cap", a, got)
		}
	}
}

func knownUser(verified, active bool) *user.User {
	return user.Rehydrate(apptest.ID(100), user.RehydrateEmail("a@x.io"), "h", active, verified, apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil)
}

func request(kind app.MailKind, to string) app.OutboxMessage {
	return app.OutboxMessage{OutboundMail: app.OutboundMail{ID: apptest.ID(900), Kind: kind, To: to}, Attempts: 1}
}

func TestResetRequestForKnownUser(t *testing.T) {
	cfg := outbox.DefaultConfig()
	f := newWorker(t, cfg)
	u := knownUser(true, true)
	req := f.claimOnly(request(app.ResetRequest, "a@x.io"), app.MailSent)
	f.Seed(u)
	res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	var issued *token.OneTimeToken
	// The user is read for change before its reset tokens are touched, so
	// concurrent requests for one user issue one after the other; the
	// older links die before the new one is added, so only it works.
	gomock.InOrder(
		f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, apptest.Purposes(token.PurposeResetPassword)).DoAndReturn(
			func(context.Context, uuid.UUID, time.Time, ...token.Purpose) (int, error) {
				if !slices.Contains(f.Repos.Store.Locked(), u.ID()) {
					t.Error("reset links invalidated before the user was read for change")
				}
				return 1, nil
			}),
		f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
			issued = tk
			if tk.Purpose() != token.PurposeResetPassword || tk.UserID() != u.ID() || !tk.ExpiresAt().Equal(apptest.T0.Add(cfg.ResetTTL)) {
				t.Errorf("token %+v", tk)
			}
			return nil
		}),
	)
	var mailed app.OutboundMail
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).Times(1).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		mailed = m
		return nil
	})
	// Marked done through the transaction's outbox, not the pool's.
	f.Repos.Outbox.EXPECT().MarkSent(gomock.Any(), req.ID, apptest.T0).Return(nil)
	apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
		return e.Type == audit.PasswordResetRequest && e.UserID == u.ID() && e.At.Equal(apptest.T0)
	})
	f.run(t)
	if res.Errs()[0] != nil {
		t.Fatalf("tx %v", res.Errs())
	}
	if mailed.Kind != app.MailResetPassword || mailed.To != u.Email().String() || mailed.UserID != u.ID() || mailed.ID == uuid.Nil {
		t.Errorf("mail %+v", mailed)
	}
	prefix := apptest.PublicURL + "/reset-password?token="
	if !strings.HasPrefix(mailed.Data["link"], prefix) {
		t.Fatalf("link %q", mailed.Data["link"])
	}
	if mailed.Data["expires_in"] != "1800" { // DefaultConfig's ResetTTL, 30 minutes
		t.Errorf("the mail says the link works %q seconds, want 1800", mailed.Data["expires_in"])
	}
	if h, err := token.Parse(strings.TrimPrefix(mailed.Data["link"], prefix)); err != nil || issued == nil || h != issued.Hash() {
		t.Errorf("link secret does not hash to the stored token: %v", err)
	}
}

// The mail goes to the stored address: a user whose stored form differs from
// the request's (it can only differ in ways ByEmail treats as equal) still
// gets it at the stored one.
func TestResetRequestMailsStoredAddress(t *testing.T) {
	f := newWorker(t, outbox.DefaultConfig())
	stored := user.Rehydrate(apptest.ID(100), user.RehydrateEmail("stored@x.io"), "h", true, true, apptest.T0, apptest.T0, nil, nil)
	f.claimOnly(request(app.ResetRequest, "typed@x.io"), app.MailSent)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(stored, nil)
	f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), stored.ID()).Return(stored, nil)
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(0, nil)
	f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		if m.To != "stored@x.io" {
			t.Errorf("mailed %q, want the stored address", m.To)
		}
		return nil
	})
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
	f.Repos.Outbox.EXPECT().MarkSent(gomock.Any(), gomock.Any(), gomock.Any()).Return(nil)
	f.run(t)
}

func TestRequestsThatMailNothing(t *testing.T) {
	for _, c := range []struct {
		name  string
		kind  app.MailKind
		u     *user.User // nil: unknown
		fresh *user.User // what the read for change sees; nil: no such read
	}{
		{"reset, unknown", app.ResetRequest, nil, nil},
		{"reset, disabled", app.ResetRequest, knownUser(true, false), nil},
		{"verify, unknown", app.VerifyRequest, nil, nil},
		{"verify, already verified", app.VerifyRequest, knownUser(true, true), nil},
		{"verify, disabled", app.VerifyRequest, knownUser(false, false), nil},
		{"verify, verified meanwhile", app.VerifyRequest, knownUser(false, true), knownUser(true, true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newWorker(t, outbox.DefaultConfig())
			req := f.claimOnly(request(c.kind, "a@x.io"), app.MailSent)
			apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			if c.u == nil {
				f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound)
			} else {
				f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(c.u, nil)
			}
			if c.fresh != nil {
				f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), c.u.ID()).Return(c.fresh, nil)
			}
			// Only MarkSent; strict mocks refuse anything else.
			f.Repos.Outbox.EXPECT().MarkSent(gomock.Any(), req.ID, apptest.T0).Return(nil)
			f.run(t)
		})
	}
}

// A resent link carries no password (it verifies with the account's), and
// it is added beside the pending registrations' links, which keep working.
func TestVerifyRequestForUnverifiedUser(t *testing.T) {
	cfg := outbox.DefaultConfig()
	f := newWorker(t, cfg)
	u := knownUser(false, true)
	req := f.claimOnly(request(app.VerifyRequest, "a@x.io"), app.MailSent)
	f.Seed(u)
	res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	var issued *token.OneTimeToken
	var mailed app.OutboundMail
	f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, tk *token.OneTimeToken) error {
		issued = tk
		return nil
	})
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).Times(1).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		mailed = m
		return nil
	})
	f.Repos.Outbox.EXPECT().MarkSent(gomock.Any(), req.ID, apptest.T0).Return(nil)
	// Strict mocks: no InvalidateUnused.
	f.run(t)
	if res.Errs()[0] != nil {
		t.Fatalf("tx %v", res.Errs())
	}
	if issued.Purpose() != token.PurposeVerifyEmail || issued.UserID() != u.ID() || issued.PasswordHash() != "" ||
		!issued.ExpiresAt().Equal(apptest.T0.Add(cfg.VerifyTTL)) {
		t.Errorf("token for %s, purpose %s, hash %q, expiry %v", issued.UserID(), issued.Purpose(), issued.PasswordHash(), issued.ExpiresAt())
	}
	prefix := apptest.PublicURL + "/verify-email?token="
	if mailed.Kind != app.MailVerifyEmail || mailed.To != "a@x.io" || mailed.UserID != u.ID() || !strings.HasPrefix(mailed.Data["link"], prefix) {
		t.Fatalf("mail %+v", mailed)
	}
	if h, _ := token.Parse(strings.TrimPrefix(mailed.Data["link"], prefix)); h != issued.Hash() {
		t.Error("link secret does not hash to the stored token")
	}
}

func TestResolveFailureRetries(t *testing.T) {
	f := newWorker(t, outbox.DefaultConfig())
	req := request(app.ResetRequest, "a@x.io")
	req.Attempts = 2
	f.claimOnly(req, app.MailRetry)
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	boom := errors.New("db down")
	f.Repos.Users.EXPECT().ByEmail(gomock.Any(), gomock.Any()).Return(nil, boom)
	f.reporter.EXPECT().ReportError(gomock.Any(), gomock.Any(), boom)
	f.ob.EXPECT().MarkFailed(gomock.Any(), req.ID, boom.Error(), apptest.T0.Add(20*time.Second), false).Return(nil)
	f.run(t)
	if res.Errs()[0] == nil {
		t.Fatal("committed")
	}
}

func TestUnparseableRequestIsDropped(t *testing.T) {
	f := newWorker(t, outbox.DefaultConfig())
	req := f.claimOnly(request(app.ResetRequest, "not an address"), app.MailSent)
	f.ob.EXPECT().MarkSent(gomock.Any(), req.ID, apptest.T0).Return(nil)
	f.run(t)
}

func TestRunStopsOnCancel(t *testing.T) {
	cfg := outbox.DefaultConfig()
	cfg.PollInterval = time.Millisecond
	f := newWorker(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	f.ob.EXPECT().Claim(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).MinTimes(2).DoAndReturn(func(context.Context, time.Time, int, time.Duration) ([]app.OutboxMessage, error) {
		calls++
		if calls == 2 {
			cancel()
			return nil, context.Canceled
		}
		return nil, errors.New("transient")
	})
	f.reporter.EXPECT().ReportError(gomock.Any(), "outbox claim", gomock.Any()).Times(1)
	done := make(chan struct{})
	go func() { f.w.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// An account disabled between the lookup and the read for change gets no
// link: the request is only marked done.
func TestRequestsForAnAccountDisabledMeanwhileMailNothing(t *testing.T) {
	for _, kind := range []app.MailKind{app.ResetRequest, app.VerifyRequest} {
		t.Run(string(kind), func(t *testing.T) {
			f := newWorker(t, outbox.DefaultConfig())
			verified := kind == app.ResetRequest
			u := knownUser(verified, true)
			req := f.claimOnly(request(kind, "a@x.io"), app.MailSent)
			res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			f.Repos.Users.EXPECT().ByEmail(gomock.Any(), apptest.Email("a@x.io")).Return(u, nil)
			f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), u.ID()).Return(knownUser(verified, false), nil)
			f.Repos.Outbox.EXPECT().MarkSent(gomock.Any(), req.ID, apptest.T0).Return(nil)
			f.run(t)
			if res.Errs()[0] != nil {
				t.Fatalf("tx %v", res.Errs())
			}
		})
	}
}
