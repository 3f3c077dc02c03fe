package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

// ClaimedColumns are what a Dialect's ClaimSQL returns, in order.
const ClaimedColumns = `id, kind, to_address, user_id, payload, attempts, created_at`

// OutboxStatsSQL reads the pending messages through the pending-mail
// index (mail_outbox_due), the OutboxStatsCap due first at most.
func OutboxStatsSQL(d Dialect) string {
	return fmt.Sprintf(`SELECT count(*), min(created_at) FROM (
		SELECT created_at FROM mail_outbox
		WHERE status = 'pending'
		ORDER BY next_attempt_at
		LIMIT %d)%s`, app.OutboxStatsCap, d.SubqueryName)
}

// Outbox is the transactional mail queue in mail_outbox. Enqueue belongs in
// the use case's transaction; Claim, MarkSent, MarkFailed and CountPending
// are meant for the pool-bound Outbox used by the outbox worker.
type Outbox struct {
	DB      DB
	Dialect Dialect
}

// Enqueue stores m as pending, created and due at now.
func (o Outbox) Enqueue(ctx context.Context, m app.OutboundMail, now time.Time) error {
	payload, err := storable.MapJSON(m.Data)
	if err != nil {
		return err
	}
	_, err = o.DB.Exec(ctx, `INSERT INTO mail_outbox (id, kind, to_address, user_id, payload, status, attempts, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5`+o.Dialect.JSON+`, 'pending', 0, $6, $6)`,
		m.ID, string(m.Kind), m.To, NullUUID(m.UserID), payload, now)
	return err
}

// Claim takes up to limit pending messages due at now, bumps their attempt
// count and moves their due time to now+lease, with the Dialect's
// ClaimSQL in one write transaction (the bound one, or one of its own), so
// that two claims never take one message. Messages come back oldest
// first. Payloads are decoded after the commit: a message whose payload
// cannot be read stays claimed (until its lease ends) rather than being
// handed out again at once.
func (o Outbox) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]app.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	var claimed []claimedRow
	err := o.DB.Tx(ctx, func(tx DB) error {
		var err error
		claimed, err = All(ctx, tx, scanClaimed, o.Dialect.ClaimSQL, now, limit, now.Add(lease))
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]app.OutboxMessage, len(claimed))
	for i, c := range claimed {
		out[i] = c.msg
		if out[i].Data, err = storable.ParseMapJSON(c.payload); err != nil {
			return nil, fmt.Errorf("outbox message %s: %w", c.msg.ID, err)
		}
	}
	slices.SortFunc(out, func(a, b app.OutboxMessage) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID.String(), b.ID.String()))
	})
	return out, nil
}

type claimedRow struct {
	msg     app.OutboxMessage
	payload []byte
}

func scanClaimed(row Row) (claimedRow, error) {
	var (
		c      claimedRow
		kind   string
		userID uuid.NullUUID
	)
	err := row.Scan(&c.msg.ID, &kind, &c.msg.To, &userID, &c.payload, &c.msg.Attempts, &c.msg.CreatedAt)
	c.msg.Kind = app.MailKind(kind)
	c.msg.UserID = userID.UUID
	return c, err
}

// MarkSent records delivery at at and clears the payload (and asks the
// store to scrub its old copies).
func (o Outbox) MarkSent(ctx context.Context, id uuid.UUID, at time.Time) error {
	err := execOne(ctx, o.DB, nil, `UPDATE mail_outbox SET status = 'sent', sent_at = $2, payload = '{}'`+o.Dialect.JSON+`, last_error = NULL WHERE id = $1`, id, at)
	if err != nil {
		return fmt.Errorf("outbox message %s: %w", id, err)
	}
	o.DB.Scrub()
	return nil
}

// MarkFailed records lastErr (cut to 1000 bytes) and the next due time;
// with giveUp the message becomes 'failed' and its payload is cleared.
func (o Outbox) MarkFailed(ctx context.Context, id uuid.UUID, lastErr string, next time.Time, giveUp bool) error {
	err := execOne(ctx, o.DB, nil, `UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3,
			status = CASE WHEN $4 THEN 'failed' ELSE status END,
			payload = CASE WHEN $4 THEN '{}'`+o.Dialect.JSON+` ELSE payload END
		WHERE id = $1`, id, storable.Text(lastErr, storable.MaxLastError), next, giveUp)
	if err != nil {
		return fmt.Errorf("outbox message %s: %w", id, err)
	}
	if giveUp {
		o.DB.Scrub()
	}
	return nil
}

// CountPending counts messages neither sent nor given up.
func (o Outbox) CountPending(ctx context.Context) (int, error) {
	var n int
	err := o.DB.QueryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE status = 'pending'`).Scan(&n)
	return n, err
}

// Stats counts the pending messages (up to app.OutboxStatsCap) and finds
// the oldest of them.
func (o Outbox) Stats(ctx context.Context) (app.OutboxStats, error) {
	var (
		st     app.OutboxStats
		oldest *time.Time
	)
	if err := o.DB.QueryRow(ctx, OutboxStatsSQL(o.Dialect)).Scan(&st.Pending, &oldest); err != nil {
		return app.OutboxStats{}, err
	}
	if oldest != nil {
		st.OldestPending = *oldest
	}
	return st, nil
}
