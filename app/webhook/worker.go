package webhook

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/google/uuid"
)

// Config tunes delivery.
type Config struct {
	PollInterval time.Duration // how often an idle worker looks for due deliveries
	Batch        int           // deliveries claimed at once at most
	// PerEndpoint is how many deliveries to one endpoint may be in hand
	// before the claims leave that endpoint out; a claim may still hand
	// out up to Batch at once for an endpoint below it.
	PerEndpoint int
	MaxInFlight int           // deliveries in hand at once, all endpoints together
	Lease       time.Duration // a claimed delivery is invisible to other claims this long
	SendTimeout time.Duration // one attempt at most
	BaseBackoff time.Duration // first retry after this long
	MaxBackoff  time.Duration // backoff cap
	MaxAge      time.Duration // then a delivery is given up, keeping its last error
}

// DefaultConfig delivers within about a second and retries after 5 s,
// 10 s, 20 s ... up to an hour apart, for a day after the event.
func DefaultConfig() Config {
	return Config{
		// The lease outlasts an attempt and its bookkeeping, so that no
		// other claim takes a delivery still in hand.
		PollInterval: 500 * time.Millisecond, Batch: 20, PerEndpoint: 4, MaxInFlight: 64,
		Lease: time.Minute, SendTimeout: 10 * time.Second,
		BaseBackoff: 5 * time.Second, MaxBackoff: time.Hour, MaxAge: 24 * time.Hour,
	}
}

// Worker delivers the recorded events. Each delivery is sent on its own,
// so that a slow or failing endpoint never holds up another: its
// deliveries wait out their own timeouts while the claims go on for the
// others, leaving it out once PerEndpoint of its deliveries are in hand.
// Any number of workers may run, in one process or many.
type Worker struct {
	d    WorkerDeps
	wake chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	inFlight map[uuid.UUID]int
	total    int
}

// WorkerDeps are what Worker needs.
type WorkerDeps struct {
	Deliveries Deliveries
	Sender     Sender
	Sealer     app.Sealer
	Clock      app.Clock
	Reporter   app.ErrorReporter
	Observer   Observer
	Config     Config
}

// NewWorker builds a worker.
func NewWorker(d WorkerDeps) *Worker {
	c := &d.Config
	c.Batch = max(c.Batch, 1)
	c.PerEndpoint = max(c.PerEndpoint, 1)
	c.MaxInFlight = max(c.MaxInFlight, 1)
	return &Worker{d: d, wake: make(chan struct{}, 1), inFlight: make(map[uuid.UUID]int)}
}

// Run delivers until ctx ends, then waits for the attempts in hand to
// end (they end with ctx). A full claim is followed at once by the next;
// otherwise the worker waits PollInterval, or until a delivery ends that
// held back the claims.
func (w *Worker) Run(ctx context.Context) {
	defer w.Wait()
	app.Drain(ctx, w.d.Config.PollInterval, w.wake, w.d.Reporter, "webhook claim", func(ctx context.Context) (bool, error) {
		n, limit, err := w.claim(ctx)
		return n > 0 && n == limit, err
	})
}

// RunOnce claims what is due and starts delivering it; Wait waits for
// those deliveries to end. It returns how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	n, _, err := w.claim(ctx)
	return n, err
}

// Wait waits for every delivery started to end.
func (w *Worker) Wait() { w.wg.Wait() }

// claim claims as many as there is room for and starts each delivery.
func (w *Worker) claim(ctx context.Context) (n, limit int, err error) {
	w.mu.Lock()
	limit = min(w.d.Config.Batch, w.d.Config.MaxInFlight-w.total)
	var busy []uuid.UUID
	for id, k := range w.inFlight {
		if k >= w.d.Config.PerEndpoint {
			busy = append(busy, id)
		}
	}
	w.mu.Unlock()
	if limit <= 0 {
		return 0, 0, nil
	}
	ds, err := w.d.Deliveries.Claim(ctx, w.d.Clock.Now(), limit, w.d.Config.Lease, busy)
	if err != nil {
		return 0, limit, err
	}
	w.mu.Lock()
	for _, d := range ds {
		w.inFlight[d.Endpoint]++
		w.total++
	}
	w.mu.Unlock()
	w.wg.Add(len(ds))
	for _, d := range ds {
		go func() {
			defer w.done(d.Endpoint)
			w.deliver(ctx, d)
		}()
	}
	return len(ds), limit, nil
}

// done counts a delivery out, and wakes the claims if it held them back.
func (w *Worker) done(endpoint uuid.UUID) {
	w.mu.Lock()
	heldBack := w.inFlight[endpoint] >= w.d.Config.PerEndpoint || w.total >= w.d.Config.MaxInFlight
	if w.inFlight[endpoint]--; w.inFlight[endpoint] == 0 {
		delete(w.inFlight, endpoint)
	}
	w.total--
	w.mu.Unlock()
	if heldBack {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	w.wg.Done()
}

// deliver makes one attempt at d and records how it ended: delivered on a
// 2xx, else due again after Backoff, until MaxAge after the event, when
// the delivery is given up. On shutdown an attempt cut short is left to
// its lease: another claim retries it.
func (w *Worker) deliver(ctx context.Context, d Delivery) {
	now := w.d.Clock.Now()
	ks, err := keys(w.d.Sealer, d, now)
	if err == nil {
		sendCtx, cancel := context.WithTimeout(ctx, w.d.Config.SendTimeout)
		err = w.d.Sender.Send(sendCtx, Message{URL: d.URL, ID: d.MessageID, Timestamp: now, Body: d.Body, Keys: ks})
		cancel()
	}
	// What was sent is recorded even on shutdown, so that it is not sent
	// again.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.d.Config.SendTimeout)
	defer cancel()
	if err == nil {
		if err := w.d.Deliveries.MarkDelivered(mctx, d.Seq, w.d.Clock.Now()); err != nil {
			w.d.Reporter.ReportError(ctx, "webhook mark delivered", err)
			return
		}
		w.d.Observer.DeliveryResult(ctx, d.Event, Delivered)
		return
	}
	if ctx.Err() != nil {
		return
	}
	at := w.d.Clock.Now()
	deadline := d.CreatedAt.Add(w.d.Config.MaxAge)
	giveUp := !at.Before(deadline)
	next := at.Add(w.Backoff(d.Attempts))
	if next.After(deadline) {
		next = deadline // one last attempt when the day is over
	}
	if ferr := w.d.Deliveries.MarkFailed(mctx, d.Seq, at, err.Error(), next, giveUp); ferr != nil {
		w.d.Reporter.ReportError(ctx, "webhook mark failed", ferr)
		return
	}
	if giveUp {
		w.d.Observer.DeliveryResult(ctx, d.Event, Failed)
		w.d.Reporter.ReportError(ctx, "webhook given up", err)
	} else {
		w.d.Observer.DeliveryResult(ctx, d.Event, Retry)
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
