package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// The outbox cases claim whatever is due, so they run alone (serially), and
// each works in a year of its own long ago: mail enqueued by other tests
// (at the real time, or by the retention case in 2001) is never due at the
// times they claim at. Each marks its own messages sent when it ends, so
// that none stays pending for the next.
func init() {
	registerSerial("Outbox/EnqueueCommitAndRollback", testOutboxEnqueue)
	registerSerial("Outbox/ClaimOldestFirst", testOutboxClaimOldestFirst)
	registerSerial("Outbox/ConcurrentClaimsNeverShareAMessage", testOutboxConcurrentClaims)
	registerSerial("Outbox/MarkSentClearsPayload", testOutboxMarkSent)
	registerSerial("Outbox/MarkFailed", testOutboxMarkFailed)
	registerSerial("Outbox/Stats", testOutboxStats)
}

// outboxYear is the start of the year an outbox case works in.
func outboxYear(year int) time.Time { return time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC) }

func newMail(userID uuid.UUID) app.OutboundMail {
	return app.OutboundMail{
		ID:     uuid.New(),
		Kind:   app.MailVerifyEmail,
		To:     "u-" + uuid.NewString() + "@example.com",
		UserID: userID,
		Data:   map[string]string{"link": "https://example.com/verify?token=" + uuid.NewString()},
	}
}

// enqueue stores m, created and due at at, in a transaction of its own,
// and marks it sent when the test ends.
func enqueue(t *testing.T, s Store, m app.OutboundMail, at time.Time) {
	t.Helper()
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Outbox.Enqueue(ctx, m, at) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Repos.Outbox.MarkSent(ctx, m.ID, at) // gone already is fine
	})
}

// claim claims at at and returns the claimed messages among want (by id),
// in the order Claim gave them.
func claim(t *testing.T, s Store, at time.Time, limit int, lease time.Duration, want map[uuid.UUID]app.OutboundMail) []app.OutboxMessage {
	t.Helper()
	batch := mustGet(s.Repos.Outbox.Claim(testCtx(t), at, limit, lease))(t)
	var own []app.OutboxMessage
	for _, m := range batch {
		if _, ok := want[m.ID]; ok {
			own = append(own, m)
		}
	}
	return own
}

func byID(ms ...app.OutboundMail) map[uuid.UUID]app.OutboundMail {
	out := make(map[uuid.UUID]app.OutboundMail, len(ms))
	for _, m := range ms {
		out[m.ID] = m
	}
	return out
}

// diffMessage describes how a claimed message differs from what was
// enqueued at created, or returns nil.
func diffMessage(got app.OutboxMessage, want app.OutboundMail, created time.Time, attempts int) error {
	if got.ID != want.ID || got.Kind != want.Kind || got.To != want.To || got.UserID != want.UserID ||
		!maps.Equal(got.Data, want.Data) || !got.CreatedAt.Equal(created) || got.Attempts != attempts {
		return fmt.Errorf("claimed %+v (created %v, attempts %d),\nenqueued %+v (created %v, attempts %d)",
			got.OutboundMail, got.CreatedAt, got.Attempts, want, created, attempts)
	}
	return nil
}

func testOutboxEnqueue(t *testing.T, s Store) {
	ctx := testCtx(t)
	epoch := outboxYear(1991)
	u := createUser(t, s)
	before := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t)

	m := newMail(u.ID())
	enqueue(t, s, m, epoch)
	anon := newMail(uuid.Nil) // a request: no user, no data
	anon.Kind, anon.Data = app.ResetRequest, nil
	enqueue(t, s, anon, epoch.Add(time.Second))

	rolledBack := newMail(uuid.Nil)
	boom := errors.New("boom")
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Outbox.Enqueue(ctx, rolledBack, epoch); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Within = %v, want fn's error", err)
	}
	if n := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t); n != before+2 {
		t.Fatalf("CountPending = %d, want %d + 2", n, before)
	}

	// Not due before it was enqueued.
	if got := claim(t, s, epoch.Add(-time.Microsecond), 100, time.Hour, byID(m, anon, rolledBack)); len(got) != 0 {
		t.Fatalf("claimed %d messages before they were due", len(got))
	}
	got := claim(t, s, epoch.Add(time.Minute), 100, time.Hour, byID(m, anon, rolledBack))
	if len(got) != 2 {
		t.Fatalf("claimed %d of our messages, want 2 (the rolled-back one must not exist)", len(got))
	}
	must(t, diffMessage(got[0], m, epoch, 1))
	must(t, diffMessage(got[1], anon, epoch.Add(time.Second), 1))
	if n := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t); n != before+2 {
		t.Fatalf("CountPending after claiming = %d, want %d + 2 (claimed is still pending)", n, before)
	}
}

