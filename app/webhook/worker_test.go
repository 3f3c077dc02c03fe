package webhook_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

type workerFixture struct {
	w          *appwebhook.Worker
	deliveries *mock.MockWebhookDeliveries
	sender     *mock.MockWebhookSender
	observer   *mock.MockWebhookObserver
	reporter   *mock.MockErrorReporter
}

func newWorker(t *testing.T, now time.Time, cfg appwebhook.Config) workerFixture {
	ctrl := gomock.NewController(t)
	f := workerFixture{deliveries: mock.NewMockWebhookDeliveries(ctrl), sender: mock.NewMockWebhookSender(ctrl),
		observer: mock.NewMockWebhookObserver(ctrl), reporter: mock.NewMockErrorReporter(ctrl)}
	f.w = appwebhook.NewWorker(appwebhook.WorkerDeps{Deliveries: f.deliveries, Sender: f.sender, Sealer: apptest.Sealer{},
		Clock: apptest.NewClock(now), Reporter: f.reporter, Observer: f.observer, Config: cfg})
	return f
}

// sealed is key sealed for endpoint id, as Endpoints stores it.
func sealed(id uuid.UUID, key string) []byte {
	b, _ := apptest.Sealer{}.Seal([]byte(key), "webhook-secret:"+id.String())
	return b
}

func delivery(endpoint uuid.UUID, seq int64, created time.Time, attempts int) appwebhook.Delivery {
	return appwebhook.Delivery{Seq: seq, Endpoint: endpoint, URL: "https://hooks.example.com/" + endpoint.String(),
		Secrets: webhook.Secrets{Current: sealed(endpoint, "key-now")}, MessageID: "msg_" + uuid.NewString(),
		Event: webhook.UserCreated, UserID: uuid.New(), Body: []byte(`{"type":"user.created"}`), CreatedAt: created, Attempts: attempts}
}

// runOnce claims once (what claim returns) and waits for the deliveries.
func (f workerFixture) runOnce(t *testing.T, claim ...appwebhook.Delivery) {
	t.Helper()
	f.deliveries.EXPECT().Claim(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(claim, nil)
	if _, err := f.w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.w.Wait()
}

func TestDeliveredIsMarked(t *testing.T) {
	f := newWorker(t, apptest.T0, appwebhook.DefaultConfig())
	d := delivery(uuid.New(), 1, apptest.T0.Add(-time.Minute), 1)
	f.sender.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m appwebhook.Message) error {
		if m.URL != d.URL || m.ID != d.MessageID || string(m.Body) != string(d.Body) || !m.Timestamp.Equal(apptest.T0) ||
			len(m.Keys) != 1 || string(m.Keys[0]) != "key-now" {
			t.Errorf("sent %+v", m)
		}
		return nil
	})
	f.deliveries.EXPECT().MarkDelivered(gomock.Any(), d.Seq, apptest.T0)
	f.observer.EXPECT().DeliveryResult(gomock.Any(), webhook.UserCreated, appwebhook.Delivered)
	f.runOnce(t, d)
}

// During the day after a rotation both secrets sign; after it, only the
// new one.
func TestRotationSignsWithBothForADay(t *testing.T) {
	for _, c := range []struct {
		name  string
		until time.Time
		keys  []string
	}{
		{"within the overlap", apptest.T0.Add(time.Second), []string{"key-now", "key-before"}},
		{"after it", apptest.T0, []string{"key-now"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newWorker(t, apptest.T0, appwebhook.DefaultConfig())
			d := delivery(uuid.New(), 1, apptest.T0, 1)
			d.Secrets.Previous, d.Secrets.PreviousUntil = sealed(d.Endpoint, "key-before"), c.until
			f.sender.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m appwebhook.Message) error {
				var got []string
				for _, k := range m.Keys {
					got = append(got, string(k))
				}
				if len(got) != len(c.keys) || got[0] != c.keys[0] || len(got) > 1 && got[1] != c.keys[1] {
					t.Errorf("signed with %v, want %v", got, c.keys)
				}
				return nil
			})
			f.deliveries.EXPECT().MarkDelivered(gomock.Any(), d.Seq, gomock.Any())
			f.observer.EXPECT().DeliveryResult(gomock.Any(), gomock.Any(), appwebhook.Delivered)
			f.runOnce(t, d)
		})
	}
}

