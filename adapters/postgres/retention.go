package postgres

import (
	"context"
	"time"
)

// Retention deletes rows whose purpose has ended more than a retention
// period ago: sessions past their absolute expiry or revoked (with their
// refresh tokens, by cascade), one-time tokens past expiry, and outbox
// messages sent or given up. The audit trail is never swept.
type Retention struct {
	db DBTX
}

// NewRetention returns a Retention on db (normally the pool).
func NewRetention(db DBTX) *Retention { return &Retention{db: db} }

// Swept counts what one sweep deleted.
type Swept struct {
	Sessions, Tokens, Mail int64
}

// batch bounds the rows one statement deletes, so a sweep of a large
// backlog never holds long locks; the next sweep continues.
const batch = 5000

// Sweep deletes what ended before now-keep. Each statement uses its index
// and deletes at most batch rows.
func (r *Retention) Sweep(ctx context.Context, now time.Time, keep time.Duration) (Swept, error) {
	cutoff := now.Add(-keep)
	var s Swept
	for _, q := range []struct {
		sql string
		n   *int64
	}{
		{`DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < $1
			UNION SELECT id FROM sessions WHERE revoked_at < $1
			LIMIT $2)`, &s.Sessions},
		{`DELETE FROM one_time_tokens WHERE token_hash IN (SELECT token_hash FROM one_time_tokens WHERE expires_at < $1 LIMIT $2)`, &s.Tokens},
		{`DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE status <> 'pending' AND created_at < $1 LIMIT $2)`, &s.Mail},
	} {
		tag, err := r.db.Exec(ctx, q.sql, cutoff, batch)
		if err != nil {
			return s, translate(err, nil)
		}
		*q.n = tag.RowsAffected()
	}
	return s, nil
}
