package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/internal/sqlstore"
	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
)

// RateLimiter is a fixed-window counter store in rate_limits, shared by
// every instance. Each call is one statement timed by the database's clock,
// so instances with skewed clocks agree.
type RateLimiter struct{ sqlstore.RateLimits }

var _ app.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a RateLimiter on db (normally the pool).
func NewRateLimiter(db DBTX) *RateLimiter {
	return &RateLimiter{sqlstore.RateLimits{DB: conn{db}, Dialect: dialect}}
}

// Hit counts one event under key, atomically: a new key or one whose window
// has ended starts a window of length window with count 1; otherwise the
// count goes up by one. allowed is count <= limit; when not allowed,
// retryAfter is what is left of the window, rounded up to whole seconds
// (at least one).
func (l *RateLimiter) Hit(ctx context.Context, key string, limit int, window time.Duration) (allowed bool, retryAfter time.Duration, err error) {
	if window < time.Microsecond {
		return false, 0, fmt.Errorf("postgres: rate limit window %v too short", window)
	}
	var (
		count          int
		resetAt, dbNow time.Time
	)
	err = l.DB.QueryRow(ctx, `
		INSERT INTO rate_limits AS r (key, count, reset_at)
		VALUES ($1, 1, now() + $2::bigint * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN r.reset_at <= now() THEN 1 ELSE LEAST(r.count, 2147483646) + 1 END,
			reset_at = CASE WHEN r.reset_at <= now() THEN now() + $2::bigint * interval '1 microsecond' ELSE r.reset_at END
		RETURNING count, reset_at, now()`, key, window.Microseconds()).Scan(&count, &resetAt, &dbNow)
	if err != nil {
		return false, 0, err
	}
	if count <= limit {
		return true, 0, nil
	}
	return false, storable.RetryAfter(resetAt.Sub(dbNow)), nil
}

// DeleteExpired removes the counters whose window has ended and returns how
// many it removed. A worker calls it periodically to keep the table small.
func (l *RateLimiter) DeleteExpired(ctx context.Context) (int, error) {
	n, err := l.DB.Exec(ctx, `DELETE FROM rate_limits WHERE reset_at < now()`)
	return int(n), err
}
