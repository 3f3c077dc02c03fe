package sqlite

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
)

// Retention deletes rows whose purpose has ended before a cutoff: sessions
// past their absolute expiry or revoked (with their refresh tokens, by
// cascade), one-time tokens and MFA login tokens past expiry (counted
// together as Tokens), and outbox messages sent or given up. The audit
// trail is never swept.
type Retention struct {
	db DBTX
}

var _ app.Retention = (*Retention)(nil)

// NewRetention returns a Retention on db (normally the DB itself).
func NewRetention(db DBTX) *Retention { return &Retention{db: db} }

// batch bounds the rows one statement deletes, so that a sweep of a large
// backlog never holds the writer for long; the next sweep continues.
const batch = 5000

// Sweep deletes what ended before cutoff. Each statement uses its index,
// deletes at most batch rows and takes the writer on its own, so that
// requests get it between them.
func (r *Retention) Sweep(ctx context.Context, cutoff time.Time) (app.Swept, error) {
	var s app.Swept
	var loginTokens int
	for _, q := range []struct {
		sql string
		n   *int
	}{
		// OR, not UNION as in package postgres: SQLite answers it with both
		// indexes (multi-index OR) where its UNION scans the whole table.
		{`DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1
			LIMIT $2)`, &s.Sessions},
		{`DELETE FROM one_time_tokens WHERE token_hash IN (SELECT token_hash FROM one_time_tokens WHERE expires_at < $1 LIMIT $2)`, &s.Tokens},
		{`DELETE FROM mfa_login_tokens WHERE token_hash IN (SELECT token_hash FROM mfa_login_tokens WHERE expires_at < $1 LIMIT $2)`, &loginTokens},
		{`DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE status <> 'pending' AND created_at < $1 LIMIT $2)`, &s.Mail},
	} {
		n, err := affected(exec(ctx, r.db, q.sql, micros(cutoff), batch))
		if err != nil {
			return s, err
		}
		*q.n = n
	}
	s.Tokens += loginTokens
	return s, nil
}

// sweepRegistrationsSQL deletes a batch of pending registrations whose
// last unused link expired at $1 or before (or that have none), and
// returns their ids (their tokens and sessions go by cascade). The
// candidates are read from users_registration_pending, each one's unused
// links from one_time_tokens_user.
const sweepRegistrationsSQL = `DELETE FROM users WHERE id IN (
	SELECT u.id FROM users u
	WHERE u.registration_pending = 1
	  AND COALESCE((SELECT max(t.expires_at) FROM one_time_tokens t
	                WHERE t.user_id = u.id AND t.used_at IS NULL), $1) <= $1
	LIMIT $2)
RETURNING id`

// SweepRegistrations deletes the pending registrations whose links have
// all expired or were used by now, a batch per call, with the mail queued
// or sent to them (as UserRepository.Delete does), in one write
// transaction: nothing can give one of them a link or verify it between
// the check and the delete.
func (r *Retention) SweepRegistrations(ctx context.Context, now time.Time) (int, error) {
	var ids []string
	err := r.db.writeTx(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, sweepRegistrationsSQL, micros(now), batch)
		if err != nil {
			return translate(err, nil)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return translate(err, nil)
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return translate(err, nil)
		}
		if err := rows.Err(); err != nil {
			return translate(err, nil)
		}
		for _, id := range ids {
			if _, err := q.ExecContext(ctx, sqlstore.DeleteUserMailSQL, id); err != nil {
				return translate(err, nil)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		// Their password hashes and undelivered mail leave the WAL too,
		// as a deleted account's do.
		r.db.scrubSoon()
	}
	return len(ids), nil
}

// ForgetRefreshSuccessors erases the sealed successors of refresh tokens
// rotated before rotatedBefore, at most batch per call, through the
// partial index on the rotation time of tokens that keep one.
func (r *Retention) ForgetRefreshSuccessors(ctx context.Context, rotatedBefore time.Time) (int, error) {
	return affected(exec(ctx, r.db, `UPDATE refresh_tokens SET successor_sealed = NULL WHERE token_hash IN (
		SELECT token_hash FROM refresh_tokens WHERE successor_sealed IS NOT NULL AND used_at < $1 LIMIT $2)`, micros(rotatedBefore), batch))
}
