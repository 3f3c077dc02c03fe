package sqlstore

import (
	"context"
	"errors"
)

// RateLimits is what both stores' rate limiters do alike: forgetting
// counters. Counting, which needs a clock (the database's, or the one
// process's), is each store's own.
type RateLimits struct {
	DB      DB
	Dialect Dialect
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
