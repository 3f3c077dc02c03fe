package storetest

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// The claim cases take whatever is due, so they run alone (serially), each
// in a year of its own long ago, and delete their endpoints (and so their
// deliveries) when they end. The other cases only publish and count their
// own endpoints' rows.
func init() {
	register("Webhooks/CreateListRotateDelete", testWebhookEndpoints)
	register("Webhooks/PublishFansOutToSubscribedEndpoints", testWebhookFanOut)
	register("Webhooks/PublishManyAtOnceFansOutInOrder", testWebhookPublishMany)
	register("Webhooks/DeleteDropsDeliveries", testWebhookDeleteDropsDeliveries)
	registerSerial("Webhooks/ClaimKeepsOrderPerUser", testWebhookClaimOrder)
	registerSerial("Webhooks/ConcurrentClaimsNeverShareAndKeepOrder", testWebhookConcurrentClaims)
	registerSerial("Webhooks/FailuresOldestPendingRetention", testWebhookFailures)
}

// newEndpoint stores an endpoint subscribed to events, with made-up
// sealed secrets, and deletes it when the test ends.
func newEndpoint(t *testing.T, s Store, created time.Time, events ...webhook.Type) webhook.Endpoint {
	t.Helper()
	e := webhook.Endpoint{ID: uuid.New(), URL: "https://hooks.example.com/" + uuid.NewString(), Events: events, CreatedAt: created}
	must(t, s.Repos.Webhooks.Create(testCtx(t), e, webhook.Secrets{Current: []byte("sealed-" + e.ID.String())}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Repos.Webhooks.Delete(ctx, e.ID) // gone already is fine
	})
	return e
}

// publish records an event of type typ about userID at at, in a
// transaction of its own.
func publish(t *testing.T, s Store, userID uuid.UUID, typ webhook.Type, at time.Time) webhook.Event {
	t.Helper()
	e := webhook.Event{ID: webhook.NewID(uuid.New()), Type: typ, UserID: userID, At: at,
		Data: webhook.Data{User: webhook.PublicUser{ID: userID.String(), Email: "u@example.com", CreatedAt: at}}}
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Events.Publish(ctx, e) })
	return e
}

// deliveriesOf counts the delivery rows of endpoint id about userID
// (other cases publish to every endpoint subscribed to a type too).
func deliveriesOf(t *testing.T, s Store, id, userID uuid.UUID) int {
	t.Helper()
	return mustGet(s.Count(testCtx(t), `SELECT count(*) FROM webhook_deliveries WHERE CAST(webhook_id AS TEXT) = $1 AND CAST(user_id AS TEXT) = $2`,
		id.String(), userID.String()))(t)
}

