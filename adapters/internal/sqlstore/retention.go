package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/maintenance"
)

// RetentionBatch bounds the rows one statement of a sweep deletes, so
// that a sweep of a large backlog never holds locks or the writer for
// long; the next sweep continues.
const RetentionBatch = 5000

// Retention deletes rows whose purpose has ended before a cutoff: sessions
// past their absolute expiry or revoked (with their refresh tokens, by
// cascade), one-time tokens, MFA login tokens, passkey challenges and
// upstream round trips past expiry (counted together as Tokens), and outbox messages and webhook
// deliveries sent or given up. The audit trail is never swept.
// SweepRegistrations is each store's own.
type Retention struct {
	DB      DB
	Dialect Dialect
	Own
}

// Sweep deletes what ended before cutoff. Each statement uses its index,
// deletes at most RetentionBatch rows and runs on its own, so that
// requests get in between.
func (r Retention) Sweep(ctx context.Context, cutoff time.Time) (maintenance.Swept, error) {
	var s maintenance.Swept
	var loginTokens, challenges, flows int
	for _, q := range []struct {
		sql string
		n   *int
	}{
		{r.Dialect.EndedSessionsSQL, &s.Sessions},
		{`DELETE FROM one_time_tokens WHERE token_hash IN (SELECT token_hash FROM one_time_tokens WHERE expires_at < $1 LIMIT $2)`, &s.Tokens},
		{`DELETE FROM mfa_login_tokens WHERE token_hash IN (SELECT token_hash FROM mfa_login_tokens WHERE expires_at < $1 LIMIT $2)`, &loginTokens},
		{`DELETE FROM passkey_challenges WHERE id IN (SELECT id FROM passkey_challenges WHERE expires_at < $1 LIMIT $2)`, &challenges},
		{`DELETE FROM upstream_flows WHERE state_hash IN (SELECT state_hash FROM upstream_flows WHERE expires_at < $1 LIMIT $2)`, &flows},
		{`DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE status <> 'pending' AND created_at < $1 LIMIT $2)`, &s.Mail},
		{`DELETE FROM webhook_deliveries WHERE seq IN (SELECT seq FROM webhook_deliveries WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < $1 LIMIT $2)`, &s.Webhooks},
	} {
		n, err := r.DB.Exec(ctx, q.sql, cutoff, RetentionBatch)
		if err != nil {
			return s, err
		}
		*q.n = int(n)
	}
	s.Tokens += loginTokens + challenges + flows
	return s, nil
}

// ForgetRefreshSuccessors erases the sealed successors of refresh tokens
// rotated before rotatedBefore, at most RetentionBatch per call, through
// the partial index on the rotation time of tokens that keep one.
func (r Retention) ForgetRefreshSuccessors(ctx context.Context, rotatedBefore time.Time) (int, error) {
	return count(r.DB.Exec(ctx, `UPDATE refresh_tokens SET successor_sealed = NULL WHERE token_hash IN (
		SELECT token_hash FROM refresh_tokens WHERE successor_sealed IS NOT NULL AND used_at < $1 LIMIT $2)`, rotatedBefore, RetentionBatch))
}
