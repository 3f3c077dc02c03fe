package password_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/outbox"
	"github.com/gatehouse-auth/gatehouse/app/password"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

// Issue 5: the request path issues the same hashing and database work for
// known and unknown addresses. Every port Forgot holds is a strict mock
// wrapped in a counter (it holds no hasher and no user repository at all);
// Forgot runs once for the address of a registered user and once for an
// unknown one, and the per-method counts must be equal. The lookup happens
// later, in the outbox worker, and that is shown too.
func TestForgotSameWorkForKnownAndUnknown(t *testing.T) {
	registered := user.Rehydrate(apptest.ID(100), user.RehydrateEmail("registered@example.com"), "$argon2id$h", true, true,
		apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil)

	type world struct {
		counts   map[string]int
		enqueued []app.OutboundMail
	}
	request := func(addr string) *world {
		w := &world{}
		w.counts, w.enqueued = apptest.MailRequestWork(t, addr, func(o app.Outbox, g *limits.Guard, ids app.IDGenerator, c app.Clock) apptest.MailRequester {
			return password.NewForgot(o, g, ids, c)
		})
		return w
	}
	known := request("Registered@Example.com")
	unknown := request("nobody@example.com")

	want := map[string]int{"RateLimiter.Hit": 1, "Outbox.Enqueue": 1, "IDGenerator.NewID": 1}
	if !maps.Equal(known.counts, unknown.counts) {
		t.Fatalf("request work differs: known %v, unknown %v", known.counts, unknown.counts)
	}
	if !maps.Equal(known.counts, want) {
		t.Fatalf("request work %v, want %v (no hashing, no lookup)", known.counts, want)
	}
	for _, w := range []*world{known, unknown} {
		m := w.enqueued[0]
		if m.Kind != app.ResetRequest || m.UserID != uuid.Nil || m.Data != nil {
			t.Fatalf("request message %+v carries more than the address", m)
		}
	}

	// The worker resolves both later: a reset mail to the stored address of
	// the registered user, nothing for the unknown one.
	resolve := func(w *world, u *user.User) (mails []app.OutboundMail) {
		ctrl := gomock.NewController(t)
		ob := mock.NewMockOutbox(ctrl)
		tx := mock.NewMockTxManager(ctrl)
		repos := apptest.NewRepos(ctrl)
		cfg := outbox.DefaultConfig()
		obs := mock.NewMockObserver(ctrl)
		obs.EXPECT().MailResult(gomock.Any(), app.ResetRequest, app.MailSent) // resolved
		wk := outbox.NewWorker(outbox.WorkerDeps{
			Outbox:   ob,
			Tx:       tx,
			Mailer:   mock.NewMockMailer(ctrl),
			Clock:    apptest.NewClock(apptest.T0),
			IDs:      &apptest.IDs{},
			Random:   apptest.NewRand("w"),
			Links:    apptest.Links(),
			Reporter: mock.NewMockErrorReporter(ctrl),
			Observer: obs,
			Config:   cfg,
		})
		ob.EXPECT().Claim(gomock.Any(), apptest.T0, cfg.Batch, cfg.Lease).Return([]app.OutboxMessage{{OutboundMail: w.enqueued[0], Attempts: 1}}, nil)
		apptest.ExpectWithin(tx, repos.App(), 1)
		if u == nil {
			repos.Store.Seed()
		} else {
			repos.Store.Seed(u)
			repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), gomock.Any(), gomock.Any()).Return(0, nil)
			repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Return(nil)
			repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
				mails = append(mails, m)
				return nil
			})
			repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		}
		repos.Outbox.EXPECT().MarkSent(gomock.Any(), w.enqueued[0].ID, apptest.T0).Return(nil)
		if _, err := wk.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		return mails
	}
	if mails := resolve(known, registered); len(mails) != 1 || mails[0].Kind != app.MailResetPassword || mails[0].To != "registered@example.com" {
		t.Fatalf("known address resolved to %+v", mails)
	}
	if mails := resolve(unknown, nil); len(mails) != 0 {
		t.Fatalf("unknown address resolved to %+v", mails)
	}
}