func testWebhookEndpoints(t *testing.T, s Store) {
	ctx := testCtx(t)
	at := now()
	a := newEndpoint(t, s, at, webhook.UserDeleted, webhook.UserCreated)
	b := newEndpoint(t, s, at.Add(time.Second), webhook.SessionCreated)

	var got []webhook.Endpoint
	for _, e := range mustGet(s.Repos.Webhooks.List(ctx))(t) {
		if e.ID == a.ID || e.ID == b.ID {
			got = append(got, e)
		}
	}
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID {
		t.Fatalf("List: %+v, want a then b", got)
	}
	if got[0].URL != a.URL || !got[0].CreatedAt.Equal(a.CreatedAt) ||
		!slices.Equal(got[0].Events, []webhook.Type{webhook.UserCreated, webhook.UserDeleted}) {
		t.Errorf("List: a = %+v, want %+v with its events in the documented order", got[0], a)
	}

	// Rotation: the secrets are replaced as given, read for change in a
	// transaction.
	until := at.Add(24 * time.Hour)
	within(t, s, func(ctx context.Context, r app.Repos) error {
		old, err := r.Webhooks.SecretsForChange(ctx, a.ID)
		if err != nil {
			return err
		}
		if string(old.Current) != "sealed-"+a.ID.String() || old.Previous != nil {
			t.Errorf("SecretsForChange: %+v", old)
		}
		return r.Webhooks.SetSecrets(ctx, a.ID, webhook.Secrets{Current: []byte("new"), Previous: old.Current, PreviousUntil: until})
	})
	var sec webhook.Secrets
	within(t, s, func(ctx context.Context, r app.Repos) (err error) {
		sec, err = r.Webhooks.SecretsForChange(ctx, a.ID)
		return err
	})
	if string(sec.Current) != "new" || string(sec.Previous) != "sealed-"+a.ID.String() || !sec.PreviousUntil.Equal(until) {
		t.Errorf("after SetSecrets: %+v", sec)
	}

	must(t, s.Repos.Webhooks.Delete(ctx, a.ID))
	wantErr(t, s.Repos.Webhooks.Delete(ctx, a.ID), webhook.ErrNotFound, "Delete twice")
	wantErr(t, s.Repos.Webhooks.SetSecrets(ctx, a.ID, sec), webhook.ErrNotFound, "SetSecrets of a deleted endpoint")
	within(t, s, func(ctx context.Context, r app.Repos) error {
		wantErr(t, errOf(r.Webhooks.SecretsForChange(ctx, a.ID)), webhook.ErrNotFound, "SecretsForChange of a deleted endpoint")
		return nil
	})
	if n := mustGet(s.Count(ctx, `SELECT count(*) FROM webhook_events WHERE CAST(webhook_id AS TEXT) = $1`, a.ID.String()))(t); n != 0 {
		t.Errorf("%d subscriptions of a deleted endpoint left", n)
	}
}

// An event reaches the endpoints subscribed to its type when it is
// published, and commits or rolls back with its transaction.
func testWebhookFanOut(t *testing.T, s Store) {
	at := now()
	a := newEndpoint(t, s, at, webhook.UserCreated, webhook.UserDeleted)
	b := newEndpoint(t, s, at, webhook.UserDeleted)
	u := uuid.New()

	publish(t, s, u, webhook.UserCreated, at)
	if na, nb := deliveriesOf(t, s, a.ID, u), deliveriesOf(t, s, b.ID, u); na != 1 || nb != 0 {
		t.Errorf("user.created: %d and %d deliveries, want 1 and 0", na, nb)
	}
	publish(t, s, u, webhook.UserDeleted, at)
	if na, nb := deliveriesOf(t, s, a.ID, u), deliveriesOf(t, s, b.ID, u); na != 2 || nb != 1 {
		t.Errorf("user.deleted: %d and %d deliveries, want 2 and 1", na, nb)
	}
	publish(t, s, u, webhook.SessionCreated, at)
	if na, nb := deliveriesOf(t, s, a.ID, u), deliveriesOf(t, s, b.ID, u); na != 2 || nb != 1 {
		t.Errorf("an event nobody here subscribed to: %d and %d deliveries, want 2 and 1", na, nb)
	}
	rollback := uuid.New().String()
	err := s.Tx.Within(testCtx(t), func(ctx context.Context, r app.Repos) error {
		if err := r.Events.Publish(ctx, webhook.Event{ID: "msg_x", Type: webhook.UserDeleted, UserID: u, At: at}); err != nil {
			return err
		}
		return errorString(rollback)
	})
	if err == nil || err.Error() != rollback {
		t.Fatalf("Within: %v, want the rollback", err)
	}
	if na, nb := deliveriesOf(t, s, a.ID, u), deliveriesOf(t, s, b.ID, u); na != 2 || nb != 1 {
		t.Errorf("after a rollback: %d and %d deliveries, want 2 and 1", na, nb)
	}
}

