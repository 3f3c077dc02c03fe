package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// Outbox is the transactional mail queue in mail_outbox. Enqueue belongs in
// the use case's transaction; Claim, MarkSent, MarkFailed and CountPending
// are meant for the pool-bound Outbox used by the outbox worker.
type Outbox struct {
	db DBTX
}

var _ app.Outbox = (*Outbox)(nil)

// NewOutbox returns an Outbox on db.
func NewOutbox(db DBTX) *Outbox { return &Outbox{db: db} }

// Enqueue stores m as pending, created and due at now.
func (o *Outbox) Enqueue(ctx context.Context, m app.OutboundMail, now time.Time) error {
	payload, err := storable.MapJSON(m.Data)
	if err != nil {
		return err
	}
	_, err = o.db.Exec(ctx, `INSERT INTO mail_outbox (id, kind, to_address, user_id, payload, status, attempts, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5::jsonb, 'pending', 0, $6, $6)`,
		m.ID, string(m.Kind), m.To, sqlstore.NullUUID(m.UserID), payload, now)
	return translate(err, nil)
}

// Claim takes up to limit pending messages due at now, skipping those
// another worker holds (FOR UPDATE SKIP LOCKED), bumps their attempt count
// and moves their due time to now+lease, all in one statement that commits
// on its own when the Outbox is bound to the pool. Messages come back
// oldest first.
func (o *Outbox) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]app.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := o.db.Query(ctx, `
		WITH due AS (
			SELECT id FROM mail_outbox
			WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE mail_outbox m SET attempts = m.attempts + 1, next_attempt_at = $3
		FROM due WHERE m.id = due.id
		RETURNING m.id, m.kind, m.to_address, m.user_id, m.payload, m.attempts, m.created_at`,
		now, limit, now.Add(lease))
	if err != nil {
		return nil, translate(err, nil)
	}
	defer rows.Close()
	var out []app.OutboxMessage
	for rows.Next() {
		var (
			msg     app.OutboxMessage
			kind    string
			userID  uuid.NullUUID
			payload []byte
		)
		if err := rows.Scan(&msg.ID, &kind, &msg.To, &userID, &payload, &msg.Attempts, &msg.CreatedAt); err != nil {
			return nil, translate(err, nil)
		}
		msg.Kind = app.MailKind(kind)
		msg.UserID = userID.UUID
		msg.CreatedAt = msg.CreatedAt.UTC()
		if msg.Data, err = storable.ParseMapJSON(payload); err != nil {
			return nil, fmt.Errorf("postgres: outbox message %s: %w", msg.ID, err)
		}
		out = append(out, msg)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, nil)
	}
	slices.SortFunc(out, func(a, b app.OutboxMessage) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID.String(), b.ID.String()))
	})
	return out, nil
}

// MarkSent records delivery at at and clears the payload.
func (o *Outbox) MarkSent(ctx context.Context, id uuid.UUID, at time.Time) error {
	tag, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'sent', sent_at = $2, payload = '{}'::jsonb, last_error = NULL WHERE id = $1`, id, at)
	if err := affectedOne(tag, err, nil); err != nil {
		return fmt.Errorf("outbox message %s: %w", id, err)
	}
	return nil
}

// MarkFailed records lastErr (cut to 1000 bytes) and the next due time;
// with giveUp the message becomes 'failed' and its payload is cleared.
func (o *Outbox) MarkFailed(ctx context.Context, id uuid.UUID, lastErr string, next time.Time, giveUp bool) error {
	tag, err := o.db.Exec(ctx, `UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3,
			status = CASE WHEN $4 THEN 'failed' ELSE status END,
			payload = CASE WHEN $4 THEN '{}'::jsonb ELSE payload END
		WHERE id = $1`, id, storable.Text(lastErr, storable.MaxLastError), next, giveUp)
	if err := affectedOne(tag, err, nil); err != nil {
		return fmt.Errorf("outbox message %s: %w", id, err)
	}
	return nil
}

// CountPending counts messages neither sent nor given up.
func (o *Outbox) CountPending(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE status = 'pending'`).Scan(&n)
	return n, translate(err, nil)
}

// outboxStatsSQL reads the pending messages through the pending-mail
// index (mail_outbox_due), the OutboxStatsCap due first at most.
var outboxStatsSQL = fmt.Sprintf(`SELECT count(*), min(created_at) FROM (
		SELECT created_at FROM mail_outbox
		WHERE status = 'pending'
		ORDER BY next_attempt_at
		LIMIT %d) p`, app.OutboxStatsCap)

// Stats counts the pending messages (up to app.OutboxStatsCap) and finds
// the oldest of them.
func (o *Outbox) Stats(ctx context.Context) (app.OutboxStats, error) {
	var (
		st     app.OutboxStats
		oldest *time.Time
	)
	if err := o.db.QueryRow(ctx, outboxStatsSQL).Scan(&st.Pending, &oldest); err != nil {
		return app.OutboxStats{}, translate(err, nil)
	}
	if oldest != nil {
		st.OldestPending = oldest.UTC()
	}
	return st, nil
}
