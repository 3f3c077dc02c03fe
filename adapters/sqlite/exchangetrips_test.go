package sqlite

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/storetest"
)

// TestExchangeTrips counts the statements of a code exchange at the token
// endpoint and of a refresh on this store, as TestLoginTrips counts a
// login's.
func TestExchangeTrips(t *testing.T) {
	st, statements := countedStore(t)
	got := storetest.CountExchangeTrips(t, st, statements)
	t.Logf("statements: exchange %d, refresh %d", got.Exchange, got.Refresh)
	if want := (storetest.ExchangeTrips{Exchange: 8, Refresh: 8}); got != want {
		t.Errorf("statements %+v, want %+v", got, want)
	}
}