// Many events in one call (more than one statement of them) fan out as
// they would one call each, and their deliveries take their seq in the
// order of the events (a user's events go out in that order): here each
// event is older than the one before it, so no endpoint's deliveries may
// have a later seq with a later created_at.
func testWebhookPublishMany(t *testing.T, s Store) {
	ctx := testCtx(t)
	at := now()
	a := newEndpoint(t, s, at, webhook.UserCreated, webhook.UserDeleted)
	b := newEndpoint(t, s, at, webhook.UserDeleted)
	users := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	types := []webhook.Type{webhook.UserDeleted, webhook.SessionCreated, webhook.UserCreated, webhook.UserDeleted}
	var events []webhook.Event
	for i := range 1100 {
		u := users[i%len(users)]
		events = append(events, webhook.Event{ID: webhook.NewID(uuid.New()), Type: types[i%len(types)], UserID: u, At: at.Add(time.Duration(-i) * time.Microsecond),
			Data: webhook.Data{User: webhook.PublicUser{ID: u.String(), Email: "u@example.com", CreatedAt: at}}})
	}
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Events.Publish(ctx, events...) })

	for _, ep := range []webhook.Endpoint{a, b} {
		for _, u := range users {
			var want int
			for _, e := range events {
				if e.UserID == u && slices.Contains(ep.Events, e.Type) {
					want++
				}
			}
			if got := deliveriesOf(t, s, ep.ID, u); got != want {
				t.Errorf("endpoint %v, user %v: %d deliveries, want %d", ep.Events, u, got, want)
			}
		}
		// Other cases publish to every endpoint subscribed to a type:
		// only this case's users are compared.
		if n := mustGet(s.Count(ctx, `SELECT count(*) FROM webhook_deliveries p JOIN webhook_deliveries q ON q.webhook_id = p.webhook_id AND q.seq > p.seq
			WHERE CAST(p.webhook_id AS TEXT) = $1 AND q.created_at > p.created_at
			  AND CAST(p.user_id AS TEXT) IN ($2, $3, $4) AND CAST(q.user_id AS TEXT) IN ($2, $3, $4)`,
			ep.ID.String(), users[0].String(), users[1].String(), users[2].String()))(t); n != 0 {
			t.Errorf("endpoint %v: %d pairs of deliveries out of the order of their events", ep.Events, n)
		}
	}
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Events.Publish(ctx) })
}

type errorString string

func (e errorString) Error() string { return string(e) }

func testWebhookDeleteDropsDeliveries(t *testing.T, s Store) {
	e := newEndpoint(t, s, now(), webhook.UserCreated)
	u := uuid.New()
	publish(t, s, u, webhook.UserCreated, now())
	publish(t, s, u, webhook.UserCreated, now())
	if n := deliveriesOf(t, s, e.ID, u); n != 2 {
		t.Fatalf("%d deliveries, want 2", n)
	}
	must(t, s.Repos.Webhooks.Delete(testCtx(t), e.ID))
	if n := mustGet(s.Count(testCtx(t), `SELECT count(*) FROM webhook_deliveries WHERE CAST(webhook_id AS TEXT) = $1`, e.ID.String()))(t); n != 0 {
		t.Errorf("%d deliveries of a deleted endpoint left", n)
	}
}

// claimOwn claims at at, leaving out the busy endpoints.
func claimOwn(t *testing.T, s Store, at time.Time, busy ...uuid.UUID) []appwebhook.Delivery {
	t.Helper()
	return mustGet(s.Deliveries.Claim(testCtx(t), at, 50, time.Hour, busy))(t)
}

func messageIDs(ds []appwebhook.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.MessageID
	}
	return out
}

