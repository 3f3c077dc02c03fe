package postgres_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/storetest"
)

// TestExchangeTrips counts the round trips of a code exchange at the token
// endpoint and of a refresh on this store (docs/performance.md compares
// them), as TestLoginTrips counts a login's.
func TestExchangeTrips(t *testing.T) {
	st, trips := countedStore(t)
	got := storetest.CountExchangeTrips(t, st, trips)
	t.Logf("round trips: exchange %d, refresh %d", got.Exchange, got.Refresh)
	if want := (storetest.ExchangeTrips{Exchange: 6, Refresh: 8}); got != want {
		t.Errorf("round trips %+v, want %+v", got, want)
	}
}
