package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// Webhooks keeps the endpoints in webhooks, their subscriptions in
// webhook_events (one row per event type).
type Webhooks struct {
	DB      DB
	Dialect Dialect
}

// Create stores e and its subscriptions, in one transaction (the bound
// one, or one of its own).
func (s Webhooks) Create(ctx context.Context, e webhook.Endpoint, sec webhook.Secrets) error {
	return s.DB.Tx(ctx, func(tx DB) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhooks (id, url, secret, previous_secret, previous_until, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			e.ID, e.URL, sec.Current, nullBlob(sec.Previous), previousUntil(sec), e.CreatedAt); err != nil {
			return err
		}
		for _, t := range e.Events {
			if _, err := tx.Exec(ctx, `INSERT INTO webhook_events (event_type, webhook_id) VALUES ($1, $2)`, string(t), e.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

func previousUntil(s webhook.Secrets) *time.Time {
	if s.Previous == nil {
		return nil
	}
	return &s.PreviousUntil
}

// List returns every endpoint, oldest first (index webhooks_created),
// each with its event types in the order webhook.Types lists them.
func (s Webhooks) List(ctx context.Context) ([]webhook.Endpoint, error) {
	es, err := All(ctx, s.DB, func(row Row) (webhook.Endpoint, error) {
		var e webhook.Endpoint
		return e, row.Scan(&e.ID, &e.URL, &e.CreatedAt)
	}, `SELECT id, url, created_at FROM webhooks ORDER BY created_at, id`)
	if err != nil || len(es) == 0 {
		return es, err
	}
	index := make(map[uuid.UUID]int, len(es))
	for i, e := range es {
		index[e.ID] = i
	}
	err = Each(ctx, s.DB, func(row Row) error {
		var (
			id uuid.UUID
			t  string
		)
		if err := row.Scan(&id, &t); err != nil {
			return err
		}
		if i, ok := index[id]; ok {
			es[i].Events = append(es[i].Events, webhook.Type(t))
		}
		return nil
	}, `SELECT webhook_id, event_type FROM webhook_events`)
	if err != nil {
		return nil, err
	}
	for i := range es {
		webhook.SortTypes(es[i].Events)
	}
	return es, nil
}

// SecretsForChange reads the secrets of endpoint id, locking its row
// until the transaction ends (Dialect.ForUpdate).
func (s Webhooks) SecretsForChange(ctx context.Context, id uuid.UUID) (webhook.Secrets, error) {
	var (
		sec   webhook.Secrets
		until *time.Time
	)
	err := s.DB.QueryRow(ctx, `SELECT secret, previous_secret, previous_until FROM webhooks WHERE id = $1`+s.Dialect.ForUpdate, id).
		Scan(&sec.Current, &sec.Previous, &until)
	if err != nil {
		return webhook.Secrets{}, notFound(err, webhook.ErrNotFound)
	}
	if until != nil {
		sec.PreviousUntil = *until
	}
	return sec, nil
}

// SetSecrets replaces the secrets of endpoint id.
func (s Webhooks) SetSecrets(ctx context.Context, id uuid.UUID, sec webhook.Secrets) error {
	return execOne(ctx, s.DB, webhook.ErrNotFound, `UPDATE webhooks SET secret = $2, previous_secret = $3, previous_until = $4 WHERE id = $1`,
		id, sec.Current, nullBlob(sec.Previous), previousUntil(sec))
}

// Delete removes endpoint id; its subscriptions and deliveries go by
// cascade.
func (s Webhooks) Delete(ctx context.Context, id uuid.UUID) error {
	return execOne(ctx, s.DB, webhook.ErrNotFound, `DELETE FROM webhooks WHERE id = $1`, id)
}

// RecentFailures reads the latest failed deliveries of endpoint id (index
// webhook_deliveries_failures).
func (s Webhooks) RecentFailures(ctx context.Context, id uuid.UUID, limit int) ([]webhook.Failure, error) {
	return All(ctx, s.DB, func(row Row) (webhook.Failure, error) {
		var (
			f  webhook.Failure
			t  string
			at *time.Time
		)
		err := row.Scan(&f.MessageID, &t, &at, &f.Error)
		f.Event = webhook.Type(t)
		if at != nil {
			f.At = *at
		}
		return f, err
	}, `SELECT message_id, event_type, last_attempt_at, last_error FROM webhook_deliveries
		WHERE webhook_id = $1 AND last_error IS NOT NULL
		ORDER BY last_attempt_at DESC, seq DESC LIMIT $2`, id, limit)
}

// EventLog records events for delivery in webhook_deliveries.
type EventLog struct {
	DB      DB
	Dialect Dialect
}

// publishRows is how many events one statement of Publish carries: five
// arguments each, far under either store's limit on the arguments of one
// statement (SQLite 32766, PostgreSQL 65535).
const publishRows = 1000

// Publish records the events, due at once, in one statement (one per
// publishRows events): see publishStmts.
func (l EventLog) Publish(ctx context.Context, events ...webhook.Event) error {
	stmts, err := publishStmts(l.Dialect, events)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := l.DB.Exec(ctx, st.SQL, st.Args...); err != nil {
			return err
		}
	}
	return nil
}

// publishStmts are the statements that record events: each fans its
// events out to the endpoints subscribed to their types at the time (a
// join with the primary key of webhook_events), one row each, none for an
// event no endpoint subscribes to; the rows take their seq in the order
// of the events, which the order of a user's deliveries follows. An
// endpoint deleted meanwhile is passed over (Dialect.KeepEndpoints).
func publishStmts(d Dialect, events []webhook.Event) ([]Stmt, error) {
	var stmts []Stmt
	for start := 0; start < len(events); start += publishRows {
		chunk := events[start:min(start+publishRows, len(events))]
		var q strings.Builder
		q.WriteString(`WITH e (ord, id, event_type, user_id, body, at) AS (VALUES `)
		args := make([]any, 0, 5*len(chunk))
		for i, e := range chunk {
			body, err := e.Body()
			if err != nil {
				return nil, fmt.Errorf("webhook event %s: %w", e.ID, err)
			}
			if i > 0 {
				q.WriteString(`, `)
			}
			n := len(args)
			args = append(args, e.ID, string(e.Type), e.UserID, body, e.At)
			fmt.Fprintf(&q, `(%d, %s, %s, %s, %s, %s)`, i,
				d.Param(n+1, "text"), d.Param(n+2, "text"), d.Param(n+3, "uuid"), d.Param(n+4, "bytea"), d.Param(n+5, "timestamptz"))
		}
		q.WriteString(`)
	INSERT INTO webhook_deliveries (webhook_id, message_id, event_type, user_id, body, created_at, attempts, next_attempt_at)
	SELECT s.webhook_id, e.id, e.event_type, e.user_id, e.body, e.at, 0, e.at
	FROM e JOIN webhook_events s ON s.event_type = e.event_type JOIN webhooks w ON w.id = s.webhook_id
	ORDER BY e.ord, s.webhook_id` + d.KeepEndpoints)
		stmts = append(stmts, Stmt{q.String(), args})
	}
	return stmts, nil
}

// Deliveries claims and settles the deliveries, for the webhook worker.
type Deliveries struct {
	DB      DB
	Dialect Dialect
}

var _ appwebhook.Deliveries = Deliveries{}

// pendingDelivery is the condition of a delivery neither delivered nor
// given up, on the table named by alias.
func pendingDelivery(alias string) string {
	return alias + `.delivered_at IS NULL AND ` + alias + `.failed_at IS NULL`
}

// Claim takes the due deliveries whose user has no earlier pending one at
// the same endpoint (index webhook_deliveries_user_pending), oldest due
// first (index webhook_deliveries_due), with Dialect.SkipLocked, in one
// write transaction (the bound one, or one of its own); then reads their
// endpoints in it.
func (s Deliveries) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, busy []uuid.UUID) ([]appwebhook.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	args := []any{now, limit, now.Add(lease)}
	skip := ""
	if len(busy) > 0 {
		skip = " AND " + s.Dialect.NotAmong("d.webhook_id", busy, &args)
	}
	query := `WITH due AS (
		SELECT d.seq FROM webhook_deliveries d
		WHERE ` + pendingDelivery("d") + ` AND d.next_attempt_at <= $1` + skip + `
		  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
		                  WHERE e.webhook_id = d.webhook_id AND e.user_id = d.user_id AND e.seq < d.seq AND ` + pendingDelivery("e") + `)
		ORDER BY d.next_attempt_at, d.seq
		LIMIT $2` + s.Dialect.SkipLocked + `
	)
	UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $3
	WHERE seq IN (SELECT seq FROM due)
	RETURNING seq, webhook_id, message_id, event_type, user_id, body, created_at, attempts`
	var out []appwebhook.Delivery
	err := s.DB.Tx(ctx, func(tx DB) error {
		var err error
		if out, err = All(ctx, tx, scanDelivery, query, args...); err != nil {
			return err
		}
		endpoints := make(map[uuid.UUID]*appwebhook.Delivery)
		for i := range out {
			d := &out[i]
			if e, ok := endpoints[d.Endpoint]; ok {
				d.URL, d.Secrets = e.URL, e.Secrets
				continue
			}
			var until *time.Time
			if err := tx.QueryRow(ctx, `SELECT url, secret, previous_secret, previous_until FROM webhooks WHERE id = $1`, d.Endpoint).
				Scan(&d.URL, &d.Secrets.Current, &d.Secrets.Previous, &until); err != nil {
				return err
			}
			if until != nil {
				d.Secrets.PreviousUntil = *until
			}
			endpoints[d.Endpoint] = d
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b appwebhook.Delivery) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

func scanDelivery(row Row) (appwebhook.Delivery, error) {
	var (
		d appwebhook.Delivery
		t string
	)
	err := row.Scan(&d.Seq, &d.Endpoint, &d.MessageID, &t, &d.UserID, &d.Body, &d.CreatedAt, &d.Attempts)
	d.Event = webhook.Type(t)
	return d, err
}

// clearBody empties the body of a delivery done with: it holds the
// user's address, which a deleted account must not leave behind longer
// than its delivery takes (substr keeps the column's type in both
// stores).
const clearBody = `body = substr(body, 1, 0)`

// MarkDelivered records delivery seq delivered at at and clears its body
// (and asks the store to scrub its old copies).
func (s Deliveries) MarkDelivered(ctx context.Context, seq int64, at time.Time) error {
	if err := execOne(ctx, s.DB, nil, `UPDATE webhook_deliveries SET delivered_at = $2, last_attempt_at = $2, last_error = NULL, `+clearBody+` WHERE seq = $1`, seq, at); err != nil {
		return err
	}
	s.DB.Scrub()
	return nil
}

// MarkFailed records a failed attempt (lastErr cut to 1000 bytes), due
// again at next, or given up, its body cleared.
func (s Deliveries) MarkFailed(ctx context.Context, seq int64, at time.Time, lastErr string, next time.Time, giveUp bool) error {
	query := `UPDATE webhook_deliveries SET last_attempt_at = $2, last_error = $3, next_attempt_at = $4 WHERE seq = $1`
	if giveUp {
		query = `UPDATE webhook_deliveries SET last_attempt_at = $2, last_error = $3, next_attempt_at = $4, failed_at = $2, ` + clearBody + ` WHERE seq = $1`
	}
	if err := execOne(ctx, s.DB, nil, query, seq, at, storable.Text(lastErr, storable.MaxLastError), next); err != nil {
		return err
	}
	if giveUp {
		s.DB.Scrub()
	}
	return nil
}

// OldestPending reads the creation time of the oldest pending delivery:
// the first entry of index webhook_deliveries_pending_created.
func (s Deliveries) OldestPending(ctx context.Context) (time.Time, error) {
	var oldest time.Time
	err := s.DB.QueryRow(ctx, `SELECT created_at FROM webhook_deliveries WHERE `+pendingDelivery("webhook_deliveries")+` ORDER BY created_at LIMIT 1`).Scan(&oldest)
	if errors.Is(err, ErrNoRows) {
		return time.Time{}, nil
	}
	return oldest, err
}
