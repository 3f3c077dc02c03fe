package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
)

// RateLimiter is a fixed-window counter store in rate_limits. Embedded mode
// is one process, so windows are timed by the process clock (passed to each
// statement) rather than by the database's.
type RateLimiter struct {
	sqlstore.RateLimits
	db DBTX
}

var _ app.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a RateLimiter on db (normally the DB itself).
func NewRateLimiter(db DBTX) *RateLimiter {
	return &RateLimiter{RateLimits: sqlstore.RateLimits{DB: conn{db}, Dialect: dialect, Now: time.Now}, db: db}
}

// Hit counts one event under key, atomically (one upsert on the single
// writer): a new key or one whose window has ended starts a window of
// length window with count 1; otherwise the count goes up by one. allowed
// is count <= limit; when not allowed, retryAfter is what is left of the
// window, rounded up to whole seconds (at least one).
func (l *RateLimiter) Hit(ctx context.Context, key string, limit int, window time.Duration) (allowed bool, retryAfter time.Duration, err error) {
	if window < time.Microsecond {
		return false, 0, fmt.Errorf("sqlite: rate limit window %v too short", window)
	}
	var count int
	var resetAt, now int64
	err = l.db.write(ctx, func(q querier) error {
		// Read the clock once the writer is ours, so that a wait for it
		// does not count against the window.
		now = micros(l.Now())
		return scanToEnd(ctx, q, []any{&count, &resetAt}, `
			INSERT INTO rate_limits AS r (key, count, reset_at)
			VALUES ($1, 1, $2 + $3)
			ON CONFLICT (key) DO UPDATE SET
				count = CASE WHEN r.reset_at <= $2 THEN 1 ELSE min(r.count, 2147483646) + 1 END,
				reset_at = CASE WHEN r.reset_at <= $2 THEN $2 + $3 ELSE r.reset_at END
			RETURNING count, reset_at`, key, now, window.Microseconds())
	})
	if err != nil {
		return false, 0, err
	}
	if count <= limit {
		return true, 0, nil
	}
	return false, storable.RetryAfter(time.Duration(resetAt-now) * time.Microsecond), nil
}

// expiredBatch is how many expired counters one statement of
// DeleteExpired deletes (about 15 ms of the writer on a small machine).
const expiredBatch = 5000

// DeleteExpired removes the counters whose window has ended and returns how
// many it removed. A worker calls it periodically to keep the table small.
// It deletes in batches of expiredBatch (index rate_limits_reset), each a
// write of its own, so that after a spray of distinct keys the janitor
// never holds the only writer for longer than one batch: other writes get
// their turn between batches.
func (l *RateLimiter) DeleteExpired(ctx context.Context) (int, error) {
	now := micros(l.Now())
	total := 0
	for {
		n, err := affected(exec(ctx, l.db, deleteExpiredSQL, now, expiredBatch))
		total += n
		if err != nil || n < expiredBatch {
			return total, err
		}
	}
}

// deleteExpiredSQL deletes up to $2 counters whose window ended before $1.
const deleteExpiredSQL = `DELETE FROM rate_limits WHERE rowid IN (SELECT rowid FROM rate_limits WHERE reset_at < $1 LIMIT $2)`

// scanToEnd runs a write that returns one row (RETURNING), scans that row
// into dest and then steps the statement to its end before closing it.
// SQLite runs its automatic WAL checkpoint when a statement completes, not
// when one is reset after its first row, which is what QueryRow's Scan
// does: pool-bound writes through QueryRow never checkpoint, and a stream
// of them (a spray of rate-limit keys) grows the WAL without bound — 400
// MB after 30,000 hits — and slows every read of the file with it.
func scanToEnd(ctx context.Context, q querier, dest []any, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return translate(err, nil)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		if !found {
			if err := rows.Scan(dest...); err != nil {
				return translate(err, nil)
			}
			found = true
		}
	}
	if err := rows.Err(); err != nil {
		return translate(err, nil)
	}
	if !found {
		return translate(sql.ErrNoRows, nil)
	}
	return nil
}