// Claim takes the oldest due messages first and returns them oldest first.
func testOutboxClaimOldestFirst(t *testing.T, s Store) {
	epoch := outboxYear(1992)
	mails := make([]app.OutboundMail, 6)
	for i := range mails {
		mails[i] = newMail(uuid.Nil)
	}
	for i := len(mails) - 1; i >= 0; i-- { // newest enqueued first
		enqueue(t, s, mails[i], epoch.Add(time.Duration(i)*time.Second))
	}
	want := byID(mails...)
	at := epoch.Add(time.Hour)
	for round, wantIdx := range [][]int{{0, 1, 2}, {3, 4, 5}} {
		got := claim(t, s, at, 3, time.Hour, want)
		if len(got) != 3 {
			t.Fatalf("round %d: claimed %d, want 3", round, len(got))
		}
		for j, i := range wantIdx {
			if got[j].ID != mails[i].ID {
				t.Fatalf("round %d: message %d is the one enqueued %d-th, want %d-th", round, j, indexOf(mails, got[j].ID), i)
			}
			must(t, diffMessage(got[j], mails[i], epoch.Add(time.Duration(i)*time.Second), 1))
		}
	}
	if got := claim(t, s, at, 3, time.Hour, want); len(got) != 0 {
		t.Fatalf("claimed %d leased messages", len(got))
	}
}

func indexOf(ms []app.OutboundMail, id uuid.UUID) int {
	for i, m := range ms {
		if m.ID == id {
			return i
		}
	}
	return -1
}

// Workers claiming at once never get one message twice, together they get
// every due message, and the lease hides claimed mail until it ends.
func testOutboxConcurrentClaims(t *testing.T, s Store) {
	ctx := testCtx(t)
	epoch := outboxYear(1993)
	const total = 30
	var all []app.OutboundMail
	for i := range total {
		m := newMail(uuid.Nil)
		m.Kind = app.ResetRequest
		all = append(all, m)
		enqueue(t, s, m, epoch.Add(time.Duration(i)*time.Microsecond))
	}
	want := byID(all...)
	pending := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t)
	at, lease := epoch.Add(time.Minute), time.Hour

	const workers = 4
	claimed := make([][]app.OutboxMessage, workers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			for {
				batch, err := s.Repos.Outbox.Claim(ctx, at, 5, lease)
				if err != nil {
					t.Error(err)
					return
				}
				if len(batch) == 0 {
					return
				}
				claimed[i] = append(claimed[i], batch...)
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	seen := map[uuid.UUID]int{}
	for i := range claimed {
		for _, msg := range claimed[i] {
			if prev, dup := seen[msg.ID]; dup {
				t.Fatalf("message %s claimed by workers %d and %d", msg.ID, prev, i)
			}
			seen[msg.ID] = i
			if w, ok := want[msg.ID]; ok {
				if msg.Attempts != 1 || msg.Kind != w.Kind || msg.To != w.To || msg.UserID != uuid.Nil ||
					!maps.Equal(msg.Data, w.Data) || msg.CreatedAt.IsZero() {
					t.Fatalf("claimed %+v, enqueued %+v", msg, w)
				}
			}
		}
	}
	for id := range want {
		if _, ok := seen[id]; !ok {
			t.Fatalf("message %s never claimed", id)
		}
	}
	if n := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t); n != pending {
		t.Fatalf("CountPending = %d after claiming, want %d (claimed is still pending)", n, pending)
	}

	// Leased: nothing of ours is due again before the lease ends ...
	if again := claim(t, s, at.Add(lease-time.Microsecond), 1000, lease, want); len(again) != 0 {
		t.Fatalf("%d messages claimed again during their lease", len(again))
	}
	// ... and all of it is once it has.
	again := claim(t, s, at.Add(lease), 1000, lease, want)
	if len(again) != total {
		t.Fatalf("claimed %d of %d messages after their lease ended", len(again), total)
	}
	for _, msg := range again {
		if msg.Attempts != 2 {
			t.Fatalf("message %s: attempts = %d after its second claim, want 2", msg.ID, msg.Attempts)
		}
	}
}