// A failed attempt is retried after 5 s doubled per attempt, capped at an
// hour; the last one is a day after the event, and a failure then gives
// the delivery up, keeping the error.
func TestRetryBackoffAndGiveUp(t *testing.T) {
	created := apptest.T0.Add(-time.Hour)
	for _, c := range []struct {
		name     string
		now      time.Time
		attempts int
		next     time.Time
		giveUp   bool
	}{
		{"first", apptest.T0, 1, apptest.T0.Add(5 * time.Second), false},
		{"third", apptest.T0, 3, apptest.T0.Add(20 * time.Second), false},
		{"capped", apptest.T0, 30, apptest.T0.Add(time.Hour), false},
		{"last before the day ends", created.Add(24*time.Hour - time.Minute), 30, created.Add(24 * time.Hour), false},
		{"the day is over", created.Add(24 * time.Hour), 31, created.Add(25 * time.Hour), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newWorker(t, c.now, appwebhook.DefaultConfig())
			d := delivery(uuid.New(), 7, created, c.attempts)
			f.sender.EXPECT().Send(gomock.Any(), gomock.Any()).Return(errors.New("503 Service Unavailable"))
			want := c.next
			if c.giveUp {
				want = created.Add(24 * time.Hour)
			}
			f.deliveries.EXPECT().MarkFailed(gomock.Any(), int64(7), c.now, "503 Service Unavailable", want, c.giveUp)
			if c.giveUp {
				f.observer.EXPECT().DeliveryResult(gomock.Any(), webhook.UserCreated, appwebhook.Failed)
				f.reporter.EXPECT().ReportError(gomock.Any(), "webhook given up", gomock.Any())
			} else {
				f.observer.EXPECT().DeliveryResult(gomock.Any(), webhook.UserCreated, appwebhook.Retry)
			}
			f.runOnce(t, d)
		})
	}
}

// A secret that does not open (a wrong secret key) is a failed attempt,
// retried like any other; nothing is sent unsigned.
func TestBrokenSecretIsAFailedAttempt(t *testing.T) {
	f := newWorker(t, apptest.T0, appwebhook.DefaultConfig())
	d := delivery(uuid.New(), 1, apptest.T0, 1)
	d.Secrets.Current = []byte("garbage")
	f.deliveries.EXPECT().MarkFailed(gomock.Any(), d.Seq, apptest.T0, gomock.Any(), apptest.T0.Add(5*time.Second), false)
	f.observer.EXPECT().DeliveryResult(gomock.Any(), gomock.Any(), appwebhook.Retry)
	f.runOnce(t, d)
}

// A slow endpoint holds up no other: the others' deliveries go out and
// are marked while its attempt hangs, and once it has PerEndpoint
// deliveries in hand the claims leave it out.
func TestSlowEndpointHoldsUpNoOther(t *testing.T) {
	cfg := appwebhook.DefaultConfig()
	cfg.PerEndpoint = 2
	f := newWorker(t, apptest.T0, cfg)
	slow, fast := uuid.New(), uuid.New()
	hung, hung2 := delivery(slow, 1, apptest.T0, 1), delivery(slow, 4, apptest.T0, 1)
	release := make(chan struct{})
	sent := make(chan string, 4)
	f.sender.EXPECT().Send(gomock.Any(), gomock.Any()).AnyTimes().DoAndReturn(func(ctx context.Context, m appwebhook.Message) error {
		if m.URL == hung.URL {
			<-release
			return nil
		}
		sent <- m.ID
		return nil
	})
	var mu sync.Mutex
	var busy [][]uuid.UUID
	claims := [][]appwebhook.Delivery{{hung, hung2, delivery(fast, 2, apptest.T0, 1)}, {delivery(fast, 3, apptest.T0, 1)}}
	f.deliveries.EXPECT().Claim(gomock.Any(), apptest.T0, cfg.Batch, cfg.Lease, gomock.Any()).Times(2).
		DoAndReturn(func(_ context.Context, _ time.Time, _ int, _ time.Duration, b []uuid.UUID) ([]appwebhook.Delivery, error) {
			mu.Lock()
			defer mu.Unlock()
			busy = append(busy, b)
			next := claims[0]
			claims = claims[1:]
			return next, nil
		})
	f.deliveries.EXPECT().MarkDelivered(gomock.Any(), gomock.Any(), gomock.Any()).Times(4)
	f.observer.EXPECT().DeliveryResult(gomock.Any(), gomock.Any(), appwebhook.Delivered).Times(4)

	if _, err := f.w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-sent // the fast endpoint's first, while the slow one's two hang
	if _, err := f.w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-sent // and its second
	close(release)
	f.w.Wait()
	if len(busy) != 2 || len(busy[0]) != 0 || len(busy[1]) != 1 || busy[1][0] != slow {
		t.Errorf("claims left out %v, want nothing, then the slow endpoint", busy)
	}
}

// Run claims until it is stopped, then waits for the attempts in hand.
func TestRunDeliversUntilStopped(t *testing.T) {
	cfg := appwebhook.DefaultConfig()
	cfg.PollInterval = time.Millisecond
	f := newWorker(t, apptest.T0, cfg)
	d := delivery(uuid.New(), 1, apptest.T0, 1)
	first := f.deliveries.EXPECT().Claim(gomock.Any(), apptest.T0, cfg.Batch, cfg.Lease, gomock.Any()).Return([]appwebhook.Delivery{d}, nil)
	f.deliveries.EXPECT().Claim(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).After(first).Return(nil, nil).AnyTimes()
	f.sender.EXPECT().Send(gomock.Any(), gomock.Any())
	marked := make(chan struct{})
	f.deliveries.EXPECT().MarkDelivered(gomock.Any(), d.Seq, apptest.T0).DoAndReturn(func(context.Context, int64, time.Time) error {
		close(marked)
		return nil
	})
	f.observer.EXPECT().DeliveryResult(gomock.Any(), webhook.UserCreated, appwebhook.Delivered)
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		f.w.Run(ctx)
		close(stopped)
	}()
	<-marked
	cancel()
	<-stopped
}
