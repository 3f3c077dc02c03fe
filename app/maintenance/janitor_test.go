package maintenance_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/maintenance"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

const (
	keep  = 30 * 24 * time.Hour
	grace = 10 * time.Second
)

type fixture struct {
	*apptest.Ports
	j         *maintenance.Janitor
	retention *mock.MockRetention
	grants    *mock.MockGrantRepository
	reporter  *mock.MockErrorReporter
}

func newJanitor(t *testing.T) *fixture {
	p := apptest.NewPorts(t)
	f := &fixture{Ports: p, retention: mock.NewMockRetention(p.Ctrl), grants: mock.NewMockGrantRepository(p.Ctrl), reporter: mock.NewMockErrorReporter(p.Ctrl)}
	f.j = maintenance.NewJanitor(f.RL, f.retention, f.grants, maintenance.RetentionPeriod(keep), app.RefreshReuseGrace(grace), apptest.NewClock(apptest.T0), &apptest.IDs{}, f.reporter)
	return f
}

func TestRunOnceDeletesExpiredCountersThenSweeps(t *testing.T) {
	f := newJanitor(t)
	swept := maintenance.Swept{Sessions: 3, Tokens: 5, Mail: 7}
	gomock.InOrder(
		f.RL.EXPECT().DeleteExpired(gomock.Any()).Times(1).Return(4, nil),
		// Pending registrations whose links have all expired by now: at
		// once, not after the retention period, each told of with
		// user.deleted.
		f.retention.EXPECT().SweepRegistrations(gomock.Any(), apptest.T0, gomock.Any()).Times(1).DoAndReturn(
			func(_ context.Context, _ time.Time, told func([]*user.User) []webhook.Event) (int, error) {
				us := []*user.User{pending(t, "a@example.com"), pending(t, "b@example.com")}
				events := told(us)
				if len(events) != len(us) || events[0].ID == events[1].ID {
					t.Fatalf("told %+v of %d users", events, len(us))
				}
				for i, u := range us {
					if m := apptest.Events(u.ID(), webhook.UserDeleted); !m.Matches(events[i:i+1]) || events[i].Data.User.Email != u.Email().String() {
						t.Errorf("event %d: %+v, want %v", i, events[i], m)
					}
				}
				return len(us), nil
			}),
		// What ended before now minus the retention period, the
		// authorization requests and codes too.
		f.retention.EXPECT().Sweep(gomock.Any(), apptest.T0.Add(-keep)).Times(1).Return(swept, nil),
		f.grants.EXPECT().Sweep(gomock.Any(), apptest.T0.Add(-keep)).Times(1).Return(6, nil),
	)
	got, err := f.j.RunOnce(context.Background())
	want := maintenance.Swept{Sessions: 3, Tokens: 5, Mail: 7, Registrations: 2, Grants: 6}
	if err != nil || got != want {
		t.Fatalf("RunOnce = %+v, %v; want %+v", got, err, want)
	}
}

