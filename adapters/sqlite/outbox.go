package sqlite

import (
	"cmp"
	"context"
	"database/sql"
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
	_, err = exec(ctx, o.db, `INSERT INTO mail_outbox (id, kind, to_address, user_id, payload, status, attempts, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)`,
		m.ID.String(), string(m.Kind), m.To, sqlstore.NullUUID(m.UserID), payload, micros(now))
	return err
}

// Claim takes up to limit pending messages due at now, bumps their attempt
// count and moves their due time to now+lease, in one write transaction
// that commits on its own when the Outbox is bound to the DB. There is one
// writer, so two claims run one after the other and the later one no
// longer sees what the earlier one took. Messages come back oldest first.
func (o *Outbox) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]app.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	var (
		out      []app.OutboxMessage
		payloads []string
	)
	err := o.db.writeTx(ctx, func(q querier) error {
		out, payloads = nil, nil
		rows, err := q.QueryContext(ctx, `
			UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $3
			WHERE id IN (
				SELECT id FROM mail_outbox
				WHERE status = 'pending' AND next_attempt_at <= $1
				ORDER BY next_attempt_at
				LIMIT $2)
			RETURNING id, kind, to_address, user_id, payload, attempts, created_at`,
			micros(now), limit, micros(now.Add(lease)))
		if err != nil {
			return translate(err, nil)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				msg     app.OutboxMessage
				kind    string
				userID  uuid.NullUUID
				payload string
				created int64
			)
			if err := rows.Scan(&msg.ID, &kind, &msg.To, &userID, &payload, &msg.Attempts, &created); err != nil {
				return translate(err, nil)
			}
			msg.Kind = app.MailKind(kind)
			msg.UserID = userID.UUID
			msg.CreatedAt = fromMicros(created)
			out = append(out, msg)
			payloads = append(payloads, payload)
		}
		return translate(rows.Err(), nil)
	})
	if err != nil {
		return nil, err
	}
	// Decoded after the commit, as in package postgres: a message whose
	// payload cannot be read stays claimed (until its lease ends) rather
	// than being handed out again at once.
	for i := range out {
		if out[i].Data, err = storable.ParseMapJSON([]byte(payloads[i])); err != nil {
			return nil, fmt.Errorf("sqlite: outbox message %s: %w", out[i].ID, err)
		}
	}
	slices.SortFunc(out, func(a, b app.OutboxMessage) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID.String(), b.ID.String()))
	})
	return out, nil
}

// MarkSent records delivery at at and clears the payload (its link is
// scrubbed from the WAL soon after, see Residue in the package
// documentation).
func (o *Outbox) MarkSent(ctx context.Context, id uuid.UUID, at time.Time) error {
	res, err := exec(ctx, o.db, `UPDATE mail_outbox SET status = 'sent', sent_at = $2, payload = '{}', last_error = NULL WHERE id = $1`, id.String(), micros(at))
	if err := affectedOne(res, err, nil); err != nil {
		return fmt.Errorf("outbox message %s: %w", id, err)
	}
	o.db.scrubSoon()
	return nil
}

// MarkFailed records lastErr (cut to 1000 bytes) and the next due time;
// with giveUp the message becomes 'failed' and its payload is cleared.
func (o *Outbox) MarkFailed(ctx context.Context, id uuid.UUID, lastErr string, next time.Time, giveUp bool) error {
	res, err := exec(ctx, o.db, `UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3,
			status = CASE WHEN $4 THEN 'failed' ELSE status END,
			payload = CASE WHEN $4 THEN '{}' ELSE payload END
		WHERE id = $1`, id.String(), storable.Text(lastErr, storable.MaxLastError), micros(next), giveUp)
	if err := affectedOne(res, err, nil); err != nil {
		return fmt.Errorf("outbox message %s: %w", id, err)
	}
	if giveUp {
		o.db.scrubSoon()
	}
	return nil
}

// CountPending counts messages neither sent nor given up.
func (o *Outbox) CountPending(ctx context.Context) (int, error) {
	var n int
	err := o.db.reader().QueryRowContext(ctx, `SELECT count(*) FROM mail_outbox WHERE status = 'pending'`).Scan(&n)
	return n, translate(err, nil)
}

// outboxStatsSQL reads the pending messages through the pending-mail
// index (mail_outbox_due), the OutboxStatsCap due first at most.
var outboxStatsSQL = fmt.Sprintf(`SELECT count(*), min(created_at) FROM (
		SELECT created_at FROM mail_outbox
		WHERE status = 'pending'
		ORDER BY next_attempt_at
		LIMIT %d)`, app.OutboxStatsCap)

// Stats counts the pending messages (up to app.OutboxStatsCap) and finds
// the oldest of them.
func (o *Outbox) Stats(ctx context.Context) (app.OutboxStats, error) {
	var (
		st     app.OutboxStats
		oldest sql.NullInt64
	)
	if err := o.db.reader().QueryRowContext(ctx, outboxStatsSQL).Scan(&st.Pending, &oldest); err != nil {
		return app.OutboxStats{}, translate(err, nil)
	}
	if oldest.Valid {
		st.OldestPending = fromMicros(oldest.Int64)
	}
	return st, nil
}