// MarkSent takes a message off the queue, records when, and clears the
// payload (its links carry tokens). The Exec below puts the sent row back
// on the queue, with its sent time as created time, so that Claim shows
// what MarkSent stored.
func testOutboxMarkSent(t *testing.T, s Store) {
	ctx := testCtx(t)
	epoch := outboxYear(1994)
	m := newMail(createUser(t, s).ID())
	enqueue(t, s, m, epoch)
	pending := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t)
	at := epoch.Add(time.Second)
	must(t, s.Repos.Outbox.MarkSent(ctx, m.ID, at))
	if n := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t); n != pending-1 {
		t.Fatalf("CountPending = %d after MarkSent, want %d", n, pending-1)
	}
	if got := claim(t, s, epoch.Add(time.Hour), 1000, time.Hour, byID(m)); len(got) != 0 {
		t.Fatal("sent message claimed")
	}

	must(t, s.Exec(ctx, `UPDATE mail_outbox SET status = 'pending', created_at = sent_at WHERE to_address = $1`, m.To))
	got := claim(t, s, epoch.Add(time.Hour), 1000, time.Hour, byID(m))
	if len(got) != 1 {
		t.Fatalf("claimed %d after putting the sent row back, want 1", len(got))
	}
	if len(got[0].Data) != 0 {
		t.Fatalf("payload kept after MarkSent: %v", got[0].Data)
	}
	if !got[0].CreatedAt.Equal(at) {
		t.Fatalf("sent at %v, want %v", got[0].CreatedAt, at)
	}
	if got[0].To != m.To || got[0].UserID != m.UserID || got[0].Kind != m.Kind {
		t.Fatalf("MarkSent changed the message: %+v", got[0].OutboundMail)
	}

	if err := s.Repos.Outbox.MarkSent(ctx, uuid.New(), at); err == nil {
		t.Fatal("MarkSent of an unknown message succeeded")
	}
}

// MarkFailed without giving up keeps the message and its payload and makes
// it due at next; giving up takes it off the queue for good and clears the
// payload. Either way the error is stored, storable and cut to
// storable.MaxLastError bytes; the Exec below copies it into the address,
// where Claim shows it.
func testOutboxMarkFailed(t *testing.T, s Store) {
	ctx := testCtx(t)
	epoch := outboxYear(1995)
	outbox := s.Repos.Outbox

	retry := newMail(uuid.Nil)
	enqueue(t, s, retry, epoch)
	pending := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t)
	next := epoch.Add(time.Minute)
	must(t, outbox.MarkFailed(ctx, retry.ID, "smtp: 451 try later", next, false))
	if n := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t); n != pending {
		t.Fatalf("CountPending = %d after MarkFailed(retry), want %d", n, pending)
	}
	if got := claim(t, s, next.Add(-time.Microsecond), 1000, time.Hour, byID(retry)); len(got) != 0 {
		t.Fatal("message claimed before its next attempt is due")
	}
	must(t, s.Exec(ctx, `UPDATE mail_outbox SET to_address = last_error WHERE to_address = $1`, retry.To))
	got := claim(t, s, next, 1000, time.Hour, byID(retry))
	if len(got) != 1 {
		t.Fatalf("claimed %d when the next attempt is due, want 1", len(got))
	}
	if got[0].To != "smtp: 451 try later" {
		t.Fatalf("stored error %q", got[0].To)
	}
	if !maps.Equal(got[0].Data, retry.Data) || got[0].Attempts != 1 {
		t.Fatalf("after MarkFailed(retry): data %v, attempts %d; want the payload kept and attempts 1", got[0].Data, got[0].Attempts)
	}

	dead := newMail(uuid.Nil)
	enqueue(t, s, dead, epoch)
	pending = mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t)
	long := strings.Repeat("é", 800) + "\x00" // 1600 bytes, with a NUL no text column takes
	must(t, outbox.MarkFailed(ctx, dead.ID, long, next, true))
	if n := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t); n != pending-1 {
		t.Fatalf("CountPending = %d after giving up, want %d", n, pending-1)
	}
	if got := claim(t, s, epoch.AddDate(0, 6, 0), 1000, time.Hour, byID(dead)); len(got) != 0 {
		t.Fatal("message given up claimed")
	}
	must(t, s.Exec(ctx, `UPDATE mail_outbox SET status = 'pending', to_address = last_error WHERE to_address = $1`, dead.To))
	got = claim(t, s, next, 1000, time.Hour, byID(dead))
	if len(got) != 1 {
		t.Fatalf("claimed %d after putting the given-up row back, want 1", len(got))
	}
	if want := storable.Text(long, storable.MaxLastError); got[0].To != want || len(want) != storable.MaxLastError {
		t.Fatalf("stored error of %d bytes, want the %d bytes %q", len(got[0].To), len(want), want)
	}
	if len(got[0].Data) != 0 {
		t.Fatalf("payload kept after giving up: %v", got[0].Data)
	}

	if err := outbox.MarkFailed(ctx, uuid.New(), "x", next, false); err == nil {
		t.Fatal("MarkFailed of an unknown message succeeded")
	}
}

