package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/storable"
)

// RateLimits is what both stores' rate limiters do alike: reading and
// forgetting counters. Counting is each store's own.
type RateLimits struct {
	DB      DB
	Dialect Dialect
	// Now times the windows: the one process's clock, or nil for the
	// database's (now()), which instances with skewed clocks agree on.
	Now func() time.Time
}

// Blocked reports, without counting, whether key's count in its current
// window has reached limit, and if so how long until the window ends
// (rounded up to whole seconds, at least one).
func (l RateLimits) Blocked(ctx context.Context, key string, limit int) (blocked bool, retryAfter time.Duration, err error) {
	clock, args := "now()", []any{key}
	if l.Now != nil {
		clock, args = "$2", append(args, l.Now())
	}
	var (
		count        int
		resetAt, now time.Time
	)
	err = l.DB.QueryRow(ctx, `SELECT count, reset_at, `+clock+` FROM rate_limits WHERE key = $1 AND reset_at > `+clock, args...).
		Scan(&count, &resetAt, &now)
	if errors.Is(err, ErrNoRows) {
		return false, 0, nil
	}
	if err != nil || count < limit {
		return false, 0, err
	}
	return true, storable.RetryAfter(resetAt.Sub(now)), nil
}

// Reset forgets key.
func (l RateLimits) Reset(ctx context.Context, key string) error {
	_, err := l.DB.Exec(ctx, `DELETE FROM rate_limits WHERE key = $1`, key)
	return err
}

// ResetPrefix forgets every key that starts with prefix, literally (no
// wildcards): the keys from prefix up to its successor in byte order, a
// range on the primary key (its collation is byte order in both stores).
// An empty prefix is refused: it would forget every counter.
func (l RateLimits) ResetPrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return errEmptyPrefix
	}
	query, args, ok := ResetPrefixSQL(l.Dialect, prefix)
	if !ok {
		return nil // no stored key starts with it
	}
	_, err := l.DB.Exec(ctx, query, args...)
	return err
}

// ResetPrefixSQL is ResetPrefix's statement for a non-empty prefix, or ok
// false when no stored key can start with it.
func ResetPrefixSQL(d Dialect, prefix string) (query string, args []any, ok bool) {
	end, bounded, matchable := d.PrefixEnd(prefix)
	switch {
	case !matchable:
		return "", nil, false
	case bounded:
		return `DELETE FROM rate_limits WHERE key >= $1 AND key < $2`, []any{prefix, end}, true
	}
	return `DELETE FROM rate_limits WHERE key >= $1`, []any{prefix}, true
}

// errEmptyPrefix refuses ResetPrefix(""), a caller's bug.
var errEmptyPrefix = errors.New("sqlstore: rate limit reset with an empty prefix (every key)")