func testWebhookClaimOrder(t *testing.T, s Store) {
	ctx := testCtx(t)
	epoch := outboxYear(1994)
	e := newEndpoint(t, s, epoch, webhook.UserCreated, webhook.UserDeleted)
	u1, u2 := uuid.New(), uuid.New()
	e1 := publish(t, s, u1, webhook.UserCreated, epoch)
	f1 := publish(t, s, u2, webhook.UserCreated, epoch.Add(time.Microsecond))
	e2 := publish(t, s, u1, webhook.UserDeleted, epoch.Add(2*time.Microsecond))
	f2 := publish(t, s, u2, webhook.UserDeleted, epoch.Add(3*time.Microsecond))
	at := epoch.Add(time.Minute)

	if got := claimOwn(t, s, at, e.ID); len(got) != 0 {
		t.Fatalf("claim leaving the endpoint out: %v", messageIDs(got))
	}
	got := claimOwn(t, s, at)
	if !slices.Equal(messageIDs(got), []string{e1.ID, f1.ID}) {
		t.Fatalf("first claim: %v, want the first event of each user", messageIDs(got))
	}
	d := got[0]
	body, _ := e1.Body()
	if d.Endpoint != e.ID || d.URL != e.URL || string(d.Secrets.Current) != "sealed-"+e.ID.String() || d.Event != webhook.UserCreated ||
		d.UserID != u1 || !bytes.Equal(d.Body, body) || !d.CreatedAt.Equal(epoch) || d.Attempts != 1 {
		t.Errorf("claimed %+v", d)
	}
	if got := claimOwn(t, s, at); len(got) != 0 {
		t.Fatalf("second claim, the first ones still in hand: %v", messageIDs(got))
	}

	must(t, s.Deliveries.MarkDelivered(ctx, find(t, e1.ID, got).Seq, at))
	must(t, s.Deliveries.MarkFailed(ctx, find(t, f1.ID, got).Seq, at, "502 Bad Gateway", at.Add(time.Second), false))
	if got := claimOwn(t, s, at); !slices.Equal(messageIDs(got), []string{e2.ID}) {
		t.Fatalf("claim after one delivered, one retried later: %v, want %s only", messageIDs(got), e2.ID)
	}
	retry := claimOwn(t, s, at.Add(time.Second))
	if !slices.Equal(messageIDs(retry), []string{f1.ID}) || retry[0].Attempts != 2 {
		t.Fatalf("claim when the retry is due: %+v", retry)
	}
	must(t, s.Deliveries.MarkFailed(ctx, retry[0].Seq, at.Add(time.Second), "timeout", at.Add(time.Hour), true))
	if got := claimOwn(t, s, at.Add(time.Second)); !slices.Equal(messageIDs(got), []string{f2.ID}) {
		t.Fatalf("claim after the first was given up: %v, want %s", messageIDs(got), f2.ID)
	}
}

// find is the delivery of message id among ds.
func find(t *testing.T, id string, ds []appwebhook.Delivery) appwebhook.Delivery {
	t.Helper()
	for _, d := range ds {
		if d.MessageID == id {
			return d
		}
	}
	t.Fatalf("%s not claimed", id)
	return appwebhook.Delivery{}
}

