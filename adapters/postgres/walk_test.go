package postgres_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/postgres"
	"github.com/gatehouse-auth/gatehouse/adapters/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
)

// Walk reads the trail in pages (one short statement each, so that ten
// million records do not outlive the statement timeout) and still hands
// over every record once, in seq order, across page boundaries.
func TestAuditWalkCrossesPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPrivate(t)
	const n = 2*postgres.WalkPage + 7
	if _, err := pool.Exec(ctx, `INSERT INTO audit_events (seq, event_type, occurred_at, prev_hash, hash)
		SELECT g, 'login_succeeded', now(), '\x00', '\x00' FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
	var count, last int64
	err := postgres.OpenStore(pool).AuditTrail.Walk(ctx, func(r audit.Record) error {
		if r.Seq != last+1 {
			t.Fatalf("record %d after %d", r.Seq, last)
		}
		last = r.Seq
		count++
		return nil
	})
	if err != nil || count != n {
		t.Fatalf("Walk handed over %d of %d records (%v)", count, n, err)
	}
}