// Stats counts what CountPending counts (claimed and retrying messages
// included) and finds the creation time of the oldest, whatever its due
// time; this case's year is older than any other mail of the suite.
func testOutboxStats(t *testing.T, s Store) {
	ctx := testCtx(t)
	epoch := outboxYear(1980)
	before := mustGet(s.Repos.Outbox.Stats(testCtx(t)))(t)
	if n := mustGet(s.Repos.Outbox.CountPending(testCtx(t)))(t); before.Pending != n {
		t.Fatalf("Stats.Pending = %d, CountPending = %d", before.Pending, n)
	}
	if before.Pending == 0 && !before.OldestPending.IsZero() {
		t.Fatalf("Stats = %+v: nothing pending but an oldest time", before)
	}

	younger, older := newMail(uuid.Nil), newMail(uuid.Nil)
	enqueue(t, s, younger, epoch.Add(time.Minute))
	enqueue(t, s, older, epoch)
	// Claimed, then retrying later than younger is due: still pending,
	// still the oldest.
	if got := claim(t, s, epoch.Add(30*time.Second), 1000, time.Hour, byID(older)); len(got) != 1 {
		t.Fatalf("claimed %d, want 1", len(got))
	}
	must(t, s.Repos.Outbox.MarkFailed(ctx, older.ID, "smtp: 451 try later", epoch.AddDate(0, 1, 0), false))
	st := mustGet(s.Repos.Outbox.Stats(testCtx(t)))(t)
	if st.Pending != before.Pending+2 || !st.OldestPending.Equal(epoch) {
		t.Fatalf("Stats = %+v, want %d pending, the oldest created at %v", st, before.Pending+2, epoch)
	}
	if st.OldestPending.Location() != time.UTC {
		t.Fatalf("OldestPending %v is not in UTC", st.OldestPending)
	}

	must(t, s.Repos.Outbox.MarkFailed(ctx, older.ID, "smtp: 550 no such user", epoch, true))
	st = mustGet(s.Repos.Outbox.Stats(testCtx(t)))(t)
	if st.Pending != before.Pending+1 || !st.OldestPending.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("Stats after giving up the oldest = %+v, want %d pending, the oldest created at %v", st, before.Pending+1, epoch.Add(time.Minute))
	}

	must(t, s.Repos.Outbox.MarkSent(ctx, younger.ID, epoch.Add(2*time.Minute)))
	st = mustGet(s.Repos.Outbox.Stats(testCtx(t)))(t)
	if st.Pending != before.Pending || !st.OldestPending.Equal(before.OldestPending) {
		t.Fatalf("Stats after sending the rest = %+v, want %+v", st, before)
	}
}