// Workers claiming at once never take one delivery twice, and never hold
// two deliveries of one user at once, nor take one before the user's
// earlier ones are delivered.
func testWebhookConcurrentClaims(t *testing.T, s Store) {
	ctx := testCtx(t)
	epoch := outboxYear(1995)
	newEndpoint(t, s, epoch, webhook.SessionCreated)
	const users, perUser = 5, 6
	order := make(map[string]int) // message id: its place among its user's
	owner := make(map[string]int) // message id: its user
	ids := make([]uuid.UUID, users)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for k := range perUser {
		for i, u := range ids {
			ev := publish(t, s, u, webhook.SessionCreated, epoch.Add(time.Duration(k*users+i)*time.Microsecond))
			order[ev.ID], owner[ev.ID] = k, i
		}
	}
	at := epoch.Add(time.Minute)

	var (
		mu        sync.Mutex
		next      = make([]int, users) // the place of each user's next delivery
		inHand    = make([]bool, users)
		delivered int
	)
	race(4, func(int) {
		for range 10000 {
			mu.Lock()
			finished := delivered == users*perUser
			mu.Unlock()
			if finished || t.Failed() {
				return
			}
			batch, err := s.Deliveries.Claim(ctx, at, 3, time.Hour, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			for _, d := range batch {
				i, ok := owner[d.MessageID]
				if !ok {
					t.Errorf("claimed %s, not this test's", d.MessageID)
					continue
				}
				if inHand[i] || order[d.MessageID] != next[i] {
					t.Errorf("user %d: claimed place %d while place %d is next (in hand: %v)", i, order[d.MessageID], next[i], inHand[i])
				}
				inHand[i] = true
			}
			mu.Unlock()
			for _, d := range batch {
				// Held across the mark, so that a claim of the user's next
				// delivery is checked after this one counts as delivered.
				mu.Lock()
				err := s.Deliveries.MarkDelivered(ctx, d.Seq, at)
				i := owner[d.MessageID]
				next[i]++
				inHand[i] = false
				delivered++
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	if delivered != users*perUser {
		t.Errorf("%d delivered, want %d", delivered, users*perUser)
	}
}

// A failure shows among the endpoint's recent ones; OldestPending follows
// the pending deliveries; the retention sweep deletes the delivered and
// given-up ones created before its cutoff, never a pending one.
func testWebhookFailures(t *testing.T, s Store) {
	ctx := testCtx(t)
	epoch := outboxYear(1996)
	e := newEndpoint(t, s, epoch, webhook.UserCreated)
	if got := mustGet(s.Deliveries.OldestPending(ctx))(t); !got.IsZero() {
		t.Fatalf("OldestPending with nothing pending: %v", got)
	}
	first := publish(t, s, uuid.New(), webhook.UserCreated, epoch)
	second := publish(t, s, uuid.New(), webhook.UserCreated, epoch.Add(time.Second))
	third := publish(t, s, uuid.New(), webhook.UserCreated, epoch.Add(2*time.Second))
	if got := mustGet(s.Deliveries.OldestPending(ctx))(t); !got.Equal(epoch) {
		t.Errorf("OldestPending = %v, want %v", got, epoch)
	}
	at := epoch.Add(time.Minute)
	got := claimOwn(t, s, at)
	if len(got) != 3 {
		t.Fatalf("claimed %v", messageIDs(got))
	}
	must(t, s.Deliveries.MarkDelivered(ctx, find(t, first.ID, got).Seq, at))
	must(t, s.Deliveries.MarkFailed(ctx, find(t, second.ID, got).Seq, at, "500 Internal Server Error", at.Add(time.Hour), true))
	must(t, s.Deliveries.MarkFailed(ctx, find(t, third.ID, got).Seq, at.Add(time.Second), "connection refused", at.Add(time.Hour), false))
	if got := mustGet(s.Deliveries.OldestPending(ctx))(t); !got.Equal(third.At) {
		t.Errorf("OldestPending = %v, want the one still retried, %v", got, third.At)
	}

	// A delivery done with keeps no body: it holds the user's address.
	if n := mustGet(s.Count(ctx, `SELECT count(*) FROM webhook_deliveries WHERE CAST(webhook_id AS TEXT) = $1 AND length(body) > 0`, e.ID.String()))(t); n != 1 {
		t.Errorf("%d deliveries keep their body, want the pending one", n)
	}

	failures := mustGet(s.Repos.Webhooks.RecentFailures(ctx, e.ID, 5))(t)
	want := []webhook.Failure{
		{MessageID: third.ID, Event: webhook.UserCreated, At: at.Add(time.Second), Error: "connection refused"},
		{MessageID: second.ID, Event: webhook.UserCreated, At: at, Error: "500 Internal Server Error"},
	}
	if len(failures) != len(want) {
		t.Fatalf("RecentFailures: %+v, want %+v", failures, want)
	}
	for i := range want {
		if f := failures[i]; f.MessageID != want[i].MessageID || f.Event != want[i].Event || !f.At.Equal(want[i].At) || f.Error != want[i].Error {
			t.Errorf("RecentFailures[%d] = %+v, want %+v", i, f, want[i])
		}
	}
	if got := mustGet(s.Repos.Webhooks.RecentFailures(ctx, e.ID, 1))(t); len(got) != 1 {
		t.Errorf("RecentFailures limit 1: %d", len(got))
	}

	swept := mustGet(s.Retention.Sweep(ctx, epoch.Add(time.Hour)))(t)
	if swept.Webhooks < 2 {
		t.Errorf("Sweep: %d webhook deliveries, want at least 2", swept.Webhooks)
	}
	if n := mustGet(s.Count(ctx, `SELECT count(*) FROM webhook_deliveries WHERE CAST(webhook_id AS TEXT) = $1`, e.ID.String()))(t); n != 1 {
		t.Errorf("%d deliveries left, want the pending one", n)
	}
}
