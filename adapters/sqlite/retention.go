package sqlite

import (
	"context"
	"time"

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

// ForgetRefreshSuccessors erases the sealed successors of refresh tokens
// rotated before rotatedBefore, at most batch per call, through the
// partial index on the rotation time of tokens that keep one.
func (r *Retention) ForgetRefreshSuccessors(ctx context.Context, rotatedBefore time.Time) (int, error) {
	return affected(exec(ctx, r.db, `UPDATE refresh_tokens SET successor_sealed = NULL WHERE token_hash IN (
		SELECT token_hash FROM refresh_tokens WHERE successor_sealed IS NOT NULL AND used_at < $1 LIMIT $2)`, micros(rotatedBefore), batch))
}