// pending is a pending registration of email, registered an hour before
// T0.
func pending(t *testing.T, email string) *user.User {
	t.Helper()
	e, err := user.ParseEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.New(uuid.New(), e, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", apptest.T0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return u.RestorePending(true)
}

func TestRunOnceReturnsErrors(t *testing.T) {
	boom := errors.New("db down")
	t.Run("counters", func(t *testing.T) {
		f := newJanitor(t)
		f.RL.EXPECT().DeleteExpired(gomock.Any()).Return(0, boom)
		// Strict mock: no Sweep.
		if got, err := f.j.RunOnce(context.Background()); !errors.Is(err, boom) || got != (maintenance.Swept{}) {
			t.Fatalf("RunOnce = %+v, %v", got, err)
		}
	})
	t.Run("registrations", func(t *testing.T) {
		f := newJanitor(t)
		f.RL.EXPECT().DeleteExpired(gomock.Any()).Return(0, nil)
		f.retention.EXPECT().SweepRegistrations(gomock.Any(), gomock.Any(), gomock.Any()).Return(0, boom)
		// Strict mock: no Sweep.
		if _, err := f.j.RunOnce(context.Background()); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("sweep", func(t *testing.T) {
		f := newJanitor(t)
		f.RL.EXPECT().DeleteExpired(gomock.Any()).Return(0, nil)
		f.retention.EXPECT().SweepRegistrations(gomock.Any(), gomock.Any(), gomock.Any()).Return(0, nil)
		f.retention.EXPECT().Sweep(gomock.Any(), gomock.Any()).Return(maintenance.Swept{Sessions: 1}, boom)
		// Strict mock: no sweep of grants.
		if _, err := f.j.RunOnce(context.Background()); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("grants", func(t *testing.T) {
		f := newJanitor(t)
		f.RL.EXPECT().DeleteExpired(gomock.Any()).Return(0, nil)
		f.retention.EXPECT().SweepRegistrations(gomock.Any(), gomock.Any(), gomock.Any()).Return(1, nil)
		f.retention.EXPECT().Sweep(gomock.Any(), gomock.Any()).Return(maintenance.Swept{Sessions: 1}, nil)
		f.grants.EXPECT().Sweep(gomock.Any(), gomock.Any()).Return(2, boom)
		// What was swept before the failure is counted.
		want := maintenance.Swept{Sessions: 1, Registrations: 1, Grants: 2}
		if got, err := f.j.RunOnce(context.Background()); !errors.Is(err, boom) || got != want {
			t.Fatalf("RunOnce = %+v, %v; want %+v, boom", got, err, want)
		}
	})
}

// Run reports a failed round to the reporter and stops when ctx ends.
func TestRunReportsFailuresAndStops(t *testing.T) {
	f := newJanitor(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	boom := errors.New("db down")
	f.RL.EXPECT().DeleteExpired(gomock.Any()).MinTimes(1).Return(0, boom)
	f.retention.EXPECT().ForgetRefreshSuccessors(gomock.Any(), gomock.Any()).AnyTimes().Return(0, nil)
	// Reported once: rounds failing after the cancel are shutdown, not news.
	f.reporter.EXPECT().ReportError(gomock.Any(), "retention sweep", boom).Times(1).Do(func(context.Context, string, error) { cancel() })
	done := make(chan struct{})
	go func() { f.j.Run(ctx, time.Millisecond); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// The sealed successors of refresh tokens rotated longer ago than the
// reuse grace are erased.
func TestForgetSuccessorsPastTheGrace(t *testing.T) {
	f := newJanitor(t)
	f.retention.EXPECT().ForgetRefreshSuccessors(gomock.Any(), apptest.T0.Add(-grace)).Times(1).Return(2, nil)
	if n, err := f.j.ForgetSuccessors(context.Background()); n != 2 || err != nil {
		t.Fatalf("ForgetSuccessors = %d, %v", n, err)
	}
}

// Run erases successors every grace, more often than the retention sweep,
// and reports its failures under their own name.
func TestRunForgetsSuccessorsEveryGrace(t *testing.T) {
	ctrl := gomock.NewController(t)
	retention, reporter := mock.NewMockRetention(ctrl), mock.NewMockErrorReporter(ctrl)
	j := maintenance.NewJanitor(mock.NewMockRateLimiter(ctrl), retention, mock.NewMockGrantRepository(ctrl), maintenance.RetentionPeriod(keep), app.RefreshReuseGrace(time.Millisecond), apptest.NewClock(apptest.T0), &apptest.IDs{}, reporter)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	boom := errors.New("db down")
	var calls atomic.Int32
	retention.EXPECT().ForgetRefreshSuccessors(gomock.Any(), apptest.T0.Add(-time.Millisecond)).MinTimes(3).DoAndReturn(func(context.Context, time.Time) (int, error) {
		if calls.Add(1) == 3 {
			return 0, boom
		}
		return 1, nil
	})
	reporter.EXPECT().ReportError(gomock.Any(), "refresh successor sweep", boom).Times(1).Do(func(context.Context, string, error) { cancel() })
	done := make(chan struct{})
	// The retention sweep's interval is an hour: only successors are swept.
	go func() { j.Run(ctx, time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
