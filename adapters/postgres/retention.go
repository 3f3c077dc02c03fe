package postgres

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/maintenance"
)

// Retention deletes rows whose purpose has ended before a cutoff: sessions
// past their absolute expiry or revoked (with their refresh tokens, by
// cascade), one-time tokens and MFA login tokens past expiry (counted
// together as Tokens), and outbox messages sent or given up. The audit
// trail is never swept.
type Retention struct {
	db DBTX
}

var _ maintenance.Retention = (*Retention)(nil)

// NewRetention returns a Retention on db (normally the pool).
func NewRetention(db DBTX) *Retention { return &Retention{db: db} }

// batch bounds the rows one statement deletes, so a sweep of a large
// backlog never holds long locks; the next sweep continues.
const batch = 5000

// Sweep deletes what ended before cutoff. Each statement uses its index
// and deletes at most batch rows.
func (r *Retention) Sweep(ctx context.Context, cutoff time.Time) (maintenance.Swept, error) {
	var s maintenance.Swept
	var loginTokens int
	for _, q := range []struct {
		sql string
		n   *int
	}{
		{`DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < $1
			UNION SELECT id FROM sessions WHERE revoked_at < $1
			LIMIT $2)`, &s.Sessions},
		{`DELETE FROM one_time_tokens WHERE token_hash IN (SELECT token_hash FROM one_time_tokens WHERE expires_at < $1 LIMIT $2)`, &s.Tokens},
		{`DELETE FROM mfa_login_tokens WHERE token_hash IN (SELECT token_hash FROM mfa_login_tokens WHERE expires_at < $1 LIMIT $2)`, &loginTokens},
		{`DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE status <> 'pending' AND created_at < $1 LIMIT $2)`, &s.Mail},
	} {
		tag, err := r.db.Exec(ctx, q.sql, cutoff, batch)
		if err != nil {
			return s, translate(err, nil)
		}
		*q.n = int(tag.RowsAffected())
	}
	s.Tokens += loginTokens
	return s, nil
}

// sweepRegistrationsSQL deletes a batch of pending registrations whose
// last unused link expired at $1 or before (or that have none), and the
// mail queued or sent to them (as UserRepository.Delete does; their
// tokens and sessions go by cascade). The candidates are read from
// users_registration_pending, each one's unused links from
// one_time_tokens_user_purpose_unused, their mail from mail_outbox_user.
// A candidate whose row another transaction holds is skipped (the next
// sweep sees it again); one locked after a login or a verification
// cleared its mark is not deleted, since the lock re-reads the mark.
const sweepRegistrationsSQL = `WITH gone AS (
	DELETE FROM users WHERE id IN (
		SELECT u.id FROM users u
		WHERE u.registration_pending
		  AND COALESCE((SELECT max(t.expires_at) FROM one_time_tokens t
		                WHERE t.user_id = u.id AND t.used_at IS NULL), $1) <= $1
		LIMIT $2
		FOR UPDATE SKIP LOCKED)
	RETURNING id
), mail AS (
	DELETE FROM mail_outbox WHERE user_id = ANY (ARRAY(SELECT id FROM gone))
)
SELECT count(*) FROM gone`

// SweepRegistrations deletes the pending registrations whose links have
// all expired or were used by now, a batch per call, in one statement.
func (r *Retention) SweepRegistrations(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := r.db.QueryRow(ctx, sweepRegistrationsSQL, now, batch).Scan(&n); err != nil {
		return 0, translate(err, nil)
	}
	return n, nil
}

// ForgetRefreshSuccessors erases the sealed successors of refresh tokens
// rotated before rotatedBefore, at most batch per call, through the
// partial index on the rotation time of tokens that keep one.
func (r *Retention) ForgetRefreshSuccessors(ctx context.Context, rotatedBefore time.Time) (int, error) {
	tag, err := r.db.Exec(ctx, `UPDATE refresh_tokens SET successor_sealed = NULL WHERE token_hash IN (
		SELECT token_hash FROM refresh_tokens WHERE successor_sealed IS NOT NULL AND used_at < $1 LIMIT $2)`, rotatedBefore, batch)
	if err != nil {
		return 0, translate(err, nil)
	}
	return int(tag.RowsAffected()), nil
}
