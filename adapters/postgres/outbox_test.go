package postgres_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func enqueue(t *testing.T, m app.OutboundMail) {
	t.Helper()
	err := postgres.NewTxManager(pgtest.New(t)).Within(context.Background(), func(ctx context.Context, r app.Repos) error {
		return r.Outbox.Enqueue(ctx, m)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newMail(userID uuid.UUID) app.OutboundMail {
	return app.OutboundMail{
		ID:     uuid.New(),
		Kind:   app.MailVerifyEmail,
		To:     "u-" + uuid.NewString() + "@example.com",
		UserID: userID,
		Data:   map[string]string{"link": "https://example.com/verify?token=" + uuid.NewString()},
	}
}

type outboxRow struct {
	status    string
	attempts  int
	payload   string
	lastError *string
	sentAt    *time.Time
	next      time.Time
	userID    uuid.NullUUID
}

func readOutbox(t *testing.T, id uuid.UUID) (outboxRow, error) {
	t.Helper()
	var r outboxRow
	err := pgtest.New(t).QueryRow(context.Background(),
		`SELECT status, attempts, payload::text, last_error, sent_at, next_attempt_at, user_id FROM mail_outbox WHERE id = $1`, id).
		Scan(&r.status, &r.attempts, &r.payload, &r.lastError, &r.sentAt, &r.next, &r.userID)
	return r, err
}

func TestOutboxEnqueueCommitAndRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := createUser(t)
	m := newMail(u.ID())
	enqueue(t, m)
	row, err := readOutbox(t, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.status != "pending" || !strings.Contains(row.payload, m.Data["link"]) || row.userID.UUID != u.ID() {
		t.Fatalf("stored row = %+v", row)
	}

	rolledBack := newMail(uuid.Nil)
	boom := errors.New("boom")
	err = postgres.NewTxManager(pgtest.New(t)).Within(ctx, func(ctx context.Context, r app.Repos) error {
		if err := r.Outbox.Enqueue(ctx, rolledBack); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Within = %v, want fn's error", err)
	}
	if _, err := readOutbox(t, rolledBack.ID); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("rolled-back message stored: %v", err)
	}
}

func TestOutboxConcurrentClaimsNeverShareAMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	want := map[uuid.UUID]app.OutboundMail{}
	for range 30 {
		m := newMail(uuid.Nil)
		m.Kind = app.ResetRequest
		want[m.ID] = m
		enqueue(t, m)
	}
	outbox := postgres.NewOutbox(pgtest.New(t))
	future := time.Now().Add(time.Hour) // due for sure, whatever the clocks say
	const workers = 4
	claimed := make([][]app.OutboxMessage, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for {
				batch, err := outbox.Claim(ctx, future, 5, time.Hour)
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
	wg.Wait()
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
		row, err := readOutbox(t, id)
		if err != nil {
			t.Fatal(err)
		}
		if row.attempts != 1 || row.status != "pending" || row.next.Before(future.Add(time.Hour-time.Second)) {
			t.Fatalf("claimed row = %+v, want attempts 1 and due after the lease", row)
		}
	}
	// Leased: nothing of ours is due again before the lease ends.
	again, err := outbox.Claim(ctx, future, 1000, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range again {
		if _, ok := want[msg.ID]; ok {
			t.Fatalf("message %s claimed again during its lease", msg.ID)
		}
	}
}

func TestOutboxMarkSentClearsPayload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMail(uuid.Nil)
	enqueue(t, m)
	outbox := postgres.NewOutbox(pgtest.New(t))
	at := now()
	if err := outbox.MarkSent(ctx, m.ID, at); err != nil {
		t.Fatal(err)
	}
	row, err := readOutbox(t, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.status != "sent" || row.payload != "{}" || row.sentAt == nil || !row.sentAt.Equal(at) {
		t.Fatalf("after MarkSent: %+v", row)
	}
	if err := outbox.MarkSent(ctx, uuid.New(), at); err == nil {
		t.Fatal("MarkSent of an unknown message succeeded")
	}
}

func TestOutboxMarkFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outbox := postgres.NewOutbox(pgtest.New(t))

	retry := newMail(uuid.Nil)
	enqueue(t, retry)
	next := now().Add(time.Minute)
	if err := outbox.MarkFailed(ctx, retry.ID, "smtp: 451 try later", next, false); err != nil {
		t.Fatal(err)
	}
	row, _ := readOutbox(t, retry.ID)
	if row.status != "pending" || row.payload == "{}" || row.lastError == nil || *row.lastError != "smtp: 451 try later" || !row.next.Equal(next) {
		t.Fatalf("after MarkFailed(retry): %+v", row)
	}

	dead := newMail(uuid.Nil)
	enqueue(t, dead)
	long := strings.Repeat("é", 800) + "\x00" // 1600 bytes, with a NUL PostgreSQL text refuses
	if err := outbox.MarkFailed(ctx, dead.ID, long, next, true); err != nil {
		t.Fatal(err)
	}
	row, _ = readOutbox(t, dead.ID)
	if row.status != "failed" || row.payload != "{}" || row.lastError == nil || len(*row.lastError) != 1000 {
		t.Fatalf("after MarkFailed(giveUp): status %q payload %q error bytes %d", row.status, row.payload, len(*row.lastError))
	}
}

func TestOutboxCountPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outbox := postgres.NewOutbox(pgtest.New(t))
	enqueue(t, newMail(uuid.Nil))
	n, err := outbox.CountPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Fatalf("CountPending = %d, want at least 1", n)
	}
}
